/**
 * The addon core with real threads: the synthetic producer through the real C++ batch
 * encoder and the TypeScript decoder, start/stop cycles, a throwing consumer, exit with the
 * capture thread running, and corrupted batches. The urgent-text matcher against a reference
 * written here on random needle sets and records, and on the synthetic producer's execs.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { ExecRecord } from '../src/model/records';
import { decodeBatch } from '../src/sources/native-decode';
import { BackendError, loadAddon, startAddonSource, type AddonSource, type UrgentTextProbe } from '../src/sources/native';
import { REPO_ROOT } from './support/paths';
import { foldedBytes } from './support/prefilter';
import { prng } from './support/random';
import { waitUntil } from './support/wait';

/** Runs the synthetic producer to completion and returns every batch it delivered. */
async function syntheticBatches(count: number, options: Record<string, number> = {}, urgent: { urgentText?: string[] } = {}): Promise<{ batches: Buffer[]; source: AddonSource }> {
  const batches: Buffer[] = [];
  let records = 0;
  const { source } = startAddonSource({ backend: 'synthetic', syntheticCount: count, ...options, ...urgent }, (b) => {
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

const PROBE_FIELDS = ['executable', 'preExecExecutable', 'parentExecutable', 'cwd', 'signingId', 'teamId'] as const;

/** The reference: byte strings with ASCII letters lower-cased, and a substring search on them. */
function referenceUrgent(needles: string[] | null, record: UrgentTextProbe): boolean {
  if (needles === null) return true;
  const texts = [...PROBE_FIELDS.map((f) => record[f]), ...(record.args ?? [])].map((s) => foldedBytes(s ?? ''));
  return needles.some((n) => texts.some((t) => t.includes(foldedBytes(n))));
}

/**
 * Random needle sets and records over a small alphabet, so needles overlap, share prefixes
 * and suffixes and occur often: ASCII letters in both cases, non-ASCII letters whose case the
 * matcher must not fold (É, the Kelvin sign), multi-byte characters, and raw bytes that are not
 * UTF-8 in the records.
 */
class UrgentCases {
  private readonly random: () => number;
  // z and Z end the folded range; @ [ ` { sit just outside it, each 0x20 from another.
  private static readonly PIECES = ['a', 'A', 'b', 'B', 'k', 'K', 'ey', 'EY', 'z', 'Z', '@', '`', '[', '{', '/', '-', ' ', '0', 'é', 'É', 'ß', '\u212a', '€', '😀'];
  private static readonly RAW = [[0xc3], [0xa9], [0xff], [0x80], [0xe2, 0x84]];

  constructor(seed: number) {
    this.random = prng(seed);
  }

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  private text(maxPieces: number): string {
    let s = '';
    for (let n = this.int(maxPieces + 1); n > 0; n--) s += this.pick(UrgentCases.PIECES);
    return s;
  }

  needles(): string[] {
    if (this.random() < 0.03) return [];
    const needles: string[] = [];
    for (let n = 1 + this.int(8); n > 0; n--) {
      const base = needles.length > 0 && this.random() < 0.5 ? this.pick(needles) : '';
      const kind = this.int(4);
      if (base !== '' && kind === 0) needles.push(base.slice(0, 1 + this.int(base.length))); // a prefix of another
      else if (base !== '' && kind === 1) needles.push(base.slice(this.int(base.length)) + this.text(2)); // overlapping another's end
      else needles.push(this.text(5) || 'k');
    }
    if (this.random() < 0.02) needles.push('');
    return needles;
  }

  /** A string that often holds one of the needles, its ASCII letters in random case, or most of one. */
  private haystack(needles: string[]): string | Buffer {
    let s = this.text(6);
    if (needles.length > 0 && this.random() < 0.3) {
      const ascii = /^[a-z]$/i;
      const n = [...this.pick(needles)].map((c) => (ascii.test(c) ? (this.random() < 0.5 ? c.toUpperCase() : c.toLowerCase()) : c)).join('');
      const cut = this.random() < 0.4 ? n.slice(0, -1) : n;
      s = s.slice(0, this.int(s.length + 1)) + cut + this.text(3);
    }
    if (this.random() < 0.1) return Buffer.concat([Buffer.from(s), Buffer.from(this.pick(UrgentCases.RAW)), Buffer.from(this.text(2))]);
    return s;
  }

  record(needles: string[]): UrgentTextProbe {
    const r: UrgentTextProbe = {};
    for (const f of PROBE_FIELDS) if (this.random() < 0.25) r[f] = this.haystack(needles);
    const argc = this.random() < 0.05 ? 300 : this.int(6);
    r.args = Array.from({ length: argc }, () => (this.random() < 0.5 ? this.text(4) : this.haystack(needles)));
    return r;
  }
}

describe('native addon core: urgent text', function () {
  this.timeout(60_000);
  const matches = (needles: string[] | null, records: UrgentTextProbe[]): boolean[] => loadAddon().urgentTextMatches(needles, records);

  it('finds the same execs urgent as the reference, on 3,000 random needle sets of 10 records each', () => {
    const cases = new UrgentCases(20261203);
    let urgent = 0;
    let total = 0;
    for (let set = 0; set < 3000; set++) {
      const needles = cases.needles();
      const records = Array.from({ length: 10 }, () => cases.record(needles));
      const got = matches(needles, records);
      records.forEach((r, i) => {
        const want = referenceUrgent(needles, r);
        if (got[i] !== want) assert.fail(`needles ${JSON.stringify(needles)}, record ${JSON.stringify(r)}: native ${String(got[i])}, reference ${String(want)}`);
        if (want) urgent++;
        total++;
      });
    }
    // Both answers must be common, or agreeing would prove little.
    assert.ok(urgent > total * 0.2 && urgent < total * 0.8, `${urgent} of ${total} urgent`);
  });

  it('reads every string of the record, folds only ASCII letters, and handles long and adversarial text', () => {
    for (const f of PROBE_FIELDS) {
      assert.deepEqual(matches(['keyChain'], [{ [f]: '/Users/a/Library/KEYCHAINS/x' }, { [f]: '/Users/a/Library/Key-chains' }]), [true, false], f);
    }
    assert.deepEqual(matches(['keychain'], [{ args: ['cat', 'x', 'login.keychain-db'] }, { args: Array.from({ length: 5000 }, (_, i) => `arg-${i}`) }]), [true, false]);
    assert.deepEqual(matches(['é', 'k'], [{ args: ['É'] }, { args: ['\u212a'] }, { args: ['caf\u00e9'] }, { args: [Buffer.from([0xc3])] }]), [false, false, true, false]);
    // Needles that make a backtracking or naive search quadratic: a^n b against a long run of a.
    const needles = Array.from({ length: 64 }, (_, i) => `${'a'.repeat(i + 1)}b`);
    const run = 'a'.repeat(1 << 20);
    assert.deepEqual(matches(needles, [{ args: [run] }, { args: [`${run}b`] }, { args: [`${run}c`, 'ab'] }]), [false, true, true]);
    assert.deepEqual(matches(needles, [{ args: [`b${'a'.repeat(63)}`] }]), [false]);
  });

  it('has no needle set = every exec urgent, [] = none, and an empty needle = every exec', () => {
    assert.deepEqual(matches(null, [{}, { args: ['x'] }]), [true, true]);
    assert.deepEqual(matches([], [{}, { args: ['keychain'] }]), [false, false]);
    assert.deepEqual(matches(['zz', ''], [{}, { args: ['x'] }]), [true, true]);
  });

  it('refuses needle sets over the caps, from start() and from setUrgentText(), and bad types', () => {
    const tooManyBytes = ['k'.repeat(8193)];
    const tooMany = Array.from({ length: 4097 }, (_, i) => String(i % 10));
    assert.deepEqual(matches(Array.from({ length: 4096 }, (_, i) => `${i % 10}${i % 7}`), [{ args: ['x36'] }]), [true], 'exactly at both caps');
    assert.throws(() => matches(tooManyBytes, []), /8193 bytes of needles, more than the cap of 8192/);
    assert.throws(() => startAddonSource({ backend: 'synthetic', syntheticCount: 1, urgentText: tooMany }, () => undefined), (e: unknown) => e instanceof RangeError && /4097 needles, more than the cap of 4096/.test(e.message));
    assert.throws(() => startAddonSource({ backend: 'synthetic', syntheticCount: 1, urgentText: [1 as unknown as string] }, () => undefined), /option urgentText must be an array of strings, or null/);
    const { source } = startAddonSource({ backend: 'synthetic', syntheticCount: 0 }, () => undefined);
    assert.throws(() => source.setUrgentText(tooManyBytes), /more than the cap/);
    assert.throws(() => source.setUrgentText('keychain' as unknown as string[]), /urgent text must be an array of strings, or null/);
    source.stop();
  });

  it('counts the urgent execs of the synthetic producer, delivers every record in order, and swaps the set at run time', async () => {
    // Its execs carry "host-<i>": "HOST-7" is urgent for i = 7, 70-79 and 700-799.
    for (const [urgentText, want] of [[['HOST-7'], 111], [['/library/keychains/'], 1000], [[], 0], [undefined, 1000]] as const) {
      const { batches, source } = await syntheticBatches(1000, {}, urgentText === undefined ? {} : { urgentText: [...urgentText] });
      const seqs = batches.flatMap((b) => decodeBatch(b).records.map((r) => (r as ExecRecord).seq));
      assert.deepEqual(seqs, Array.from({ length: 1000 }, (_, i) => i + 1));
      assert.equal(source.stats().urgent, want, JSON.stringify(urgentText));
    }
    // A running session takes the new set for the execs pushed after the call returns; a refused
    // set changes nothing. The producer runs free, so the counters are read while it pushes:
    // a few records either side of each call are allowed for.
    let records = 0;
    const { source } = startAddonSource({ backend: 'synthetic', syntheticCount: 1e12, urgentText: [] }, (b) => (records += (b as Buffer).readUInt32LE(8)));
    const counts = (): { captured: number; urgent: number } => {
      const s = source.stats();
      return { captured: s.captured ?? 0, urgent: s.urgent ?? 0 };
    };
    const phase = async (change: () => void): Promise<{ captured: number; urgent: number }> => {
      change();
      const from = counts();
      await waitUntil(() => counts().captured > from.captured + 20_000, 10_000);
      const to = counts();
      return { captured: to.captured - from.captured, urgent: to.urgent - from.urgent };
    };
    await waitUntil(() => records > 0, 10_000);
    assert.equal(counts().urgent, 0);
    const refuse = (): void => assert.throws(() => source.setUrgentText(['k'.repeat(9000)]), RangeError);
    const security = await phase(() => source.setUrgentText(['SECURITY']));
    const stillSecurity = await phase(refuse);
    const none = await phase(() => source.setUrgentText([]));
    const stillNone = await phase(refuse);
    const all = await phase(() => source.setUrgentText(null));
    for (const p of [security, stillSecurity, all]) assert.ok(p.urgent >= p.captured - 100, `${p.urgent} of ${p.captured} urgent`);
    for (const p of [none, stillNone]) assert.ok(p.urgent <= 100, `${p.urgent} of ${p.captured} urgent after []`);
    source.stop();
  });
});
