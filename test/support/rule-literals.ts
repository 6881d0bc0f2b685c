/**
 * Field values built from a rule's own literals, for the generators of the differential tests: per field, values
 * meant to satisfy the literals and near misses, case flips (including KELVIN SIGN and LONG S), cut and changed
 * instances.
 */
import type { Condition, Operand } from '../../src/rules/eql/ast';
import { FIELD_SCHEMA, valueKind } from '../../src/rules/schema';

export type Literal = string | number | boolean;

/** field path -> the literals the rule compares it with, and whether they are patterns. */
function collectLiterals(c: Condition, out: Map<string, { values: Literal[]; regex: boolean }>): void {
  const add = (subject: Operand | undefined, values: Operand[], regex = false): void => {
    if (subject?.kind !== 'field') return;
    const entry = out.get(subject.path) ?? { values: [], regex: false };
    entry.regex ||= regex;
    for (const v of values) if (v.kind === 'string' || v.kind === 'number' || v.kind === 'boolean') entry.values.push(v.value);
    out.set(subject.path, entry);
  };
  switch (c.kind) {
    case 'and':
    case 'or':
      c.args.forEach((a) => collectLiterals(a, out));
      return;
    case 'not':
      collectLiterals(c.arg, out);
      return;
    case 'compare':
      if (c.left.kind === 'call') add(c.left.args[0], []);
      else add(c.left, [c.right]);
      return;
    case 'in':
      add(c.subject, c.values);
      return;
    case 'pattern':
      add(c.subject, c.patterns, c.operator === 'regex');
      return;
    case 'operand':
      if (c.operand.kind === 'call') add(c.operand.args[0], c.operand.args.slice(1), c.operand.name.toLowerCase() === 'match');
      return;
  }
}

const FILLERS = ['', 'x', '/', '/a/b', 'Library/Keychains', ' -v ', 'ä', 'login.keychain-db', '*', '?'];
const REGEX_SAMPLES = ['http://10.0.0.1:8080/x', 'https://1.2.3.4/', '4755', '2000', 'curl 192.168.0.1 -o x', 'abc', 'security', 'CAT', '/usr/bin/ls', '/usr/sbin/spctl', '/usr/local/bin/x'];

/** [values meant to satisfy the literal, near misses and case variants]. */
export function variants(lit: string, rnd: () => number): [string[], string[]] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const instance = lit.replace(/[*?]/g, (m) => (m === '*' ? pick(FILLERS) : pick(['a', 'Z', '/', 'é'])));
  const flipped = [...instance].map((ch) => (rnd() < 0.5 ? ch.toUpperCase() : ch.toLowerCase())).join('');
  const exotic = instance.replace(/[kK]/g, (m) => (rnd() < 0.7 ? '\u212A' : m)).replace(/s/g, (m) => (rnd() < 0.3 ? '\u017F' : m));
  const cut = instance.length > 1 ? instance.slice(0, -1) : instance + 'q';
  const chars = [...instance];
  if (chars.length > 0) chars[Math.floor(rnd() * chars.length)] = pick(['#', 'Q', '0']);
  return [
    [lit, instance],
    [flipped, exotic, cut, chars.join(''), `x${instance}`, `${instance} `],
  ];
}

export interface FieldPools {
  /** Values built to satisfy the field's literals. */
  likely: Literal[];
  /** All values: the likely ones, near misses and case flips. */
  all: Literal[];
}

/** The pools of every field `condition` compares with literals, and of event.category. */
export function literalPools(condition: Condition, rnd: () => number): Map<string, FieldPools> {
  const literals = new Map<string, { values: Literal[]; regex: boolean }>();
  collectLiterals(condition, literals);
  const pools = new Map<string, FieldPools>();
  for (const [field, { values, regex }] of literals) {
    const type = FIELD_SCHEMA.get(field);
    const likely: Literal[] = [];
    const others: Literal[] = [];
    if (type === undefined) {
      // An ?optional field the schema does not know: each literal itself, and the same value as another type.
      for (const v of values) likely.push(v), others.push(typeof v === 'string' ? v.toUpperCase() : String(v), typeof v === 'number' ? v + 1 : 0);
      others.push(true, 'true', 'ab');
      pools.set(field, { likely, all: [...likely, ...others] });
      continue;
    }
    const kind = valueKind(type);
    if (kind === 'number') for (const v of values) likely.push(Number(v)), others.push(Number(v) + 1, Number(v) - 1, String(v));
    else if (kind === 'boolean') likely.push(true, false), others.push('true');
    else for (const v of values) {
      const [l, o] = variants(String(v), rnd);
      likely.push(...l);
      others.push(...o);
    }
    if (regex) likely.push(...REGEX_SAMPLES);
    // A field the rule only measures (length(f) > n): strings of several lengths.
    if (likely.length === 0) likely.push(...(kind === 'number' ? [3] : kind === 'boolean' ? [true] : [4, 15, 25, 60].map((n) => 'x'.repeat(n))));
    pools.set(field, { likely, all: [...likely, ...others] });
  }
  pools.set('event.category', { likely: ['process'], all: ['process', 'file', 'Process'] });
  return pools;
}
