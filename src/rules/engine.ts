/**
 * Runtime evaluation of a compiled rule set.
 *
 * Per event, each field is fetched at most once and, for string fields, each of its string elements is run once
 * through the field's ONE shared pattern set (all patterns of all rules on that field), lazily: the first atom that
 * needs a field pays for it, later atoms (of any rule) read the cached hit bits. A rule runs only when its gate
 * (gates.ts) has a hit; a rule is jumping code (jumps.ts) in flat typed arrays, one row per atom; the only per-event
 * state is generation counters, so evaluating allocates nothing unless a rule fires.
 */
import type { PatternSet } from './match';
import type { FieldJson, Formula, NumberComparison } from './formula';
import { buildGates, type GateTables } from './gates';
import { emitJumps, HOLDS, type Atom, type JumpCode } from './jumps';
import { operandOrder, simplify } from './optimize';
import { keyId, readKey } from './property-reads';
import type { CompiledRuleSet, RuleError, RuleMeta, UnsupportedRule } from './types';

/** A compiled-form file whose content does not make a rule set. */
export class CompiledRuleSetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CompiledRuleSetError';
  }
}

type Predicate = () => boolean;

/** Rule code (jumps.ts) as flat tables; instruction i tests field[i]'s hits, or runs test[i] when field[i] < 0. */
interface RuleCode {
  field: Int32Array;
  /** Instruction i's (word, mask) pairs are wordStart[i]..wordStart[i+1]. */
  wordStart: Int32Array;
  word: Int32Array;
  mask: Uint32Array;
  test: (Predicate | undefined)[];
  ifTrue: Int32Array;
  ifFalse: Int32Array;
}

const NO_MATCH: readonly RuleMeta[] = Object.freeze([]);
const NO_DOCUMENT: object = Object.freeze({});

interface FieldRuntime {
  /** The path's segments and their read sites (property-reads.ts), for the common all-nested document. */
  segs: string[];
  segIds: Int32Array;
  /** No segment can name an inherited member (`length`, `toString`, an index): the all-nested probe is exact. */
  plainSegs: boolean;
  /** keys[i][j] = path segments i..j-1 joined with '.', so nested, dotted and mixed documents resolve alike. */
  keys: string[][];
  set: PatternSet | undefined;
  hits: Uint32Array;
  /** A field mapped from the documents: only strings are strings (no keyword conversion, see asString). */
  dynamic: boolean;
}

export class RuleEngine implements CompiledRuleSet {
  private doc: object = NO_DOCUMENT;
  private generation = 1;
  private readonly fieldGeneration: Uint32Array;
  private readonly scanGeneration: Uint32Array;
  /** A rule's predicate ran for the event of this generation (a gate's bits may name it more than once). */
  private readonly ruleGeneration: Uint32Array;
  /** The current event's value of each field; undefined when missing (null, [], or only nulls). */
  private readonly values: unknown[];
  private readonly runtimes: FieldRuntime[];
  /** fetch()'s scratch: the objects along a path. */
  private readonly pathObjects: unknown[];
  /** Where each rule's jumping code starts (jumps.ts). */
  private readonly entries: Int32Array;
  private readonly code: RuleCode;
  private readonly gates: GateTables;

  constructor(
    readonly rules: readonly RuleMeta[],
    /** One per rule, as compiled (requiredText reads them). */
    readonly formulas: readonly Formula[],
    readonly fields: readonly FieldJson[],
    readonly patternSets: readonly (PatternSet | undefined)[],
    readonly unsupported: readonly UnsupportedRule[],
    readonly errors: readonly RuleError[],
  ) {
    if (formulas.length !== rules.length || patternSets.length !== fields.length) throw new CompiledRuleSetError('rule set tables disagree in length');
    this.fieldGeneration = new Uint32Array(fields.length);
    this.scanGeneration = new Uint32Array(fields.length);
    this.ruleGeneration = new Uint32Array(rules.length);
    this.values = new Array<unknown>(fields.length).fill(undefined);
    const totalWords = patternSets.reduce((n, s) => n + (s?.words ?? 0), 0);
    const hits = new Uint32Array(totalWords);
    let offset = 0;
    this.runtimes = fields.map((f, i) => {
      const set = patternSets[i];
      const words = set?.words ?? 0;
      if (set !== undefined && set.size !== f.patterns.length) throw new CompiledRuleSetError(`field ${f.path}: pattern set has ${set.size} patterns, expected ${f.patterns.length}`);
      const view = hits.subarray(offset, offset + words);
      offset += words;
      const segs = f.path.split('.');
      return { segs, segIds: Int32Array.from(segs, keyId), plainSegs: segs.every(isPlainKey), keys: pathKeys(segs), set, hits: view, dynamic: f.dynamic === true };
    });
    this.pathObjects = new Array<unknown>(Math.max(0, ...this.runtimes.map((rt) => rt.segs.length))).fill(undefined);
    const simplified = formulas.map(simplify);
    this.gates = buildGates(simplified, fields, (field, patterns) => this.masksOf(this.fieldIndex(field), patterns));
    // The gates scan their fields on every event, so a rule's atoms on those fields cost it a bit test.
    const order = operandOrder(fields, new Set(this.gates.groupField));
    const jumps: JumpCode = { atoms: [], ifTrue: [], ifFalse: [] };
    this.entries = Int32Array.from(simplified, (f) => emitJumps(f, jumps, order));
    this.code = this.assemble(jumps);
  }

  evaluate(doc: object): RuleMeta[] {
    this.doc = doc;
    if (++this.generation === 0xffffffff) {
      this.fieldGeneration.fill(0);
      this.scanGeneration.fill(0);
      this.ruleGeneration.fill(0);
      this.generation = 1;
    }

    let fired: number[] | undefined;
    const generation = this.generation;
    const entries = this.entries;
    const ruleGeneration = this.ruleGeneration;
    const { groupField, groupWordStart, groupWord, groupMask, bitRuleStart, bitRules, ungated } = this.gates;
    for (let g = 0; g < groupField.length; g++) {
      const hits = this.scan(groupField[g] as number);
      for (let e = groupWordStart[g] as number; e < (groupWordStart[g + 1] as number); e++) {
        // Each set bit of the group's union names the rules with a gate alternative holding it; a rule may be named
        // more than once (several bits, several fields).
        for (let bits = (hits[groupWord[e] as number] as number) & (groupMask[e] as number); bits !== 0; bits &= bits - 1) {
          const slot = e * 32 + 31 - Math.clz32(bits & -bits);
          for (let k = bitRuleStart[slot] as number; k < (bitRuleStart[slot + 1] as number); k++) {
            const rule = bitRules[k] as number;
            if (ruleGeneration[rule] === generation) continue;
            ruleGeneration[rule] = generation;
            if (this.holds(entries[rule] as number)) (fired ??= []).push(rule);
          }
        }
      }
    }
    for (let k = 0; k < ungated.length; k++) if (this.holds(entries[ungated[k] as number] as number)) (fired ??= []).push(ungated[k] as number);
    // Not keeping the event alive until the next one arrives.
    this.doc = NO_DOCUMENT;
    if (fired === undefined) return NO_MATCH as RuleMeta[];
    // Groups visit rules out of load order; report in load order.
    return fired.sort((a, b) => a - b).map((i) => this.rules[i] as RuleMeta);
  }

  /** The field's value as found in the current event (nested path first, then dotted/mixed keys), not normalized. */
  private fetch(rt: FieldRuntime): unknown {
    if (!rt.plainSegs) return lookup(this.doc, rt.keys, 0, rt.keys.length);
    const v = lookupNested(this.doc, rt.segs, rt.segIds);
    return v !== undefined && v !== null ? v : lookupPastNested(this.doc, rt.segs, rt.segIds, rt.keys, this.pathObjects);
  }

  /** Field `f` of the current event as the rules see it (see presentValue), fetched once per event. */
  private load(f: number): unknown {
    if (this.fieldGeneration[f] === this.generation) return this.values[f];
    this.fieldGeneration[f] = this.generation;
    const value = presentValue(this.fetch(this.runtimes[f] as FieldRuntime));
    this.values[f] = value;
    return value;
  }

  /**
   * Runs field `f`'s pattern set over each of its string elements, once per event; returns the hit bits. Reads the
   * fetched value directly rather than load()'s normalized one: a missing value has no strings anyway, and nested
   * arrays are flattened only when one is met, so a flat array of strings is read once, in the matcher.
   */
  private scan(f: number): Uint32Array {
    const rt = this.runtimes[f] as FieldRuntime;
    const hits = rt.hits;
    if (this.scanGeneration[f] === this.generation) return hits;
    this.scanGeneration[f] = this.generation;
    // A loop: hits are a few words, where TypedArray#fill's call costs more than the clearing.
    for (let w = 0; w < hits.length; w++) hits[w] = 0;
    const set = rt.set;
    if (set === undefined) return hits;
    const value = this.fetch(rt);
    if (typeof value === 'string') set.matchInto(value, hits);
    else if (Array.isArray(value)) scanElements(set, value, hits, rt.dynamic);
    else if (!rt.dynamic && (typeof value === 'number' || typeof value === 'boolean')) set.matchInto(String(value), hits);
    return hits;
  }

  /** Runs rule code from instruction `pc` until it reaches HOLDS or FAILS. */
  private holds(pc: number): boolean {
    const { field, wordStart, word, mask, test, ifTrue, ifFalse } = this.code;
    while (pc >= 0) {
      let ok = false;
      const f = field[pc] as number;
      if (f >= 0) {
        const hits = this.scan(f);
        for (let k = wordStart[pc] as number; k < (wordStart[pc + 1] as number) && !ok; k++) ok = ((hits[word[k] as number] as number) & (mask[k] as number)) !== 0;
      } else {
        ok = (test[pc] as Predicate)();
      }
      pc = ok ? (ifTrue[pc] as number) : (ifFalse[pc] as number);
    }
    return pc === HOLDS;
  }

  /** The jumping code as flat tables: a match atom's field and (word, mask) pairs, any other atom's test. */
  private assemble(jumps: JumpCode): RuleCode {
    const field: number[] = [];
    const wordStart: number[] = [];
    const word: number[] = [];
    const mask: number[] = [];
    const test: (Predicate | undefined)[] = [];
    for (const atom of jumps.atoms) {
      wordStart.push(word.length);
      if (atom.op === 'match') {
        field.push(this.fieldIndex(atom.field));
        for (const [w, m] of this.masksOf(atom.field, atom.patterns)) word.push(w), mask.push(m);
        test.push(undefined);
      } else {
        field.push(-1);
        test.push(this.atomTest(atom));
      }
    }
    wordStart.push(word.length);
    return {
      field: Int32Array.from(field),
      wordStart: Int32Array.from(wordStart),
      word: Int32Array.from(word),
      mask: Uint32Array.from(mask),
      test,
      ifTrue: Int32Array.from(jumps.ifTrue),
      ifFalse: Int32Array.from(jumps.ifFalse),
    };
  }

  private atomTest(f: Exclude<Atom, { op: 'match' }>): Predicate {
    switch (f.op) {
      case 'present': {
        const field = this.fieldIndex(f.field);
        return () => this.load(field) !== undefined;
      }
      case 'number':
        return this.elementPredicate(f.field, numberTest(f.cmp, f.value), 'number');
      case 'length': {
        const test = numberTest(f.cmp, f.value);
        return this.elementPredicate(f.field, (v) => typeof v === 'string' && test(v.length));
      }
      case 'boolean': {
        const want = f.value;
        return this.elementPredicate(f.field, (v) => asBoolean(v) === want, 'boolean');
      }
      case 'order': {
        const cmp = f.cmp;
        const bound = f.value;
        return this.elementPredicate(f.field, (v) => {
          const s = asString(v);
          if (s === undefined) return false;
          const c = compareCodePoints(s, bound);
          return cmp === '<' ? c < 0 : cmp === '<=' ? c <= 0 : cmp === '>' ? c > 0 : c >= 0;
        }, 'string');
      }
      default:
        throw new CompiledRuleSetError(`unknown formula operator ${JSON.stringify((f as { op: unknown }).op)}`);
    }
  }

  /** [hit word, bit mask] pairs testing "some of `patterns` matched" for field `field`. */
  private masksOf(field: number, patterns: readonly number[]): [number, number][] {
    const fieldJson = this.fields[field] as FieldJson;
    const masks = new Map<number, number>();
    for (const id of patterns) {
      if (!Number.isInteger(id) || id < 0 || id >= fieldJson.patterns.length) throw new CompiledRuleSetError(`field ${fieldJson.path}: pattern id ${id} out of range`);
      masks.set(id >>> 5, ((masks.get(id >>> 5) ?? 0) | (1 << (id & 31))) >>> 0);
    }
    return [...masks];
  }

  /** `type`: what a dynamic field's elements must be for `test` to see them (a schema field converts, see asString). */
  private elementPredicate(fieldId: number, lenient: (v: unknown) => boolean, type?: 'string' | 'number' | 'boolean'): Predicate {
    const field = this.fieldIndex(fieldId);
    const test = type !== undefined && (this.fields[field] as FieldJson).dynamic === true ? (v: unknown) => typeof v === type && lenient(v) : lenient;
    return () => {
      const value = this.load(field);
      if (value === undefined) return false;
      if (!Array.isArray(value)) return test(value);
      for (let i = 0; i < value.length; i++) if (test(value[i])) return true;
      return false;
    };
  }

  private fieldIndex(f: number): number {
    if (!Number.isInteger(f) || f < 0 || f >= this.fields.length) throw new CompiledRuleSetError(`field id ${f} out of range`);
    return f;
  }
}

/** The pattern set over an array's elements: strings in the matcher, numbers/booleans as keywords, nested arrays flat. */
function scanElements(set: PatternSet, values: readonly unknown[], hits: Uint32Array, dynamic: boolean): void {
  for (let i = set.matchEachInto(values, 0, hits); i < values.length; i = set.matchEachInto(values, i + 1, hits)) {
    const x: unknown = values[i];
    // flattenArrays leaves no array inside, so this recursion is one level deep.
    if (Array.isArray(x)) scanElements(set, flattenArrays(x) as unknown[], hits, dynamic);
    else if (!dynamic && (typeof x === 'number' || typeof x === 'boolean')) set.matchInto(String(x), hits);
  }
}

function pathKeys(segs: readonly string[]): string[][] {
  return segs.map((_, i) => {
    const row: string[] = [];
    for (let j = 0; j <= segs.length; j++) row.push(j > i ? segs.slice(i, j).join('.') : '');
    return row;
  });
}

/** The all-nested case, without the dotted-key search (undefined when any step is missing). */
function lookupNested(doc: object, segs: readonly string[], ids: Int32Array): unknown {
  let v: unknown = doc;
  for (let i = 0; i < segs.length; i++) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = readKey(v, ids[i] as number, segs[i] as string);
  }
  return v;
}

/**
 * lookup() of a path of plain keys that lookupNested did not find (a field the event does not have): the dotted and
 * mixed keys are probed from the deepest object the nested walk reaches back to the root, the order of lookup's
 * own search, without repeating the probes the walk answers: for `process.previous.executable` in a nested
 * document, three probes instead of five. `objects` is scratch at least as long as the path, left empty.
 */
function lookupPastNested(doc: object, segs: readonly string[], ids: Int32Array, keys: string[][], objects: unknown[]): unknown {
  const n = segs.length;
  let v: unknown = doc;
  // objects[0..top]: the objects the walk reads a segment of.
  let top = -1;
  let arrays = false;
  for (let i = 0; i < n && typeof v === 'object' && v !== null; i++) {
    objects[++top] = v;
    arrays ||= Array.isArray(v);
    v = readKey(v, ids[i] as number, segs[i] as string);
  }
  let found: unknown;
  if (arrays) {
    // lookup collects through arrays of objects; the walk's reads do not.
    found = lookup(doc, keys, 0, n);
  } else {
    // Level j's first probe, segment j alone, is what the walk read: it led nowhere. The others join segments.
    for (let j = top; j >= 0 && found === undefined; j--) {
      const row = keys[j] as string[];
      const o = objects[j] as object;
      for (let to = j + 2; to <= n && found === undefined; to++) {
        const x = property(o, row[to] as string);
        if (x !== undefined && x !== null) found = lookup(x, keys, to, n);
      }
    }
  }
  for (let j = 0; j <= top; j++) objects[j] = undefined;
  return found;
}

/** A key no object or array inherits and no array has as its own: `o[key]` is the document's data or undefined. */
function isPlainKey(key: string): boolean {
  return !(key in Object.prototype) && !(key in Array.prototype) && !/^(0|[1-9][0-9]*)$/.test(key);
}

/** o[key] when it is the document's own data, not an Object.prototype member (a method, or `__proto__`'s object). */
function property(o: object, key: string): unknown {
  const v = (o as Record<string, unknown>)[key];
  return (typeof v === 'function' || key === '__proto__') && !Object.hasOwn(o, key) ? undefined : v;
}

/**
 * Resolves segments from..n of a path in a nested, dotted-key or mixed document (nested first): every way of
 * splitting the rest of the path into keys is probed, a path's length bounding the probes.
 */
function lookup(obj: unknown, keys: string[][], from: number, n: number): unknown {
  if (from === n) return obj;
  // As Elasticsearch indexes it, a path through an array of objects collects every object's values.
  if (Array.isArray(obj)) return collect(obj, keys, from, n);
  if (typeof obj !== 'object' || obj === null) return undefined;
  const row = keys[from] as string[];
  for (let to = from + 1; to <= n; to++) {
    const v = property(obj, row[to] as string);
    if (v !== undefined && v !== null) {
      const r = lookup(v, keys, to, n);
      if (r !== undefined) return r;
    }
  }
  return undefined;
}

function collect(objects: readonly unknown[], keys: string[][], from: number, n: number): unknown[] | undefined {
  let out: unknown[] | undefined;
  for (const o of flattenArrays(objects) as unknown[]) {
    if (typeof o !== 'object' || o === null || Array.isArray(o)) continue;
    const v = lookup(o, keys, from, n);
    if (v === undefined) continue;
    out ??= [];
    if (Array.isArray(v)) for (const x of v) out.push(x);
    else out.push(v);
  }
  return out;
}

/**
 * Elasticsearch indexes an array of arrays as one flat array (`[["a"], [["b"]]]` is `["a", "b"]`), so any element at
 * any depth counts. Returns `v` itself unless it holds a nested array; iterative, as the nesting depth is the
 * event's to choose.
 */
function flattenArrays(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  let nested = false;
  for (let i = 0; i < v.length && !nested; i++) nested = Array.isArray(v[i]);
  if (!nested) return v;
  const out: unknown[] = [];
  const stack: { array: readonly unknown[]; next: number }[] = [{ array: v, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as { array: readonly unknown[]; next: number };
    if (top.next === top.array.length) {
      stack.pop();
      continue;
    }
    const x = top.array[top.next++];
    if (Array.isArray(x)) stack.push({ array: x, next: 0 });
    else out.push(x);
  }
  return out;
}

/**
 * The field's value as the rules see it: undefined when missing (null, [], or only nulls), nested arrays flattened.
 * One pass over a flat array (the usual case) checks both, without building anything.
 */
function presentValue(v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  if (!Array.isArray(v)) return v;
  let present = false;
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i];
    if (Array.isArray(x)) return normalizeMissing(flattenArrays(v));
    if (x !== null && x !== undefined) present = true;
  }
  return present ? v : undefined;
}

function normalizeMissing(v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (v[i] !== null && v[i] !== undefined) return v;
    return undefined;
  }
  return v;
}

/** Keyword semantics: Elasticsearch indexes numbers and booleans sent to a keyword field as their text. */
function asString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function asNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') return Number(v);
  return NaN;
}

function asBoolean(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return undefined;
}

function numberTest(cmp: NumberComparison, bound: number): (v: unknown) => boolean {
  switch (cmp) {
    case '==':
      return (v) => asNumber(v) === bound;
    case '<':
      return (v) => asNumber(v) < bound;
    case '<=':
      return (v) => asNumber(v) <= bound;
    case '>':
      return (v) => asNumber(v) > bound;
    case '>=':
      return (v) => asNumber(v) >= bound;
    default:
      throw new CompiledRuleSetError(`unknown comparison ${JSON.stringify(cmp)}`);
  }
}

/** Orders strings by code point (Elasticsearch compares keywords as UTF-8 bytes, which is the same order). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
