import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PatternError, type PatternSpec, compilePatternSet, loadPatternSet } from '../src/rules/match';
import { FIXTURES_DIR } from './support/paths';
import { hitsOf, matches } from './support/match';

const KELVIN = '\u212a';
const LONG_S = '\u017f';
const SHARP_S = '\u00df';
const CAPITAL_SHARP_S = '\u1e9e';
const GRINNING = '\u{1f600}';

describe('matcher: literal kinds', () => {
  it('exact is whole-string equality, case-sensitive unless asked', () => {
    assert.equal(matches('exact', 'security', 'security'), true);
    assert.equal(matches('exact', 'security', 'Security'), false);
    assert.equal(matches('exact', 'security', 'security '), false);
    assert.equal(matches('exact', 'security', 'securit'), false);
    assert.equal(matches('exact', 'security', 'SECURITY', true), true);
    assert.equal(matches('exact', '', ''), true);
    assert.equal(matches('exact', '', 'x'), false);
    assert.equal(matches('exact', 'a*b', 'a*b'), true, 'no wildcard in exact');
    assert.equal(matches('exact', 'a*b', 'axxb'), false);
  });

  it('prefix, suffix and contains compare literal text', () => {
    assert.equal(matches('prefix', '/Users/', '/Users/a'), true);
    assert.equal(matches('prefix', '/Users/', '/users/a'), false);
    assert.equal(matches('prefix', '/Users/', '/users/a', true), true);
    assert.equal(matches('prefix', '/Users/', 'x/Users/a'), false);
    assert.equal(matches('suffix', '.plist', 'a.plist'), true);
    assert.equal(matches('suffix', '.plist', 'a.PLIST', true), true);
    assert.equal(matches('suffix', '.plist', 'a.plistx'), false);
    assert.equal(matches('contains', 'Keychains', '/L/Keychains/x'), true);
    assert.equal(matches('contains', 'Keychains', '/L/KEYCHAINS/x'), false);
    assert.equal(matches('contains', 'Keychains', '/L/KEYCHAINS/x', true), true);
    assert.equal(matches('contains', 'a?b', 'xa?bx'), true, 'no wildcards in contains');
    assert.equal(matches('contains', 'a?b', 'xacbx'), false);
  });

  it('many literals of one kind are still exact (they move into the automaton)', () => {
    const prefixes = Array.from({ length: 40 }, (_, i) => `/p${i}/`);
    const set = compilePatternSet(prefixes.map((text) => ({ kind: 'prefix', text, caseInsensitive: false })));
    assert.ok(set.strategies().some((s) => s.startsWith('dfa(40 patterns')), set.strategies().join());
    assert.deepEqual(hitsOf(set, '/p17/x'), [17]);
    assert.deepEqual(hitsOf(set, '/P17/x'), []);
    assert.deepEqual(hitsOf(set, '/p1/'), [1]);
  });
});

describe('matcher: wildcards', () => {
  it('are anchored at both ends', () => {
    assert.equal(matches('wildcard', 'abc', 'abc'), true);
    assert.equal(matches('wildcard', 'abc', 'xabc'), false);
    assert.equal(matches('wildcard', 'abc', 'abcx'), false);
    assert.equal(matches('wildcard', '*/Keychains', '/Users/a/Library/Keychains/'), false);
  });

  it('`*` matches any run including `/` and the empty run', () => {
    assert.equal(matches('wildcard', '/Users/*/Library/Keychains/*', '/Users/a/b/c/Library/Keychains/login.keychain-db'), true);
    assert.equal(matches('wildcard', '/Users/*/Library/Keychains/*', '/Users//Library/Keychains/'), true);
    assert.equal(matches('wildcard', '*', ''), true);
    assert.equal(matches('wildcard', '**', 'anything/at/all'), true);
    assert.equal(matches('wildcard', 'a*b*c', 'abc'), true);
    assert.equal(matches('wildcard', 'a*b*c', 'acb'), false);
  });

  it('`?` is exactly one code point (a surrogate pair counts once)', () => {
    assert.equal(matches('wildcard', 'a?c', 'abc'), true);
    assert.equal(matches('wildcard', 'a?c', 'ac'), false);
    assert.equal(matches('wildcard', 'a?c', 'abbc'), false);
    assert.equal(matches('wildcard', 'a?c', `a${GRINNING}c`), true);
    assert.equal(matches('wildcard', 'a??c', `a${GRINNING}c`), false);
    assert.equal(matches('wildcard', '?', '\ud800'), true, 'a lone surrogate is one character');
    assert.equal(matches('wildcard', `a${GRINNING}*`, `a${GRINNING}`), true);
  });

  it('never matches half of a surrogate pair, in any kind', () => {
    const pair = GRINNING;
    const [high, low] = [pair.charAt(0), pair.charAt(1)];
    assert.equal(matches('suffix', low, `x${pair}`), false);
    assert.equal(matches('prefix', high, `${pair}x`), false);
    assert.equal(matches('contains', low, `a${pair}b`), false);
    assert.equal(matches('wildcard', `*${low}`, `x${pair}`), false);
    assert.equal(matches('suffix', low, `x${low}`), true, 'a lone surrogate still matches itself');
    assert.equal(matches('contains', high, `a${high}b`), true);
  });

  it('has no escapes: a backslash is a literal character', () => {
    assert.equal(matches('wildcard', 'C:\\Windows\\*', 'C:\\Windows\\cmd.exe'), true);
    assert.equal(matches('wildcard', 'a\\*', 'a\\xyz'), true, '`\\*` is a backslash then a wildcard');
    assert.equal(matches('wildcard', 'a\\*', 'a*'), false);
    assert.equal(matches('wildcard', 'a\\?', 'a\\b'), true);
  });

  it('fold case only when asked', () => {
    assert.equal(matches('wildcard', '*/library/keychains/*', '/Users/a/Library/Keychains/x'), false);
    assert.equal(matches('wildcard', '*/library/keychains/*', '/Users/a/Library/Keychains/x', true), true);
  });
});

describe('matcher: Unicode simple case folding', () => {
  it('Kelvin sign ~ k/K and long s ~ s/S, in every kind', () => {
    for (const kind of ['exact', 'wildcard', 'regex', 'prefix'] as const) {
      assert.equal(matches(kind, 'Keychains', `${KELVIN}eychains`, true), true, kind);
      assert.equal(matches(kind, `${KELVIN}eychains`, 'keychains', true), true, kind);
      assert.equal(matches(kind, 'security', `${LONG_S}ecurity`, true), true, kind);
      assert.equal(matches(kind, 'Keychains', `${KELVIN}eychains`, false), false, `${kind} case-sensitive`);
    }
  });

  it('does not apply full folding: ß is not ss, but ß ~ ẞ', () => {
    assert.equal(matches('exact', 'strasse', `stra${SHARP_S}e`, true), false);
    assert.equal(matches('exact', `stra${SHARP_S}e`, 'strasse', true), false);
    assert.equal(matches('exact', `STRA${CAPITAL_SHARP_S}E`, `stra${SHARP_S}e`, true), true);
  });

  it('folds Greek sigma forms, astral Deseret letters, and not Turkish dotless i', () => {
    assert.equal(matches('wildcard', '\u03a3*', '\u03c2x', true), true);
    assert.equal(matches('wildcard', '\u03c3', '\u03a3', true), true);
    assert.equal(matches('exact', '\u{10400}', '\u{10428}', true), true);
    assert.equal(matches('wildcard', '?\u{10428}', 'a\u{10400}', true), true);
    assert.equal(matches('exact', 'i', '\u0131', true), false);
    assert.equal(matches('exact', 'I', '\u0130', true), false);
    assert.equal(matches('exact', '\u00e9t\u00e9', '\u00c9T\u00c9', true), true);
  });

  it('regex~ folds characters, strings and ranges but not \\w', () => {
    assert.equal(matches('regex', '[a-z]+', 'ABC', true), true);
    assert.equal(matches('regex', '[a-z]+', 'ABC', false), false);
    assert.equal(matches('regex', '"keychain"', 'KEYCHAIN', true), true);
    assert.equal(matches('regex', '[^k]', 'K', true), false, 'negation of a folded class');
    assert.equal(matches('regex', '[^k]', KELVIN, true), false);
    assert.equal(matches('regex', '[^k]', 'K', false), true);
    assert.equal(matches('regex', '\\w', KELVIN, true), false);
  });
});

describe('matcher: Lucene regular expressions', () => {
  const re = (text: string, value: string, ci = false): boolean => matches('regex', text, value, ci);

  it('operators: . * + ? {n} {n,} {n,m} | ( ) and anchoring', () => {
    assert.equal(re('a.c', 'abc'), true);
    assert.equal(re('a.c', `a${GRINNING}c`), true);
    assert.equal(re('ab*c', 'ac'), true);
    assert.equal(re('ab+c', 'ac'), false);
    assert.equal(re('ab?c', 'abbc'), false);
    assert.equal(re('a{3}', 'aaa'), true);
    assert.equal(re('a{3}', 'aaaa'), false);
    assert.equal(re('a{2,}', 'aaaaa'), true);
    assert.equal(re('a{2,}', 'a'), false);
    assert.equal(re('a{1,2}', 'aaa'), false);
    assert.equal(re('(ab|cd)+', 'abcdab'), true);
    assert.equal(re('abc', 'xabcx'), false, 'anchored');
    assert.equal(re('b', 'abc'), false);
    assert.equal(re('', ''), true);
    assert.equal(re('()', ''), true);
  });

  it('classes: ranges, negation, escapes, predefined classes', () => {
    assert.equal(re('[a-c]x', 'bx'), true);
    assert.equal(re('[^a-c]x', 'bx'), false);
    assert.equal(re('[^a-c]x', `${GRINNING}x`), true);
    assert.equal(re('[a\\-z]', '-'), true);
    assert.equal(re('[a\\-z]', 'm'), false);
    assert.equal(re('[]a]', ']'), true, 'a leading ] is a member');
    assert.equal(re('\\d+', '0123'), true);
    assert.equal(re('\\D', '5'), false);
    assert.equal(re('\\s', '\t'), true);
    assert.equal(re('\\s', '\u000b'), false, 'Lucene \\s is [ \\t\\n\\r] only');
    assert.equal(re('\\S', 'x'), true);
    assert.equal(re('\\w+', 'a_Z9'), true);
    assert.equal(re('\\W', '-'), true);
    assert.equal(re('[\\d\\s]+', '1 2'), true);
    assert.equal(re('\\\\', '\\'), true);
    assert.equal(re('\\.', '.'), true);
    assert.equal(re('\\.', 'a'), false);
  });

  it('quoting, the optional operators ES enables, and literal ~', () => {
    assert.equal(re('"a.b*"', 'a.b*'), true);
    assert.equal(re('"a.b*"', 'axb'), false);
    assert.equal(re('a@', 'anything'), true, '@ is any string');
    assert.equal(re('a#|b', 'b'), true, '# is the empty language');
    assert.equal(re('a#', 'a'), false);
    assert.equal(re('<1-100>', '42'), true);
    assert.equal(re('<1-100>', '0042'), true, 'leading zeros when the bounds differ in width');
    assert.equal(re('<1-100>', '101'), false);
    assert.equal(re('<1-100>', '0'), false);
    assert.equal(re('<01-10>', '07'), true);
    assert.equal(re('<01-10>', '7'), false, 'fixed width when the bounds have equal width');
    assert.equal(re('<100-1>', '50'), true, 'bounds are swapped');
    assert.equal(re('.*a.*&.*b.*', 'xbxa'), true, '& is intersection');
    assert.equal(re('.*a.*&.*b.*', 'xxa'), false);
    assert.equal(re('~a', '~a'), true, 'complement is not enabled by ES: ~ is literal');
    assert.equal(re('*a', '*a'), true, 'a leading * is literal, as in Lucene');
    assert.equal(re('+a', '+a'), true);
    assert.equal(re('{a', '{a'), true);
    assert.equal(re('(|a)', '|a'), true, 'Lucene reads a | that starts a group as a character');
    assert.equal(re('(|a)', 'a'), false);
    assert.equal(re('^a$', '^a$'), true, 'no anchors: ^ and $ are characters');
  });

  it('compiles every regex in the fixture rules, with their intended matches', () => {
    const found = fixtureRegexes();
    assert.ok(found.length >= 5, `found ${found.length} fixture regexes`);
    const set = compilePatternSet(found);
    assert.equal(set.size, found.length);
    const byText = (text: string): number => found.findIndex((s) => s.text === text);
    const curl = byText('https?:\\/\\/[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(:[0-9]{1,5})?\\/.*');
    assert.ok(hitsOf(set, 'http://10.1.2.3:8080/payload.sh').includes(curl));
    assert.ok(hitsOf(set, 'HTTPS://10.1.2.3/x').includes(curl));
    assert.ok(!hitsOf(set, 'https://example.com/x').includes(curl));
    const space = byText('/[a-z0-9\\s_\\-\\\\./]+\\s');
    assert.ok(hitsOf(set, '/Applications/Calculator.app/Contents/MacOS/Calculator ').includes(space));
    assert.ok(!hitsOf(set, '/Applications/Calculator.app/Contents/MacOS/Calculator').includes(space));
    const setuid = byText('[24][0-9]{3}');
    assert.ok(hitsOf(set, '4755').includes(setuid));
    assert.ok(!hitsOf(set, '755').includes(setuid));
    const tld = found.findIndex((s) => s.text.startsWith('.*\\.(top|'));
    assert.ok(hitsOf(set, 'evil.example.xyz').includes(tld));
    assert.ok(!hitsOf(set, 'example.com').includes(tld));
  });

  it('reports the pattern index and offset of a bad regex', () => {
    const cases: Array<[string, number, RegExp]> = [
      ['a(b', 3, /expected '\)'/],
      ['[ab', 3, /expected '\]'/],
      ['a{2,1}', 5, /out of order/],
      ['a{x}', 2, /integer expected/],
      ['ab\\q', 2, /invalid character class \\q/],
      ['a|', 2, /unexpected end-of-string/],
      ['a)', 1, /end-of-string expected/],
      ['<name>', 0, /not found/],
      ['"abc', 4, /expected '"'/],
      ['[z-a]', 1, /invalid range/],
    ];
    for (const [text, offset, reason] of cases) {
      const specs: PatternSpec[] = [{ kind: 'wildcard', text: 'ok*', caseInsensitive: true }, { kind: 'regex', text, caseInsensitive: false }];
      assert.throws(
        () => compilePatternSet(specs),
        (err: unknown) => err instanceof PatternError && err.patternIndex === 1 && err.offset === offset && reason.test(err.message),
        `${text} should fail at offset ${offset} with ${reason}`,
      );
    }
  });

  it('rejects a pattern whose automaton would be unboundedly large', () => {
    assert.throws(() => compilePatternSet([{ kind: 'regex', text: '(a{1000}){1000}', caseInsensitive: false }]), (err: unknown) => err instanceof PatternError && /too complex/.test(err.message));
  });
});

describe('matcher: multi-pattern sets', () => {
  it('reports every matching pattern of the set, across strategies', () => {
    const specs: PatternSpec[] = [
      { kind: 'exact', text: 'security', caseInsensitive: false },
      { kind: 'wildcard', text: '*/Library/Keychains/*', caseInsensitive: true },
      { kind: 'suffix', text: '.keychain-db', caseInsensitive: false },
      { kind: 'wildcard', text: '/Users/*', caseInsensitive: false },
      { kind: 'regex', text: '.*login.*', caseInsensitive: true },
      { kind: 'exact', text: 'security', caseInsensitive: false },
    ];
    const set = compilePatternSet(specs);
    assert.equal(set.words, 1);
    assert.deepEqual(hitsOf(set, '/Users/a/Library/Keychains/login.keychain-db'), [1, 2, 3, 4]);
    assert.deepEqual(hitsOf(set, 'security'), [0, 5]);
    assert.deepEqual(hitsOf(set, 'nothing'), []);
  });

  it('once one pattern needs the automaton, the literals join it and keep their case and anchoring', () => {
    const specs: PatternSpec[] = [
      { kind: 'exact', text: 'security', caseInsensitive: false },
      { kind: 'prefix', text: '/Users/', caseInsensitive: false },
      { kind: 'suffix', text: '.plist', caseInsensitive: false },
      { kind: 'contains', text: 'Keychains', caseInsensitive: false },
      { kind: 'wildcard', text: 'login.*', caseInsensitive: true },
    ];
    const set = compilePatternSet(specs);
    assert.deepEqual(set.strategies().map((s) => s.replace(/,.*/, '')), ['dfa(5 patterns']);
    assert.deepEqual(hitsOf(set, 'security'), [0]);
    assert.deepEqual(hitsOf(set, 'Security'), []);
    assert.deepEqual(hitsOf(set, 'securityx'), []);
    assert.deepEqual(hitsOf(set, '/Users/a/Keychains/b.plist'), [1, 2, 3]);
    assert.deepEqual(hitsOf(set, '/users/a/keychains/b.PLIST'), []);
    assert.deepEqual(hitsOf(set, 'LOGIN.Keychains'), [3, 4]);
    const literalOnly = compilePatternSet(specs.slice(0, 4));
    assert.deepEqual(literalOnly.strategies(), ['exact-set(1)', 'prefix(1)', 'suffix(1)', 'contains(1)']);
  });

  it('matchEachInto: each string element from an index on, nulls skipped, stopping at the first other element', () => {
    const automaton = compilePatternSet([
      { kind: 'wildcard', text: '*/Keychains/*', caseInsensitive: true },
      { kind: 'exact', text: 'dump-keychain', caseInsensitive: false },
    ]);
    const literal = compilePatternSet([
      { kind: 'suffix', text: '/Keychains/x', caseInsensitive: false },
      { kind: 'exact', text: 'dump-keychain', caseInsensitive: false },
    ]);
    for (const set of [automaton, literal]) {
      const each = (values: unknown[], from: number): [number, number[]] => {
        const hits = new Uint32Array(set.words);
        const stop = set.matchEachInto(values, from, hits);
        return [stop, [0, 1].filter((i) => ((hits[0] as number) & (1 << i)) !== 0)];
      };
      assert.deepEqual(each(['a', null, '/L/Keychains/x', undefined, 'dump-keychain'], 0), [5, [0, 1]]);
      assert.deepEqual(each(['dump-keychain', 7, '/L/Keychains/x'], 0), [1, [1]], 'a number is the caller\'s');
      assert.deepEqual(each(['dump-keychain', 7, '/L/Keychains/x'], 2), [3, [0]], 'starts at from');
      assert.deepEqual(each([['/L/Keychains/x'], 'dump-keychain'], 0), [0, []], 'a nested array is the caller\'s');
      assert.deepEqual(each([], 0), [0, []]);
      // Past the automaton's 64-string first pass: later strings and a stop beyond it.
      const long: unknown[] = Array.from({ length: 200 }, (_, i) => `/L/x${i}`);
      long[130] = '/L/Keychains/x';
      long[150] = 7;
      long[170] = 'dump-keychain';
      assert.deepEqual(each(long, 0), [150, [0]], 'a match at 130, the number at 150 stops before 170');
      assert.deepEqual(each(long, 151), [200, [1]]);
    }
  });

  it('an empty set matches nothing and round-trips', () => {
    const set = compilePatternSet([]);
    assert.equal(set.size, 0);
    assert.equal(set.words, 0);
    assert.deepEqual(set.strategies(), []);
    assert.deepEqual(hitsOf(set, 'anything'), []);
    assert.deepEqual(hitsOf(loadPatternSet(JSON.parse(JSON.stringify(set))), ''), []);
  });

  it('uses more than one hit word past 32 patterns and ORs without clearing', () => {
    const specs: PatternSpec[] = Array.from({ length: 70 }, (_, i) => ({ kind: 'wildcard', text: `*${i}*`, caseInsensitive: false }));
    const set = compilePatternSet(specs);
    assert.equal(set.words, 3);
    const hits = new Uint32Array(3);
    hits[2] = 1 << 31;
    set.matchInto('x69', hits);
    assert.equal(hits[2], ((1 << 31) | (1 << (69 - 64))) >>> 0, 'pattern 69 set, the earlier bit kept');
    assert.equal(hits[0], (1 << 6) | (1 << 9), '*6* and *9* match too');
    assert.equal(hits[1], 0);
  });
});

/** Every `regex`/`regex~` string in the fixture rules, decoded from EQL string syntax. */
function fixtureRegexes(): PatternSpec[] {
  const out: PatternSpec[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.toml')) {
        const text = fs.readFileSync(full, 'utf8');
        for (const m of text.matchAll(/\bregex(~?)\s*(?:"""([\s\S]*?)"""|"((?:[^"\\]|\\.)*)")/g)) {
          const pattern = m[2] ?? (m[3] as string).replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r' })[c] ?? c);
          if (!out.some((s) => s.text === pattern && s.caseInsensitive === (m[1] === '~'))) out.push({ kind: 'regex', text: pattern, caseInsensitive: m[1] === '~' });
        }
      }
    }
  };
  walk(path.join(FIXTURES_DIR, 'detection-rules'));
  return out;
}

describe('matcher: patterns decided early (latched) keep the other patterns exact', () => {
  it('`*` or `prefix*` beside longer patterns', () => {
    const specs: PatternSpec[] = [
      { kind: 'wildcard', text: '*', caseInsensitive: true },
      { kind: 'wildcard', text: 'ab', caseInsensitive: true },
      { kind: 'wildcard', text: 'a*', caseInsensitive: true },
      { kind: 'wildcard', text: 'a*c', caseInsensitive: true },
      { kind: 'regex', text: 'a.*|abd', caseInsensitive: true },
      { kind: 'wildcard', text: '*b*', caseInsensitive: true },
    ];
    for (const stateBudget of [undefined, 2, 3]) {
      const set = compilePatternSet(specs, { stateBudget });
      assert.deepEqual(hitsOf(set, ''), [0], `budget ${stateBudget}`);
      assert.deepEqual(hitsOf(set, 'ab'), [0, 1, 2, 4, 5], `budget ${stateBudget}`);
      assert.deepEqual(hitsOf(set, 'abc'), [0, 2, 3, 4, 5], `budget ${stateBudget}`);
      assert.deepEqual(hitsOf(set, 'xbx'), [0, 5], `budget ${stateBudget}`);
    }
  });
});

describe('matcher: character runs with loops built directly, beside Thompson-built patterns in one group', () => {
  it('loops on any set, a leading loop, the empty run, two loops in a row (Thompson), and regexes mixed in', () => {
    const specs: PatternSpec[] = [
      { kind: 'regex', text: '[a-z]*x', caseInsensitive: false }, // leading loop: the start must not loop itself
      { kind: 'regex', text: 'a[0-9]*b', caseInsensitive: false }, // loop between characters
      { kind: 'regex', text: 'a[0-9]*[a-z]*b', caseInsensitive: false }, // two loops in a row: digits, then letters
      { kind: 'exact', text: '', caseInsensitive: false }, // the empty run: the start accepts
      { kind: 'regex', text: '[0-9]*', caseInsensitive: false }, // a loop only: empty string too
      { kind: 'regex', text: '(ab)+|c', caseInsensitive: false }, // Thompson
      { kind: 'wildcard', text: '*k?y*', caseInsensitive: true }, // folded characters, `?`, leading and trailing `*`
    ];
    const cases: Array<[string, number[]]> = [
      ['', [3, 4]],
      ['x', [0]],
      ['abcx', [0]],
      ['a1x', []],
      ['ab', [1, 2, 5]],
      ['a123b', [1, 2]],
      ['a12cdb', [2]],
      ['acd1b', []],
      ['1234', [4]],
      ['abab', [2, 5]],
      ['c', [5]],
      ['\u212a.Y', [6]],
      ['xk_yz', [6]],
      ['xkyz', []],
      ['ky', []],
    ];
    for (const stateBudget of [undefined, 2, 5]) {
      const set = compilePatternSet(specs, { stateBudget });
      const loaded = loadPatternSet(JSON.parse(JSON.stringify(set)));
      for (const [value, expected] of cases) {
        assert.deepEqual(hitsOf(set, value), expected, `${JSON.stringify(value)}, budget ${stateBudget}`);
        assert.deepEqual(hitsOf(loaded, value), expected, `${JSON.stringify(value)}, loaded, budget ${stateBudget}`);
      }
    }
  });
});
