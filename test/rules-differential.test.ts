/**
 * Differential test: every supported fixture rule, compiled together into one engine (shared per-field pattern
 * sets), against the reference interpreter, on events built from each rule's own literals: matching instances,
 * near misses, case flips (including Kelvin sign and long s), missing fields, arrays, nested/dotted/mixed documents.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadRuleSet, type RuleMeta } from '../src/rules';
import type { ParsedQuery } from '../src/rules/eql/ast';
import { parseQuery } from '../src/rules/eql/parser';
import { flatten, naiveMatcher, ReferenceRule } from './support/eql-reference';
import { FIXTURES_DIR } from './support/paths';
import { prng } from './support/random';
import { literalPools, type FieldPools } from './support/rule-literals';
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

interface Target {
  meta: RuleMeta;
  reference: ReferenceRule;
  /** Per field: values built to satisfy its literals, and all values (near misses, case flips included). */
  pools: Map<string, FieldPools>;
}

function buildTargets(rules: readonly RuleMeta[], rnd: () => number): Target[] {
  return rules.map((meta) => {
    const parsed = parseQuery(meta.query) as ParsedQuery & { kind: 'event' };
    return { meta, reference: new ReferenceRule(parsed, naiveMatcher), pools: literalPools(parsed.condition, rnd) };
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
