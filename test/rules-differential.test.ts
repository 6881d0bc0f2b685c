/**
 * Differential test: every supported fixture rule, compiled together into one engine (shared per-field pattern
 * sets), against the reference interpreter, on events built from each rule's own literals: matching instances,
 * near misses, case flips (including Kelvin sign and long s), missing fields, arrays, nested/dotted/mixed documents.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadRuleSet, type RuleMeta } from '../src/rules';
import type { Condition, Operand, ParsedQuery } from '../src/rules/eql/ast';
import { parseQuery } from '../src/rules/eql/parser';
import { FIELD_SCHEMA, valueKind } from '../src/rules/schema';
import { flatten, naiveMatcher, ReferenceRule } from './support/eql-reference';
import { FIXTURES_DIR } from './support/paths';
import { prng } from './support/random';
import { ruleToml, tempDir } from './support/rules';

const RULE_DIRS = ['rules_macos', 'rules_building_block_macos', 'other_dirs_tagged_macos'].map((d) => path.join(FIXTURES_DIR, 'detection-rules', d));
const EVENTS = 100_000;

/** Constructs the fixture rules never use, so the differential covers them too. */
const SYNTHETIC_QUERIES = [
  'process where startsWith(process.name, "sec", "ca") and not endsWith~(process.executable, "/SECURITY")',
  'process where stringContains~(process.command_line, "Keychains/") or wildcard(process.args, "*.keychain*", "?ogin*")',
  'process where length(process.args) > 20 and process.args_count >= 3 and process.args_count != 4',
  'process where match~(process.name, "se[a-z]+ty|ca.") and process.parent.name < "m"',
  'process where process.args : ("*/Library/Keychains/*", "login.keychain*") and process.parent.executable == null',
  'process where process.name in~ ("SECURITY", "cat*") or ?process.no_such.field : "x" or process.user.id != "0"',
  'any where process.executable regex~ "/usr/(s?bin)/[a-z]+" and not process.code_signature.trusted == true',
  'process where `process`.name like ("s*", "c?t") and not process.args in ("-d", "find-certificate")',
  'process where ?foo.n >= 3 and ?foo.b == true or ?foo.s in ("x", 4, false) or ?foo.s like~ "A*" or not ?foo.t : "y"',
];

type Literal = string | number | boolean;

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
function variants(lit: string, rnd: () => number): [string[], string[]] {
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

interface Target {
  meta: RuleMeta;
  reference: ReferenceRule;
  /** Per field: values built to satisfy its literals, and all values (near misses, case flips included). */
  pools: Map<string, { likely: Literal[]; all: Literal[] }>;
}

function buildTargets(rules: readonly RuleMeta[], rnd: () => number): Target[] {
  return rules.map((meta) => {
    const parsed = parseQuery(meta.query) as ParsedQuery & { kind: 'event' };
    const literals = new Map<string, { values: Literal[]; regex: boolean }>();
    collectLiterals(parsed.condition, literals);
    const pools = new Map<string, { likely: Literal[]; all: Literal[] }>();
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
    return { meta, reference: new ReferenceRule(parsed, naiveMatcher), pools };
  });
}

function makeDoc(t: Target, rnd: () => number): object {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const flat: Record<string, unknown> = {};
  // Half the events lean toward satisfying the rule, so both verdicts are common.
  const leaning = rnd() < 0.5;
  for (const [field, pools] of t.pools) {
    const pool = leaning && rnd() < 0.85 ? pools.likely : pools.all;
    const r = rnd();
    if (r < (leaning ? 0.04 : 0.12)) continue;
    if (r < 0.15) flat[field] = rnd() < 0.5 ? null : [];
    else if (r < 0.55) flat[field] = pick(pool);
    else if (r < 0.9) flat[field] = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => pick(pool));
    // Nested arrays, which Elasticsearch indexes flat.
    else flat[field] = [pick(pool), [[pick(pool)], []]];
  }
  const style = rnd();
  if (style < 0.4) return flat;
  const nested: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(flat)) {
    const segs = field.split('.');
    // Mixed documents: nest only down to a random depth and keep the rest of the path as one dotted key.
    const depth = style < 0.7 ? segs.length - 1 : Math.floor(rnd() * segs.length);
    let obj = nested;
    for (const seg of segs.slice(0, depth)) obj = (obj[seg] ??= {}) as Record<string, unknown>;
    obj[segs.slice(depth).join('.')] = value;
  }
  return nested;
}

describe('rules: differential test against the reference interpreter', function () {
  this.timeout(120_000);

  it(`agrees with the reference on ${EVENTS.toLocaleString('en-US')} events generated from the fixture rules' literals`, () => {
    const synthetic = tempDir();
    SYNTHETIC_QUERIES.forEach((query, i) => fs.writeFileSync(path.join(synthetic, `s${i}.toml`), ruleToml(query, `synthetic ${i}`, `synthetic-${i}`)));
    const set = loadRuleSet([...RULE_DIRS, synthetic]);
    assert.equal(set.rules.length, 82 + SYNTHETIC_QUERIES.length);
    assert.deepEqual(set.errors, []);
    const rnd = prng(0x5eed);
    const targets = buildTargets(set.rules, rnd);
    let fired = 0;
    const firedRules = new Set<string>();
    for (let i = 0; i < EVENTS; i++) {
      const t = targets[i % targets.length] as Target;
      const doc = makeDoc(t, rnd);
      const engine = set.evaluate(doc);
      // Every tenth event is checked against every rule; the others against the rule they were built from.
      const checked = i % 10 === 0 ? targets : [t];
      const flat = flatten(doc);
      for (const c of checked) {
        const want = c.reference.matches(flat);
        const got = engine.includes(c.meta);
        if (want !== got) assert.fail(`rule "${c.meta.name}" on event ${i}: engine ${got}, reference ${want}\n${JSON.stringify(doc)}`);
      }
      if (engine.includes(t.meta)) {
        fired++;
        firedRules.add(t.meta.id);
      }
    }
    // The generator must reach both verdicts for most rules, or agreeing would prove little.
    assert.ok(fired > EVENTS / 50, `only ${fired} events fired their rule`);
    assert.ok(firedRules.size >= targets.length * 0.6, `only ${firedRules.size} of ${targets.length} rules ever fired`);
    const silent = SYNTHETIC_QUERIES.filter((_, i) => !firedRules.has(`synthetic-${i}`));
    assert.deepEqual(silent, [], 'synthetic rules that never fired');
  });
});
