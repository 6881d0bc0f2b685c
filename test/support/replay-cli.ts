/** Runs the real `keysentry replay` CLI as a child process and collects its output. */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './paths';

export interface ReplayRun {
  status: number | null;
  /** stdout, one parsed JSON document per line. */
  docs: Array<Record<string, any>>;
  stderr: string;
}

export function runKeysentry(args: string[], stdin?: string | Buffer): Promise<ReplayRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'keysentry'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status) => {
      const text = Buffer.concat(out).toString('utf8');
      const docs = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, any>);
      resolve({ status, docs, stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

/** A scratch directory removed after the test run. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeLines(dir: string, name: string, lines: readonly (string | Buffer)[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat(lines.map((l) => Buffer.concat([Buffer.isBuffer(l) ? l : Buffer.from(l), Buffer.from('\n')]))));
  return file;
}

/** Elastic's stock keychain rule alone, as bundled in rules/default: tests that count alerts pin it. */
export const DEFAULT_RULES = path.join(REPO_ROOT, 'rules', 'default', 'credential_access_credentials_keychains.toml');
export const DEFAULT_RULE_ID = '96e90768-c3b7-4df6-b5d9-6237f8bc36a8';

export const alertsOf = (run: ReplayRun): Array<Record<string, any>> => run.docs.filter((d) => d.event?.kind === 'alert');
export const eventsOf = (run: ReplayRun): Array<Record<string, any>> => run.docs.filter((d) => d.event?.kind === 'event');
