/**
 * The agent's disk spool: every alert is made durable here, with its per-agent sequence
 * number, before the reporter may send it. See docs/delivery.md for the format.
 *
 * Layout: <dir>/meta.json (stream id, last acked sequence) and segment files
 * <dir>/seg-<first seq, 16 digits>.log, each a run of records
 *   u32 magic "KSP1" | u32 payload length | u32 crc32(seq bytes + payload) | u64 seq | payload
 * where the payload is the alert as UTF-8 JSON. Appends are group-committed: every write
 * queued in the same turn goes out in one write() + fdatasync().
 *
 * Crash safety: a record torn by SIGKILL or power loss fails its length or checksum; at open
 * the tail of the newest segment is truncated at the first bad record (that alert's write()
 * never resolved, so its sequence number is reused). Damage inside an older segment skips to
 * the next valid record, and the sequence numbers lost there surface as a gap.
 *
 * Bound: when the spool exceeds `maxBytes`, whole oldest segments go; the reporter sees the
 * jump in sequence numbers and tells the collector exactly which range was lost.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';

const MAGIC = 0x4b535031; // "KSP1"
export const RECORD_HEADER_BYTES = 20;
const SEGMENT_PATTERN = /^seg-(\d{16})\.log$/;
const META_FILE = 'meta.json';

export interface SpoolOptions {
  dir: string;
  /** Upper bound on the bytes of all segments; default 128 MiB. */
  maxBytes?: number;
  /** A segment is closed and a new one started past this size; default maxBytes / 16 (4 KiB .. 8 MiB). */
  segmentBytes?: number;
  /** A larger alert is replaced by a stub that keeps its identifying fields; default 1 MiB. */
  maxRecordBytes?: number;
}

export interface SpoolEntry {
  seq: number;
  /** The alert, as the JSON text that was spooled. */
  json: string;
}

export interface SpoolStats {
  /** Entries written but not yet acknowledged. */
  depth: number;
  bytes: number;
  segments: number;
  /**
   * Alerts removed unacknowledged because the spool was full, since this process started, less
   * those the collector acknowledged afterwards: an alert sent before its segment went and
   * acknowledged after was delivered, not dropped.
   */
  dropped: number;
  /** Alerts replaced by a stub because they exceeded maxRecordBytes. */
  truncated: number;
  /** Records found damaged at open (torn tail or corruption). */
  damaged: number;
  nextSeq: number;
  acked: number;
}

interface Segment {
  firstSeq: number;
  /** 0 when empty. */
  lastSeq: number;
  count: number;
  bytes: number;
  file: string;
}

interface PendingAppend {
  json: string;
  resolve(seq: number): void;
  reject(err: Error): void;
}

interface ReadCursor {
  file: string;
  offset: number;
  nextSeq: number;
}

interface Meta {
  stream: string;
  acked: number;
}

/** One decoded record, or the reason the bytes at that offset are not one. */
type Decoded =
  | { ok: true; seq: number; payload: Buffer; size: number }
  | { ok: false; reason: 'short' | 'magic' | 'checksum' | 'length' };

function decodeRecord(buf: Buffer, offset: number, maxRecordBytes: number): Decoded {
  if (buf.length - offset < RECORD_HEADER_BYTES) return { ok: false, reason: 'short' };
  if (buf.readUInt32BE(offset) !== MAGIC) return { ok: false, reason: 'magic' };
  const length = buf.readUInt32BE(offset + 4);
  if (length > maxRecordBytes) return { ok: false, reason: 'length' };
  const size = RECORD_HEADER_BYTES + length;
  if (buf.length - offset < size) return { ok: false, reason: 'short' };
  const checked = buf.subarray(offset + 12, offset + size);
  if (crc32(checked) !== buf.readUInt32BE(offset + 8)) return { ok: false, reason: 'checksum' };
  const seq = Number(buf.readBigUInt64BE(offset + 12));
  return { ok: true, seq, payload: buf.subarray(offset + RECORD_HEADER_BYTES, offset + size), size };
}

function encodeRecord(seq: number, payload: Buffer): Buffer {
  const rec = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  rec.writeUInt32BE(MAGIC, 0);
  rec.writeUInt32BE(payload.length, 4);
  rec.writeBigUInt64BE(BigInt(seq), 12);
  payload.copy(rec, RECORD_HEADER_BYTES);
  rec.writeUInt32BE(crc32(rec.subarray(12)), 8);
  return rec;
}

function segmentName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, '0')}.log`;
}

/** Replaces an oversized alert by the fields an analyst needs to go and look. */
function oversizedStub(json: string, maxRecordBytes: number): string {
  const doc = JSON.parse(json) as Record<string, unknown>;
  const keep = ['@timestamp', 'event', 'rule', 'host', 'agent', 'threat'];
  const stub: Record<string, unknown> = {};
  for (const k of keep) if (doc[k] !== undefined) stub[k] = doc[k];
  stub.keysentry = { delivery: { truncated_bytes: Buffer.byteLength(json) } };
  const text = JSON.stringify(stub);
  // The kept fields themselves may be what is huge (a giant rule description).
  if (Buffer.byteLength(text) <= maxRecordBytes) return text;
  return JSON.stringify({ '@timestamp': doc['@timestamp'] ?? null, keysentry: stub.keysentry });
}

/**
 * The newest durable entries, consecutive in sequence, up to a byte budget: a copy of the
 * spool's tail in memory. The oldest fall out first; the disk stays the source of truth.
 */
class RecentEntries {
  private entries: SpoolEntry[] = [];
  private head = 0;
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  covers(seq: number): boolean {
    const first = this.entries[this.head];
    return first !== undefined && seq >= first.seq && seq < first.seq + (this.entries.length - this.head);
  }

  take(fromSeq: number, maxEntries: number, maxBytes: number): SpoolEntry[] {
    const first = this.entries[this.head] as SpoolEntry;
    const out: SpoolEntry[] = [];
    let taken = 0;
    for (let i = this.head + fromSeq - first.seq; i < this.entries.length && out.length < maxEntries && taken < maxBytes; i++) {
      const e = this.entries[i] as SpoolEntry;
      out.push(e);
      taken += e.json.length;
    }
    return out;
  }

  push(added: SpoolEntry[]): void {
    for (const e of added) {
      this.entries.push(e);
      this.bytes += e.json.length;
    }
    while (this.bytes > this.maxBytes && this.head < this.entries.length) this.removeFirst();
    this.compact();
  }

  dropThrough(seq: number): void {
    while (this.head < this.entries.length && (this.entries[this.head] as SpoolEntry).seq <= seq) this.removeFirst();
    this.compact();
  }

  private removeFirst(): void {
    this.bytes -= (this.entries[this.head] as SpoolEntry).json.length;
    this.head++;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

export class Spool extends EventEmitter {
  readonly dir: string;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  readonly maxRecordBytes: number;
  private segments: Segment[] = [];
  private fd: fs.promises.FileHandle | null = null;
  private meta: Meta = { stream: '', acked: 0 };
  private nextSeq = 1;
  private totalBytes = 0;
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  /** Serializes every file operation: appends, reads, deletions. */
  private chain: Promise<unknown> = Promise.resolve();
  private cursor: ReadCursor | null = null;
  private readonly tail: RecentEntries;
  private metaDirty = false;
  private closed = false;
  private counters = { dropped: 0, truncated: 0, damaged: 0 };
  /**
   * The sequences counted in `dropped` that an ack may yet show delivered. One range: segments go
   * oldest first and the ack is cumulative, so what was evicted unacknowledged is contiguous.
   */
  private evictedUnacked: { from: number; to: number } | null = null;

  private constructor(opts: SpoolOptions) {
    super();
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes ?? 128 * 1024 * 1024;
    this.segmentBytes = opts.segmentBytes ?? Math.min(8 * 1024 * 1024, Math.max(4096, Math.floor(this.maxBytes / 16)));
    this.maxRecordBytes = opts.maxRecordBytes ?? Math.min(1024 * 1024, this.segmentBytes);
    this.tail = new RecentEntries(Math.min(8 * 1024 * 1024, Math.floor(this.maxBytes / 4)));
  }

  /** Opens (creating if needed) the spool in `opts.dir`, repairing a torn tail. */
  static async open(opts: SpoolOptions): Promise<Spool> {
    const spool = new Spool(opts);
    await spool.load();
    return spool;
  }

  /** Identifies this spool's sequence space; a wiped state directory starts a new stream. */
  get stream(): string {
    return this.meta.stream;
  }

  get acked(): number {
    return this.meta.acked;
  }

  /** Resolves with the alert's sequence number once it is on disk (fdatasync'd). */
  append(alert: unknown): Promise<number> {
    if (this.closed) return Promise.reject(new Error('spool is closed'));
    let json: string;
    try {
      const text: string | undefined = JSON.stringify(alert);
      if (text === undefined || text === 'null') throw new Error('not a JSON object');
      json = text;
    } catch (err) {
      // A value JSON cannot hold (a BigInt, a cycle): the caller learns, the spool carries on.
      return Promise.reject(new Error(`alert cannot be serialized: ${err instanceof Error ? err.message : String(err)}`));
    }
    if (Buffer.byteLength(json) > this.maxRecordBytes) {
      json = oversizedStub(json, this.maxRecordBytes);
      this.counters.truncated++;
    }
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ json, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          void this.serialize(() => this.flushPending());
        });
      }
    });
  }

  /** Resolves when every append made so far is on disk. */
  sync(): Promise<void> {
    return this.serialize(() => this.flushPending());
  }

  /**
   * Up to `maxEntries` / about `maxBytes` of entries with seq >= fromSeq, in order. Entries
   * below the oldest retained one are gone (acked, or dropped when the spool was full).
   */
  read(fromSeq: number, maxEntries: number, maxBytes: number): Promise<SpoolEntry[]> {
    // The common case, a sender keeping up: what it wants was just written and is still in
    // memory, so it need not wait behind the next fsync to read it back.
    if (fromSeq >= this.nextSeq) return Promise.resolve([]);
    if (this.tail.covers(fromSeq)) return Promise.resolve(this.tail.take(fromSeq, maxEntries, maxBytes));
    return this.serialize(() => this.readEntries(fromSeq, maxEntries, maxBytes));
  }

  /** The oldest sequence still on disk above `after`, or nextSeq when there is none. */
  private oldestAfter(after: number): number {
    for (const seg of this.segments) {
      if (seg.count > 0 && seg.lastSeq > after) return Math.max(seg.firstSeq, after + 1);
    }
    return this.nextSeq;
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /** The collector has committed everything up to `seq`: forget it. */
  ack(seq: number): Promise<void> {
    return this.serialize(async () => {
      if (seq <= this.meta.acked) return;
      this.meta.acked = Math.min(seq, this.nextSeq - 1);
      this.creditDelivered(this.meta.acked);
      this.metaDirty = true;
      this.tail.dropThrough(this.meta.acked);
      await this.removeAcked();
    });
  }

  /**
   * The collector has already committed sequences up to `seq` under this stream (a state
   * directory restored from an old backup): everything still spooled is numbered again after
   * `seq`, or the collector would discard it as duplicates of what it already holds. (Some of
   * it may indeed be old alerts stored before: duplicates are the lesser harm than loss.)
   */
  renumberAfter(seq: number): Promise<void> {
    return this.serialize(async () => {
      if (seq < this.nextSeq) return;
      this.evictedUnacked = null; // the collector's sequences up to `seq` are not ours: that ack shows nothing delivered
      const unacked = await this.readEntries(this.meta.acked + 1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      const stale = new Set(this.segments.map((s) => s.file));
      this.tail.dropThrough(Number.MAX_SAFE_INTEGER);
      this.cursor = null;
      this.nextSeq = seq + 1;
      this.meta.acked = seq;
      await this.writeMeta(true);
      await this.startSegment();
      // Re-appended ahead of any alert written meanwhile, so the order is kept.
      let rewritten = true;
      const resolve = (): void => undefined;
      const reject = (): void => {
        rewritten = false;
      };
      this.pending.unshift(...unacked.map((e) => ({ json: e.json, resolve, reject })));
      await this.flushPending();
      // The old copies go only once the new ones are on disk.
      while (rewritten && this.segments.length > 1 && stale.has((this.segments[0] as Segment).file)) await this.removeOldest();
    });
  }

  stats(): SpoolStats {
    const unackedFrom = Math.max(this.meta.acked + 1, this.oldestAfter(this.meta.acked));
    return {
      depth: Math.max(0, this.nextSeq - unackedFrom),
      bytes: this.totalBytes,
      segments: this.segments.length,
      dropped: this.counters.dropped,
      truncated: this.counters.truncated,
      damaged: this.counters.damaged,
      nextSeq: this.nextSeq,
      acked: this.meta.acked,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sync();
    this.closed = true;
    await this.serialize(async () => {
      await this.removeAcked(true);
      await this.writeMeta();
      await this.fd?.close();
      this.fd = null;
    });
  }

  private serialize<T>(op: () => Promise<T>): Promise<T> {
    const next = this.chain.then(op, op);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async load(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await fsp.chmod(this.dir, 0o700);
    await this.readMeta();
    const names = (await fsp.readdir(this.dir)).filter((n) => SEGMENT_PATTERN.test(n)).sort();
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const isLast = i === names.length - 1;
      this.segments.push(await this.scanSegment(name, isLast));
    }
    const last = this.segments[this.segments.length - 1];
    if (last === undefined) {
      this.nextSeq = this.meta.acked + 1;
      await this.startSegment();
    } else {
      this.nextSeq = last.count > 0 ? last.lastSeq + 1 : last.firstSeq;
      if (this.nextSeq <= this.meta.acked) this.nextSeq = this.meta.acked + 1;
      this.fd = await fsp.open(path.join(this.dir, last.file), 'a', 0o600);
    }
    this.totalBytes = this.segments.reduce((n, s) => n + s.bytes, 0);
    await this.removeAcked(true);
  }

  private async readMeta(): Promise<void> {
    const file = path.join(this.dir, META_FILE);
    try {
      const parsed = JSON.parse(await fsp.readFile(file, 'utf8')) as Partial<Meta>;
      if (typeof parsed.stream === 'string' && parsed.stream.length > 0) this.meta.stream = parsed.stream;
      if (Number.isSafeInteger(parsed.acked) && (parsed.acked as number) >= 0) this.meta.acked = parsed.acked as number;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.counters.damaged++;
    }
    if (this.meta.stream === '') {
      this.meta.stream = randomUUID();
      // A stream id must be durable before any sequence number is spent under it.
      await this.writeMeta(true);
    }
  }

  /** Rewrites meta.json atomically; `durable` also fsyncs it (needed only for a new stream id). */
  private async writeMeta(durable = false): Promise<void> {
    const file = path.join(this.dir, META_FILE);
    const tmp = `${file}.tmp`;
    const fh = await fsp.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(this.meta));
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
    if (durable) await this.syncDir();
    this.metaDirty = false;
  }

  private async syncDir(): Promise<void> {
    const dh = await fsp.open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }

  /** Indexes one segment; the newest one is truncated at its first bad record. */
  private async scanSegment(file: string, isLast: boolean): Promise<Segment> {
    const full = path.join(this.dir, file);
    const firstSeq = Number((SEGMENT_PATTERN.exec(file) as RegExpExecArray)[1]);
    const buf = await fsp.readFile(full);
    const seg: Segment = { firstSeq, lastSeq: 0, count: 0, bytes: buf.length, file };
    let offset = 0;
    while (offset < buf.length) {
      const rec = decodeRecord(buf, offset, this.maxRecordBytes);
      if (rec.ok) {
        if (seg.count === 0) seg.firstSeq = rec.seq;
        seg.lastSeq = rec.seq;
        seg.count++;
        offset += rec.size;
        continue;
      }
      this.counters.damaged++;
      if (isLast) {
        await fsp.truncate(full, offset);
        seg.bytes = offset;
        break;
      }
      offset = this.resync(buf, offset + 1);
    }
    await fsp.chmod(full, 0o600);
    return seg;
  }

  /** The offset of the next valid record at or after `from` (linear scan for the magic). */
  private resync(buf: Buffer, from: number): number {
    const magic = Buffer.from([0x4b, 0x53, 0x50, 0x31]);
    let at = buf.indexOf(magic, from);
    while (at !== -1) {
      if (decodeRecord(buf, at, this.maxRecordBytes).ok) return at;
      at = buf.indexOf(magic, at + 1);
    }
    return buf.length;
  }

  private async startSegment(): Promise<void> {
    await this.fd?.close();
    const file = segmentName(this.nextSeq);
    this.fd = await fsp.open(path.join(this.dir, file), 'a', 0o600);
    this.segments.push({ firstSeq: this.nextSeq, lastSeq: 0, count: 0, bytes: 0, file });
    await this.syncDir();
  }

  private async flushPending(): Promise<void> {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    try {
      let active = this.segments[this.segments.length - 1] as Segment;
      if (active.bytes >= this.segmentBytes) {
        await this.startSegment();
        active = this.segments[this.segments.length - 1] as Segment;
      }
      const firstSeq = this.nextSeq;
      const records = batch.map((p, i) => encodeRecord(firstSeq + i, Buffer.from(p.json)));
      const bytes = Buffer.concat(records);
      const fd = this.fd as fs.promises.FileHandle;
      await fd.write(bytes);
      await fd.datasync();
      if (active.count === 0) active.firstSeq = firstSeq;
      active.count += batch.length;
      active.lastSeq = firstSeq + batch.length - 1;
      active.bytes += bytes.length;
      this.totalBytes += bytes.length;
      this.nextSeq += batch.length;
      this.tail.push(batch.map((p, i) => ({ seq: firstSeq + i, json: p.json })));
      await this.enforceBound();
      batch.forEach((p, i) => p.resolve(firstSeq + i));
      this.emit('append', this.nextSeq - 1);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      for (const p of batch) p.reject(e);
    }
  }

  /** Drops whole oldest segments until the spool fits; the active one always stays. */
  private async enforceBound(): Promise<void> {
    while (this.totalBytes > this.maxBytes && this.segments.length > 1) {
      const oldest = this.segments[0] as Segment;
      const from = Math.max(this.meta.acked, oldest.firstSeq - 1) + 1;
      if (oldest.count > 0 && oldest.lastSeq >= from) {
        this.counters.dropped += oldest.lastSeq - from + 1;
        this.evictedUnacked = { from: this.evictedUnacked?.from ?? from, to: oldest.lastSeq };
      }
      await this.removeOldest();
    }
  }

  /** An ack through `acked` covering alerts counted as dropped: they reached the collector. */
  private creditDelivered(acked: number): void {
    const evicted = this.evictedUnacked;
    if (evicted === null || acked < evicted.from) return;
    const through = Math.min(acked, evicted.to);
    this.counters.dropped -= through - evicted.from + 1;
    this.evictedUnacked = through === evicted.to ? null : { from: through + 1, to: evicted.to };
  }

  private async removeOldest(): Promise<void> {
    const oldest = this.segments.shift() as Segment;
    this.totalBytes -= oldest.bytes;
    if (oldest.count > 0) this.tail.dropThrough(oldest.lastSeq);
    if (this.cursor?.file === oldest.file) this.cursor = null;
    await fsp.rm(path.join(this.dir, oldest.file), { force: true });
  }

  /** `compactTail`: also replace a fully acked active segment however small (open, close). */
  private async removeAcked(compactTail = false): Promise<void> {
    while (this.segments.length > 1) {
      const oldest = this.segments[0] as Segment;
      if (oldest.count > 0 && oldest.lastSeq > this.meta.acked) break;
      await this.removeOldest();
    }
    // A fully acknowledged active segment is replaced by an empty one, whose name alone
    // carries the next sequence number across restarts. Not on every ack: a new file costs a
    // directory fsync on the append path, so a small acked tail waits (meta.acked covers it).
    const active = this.segments[this.segments.length - 1] as Segment;
    if (active.count > 0 && active.lastSeq <= this.meta.acked && (compactTail || active.bytes >= this.segmentBytes / 4)) {
      await this.startSegment();
      await this.removeOldest();
    }
    if (this.metaDirty) await this.writeMeta();
  }

  private async readEntries(fromSeq: number, maxEntries: number, maxBytes: number): Promise<SpoolEntry[]> {
    const out: SpoolEntry[] = [];
    let taken = 0;
    const reusable = this.cursor !== null && this.cursor.nextSeq === fromSeq;
    let cursor = reusable ? this.cursor : this.seek(fromSeq);
    let minWindow = 0;
    while (cursor !== null && out.length < maxEntries && taken < maxBytes) {
      const file = cursor.file;
      const segIndex = this.segments.findIndex((s) => s.file === file);
      const seg = this.segments[segIndex];
      if (seg === undefined) {
        cursor = this.seek(fromSeq);
        continue;
      }
      if (cursor.offset >= seg.bytes) {
        const next = this.segments[segIndex + 1];
        if (next === undefined) break;
        cursor = { file: next.file, offset: 0, nextSeq: cursor.nextSeq };
        continue;
      }
      // Enough for the batch; a record larger than that gets a window of exactly its size.
      const window = Math.min(seg.bytes - cursor.offset, Math.max(minWindow, Math.max(maxBytes - taken, 4096) + RECORD_HEADER_BYTES));
      const buf = await this.readAt(seg.file, cursor.offset, window);
      minWindow = 0;
      let off = 0;
      while (off < buf.length && out.length < maxEntries && taken < maxBytes) {
        const rec = decodeRecord(buf, off, this.maxRecordBytes);
        if (rec.ok) {
          off += rec.size;
          if (rec.seq >= fromSeq) {
            out.push({ seq: rec.seq, json: rec.payload.toString('utf8') });
            taken += rec.payload.length;
          }
          continue;
        }
        if (rec.reason === 'short') {
          const remaining = seg.bytes - cursor.offset - off;
          const wanted = buf.length - off >= 8 ? RECORD_HEADER_BYTES + buf.readUInt32BE(off + 4) : RECORD_HEADER_BYTES;
          // Cut by the window, not by damage: read on from here, with room for the whole record.
          if (wanted <= remaining) {
            if (off === 0) minWindow = wanted;
            break;
          }
        }
        off = this.resync(buf, off + 1);
      }
      const last = out[out.length - 1];
      cursor = { file: seg.file, offset: cursor.offset + off, nextSeq: last === undefined ? fromSeq : last.seq + 1 };
    }
    this.cursor = cursor;
    return out;
  }

  private seek(fromSeq: number): ReadCursor | null {
    let idx = 0;
    for (let i = 0; i < this.segments.length; i++) {
      if ((this.segments[i] as Segment).firstSeq <= fromSeq) idx = i;
    }
    const seg = this.segments[idx];
    return seg === undefined ? null : { file: seg.file, offset: 0, nextSeq: fromSeq };
  }

  private async readAt(file: string, offset: number, length: number): Promise<Buffer> {
    const fh = await fsp.open(path.join(this.dir, file), 'r');
    try {
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }
}
