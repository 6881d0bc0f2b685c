/**
 * A deliberately straightforward EQL interpreter written from ../shared/docs/eql-semantics.md, walking the parsed
 * query per event with no compilation or sharing. The differential test checks the compiled engine against it
 * (with the naive matcher below); the rules benchmark uses it with per-pattern RegExps as the naive baseline.
 */
import type { Condition, Operand, ParsedQuery } from '../../src/rules/eql/ast';
import { FIELD_SCHEMA, valueKind } from '../../src/rules/schema';

export type PatternKind = 'exact' | 'wildcard' | 'prefix' | 'suffix' | 'contains' | 'regex';
/** Returns a test for one pattern: does the WHOLE value match it? */
export type MatcherFactory = (kind: PatternKind, pattern: string, caseInsensitive: boolean) => (value: string) => boolean;

type Flat = Map<string, unknown>;

/** Nested, dotted and mixed documents all flatten to the same dotted keys. */
export function flatten(doc: unknown, prefix = '', out: Flat = new Map()): Flat {
  if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
    for (const [k, v] of Object.entries(doc)) {
      const key = prefix === '' ? k : `${prefix}.${k}`;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) flatten(v, key, out);
      else if (v !== undefined && v !== null) out.set(key, v);
    }
  }
  return out;
}

function elements(flat: Flat, path: string): unknown[] {
  const v = flat.get(path);
  if (v === undefined) return [];
  // Elasticsearch indexes nested arrays flat: every element at any depth counts.
  return (Array.isArray(v) ? (v.flat(Infinity) as unknown[]) : [v]).filter((x) => x !== null && x !== undefined);
}

export class ReferenceRule {
  private readonly cache = new Map<string, (value: string) => boolean>();

  constructor(
    readonly query: ParsedQuery & { kind: 'event' },
    private readonly matcher: MatcherFactory,
  ) {}

  matches(flat: Flat): boolean {
    if (this.query.category !== 'any' && !elements(flat, 'event.category').some((c) => c === this.query.category)) return false;
    return this.cond(this.query.condition, flat);
  }

  private test(kind: PatternKind, pattern: string, ci: boolean, value: string): boolean {
    const key = `${kind}|${ci}|${pattern}`;
    let t = this.cache.get(key);
    if (t === undefined) {
      t = this.matcher(kind, pattern, ci);
      this.cache.set(key, t);
    }
    return t(value);
  }

  /** Keyword fields index numbers and booleans as text; a field the schema does not know has only its strings. */
  private strings(flat: Flat, path: string): string[] {
    const keyword = FIELD_SCHEMA.has(path);
    return elements(flat, path).flatMap((v) => (typeof v === 'string' ? [v] : keyword && (typeof v === 'number' || typeof v === 'boolean') ? [String(v)] : []));
  }

  private cond(c: Condition, flat: Flat): boolean {
    switch (c.kind) {
      case 'and':
        return c.args.every((a) => this.cond(a, flat));
      case 'or':
        return c.args.some((a) => this.cond(a, flat));
      case 'not':
        return !this.cond(c.arg, flat);
      case 'operand': {
        if (c.operand.kind === 'boolean') return c.operand.value;
        if (c.operand.kind === 'call') return this.call(c.operand, flat);
        const path = fieldPath(c.operand);
        return elements(flat, path).some((v) => v === true || (v === 'true' && FIELD_SCHEMA.has(path)));
      }
      case 'pattern': {
        const path = fieldPath(c.subject);
        const kind = c.operator === 'regex' ? 'regex' : 'wildcard';
        return this.strings(flat, path).some((v) => c.patterns.some((p) => this.test(kind, literal(p) as string, c.insensitive, v)));
      }
      case 'in': {
        const path = fieldPath(c.subject);
        const hit = c.values.some((lit) => this.equals(flat, path, lit, c.insensitive));
        return c.negated ? !hit : hit;
      }
      case 'compare': {
        const [field, value, op] = c.left.kind === 'field' || c.left.kind === 'call' ? [c.left, c.right, c.op] : [c.right, c.left, flip(c.op)];
        if (op === '!=') return !this.cond({ ...c, op: '==', left: field, right: value }, flat);
        if (field.kind === 'call') {
          if (value.kind === 'boolean') return this.call(field, flat) === value.value;
          const n = literal(value);
          return this.strings(flat, fieldPath(field.args[0] as Operand)).some((s) => order(s.length, n as number, op));
        }
        const path = fieldPath(field);
        if (op === '==') return this.equals(flat, path, value, false);
        const bound = literal(value);
        if (bound === null) return false;
        if (typeof bound === 'number') return elements(flat, path).some((v) => (FIELD_SCHEMA.has(path) || typeof v === 'number') && order(toNumber(v), bound, op));
        return this.strings(flat, path).some((s) => order(s, bound as string, op));
      }
    }
  }

  private equals(flat: Flat, path: string, lit: Operand, ci: boolean): boolean {
    const want = literal(lit);
    const values = elements(flat, path);
    if (want === null) return values.length === 0;
    const type = FIELD_SCHEMA.get(path);
    // A field the schema does not know (only ?optional may name one) is read with the literal's own type, strictly.
    if (type === undefined) return typeof want === 'string' ? this.strings(flat, path).some((v) => this.test('exact', want, ci, v)) : values.some((v) => v === want);
    switch (valueKind(type)) {
      case 'string':
        return this.strings(flat, path).some((v) => this.test('exact', want as string, ci, v));
      case 'number':
        return values.some((v) => toNumber(v) === want);
      case 'boolean':
        return values.some((v) => v === want || v === String(want));
    }
  }

  private call(call: Operand & { kind: 'call' }, flat: Flat): boolean {
    const kinds: Record<string, PatternKind> = { startswith: 'prefix', endswith: 'suffix', stringcontains: 'contains', wildcard: 'wildcard', match: 'regex' };
    const kind = kinds[call.name.toLowerCase()] as PatternKind;
    const [subject, ...patterns] = call.args;
    return this.strings(flat, fieldPath(subject as Operand)).some((v) => patterns.some((p) => this.test(kind, literal(p) as string, call.insensitive, v)));
  }
}

function fieldPath(o: Operand): string {
  if (o.kind !== 'field') throw new Error(`reference interpreter: expected a field, got ${o.kind}`);
  // An unknown ?optional field is read from the event as Elasticsearch's dynamic mapping would (see strings, equals).
  return o.path;
}

function literal(o: Operand): string | number | boolean | null {
  switch (o.kind) {
    case 'string':
    case 'number':
    case 'boolean':
      return o.value;
    case 'null':
      return null;
    default:
      throw new Error(`reference interpreter: expected a literal, got ${o.kind}`);
  }
}

function toNumber(v: unknown): number {
  return typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
}

type Op = '==' | '!=' | '<' | '<=' | '>' | '>=';
const FLIPPED: Record<string, Op> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

function flip(op: string): Op {
  return FLIPPED[op] ?? (op as Op);
}

function order<T extends string | number>(a: T, b: T, op: string): boolean {
  if (typeof a === 'number' && Number.isNaN(a)) return false;
  const [x, y] = typeof a === 'string' ? [[...a].map((c) => c.codePointAt(0) as number), [...(b as string)].map((c) => c.codePointAt(0) as number)] : [[a as number], [b as number]];
  let c = 0;
  for (let i = 0; i < Math.min(x.length, y.length) && c === 0; i++) c = (x[i] as number) - (y[i] as number);
  if (c === 0) c = x.length - y.length;
  return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
}

/** Case folding by code point: two characters are equal when they fold to the same single character. */
export function foldChar(ch: string): string {
  const up = ch.toUpperCase();
  if ([...up].length !== 1) return ch;
  const low = up.toLowerCase();
  return [...low].length === 1 ? low : up;
}

/**
 * The doc's wildcard semantics as a dynamic-programming matcher over code points: `*` any run, `?` one character,
 * nothing else special, whole value. Quadratic, which is fine for a test oracle.
 */
export const naiveMatcher: MatcherFactory = (kind, pattern, ci) => {
  if (kind === 'regex') {
    const re = new RegExp(`^(?:${pattern})$`, ci ? 'isu' : 'su');
    return (v) => re.test(v);
  }
  const p = [...pattern].map((c) => (ci ? foldChar(c) : c));
  const starry = kind === 'wildcard';
  const pre = kind === 'suffix' || kind === 'contains';
  const post = kind === 'prefix' || kind === 'contains';
  return (value) => {
    const v = [...value].map((c) => (ci ? foldChar(c) : c));
    if (!starry) {
      for (let s = 0; s + p.length <= v.length; s++) {
        if (!pre && s > 0) break;
        if (!post && s + p.length !== v.length) continue;
        if (p.every((c, i) => v[s + i] === c)) return true;
      }
      return false;
    }
    let row = new Array<boolean>(v.length + 1).fill(false);
    row[0] = true;
    for (const c of p) {
      const next = new Array<boolean>(v.length + 1).fill(false);
      if (c === '*') {
        let any = false;
        for (let j = 0; j <= v.length; j++) next[j] = any = any || (row[j] as boolean);
      } else {
        for (let j = 1; j <= v.length; j++) next[j] = (row[j - 1] as boolean) && (c === '?' || v[j - 1] === c);
      }
      row = next;
    }
    return row[v.length] as boolean;
  };
};
