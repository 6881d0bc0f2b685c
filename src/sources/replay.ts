/**
 * Replay of recorded events: one streaming reader for the three line formats, the format
 * given or detected from the first line that parses as a JSON object.
 */
import type { HostInfo } from '../process/ecs';
import { looksLikeEcs, ecsItem } from './ecs-ndjson';
import { esloggerItem, looksLikeEslogger } from './eslogger';
import { isObject } from './fields';
import { DEFAULT_MAX_LINE_BYTES, lineText, parseJson, splitLines, type RawLine } from './lines';
import { decodeHeader, looksLikeRecording, recordingItem, type RecordingHeader } from './recording';
import type { EventSource, SourceItem, SourceStats } from './types';

export const REPLAY_FORMATS = ['auto', 'eslogger', 'ecs', 'keysentry'] as const;
export type ReplayFormatOption = (typeof REPLAY_FORMATS)[number];
export type ReplayFormat = Exclude<ReplayFormatOption, 'auto'>;

/** Lines that show no format (whatever is wrong with them) before auto-detection gives up. */
export const DETECTION_LINE_LIMIT = 1000;

/** The first two bytes of a gzip stream (RFC 1952). */
const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** The input cannot be replayed at all (undetectable format, unreadable recording header). */
export class ReplayInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayInputError';
  }
}

export interface ReplaySourceOptions {
  /** A Readable (file, stdin, a child's stdout) or any iterable of chunks. */
  input: (AsyncIterable<Buffer | string> | Iterable<Buffer | string>) & { destroy?(): void };
  /** Names the input in `where`: "capture.json" gives "capture.json:17". */
  label: string;
  format: ReplayFormatOption;
  maxLineBytes?: number;
}

export interface ReplayOpened {
  /** Undefined when the input ended before any line showed its format. */
  format?: ReplayFormat;
  /** The host the events come from, when the input says (recording header; eslogger is macOS). */
  host?: HostInfo;
  header?: RecordingHeader;
}

/**
 * Counts events lost between consecutive sequence numbers (ES global_seq_num: +1 per message
 * to this client, so a gap is a drop). A smaller number starts a new run (eslogger restarted).
 */
export class SeqGapCounter {
  private last: number | undefined;
  lost = 0;

  observe(seq: number | undefined): void {
    if (seq === undefined) return;
    if (this.last !== undefined && seq > this.last + 1) this.lost += seq - this.last - 1;
    this.last = seq;
  }
}

export class ReplaySource implements EventSource {
  readonly name = 'replay';
  private readonly lines: AsyncGenerator<RawLine[]>;
  private readonly label: string;
  private readonly maxLineBytes: number;
  private format: ReplayFormat | undefined;
  private header: RecordingHeader | undefined;
  private readonly buffered: SourceItem[][] = [];
  private opened = false;
  private ended = false;
  private stopped = false;
  private readonly gaps = new SeqGapCounter();
  private recordingLost = 0;
  private readonly counts = { records: 0, ecs: 0, rejected: 0 };

  constructor(private readonly options: ReplaySourceOptions) {
    this.label = options.label;
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.format = options.format === 'auto' ? undefined : options.format;
    this.lines = splitLines(refuseGzip(options.input, this.label), this.maxLineBytes);
  }

  /** Reads until the format (and a recording's header) is known. Throws ReplayInputError. */
  async open(): Promise<ReplayOpened> {
    if (!this.opened) {
      this.opened = true;
      while (!this.ready()) {
        const batch = await this.nextBatch();
        if (batch === undefined) break;
        this.buffered.push(batch);
      }
    }
    const out: ReplayOpened = {};
    if (this.format !== undefined) out.format = this.format;
    if (this.header !== undefined) {
      out.header = this.header;
      out.host = this.header.host;
    } else if (this.format === 'eslogger') {
      out.host = { osType: 'macos' };
    }
    return out;
  }

  async *batches(): AsyncIterable<SourceItem[]> {
    await this.open();
    for (let b = this.buffered.shift(); b !== undefined; b = this.buffered.shift()) yield b;
    for (let b = await this.nextBatch(); b !== undefined; b = await this.nextBatch()) yield b;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.options.input.destroy?.();
    await this.lines.return(undefined);
  }

  stats(): SourceStats {
    return { ...this.counts, lost: this.gaps.lost + this.recordingLost };
  }

  private ready(): boolean {
    return this.format !== undefined && (this.format !== 'keysentry' || this.header !== undefined);
  }

  private async nextBatch(): Promise<SourceItem[] | undefined> {
    while (!this.ended && !this.stopped) {
      let next: IteratorResult<RawLine[]>;
      try {
        next = await this.lines.next();
      } catch (err) {
        // stop() destroys the input under a pending read: that is the end, not a failure.
        if (this.stopped) break;
        throw err;
      }
      if (next.done === true) {
        this.ended = true;
        break;
      }
      const items: SourceItem[] = [];
      for (const raw of next.value) this.handle(raw, items);
      if (items.length > 0) return items;
    }
    return undefined;
  }

  private reject(items: SourceItem[], where: string, reason: string): void {
    this.counts.rejected++;
    items.push({ kind: 'reject', where, reason });
  }

  private handle(raw: RawLine, items: SourceItem[]): void {
    // Every line counts, whatever is wrong with it (too long, not UTF-8, not JSON, blank): a
    // gzip'd or text file must not be read to its end as an empty capture.
    if (this.format === undefined && raw.lineNo > DETECTION_LINE_LIMIT) {
      throw new ReplayInputError(`${this.label}: no eslogger message, ECS document or keysentry recording header in the first ${DETECTION_LINE_LIMIT} lines; pass --format`);
    }
    const where = `${this.label}:${raw.lineNo}`;
    if ('tooLongBytes' in raw) {
      this.reject(items, where, `line too long: ${raw.tooLongBytes} bytes (limit ${this.maxLineBytes})`);
      return;
    }
    const line = lineText(raw);
    if ('blank' in line) return;
    if ('reason' in line) {
      this.reject(items, where, line.reason);
      return;
    }
    const parsed = parseJson(line.text);
    if ('reason' in parsed) {
      this.reject(items, where, parsed.reason);
      return;
    }
    const value = parsed.value;
    if (this.format === undefined && !this.detect(value)) {
      this.reject(items, where, 'not an eslogger message, an ECS document or a keysentry recording header');
      return;
    }
    const item = this.decode(value, where);
    if (item === undefined) return;
    if (item.kind === 'reject') this.counts.rejected++;
    else if (item.kind === 'ecs') this.counts.ecs++;
    else {
      this.counts.records++;
      if (this.format === 'eslogger' && item.record.kind !== 'seed') this.gaps.observe(item.record.seq);
    }
    items.push(item);
  }

  private detect(value: unknown): boolean {
    if (!isObject(value)) return false;
    // Recording lines also have a `process` key: they must be told apart before ECS is considered.
    if (looksLikeRecording(value)) this.format = 'keysentry';
    else if (looksLikeEslogger(value)) this.format = 'eslogger';
    else if (looksLikeEcs(value)) this.format = 'ecs';
    return this.format !== undefined;
  }

  private decode(value: unknown, where: string): SourceItem | undefined {
    switch (this.format) {
      case 'eslogger':
        return esloggerItem(value, where);
      case 'ecs':
        return ecsItem(value, where);
      case 'keysentry':
        if (this.header === undefined) {
          try {
            this.header = decodeHeader(value, where);
          } catch (err) {
            throw new ReplayInputError(err instanceof Error ? err.message : String(err));
          }
          return undefined;
        }
        return recordingItem(value, where, (n) => (this.recordingLost += n));
      case undefined:
        return undefined;
    }
  }
}

/**
 * Passes the input through, refusing a gzip stream at its first bytes: its lines would only be
 * rejected one by one ("invalid UTF-8") when the fix is one command away.
 */
async function* refuseGzip(input: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, label: string): AsyncGenerator<Buffer | string> {
  // Magic bytes matched so far (they may straddle chunks: a pipe can deliver one byte at a
  // time); -1 once the input is known not to be gzip.
  let matched = 0;
  for await (const chunk of input) {
    for (let i = 0; matched >= 0 && matched < GZIP_MAGIC.length && i < chunk.length; i++) {
      const byte = typeof chunk === 'string' ? chunk.charCodeAt(i) : chunk[i];
      matched = byte === GZIP_MAGIC[matched] ? matched + 1 : -1;
    }
    if (matched === GZIP_MAGIC.length) throw new ReplayInputError(`${label}: gzip-compressed: gunzip it or pipe through gunzip -c`);
    yield chunk;
  }
}
