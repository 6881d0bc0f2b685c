/**
 * The macOS source that needs no Apple entitlement: Apple's `eslogger exec fork exit` as a
 * child process, its stdout JSON Lines parsed by the eslogger reader (./eslogger).
 *
 * - Backpressure instead of buffering: stdout is read only as fast as the pipeline pulls
 *   batches, so a slow consumer stalls eslogger, ES then drops messages for eslogger's client,
 *   and the resulting global_seq_num gaps are counted as `lost`.
 * - Lines are split by the bounded line reader: a huge line is counted and rejected, never
 *   assembled.
 * - eslogger dying (killed, TCC revoked, ES restarted) restarts it after an exponential,
 *   capped delay; each restart is counted and logged with the tail of its stderr. A missing
 *   or non-executable eslogger ends the source with an error instead (macOS < 13).
 * - stop() ends the child's process group (SIGTERM, then SIGKILL), and so does the agent's
 *   exit: no orphan.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { parseEsloggerLine } from './eslogger';
import { decodeLine, DEFAULT_MAX_LINE_BYTES, printable, splitLines, type RawLine } from './lines';
import { SeqGapCounter } from './replay';
import type { EventSource, SourceItem, SourceStats } from './types';

export const ESLOGGER_PATH = '/usr/bin/eslogger';
export const ESLOGGER_EVENTS: readonly string[] = ['exec', 'fork', 'exit'];

export interface SourceLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface EsloggerLiveOptions {
  /** The eslogger to run: a path, or a bare name looked up on PATH. Default /usr/bin/eslogger. */
  command?: string;
  /** Environment of the child (PATH lookup of a bare `command` uses it). Default: the agent's. */
  env?: NodeJS.ProcessEnv;
  maxLineBytes?: number;
  /** Delay before the first restart; it doubles with each consecutive failure. Default 500 ms. */
  restartDelayMs?: number;
  /** Cap of the restart delay. Default 30 s. */
  maxRestartDelayMs?: number;
  /** A run that lasted this long was healthy: the next failure starts the delays over. Default 60 s. */
  healthyRunMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. Default 5 s. */
  killTimeoutMs?: number;
  log?: SourceLog;
}

export interface EsloggerLiveStats extends SourceStats {
  /** Times eslogger was started again after it died. */
  restarts: number;
  /** pid of the running eslogger, if one runs. */
  pid?: number;
}

/** eslogger is absent or cannot be executed: restarting would not help. */
export class EsloggerUnavailableError extends Error {
  constructor(command: string, cause: NodeJS.ErrnoException) {
    super(
      `cannot run ${command} (${cause.code ?? cause.message}): eslogger ships with macOS 13 and later; ` +
        `on older systems use --source es (needs the EndpointSecurity entitlement)`,
    );
    this.name = 'EsloggerUnavailableError';
  }
}

const STDERR_TAIL_BYTES = 2048;
const UNRECOVERABLE_SPAWN_ERRORS = new Set(['ENOENT', 'EACCES', 'ENOTDIR', 'EISDIR']);

type EsloggerChild = ChildProcessByStdio<null, Readable, Readable>;

const stderrLog: SourceLog = {
  info: (message) => process.stderr.write(`keysentry eslogger: ${message}\n`),
  warn: (message) => process.stderr.write(`keysentry eslogger: warning: ${message}\n`),
};

export class EsloggerLiveSource implements EventSource {
  readonly name = 'eslogger';
  private readonly command: string;
  private readonly maxLineBytes: number;
  private readonly log: SourceLog;
  private readonly counts = { records: 0, rejected: 0, restarts: 0 };
  private readonly gaps = new SeqGapCounter();
  private child: EsloggerChild | undefined;
  private stopping = false;
  private wakeFromBackoff: (() => void) | undefined;
  private readonly killOnAgentExit = (): void => {
    if (this.child !== undefined) signalGroup(this.child, 'SIGKILL');
  };

  constructor(private readonly options: EsloggerLiveOptions = {}) {
    this.command = options.command ?? ESLOGGER_PATH;
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.log = options.log ?? stderrLog;
  }

  async *batches(): AsyncGenerator<SourceItem[]> {
    let failures = 0;
    try {
      while (!this.stopping) {
        const started = Date.now();
        const run = this.startChild();
        yield* this.readRun(run);
        const outcome = await run.ended;
        if (this.stopping) return;
        if (outcome.spawnError !== undefined) throw new EsloggerUnavailableError(this.command, outcome.spawnError);
        const ranMs = Date.now() - started;
        failures = ranMs >= (this.options.healthyRunMs ?? 60_000) ? 1 : failures + 1;
        const delay = Math.min(
          (this.options.restartDelayMs ?? 500) * 2 ** (failures - 1),
          this.options.maxRestartDelayMs ?? 30_000,
        );
        this.log.warn(
          `${this.command} (pid ${run.child.pid ?? '?'}) ${outcome.how} after ${ranMs} ms; restarting in ${delay} ms` +
            (run.stderrTail() === '' ? '' : `; it said: ${printable(run.stderrTail(), STDERR_TAIL_BYTES)}`),
        );
        await this.backoff(delay);
        if (!this.stopping) this.counts.restarts++;
      }
    } finally {
      await this.stop();
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeFromBackoff?.();
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    // 'exit', not 'close': unread output would hold 'close' back while the consumer is away.
    const exited = once(child, 'exit');
    signalGroup(child, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), this.options.killTimeoutMs ?? 5_000);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  }

  stats(): EsloggerLiveStats {
    const s: EsloggerLiveStats = {
      records: this.counts.records,
      ecs: 0,
      rejected: this.counts.rejected,
      lost: this.gaps.lost,
      restarts: this.counts.restarts,
    };
    if (this.child?.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      s.pid = this.child.pid;
    }
    return s;
  }

  private startChild(): ChildRun {
    // A process group of its own: the terminal's Ctrl-C reaches the agent, which stops eslogger
    // itself (instead of seeing it die and restarting it), and stop() ends the whole group.
    const child = spawn(this.command, [...ESLOGGER_EVENTS], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: this.options.env ?? process.env,
      detached: true,
    });
    this.child = child;
    process.on('exit', this.killOnAgentExit);
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      stderr = (stderr + text).slice(-STDERR_TAIL_BYTES);
    });
    const ended = new Promise<RunOutcome>((resolve) => {
      // `on`, not `once`: a later error (a failed kill) must not go unhandled.
      child.on('error', (err: NodeJS.ErrnoException) => {
        const unrecoverable = err.code !== undefined && UNRECOVERABLE_SPAWN_ERRORS.has(err.code);
        if (child.pid === undefined) resolve(unrecoverable ? { how: 'failed', spawnError: err } : { how: `failed (${err.message})` });
      });
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        resolve({ how: signal !== null ? `was killed by ${signal}` : `exited with status ${code ?? '?'}` });
      });
    }).finally(() => process.removeListener('exit', this.killOnAgentExit));
    return { child, ended, stderrTail: () => stderr.trim() };
  }

  private async *readRun(run: ChildRun): AsyncGenerator<SourceItem[]> {
    const where = `eslogger pid ${run.child.pid ?? '?'}`;
    for await (const lines of splitLines(run.child.stdout, this.maxLineBytes)) {
      const items: SourceItem[] = [];
      for (const line of lines) {
        const item = this.itemOf(line, `${where}:${line.lineNo}`);
        if (item !== undefined) items.push(item);
      }
      if (items.length > 0) yield items;
    }
  }

  private itemOf(line: RawLine, where: string): SourceItem | undefined {
    if ('tooLongBytes' in line) {
      return this.rejected(where, `line of ${line.tooLongBytes} bytes exceeds the ${this.maxLineBytes}-byte limit`);
    }
    const text = decodeLine(line.bytes);
    if ('blank' in text) return undefined;
    if ('reason' in text) return this.rejected(where, text.reason);
    const item = parseEsloggerLine(text.text, where);
    if (item.kind === 'reject') {
      this.counts.rejected++;
    } else if (item.kind === 'record') {
      this.counts.records++;
      if (item.record.kind !== 'seed') this.gaps.observe(item.record.seq);
    }
    return item;
  }

  private rejected(where: string, reason: string): SourceItem {
    this.counts.rejected++;
    return { kind: 'reject', where, reason };
  }

  private backoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeFromBackoff = done;
    });
  }
}

function signalGroup(child: EsloggerChild, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

interface RunOutcome {
  /** "exited with status 1", "was killed by SIGKILL", "failed (...)". */
  how: string;
  /** Set when eslogger could not be started at all and never will be. */
  spawnError?: NodeJS.ErrnoException;
}

interface ChildRun {
  child: EsloggerChild;
  ended: Promise<RunOutcome>;
  stderrTail(): string;
}
