/**
 * What the native benches share to measure a real `keysentry run` (root, audit backend): the
 * agent as its own process, a steady load of real execs from a separate driver, per-thread CPU
 * from /proc, and a second audit reader counting the execs the machine ran meanwhile (the agent
 * evaluates every exec of the machine, not only the bench's).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { ExecRecord } from '../src/model/records';
import { NativeEventSource } from '../src/sources/native';
import { REPO_ROOT } from '../test/support/paths';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `count` commands at a steady `perSecond` from a separate driver process, each started on
 * time rather than after the last, so that spawning never delays this process's event loop
 * (which timestamps arrivals) and the agent sees one parent for all of them.
 */
export function steadyExecs(count: number, perSecond: number, file: string, argsPrefix: string[]): Promise<void> {
  const driver = `
    const { spawn } = require('node:child_process');
    const [count, rate, file, ...prefix] = JSON.parse(process.argv[1]);
    const t0 = Date.now(); let started = 0, exited = 0;
    const next = () => {
      while (started < count && Date.now() >= t0 + (started * 1000) / rate) {
        const c = spawn(file, [...prefix, String(started++)], { stdio: 'ignore' });
        c.once('exit', () => { if (++exited === count) process.exit(0); });
      }
      if (started < count) setTimeout(next, Math.max(0, t0 + (started * 1000) / rate - Date.now()));
    };
    next();`;
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['-e', driver, JSON.stringify([count, perSecond, file, ...argsPrefix])], { stdio: 'ignore' });
    c.once('exit', () => resolve());
  });
}

export interface AgentProcess {
  child: ChildProcess;
  pid: number;
  /** What the agent wrote on stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * `keysentry run --source audit` on the bundled default rule, once it says it is ready. `addon`:
 * a build of the addon to load instead (KEYSENTRY_NATIVE_ADDON); `onAlerts`: gets its stdout
 * (alert lines) as it comes, which is discarded otherwise.
 */
export async function startKeysentryRun(options: { addon?: string; onAlerts?: (chunk: Buffer) => void } = {}): Promise<AgentProcess> {
  const { addon, onAlerts } = options;
  const env = addon === undefined ? process.env : { ...process.env, KEYSENTRY_NATIVE_ADDON: addon };
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'keysentry'), 'run', '--source', 'audit', '--rules', path.join(REPO_ROOT, 'rules', 'default')], {
    stdio: ['ignore', onAlerts === undefined ? 'ignore' : 'pipe', 'pipe'],
    env,
  });
  if (onAlerts !== undefined) child.stdout?.on('data', onAlerts);
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const deadline = Date.now() + 15_000;
  while (!/ready/.test(err)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`agent did not start: ${err}`);
    await sleep(20);
  }
  return {
    child,
    pid: child.pid as number,
    stderr: () => err,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/**
 * A second reader of the machine's execs in this process (audit, or the process connector, whose
 * records carry the kernel's exact exec time): counts them, and shows each to `onExec` as it arrives.
 */
export function machineExecs(onExec?: (record: ExecRecord) => void, backend: 'audit' | 'connector' = 'audit'): { count: () => number; stop: () => Promise<void> } {
  let execs = 0;
  const reader = new NativeEventSource({ backend });
  const reading = (async () => {
    for await (const batch of reader.batches()) {
      for (const item of batch) {
        if (item.kind !== 'record' || item.record.kind !== 'exec') continue;
        execs++;
        onExec?.(item.record);
      }
    }
  })();
  return {
    count: () => execs,
    stop: async () => {
      await reader.stop();
      await reading;
    },
  };
}
