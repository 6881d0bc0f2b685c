/**
 * The agent side of delivery, as an AlertSink: spool first, then send in order over one
 * websocket, remove what the collector acknowledged. Nothing is sent that is not on disk,
 * and nothing leaves the disk that the collector has not committed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import WebSocket from 'ws';
import type { AgentInfo, AlertDocument, AlertSink } from '../alerts/types';
import { AGENT_PATH, PROTOCOL_VERSION, type AgentMessage, type GapReason, type HealthValue } from './protocol';
import { Spool, type SpoolOptions, type SpoolStats } from './spool';

export interface ReporterTls {
  /** PEM CA bundle that signs the collector's certificate (default: Node's built-in roots). */
  ca?: string | Buffer;
  /** Client certificate and key, for collectors that require them. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Certificate verification is on unless this is explicitly false. */
  rejectUnauthorized?: boolean;
}

export type ReporterLog = (level: 'info' | 'warn' | 'error', message: string) => void;

export interface ReporterOptions {
  /** ws://host:port or wss://host:port; the agent path is added when the URL has none. */
  url: string;
  token: string;
  agent: AgentInfo;
  /** The agent's state directory; the spool lives in <stateDir>/spool. */
  stateDir: string;
  spool?: Omit<SpoolOptions, 'dir'>;
  tls?: ReporterTls;
  /** The pipeline's counters (events seen, dropped, alerts...), sent as the health heartbeat. */
  health?: () => Record<string, HealthValue>;
  healthIntervalMs?: number;
  /** A ping goes out this often; a peer that has not answered by the next one is dead. */
  pingIntervalMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  batchMaxAlerts?: number;
  batchMaxBytes?: number;
  /** Alerts sent and not yet acknowledged; default 4 batches' worth. */
  windowAlerts?: number;
  /** Bytes queued on the socket beyond which sending waits; default 4 batches' worth. */
  windowBytes?: number;
  /** Alerts handed to write() and not yet on disk before write() makes the caller wait. */
  maxPendingWrites?: number;
  log?: ReporterLog;
}

export interface ReporterStats {
  connected: boolean;
  /** ISO time of the last acknowledgement that moved the watermark, or null. */
  lastDelivery: string | null;
  /** Why the last connection failed or closed, until the next welcome; null when fine. */
  lastError: string | null;
  delivered: number;
  connects: number;
  /** Alerts lost because the spool could not write them (disk full, I/O error). */
  writeErrors: number;
  spool: SpoolStats;
}

export class Reporter implements AlertSink {
  private readonly opts: Required<Omit<ReporterOptions, 'spool' | 'tls' | 'health' | 'log'>> & ReporterOptions;
  private ws: WebSocket | null = null;
  private ready = false;
  private sentUpTo = 0;
  /** The collector's cumulative ack on this connection. */
  private ackedOnLink = 0;
  private pumping = false;
  private pumpAgain = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private peerAlive = true;
  private stopped = false;
  private lastDelivery: string | null = null;
  private lastError: string | null = null;
  private pendingWrites = 0;
  private writeErrors = 0;
  private delivered = 0;
  private connects = 0;
  private readonly log: ReporterLog;
  private readonly ackWaiters: { seq: number; resolve(): void }[] = [];

  private constructor(
    opts: ReporterOptions,
    readonly spool: Spool,
  ) {
    this.opts = {
      healthIntervalMs: 10_000,
      pingIntervalMs: 15_000,
      backoffInitialMs: 250,
      backoffMaxMs: 30_000,
      batchMaxAlerts: 500,
      batchMaxBytes: 512 * 1024,
      windowAlerts: 4 * (opts.batchMaxAlerts ?? 500),
      windowBytes: 4 * (opts.batchMaxBytes ?? 512 * 1024),
      maxPendingWrites: 10_000,
      ...opts,
    };
    this.log = opts.log ?? (() => undefined);
    spool.on('append', () => this.pump());
  }

  /** Opens the spool and starts connecting; alerts written before the first connect wait on disk. */
  static async start(opts: ReporterOptions): Promise<Reporter> {
    const spoolDir = path.join(opts.stateDir, 'spool');
    fs.mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
    const spool = await Spool.open({ ...opts.spool, dir: spoolDir });
    const reporter = new Reporter(opts, spool);
    reporter.connect();
    return reporter;
  }

  /**
   * The AlertSink entry: hands the alert to the spool without waiting for its fsync, so an
   * alert storm is group-committed instead of paying one fsync per alert; only when
   * `maxPendingWrites` are waiting for the disk does the pipeline wait (backpressure).
   * A spool write that fails (disk full) is logged and counted, never thrown at the pipeline.
   */
  write(alert: AlertDocument): void | Promise<void> {
    this.pendingWrites++;
    const done = this.spoolAlert(alert).then(
      () => {
        this.pendingWrites--;
      },
      (err: unknown) => {
        this.pendingWrites--;
        this.writeErrors++;
        this.log('error', `cannot spool an alert (it is lost): ${err instanceof Error ? err.message : String(err)}`);
      },
    );
    return this.pendingWrites >= this.opts.maxPendingWrites ? done : undefined;
  }

  /** Resolves with the alert's sequence number once it is durable in the spool (not delivered). */
  spoolAlert(alert: AlertDocument): Promise<number> {
    return this.spool.append(alert);
  }

  /** Resolves when the collector has acknowledged everything spooled so far. */
  async drained(): Promise<void> {
    await this.spool.sync();
    const seq = this.spool.lastSeq;
    if (this.spool.acked >= seq) return;
    await new Promise<void>((resolve) => this.ackWaiters.push({ seq, resolve }));
  }

  stats(): ReporterStats {
    return {
      connected: this.ready,
      lastDelivery: this.lastDelivery,
      lastError: this.lastError,
      delivered: this.delivered,
      connects: this.connects,
      writeErrors: this.writeErrors,
      spool: this.spool.stats(),
    };
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.teardown();
    this.ws?.close(1001, 'agent stopping');
    this.ws = null;
    await this.spool.close();
  }

  private url(): string {
    const u = new URL(this.opts.url);
    if (u.pathname === '/' || u.pathname === '') u.pathname = AGENT_PATH;
    return u.toString();
  }

  private connect(): void {
    if (this.stopped) return;
    const tls = this.opts.tls ?? {};
    const url = new URL(this.url());
    // Masking protects HTTP intermediaries from frames crafted to look like requests (alert
    // text is attacker-influenced). Inside TLS or on loopback there is no intermediary to
    // protect, and an all-zero mask lets both ends skip an XOR pass over every byte.
    const noIntermediary = url.protocol === 'wss:' || ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
    const ws = new WebSocket(url, {
      generateMask: noIntermediary ? (mask: Buffer) => void mask.fill(0) : undefined,
      headers: { Authorization: `Bearer ${this.opts.token}` },
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
      maxPayload: 64 * 1024,
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      rejectUnauthorized: tls.rejectUnauthorized !== false,
    });
    this.ws = ws;
    ws.on('open', () => this.onOpen(ws));
    ws.on('message', (data, isBinary) => this.onMessage(ws, data, isBinary));
    ws.on('pong', () => {
      this.peerAlive = true;
    });
    let refused = false;
    ws.on('unexpected-response', (_req, res) => {
      refused = true;
      this.lastError = `collector refused the connection: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim();
      this.log('error', this.lastError);
      ws.terminate();
    });
    ws.on('error', (err) => {
      // After a refusal, terminate() reports "closed before the connection was established".
      if (refused) return;
      this.lastError = err.message;
      this.log('warn', `collector connection: ${err.message}`);
    });
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString()));
  }

  private onOpen(ws: WebSocket): void {
    this.peerAlive = true;
    this.pingTimer = setInterval(() => {
      if (!this.peerAlive) {
        this.log('warn', 'collector did not answer a ping: reconnecting');
        ws.terminate();
        return;
      }
      this.peerAlive = false;
      ws.ping();
    }, this.opts.pingIntervalMs);
    this.send({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      agent: { id: this.opts.agent.id, name: this.opts.agent.name, version: this.opts.agent.version },
      stream: this.spool.stream,
      lastSeq: this.spool.lastSeq,
    });
  }

  private onMessage(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    if (ws !== this.ws) return;
    this.peerAlive = true;
    let msg: { type?: unknown; acked?: unknown; seq?: unknown };
    try {
      if (isBinary) throw new Error('binary frame');
      msg = JSON.parse(data.toString()) as typeof msg;
    } catch {
      this.log('warn', 'collector sent a frame that is not JSON text: reconnecting');
      ws.terminate();
      return;
    }
    if (msg.type === 'welcome' && Number.isSafeInteger(msg.acked)) void this.onWelcome(ws, msg.acked as number);
    else if (msg.type === 'ack' && Number.isSafeInteger(msg.seq)) void this.onAck(msg.seq as number);
    else this.log('warn', `collector sent an unknown message: ${String(msg.type).slice(0, 40)}`);
  }

  private async onWelcome(ws: WebSocket, acked: number): Promise<void> {
    if (acked > this.spool.lastSeq) {
      this.log('warn', `collector has sequence numbers up to ${acked} for this stream, beyond the spool's ${this.spool.lastSeq} (state restored from a backup?): renumbering the spooled alerts after it`);
      await this.spool.renumberAfter(acked);
    }
    await this.spool.ack(acked);
    // The connection may have died while the spool caught up.
    if (ws !== this.ws || this.ready) return;
    this.sentUpTo = acked;
    this.ackedOnLink = acked;
    this.ready = true;
    this.lastError = null;
    this.attempt = 0;
    this.connects++;
    this.startHealth();
    this.resolveWaiters();
    this.pump();
  }

  private async onAck(seq: number): Promise<void> {
    if (seq > this.spool.acked) {
      this.delivered += seq - this.spool.acked;
      this.lastDelivery = new Date().toISOString();
    }
    this.ackedOnLink = Math.max(this.ackedOnLink, seq);
    await this.spool.ack(seq);
    this.resolveWaiters();
    this.pump();
  }

  private resolveWaiters(): void {
    const acked = this.spool.acked;
    for (let i = this.ackWaiters.length - 1; i >= 0; i--) {
      const w = this.ackWaiters[i] as { seq: number; resolve(): void };
      if (w.seq <= acked) {
        this.ackWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = null;
    const wasReady = this.ready;
    this.teardown();
    if (this.stopped) return;
    if (wasReady || code !== 1006) {
      this.lastError = `connection closed (${code}${reason ? `: ${reason}` : ''})`;
      this.log('warn', `collector ${this.lastError}`);
    }
    // Full jitter keeps a fleet that lost its collector from reconnecting in lockstep.
    const cap = Math.min(this.opts.backoffMaxMs, this.opts.backoffInitialMs * 2 ** Math.min(this.attempt, 20));
    this.attempt++;
    const delay = cap / 2 + Math.random() * (cap / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private teardown(): void {
    this.ready = false;
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.pingTimer = null;
    this.healthTimer = null;
  }

  private startHealth(): void {
    const sendHealth = (): void => {
      const spool = this.spool.stats();
      let pipeline: Record<string, HealthValue> = {};
      try {
        pipeline = this.opts.health?.() ?? {};
      } catch (err) {
        this.log('warn', `health getter failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      const stats: Record<string, HealthValue> = {
        ...pipeline,
        spool_depth: spool.depth,
        spool_bytes: spool.bytes,
        spool_dropped: spool.dropped,
        spool_truncated: spool.truncated,
        spool_write_errors: this.writeErrors,
        last_delivery: this.lastDelivery,
      };
      this.send({ type: 'health', at: new Date().toISOString(), stats });
    };
    sendHealth();
    this.healthTimer = setInterval(sendHealth, this.opts.healthIntervalMs);
  }

  private send(msg: AgentMessage): void {
    this.ws?.send(JSON.stringify(msg));
  }

  /** Sends spooled alerts after sentUpTo while the window has room; one pump at a time. */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void this.pumpLoop().finally(() => {
      this.pumping = false;
      if (this.pumpAgain) {
        this.pumpAgain = false;
        this.pump();
      }
    });
  }

  private async pumpLoop(): Promise<void> {
    // The window counts alerts, not messages: when idle every alert travels alone, and a
    // window of a few messages would then hold back the very next alert behind two fsyncs.
    while (this.ready && this.ws !== null && this.sentUpTo - this.ackedOnLink < this.opts.windowAlerts && this.ws.bufferedAmount < this.opts.windowBytes) {
      const ws = this.ws;
      const from = this.sentUpTo + 1;
      const room = this.opts.windowAlerts - (this.sentUpTo - this.ackedOnLink);
      const entries = await this.spool.read(from, Math.min(this.opts.batchMaxAlerts, room), this.opts.batchMaxBytes);
      if (ws !== this.ws || !this.ready || from !== this.sentUpTo + 1) return;
      const first = entries[0];
      if (first === undefined) return;
      if (first.seq > from) this.sendGaps(from, first.seq - 1);
      // The spooled JSON goes out as is: no parse and re-serialize per alert.
      const frame = `{"type":"alerts","first":${first.seq},"alerts":[${entries.map((e) => e.json).join(',')}]}`;
      const last = (entries[entries.length - 1] as { seq: number }).seq;
      ws.send(frame);
      this.sentUpTo = last;
    }
  }

  /** Accounts for sequence numbers the spool no longer has, split by what we know of them. */
  private sendGaps(from: number, to: number): void {
    const ackedEarlier = Math.min(to, this.spool.acked);
    const emit = (a: number, b: number, reason: GapReason): void => {
      if (a <= b) this.send({ type: 'gap', from: a, to: b, count: b - a + 1, reason });
    };
    emit(from, ackedEarlier, 'acked-earlier');
    const lost = this.spool.stats();
    emit(Math.max(from, ackedEarlier + 1), to, lost.damaged > 0 && lost.dropped === 0 ? 'spool-damaged' : 'spool-full');
    this.sentUpTo = to;
  }
}
