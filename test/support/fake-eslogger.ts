/**
 * A fake `eslogger` for the eslogger child-process source tests: an executable of that name,
 * placed first on PATH, that prints real eslogger lines (../shared/fixtures/eslogger).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EsloggerLiveOptions } from '../../src/sources/eslogger-live';
import type { EventSource, SourceItem } from '../../src/sources/types';
import { FIXTURES_DIR } from './paths';

export const ESLOGGER_FIXTURES = ['v9-macos15-exec.json', 'v10-macos26-fork.json', 'v11-macos27beta-exec.json', 'v9-macos15-exit.json'];

export function fixtureLines(): string[] {
  return ESLOGGER_FIXTURES.map((f) => fs.readFileSync(path.join(FIXTURES_DIR, 'eslogger', f), 'utf8').trim());
}

/**
 * A directory holding an executable named `eslogger` that records its arguments, prints the
 * file $FAKE_ESLOGGER_LINES, says something on stderr, then exits with $FAKE_ESLOGGER_EXIT or
 * (when unset) waits forever as the same process.
 */
export function fakeEsloggerDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keysentry-fake-eslogger-'));
  const script = [
    '#!/bin/sh',
    'printf "%s\\n" "$*" >> "$FAKE_ESLOGGER_ARGS"',
    'cat "$FAKE_ESLOGGER_LINES"',
    'echo "fake eslogger: done printing" >&2',
    'if [ -n "$FAKE_ESLOGGER_EXIT" ]; then exit "$FAKE_ESLOGGER_EXIT"; fi',
    'exec sleep 1000',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'eslogger'), script + '\n', { mode: 0o755 });
  return dir;
}

export interface FakeRun {
  options: EsloggerLiveOptions;
  argsFile: string;
  warnings: string[];
}

export function fakeRun(dir: string, lines: string | Buffer, extraEnv: NodeJS.ProcessEnv = {}): FakeRun {
  const linesFile = path.join(dir, `lines-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(linesFile, lines);
  const argsFile = `${linesFile}.args`;
  const warnings: string[] = [];
  return {
    argsFile,
    warnings,
    options: {
      command: 'eslogger',
      env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}`, FAKE_ESLOGGER_LINES: linesFile, FAKE_ESLOGGER_ARGS: argsFile, ...extraEnv },
      restartDelayMs: 20,
      maxRestartDelayMs: 80,
      log: { info: () => undefined, warn: (m) => warnings.push(m) },
    },
  };
}

/** Collects items until `done` says so; leaving the loop stops the source. */
export async function collect(source: EventSource, done: (items: SourceItem[]) => boolean): Promise<SourceItem[]> {
  const items: SourceItem[] = [];
  for await (const batch of source.batches()) {
    items.push(...batch);
    if (done(items)) break;
  }
  return items;
}
