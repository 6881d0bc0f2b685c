import { type PatternSet, type PatternSpec, compilePatternSet } from '../../src/rules/match';

/** Indices of the patterns of `set` that match `value`. */
export function hitsOf(set: PatternSet, value: string): number[] {
  const hits = new Uint32Array(set.words);
  set.matchInto(value, hits);
  const out: number[] = [];
  for (let i = 0; i < set.size; i++) if ((hits[i >>> 5] as number) & (1 << (i & 31))) out.push(i);
  return out;
}

/** Whether the single pattern matches the value. */
export function matches(kind: PatternSpec['kind'], text: string, value: string, caseInsensitive = false): boolean {
  return hitsOf(compilePatternSet([{ kind, text, caseInsensitive }]), value).length === 1;
}

/** A tiny deterministic PRNG (mulberry32), so a failing random case can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
