/**
 * Decoder of the addon's packed batches (native/core/batch.h) into SourceRecords.
 *
 * The batch is untrusted in the sense that a bug on the C++ side must never turn into an
 * out-of-bounds read or an endless loop here: every length is checked against the buffer
 * and a bad record ends the batch with a `BatchFormatError` that says where.
 */
import type { ExecRecord, ExitRecord, ForkRecord, ProcessImage, ProcessRef, SourceRecord } from '../model/records';

export const BATCH_MAGIC = 0x424e534b; // "KSNB"
export const BATCH_VERSION = 1;
const HEADER_SIZE = 16;
const FIXED_RECORD_SIZE = 76;
/** Bit 31 of a string length: the string is a reference to an earlier one (batch.h). */
const STRING_REFERENCE = 0x8000_0000;

const KIND_EXEC = 1;
const KIND_FORK = 2;
const KIND_EXIT = 3;

const FLAG_ARGS_COMPLETE = 1;
const FLAG_HAS_CWD = 2;
const FLAG_HAS_CODE_SIGNATURE = 4;
const FLAG_PLATFORM_BINARY = 8;
const FLAG_PATH_TRUNCATED = 16;

export class BatchFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`native batch: ${message} at byte ${offset}`);
    this.name = 'BatchFormatError';
  }
}

export interface DecodedBatch {
  records: SourceRecord[];
  /** Set when the batch was cut short by a malformed record; `records` holds those before it. */
  error?: BatchFormatError;
}

/** Decodes one batch; the records before a malformed one are kept. */
export function decodeBatch(buf: Buffer): DecodedBatch {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.byteLength < HEADER_SIZE) return { records: [], error: new BatchFormatError('truncated header', 0) };
  if (view.getUint32(0, true) !== BATCH_MAGIC) return { records: [], error: new BatchFormatError('bad magic', 0) };
  const version = view.getUint16(4, true);
  if (version !== BATCH_VERSION) {
    return { records: [], error: new BatchFormatError(`unsupported version ${version} (this decoder reads ${BATCH_VERSION})`, 4) };
  }
  const headerSize = view.getUint16(6, true);
  const count = view.getUint32(8, true);
  const byteLength = view.getUint32(12, true);
  if (headerSize < HEADER_SIZE || byteLength !== buf.byteLength) {
    return { records: [], error: new BatchFormatError(`length ${byteLength} in header, buffer has ${buf.byteLength}`, 12) };
  }
  const reader = new RecordReader(buf, view);
  const records: SourceRecord[] = [];
  let offset = headerSize;
  for (let i = 0; i < count; i++) {
    try {
      const size = reader.recordSize(offset);
      const record = reader.read(offset, offset + size);
      if (record !== undefined) records.push(record);
      offset += size;
    } catch (err) {
      if (err instanceof BatchFormatError) return { records, error: err };
      throw err;
    }
  }
  if (offset !== byteLength) return { records, error: new BatchFormatError(`${byteLength - offset} bytes after the last record`, offset) };
  return { records };
}

class RecordReader {
  private pos = 0;
  private end = 0;
  private readonly referencedStrings = new Map<number, string>();

  constructor(
    private readonly buf: Buffer,
    private readonly view: DataView,
  ) {}

  recordSize(offset: number): number {
    if (offset + 4 > this.buf.byteLength) throw new BatchFormatError('truncated record size', offset);
    const size = this.view.getUint32(offset, true);
    if (size < FIXED_RECORD_SIZE || offset + size > this.buf.byteLength) {
      throw new BatchFormatError(`record size ${size} out of bounds`, offset);
    }
    return size;
  }

  /** Undefined for a record kind this decoder does not know (a newer addon): skipped. */
  read(start: number, end: number): SourceRecord | undefined {
    const v = this.view;
    const kind = v.getUint8(start + 4);
    const flags = v.getUint8(start + 5);
    const timeNs = v.getBigUint64(start + 8, true);
    const seq = readU64AsNumber(v, start + 16);
    const subjectPid = v.getInt32(start + 24, true);
    const subjectVersion = v.getInt32(start + 28, true);
    const parentPid = v.getInt32(start + 32, true);
    const parentVersion = v.getInt32(start + 36, true);
    this.pos = start + FIXED_RECORD_SIZE;
    this.end = end;
    const executable = this.string();
    if (kind === KIND_EXIT) {
      const exit: ExitRecord = { kind: 'exit', timeNs, process: ref(subjectPid, subjectVersion), status: v.getInt32(start + 68, true) };
      if (seq !== 0) exit.seq = seq;
      return exit;
    }
    if (kind !== KIND_EXEC && kind !== KIND_FORK) return undefined;
    const preExecExecutable = this.string();
    const parentExecutable = this.string();
    const cwd = this.string();
    const signingId = this.string();
    const teamId = this.string();
    const process: ProcessImage = { pid: subjectPid, executable };
    if (subjectVersion >= 0) process.pidversion = subjectVersion;
    if ((flags & FLAG_HAS_CODE_SIGNATURE) !== 0) {
      process.codeSignature = { flags: v.getUint32(start + 72, true), isPlatformBinary: (flags & FLAG_PLATFORM_BINARY) !== 0 };
      if (signingId !== '') process.codeSignature.signingId = signingId;
      if (teamId !== '') process.codeSignature.teamId = teamId;
    }
    if (kind === KIND_FORK) {
      const fork: ForkRecord = { kind: 'fork', timeNs, child: process, parent: ref(parentPid, parentVersion) };
      // fork(2) copies the image: the child ES reports is running its forker's executable and
      // signature, so the record names the forker's image as the eslogger reader does from
      // msg->process (a forker that predates the agent gets its image). Linux leaves it empty.
      if (executable !== '' && parentVersion >= 0) {
        fork.parentImage = { ...fork.parent, executable };
        if (process.codeSignature !== undefined) fork.parentImage.codeSignature = process.codeSignature;
      }
      if (seq !== 0) fork.seq = seq;
      return fork;
    }
    const argc = this.u32();
    // Each arg takes at least its 4-byte length: a count beyond that is corrupt, not a huge allocation.
    if (argc * 4 > this.end - this.pos) throw new BatchFormatError(`argc ${argc} exceeds the record`, this.pos - 4);
    const args = new Array<string>(argc);
    for (let i = 0; i < argc; i++) args[i] = this.string();

    const exec: ExecRecord = { kind: 'exec', timeNs, process, args, argsComplete: (flags & FLAG_ARGS_COMPLETE) !== 0 };
    if (seq !== 0) exec.seq = seq;
    if ((flags & FLAG_PATH_TRUNCATED) !== 0) exec.pathsComplete = false;
    if ((flags & FLAG_HAS_CWD) !== 0) exec.cwd = cwd;
    const uid = v.getInt32(start + 56, true);
    const euid = v.getInt32(start + 60, true);
    const gid = v.getInt32(start + 64, true);
    if (uid >= 0) exec.uid = uid;
    if (euid >= 0) exec.euid = euid;
    if (gid >= 0) exec.gid = gid;
    if (parentPid >= 0) exec.parent = ref(parentPid, parentVersion);
    if (parentExecutable !== '') exec.parentExecutable = parentExecutable;
    const responsiblePid = v.getInt32(start + 40, true);
    if (responsiblePid >= 0) exec.responsible = ref(responsiblePid, v.getInt32(start + 44, true));
    const preExecPid = v.getInt32(start + 48, true);
    if (preExecPid >= 0) {
      const preExec: ProcessImage = { pid: preExecPid, executable: preExecExecutable };
      const preExecVersion = v.getInt32(start + 52, true);
      if (preExecVersion >= 0) preExec.pidversion = preExecVersion;
      exec.preExec = preExec;
    }
    return exec;
  }

  private u32(): number {
    if (this.pos + 4 > this.end) throw new BatchFormatError('truncated length', this.pos);
    const n = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return n;
  }

  private string(): string {
    const n = this.u32();
    if (n >= STRING_REFERENCE) return this.referenced(n - STRING_REFERENCE, this.pos - 4);
    const from = this.pos;
    if (n > this.end - from) throw new BatchFormatError(`string length ${n} exceeds the record`, from - 4);
    this.pos = from + n;
    const ascii = n <= SHORT_STRING ? shortAscii(this.buf, from, from + n) : undefined;
    return ascii ?? this.buf.toString('utf8', from, from + n);
  }

  /** A string written earlier in the batch, decoded once however often it is referenced. */
  private referenced(at: number, refAt: number): string {
    const cached = this.referencedStrings.get(at);
    if (cached !== undefined) return cached;
    // Only a definition before the reference: no reference chains, no cycles.
    if (at < HEADER_SIZE || at + 4 > refAt) throw new BatchFormatError(`string reference to byte ${at} is not before it`, refAt);
    const n = this.view.getUint32(at, true);
    if (n >= STRING_REFERENCE || at + 4 + n > refAt) throw new BatchFormatError(`string reference to byte ${at} is not a string`, refAt);
    const s = this.buf.toString('utf8', at + 4, at + 4 + n);
    this.referencedStrings.set(at, s);
    return s;
  }
}

/**
 * Strings up to this many bytes are decoded in JavaScript when they are ASCII: a call into
 * Buffer's UTF-8 decoder costs more than the loop for the short arguments of an argv. V8
 * copies a concatenation this short into a flat string (longer ones become chains).
 */
const SHORT_STRING = 12;

/** The ASCII text of buf[from, to), or undefined when a byte is not ASCII (then it is UTF-8). */
function shortAscii(buf: Buffer, from: number, to: number): string | undefined {
  let s = '';
  for (let i = from; i < to; i++) {
    const c = buf[i] as number;
    if (c >= 0x80) return undefined;
    s += String.fromCharCode(c);
  }
  return s;
}

function ref(pid: number, pidversion: number): ProcessRef {
  return pidversion >= 0 ? { pid, pidversion } : { pid };
}

/** Sequence numbers stay far below 2^53 in practice; beyond that precision loss is acceptable. */
function readU64AsNumber(v: DataView, at: number): number {
  return v.getUint32(at, true) + v.getUint32(at + 4, true) * 0x1_0000_0000;
}
