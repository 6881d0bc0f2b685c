/**
 * The equivalence-class alphabet of one automaton: code points that no transition distinguishes
 * share a class, so the transition table has one column per class instead of one per character.
 * BMP code units map through a two-level table (256 deduplicated pages of 256 entries);
 * astral code points, rare in event strings, by binary search.
 */
import { type CodePointSet, setKey } from './charset';

export interface AlphabetTables {
  readonly classCount: number;
  /** Page number for each high byte of a BMP code unit. */
  readonly pageIndex: Uint16Array;
  /** Concatenated 256-entry pages of class ids. */
  readonly pages: Uint16Array;
  /** Starts of the class intervals at or above U+10000 (the first is 0x10000), ascending. */
  readonly astralStarts: Int32Array;
  readonly astralClasses: Uint16Array;
}

export const MAX_CLASSES = 0xffff;

/**
 * Partitions the code points by the sets that contain them. Returns the tables, and for each of `sets` the index of
 * its distinct set in `classesOfDistinct` (the classes that set reads, ascending).
 */
export function buildAlphabet(sets: readonly CodePointSet[]): { tables: AlphabetTables; distinctOf: Int32Array; classesOfDistinct: number[][] } {
  // Many edges read the same set (every `*` reads all code points): partition by the distinct ones. Most edges
  // share their set object with others (one per character and flag), so identity decides before the text key.
  const byIdentity = new Map<CodePointSet, number>();
  const distinctIndex = new Map<string, number>();
  const distinct: CodePointSet[] = [];
  const distinctOf = new Int32Array(sets.length);
  for (let e = 0; e < sets.length; e++) {
    const set = sets[e] as CodePointSet;
    let i = byIdentity.get(set);
    if (i === undefined) {
      const key = setKey(set);
      i = distinctIndex.get(key);
      if (i === undefined) {
        i = distinct.length;
        distinctIndex.set(key, i);
        distinct.push(set);
      }
      byIdentity.set(set, i);
    }
    distinctOf[e] = i;
  }
  const { tables, classesOfSet } = partition(distinct);
  return { tables, distinctOf, classesOfDistinct: classesOfSet };
}

function partition(sets: readonly CodePointSet[]): { tables: AlphabetTables; classesOfSet: number[][] } {
  const cuts = new Set<number>([0, 0x10000]);
  for (const set of sets) {
    for (let i = 0; i < set.length; i += 2) {
      cuts.add(set[i] as number);
      const after = (set[i + 1] as number) + 1;
      if (after <= 0x10ffff) cuts.add(after);
    }
  }
  const starts = Int32Array.from([...cuts].sort((a, b) => a - b));
  const signatures: number[][] = Array.from({ length: starts.length }, () => []);
  sets.forEach((set, j) => {
    for (let i = 0; i < set.length; i += 2) {
      const hi = set[i + 1] as number;
      for (let k = intervalOf(starts, set[i] as number); k < starts.length && (starts[k] as number) <= hi; k++) (signatures[k] as number[]).push(j);
    }
  });
  const classOfSignature = new Map<string, number>();
  const intervalClass = new Uint16Array(starts.length);
  signatures.forEach((sig, k) => {
    const key = sig.join(',');
    let cls = classOfSignature.get(key);
    if (cls === undefined) {
      cls = classOfSignature.size;
      if (cls >= MAX_CLASSES) throw new Error(`automaton alphabet needs more than ${MAX_CLASSES} character classes`);
      classOfSignature.set(key, cls);
    }
    intervalClass[k] = cls;
  });
  const classesOfSet: number[][] = sets.map(() => []);
  signatures.forEach((sig, k) => {
    for (const j of sig) (classesOfSet[j] as number[]).push(intervalClass[k] as number);
  });
  for (let j = 0; j < classesOfSet.length; j++) classesOfSet[j] = [...new Set(classesOfSet[j])].sort((a, b) => a - b);

  const bmp = new Uint16Array(0x10000);
  for (let k = 0; k < starts.length && (starts[k] as number) < 0x10000; k++) {
    const end = k + 1 < starts.length ? Math.min(starts[k + 1] as number, 0x10000) : 0x10000;
    bmp.fill(intervalClass[k] as number, starts[k] as number, end);
  }
  const pageIndex = new Uint16Array(256);
  const pageList: Uint16Array[] = [];
  // Most pages lie inside one interval: those are told apart by that interval's class, without comparing 256 entries.
  const uniformPageOfClass = new Map<number, number>();
  const mixedPages: number[] = [];
  for (let hiByte = 0, k = 0; hiByte < 256; hiByte++) {
    const first = hiByte << 8;
    while (k + 1 < starts.length && (starts[k + 1] as number) <= first) k++;
    const uniform = k + 1 >= starts.length || (starts[k + 1] as number) > first + 255;
    const page = bmp.subarray(first, first + 256);
    let idx = uniform ? uniformPageOfClass.get(intervalClass[k] as number) : mixedPages.find((i) => samePage(pageList[i] as Uint16Array, page));
    if (idx === undefined) {
      idx = pageList.length;
      pageList.push(page);
      if (uniform) uniformPageOfClass.set(intervalClass[k] as number, idx);
      else mixedPages.push(idx);
    }
    pageIndex[hiByte] = idx;
  }
  const pages = new Uint16Array(pageList.length * 256);
  pageList.forEach((page, i) => pages.set(page, i * 256));

  const firstAstral = intervalOf(starts, 0x10000);
  return {
    tables: {
      classCount: classOfSignature.size,
      pageIndex,
      pages,
      astralStarts: starts.slice(firstAstral),
      astralClasses: intervalClass.slice(firstAstral),
    },
    classesOfSet,
  };
}

function samePage(a: Uint16Array, b: Uint16Array): boolean {
  for (let i = 0; i < 256; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Index of the interval containing cp (the last start <= cp). */
function intervalOf(starts: Int32Array, cp: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] as number) <= cp) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function astralClass(tables: AlphabetTables, cp: number): number {
  return tables.astralClasses[intervalOf(tables.astralStarts, cp)] as number;
}
