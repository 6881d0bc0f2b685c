import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startCollector } from '../src/collector/server';
import { AlertReader } from '../src/collector/store';
import { TokenSet } from '../src/collector/tokens';
import { Reporter } from '../src/delivery/reporter';
import { Spool, RECORD_HEADER_BYTES } from '../src/delivery/spool';
import {
  freePort,
  isDrained,
  range,
  sleep,
  startAgentProcess,
  startCollectorProcess,
  storedIndices,
  tempDir,
  TOKEN,
  writeTokenFile,
  type Child,
} from './support/delivery-harness';
import { testAlert } from './support/delivery-agent';

function segments(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('seg-'))
    .sort();
}

describe('delivery spool', () => {
  it('keeps files 0600 in a 0700 directory and numbers on across restarts, even when all was acked', async () => {
    const dir = path.join(tempDir('spool'), 'spool');
    let spool = await Spool.open({ dir });
    const seqs = await Promise.all([1, 2, 3].map((i) => spool.append({ i })));
    assert.deepEqual(seqs, [1, 2, 3]);
    await spool.ack(3);
    await spool.close();
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    for (const f of fs.readdirSync(dir)) assert.equal(fs.statSync(path.join(dir, f)).mode & 0o777, 0o600, f);
    spool = await Spool.open({ dir });
    assert.equal(await spool.append({ i: 4 }), 4);
    assert.equal(spool.stats().depth, 1);
    await spool.close();
  });

  it('refuses an alert JSON cannot hold without disturbing the ones around it', async () => {
    const dir = path.join(tempDir('spool'), 'spool');
    const spool = await Spool.open({ dir });
    const first = spool.append({ ok: 1 });
    const bad = spool.append({ big: 1n });
    const last = spool.append({ ok: 2 });
    await assert.rejects(bad, /cannot be serialized/);
    assert.deepEqual(await Promise.all([first, last]), [1, 2]);
    assert.deepEqual((await spool.read(1, 10, 1 << 20)).map((e) => e.json), ['{"ok":1}', '{"ok":2}']);
    await spool.close();
  });

  it('truncates a torn last record and reuses its sequence number; the records before it survive', async () => {
    const dir = path.join(tempDir('spool'), 'spool');
    let spool = await Spool.open({ dir });
    for (let i = 1; i <= 5; i++) await spool.append({ i });
    await spool.close();
    const seg = path.join(dir, segments(dir).at(-1) as string);
    const whole = fs.readFileSync(seg);
    const recordSize = whole.length / 5;
    // What SIGKILL during write() leaves: the head of a record, then nothing.
    fs.appendFileSync(seg, whole.subarray(0, recordSize - 3));
    spool = await Spool.open({ dir });
    assert.equal(spool.stats().damaged, 1);
    assert.equal(fs.statSync(seg).size, whole.length);
    assert.equal(await spool.append({ i: 6 }), 6);
    const entries = await spool.read(1, 100, 1 << 20);
    assert.deepEqual(
      entries.map((e) => [e.seq, (JSON.parse(e.json) as { i: number }).i]),
      range(1, 7).map((i) => [i, i]),
    );
    await spool.close();
  });

  it('skips a damaged record inside an older segment and keeps reading after it', async () => {
    const dir = path.join(tempDir('spool'), 'spool');
    let spool = await Spool.open({ dir, maxBytes: 64 * 1024, segmentBytes: 4096 });
    const payload = 'x'.repeat(200);
    for (let i = 1; i <= 60; i++) await spool.append({ i, payload });
    await spool.close();
    const first = path.join(dir, segments(dir)[0] as string);
    const buf = fs.readFileSync(first);
    // Flip a payload byte of the third record: its checksum no longer matches.
    const size = RECORD_HEADER_BYTES + Buffer.byteLength(JSON.stringify({ i: 1, payload }));
    buf[2 * size + RECORD_HEADER_BYTES + 3] ^= 0xff;
    fs.writeFileSync(first, buf);
    spool = await Spool.open({ dir, maxBytes: 64 * 1024, segmentBytes: 4096 });
    assert.equal(spool.stats().damaged, 1);
    const seqs = (await spool.read(1, 1000, 1 << 20)).map((e) => e.seq);
    assert.deepEqual(seqs, [1, 2, ...range(4, 61)]);
    await spool.close();
  });
  it('counts alerts evicted unacknowledged as dropped until an ack shows the collector had them', async () => {
    const dir = path.join(tempDir('spool'), 'spool');
    const spool = await Spool.open({ dir, maxBytes: 8 * 1024, segmentBytes: 4096 });
    const payload = 'x'.repeat(200);
    await spool.append({ i: 0, payload });
    await spool.ack(1);
    // Sent (say) but not acknowledged: the spool fills up and its oldest segments go.
    for (let i = 1; i <= 80; i++) await spool.append({ i, payload });
    const evicted = spool.stats().dropped;
    const oldest = (await spool.read(1, 1, 1 << 20))[0]?.seq ?? 0;
    assert.ok(evicted > 0, 'segments were evicted');
    assert.equal(evicted, oldest - 2, 'every unacknowledged sequence below the oldest kept one counts once; the acked one does not');
    // The collector acknowledges part of what was evicted, then all of it and more.
    await spool.ack(5);
    assert.equal(spool.stats().dropped, evicted - 4);
    await spool.ack(oldest + 3);
    assert.equal(spool.stats().dropped, 0);
    // A later eviction counts again, and an ack short of it credits nothing.
    for (let i = 81; i <= 200; i++) await spool.append({ i, payload });
    const again = spool.stats().dropped;
    const oldestNow = (await spool.read(1, 1, 1 << 20))[0]?.seq ?? 0;
    assert.equal(again, oldestNow - (oldest + 4));
    await spool.ack(oldest + 3);
    assert.equal(spool.stats().dropped, again);
    await spool.close();
  });

  it('reads records larger than the batch window, and replaces an alert over the record cap by a stub that says so', async () => {
    const dir = path.join(tempDir('spool'), 'spool');
    const spool = await Spool.open({ dir, maxBytes: 4 << 20, maxRecordBytes: 300_000 });
    const big = { rule: { name: 'r' }, blob: 'b'.repeat(200_000) };
    await spool.append({ small: 1 });
    await spool.append(big);
    await spool.append({ rule: { name: 'huge' }, host: { hostname: 'h' }, blob: 'c'.repeat(400_000) });
    const entries = await spool.read(1, 10, 1024);
    assert.deepEqual(entries.map((e) => e.seq), [1, 2]);
    assert.deepEqual(JSON.parse((entries[1] as { json: string }).json), big);
    const [stub] = await spool.read(3, 10, 1024);
    assert.deepEqual(JSON.parse((stub as { json: string }).json), { rule: { name: 'huge' }, host: { hostname: 'h' }, keysentry: { delivery: { truncated_bytes: 400_058 } } });
    assert.equal(spool.stats().truncated, 1);
    await spool.close();
  });
});

describe('delivery when agent and collector disagree about the past', function () {
  this.timeout(30_000);

  async function deliver(url: string, stateDir: string, indices: number[]): Promise<void> {
    const reporter = await Reporter.start({ url, token: TOKEN, agent: { id: 'test-agent', name: 'a', version: 't' }, stateDir });
    for (const i of indices) await reporter.spoolAlert(testAlert(i, 'test-agent'));
    await reporter.drained();
    await reporter.close();
  }

  it("renumbers what it holds after the collector's watermark when the agent state was restored from an old backup", async () => {
    const dir = tempDir('restore');
    const collector = await startCollector({ db: path.join(dir, 'c.db'), tokens: TokenSet.fromTokens([{ token: TOKEN }]) });
    const state = path.join(dir, 'agent');
    await deliver(collector.url, state, range(0, 5));
    // The backup predates those five alerts: same stream, nothing spooled, nothing acked.
    const spoolDir = path.join(state, 'spool');
    for (const f of segments(spoolDir)) fs.rmSync(path.join(spoolDir, f));
    const meta = JSON.parse(fs.readFileSync(path.join(spoolDir, 'meta.json'), 'utf8')) as { stream: string };
    fs.writeFileSync(path.join(spoolDir, 'meta.json'), JSON.stringify({ stream: meta.stream, acked: 0 }));
    await deliver(collector.url, state, [5]);
    await collector.close();
    assert.deepEqual(storedIndices(path.join(dir, 'c.db')), { seqs: range(1, 7), indices: range(0, 6) });
  });

  it('accounts for alerts acked by a collector whose database was since lost, as acked-earlier', async () => {
    const dir = tempDir('lostdb');
    const state = path.join(dir, 'agent');
    let collector = await startCollector({ db: path.join(dir, 'old.db'), tokens: TokenSet.fromTokens([{ token: TOKEN }]) });
    const port = collector.port;
    await deliver(collector.url, state, range(0, 5));
    await collector.close();
    collector = await startCollector({ port, db: path.join(dir, 'new.db'), tokens: TokenSet.fromTokens([{ token: TOKEN }]) });
    await deliver(collector.url, state, [5, 6]);
    const gaps = collector.store.gaps();
    await collector.close();
    assert.deepEqual(gaps.map((g) => [g.from, g.to, g.count, g.reason]), [[1, 5, 5, 'acked-earlier']]);
    assert.deepEqual(storedIndices(path.join(dir, 'new.db')), { seqs: [6, 7], indices: [5, 6] });
  });
});

describe('delivery end to end (real collector and agent processes)', function () {
  this.timeout(60_000);
  const children: Child[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) await c.kill();
  });

  async function setup(): Promise<{ dir: string; port: number; db: string; tokens: string; url: string }> {
    const dir = tempDir('e2e');
    const port = await freePort();
    return { dir, port, db: path.join(dir, 'collector.db'), tokens: writeTokenFile(dir), url: `ws://127.0.0.1:${port}` };
  }

  it('stores 10,000 alerts exactly once and in order while the collector is SIGKILLed and restarted twice', async () => {
    const env = await setup();
    let collector = await startCollectorProcess(env);
    children.push(collector);
    const agent = startAgentProcess({ url: env.url, state: path.join(env.dir, 'agent'), count: 10_000, rate: 4000, pingMs: 500 });
    children.push(agent);
    for (const killAt of [800, 1600]) {
      await agent.waitFor((l) => l.startsWith('{"spooled"') && (JSON.parse(l) as { spooled: number }).spooled >= (killAt * 4000) / 1000 - 1000);
      await collector.kill('SIGKILL');
      await sleep(300);
      collector = await startCollectorProcess(env);
      children.push(collector);
    }
    await agent.waitFor(isDrained, 40_000);
    const { seqs, indices } = storedIndices(env.db);
    assert.deepEqual(seqs, range(1, 10_001));
    assert.deepEqual(indices, range(0, 10_000));
    const reader = new AlertReader(env.db);
    assert.deepEqual(reader.gaps(), []);
    reader.close();
  });

  it('delivers what a SIGKILLed agent had spooled, after restart, with no duplicates', async () => {
    const env = await setup();
    const collector = await startCollectorProcess(env);
    children.push(collector);
    const state = path.join(env.dir, 'agent');
    const first = startAgentProcess({ url: env.url, state, count: 50_000 });
    children.push(first);
    const line = await first.waitFor((l) => l.startsWith('{"spooled"') && (JSON.parse(l) as { spooled: number }).spooled >= 3000);
    await first.kill('SIGKILL');
    const spooledBeforeKill = (JSON.parse(line) as { spooled: number }).spooled;
    const restarted = startAgentProcess({ url: env.url, state, count: 0 });
    children.push(restarted);
    const drained = JSON.parse(await restarted.waitFor(isDrained)) as { drained: number };
    assert.ok(drained.drained >= spooledBeforeKill, `${drained.drained} >= ${spooledBeforeKill}`);
    const { seqs, indices } = storedIndices(env.db);
    // Everything durable before the kill is stored, once, in order; nothing else was invented.
    assert.deepEqual(seqs, range(1, drained.drained + 1));
    assert.deepEqual(indices, range(0, drained.drained));
  });

  it('reports the exact number and range of alerts dropped when the spool filled up while the collector was down', async () => {
    const env = await setup();
    const count = 3000;
    const agent = startAgentProcess({ url: env.url, state: path.join(env.dir, 'agent'), count, spoolMax: 64 * 1024 });
    children.push(agent);
    const done = JSON.parse(await agent.waitFor((l) => l.includes('"stats"'))) as { stats: { dropped: number } };
    const dropped = done.stats.dropped;
    assert.ok(dropped > 0 && dropped < count, `dropped ${dropped}`);
    const collector = await startCollectorProcess(env);
    children.push(collector);
    await agent.waitFor(isDrained);
    const reader = new AlertReader(env.db);
    const gaps = reader.gaps();
    reader.close();
    assert.deepEqual(
      gaps.map((g) => [g.from, g.to, g.count, g.reason]),
      [[1, dropped, dropped, 'spool-full']],
    );
    const { seqs, indices } = storedIndices(env.db);
    assert.deepEqual(seqs, range(dropped + 1, count + 1));
    assert.deepEqual(indices, range(dropped, count));
  });
});
