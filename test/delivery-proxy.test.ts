import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import * as path from 'node:path';
import { startCollector } from '../src/collector/server';
import { AlertReader } from '../src/collector/store';
import { TokenSet } from '../src/collector/tokens';
import { Reporter } from '../src/delivery/reporter';
import { testAlert } from './support/delivery-agent';
import {
  freePort,
  isDrained,
  range,
  startAgentProcess,
  startCollectorProcess,
  storedIndices,
  tempDir,
  TOKEN,
  writeTokenFile,
  type Child,
} from './support/delivery-harness';
// Deterministic randomness, so a failing run can be replayed from its printed seed.
import { prng } from './support/random';

/** A TCP proxy that, at random, cuts connections or stalls them (data held, not dropped). */
class ChaosProxy {
  readonly server: net.Server;
  private pairs = new Set<{ a: net.Socket; b: net.Socket; stalled: boolean }>();
  cuts = 0;
  stalls = 0;
  connections = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly upstreamPort: number,
    private readonly random: () => number,
  ) {
    this.server = net.createServer((a) => {
      this.connections++;
      const b = net.connect(this.upstreamPort, '127.0.0.1');
      const pair = { a, b, stalled: false };
      this.pairs.add(pair);
      const forward = (from: net.Socket, to: net.Socket): void => {
        from.on('data', (d) => {
          if (!to.write(d)) from.pause();
        });
        to.on('drain', () => {
          if (!pair.stalled) from.resume();
        });
      };
      forward(a, b);
      forward(b, a);
      const end = (): void => {
        this.pairs.delete(pair);
        a.destroy();
        b.destroy();
      };
      for (const s of [a, b]) {
        s.on('error', end);
        s.on('close', end);
      }
    });
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', r));
  }

  startChaos(): void {
    const step = (): void => {
      for (const pair of this.pairs) {
        const r = this.random();
        if (r < 0.15) {
          this.cuts++;
          pair.a.destroy();
          pair.b.destroy();
        } else if (r < 0.5 && !pair.stalled) {
          // Long enough, sometimes, for the agent's ping to find a dead peer.
          this.stalls++;
          pair.stalled = true;
          pair.a.pause();
          pair.b.pause();
          setTimeout(() => {
            pair.stalled = false;
            pair.a.resume();
            pair.b.resume();
          }, 200 + this.random() * 1500);
        }
      }
      this.timer = setTimeout(step, 100 + this.random() * 300);
    };
    step();
  }

  /** Every open connection stops carrying data, for good, without closing: a dead peer. */
  blackholeAll(): void {
    for (const pair of this.pairs) {
      pair.stalled = true;
      pair.a.pause();
      pair.b.pause();
    }
  }

  stopChaos(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  async close(): Promise<void> {
    this.stopChaos();
    for (const p of this.pairs) {
      p.a.destroy();
      p.b.destroy();
    }
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

describe('delivery through a proxy that cuts and stalls connections', function () {
  this.timeout(60_000);
  const children: Child[] = [];
  let proxy: ChaosProxy | null = null;
  afterEach(async () => {
    for (const c of children.splice(0)) await c.kill();
    await proxy?.close();
  });

  it('loses nothing and duplicates nothing', async () => {
    const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
    const dir = tempDir('proxy');
    const collectorPort = await freePort();
    const proxyPort = await freePort();
    const db = path.join(dir, 'collector.db');
    const collector = await startCollectorProcess({ port: collectorPort, db, tokens: writeTokenFile(dir) });
    children.push(collector);
    proxy = new ChaosProxy(collectorPort, prng(seed));
    await proxy.listen(proxyPort);
    proxy.startChaos();
    const count = 6000;
    const agent = startAgentProcess({ url: `ws://127.0.0.1:${proxyPort}`, state: path.join(dir, 'agent'), count, rate: 1500, pingMs: 300 });
    children.push(agent);
    await agent.waitFor((l) => l.includes('"stats"'), 30_000);
    // Chaos goes on until it has both cut and stalled the link several times.
    for (let waited = 0; (proxy.cuts < 4 || proxy.stalls < 4) && waited < 20_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    proxy.stopChaos();
    await agent.waitFor(isDrained, 30_000);
    const message = `chaos seed ${seed}: ${proxy.cuts} cuts, ${proxy.stalls} stalls`;
    assert.ok(proxy.cuts >= 4 && proxy.stalls >= 4, message);
    const { seqs, indices } = storedIndices(db);
    assert.deepEqual(seqs, range(1, count + 1), message);
    assert.deepEqual(indices, range(0, count), message);
    const reader = new AlertReader(db);
    assert.deepEqual(reader.gaps(), [], message);
    reader.close();
  });
});

describe('heartbeats through a link that goes silent without closing', function () {
  this.timeout(30_000);

  it('both ends declare the peer dead, the agent reconnects, and delivery carries on', async () => {
    const dir = tempDir('blackhole');
    const collector = await startCollector({ db: path.join(dir, 'c.db'), tokens: TokenSet.fromTokens([{ token: TOKEN }]), pingIntervalMs: 200 });
    const proxy = new ChaosProxy(collector.port, () => 1);
    const proxyPort = await freePort();
    await proxy.listen(proxyPort);
    const reporter = await Reporter.start({ url: `ws://127.0.0.1:${proxyPort}`, token: TOKEN, agent: { id: 'test-agent', name: 'a', version: 't' }, stateDir: path.join(dir, 'agent'), pingIntervalMs: 200, backoffInitialMs: 50 });
    try {
      for (let i = 0; i < 10; i++) void reporter.write(testAlert(i, 'test-agent'));
      await reporter.drained();
      proxy.blackholeAll();
      for (let i = 10; i < 20; i++) void reporter.write(testAlert(i, 'test-agent'));
      await reporter.drained();
      assert.equal(proxy.connections, 2, 'one reconnect after the silent link was declared dead');
      for (let waited = 0; collector.stats().connections > 1 && waited < 3000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      assert.equal(collector.stats().connections, 1, 'the collector dropped the silent connection too');
      assert.deepEqual(storedIndices(path.join(dir, 'c.db')).indices, range(0, 20));
    } finally {
      await reporter.close();
      await proxy.close();
      await collector.close();
    }
  });
});
