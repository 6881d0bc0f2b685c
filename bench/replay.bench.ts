/**
 * Replay throughput per format (the whole pipeline: line split, checks, parse, process
 * table, ECS event, default rules, alerts to a null sink) against JSON.parse of the same
 * lines in the same run; and peak RSS of `keysentry replay -` streaming 160 MB through stdin
 * against the same command on a quarter of that.
 *
 * `npm run build && node dist/bench/run.js replay` (BENCH_REPLAY_MB sets the streamed size).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runPipeline } from '../src/cli/pipeline';
import type { EcsDocument } from '../src/model/ecs';
import type { SourceRecord } from '../src/model/records';
import { ProcessTable } from '../src/process/table';
import { loadDefaultRuleSet } from '../src/rules';
import type { CompiledRuleSet } from '../src/rules/types';
import { parseEsloggerLine } from '../src/sources/eslogger';
import { RECORDING_FORMAT, RECORDING_VERSION } from '../src/sources/recording';
import { ReplaySource } from '../src/sources/replay';
import { keychainScenarioLines } from '../test/support/keychain-scenario';
import { FIXTURES_DIR, REPO_ROOT } from '../test/support/paths';
import type { BenchResult } from './harness';

const CHUNK = 64 * 1024;
const agent = { name: 'keysentry', version: 'bench', id: 'bench' };

function chunks(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += CHUNK) out.push(buf.subarray(i, i + CHUNK));
  return out;
}

/** Real eslogger lines (about 4 KB each) and the scenario's, pids shifted per round so the table grows and shrinks. */
function esloggerCorpus(rounds: number): string[] {
  const dir = path.join(FIXTURES_DIR, 'eslogger');
  const real = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => fs.readFileSync(path.join(dir, f), 'utf8').trimEnd());
  const base = [...real, ...keychainScenarioLines()];
  const lines: string[] = [];
  for (let r = 0; r < rounds; r++) {
    const shift = r * 1000;
    for (const l of base) lines.push(l.replace(/"pid":(\d+)/g, (_m, p: string) => `"pid":${Number(p) + shift}`));
  }
  return lines;
}

/**
 * CPU time of this process in ns. The machine is shared (other builds and tests run beside
 * the bench), so rates are per CPU-second, not per wall-second: background load then
 * stretches neither side of a ratio.
 */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** One pass of the whole pipeline over the lines; events per CPU-second. */
async function replayRate(input: Buffer[], rules: CompiledRuleSet): Promise<number> {
  const started = cpuNs();
  const source = new ReplaySource({ input, label: 'bench', format: 'auto' });
  await runPipeline({
    source,
    table: new ProcessTable({ hostId: 'bench' }),
    host: { osType: 'macos' },
    agent,
    rules,
    sinks: [{ write: () => undefined }],
  });
  // Every line is one event (exec, fork or exit message, or ECS document), as for JSON.parse.
  const read = source.stats();
  return ((read.records + read.ecs + read.rejected) * 1e9) / (cpuNs() - started);
}

function jsonParseRate(lines: string[]): number {
  const started = cpuNs();
  let n = 0;
  for (const l of lines) if (JSON.parse(l) !== null) n++;
  return (n * 1e9) / (cpuNs() - started);
}

/**
 * Alternates baseline and replay passes and keeps each one's best: the machine is shared,
 * and interleaving exposes both to the same background load.
 */
async function measure(lines: string[], rules: CompiledRuleSet, rounds = 5): Promise<{ replay: number; baseline: number }> {
  const input = chunks(Buffer.from(lines.join('\n') + '\n'));
  let replay = 0;
  let baseline = 0;
  for (let i = 0; i < rounds; i++) {
    baseline = Math.max(baseline, jsonParseRate(lines));
    replay = Math.max(replay, await replayRate(input, rules));
  }
  return { replay, baseline };
}

async function collect(lines: string[], rules: CompiledRuleSet): Promise<{ ecs: string[]; recording: string[] }> {
  const ecs: string[] = [];
  const records: SourceRecord[] = [];
  for (const l of lines) {
    const item = parseEsloggerLine(l, 'x');
    if (item.kind === 'record') records.push(item.record);
  }
  await runPipeline({
    source: new ReplaySource({ input: [Buffer.from(lines.join('\n'))], label: 'x', format: 'eslogger' }),
    table: new ProcessTable({ hostId: 'bench' }),
    host: { osType: 'macos' },
    agent,
    rules,
    sinks: [],
    onEvent: (doc: EcsDocument) => void ecs.push(JSON.stringify(doc)),
  });
  const header = JSON.stringify({ format: RECORDING_FORMAT, version: RECORDING_VERSION, host: { osType: 'macos' }, source: 'bench', startedAt: 'x' });
  const recording = [header, ...records.map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))];
  return { ecs, recording };
}

/** Peak RSS (bytes) of `keysentry replay -` while `totalBytes` of eslogger lines stream through its stdin. */
function peakRss(corpus: Buffer, totalBytes: number): Promise<{ peak: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'keysentry'), 'replay', '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
    let peak = 0;
    const sample = (): void => {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m !== null) peak = Math.max(peak, Number(m[1]) * 1024);
      } catch {
        // the child has exited
      }
    };
    const timer = setInterval(sample, 50);
    const started = process.hrtime.bigint();
    let sent = 0;
    const pump = (): void => {
      while (sent < totalBytes) {
        sent += corpus.length;
        if (!child.stdin.write(corpus)) {
          child.stdin.once('drain', pump);
          return;
        }
      }
      child.stdin.end();
    };
    child.on('error', reject);
    child.stdin.on('error', () => undefined); // reported through the exit status below
    child.on('close', (status) => {
      clearInterval(timer);
      if (status !== 0) reject(new Error(`keysentry replay - exited with ${status}`));
      else resolve({ peak, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
    });
    pump();
  });
}

export async function run(): Promise<BenchResult[]> {
  const rules = loadDefaultRuleSet({ withPack: false });
  const eslogger = esloggerCorpus(200);
  const collected = await collect(eslogger, rules);
  // Only execs become ECS documents: three copies make a pass as long as the others.
  const ecs = [...collected.ecs, ...collected.ecs, ...collected.ecs];
  const recording = collected.recording;
  const results: BenchResult[] = [];
  const formats: Array<{ name: string; lines: string[]; target?: string }> = [
    { name: 'eslogger', lines: eslogger, target: '≥ 0.5 × JSON.parse' },
    { name: 'ecs', lines: ecs, target: '≥ 0.5 × JSON.parse' },
    { name: 'keysentry', lines: recording },
  ];
  for (const f of formats) {
    const { replay, baseline } = await measure(f.lines, rules);
    results.push({
      name: `replay ${f.name} (${f.lines.length} lines, full pipeline)`,
      value: replay,
      unit: 'events/CPU-s',
      baseline: { name: 'JSON.parse of the same lines', value: baseline },
      ...(f.target === undefined ? {} : { target: f.target }),
    });
  }

  // Bounded memory: peak RSS must not grow with the input. The baseline streams a quarter as much.
  const streamMb = Number(process.env.BENCH_REPLAY_MB ?? 160);
  const corpus = Buffer.from(eslogger.join('\n') + '\n');
  const quarter = await peakRss(corpus, (streamMb / 4) * 1024 * 1024);
  const full = await peakRss(corpus, streamMb * 1024 * 1024);
  results.push({
    name: `replay - peak RSS, ${streamMb} MB of eslogger via stdin (${(streamMb / full.seconds).toFixed(0)} MB/s)`,
    value: full.peak / (1024 * 1024),
    unit: 'MiB',
    baseline: { name: `peak RSS on ${streamMb / 4} MB`, value: quarter.peak / (1024 * 1024) },
    target: 'ratio ≈ 1 (memory does not grow with the input)',
  });
  return results;
}
