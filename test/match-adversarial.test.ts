/**
 * Inputs crafted against the matcher: long values built to make a backtracking matcher explode,
 * and pattern sets whose DFA would be exponential. Time is measured in bench/matcher.bench.ts;
 * here the answers must be right and the automaton must stay within its state budget.
 */
import * as assert from 'node:assert/strict';
import { PatternError, type PatternSpec, compilePatternSet } from '../src/rules/match';
import { hitsOf } from './support/match';
import { prng } from './support/random';

const wild = (text: string, caseInsensitive = true): PatternSpec => ({ kind: 'wildcard', text, caseInsensitive });

/** Reference: a wildcard pattern matches when its `*`-separated literal parts occur in order, anchored. */
function wildcardReference(pattern: string, value: string): boolean {
  const parts = pattern.toLowerCase().split('*');
  const v = value.toLowerCase();
  const first = parts[0] as string;
  const last = parts[parts.length - 1] as string;
  if (parts.length === 1) return v === first;
  if (!v.startsWith(first) || v.length < first.length + last.length || !v.endsWith(last)) return false;
  let at = first.length;
  for (const middle of parts.slice(1, -1)) {
    const found = v.indexOf(middle, at);
    if (found < 0 || found + middle.length > v.length - last.length) return false;
    at = found + middle.length;
  }
  return true;
}

describe('matcher: adversarial inputs', () => {
  it('answers a 4 KB crafted argument against the path patterns that stall a backtracking RegExp', () => {
    const set = compilePatternSet([wild('/Users/*/Library/*/*.plist'), wild('*/Library/*/*/*.plist')]);
    const crafted = `/Users/${'/Library/'.repeat(455)}x`;
    assert.ok(crafted.length >= 4096);
    assert.deepEqual(hitsOf(set, crafted), []);
    assert.deepEqual(hitsOf(set, `${crafted}/a.plist`), [0, 1]);
    assert.deepEqual(hitsOf(set, `/Users/a/Library/b/c.plist`), [0]);
    assert.deepEqual(hitsOf(set, `/x/Library/b/c/d.PLIST`), [1]);
    assert.ok(set.strategies().every((s) => !s.includes('fallback')), set.strategies().join());
  });

  it('keeps `*a*b*c*...` blow-up sets within the state budget and still answers exactly', () => {
    const letters = 'abcdefghijklmnopqrstuvwxyz';
    const specs: PatternSpec[] = [];
    for (let i = 0; i < 24; i++) {
      const word = [0, 1, 2, 3, 4, 5].map((j) => letters[(i * 7 + j * 5) % 26]).join('*');
      specs.push(wild(`*${word}*`), wild(`*${word}`));
    }
    const stateBudget = 512;
    const set = compilePatternSet(specs, { stateBudget });
    const rand = prng(7);
    for (let round = 0; round < 400; round++) {
      let value = '';
      const len = Math.floor(rand() * 300);
      for (let i = 0; i < len; i++) value += letters[Math.floor(rand() * 26)];
      const expected = specs.flatMap((s, i) => (wildcardReference(s.text, value) ? [i] : []));
      assert.deepEqual(hitsOf(set, value), expected, value);
    }
    const strategy = set.strategies().join(' ');
    const built = /lazy: (\d+) of 512 states built, budget reached \d+x: nfa-fallback/.exec(strategy);
    assert.ok(built !== null, strategy);
    assert.ok(Number(built[1]) <= stateBudget, strategy);
  });

  it('answers a long value that walks the NFA fallback for its whole length', () => {
    const specs = Array.from({ length: 40 }, (_, i) => wild(`*${String.fromCharCode(97 + (i % 26))}*${String.fromCharCode(97 + ((i * 3) % 26))}*x${i}`));
    const set = compilePatternSet(specs, { stateBudget: 2 });
    const value = `${'ab'.repeat(3000)}x7`;
    assert.deepEqual(hitsOf(set, value), specs.flatMap((s, i) => (wildcardReference(s.text, value) ? [i] : [])));
  });

  it('survives random regex texts: a compiled set or a PatternError, never another failure', () => {
    const pieces = ['a', 'B', '.', '*', '+', '?', '{', '}', '{2}', '{1,3}', '{2,}', '{3,1}', '(', ')', '[', ']', '^', '-', '|', '&', '"', '\\', '\\d', '\\W', '\\q', '<', '>', '<1-20>', '<x>', '#', '@', '~', '\u212a', '\u{1f600}', '\ud800', '0', '9'];
    const rand = prng(99);
    let compiled = 0;
    let rejected = 0;
    for (let i = 0; i < 4000; i++) {
      let text = '';
      const len = 1 + Math.floor(rand() * 12);
      for (let j = 0; j < len; j++) text += pieces[Math.floor(rand() * pieces.length)];
      const caseInsensitive = rand() < 0.5;
      try {
        const set = compilePatternSet([{ kind: 'regex', text, caseInsensitive }], { stateBudget: 64 });
        hitsOf(set, 'aB.9\u212a\u{1f600}');
        compiled++;
      } catch (err) {
        if (!(err instanceof PatternError)) throw new Error(`${JSON.stringify(text)}: ${String(err)}`);
        assert.ok(err.patternIndex === 0 && err.offset >= 0 && err.offset <= text.length, `${JSON.stringify(text)}: ${err.message}`);
        rejected++;
      }
    }
    assert.ok(compiled > 500 && rejected > 500, `${compiled} compiled, ${rejected} rejected`);
  });
});
