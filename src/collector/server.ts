/**
 * The collector: an HTTP(S) server whose /v1/agent upgrades to the agent websocket, writing
 * into the SQLite store. An agent is authenticated from its upgrade request alone, before a
 * single frame is read; after that every message is validated, rate limited and size capped,
 * and a misbehaving connection is closed with a reason while the others carry on.
 *
 * Ingest is group-committed: every batch that arrives in the same turn of the event loop,
 * from any agent, goes into one SQLite transaction, and each agent is acked once it commits.
 */
import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { AGENT_PATH, CLOSE, PROTOCOL_VERSION, type CollectorMessage, type GapReason, type HealthValue } from '../delivery/protocol';
import { Store, streamId, type IngestItem, type StreamKey } from './store';
import { bearerToken, type TokenSet } from './tokens';

export interface CollectorTls {
  cert: string | Buffer;
  key: string | Buffer;
  /** CA for client certificates: when given, agents must present a certificate it signed. */
  clientCa?: string | Buffer;
}

export interface RateLimit {
  messagesPerSecond: number;
  bytesPerSecond: number;
  /** How many seconds' worth may arrive at once. */
  burstSeconds: number;
}

export type CollectorLog = (level: 'info' | 'warn' | 'error', message: string) => void;

export interface CollectorContext {
  server: http.Server | https.Server;
  store: Store;
  /** Emits 'stored' ({ agentId, stream, first, alerts, stored }) after each commit of new alerts. */
  events: EventEmitter;
  /** The tokens the collector accepts now (the token file may be re-read while it runs). */
  tokens(): TokenSet;
  /** Serve a non-agent HTTP request; return true when handled. Handlers run in order. */
  addRequestHandler(handler: (req: http.IncomingMessage, res: http.ServerResponse) => boolean): void;
}

/** The seam for the web console and other add-ons that share the collector's process. */
export type CollectorPlugin = (ctx: CollectorContext) => void | Promise<void>;

export interface CollectorOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** A database path, or an open Store. */
  db: string | Store;
  tokens: TokenSet;
  tls?: CollectorTls;
  /** Largest websocket message accepted; default 4 MiB. */
  maxPayload?: number;
  rateLimit?: Partial<RateLimit>;
  maxConnections?: number;
  /** An authenticated agent must say hello within this time. */
  helloTimeoutMs?: number;
  pingIntervalMs?: number;
  plugins?: CollectorPlugin[];
  log?: CollectorLog;
}

export interface CollectorStats {
  connections: number;
  accepted: number;
  rejected: number;
  /** Connections closed for breaking the protocol, limits or rate. */
  closedForCause: number;
  stored: number;
  duplicates: number;
  gaps: number;
  commits: number;
}

export interface Collector {
  readonly host: string;
  readonly port: number;
  /** ws:// or wss:// URL agents connect to. */
  readonly url: string;
  readonly store: Store;
  readonly server: http.Server | https.Server;
  /** As CollectorContext.events. */
  readonly events: EventEmitter;
  /** Replaces the accepted tokens for new connections (agents already connected stay). */
  setTokens(tokens: TokenSet): void;
  stats(): CollectorStats;
  close(): Promise<void>;
}

const DEFAULT_RATE: RateLimit = { messagesPerSecond: 1000, bytesPerSecond: 16 * 1024 * 1024, burstSeconds: 2 };
const MAX_BATCH_ALERTS = 10_000;
const MAX_ID_LENGTH = 256;
const MAX_HEALTH_KEYS = 64;

class TokenBucket {
  private tokens: number;
  private at = Date.now();

  constructor(
    private readonly perSecond: number,
    private readonly capacity: number,
  ) {
    this.tokens = capacity;
  }

  take(n: number): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
    this.tokens -= n;
    return this.tokens >= 0;
  }
}

/** A message that breaks the protocol: the connection is closed with `code` and this text. */
class ProtocolViolation extends Error {
  constructor(
    message: string,
    readonly code: number = CLOSE.policy,
  ) {
    super(message);
  }
}

interface AgentConnection {
  ws: WebSocket;
  tokenName: string;
  remote: string;
  key: StreamKey | null;
  alive: boolean;
  messages: TokenBucket;
  bytes: TokenBucket;
  lastHealthAt: number;
  helloTimer: NodeJS.Timeout | null;
  closing: boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function boundedString(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_ID_LENGTH) throw new ProtocolViolation(`${what} must be a string of 1..${MAX_ID_LENGTH} characters`);
  return v;
}

function sequence(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw new ProtocolViolation(`${what} must be a positive integer`);
  return v as number;
}

/** RFC 6455 allows 123 bytes of close reason; cut on a character boundary (reasons quote agent input). */
function closeReason(reason: string): string {
  let out = '';
  let bytes = 0;
  for (const ch of reason) {
    bytes += Buffer.byteLength(ch);
    if (bytes > 123) break;
    out += ch;
  }
  return out;
}

function rejectUpgrade(socket: Duplex, status: number, text: string, extra = ''): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n${extra}\r\n`);
  socket.destroy();
}

export async function startCollector(opts: CollectorOptions): Promise<Collector> {
  const log: CollectorLog = opts.log ?? (() => undefined);
  const store = typeof opts.db === 'string' ? new Store(opts.db) : opts.db;
  const rate: RateLimit = { ...DEFAULT_RATE, ...opts.rateLimit };
  const maxConnections = opts.maxConnections ?? 10_000;
  const helloTimeoutMs = opts.helloTimeoutMs ?? 10_000;
  const events = new EventEmitter();
  const requestHandlers: ((req: http.IncomingMessage, res: http.ServerResponse) => boolean)[] = [];
  const counters: CollectorStats = { connections: 0, accepted: 0, rejected: 0, closedForCause: 0, stored: 0, duplicates: 0, gaps: 0, commits: 0 };
  const byStream = new Map<string, AgentConnection>();
  let tokens = opts.tokens;
  const live = new Set<AgentConnection>();

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    for (const handler of requestHandlers) if (handler(req, res)) return;
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  };
  const server: http.Server | https.Server = opts.tls
    ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.clientCa, requestCert: opts.tls.clientCa !== undefined, rejectUnauthorized: opts.tls.clientCa !== undefined }, onRequest)
    : http.createServer(onRequest);
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  // Sockets past this are refused by the kernel-facing accept loop, before any parsing.
  server.maxConnections = maxConnections + 64;
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('tlsClientError', (_err, socket) => socket.destroy());

  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload ?? 4 * 1024 * 1024, perMessageDeflate: false, clientTracking: false });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    if (path !== AGENT_PATH) {
      counters.rejected++;
      rejectUpgrade(socket, 404, 'Not Found');
      return;
    }
    const token = bearerToken(req.headers.authorization);
    const tokenName = token === null ? null : tokens.verify(token);
    if (tokenName === null) {
      counters.rejected++;
      rejectUpgrade(socket, 401, 'Unauthorized', 'WWW-Authenticate: Bearer realm="keysentry"\r\n');
      return;
    }
    if (live.size >= maxConnections) {
      counters.rejected++;
      rejectUpgrade(socket, 503, 'Service Unavailable', 'Retry-After: 30\r\n');
      return;
    }
    const remote = `${(socket as Socket).remoteAddress ?? '?'}:${(socket as Socket).remotePort ?? '?'}`;
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, tokenName, remote));
  });

  function closeFor(conn: AgentConnection, code: number, reason: string): void {
    // Frames already buffered keep arriving while the close handshake runs: ignore them.
    if (conn.closing) return;
    conn.closing = true;
    counters.closedForCause++;
    log('warn', `closing agent connection ${conn.remote}${conn.key ? ` (${conn.key.agentId})` : ''}: ${reason}`);
    try {
      conn.ws.close(code, closeReason(reason));
    } catch {
      conn.ws.terminate();
    }
    setTimeout(() => conn.ws.terminate(), 2000).unref();
  }

  function send(conn: AgentConnection, msg: CollectorMessage): void {
    if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(msg));
  }

  function accept(ws: WebSocket, tokenName: string, remote: string): void {
    const conn: AgentConnection = {
      ws,
      tokenName,
      remote,
      key: null,
      alive: true,
      messages: new TokenBucket(rate.messagesPerSecond, rate.messagesPerSecond * rate.burstSeconds),
      bytes: new TokenBucket(rate.bytesPerSecond, rate.bytesPerSecond * rate.burstSeconds),
      lastHealthAt: 0,
      helloTimer: null,
      closing: false,
    };
    counters.accepted++;
    live.add(conn);
    conn.helloTimer = setTimeout(() => closeFor(conn, CLOSE.policy, 'no hello in time'), helloTimeoutMs);
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('error', (err) => log('warn', `agent connection ${remote}: ${err.message}`));
    ws.on('close', () => {
      live.delete(conn);
      if (conn.helloTimer) clearTimeout(conn.helloTimer);
      if (conn.key && byStream.get(streamId(conn.key)) === conn) byStream.delete(streamId(conn.key));
    });
    ws.on('message', (data, isBinary) => {
      if (conn.closing) return;
      try {
        const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer | ArrayBuffer).byteLength;
        if (!conn.messages.take(1) || !conn.bytes.take(size)) throw new ProtocolViolation('rate limit exceeded', CLOSE.policy);
        if (isBinary) throw new ProtocolViolation('binary frames are not part of the protocol', CLOSE.invalidData);
        let msg: unknown;
        try {
          msg = JSON.parse(data.toString());
        } catch {
          throw new ProtocolViolation('message is not JSON', CLOSE.invalidData);
        }
        handle(conn, msg);
      } catch (err) {
        if (err instanceof ProtocolViolation) closeFor(conn, err.code, err.message);
        else {
          log('error', `agent connection ${remote}: ${err instanceof Error ? err.message : String(err)}`);
          closeFor(conn, CLOSE.internal, 'internal error');
        }
      }
    });
  }

  function handle(conn: AgentConnection, msg: unknown): void {
    if (!isObject(msg)) throw new ProtocolViolation('message is not a JSON object', CLOSE.invalidData);
    if (conn.key === null) {
      if (msg.type !== 'hello') throw new ProtocolViolation('the first message must be hello', CLOSE.protocolError);
      hello(conn, msg);
      return;
    }
    switch (msg.type) {
      case 'alerts':
        alerts(conn, conn.key, msg);
        return;
      case 'gap':
        gap(conn, conn.key, msg);
        return;
      case 'health':
        health(conn, conn.key, msg);
        return;
      default:
        throw new ProtocolViolation(`unknown message type ${JSON.stringify(String(msg.type).slice(0, 32))}`, CLOSE.protocolError);
    }
  }

  function hello(conn: AgentConnection, msg: Record<string, unknown>): void {
    if (msg.protocol !== PROTOCOL_VERSION) throw new ProtocolViolation(`protocol version ${String(msg.protocol)} is not supported (this collector speaks ${PROTOCOL_VERSION})`, CLOSE.protocolError);
    if (!isObject(msg.agent)) throw new ProtocolViolation('hello.agent must be an object');
    const agent = { id: boundedString(msg.agent.id, 'agent.id'), name: boundedString(msg.agent.name, 'agent.name'), version: boundedString(msg.agent.version, 'agent.version') };
    const key: StreamKey = { agentId: agent.id, stream: boundedString(msg.stream, 'stream') };
    if (conn.helloTimer) clearTimeout(conn.helloTimer);
    conn.helloTimer = null;
    // One connection per stream: a reconnecting agent replaces its half-dead predecessor.
    const previous = byStream.get(streamId(key));
    if (previous !== undefined) closeFor(previous, CLOSE.policy, 'replaced by a newer connection from the same agent');
    byStream.set(streamId(key), conn);
    conn.key = key;
    enqueue(conn, { kind: 'seen', agent, tokenName: conn.tokenName, remote: conn.remote });
    send(conn, { type: 'welcome', acked: store.lastSeq(key) });
  }

  function alerts(conn: AgentConnection, key: StreamKey, msg: Record<string, unknown>): void {
    const first = sequence(msg.first, 'alerts.first');
    const list = msg.alerts;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_BATCH_ALERTS) throw new ProtocolViolation(`alerts.alerts must be an array of 1..${MAX_BATCH_ALERTS} documents`);
    for (const doc of list) if (!isObject(doc)) throw new ProtocolViolation('every alert must be a JSON object', CLOSE.invalidData);
    enqueue(conn, { kind: 'alerts', key, first, alerts: list as Record<string, unknown>[] });
  }

  function gap(conn: AgentConnection, key: StreamKey, msg: Record<string, unknown>): void {
    const from = sequence(msg.from, 'gap.from');
    const to = sequence(msg.to, 'gap.to');
    if (to < from || msg.count !== to - from + 1) throw new ProtocolViolation('gap must have from <= to and count = to - from + 1');
    const reasons: GapReason[] = ['spool-full', 'spool-damaged', 'acked-earlier'];
    if (!reasons.includes(msg.reason as GapReason)) throw new ProtocolViolation(`gap.reason must be one of ${reasons.join(', ')}`);
    enqueue(conn, { kind: 'gap', key, from, to, reason: msg.reason as GapReason });
  }

  function health(conn: AgentConnection, key: StreamKey, msg: Record<string, unknown>): void {
    if (!isObject(msg.stats) || typeof msg.at !== 'string' || msg.at.length > 64) throw new ProtocolViolation('health needs at (time) and stats (object)');
    const entries = Object.entries(msg.stats);
    if (entries.length > MAX_HEALTH_KEYS) throw new ProtocolViolation(`health.stats has more than ${MAX_HEALTH_KEYS} fields`);
    for (const [k, v] of entries) {
      const primitive = v === null || typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v.length <= MAX_ID_LENGTH);
      if (k.length > 64 || !primitive) throw new ProtocolViolation(`health.stats.${k.slice(0, 64)} must be a number, boolean, null or short string`);
    }
    // Health is a gauge: one write a second per agent is plenty however often it is sent.
    const now = Date.now();
    if (now - conn.lastHealthAt < 1000) return;
    conn.lastHealthAt = now;
    enqueue(conn, { kind: 'health', agentId: key.agentId, at: msg.at, stats: msg.stats as Record<string, HealthValue> });
  }

  let queue: { conn: AgentConnection; item: IngestItem }[] = [];
  let flushScheduled = false;

  function enqueue(conn: AgentConnection, item: IngestItem): void {
    queue.push({ conn, item });
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }

  function flush(): void {
    flushScheduled = false;
    const round = queue;
    queue = [];
    if (round.length === 0) return;
    let outcomes;
    try {
      outcomes = store.ingest(round.map((r) => r.item));
    } catch (err) {
      // Nothing of the round is committed, so nothing is acked: the agents will resend it.
      log('error', `store commit failed: ${err instanceof Error ? err.message : String(err)}`);
      for (const conn of new Set(round.map((r) => r.conn))) closeFor(conn, CLOSE.internal, 'collector could not store the batch');
      return;
    }
    counters.commits++;
    const acks = new Map<AgentConnection, number>();
    const failed = new Set<AgentConnection>();
    round.forEach(({ conn, item }, i) => {
      const outcome = outcomes[i] as (typeof outcomes)[number];
      counters.stored += outcome.stored;
      counters.duplicates += outcome.duplicates;
      if (item.kind === 'gap' && outcome.error === undefined) counters.gaps++;
      if (outcome.error !== undefined) {
        if (!failed.has(conn)) closeFor(conn, CLOSE.policy, outcome.error);
        failed.add(conn);
        return;
      }
      if (item.kind === 'seen' || item.kind === 'health') return;
      acks.set(conn, outcome.acked);
      if (outcome.stored > 0 && item.kind === 'alerts') events.emit('stored', { agentId: item.key.agentId, stream: item.key.stream, first: item.first, alerts: item.alerts, stored: outcome.stored });
    });
    for (const [conn, seq] of acks) if (!failed.has(conn)) send(conn, { type: 'ack', seq });
  }

  const pingTimer = setInterval(() => {
    for (const conn of live) {
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }, opts.pingIntervalMs ?? 30_000);
  pingTimer.unref();

  const ctx: CollectorContext = { server, store, events, tokens: () => tokens, addRequestHandler: (h) => requestHandlers.push(h) };
  for (const plugin of opts.plugins ?? []) await plugin(ctx);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const scheme = opts.tls ? 'wss' : 'ws';

  return {
    host: addr.address,
    port: addr.port,
    url: `${scheme}://${urlHost}:${addr.port}${AGENT_PATH}`,
    store,
    server,
    events,
    setTokens: (next) => {
      tokens = next;
    },
    stats: () => ({ ...counters, connections: live.size }),
    close: async () => {
      clearInterval(pingTimer);
      for (const conn of live) conn.ws.close(CLOSE.goingAway, 'collector stopping');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        setTimeout(() => {
          for (const conn of live) conn.ws.terminate();
          server.closeAllConnections?.();
        }, 1000).unref();
      });
      if (queue.length > 0) flush();
      if (typeof opts.db === 'string') store.close();
    },
  };
}
