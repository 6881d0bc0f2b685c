/**
 * The agent fleet for bench/delivery.bench.ts, in its own process as agents are in the field
 * (the collector's blocking commits must not stall them). Args: DIR AGENTS COUNT [RATE].
 * Without RATE it pre-fills one spool per agent with COUNT alerts; it prints "ready", then on
 * a stdin line "<url> <token>" starts every agent's reporter. With RATE, each agent then
 * writes COUNT alerts at RATE per second, stamped with the wall-clock time of write() in
 * bench.sent_at. It prints "done" when all are acknowledged and the reporters closed.
 */
import * as path from 'node:path';
import type { AlertDocument } from '../src/alerts/types';
import { Reporter } from '../src/delivery/reporter';
import { Spool } from '../src/delivery/spool';

/** performance.now() on the wall clock, comparable across processes on one machine. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

export function benchAlert(agent: number, index: number): AlertDocument {
  return {
    '@timestamp': new Date().toISOString(),
    event: { kind: 'alert', category: ['process'], type: ['start'], action: 'exec' },
    rule: { id: '96e90768-c3b7-4df6-b5d9-6237f8bc36a8', name: 'Access to Keychain Credentials Directories', severity: 'high', risk_score: 73 },
    host: { hostname: `mac-${agent}`, os: { type: 'macos' } },
    agent: { id: `agent-${agent}`, name: 'keysentry', version: 'bench' },
    process: {
      pid: 1000 + index,
      executable: '/usr/bin/security',
      name: 'security',
      args: ['security', 'dump-keychain', '-d', '/Users/alice/Library/Keychains/login.keychain-db'],
      command_line: 'security dump-keychain -d /Users/alice/Library/Keychains/login.keychain-db',
      parent: { pid: 900, executable: '/bin/zsh', name: 'zsh' },
    },
    bench: { index },
  };
}

async function main(): Promise<void> {
  const [base, agentsArg, countArg, rateArg] = process.argv.slice(2) as [string, string, string, string | undefined];
  const agents = Number(agentsArg);
  const count = Number(countArg);
  const rate = Number(rateArg ?? 0);
  const dirs = Array.from({ length: agents }, (_, i) => path.join(base, `agent-${i}`));
  for (let a = 0; a < agents && rate === 0; a++) {
    const spool = await Spool.open({ dir: path.join(dirs[a] as string, 'spool') });
    await Promise.all(Array.from({ length: count }, (_, i) => spool.append(benchAlert(a, i))));
    await spool.close();
  }
  process.stdout.write('ready\n');
  const line = await new Promise<string>((resolve) => process.stdin.once('data', (d: Buffer) => resolve(d.toString().trim())));
  const [url, token] = line.split(' ') as [string, string];
  const reporters = await Promise.all(
    dirs.map((stateDir, a) => Reporter.start({ url, token, stateDir, agent: { id: `agent-${a}`, name: 'keysentry', version: 'bench' } })),
  );
  if (rate > 0) {
    // Steady state only: the first connection's set-up is not delivery latency.
    while (!reporters.every((r) => r.stats().connected)) await new Promise((r) => setTimeout(r, 10));
    const began = performance.now();
    for (let i = 0; i < count; i++) {
      const wait = began + (i * 1000) / rate - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      for (const [a, reporter] of reporters.entries()) {
        const alert = benchAlert(a, i);
        (alert.bench as { sent_at?: number }).sent_at = wallClockMs();
        void reporter.write(alert);
      }
    }
  }
  await Promise.all(reporters.map((r) => r.drained()));
  await Promise.all(reporters.map((r) => r.close()));
  process.stdout.write('done\n');
  process.exit(0);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`delivery-fleet: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
