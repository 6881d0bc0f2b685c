/**
 * The eslogger child-process source, against a fake `eslogger` executable placed first on
 * PATH (test/support/fake-eslogger.ts) that prints real eslogger lines, then exits or waits.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEsloggerLine } from '../src/sources/eslogger';
import { EsloggerLiveSource, EsloggerUnavailableError } from '../src/sources/eslogger-live';
import type { SourceItem } from '../src/sources/types';
import { collect, fakeEsloggerDir, fakeRun, fixtureLines } from './support/fake-eslogger';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function withoutWhere(items: SourceItem[]): unknown[] {
  return items.map((i) => (i.kind === 'record' ? i.record : i));
}

describe('macos: eslogger child-process source', function () {
  let dir: string;
  before(() => {
    dir = fakeEsloggerDir();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs `eslogger exec fork exit` from PATH and yields the records the eslogger reader makes of its lines', async () => {
    const lines = fixtureLines();
    const run = fakeRun(dir, lines.join('\n') + '\n');
    const source = new EsloggerLiveSource(run.options);
    const items = await collect(source, (got) => got.length >= lines.length);
    assert.deepEqual(withoutWhere(items), withoutWhere(lines.map((l, i) => parseEsloggerLine(l, String(i)))));
    assert.ok(items.every((i) => i.kind === 'record' && /^eslogger pid \d+:\d+$/.test(i.where)));
    assert.equal(fs.readFileSync(run.argsFile, 'utf8'), 'exec fork exit\n');
    // The fixtures come from different captures: 75 -> 1 starts a new run, 1 -> 16 -> 1103 are gaps.
    assert.deepEqual({ ...source.stats(), pid: undefined }, { records: 4, ecs: 0, rejected: 0, lost: 14 + 1086, restarts: 0, pid: undefined });
  });

  it('stops the child with the source: no orphan is left', async () => {
    const run = fakeRun(dir, fixtureLines()[0] + '\n');
    const source = new EsloggerLiveSource(run.options);
    const iterator = source.batches()[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.done, false);
    const pid = source.stats().pid;
    assert.ok(pid !== undefined && isAlive(pid), 'eslogger runs while the source does');
    await source.stop();
    assert.equal(isAlive(pid), false, `eslogger pid ${pid} still alive after stop()`);
    assert.deepEqual(await iterator.next(), { done: true, value: undefined });
  });

  it('stop() returns once eslogger is gone even while its output waits unread', async () => {
    const line = fixtureLines()[0] as string;
    const run = fakeRun(dir, Array.from({ length: 400 }, () => line).join('\n') + '\n');
    const source = new EsloggerLiveSource(run.options);
    const iterator = source.batches()[Symbol.asyncIterator]();
    await iterator.next();
    const pid = source.stats().pid as number;
    await source.stop();
    assert.equal(isAlive(pid), false);
    // The lines already in the pipe are still handed out, then the source ends; the writer was
    // killed mid-line, so the last one may be cut (and is rejected as such).
    const rest: SourceItem[] = [];
    for (let r = await iterator.next(); r.done !== true; r = await iterator.next()) rest.push(...r.value);
    assert.ok(rest.slice(0, -1).every((i) => i.kind === 'record'));
  });

  it('restarts eslogger when it dies, with growing capped delays, counting and logging each restart', async () => {
    const lines = fixtureLines();
    const run = fakeRun(dir, lines[0] + '\n', { FAKE_ESLOGGER_EXIT: '3' });
    const source = new EsloggerLiveSource(run.options);
    const started = Date.now();
    const items = await collect(source, (got) => got.length >= 4);
    assert.equal(items.length, 4);
    assert.ok(items.every((i) => i.kind === 'record'));
    assert.equal(new Set(items.map((i) => i.where.split(':')[0])).size, 4, 'each line came from a new eslogger');
    assert.equal(source.stats().restarts, 3);
    assert.equal(run.warnings.length, 3);
    assert.match(run.warnings[0] as string, /exited with status 3 after \d+ ms; restarting in 20 ms; it said: fake eslogger: done printing/);
    assert.match(run.warnings[1] as string, /restarting in 40 ms/);
    assert.match(run.warnings[2] as string, /restarting in 80 ms/);
    assert.ok(Date.now() - started >= 140, 'the delays were waited');
    // Each restart replays the same line, so global_seq_num goes back: a new run, not a loss.
    assert.equal(source.stats().lost, 0);
  });

  it('rejects a huge line without assembling it and keeps the lines around it', async () => {
    const lines = fixtureLines();
    const huge = `{"pad":"${'x'.repeat(3 * 1024 * 1024)}"}`;
    const run = fakeRun(dir, [lines[0], huge, 'not json', lines[3]].join('\n') + '\n');
    const source = new EsloggerLiveSource({ ...run.options, maxLineBytes: 64 * 1024 });
    const items = await collect(source, (got) => got.length >= 4);
    assert.deepEqual(
      items.map((i) => i.kind),
      ['record', 'reject', 'reject', 'record'],
    );
    assert.match((items[1] as { reason: string }).reason, /line of 3145738 bytes exceeds the 65536-byte limit/);
    assert.match(items[1]?.where ?? '', /:2$/);
    assert.match((items[2] as { reason: string }).reason, /invalid JSON/);
    assert.equal(source.stats().rejected, 2);
  });

  it('counts messages eslogger lost from global_seq_num gaps', async () => {
    const [exec] = fixtureLines();
    const withSeq = (n: number): string => (exec as string).replace(/"global_seq_num":\s*\d+/, `"global_seq_num":${n}`);
    const run = fakeRun(dir, [withSeq(10), withSeq(11), withSeq(15)].join('\n') + '\n');
    const source = new EsloggerLiveSource(run.options);
    await collect(source, (got) => got.length >= 3);
    assert.equal(source.stats().lost, 3);
  });

  it('ends with a clear error when eslogger does not exist (macOS before 13)', async () => {
    const source = new EsloggerLiveSource({ command: path.join(dir, 'no-such-eslogger'), restartDelayMs: 1 });
    await assert.rejects(collect(source, () => false), (err: unknown) => {
      assert.ok(err instanceof EsloggerUnavailableError);
      assert.match(err.message, /no-such-eslogger \(ENOENT\): eslogger ships with macOS 13 and later/);
      return true;
    });
  });
});
