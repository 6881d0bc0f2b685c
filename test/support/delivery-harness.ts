/** Real processes for the delivery and collector tests: collector and agent children, a token file, store checks. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlertReader } from '../../src/collector/store';
import { REPO_ROOT } from './paths';

export const TOKEN = 'test-token-0123456789abcdef';
const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const AGENT = path.join(REPO_ROOT, 'dist', 'test', 'support', 'delivery-agent.js');

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `keysentry-${prefix}-`));
}

export function writeTokenFile(dir: string, tokens = [`${TOKEN} test-fleet`]): string {
  const file = path.join(dir, 'tokens');
  fs.writeFileSync(file, `# test tokens\n${tokens.join('\n')}\n`, { mode: 0o600 });
  return file;
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A child process whose stdout lines can be awaited. */
export class Child {
  readonly proc: ChildProcess;
  private lines: string[] = [];
  private waiters: { test: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    this.proc.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => (w.test(line) ? (w.resolve(line), false) : true));
      }
    });
    this.proc.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  /** Resolves with the first stdout line (seen or future) that passes `test`. */
  waitFor(test: (line: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for output; stderr: ${this.stderr.slice(-2000)}`)), timeoutMs);
      this.waiters.push({
        test,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  jsonLines(): Record<string, unknown>[] {
    return this.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.alive) return;
    this.proc.kill(signal);
    await this.exited;
  }
}

export async function startCollectorProcess(opts: { port: number; db: string; tokens: string; extra?: string[] }): Promise<Child> {
  const child = new Child([CLI, 'collector', '--listen', `127.0.0.1:${opts.port}`, '--db', opts.db, '--tokens', opts.tokens, ...(opts.extra ?? [])]);
  await child.waitFor((l) => l.includes('listening on'));
  return child;
}

export interface AgentArgs {
  url: string;
  state: string;
  agentId?: string;
  count?: number;
  rate?: number;
  spoolMax?: number;
  pingMs?: number;
  exitWhenDrained?: boolean;
}

export function startAgentProcess(a: AgentArgs): Child {
  const args = [AGENT, '--url', a.url, '--token', TOKEN, '--state', a.state, '--agent-id', a.agentId ?? 'test-agent', '--count', String(a.count ?? 0)];
  if (a.rate !== undefined) args.push('--rate', String(a.rate));
  if (a.spoolMax !== undefined) args.push('--spool-max', String(a.spoolMax));
  if (a.pingMs !== undefined) args.push('--ping-ms', String(a.pingMs));
  if (a.exitWhenDrained) args.push('--exit-when-drained');
  return new Child(args);
}

export const isDrained = (l: string): boolean => l.startsWith('{"drained"');

/**
 * The sequence numbers and test indices stored for one agent, in the order they were stored.
 * Asserting both equal a range checks exactly-once (no duplicates, none missing) and order.
 */
export function storedIndices(dbFile: string, agentId = 'test-agent'): { seqs: number[]; indices: number[] } {
  const reader = new AlertReader(dbFile);
  try {
    const rows = reader.db
      .prepare<[string], { seq: number; doc: string }>('SELECT seq, doc FROM alerts WHERE agent_id = ? ORDER BY id')
      .all(agentId);
    return { seqs: rows.map((r) => r.seq), indices: rows.map((r) => (JSON.parse(r.doc) as { test: { index: number } }).test.index) };
  } finally {
    reader.close();
  }
}

export function range(from: number, toExclusive: number): number[] {
  return Array.from({ length: Math.max(0, toExclusive - from) }, (_, i) => from + i);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
