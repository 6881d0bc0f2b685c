/**
 * Push delivery of the native source (EventSource.deliver), with the addon's real threads
 * (the synthetic producer): order, one consumer call per addon batch, a consumer's
 * backpressure holding later batches within the pending bound, a throwing consumer, and the
 * seeded, own-activity-filtered source the agent builds on it.
 */
import { strict as assert } from 'node:assert';
import type { SeedRecord } from '../src/model/records';
import { SeededSource } from '../src/sources/live';
import { NativeEventSource } from '../src/sources/native';
import { OwnActivityFilter, WithoutOwnActivity } from '../src/sources/own-activity';
import type { SourceItem } from '../src/sources/types';
import { waitUntil } from './support/wait';

function seqsOf(batch: SourceItem[]): number[] {
  return batch.flatMap((item) => (item.kind === 'record' && item.record.kind === 'exec' ? [item.record.seq ?? -1] : []));
}

const oneToN = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('native source: push delivery', function () {
  this.timeout(60_000);
  // A failed test must not leave a producer (and its keep-alive timer) running: mocha would never exit.
  const opened: NativeEventSource[] = [];
  const open = (options: ConstructorParameters<typeof NativeEventSource>[0]): NativeEventSource => {
    const source = new NativeEventSource(options);
    opened.push(source);
    return source;
  };
  afterEach(async () => {
    for (const source of opened.splice(0)) await source.stop();
  });

  it('hands every record to the consumer in order, one call per addon batch, and ends after stop() once drained', async () => {
    const source = open({ backend: 'synthetic', syntheticCount: 20_000, batchRecords: 256 });
    const seqs: number[] = [];
    let calls = 0;
    const done = source.deliver((batch) => {
      calls++;
      seqs.push(...seqsOf(batch));
      return undefined;
    });
    await waitUntil(() => seqs.length >= 20_000, 20_000);
    await source.stop();
    await done;
    assert.deepEqual(seqs, oneToN(20_000));
    assert.equal(calls, source.counters().batches);
    assert.equal(source.stats().records, 20_000);
  });

  it("holds later batches while the consumer's promise is pending, never calls it twice at once, and keeps the order", async () => {
    const source = open({ backend: 'synthetic', syntheticCount: 5_000, batchRecords: 100 });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const seqs: number[] = [];
    let calls = 0;
    let active = 0;
    let overlapped = false;
    const done = source.deliver(async (batch) => {
      calls++;
      if (++active > 1) overlapped = true;
      if (calls === 1) await gate;
      seqs.push(...seqsOf(batch));
      active--;
    });
    await waitUntil(() => source.counters().delivered >= 5_000, 20_000);
    assert.equal(calls, 1, 'the other batches wait for the first one');
    release();
    await waitUntil(() => seqs.length >= 5_000, 20_000);
    await source.stop();
    await done;
    assert.equal(overlapped, false);
    assert.deepEqual(seqs, oneToN(5_000));
  });

  it('drops and counts whole batches beyond maxPendingRecords while the consumer is busy', async () => {
    const source = open({ backend: 'synthetic', syntheticCount: 5_000, batchRecords: 100, maxPendingRecords: 500 });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let consumed = 0;
    let first = true;
    const done = source.deliver(async (batch) => {
      if (first) {
        first = false;
        await gate;
      }
      consumed += seqsOf(batch).length;
    });
    await waitUntil(() => source.counters().delivered >= 5_000, 20_000);
    release();
    await source.stop();
    await done;
    const dropped = source.counters().dropped;
    assert.ok(dropped >= 5_000 - 600, `at most the first batch and 500 pending records are kept (dropped ${dropped})`);
    assert.equal(consumed + dropped, 5_000);
  });

  it('a consumer that throws rejects deliver() with its error and stops capture', async () => {
    const source = open({ backend: 'synthetic', syntheticCount: 1e9, batchRecords: 100 });
    let calls = 0;
    const done = source.deliver(() => {
      if (++calls === 3) throw new Error('consumer broke');
      return undefined;
    });
    await assert.rejects(done, /consumer broke/);
    assert.equal(source.counters().running, false);
    const callsAtFailure = calls;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(calls, callsAtFailure);
  });

  it('through SeededSource and WithoutOwnActivity: the seeds first, then the live records without the own ones', async () => {
    const seed: SeedRecord = { kind: 'seed', timeNs: 1n, process: { pid: 4242, executable: '/sbin/init' }, args: ['init'], startTimeNs: 1n };
    const native = open({ backend: 'synthetic', syntheticCount: 1_000, batchRecords: 64 });
    // Pid 10007 plays the agent: its exec is its own activity.
    const source = new WithoutOwnActivity(new SeededSource(native, [seed]), new OwnActivityFilter(10_007, null));
    assert.ok(source.deliver !== undefined);
    const seen: SourceItem[] = [];
    const done = source.deliver((batch) => {
      seen.push(...batch);
      return undefined;
    });
    await waitUntil(() => seen.length >= 1_000, 20_000);
    await source.stop();
    await done;
    assert.equal(seen[0]?.where, 'seed');
    const seqs = seen.slice(1).flatMap((item) => seqsOf([item]));
    assert.deepEqual(seqs, oneToN(1_000).filter((seq) => seq !== 8));
    assert.equal(source.filter.skipped, 1);
  });
});
