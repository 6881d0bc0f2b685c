/**
 * The eslogger child-process source (src/sources/eslogger-live.ts) end to end — a child
 * printing eslogger lines, the pipe, the bounded line reader, JSON parsing — against the
 * same-run baseline of parsing the same lines in-process with the eslogger reader alone.
 * The ratio is the share of the reader's throughput the live source keeps.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseEsloggerLine } from '../src/sources/eslogger';
import { EsloggerLiveSource } from '../src/sources/eslogger-live';
import { FIXTURES_DIR } from '../test/support/paths';
import type { BenchResult } from './harness';

const MESSAGES = 20_000;

function benchLines(): string[] {
  const files = ['v9-macos15-exec.json', 'v10-macos26-fork.json', 'v11-macos27beta-exec.json', 'v9-macos15-exit.json'];
  const fixtures = files.map((f) => fs.readFileSync(path.join(FIXTURES_DIR, 'eslogger', f), 'utf8').trim());
  return Array.from({ length: MESSAGES }, (_, i) =>
    (fixtures[i % fixtures.length] as string).replace(/"global_seq_num":\s*\d+/, `"global_seq_num":${i + 1}`),
  );
}

function parseOnly(lines: string[]): number {
  const start = process.hrtime.bigint();
  let records = 0;
  for (let i = 0; i < lines.length; i++) if (parseEsloggerLine(lines[i] as string, String(i)).kind === 'record') records++;
  if (records !== lines.length) throw new Error(`parsed ${records} of ${lines.length}`);
  return (lines.length * 1e9) / Number(process.hrtime.bigint() - start);
}

async function throughChild(dir: string, linesFile: string, count: number): Promise<number> {
  const fake = path.join(dir, 'eslogger');
  fs.writeFileSync(fake, `#!/bin/sh\nexec cat "${linesFile}"\n`, { mode: 0o755 });
  const source = new EsloggerLiveSource({ command: fake, restartDelayMs: 60_000, log: { info: () => undefined, warn: () => undefined } });
  const start = process.hrtime.bigint();
  let records = 0;
  for await (const batch of source.batches()) {
    records += batch.length;
    if (records >= count) break;
  }
  if (source.stats().rejected !== 0) throw new Error(`${source.stats().rejected} lines rejected`);
  return (records * 1e9) / Number(process.hrtime.bigint() - start);
}

export async function run(): Promise<BenchResult[]> {
  const lines = benchLines();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keysentry-bench-eslogger-'));
  try {
    const linesFile = path.join(dir, 'lines.jsonl');
    fs.writeFileSync(linesFile, lines.join('\n') + '\n');
    parseOnly(lines.slice(0, 2000));
    const baseline = parseOnly(lines);
    const live = await throughChild(dir, linesFile, lines.length);
    return [
      {
        name: `macos: eslogger child source, ${MESSAGES} messages`,
        value: live,
        unit: 'messages/s',
        baseline: { name: 'parseEsloggerLine in-process', value: baseline },
      },
    ];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
