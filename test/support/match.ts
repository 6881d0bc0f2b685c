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
