/**
 * The addon core with real threads: the synthetic producer through the real C++ batch
 * encoder and the TypeScript decoder, start/stop cycles, a throwing consumer, exit with the
 * capture thread running, and corrupted batches.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { ExecRecord } from '../src/model/records';
import { decodeBatch } from '../src/sources/native-decode';
import { BackendError, startAddonSource, type AddonSource } from '../src/sources/native';
import { REPO_ROOT } from './support/paths';
import { waitUntil } from './support/wait';

/** Runs the synthetic producer to completion and returns every batch it delivered. */
async function syntheticBatches(count: number, options: Record<string, number> = {}): Promise<{ batches: Buffer[]; source: AddonSource }> {
  const batches: Buffer[] = [];
  let records = 0;
  const { source } = startAddonSource({ backend: 'synthetic', syntheticCount: count, ...options }, (b) => {
    const buf = b as Buffer;
    batches.push(buf);
    records += buf.readUInt32LE(8);
  });
  await waitUntil(() => records >= count, 20_000);
  source.stop();
  return { batches, source };
}

describe('native addon core', function () {
  this.timeout(60_000);

  it('delivers every synthetic record, decoded field for field, in order', async () => {
    const { batches, source } = await syntheticBatches(50_000);
    const records = batches.flatMap((b) => {
      const d = decodeBatch(b);
      assert.equal(d.error, undefined);
      return d.records;
    });
    assert.equal(records.length, 50_000);
    records.forEach((r, i) => {
      assert.equal(r.kind, 'exec');
      assert.equal(r.seq, i + 1);
    });
    const first = records[0] as ExecRecord;
    assert.deepEqual(first.args, ['security', 'find-certificate', '-a', '-c', 'host-0', '/Library/Keychains/System.keychain']);
    assert.deepEqual((records[777] as ExecRecord).args[4], 'host-777');
    assert.equal(first.process.executable, '/usr/bin/security');
    assert.equal(first.process.pid, 10000);
    assert.equal(first.process.pidversion, undefined);
    assert.deepEqual(first.parent, { pid: 4242 });
    assert.equal(first.parentExecutable, '/bin/zsh');
    assert.equal(first.cwd, '/Users/alice/Projects');
    assert.equal(first.uid, 501);
    assert.equal(first.gid, 20);
    assert.equal(first.argsComplete, true);
    assert.equal(typeof first.timeNs, 'bigint');
    const stats = source.stats();
    assert.equal(stats.captured, 50_000);
    assert.equal(stats.delivered, 50_000);
    assert.equal(stats.dropped, 0);
    assert.ok((stats.batches ?? 0) >= 50_000 / 1024, 'records travel in batches');
  });

  it('keeps the records before a corrupted one and says where the batch broke', async () => {
    // The first exec leaves alone (leading edge), the next three fill a batch.
    const { batches } = await syntheticBatches(4, { batchRecords: 3, flushMicros: 200_000 });
    assert.deepEqual(batches.map((b) => b.readUInt32LE(8)), [1, 3]);
    const batch = batches[1] as Buffer;
    const secondRecord = 16 + batch.readUInt32LE(16);

    const corrupted = Buffer.from(batch);
    corrupted.writeUInt32LE(0xffffff00, secondRecord); // record size far beyond the buffer
    const d = decodeBatch(corrupted);
    assert.equal(d.records.length, 1);
    assert.match(d.error?.message ?? '', new RegExp(`record size \\d+ out of bounds at byte ${secondRecord}`));

    const hugeString = Buffer.from(batch);
    hugeString.writeUInt32LE(0x7fffffff, 16 + 76); // executable length of the first record
    assert.match(decodeBatch(hugeString).error?.message ?? '', /string length 2147483647 exceeds the record at byte 92/);

    // The second record's executable repeats the first's, so it is a reference to it.
    const reference = batch.readUInt32LE(secondRecord + 76);
    assert.equal(reference, (0x8000_0000 | (16 + 76)) >>> 0, 'a repeated string is a reference');
    const forward = Buffer.from(batch);
    forward.writeUInt32LE((0x8000_0000 | (secondRecord + 80)) >>> 0, secondRecord + 76);
    assert.match(decodeBatch(forward).error?.message ?? '', /string reference to byte \d+ is not before it/);

    const version = Buffer.from(batch);
    version.writeUInt16LE(9, 4);
    assert.match(decodeBatch(version).error?.message ?? '', /unsupported version 9/);

    assert.match(decodeBatch(batch.subarray(0, batch.length - 1)).error?.message ?? '', /length/);
    assert.match(decodeBatch(Buffer.alloc(3)).error?.message ?? '', /truncated header/);
  });

  it('decodes short ASCII strings in JavaScript and the others as UTF-8, byte for byte', async () => {
    const { batches } = await syntheticBatches(4, { batchRecords: 3, flushMicros: 200_000 });
    const batch = Buffer.from(batches[1] as Buffer);
    // argv[2] "-a" of the first record: 2 bytes, always written out (too short to reference).
    const at = batch.indexOf(Buffer.from([2, 0, 0, 0, 0x2d, 0x61]));
    assert.ok(at > 0);
    Buffer.from('ü').copy(batch, at + 4); // 2 bytes of UTF-8: the short path must hand it on
    const [first, second] = decodeBatch(batch).records as ExecRecord[];
    assert.deepEqual(first?.args.slice(2, 5), ['ü', '-c', 'host-1']);
    assert.equal(second?.args[2], '-a');
    // Whichever path a string takes, its text is what Buffer's UTF-8 decoder makes of its bytes.
    for (const bytes of [[0x00, 0x41], [0x00, 0xbc], [0x7f, 0x80]]) {
      Buffer.from(bytes).copy(batch, at + 4);
      assert.equal((decodeBatch(batch).records[0] as ExecRecord).args[2], Buffer.from(bytes).toString('utf8'));
    }
  });

  it('survives a consumer that throws, counting each throw', async () => {
    let calls = 0;
    const { source } = startAddonSource({ backend: 'synthetic', syntheticCount: 5000, batchRecords: 100 }, () => {
      calls++;
      throw new Error('consumer bug');
    });
    await waitUntil(() => (source.stats().delivered ?? 0) >= 5000, 10_000);
    source.stop();
    const stats = source.stats();
    assert.equal(stats.callbackErrors, calls);
    assert.ok(calls >= 50);
    assert.equal(stats.lastCallbackError, 'consumer bug');
  });

  it('starts and stops 200 times without leaking a thread or hanging', async () => {
    for (let i = 0; i < 200; i++) {
      let got = 0;
      const { source } = startAddonSource({ backend: 'synthetic', syntheticCount: 1_000_000 }, (b) => {
        got += (b as Buffer).readUInt32LE(8);
      });
      if (i % 2 === 0) await new Promise((r) => setImmediate(r));
      source.stop();
      source.stop(); // idempotent
      const s = source.stats();
      assert.equal(s.running, false);
      assert.ok((s.captured ?? 0) >= got);
    }
    const threads = Number(/Threads:\s+(\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))?.[1]);
    assert.ok(threads < 40, `threads left running: ${threads}`);
  });

  it('stops while the producer waits on a full queue and JavaScript has consumed nothing', () => {
    for (const delivery of ['batch', 'per-event'] as const) {
      const { source } = startAddonSource({ backend: 'synthetic', syntheticCount: 1e9, queueRecords: 16, maxInFlight: 1, delivery }, () => undefined);
      const until = Date.now() + 150; // the event loop is blocked: nothing is consumed
      while (Date.now() < until) {
        /* the queue fills and the producer blocks */
      }
      source.stop(); // must not deadlock on the producer, the flusher or the JS thread
      assert.equal(source.stats().running, false);
    }
  });

  it('lets the process exit while capture runs, by process.exit and by an empty event loop', () => {
    const addonUser = path.join(REPO_ROOT, 'dist', 'src', 'sources', 'native.js');
    for (const ending of ['process.exit(3)', 'undefined']) {
      const script =
        `const { startAddonSource } = require(${JSON.stringify(addonUser)});` +
        `const { source } = startAddonSource({ backend: 'synthetic', syntheticCount: 1e12 }, () => {});` +
        `setTimeout(() => ${ending}, 200);`;
      const r = spawnSync(process.execPath, ['-e', script], { timeout: 15_000, encoding: 'utf8' });
      assert.equal(r.signal, null, `ended by ${r.signal}: ${r.stderr}`);
      assert.equal(r.status, ending === 'undefined' ? 0 : 3, r.stderr);
    }
  });

  it('refuses an unknown backend and bad options with a clear error', () => {
    assert.throws(() => startAddonSource({ backend: 'nonsense' as 'audit' }, () => undefined), (e: unknown) => e instanceof BackendError && /unknown Linux backend 'nonsense'/.test(e.message));
    assert.throws(() => startAddonSource({ backend: 'synthetic', queueRecords: 1 }, () => undefined), /queueRecords out of range/);
  });

  it('reports a clear error to a non-root user', function () {
    if (process.getuid?.() !== 0) this.skip();
    const addonUser = path.join(REPO_ROOT, 'dist', 'src', 'sources', 'native.js');
    for (const backend of ['audit', 'connector']) {
      const script =
        `const { startAddonSource } = require(${JSON.stringify(addonUser)});` +
        `try { startAddonSource({ backend: '${backend}' }, () => {}); console.log('started'); } catch (e) { console.log(e.name, e.code, e.message); }`;
      const out = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
      assert.match(out, /^BackendError EPERM .*needs root/, out);
    }
  });
});
