/**
 * keysentry's recording format (docs/recording-format.md): JSON Lines, a header line, then
 * one source record per line exactly as the live source produced it (bigints as decimal
 * strings), so that replaying it gives the alerts of the live run that wrote it.
 */
import type { Writable } from 'node:stream';
import type { CodeSignatureInfo, ExecRecord, ExitRecord, ForkRecord, ProcessImage, ProcessRef, SeedRecord, SourceRecord } from '../model/records';
import type { HostInfo } from '../process/ecs';
import { FieldError, bigintString, count, int32, isObject, obj, optBool, optStr, pidNumber, str, strArray, uint32, type JsonObject } from './fields';
import type { SourceItem } from './types';

export const RECORDING_FORMAT = 'keysentry-recording';
export const RECORDING_VERSION = 1;

export interface RecordingHeader {
  format: typeof RECORDING_FORMAT;
  version: number;
  host: HostInfo;
  /** The source that produced the records ("native-linux", "eslogger", ...). */
  source: string;
  /** ISO-8601 wall-clock time the recording started. */
  startedAt: string;
  /** keysentry version that wrote it. */
  writer?: string;
}

/** A line after the header: a record, or a count of events the live source lost. */
export type RecordingLine = SourceRecord | { kind: 'lost'; timeNs: bigint; count: number };

function encode(line: RecordingLine): string {
  return JSON.stringify(line, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Writes a recording to a stream. `write` returns a promise only when the stream wants draining. */
export class RecordingWriter {
  constructor(
    private readonly out: Writable,
    header: Omit<RecordingHeader, 'format' | 'version'>,
  ) {
    const full: RecordingHeader = { format: RECORDING_FORMAT, version: RECORDING_VERSION, ...header };
    out.write(JSON.stringify(full) + '\n');
  }

  write(line: RecordingLine): void | Promise<void> {
    if (this.out.write(encode(line) + '\n')) return undefined;
    return new Promise((resolve) => this.out.once('drain', () => resolve()));
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.out.once('error', reject);
      this.out.end(() => resolve());
    });
  }
}

/** Thrown for a header this reader cannot read: the whole recording is unusable. */
export class RecordingHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordingHeaderError';
  }
}

/** A recording's header, or one of its record lines (then the header is missing or damaged). */
export function looksLikeRecording(value: JsonObject): boolean {
  return value.format === RECORDING_FORMAT || (typeof value.kind === 'string' && typeof value.timeNs === 'string');
}

export function decodeHeader(value: unknown, where: string): RecordingHeader {
  if (!isObject(value) || value.format !== RECORDING_FORMAT) {
    throw new RecordingHeaderError(`${where}: not a keysentry recording (the first line must be its header)`);
  }
  if (value.version !== RECORDING_VERSION) {
    throw new RecordingHeaderError(`${where}: recording format version ${String(value.version)} is not supported (this keysentry reads version ${RECORDING_VERSION})`);
  }
  try {
    const h = obj(value.host, 'host');
    const host: HostInfo = { osType: str(obj(h, 'host').osType, 'host.osType') };
    const hostname = optStr(h.hostname, 'host.hostname');
    if (hostname !== undefined) host.hostname = hostname;
    const id = optStr(h.id, 'host.id');
    if (id !== undefined) host.id = id;
    const header: RecordingHeader = {
      format: RECORDING_FORMAT,
      version: RECORDING_VERSION,
      host,
      source: str(value.source, 'source'),
      startedAt: str(value.startedAt, 'startedAt'),
    };
    const writer = optStr(value.writer, 'writer');
    if (writer !== undefined) header.writer = writer;
    return header;
  } catch (err) {
    if (err instanceof FieldError) throw new RecordingHeaderError(`${where}: bad recording header: ${err.message}`);
    throw err;
  }
}

function ref(v: unknown, path: string): ProcessRef {
  const o = obj(v, path);
  const out: ProcessRef = { pid: pidNumber(o.pid, `${path}.pid`) };
  if (o.pidversion !== undefined) out.pidversion = pidNumber(o.pidversion, `${path}.pidversion`);
  return out;
}

function image(v: unknown, path: string): ProcessImage {
  const o = obj(v, path);
  const out: ProcessImage = { ...ref(o, path), executable: str(o.executable, `${path}.executable`) };
  if (o.codeSignature !== undefined) {
    const c = obj(o.codeSignature, `${path}.codeSignature`);
    const cs: CodeSignatureInfo = {};
    if (c.flags !== undefined && c.flags !== null) cs.flags = uint32(c.flags, `${path}.codeSignature.flags`);
    const signingId = optStr(c.signingId, `${path}.codeSignature.signingId`);
    if (signingId !== undefined) cs.signingId = signingId;
    const teamId = optStr(c.teamId, `${path}.codeSignature.teamId`);
    if (teamId !== undefined) cs.teamId = teamId;
    const platform = optBool(c.isPlatformBinary, `${path}.codeSignature.isPlatformBinary`);
    if (platform !== undefined) cs.isPlatformBinary = platform;
    out.codeSignature = cs;
  }
  return out;
}

/** An exit's process: an image when the source showed what it ran, else a ref. */
function refOrImage(v: unknown, path: string): ProcessRef | ProcessImage {
  return isObject(v) && v.executable !== undefined ? image(v, path) : ref(v, path);
}

/** Copies the optional fields that are present, each read by its decoder. */
function pick<T extends object>(into: T, from: JsonObject, fields: { [K in keyof T]?: (v: unknown, path: string) => T[K] }): T {
  for (const key of Object.keys(fields) as Array<keyof T & string>) {
    const read = fields[key];
    if (read !== undefined && from[key] !== undefined) into[key] = read(from[key], key);
  }
  return into;
}

/** One parsed line after the header -> a recording line; throws FieldError when it does not fit. */
export function decodeRecordingLine(value: unknown): RecordingLine {
  const o = obj(value, 'line');
  const kind = str(o.kind, 'kind');
  const timeNs = bigintString(o.timeNs, 'timeNs');
  const seq = o.seq === undefined || o.seq === null ? undefined : count(o.seq, 'seq');
  const base = seq === undefined ? { timeNs } : { timeNs, seq };
  switch (kind) {
    case 'exec':
      return pick<ExecRecord>(
        {
          kind,
          ...base,
          process: image(o.process, 'process'),
          args: strArray(o.args, 'args'),
          argsComplete: optBool(o.argsComplete, 'argsComplete') ?? true,
        },
        o,
        {
          pathsComplete: optBool,
          cwd: str,
          uid: uint32,
          euid: uint32,
          gid: uint32,
          userName: str,
          parent: ref,
          parentExecutable: str,
          responsible: ref,
          preExec: image,
        },
      );
    case 'fork':
      return pick<ForkRecord>({ kind, ...base, child: image(o.child, 'child'), parent: ref(o.parent, 'parent') }, o, { parentImage: image });
    case 'exit':
      return pick<ExitRecord>({ kind, ...base, process: refOrImage(o.process, 'process') }, o, { status: int32 });
    case 'seed':
      return pick<SeedRecord>({ kind, timeNs, process: image(o.process, 'process') }, o, {
        args: strArray,
        parent: ref,
        startTimeNs: bigintString,
      });
    case 'lost':
      return { kind, timeNs, count: count(o.count, 'count') };
    default:
      throw new FieldError('kind', `unknown record kind '${kind.slice(0, 40)}'`);
  }
}

/** Decodes one line after the header; `lost` lines are reported through `onLost`. */
export function recordingItem(value: unknown, where: string, onLost: (count: number) => void): SourceItem | undefined {
  try {
    const line = decodeRecordingLine(value);
    if (line.kind === 'lost') {
      onLost(line.count);
      return undefined;
    }
    return { kind: 'record', record: line, where };
  } catch (err) {
    if (err instanceof FieldError) return { kind: 'reject', where, reason: err.message };
    throw err;
  }
}
