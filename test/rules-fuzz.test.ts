/**
 * Parser fuzzing: 100,000 mutations of the fixture rules' queries. Each must parse (and translate) or fail with a
 * clean EqlSyntaxError / QueryError / UnsupportedConstruct carrying an in-range offset: never another exception,
 * never a hang (mocha's timeout).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { EqlSyntaxError, parseQuery } from '../src/rules/eql/parser';
import { QueryError, Translator, UnsupportedConstruct } from '../src/rules/translate';
import { FIXTURES_DIR } from './support/paths';
import { prng } from './support/random';

const MUTATIONS = 100_000;
const TOKENS = ['(', ')', '"', '"""', ',', ' and ', ' or ', ' not ', ' in ', ' in~ ', ':', '~', '?', '`', '\\', '\\u{', '}', '*', '==', '!=', '<=', '>', '//', '/*', '*/', '\n', "'", '|', '[', ']', '-', '1e', '.', 'process.', 'length(', 'startsWith~(', 'null', 'true', '\u212A', '\u{1F600}'];

function fixtureQueries(): string[] {
  const out: string[] = [];
  for (const dir of ['rules_macos', 'rules_building_block_macos', 'other_dirs_tagged_macos']) {
    const full = path.join(FIXTURES_DIR, 'detection-rules', dir);
    for (const f of fs.readdirSync(full)) {
      const rule = (parseToml(fs.readFileSync(path.join(full, f), 'utf8')) as { rule?: { query?: unknown; language?: unknown } }).rule;
      if (typeof rule?.query === 'string' && rule.language === 'eql') out.push(rule.query);
    }
  }
  return out;
}

function mutate(src: string, rnd: () => number): string {
  let s = src;
  const edits = 1 + Math.floor(rnd() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rnd() * (s.length + 1));
    const r = rnd();
    if (r < 0.3) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 8));
    else if (r < 0.7) s = s.slice(0, at) + (TOKENS[Math.floor(rnd() * TOKENS.length)] as string) + s.slice(at);
    else if (r < 0.85) s = s.slice(0, at) + s.slice(Math.floor(rnd() * s.length), Math.floor(rnd() * s.length)) + s.slice(at);
    else s = s.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 0x80)) + s.slice(at);
  }
  return s;
}

describe('rules: parser fuzzing', function () {
  this.timeout(120_000);

  it(`survives ${MUTATIONS.toLocaleString('en-US')} mutated fixture queries with a valid parse or a clean error`, () => {
    const queries = fixtureQueries();
    assert.ok(queries.length > 100);
    const rnd = prng(7);
    const outcomes = { parsed: 0, syntax: 0, query: 0, unsupported: 0 };
    for (let i = 0; i < MUTATIONS; i++) {
      const text = mutate(queries[i % queries.length] as string, rnd);
      try {
        new Translator().translate(parseQuery(text));
        outcomes.parsed++;
      } catch (err) {
        if (err instanceof EqlSyntaxError || err instanceof QueryError) {
          assert.ok(err.offset >= 0 && err.offset <= text.length, `offset ${err.offset} outside the query for ${JSON.stringify(text)}`);
          assert.ok(err.message.length > 0);
          if (err instanceof EqlSyntaxError) outcomes.syntax++;
          else outcomes.query++;
        } else if (err instanceof UnsupportedConstruct) {
          outcomes.unsupported++;
        } else {
          assert.fail(`unexpected ${String(err)} for ${JSON.stringify(text)}`);
        }
      }
    }
    // A fuzzer that only ever produces errors (or never does) tests little.
    for (const [k, n] of Object.entries(outcomes)) assert.ok(n > 100, `${k}: ${n}`);
  });

  // A quadratic step would take minutes on these inputs, far past this test's timeout.
  it('stays linear on adversarial input: long lists, long strings, comment and quote runs', function () {
    this.timeout(30_000);
    const big = [
      `process where process.args in (${Array.from({ length: 50_000 }, (_, i) => `"a${i}"`).join(', ')})`,
      `process where process.name == "${'\\\\'.repeat(200_000)}"`,
      `process where ${'/*'.repeat(100_000)}`,
      `process where process.name == ${'"""'.repeat(50_000)}`,
      `process where ${'process.name == "a" and '.repeat(20_000)}true`,
    ];
    for (const text of big) {
      try {
        new Translator().translate(parseQuery(text));
      } catch (err) {
        assert.ok(err instanceof EqlSyntaxError || err instanceof QueryError, String(err));
      }
    }
  });
});
