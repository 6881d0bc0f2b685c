/** A `keysentry run` / `keysentry record` child process, and the real commands the live tests run. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './paths';

export interface CliChild {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stderr contains `pattern`. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends SIGTERM and resolves with the exit status. */
  stop(): Promise<number | null>;
}

export function startCli(args: string[]): CliChild {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'keysentry'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stderr = (): string => Buffer.concat(err).toString('utf8');
  return {
    child,
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr,
    async waitForStderr(pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(stderr())) {
        if (child.exitCode !== null) throw new Error(`keysentry ${args[0]} exited ${child.exitCode}: ${stderr()}`);
        if (Date.now() > deadline) throw new Error(`no ${pattern} on stderr within ${timeoutMs} ms: ${stderr()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs a command to completion; resolves with its pid. */
export function runCommand(file: string, args: string[], options: { argv0?: string; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'ignore', ...options });
    child.once('error', reject);
    child.once('exit', () => resolve(child.pid as number));
  });
}

/** A real executable named `security` (a copy of true(1)) in `dir`. */
export function fakeSecurity(dir: string): string {
  const file = path.join(dir, 'security');
  fs.copyFileSync('/bin/true', file);
  fs.chmodSync(file, 0o755);
  return file;
}

export function parseJsonLines(text: string): Array<Record<string, any>> {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, any>);
}
