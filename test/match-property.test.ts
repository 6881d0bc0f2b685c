/**
 * Randomized differential test: compiled pattern sets (full DFA, a DFA cut short by a tiny state
 * budget, and NFA-only) against straightforward reference matchers written here — a dynamic
 * programming wildcard matcher, literal comparisons, and V8's own RegExp with the `u`/`iu` flags
 * (whose case-insensitive matching is defined by the same simple case folding) on short inputs.
 */
import * as assert from 'node:assert/strict';
import { type PatternSet, type PatternSpec, compilePatternSet, loadPatternSet } from '../src/rules/match';
import { hitsOf } from './support/match';
import { prng } from './support/random';

const ALPHABET = ['a', 'b', 'A', 'B', 'k', 'K', '\u212a', 's', 'S', '\u017f', '\u00df', '\u1e9e', '0', '1', '7', '/', '.', '-', '\\', ' ', '\t', '\u{1f600}', '\u{10400}', '\u{10428}', '\ud83d', '\ude00', '*', '?', '"'];

const sameFoldCache = new Map<string, boolean>();
/** Code points equal under simple case folding, decided by V8's /iu (not by the code under test). */
function sameChar(a: string, b: string, caseInsensitive: boolean): boolean {
  if (a === b) return true;
  if (!caseInsensitive) return false;
  const key = `${a}\u0000${b}`;
  let v = sameFoldCache.get(key);
  if (v === undefined) {
    v = new RegExp(`^${jsChar(a, false)}$`, 'iu').test(b);
    sameFoldCache.set(key, v);
  }
  return v;
}

function sameRun(p: readonly string[], v: readonly string[], at: number, ci: boolean): boolean {
  if (at + p.length > v.length) return false;
  return p.every((ch, i) => sameChar(ch, v[at + i] as string, ci));
}

function referenceMatch(spec: PatternSpec, value: string, jsRegex: RegExp | undefined): boolean {
  const p = [...spec.text];
  const v = [...value];
  const ci = spec.caseInsensitive;
  switch (spec.kind) {
    case 'exact':
      return p.length === v.length && sameRun(p, v, 0, ci);
    case 'prefix':
      return sameRun(p, v, 0, ci);
    case 'suffix':
      return sameRun(p, v, v.length - p.length, ci) && v.length >= p.length;
    case 'contains':
      for (let i = 0; i + p.length <= v.length; i++) if (sameRun(p, v, i, ci)) return true;
      return false;
    case 'wildcard': {
      // dp[j] = pattern prefix of length i matches value prefix of length j
      let dp = new Array<boolean>(v.length + 1).fill(false);
      dp[0] = true;
      for (const pc of p) {
        const next = new Array<boolean>(v.length + 1).fill(false);
        for (let j = 0; j <= v.length; j++) {
          if (pc === '*') next[j] = dp[j] === true || (j > 0 && next[j - 1] === true);
          else if (j > 0 && dp[j - 1] === true) next[j] = pc === '?' || sameChar(pc, v[j - 1] as string, ci);
        }
        dp = next;
      }
      return dp[v.length] === true;
    }
    case 'regex':
      return (jsRegex as RegExp).test(value);
  }
}

/** A random regex rendered both in Lucene syntax and as an equivalent JavaScript source. */
interface RandomRegex {
  lucene: string;
  js: string;
  sample: (rand: () => number) => string;
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T;
}

function luceneChar(ch: string): string {
  return /^[A-Za-z0-9]$/.test(ch) || ch.codePointAt(0)! > 0x7f ? ch : `\\${ch}`;
}

/** A character as a JavaScript `u`-mode regex literal; `-` needs its escape only inside a class. */
function jsChar(ch: string, inClass: boolean): string {
  if (/[\\^$.*+?()[\]{}|/]/.test(ch) || (inClass && ch === '-')) return `\\${ch}`;
  return ch === '\t' ? '\\t' : ch;
}

function randomRegex(rand: () => number, depth: number, ci: boolean): RandomRegex {
  const r = rand();
  if (depth <= 0 || r < 0.3) return randomAtom(rand, ci);
  if (r < 0.5) {
    const parts = [randomRegex(rand, depth - 1, ci), randomRegex(rand, depth - 1, ci)];
    return { lucene: parts.map((x) => `(${x.lucene})`).join(''), js: parts.map((x) => `(?:${x.js})`).join(''), sample: (g) => parts.map((x) => x.sample(g)).join('') };
  }
  if (r < 0.65) {
    const a = randomRegex(rand, depth - 1, ci);
    const b = randomRegex(rand, depth - 1, ci);
    return { lucene: `(${a.lucene})|(${b.lucene})`, js: `(?:${a.js})|(?:${b.js})`, sample: (g) => (g() < 0.5 ? a : b).sample(g) };
  }
  const item = randomRegex(rand, depth - 1, ci);
  const [op, min, max] = pick(rand, [
    ['*', 0, 3],
    ['+', 1, 3],
    ['?', 0, 1],
    ['{2}', 2, 2],
    ['{1,3}', 1, 3],
    ['{2,}', 2, 4],
    ['{0,1}', 0, 1],
  ] as const);
  return {
    lucene: `(${item.lucene})${op}`,
    js: `(?:${item.js})${op}`,
    sample: (g) => {
      const times = min + Math.floor(g() * (max - min + 1));
      let out = '';
      for (let i = 0; i < times; i++) out += item.sample(g);
      return out;
    },
  };
}

function randomAtom(rand: () => number, ci: boolean): RandomRegex {
  const r = rand();
  const ch = pick(rand, ALPHABET);
  if (r < 0.45) return { lucene: luceneChar(ch), js: jsChar(ch, false), sample: () => ch };
  if (r < 0.55) return { lucene: '.', js: '[^]', sample: (g) => pick(g, ALPHABET) };
  if (r < 0.7) {
    const [lo, hi] = pick(rand, [['a', 'k'], ['A', 'Z'], ['0', '7'], ['-', '/'], ['\u00c0', '\u00ff']] as const);
    const negate = rand() < 0.3;
    const extra = pick(rand, ALPHABET);
    const lucene = `[${negate ? '^' : ''}${lo}-${hi}${luceneChar(extra)}]`;
    const js = `[${negate ? '^' : ''}${lo}-${hi}${jsChar(extra, true)}]`;
    return { lucene, js, sample: (g) => (negate ? pick(g, ALPHABET) : g() < 0.5 ? extra : String.fromCodePoint(lo.codePointAt(0)! + Math.floor(g() * (hi.codePointAt(0)! - lo.codePointAt(0)! + 1)))) };
  }
  if (r < 0.8) {
    const classes: Array<[string, string, string]> = [
      ['\\d', '[0-9]', '7'],
      ['\\s', '[\\t\\n\\r ]', ' '],
      ['\\D', '[^0-9]', 'a'],
      ['\\S', '[^\\t\\n\\r ]', 'k'],
    ];
    if (!ci) classes.push(['\\w', '[A-Za-z0-9_]', 'b'], ['\\W', '[^A-Za-z0-9_]', '/']);
    const [lucene, js, example] = pick(rand, classes);
    return { lucene, js, sample: (g) => (g() < 0.7 ? example : pick(g, ALPHABET)) };
  }
  if (r < 0.87) {
    const text = pick(rand, ALPHABET) + pick(rand, ALPHABET).replace('"', '');
    return { lucene: `"${text.replace('"', '')}"`, js: [...text.replace('"', '')].map((c) => jsChar(c, false)).join(''), sample: () => text.replace('"', '') };
  }
  if (r < 0.93) {
    const lo = Math.floor(rand() * 15);
    const hi = lo + Math.floor(rand() * 12);
    const fixed = rand() < 0.5 && String(lo).length === String(hi).length;
    const width = String(hi).length;
    const numbers = Array.from({ length: hi - lo + 1 }, (_, i) => String(lo + i));
    const lucene = fixed ? `<${String(lo).padStart(width, '0')}-${hi}>` : `<${lo}-${String(hi).padStart(width + 1, '0')}>`;
    const js = fixed ? `(?:${numbers.map((x) => x.padStart(width, '0')).join('|')})` : `0*(?:${numbers.join('|')})`;
    return { lucene, js, sample: (g) => (fixed ? pick(g, numbers).padStart(width, '0') : '0'.repeat(Math.floor(g() * 2)) + pick(g, numbers)) };
  }
  if (r < 0.97) return { lucene: '@', js: '[^]*', sample: (g) => pick(g, ALPHABET) + pick(g, ALPHABET) };
  return { lucene: '#', js: '[]', sample: () => '' };
}

function randomWildcard(rand: () => number): string {
  let text = '';
  const len = 1 + Math.floor(rand() * 6);
  for (let i = 0; i < len; i++) text += rand() < 0.25 ? pick(rand, ['*', '?']) : pick(rand, ALPHABET);
  return text;
}

function randomString(rand: () => number, maxLen: number): string {
  let out = '';
  const len = Math.floor(rand() * (maxLen + 1));
  for (let i = 0; i < len; i++) out += pick(rand, ALPHABET);
  return out;
}

/** A value near a pattern: a sample of it, mutated a little at times, or random. */
function nearValue(rand: () => number, spec: PatternSpec, regex: RandomRegex | undefined): string {
  let base: string;
  if (regex !== undefined) base = regex.sample(rand);
  else if (spec.kind === 'wildcard') base = [...spec.text].map((c) => (c === '*' ? randomString(rand, 3) : c === '?' ? pick(rand, ALPHABET) : c)).join('');
  else if (spec.kind === 'exact') base = spec.text;
  else if (spec.kind === 'prefix') base = spec.text + randomString(rand, 3);
  else if (spec.kind === 'suffix') base = randomString(rand, 3) + spec.text;
  else base = randomString(rand, 2) + spec.text + randomString(rand, 2);
  const chars = [...base];
  const m = rand();
  if (m < 0.15) chars.splice(Math.floor(rand() * (chars.length + 1)), 0, pick(rand, ALPHABET));
  else if (m < 0.3 && chars.length > 0) chars.splice(Math.floor(rand() * chars.length), 1);
  else if (m < 0.45 && chars.length > 0) chars[Math.floor(rand() * chars.length)] = pick(rand, ALPHABET);
  else if (m < 0.55) return randomString(rand, 8);
  if (rand() < 0.3) return chars.map((c) => (rand() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join('');
  return chars.join('');
}

describe('matcher: randomized differential test against reference matchers', function () {
  this.timeout(120_000);

  it('agrees on every pattern/value pair, with the full DFA, a tiny state budget, and after a JSON round trip', () => {
    const rand = prng(20261203);
    let pairs = 0;
    let positives = 0;
    for (let round = 0; round < 700; round++) {
      const specs: PatternSpec[] = [];
      const regexes: Array<RandomRegex | undefined> = [];
      const count = 1 + Math.floor(rand() * 5);
      for (let i = 0; i < count; i++) {
        const caseInsensitive = rand() < 0.5;
        const kind = pick(rand, ['exact', 'prefix', 'suffix', 'contains', 'wildcard', 'wildcard', 'regex', 'regex', 'regex'] as const);
        const previous = specs[specs.length - 1];
        if (previous !== undefined && previous.kind !== 'regex' && rand() < 0.35) {
          // Overlapping patterns (`a*` with `ab`, `ab` with `abc`) exercise the shared automaton states.
          const chars = [...previous.text];
          const text = rand() < 0.5 ? chars.slice(0, Math.floor(rand() * (chars.length + 1))).join('') + pick(rand, ['*', '?', 'a', '']) : previous.text + pick(rand, ['*', 'b', '?', 'k*']);
          specs.push({ kind: 'wildcard', text, caseInsensitive });
          regexes.push(undefined);
        } else if (kind === 'regex') {
          let regex = randomRegex(rand, 3, caseInsensitive);
          if (rand() < 0.1) {
            const other = randomRegex(rand, 2, caseInsensitive);
            const left = regex;
            regex = { lucene: `(${left.lucene})&(${other.lucene})`, js: `(?=(?:${left.js})$)(?:${other.js})`, sample: (g) => (g() < 0.5 ? left : other).sample(g) };
          }
          specs.push({ kind, text: regex.lucene, caseInsensitive });
          regexes.push(regex);
        } else {
          specs.push({ kind, text: kind === 'wildcard' ? randomWildcard(rand) : randomString(rand, 3), caseInsensitive });
          regexes.push(undefined);
        }
      }
      const js = regexes.map((r, i) => (r === undefined ? undefined : new RegExp(`^(?:${r.js})$`, specs[i]?.caseInsensitive ? 'iu' : 'u')));
      const variants: Array<[string, PatternSet]> = [
        ['full DFA', compilePatternSet(specs)],
        ['budget 2 (NFA from the start)', compilePatternSet(specs, { stateBudget: 2 })],
        ['budget 6', compilePatternSet(specs, { stateBudget: 6 })],
      ];
      variants.push(['reloaded', loadPatternSet(JSON.parse(JSON.stringify(variants[2]?.[1])))]);
      const values = [...specs.flatMap((spec, i) => Array.from({ length: 6 }, () => nearValue(rand, spec, regexes[i]))), randomString(rand, 6), ''];
      for (const value of values) {
        const expected = specs.flatMap((spec, i) => (referenceMatch(spec, value, js[i]) ? [i] : []));
        pairs += specs.length;
        positives += expected.length;
        for (const [name, set] of variants) {
          assert.deepEqual(hitsOf(set, value), expected, `${name}: ${JSON.stringify(specs)} on ${JSON.stringify(value)} (round ${round})`);
        }
      }
    }
    assert.ok(pairs >= 20_000, `${pairs} pattern/value pairs`);
    assert.ok(positives > pairs / 10, `matching pairs must be common enough to test: ${positives} of ${pairs}`);
  });
});
