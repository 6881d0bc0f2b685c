import * as assert from 'node:assert/strict';
import { SIMPLE_FOLDING_CLASSES, SIMPLE_FOLDING_UNICODE_VERSION } from '../src/rules/match/case-folding-data';
import { deriveSimpleFoldingClasses } from '../src/rules/match/case-folding-derive';

describe('matcher: the embedded simple case folding table', () => {
  it('equals the classes derived from this engine\'s /iu matching (CaseFolding.txt C+S)', function () {
    if (process.versions.unicode !== SIMPLE_FOLDING_UNICODE_VERSION) {
      // A different Unicode version legitimately differs: regenerate the table for it.
      this.skip();
    }
    assert.deepEqual(deriveSimpleFoldingClasses(), SIMPLE_FOLDING_CLASSES.map((c) => [...c]));
  });

  it('holds the cases the simple folding definition singles out', () => {
    const classOf = (cp: number): readonly number[] | undefined => SIMPLE_FOLDING_CLASSES.find((c) => c.includes(cp));
    assert.deepEqual(classOf(0x212a), [0x4b, 0x6b, 0x212a], 'Kelvin sign');
    assert.deepEqual(classOf(0x17f), [0x53, 0x73, 0x17f], 'long s');
    assert.deepEqual(classOf(0xdf), [0xdf, 0x1e9e], 'sharp s only with capital sharp s (S mapping), never ss');
    assert.deepEqual(classOf(0x3c2), [0x3a3, 0x3c2, 0x3c3], 'final sigma');
    assert.deepEqual(classOf(0x1c5), [0x1c4, 0x1c5, 0x1c6], 'title-case digraph');
    assert.deepEqual(classOf(0x10400), [0x10400, 0x10428], 'astral Deseret');
    assert.deepEqual(classOf(0x13a0), [0x13a0, 0xab70], 'Cherokee folds to upper case');
    assert.deepEqual(classOf(0x49), [0x49, 0x69], 'I/i without the Turkish dotless/dotted forms (T mappings)');
    assert.equal(classOf(0x130), undefined, 'dotted capital I has only F/T foldings');
    assert.equal(classOf(0x131), undefined, 'dotless i folds to nothing under C+S');
    const members = SIMPLE_FOLDING_CLASSES.reduce((n, c) => n + c.length, 0);
    assert.ok(SIMPLE_FOLDING_CLASSES.length > 1400 && members - SIMPLE_FOLDING_CLASSES.length > 1400, 'about 1,500 C+S mappings');
  });
});
