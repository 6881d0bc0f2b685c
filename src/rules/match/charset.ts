/**
 * Sets of Unicode code points as sorted, disjoint, non-adjacent inclusive ranges
 * stored flat: [lo0, hi0, lo1, hi1, ...]. Values are immutable once built.
 */
import { SIMPLE_FOLDING_CLASSES } from './case-folding-data';

export type CodePointSet = readonly number[];

export const MAX_CODE_POINT = 0x10ffff;
export const ANY_CODE_POINT: CodePointSet = [0, MAX_CODE_POINT];
export const NO_CODE_POINT: CodePointSet = [];

export function singleton(cp: number): CodePointSet {
  return [cp, cp];
}

/** Sorts and merges arbitrary (possibly overlapping) flat ranges. */
export function normalize(ranges: readonly number[]): CodePointSet {
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < ranges.length; i += 2) pairs.push([ranges[i] as number, ranges[i + 1] as number]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const last = out.length - 1;
    if (last > 0 && lo <= (out[last] as number) + 1) {
      if (hi > (out[last] as number)) out[last] = hi;
    } else {
      out.push(lo, hi);
    }
  }
  return out;
}

export function union(a: CodePointSet, b: CodePointSet): CodePointSet {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  return normalize([...a, ...b]);
}

export function complement(a: CodePointSet): CodePointSet {
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < a.length; i += 2) {
    const lo = a[i] as number;
    if (lo > next) out.push(next, lo - 1);
    next = (a[i + 1] as number) + 1;
  }
  if (next <= MAX_CODE_POINT) out.push(next, MAX_CODE_POINT);
  return out;
}

export function intersect(a: CodePointSet, b: CodePointSet): CodePointSet {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i] as number, b[j] as number);
    const hi = Math.min(a[i + 1] as number, b[j + 1] as number);
    if (lo <= hi) out.push(lo, hi);
    if ((a[i + 1] as number) < (b[j + 1] as number)) i += 2;
    else j += 2;
  }
  return out;
}

export function contains(a: CodePointSet, cp: number): boolean {
  let lo = 0;
  let hi = (a.length >> 1) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < (a[mid * 2] as number)) hi = mid - 1;
    else if (cp > (a[mid * 2 + 1] as number)) lo = mid + 1;
    else return true;
  }
  return false;
}

export function setKey(a: CodePointSet): string {
  return a.join(',');
}

/** Every code point that has case variants under simple folding, sorted, and its class. */
let foldMembers: Int32Array | undefined;
let foldClassOf: Map<number, readonly number[]> | undefined;

function foldingIndex(): { members: Int32Array; classOf: Map<number, readonly number[]> } {
  if (foldMembers === undefined || foldClassOf === undefined) {
    const classOf = new Map<number, readonly number[]>();
    for (const members of SIMPLE_FOLDING_CLASSES) for (const cp of members) classOf.set(cp, members);
    foldMembers = Int32Array.from([...classOf.keys()].sort((x, y) => x - y));
    foldClassOf = classOf;
  }
  return { members: foldMembers, classOf: foldClassOf };
}

/** The code points equal to `cp` under Unicode simple case folding (including `cp`). */
export function caseVariants(cp: number): readonly number[] {
  return foldingIndex().classOf.get(cp) ?? [cp];
}

/** Closes a set under simple case folding: adds every case variant of every member. */
export function foldClosure(a: CodePointSet): CodePointSet {
  const { members, classOf } = foldingIndex();
  const extra: number[] = [];
  for (let r = 0; r < a.length; r += 2) {
    const lo = a[r] as number;
    const hi = a[r + 1] as number;
    let i = lowerBound(members, lo);
    for (; i < members.length && (members[i] as number) <= hi; i++) {
      for (const variant of classOf.get(members[i] as number) as readonly number[]) extra.push(variant, variant);
    }
  }
  return extra.length === 0 ? a : normalize([...a, ...extra]);
}

function lowerBound(sorted: Int32Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
