/**
 * `npm run bench`: runs every bench/*.bench.js module in one process, one after another,
 * and prints each figure next to its same-run baseline as a ratio.
 * A module exports `run(): Promise<BenchResult[]>`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchResult } from './harness';

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.js'))
    .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
    .sort();
  const all: BenchResult[] = [];
  for (const file of files) {
    const mod = require(path.join(__dirname, file)) as { run(): Promise<BenchResult[]> };
    process.stderr.write(`# ${file}\n`);
    const results = await mod.run();
    for (const r of results) {
      all.push(r);
      process.stdout.write(formatResult(r) + '\n');
    }
  }
  if (process.env.BENCH_JSON) fs.writeFileSync(process.env.BENCH_JSON, JSON.stringify(all, null, 2));
}

function formatResult(r: BenchResult): string {
  const target = r.target ? `  target ${r.target}` : '';
  return `${r.name.padEnd(56)} ${fmt(r.value).padStart(14)} ${r.unit}${baselineText(r)}${target}`;
}

function baselineText(r: BenchResult): string {
  if (r.baseline === undefined) return '';
  // A baseline of 0 (an idle figure below what could be measured) gives no meaningful ratio.
  const ratio = r.baseline.value === 0 ? 'no ratio' : `ratio ${(r.value / r.baseline.value).toFixed(2)}`;
  return `  ${ratio} vs ${r.baseline.name} (${fmt(r.baseline.value)} ${r.unit})`;
}

function fmt(v: number): string {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
