/** Shared measuring helpers for bench/*.bench.ts. */

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** The same-run figure this one is judged against. */
  baseline?: { name: string; value: number };
  /** The issue's target, as text ("≥ 3,000,000 events/s"). */
  target?: string;
}

/** Runs `fn` repeatedly for at least `minMs`, after a warm-up; returns operations per second. */
export function opsPerSecond(fn: () => number, minMs = 1000): number {
  fn();
  let ops = 0;
  const start = process.hrtime.bigint();
  let elapsedNs = 0n;
  while (elapsedNs < BigInt(minMs) * 1_000_000n) {
    ops += fn();
    elapsedNs = process.hrtime.bigint() - start;
  }
  return (ops * 1e9) / Number(elapsedNs);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}
