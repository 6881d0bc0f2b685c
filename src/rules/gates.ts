/**
 * Flat tables of the rules' gates (see optimize.ts) for the evaluator's loop.
 *
 * Rule r's gate is alternatives altStart[r]..altStart[r+1]; alternative a tests field altField[a] against the
 * (word, mask) pairs wordStart[a]..wordStart[a+1]. Rules whose gate is on one field are grouped by that field, and
 * the group carries the union of its rules' masks, so one test skips the whole group; rules with a multi-field gate
 * (group field MULTI) and without a gate (NONE) form groups of their own.
 *
 * In a one-field group, the rules whose gate holds a given bit of union entry e (an index into groupWord) are
 * bitRules[bitRuleStart[e * 32 + bit] .. bitRuleStart[e * 32 + bit + 1]]: the evaluator visits the set bits of the
 * field's hits, a few per event, instead of testing every rule of the group (56 rules gate on process.name).
 */
import type { FieldJson, Formula } from './formula';
import { chooseGate } from './optimize';

export const NONE = -1;
export const MULTI = -2;

export interface GateTables {
  altStart: Int32Array;
  altField: Int32Array;
  wordStart: Int32Array;
  word: Int32Array;
  mask: Uint32Array;
  groupField: Int32Array;
  groupWordStart: Int32Array;
  groupWord: Int32Array;
  groupMask: Uint32Array;
  groupRuleStart: Int32Array;
  groupRules: Int32Array;
  bitRuleStart: Int32Array;
  bitRules: Int32Array;
}

type Masks = (field: number, patterns: readonly number[]) => [number, number][];

export function buildGates(formulas: readonly Formula[], fields: readonly FieldJson[], masksOf: Masks): GateTables {
  const altStart: number[] = [];
  const altField: number[] = [];
  const wordStart: number[] = [];
  const word: number[] = [];
  const mask: number[] = [];
  const groups = new Map<number, { rules: number[]; union: Map<number, number> }>();
  formulas.forEach((f, rule) => {
    altStart.push(altField.length);
    const gate = chooseGate(f, fields) ?? [];
    const key = gate.length === 0 ? NONE : gate.length === 1 ? (gate[0] as { field: number }).field : MULTI;
    const group = groups.get(key) ?? { rules: [], union: new Map<number, number>() };
    groups.set(key, group);
    group.rules.push(rule);
    for (const alt of gate) {
      altField.push(alt.field);
      wordStart.push(word.length);
      for (const [w, m] of masksOf(alt.field, alt.patterns)) {
        word.push(w);
        mask.push(m);
        group.union.set(w, ((group.union.get(w) ?? 0) | m) >>> 0);
      }
    }
  });
  altStart.push(altField.length);
  wordStart.push(word.length);

  const list = [...groups];
  const groupWordStart: number[] = [];
  const groupWord: number[] = [];
  const groupMask: number[] = [];
  const groupRuleStart: number[] = [];
  const groupRules: number[] = [];
  for (const [, g] of list) {
    groupWordStart.push(groupWord.length);
    groupRuleStart.push(groupRules.length);
    for (const [w, m] of g.union) groupWord.push(w), groupMask.push(m);
    groupRules.push(...g.rules);
  }
  groupWordStart.push(groupWord.length);
  groupRuleStart.push(groupRules.length);
  const { bitRuleStart, bitRules } = rulesByBit(list, groupWordStart, groupWord, altStart, wordStart, word, mask);
  return {
    altStart: Int32Array.from(altStart),
    altField: Int32Array.from(altField),
    wordStart: Int32Array.from(wordStart),
    word: Int32Array.from(word),
    mask: Uint32Array.from(mask),
    groupField: Int32Array.from(list, ([key]) => key),
    groupWordStart: Int32Array.from(groupWordStart),
    groupWord: Int32Array.from(groupWord),
    groupMask: Uint32Array.from(groupMask),
    groupRuleStart: Int32Array.from(groupRuleStart),
    groupRules: Int32Array.from(groupRules),
    bitRuleStart,
    bitRules,
  };
}

function rulesByBit(
  groups: readonly [number, { rules: number[] }][],
  groupWordStart: readonly number[],
  groupWord: readonly number[],
  altStart: readonly number[],
  wordStart: readonly number[],
  word: readonly number[],
  mask: readonly number[],
): { bitRuleStart: Int32Array; bitRules: Int32Array } {
  const lists: number[][] = Array.from({ length: groupWord.length * 32 }, () => []);
  groups.forEach(([field, g], index) => {
    if (field < 0) return;
    for (const rule of g.rules) {
      // A one-field gate has exactly one alternative.
      const a = altStart[rule] as number;
      for (let k = wordStart[a] as number; k < (wordStart[a + 1] as number); k++) {
        let e = groupWordStart[index] as number;
        while (groupWord[e] !== word[k]) e++;
        for (let bit = 0; bit < 32; bit++) if (((mask[k] as number) & (1 << bit)) !== 0) (lists[e * 32 + bit] as number[]).push(rule);
      }
    }
  });
  const bitRuleStart = new Int32Array(lists.length + 1);
  lists.forEach((l, i) => (bitRuleStart[i + 1] = (bitRuleStart[i] as number) + l.length));
  return { bitRuleStart, bitRules: Int32Array.from(lists.flat()) };
}

export function anyHit(hits: Uint32Array, words: Int32Array, masks: Uint32Array, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (((hits[words[k] as number] as number) & (masks[k] as number)) !== 0) return true;
  return false;
}
