/**
 * Flat tables of the rules' gates (see optimize.ts) for the evaluator's loop.
 *
 * A gate is one or more alternatives (field, pattern ids), one of which every match of the rule satisfies. Each
 * alternative joins the group of its field, and the group carries the union of its alternatives' masks, so one
 * test skips the whole group; a rule gated on several fields is a member of several groups. Rules without a gate
 * (`ungated`) run on every event.
 *
 * In a field's group, the rules with an alternative holding a given bit of union entry e (an index into groupWord)
 * are bitRules[bitRuleStart[e * 32 + bit] .. bitRuleStart[e * 32 + bit + 1]]: the evaluator visits the set bits of
 * the field's hits, a few per event, instead of testing every rule of the group (56 rules gate on process.name).
 */
import type { FieldJson, Formula } from './formula';
import { chooseGate } from './optimize';

export interface GateTables {
  groupField: Int32Array;
  groupWordStart: Int32Array;
  groupWord: Int32Array;
  groupMask: Uint32Array;
  bitRuleStart: Int32Array;
  bitRules: Int32Array;
  ungated: Int32Array;
}

type Masks = (field: number, patterns: readonly number[]) => [number, number][];

interface Group {
  /** The members' alternatives on the group's field: (rule, its [word, mask] pairs). */
  alternatives: { rule: number; masks: [number, number][] }[];
  union: Map<number, number>;
}

export function buildGates(formulas: readonly Formula[], fields: readonly FieldJson[], masksOf: Masks): GateTables {
  const groups = new Map<number, Group>();
  const ungated: number[] = [];
  formulas.forEach((f, rule) => {
    const gate = chooseGate(f, fields);
    if (gate === undefined) {
      ungated.push(rule);
      return;
    }
    for (const alt of gate) {
      const group = groups.get(alt.field) ?? { alternatives: [], union: new Map<number, number>() };
      groups.set(alt.field, group);
      const masks = masksOf(alt.field, alt.patterns);
      group.alternatives.push({ rule, masks });
      for (const [w, m] of masks) group.union.set(w, ((group.union.get(w) ?? 0) | m) >>> 0);
    }
  });

  const groupField: number[] = [];
  const groupWordStart: number[] = [];
  const groupWord: number[] = [];
  const groupMask: number[] = [];
  const lists: number[][] = [];
  for (const [field, g] of groups) {
    groupField.push(field);
    groupWordStart.push(groupWord.length);
    const entry = new Map<number, number>();
    for (const [w, m] of g.union) {
      entry.set(w, groupWord.length);
      groupWord.push(w);
      groupMask.push(m);
      for (let bit = 0; bit < 32; bit++) lists.push([]);
    }
    for (const { rule, masks } of g.alternatives) {
      for (const [w, m] of masks) {
        const e = entry.get(w) as number;
        for (let bit = 0; bit < 32; bit++) if ((m & (1 << bit)) !== 0) (lists[e * 32 + bit] as number[]).push(rule);
      }
    }
  }
  groupWordStart.push(groupWord.length);
  const bitRuleStart = new Int32Array(lists.length + 1);
  lists.forEach((l, i) => (bitRuleStart[i + 1] = (bitRuleStart[i] as number) + l.length));
  return {
    groupField: Int32Array.from(groupField),
    groupWordStart: Int32Array.from(groupWordStart),
    groupWord: Int32Array.from(groupWord),
    groupMask: Uint32Array.from(groupMask),
    bitRuleStart,
    bitRules: Int32Array.from(lists.flat()),
    ungated: Int32Array.from(ungated),
  };
}
