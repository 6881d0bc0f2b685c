/**
 * A small real agent for the delivery tests: a child process that writes generated alerts
 * through src/delivery (spool + reporter) to a collector. Alert i carries test.index = i, so
 * the store can be checked for exactly-once, in-order delivery.
 *
 * Args: --url U --token T --state DIR [--agent-id ID] [--count N] [--rate PER_S]
 *       [--spool-max BYTES] [--ping-ms MS] [--exit-when-drained]
 * Prints JSON lines on stdout: {"spooled": n} as writes become durable, {"drained": n} when
 * the collector has acknowledged everything.
 */
import { parseArgs } from 'node:util';
import type { AlertDocument } from '../../src/alerts/types';
import { Reporter } from '../../src/delivery/reporter';

export function testAlert(index: number, agentId: string): AlertDocument {
  return {
    '@timestamp': new Date().toISOString(),
    event: { kind: 'alert', category: ['process'], type: ['start'] },
    rule: { id: 'test-rule-id', name: 'Test keychain rule', severity: 'high' },
    host: { hostname: `host-${agentId}` },
    agent: { id: agentId },
    process: { pid: 1000 + index, executable: '/usr/bin/security', command_line: `security find-generic-password -s item-${index}` },
    test: { index },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      state: { type: 'string' },
      'agent-id': { type: 'string', default: 'test-agent' },
      count: { type: 'string', default: '0' },
      rate: { type: 'string', default: '0' },
      'spool-max': { type: 'string' },
      'ping-ms': { type: 'string', default: '1000' },
      'exit-when-drained': { type: 'boolean', default: false },
    },
  });
  const count = Number(values.count);
  const rate = Number(values.rate);
  const agentId = values['agent-id'] as string;
  const reporter = await Reporter.start({
    url: values.url as string,
    token: values.token as string,
    agent: { id: agentId, name: agentId, version: 'test' },
    stateDir: values.state as string,
    spool: values['spool-max'] ? { maxBytes: Number(values['spool-max']) } : undefined,
    pingIntervalMs: Number(values['ping-ms']),
    backoffInitialMs: 50,
    backoffMaxMs: 500,
    healthIntervalMs: 500,
    health: () => ({ events_seen: count, alerts: count }),
  });
  const out = (o: object): void => {
    process.stdout.write(`${JSON.stringify(o)}\n`);
  };
  // Resume numbering after what a previous (killed) run made durable.
  const start = reporter.spool.lastSeq;
  const began = Date.now();
  let durable = start;
  const inflight = new Set<Promise<void>>();
  for (let i = start; i < count; i++) {
    if (rate > 0) {
      const due = began + ((i - start) * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    }
    const p: Promise<void> = reporter.spoolAlert(testAlert(i, agentId)).then(() => {
      durable++;
      inflight.delete(p);
      if (durable % 50 === 0 || durable === count) out({ spooled: durable });
    });
    inflight.add(p);
    if (inflight.size >= 256) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  out({ spooled: durable, stats: reporter.spool.stats() });
  await reporter.drained();
  out({ drained: reporter.spool.lastSeq, stats: reporter.spool.stats() });
  if (values['exit-when-drained']) {
    await reporter.close();
    return;
  }
  await new Promise(() => undefined);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`delivery-agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
