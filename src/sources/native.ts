/**
 * The live source backed by the native addon (native/core): the capture thread's records
 * arrive as packed batches, are decoded here, and are handed out as SourceItem batches.
 *
 * Memory is bounded on both sides of the boundary: the addon's queue (drop-newest, counted
 * as `dropped`) and, here, at most `maxPendingRecords` decoded records waiting for the
 * consumer (beyond that a batch is dropped and counted too).
 */
import bindings from 'bindings';
import type { SourceRecord } from '../model/records';
import { decodeBatch } from './native-decode';
import type { BatchConsumer, EventSource, SourceItem, SourceStats } from './types';

/** Backends the addon knows: Linux audit/connector, macOS es, and the benchmark's producer. */
export type NativeBackendName = 'auto' | 'audit' | 'connector' | 'es' | 'synthetic';

export interface NativeAddonOptions {
  backend?: NativeBackendName;
  /** The agent's own pid, muted by the backend. Default: this process. */
  selfPid?: number;
  /** Capture queue caps (records, bytes); a record beyond either is dropped and counted. */
  queueRecords?: number;
  queueBytes?: number;
  /** Records per batch, and the longest an exec waits for its batch to fill (µs). */
  batchRecords?: number;
  flushMicros?: number;
  /**
   * The longest a record no alert waits on waits (µs): forks, exits, and execs that are not
   * urgent. The next urgent exec's batch carries them. Default: the addon's sessionDefaults.
   */
  quietFlushMicros?: number;
  /**
   * Needles that make an exec urgent (sent to JavaScript at once): one occurring in its
   * executable, pre-exec or parent executable, cwd, signing id, team id or an argument, ASCII
   * letters compared case-insensitively, other bytes exactly. Absent: every exec is urgent; an
   * empty list: none. At most 4,096 needles and 8,192 bytes (start() throws a RangeError beyond).
   */
  urgentText?: string[];
  /** Batches handed to JavaScript and not yet consumed before the flusher waits. */
  maxInFlight?: number;
  /** Benchmark baseline: one JavaScript call with a C++-built object per record. */
  delivery?: 'batch' | 'per-event';
  /** Records the synthetic producer makes. */
  syntheticCount?: number;
}

export interface NativeCounters {
  backend?: string;
  running?: boolean;
  captured: number;
  delivered: number;
  dropped: number;
  sourceLost: number;
  /** Execs found urgent (every exec, without urgent text). */
  urgent: number;
  batches: number;
  callbackErrors: number;
  lastCallbackError?: string;
  /** Times the backend found its capture undone by someone else (audit rules deleted, audit disabled) and put it back. */
  repairs: number;
  lastRepair?: string;
  /** Set while capture is not in place and cannot be repaired: why. */
  degraded?: string;
}

/** The raw addon object: what `onDelivery` receives depends on `delivery`. */
export interface AddonSource {
  /** Starts capture; returns the backend that runs (auto resolves). Throws a BackendError. */
  start(): string;
  stop(): void;
  stats(): Partial<NativeCounters>;
  /**
   * Swaps the needle set (see NativeAddonOptions.urgentText) for the execs pushed after it
   * returns, and for later starts; null: every exec urgent. Throws a RangeError over the caps,
   * changing nothing.
   */
  setUrgentText(needles: string[] | null): void;
}

/** A record's strings as urgentTextMatches reads them; a Buffer stands for raw (maybe not UTF-8) bytes. */
export interface UrgentTextProbe {
  executable?: string | Buffer;
  preExecExecutable?: string | Buffer;
  parentExecutable?: string | Buffer;
  cwd?: string | Buffer;
  signingId?: string | Buffer;
  teamId?: string | Buffer;
  args?: Array<string | Buffer>;
}

interface Addon {
  NativeSource: new (options: NativeAddonOptions, onDelivery: (delivery: Buffer | SourceRecord) => void) => AddonSource;
  batchVersion: number;
  /** What the capture uses for each option left out (the core's SessionOptions). */
  sessionDefaults: Required<Pick<NativeAddonOptions, 'queueRecords' | 'queueBytes' | 'batchRecords' | 'flushMicros' | 'quietFlushMicros' | 'maxInFlight'>>;
  diagnostics(): string;
  /** Per record, whether the core's matcher finds it urgent for these needles (null: every record). */
  urgentTextMatches(needles: string[] | null, records: UrgentTextProbe[]): boolean[];
}

/** The kernel audit state as the kernel reports it (Linux), null where there is none. */
export interface AuditDiagnostics {
  enabled: number;
  /** The registered audit daemon, 0 = none. */
  pid: number;
  backlogLimit: number;
  lost: number;
  /** Audit rules carrying a keysentry key ("keysentry-<pid>", or older agents' "keysentry"); null when the list was unreadable. */
  keysentryRules: number | null;
}

export function nativeDiagnostics(): { audit?: AuditDiagnostics | null } {
  return JSON.parse(loadAddon().diagnostics()) as { audit?: AuditDiagnostics | null };
}

/** A capture facility that cannot start: `code` says which ("EPERM", "ENOAUDIT", ...). */
export class BackendError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'BackendError';
  }
}

let addon: Addon | undefined;
export function loadAddon(): Addon {
  if (addon === undefined) {
    try {
      // An instrumented build (scripts/asan-test.sh) is loaded from where it was built.
      const override = process.env.KEYSENTRY_NATIVE_ADDON;
      addon = (override !== undefined && override !== '' ? require(override) : bindings('keysentry_native')) as Addon;
    } catch (err) {
      throw new BackendError(
        `the native addon is not built (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); run \`npm install\` or \`npm run build:native\``,
        'ENOADDON',
      );
    }
  }
  return addon;
}

/** Starts an addon source, turning its start failure into a BackendError. */
export function startAddonSource(options: NativeAddonOptions, onDelivery: (delivery: Buffer | SourceRecord) => void): { source: AddonSource; backend: string } {
  const { NativeSource } = loadAddon();
  const source = new NativeSource({ selfPid: process.pid, ...options }, onDelivery);
  try {
    return { source, backend: source.start() };
  } catch (err) {
    const e = err as Error & { code?: unknown };
    if (e.name === 'BackendError') throw new BackendError(e.message, typeof e.code === 'string' ? e.code : 'EBACKEND');
    throw err;
  }
}

export interface NativeEventSourceOptions extends Omit<NativeAddonOptions, 'delivery'> {
  /** Decoded records waiting for the consumer before new batches are dropped. */
  maxPendingRecords?: number;
  /**
   * Keep the process alive while capturing (default true). The addon itself never holds
   * the event loop open; a live agent wants exactly that until stop().
   */
  keepAlive?: boolean;
}

/** A consumer attached by deliver(), and how its promise settles. */
interface PushDelivery {
  consume: BatchConsumer;
  /** A consume call is running, or its promise has not settled: later batches wait in `pending`. */
  busy: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class NativeEventSource implements EventSource {
  readonly name: string;
  /** The longest a record no alert waits on waits for its batch (µs), as the capture was started. */
  readonly quietFlushMicros: number;
  private readonly addonSource: AddonSource;
  /** Decoded batches not yet consumed (pull: not yet taken by batches(); push: waiting for a busy consumer). */
  private readonly pending: Array<{ items: SourceItem[]; records: number }> = [];
  private pendingRecords = 0;
  private readonly maxPending: number;
  private wake: (() => void) | undefined;
  private push: PushDelivery | undefined;
  private stopped = false;
  private readonly counts = { records: 0, rejected: 0, jsDropped: 0 };
  private readonly onExit = (): void => this.stopNow();
  private readonly keepAlive: NodeJS.Timeout | undefined;

  /** Starts capture at once; throws BackendError when the backend cannot start. */
  constructor(options: NativeEventSourceOptions = {}) {
    const { maxPendingRecords, keepAlive = true, ...addonOptions } = options;
    this.maxPending = maxPendingRecords ?? 262_144;
    const started = startAddonSource({ ...addonOptions, delivery: 'batch' }, (delivery) => this.receive(delivery as Buffer));
    this.addonSource = started.source;
    this.name = `native:${started.backend}`;
    this.quietFlushMicros = addonOptions.quietFlushMicros ?? loadAddon().sessionDefaults.quietFlushMicros;
    // A synchronous stop on exit removes the kernel audit rule even on process.exit().
    process.once('exit', this.onExit);
    if (keepAlive) this.keepAlive = setInterval(() => undefined, 1 << 30);
  }

  private receive(buf: Buffer): void {
    if (this.stopped) return;
    const decoded = decodeBatch(buf);
    const items: SourceItem[] = decoded.records.map((record) => ({ kind: 'record', record, where: 'live' }));
    if (decoded.error !== undefined) {
      this.counts.rejected++;
      items.push({ kind: 'reject', where: 'live', reason: decoded.error.message });
    }
    if (this.pendingRecords + decoded.records.length > this.maxPending) {
      this.counts.jsDropped += decoded.records.length;
      return;
    }
    this.counts.records += decoded.records.length;
    this.pendingRecords += decoded.records.length;
    this.pending.push({ items, records: decoded.records.length });
    this.handOut();
  }

  async *batches(): AsyncIterable<SourceItem[]> {
    for (;;) {
      const next = this.pending.shift();
      if (next !== undefined) {
        this.pendingRecords -= next.records;
        yield next.items;
        continue;
      }
      if (this.stopped) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  /** Gives what is pending (or the end) to whoever takes it: the pushed-to consumer, or a waiting batches(). */
  private handOut(): void {
    if (this.push !== undefined) this.drain(this.push);
    else this.wake?.();
  }

  /** Hands each batch to `consume` inside the addon's delivery callback (see EventSource.deliver). */
  deliver(consume: BatchConsumer): Promise<void> {
    if (this.push !== undefined) return Promise.reject(new Error('native source: deliver() is already running'));
    return new Promise<void>((resolve, reject) => {
      const push: PushDelivery = { consume, busy: false, resolve, reject };
      this.push = push;
      this.drain(push);
    });
  }

  /**
   * Consumes pending batches in order until one goes asynchronous (it resumes when that
   * settles) or none is left; ends the delivery once the source has stopped and is drained.
   */
  private drain(push: PushDelivery): void {
    while (!push.busy && this.push === push) {
      const next = this.pending.shift();
      if (next === undefined) {
        if (this.stopped) {
          this.push = undefined;
          push.resolve();
        }
        return;
      }
      this.pendingRecords -= next.records;
      push.busy = true;
      let result: Promise<void> | undefined;
      try {
        result = push.consume(next.items);
      } catch (err) {
        this.fail(push, err);
        return;
      }
      if (result === undefined) {
        push.busy = false;
        continue;
      }
      result.then(
        () => {
          push.busy = false;
          this.drain(push);
        },
        (err: unknown) => this.fail(push, err),
      );
      return;
    }
  }

  /** A consumer that throws ends capture, as an exception out of a `for await` over batches() would. */
  private fail(push: PushDelivery, err: unknown): void {
    if (this.push !== push) return;
    this.push = undefined;
    this.stopNow();
    push.reject(err);
  }

  /** See AddonSource.setUrgentText. */
  setUrgentText(needles: string[] | null): void {
    this.addonSource.setUrgentText(needles);
  }

  /** Stops capture; batches already decoded are still handed out, then batches() or deliver() ends. */
  async stop(): Promise<void> {
    this.stopNow();
    this.handOut();
  }

  private stopNow(): void {
    if (this.stopped) return;
    this.stopped = true;
    process.removeListener('exit', this.onExit);
    if (this.keepAlive !== undefined) clearInterval(this.keepAlive);
    this.addonSource.stop();
  }

  counters(): NativeCounters {
    const s = this.addonSource.stats();
    return {
      ...s,
      captured: s.captured ?? 0,
      delivered: s.delivered ?? 0,
      dropped: (s.dropped ?? 0) + this.counts.jsDropped,
      sourceLost: s.sourceLost ?? 0,
      urgent: s.urgent ?? 0,
      batches: s.batches ?? 0,
      callbackErrors: s.callbackErrors ?? 0,
      repairs: s.repairs ?? 0,
    };
  }

  stats(): SourceStats {
    const c = this.counters();
    return { records: this.counts.records, ecs: 0, rejected: this.counts.rejected, lost: c.dropped + c.sourceLost };
  }
}
