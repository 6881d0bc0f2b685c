import * as assert from 'node:assert/strict';
import { PatternSetFormatError, type PatternSpec, type SerializedPatternSet, compilePatternSet, loadPatternSet } from '../src/rules/match';
import { hitsOf } from './support/match';

const SPECS: PatternSpec[] = [
  { kind: 'wildcard', text: '/Users/*/Library/Keychains/*', caseInsensitive: true },
  { kind: 'exact', text: 'security', caseInsensitive: false },
  { kind: 'regex', text: '[24][0-9]{3}', caseInsensitive: false },
  { kind: 'suffix', text: '.keychain-db', caseInsensitive: false },
  { kind: 'contains', text: 'dump', caseInsensitive: true },
];
const VALUES = ['/Users/a/Library/Keychains/login.keychain-db', '/users/A/library/\u212aeychains/x', 'security', '4755', 'dump-keychain', 'nothing', ''];

function roundTrip(stateBudget?: number): SerializedPatternSet {
  return JSON.parse(JSON.stringify(compilePatternSet(SPECS, { stateBudget }).toJSON())) as SerializedPatternSet;
}

/** Replaces one little-endian int32 of a base64 table. */
function patchInt32(b64: string, index: number, value: number): string {
  const bytes = Buffer.from(b64, 'base64');
  bytes.writeInt32LE(value, index * 4);
  return bytes.toString('base64');
}

describe('matcher: toJSON / loadPatternSet', () => {
  it('round-trips to a set with the same answers and strategies, full DFA or cut by the budget', () => {
    for (const stateBudget of [undefined, 3]) {
      const original = compilePatternSet(SPECS, { stateBudget });
      const loaded = loadPatternSet(JSON.parse(JSON.stringify(original)));
      assert.deepEqual(loaded.strategies(), original.strategies());
      assert.equal(loaded.size, SPECS.length);
      for (const v of VALUES) assert.deepEqual(hitsOf(loaded, v), hitsOf(original, v), v);
      assert.deepEqual(loaded.toJSON(), original.toJSON());
    }
    assert.deepEqual(hitsOf(loadPatternSet(roundTrip()), VALUES[0] as string), [0, 3]);
  });

  it('round-trips a set without an automaton', () => {
    const set = compilePatternSet([{ kind: 'exact', text: 'a', caseInsensitive: false }]);
    const json = JSON.parse(JSON.stringify(set)) as SerializedPatternSet;
    assert.equal(json.automaton, null);
    assert.deepEqual(hitsOf(loadPatternSet(json), 'a'), [0]);
  });

  it('rejects garbage and damaged data with what is wrong', () => {
    const damaged: Array<[string, (j: SerializedPatternSet) => unknown, RegExp]> = [
      ['not an object', () => 'nope', /not an object/],
      ['null', () => null, /not an object/],
      ['wrong format', (j) => ({ ...j, format: 'other' }), /format must be/],
      ['future version', (j) => ({ ...j, version: 3 }), /unsupported version 3/],
      ['bad budget', (j) => ({ ...j, stateBudget: -1 }), /stateBudget/],
      ['specs not an array', (j) => ({ ...j, specs: {} }), /specs must be an array/],
      ['unknown kind', (j) => ({ ...j, specs: [{ ...j.specs[0], kind: 'glob' }, ...j.specs.slice(1)] }), /unknown pattern kind/],
      ['automaton dropped', (j) => ({ ...j, automaton: null }), /automaton missing/],
      ['automaton for literal-only specs', (j) => ({ ...j, specs: [{ kind: 'exact', text: 'x', caseInsensitive: false }] }), /automaton must be null/],
      ['spec count changed', (j) => ({ ...j, specs: [...j.specs, { kind: 'regex', text: 'a', caseInsensitive: false }] }), /patternCount/],
      ['not base64', (j) => ({ ...j, automaton: { ...j.automaton, pages: '%%%' } }), /pages must be a base64 string/],
      ['torn table', (j) => ({ ...j, automaton: { ...j.automaton, nfaEdgeTarget: Buffer.from([1, 2, 3]).toString('base64') } }), /not a whole number of elements/],
      ['edge out of range', (j) => ({ ...j, automaton: { ...j.automaton, nfaEdgeTarget: patchInt32(j.automaton!.nfaEdgeTarget, 0, 9999) } }), /nfaEdgeTarget\[0\] = 9999 is outside/],
      ['edge offsets decrease', (j) => ({ ...j, automaton: { ...j.automaton, nfaEdgeStart: patchInt32(j.automaton!.nfaEdgeStart, 1, 1 << 20) } }), /nfaEdgeStart decreases|must run from/],
      ['accepts a pattern that does not exist', (j) => ({ ...j, automaton: { ...j.automaton, nfaAcceptIds: patchInt32(j.automaton!.nfaAcceptIds, 0, -5) } }), /nfaAcceptIds\[0\] = -5 is outside/],
      ['accepts a pattern past the specs', (j) => ({ ...j, automaton: { ...j.automaton, nfaAcceptIds: patchInt32(j.automaton!.nfaAcceptIds, 0, j.specs.length) } }), /nfaAcceptIds\[0\] = \d+ is outside/],
      ['class count lies', (j) => ({ ...j, automaton: { ...j.automaton, classCount: 1 } }), /outside 0\.\.0|bitset/],
    ];
    for (const [name, damage, reason] of damaged) {
      assert.throws(
        () => loadPatternSet(damage(roundTrip())),
        (err: unknown) => err instanceof Error && (err instanceof PatternSetFormatError || err.name === 'PatternError') && reason.test(err.message),
        name,
      );
    }
  });
});
