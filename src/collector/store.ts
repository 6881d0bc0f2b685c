/**
 * The collector's SQLite store: alerts (full document + indexed columns), gaps, agents and
 * their latest health, and per-stream delivery watermarks. WAL, synchronous=FULL: an ack is
 * only sent after the commit that contains the batch, so it must survive power loss too.
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GapReason, HealthValue } from '../delivery/protocol';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS streams (
  agent_id TEXT NOT NULL,
  stream TEXT NOT NULL,
  last_seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (agent_id, stream)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY,
  agent_id TEXT NOT NULL,
  stream TEXT NOT NULL,
  seq INTEGER NOT NULL,
  time TEXT,
  host TEXT,
  rule_id TEXT,
  rule_name TEXT,
  severity TEXT,
  received_at TEXT NOT NULL,
  doc TEXT NOT NULL,
  UNIQUE (agent_id, stream, seq)
);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts (time);
CREATE INDEX IF NOT EXISTS alerts_host ON alerts (host, time);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts (rule_name, time);
CREATE INDEX IF NOT EXISTS alerts_rule_id ON alerts (rule_id, time);
CREATE TABLE IF NOT EXISTS gaps (
  id INTEGER PRIMARY KEY,
  agent_id TEXT NOT NULL,
  stream TEXT NOT NULL,
  from_seq INTEGER NOT NULL,
  to_seq INTEGER NOT NULL,
  count INTEGER NOT NULL,
  reason TEXT NOT NULL,
  received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agents (
  agent_id TEXT PRIMARY KEY,
  name TEXT,
  version TEXT,
  token_name TEXT,
  remote TEXT,
  first_seen TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  health_at TEXT,
  health TEXT
);
`;

export interface StreamKey {
  agentId: string;
  stream: string;
}

/** A map key for a stream that no choice of agent id and stream name can collide with. */
export function streamId(key: StreamKey): string {
  return JSON.stringify([key.agentId, key.stream]);
}

export interface AgentSeen {
  id: string;
  name: string;
  version: string;
}

/**
 * One unit of ingest from one connection, applied in order within the round's transaction.
 * Agent and health updates ride in the same transaction: written on their own, each would
 * cost a commit (an fsync) of its own.
 */
export type IngestItem =
  | { kind: 'alerts'; key: StreamKey; first: number; alerts: Record<string, unknown>[] }
  | { kind: 'gap'; key: StreamKey; from: number; to: number; reason: GapReason }
  | { kind: 'seen'; agent: AgentSeen; tokenName: string; remote: string }
  | { kind: 'health'; agentId: string; at: string; stats: Record<string, HealthValue> };

export interface IngestOutcome {
  /** The stream's watermark after the item: what to acknowledge. */
  acked: number;
  stored: number;
  duplicates: number;
  /** Set when the item does not continue the stream: the connection must be closed. */
  error?: string;
}

export interface StoredAlert {
  id: number;
  agentId: string;
  seq: number;
  time: string | null;
  host: string | null;
  ruleId: string | null;
  ruleName: string | null;
  severity: string | null;
  receivedAt: string;
  doc: string;
}

export interface StoredGap {
  agentId: string;
  stream: string;
  from: number;
  to: number;
  count: number;
  reason: string;
}

/** Which alerts: every field optional, all given ones must hold. */
export interface AlertFilter {
  /** ISO-8601 lower bound on @timestamp, inclusive. */
  since?: string;
  /** ISO-8601 upper bound on @timestamp, inclusive. */
  until?: string;
  host?: string;
  /** Matches the rule's id or its name. */
  rule?: string;
  severity?: string;
  agentId?: string;
}

export interface AlertQuery extends AlertFilter {
  /** Only the newest N of the matches (still returned oldest first). */
  newest?: number;
}

/**
 * The WHERE clause (empty when nothing is filtered) and its parameters for a filter over the
 * alerts table, after any `extra` conditions: one definition for every reader of the store.
 */
export function alertWhere(filter: AlertFilter, extra: string[] = [], params: (string | number)[] = []): { sql: string; params: (string | number)[] } {
  const where = [...extra];
  const add = (condition: string, ...values: string[]): void => {
    where.push(condition);
    params.push(...values);
  };
  if (filter.since !== undefined) add('time >= ?', filter.since);
  if (filter.until !== undefined) add('time <= ?', filter.until);
  if (filter.host !== undefined) add('host = ?', filter.host);
  if (filter.rule !== undefined) add('(rule_name = ? OR rule_id = ?)', filter.rule, filter.rule);
  if (filter.severity !== undefined) add('severity = ?', filter.severity);
  if (filter.agentId !== undefined) add('agent_id = ?', filter.agentId);
  return { sql: where.length > 0 ? `WHERE ${where.join(' AND ')}` : '', params };
}

function text(v: unknown): string | null {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
}

function field(doc: Record<string, unknown>, dotted: string): unknown {
  // ECS documents may use nested objects or dotted keys ("rule.name"); accept both.
  if (dotted in doc) return doc[dotted];
  let cur: unknown = doc;
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

type WriteStatements = ReturnType<typeof prepareWrites>;

function prepareWrites(db: Database.Database) {
  return {
    setSeq: db.prepare<[string, string, number]>(
      'INSERT INTO streams (agent_id, stream, last_seq) VALUES (?, ?, ?) ON CONFLICT (agent_id, stream) DO UPDATE SET last_seq = excluded.last_seq',
    ),
    insertAlert: db.prepare<[string, string, number, string | null, string | null, string | null, string | null, string | null, string, string]>(
      'INSERT OR IGNORE INTO alerts (agent_id, stream, seq, time, host, rule_id, rule_name, severity, received_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    insertGap: db.prepare<[string, string, number, number, number, string, string]>(
      'INSERT INTO gaps (agent_id, stream, from_seq, to_seq, count, reason, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    seenAgent: db.prepare<[{ id: string; name: string; version: string; token: string; remote: string; now: string }]>(
      `INSERT INTO agents (agent_id, name, version, token_name, remote, first_seen, last_seen) VALUES (@id, @name, @version, @token, @remote, @now, @now)
       ON CONFLICT (agent_id) DO UPDATE SET name = @name, version = @version, token_name = @token, remote = @remote, last_seen = @now`,
    ),
    health: db.prepare<[string, string, string, string]>('UPDATE agents SET health_at = ?, health = ?, last_seen = ? WHERE agent_id = ?'),
  };
}

/** Read access to a collector database: `keysentry alerts`, the console, tests. */
export class AlertReader {
  readonly db: Database.Database;

  constructor(readonly file: string, readonly_ = true) {
    this.db = new Database(file, { readonly: readonly_, fileMustExist: readonly_ });
    this.db.pragma('busy_timeout = 5000');
  }

  private lastSeqStmt: Database.Statement<[string, string], { last_seq: number }> | null = null;

  lastSeq(key: StreamKey): number {
    this.lastSeqStmt ??= this.db.prepare<[string, string], { last_seq: number }>('SELECT last_seq FROM streams WHERE agent_id = ? AND stream = ?');
    return this.lastSeqStmt.get(key.agentId, key.stream)?.last_seq ?? 0;
  }

  alerts(query: AlertQuery = {}): StoredAlert[] {
    const { sql: where, params } = alertWhere(query);
    const sql = `SELECT id, agent_id AS agentId, seq, time, host, rule_id AS ruleId, rule_name AS ruleName, severity, received_at AS receivedAt, doc
      FROM alerts ${where} ORDER BY time DESC, id DESC LIMIT ?`;
    params.push(query.newest ?? -1);
    return this.db.prepare<(string | number)[], StoredAlert>(sql).all(...params).reverse();
  }

  gaps(): StoredGap[] {
    return this.db
      .prepare<[], StoredGap>('SELECT agent_id AS agentId, stream, from_seq AS "from", to_seq AS "to", count, reason FROM gaps ORDER BY id')
      .all();
  }

  agentHealth(agentId: string): { healthAt: string | null; health: Record<string, HealthValue> | null } | undefined {
    const row = this.db.prepare<[string], { health_at: string | null; health: string | null }>('SELECT health_at, health FROM agents WHERE agent_id = ?').get(agentId);
    if (row === undefined) return undefined;
    return { healthAt: row.health_at, health: row.health === null ? null : (JSON.parse(row.health) as Record<string, HealthValue>) };
  }

  close(): void {
    this.db.close();
  }
}

/** The collector's writable store. */
export class Store extends AlertReader {
  private readonly stmts: WriteStatements;
  private readonly roundTxn: (batch: IngestItem[], now: string) => IngestOutcome[];

  constructor(file: string) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    if (!fs.existsSync(file)) fs.closeSync(fs.openSync(file, 'a', 0o600));
    super(file, false);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(SCHEMA);
    this.stmts = prepareWrites(this.db);
    this.roundTxn = this.db.transaction((batch: IngestItem[], now: string) => this.applyRound(batch, now));
  }

  /**
   * Applies a round of items in one transaction. Within a stream an item must start at or
   * below watermark + 1 (replays are skipped as duplicates) and never jump past it.
   */
  ingest(items: IngestItem[]): IngestOutcome[] {
    return this.roundTxn(items, new Date().toISOString());
  }

  private applyRound(batch: IngestItem[], now: string): IngestOutcome[] {
    const seqs = new Map<string, { key: StreamKey; seq: number }>();
    const outcomes = batch.map((item): IngestOutcome => {
      if (item.kind === 'seen') {
        this.stmts.seenAgent.run({ id: item.agent.id, name: item.agent.name, version: item.agent.version, token: item.tokenName, remote: item.remote, now });
        return { acked: 0, stored: 0, duplicates: 0 };
      }
      if (item.kind === 'health') {
        this.stmts.health.run(item.at, JSON.stringify(item.stats), now, item.agentId);
        return { acked: 0, stored: 0, duplicates: 0 };
      }
      const k = streamId(item.key);
      const last = seqs.get(k)?.seq ?? this.lastSeq(item.key);
      const outcome = item.kind === 'alerts' ? this.applyAlerts(item, last, now) : this.applyGap(item, last, now);
      seqs.set(k, { key: item.key, seq: outcome.acked });
      return outcome;
    });
    for (const { key, seq } of seqs.values()) this.stmts.setSeq.run(key.agentId, key.stream, seq);
    return outcomes;
  }

  private applyAlerts(item: Extract<IngestItem, { kind: 'alerts' }>, last: number, now: string): IngestOutcome {
    if (item.first > last + 1) return { acked: last, stored: 0, duplicates: 0, error: `alerts start at sequence ${item.first} but ${last + 1} was expected and no gap explains the jump` };
    let stored = 0;
    let duplicates = 0;
    item.alerts.forEach((doc, i) => {
      const seq = item.first + i;
      if (seq <= last) {
        duplicates++;
        return;
      }
      const rule = field(doc, 'rule.name');
      this.stmts.insertAlert.run(
        item.key.agentId,
        item.key.stream,
        seq,
        text(field(doc, '@timestamp')),
        text(field(doc, 'host.hostname')) ?? text(field(doc, 'host.name')),
        text(field(doc, 'rule.id')) ?? text(field(doc, 'rule.uuid')),
        text(rule),
        text(field(doc, 'rule.severity')) ?? text(field(doc, 'kibana.alert.severity')) ?? text(field(doc, 'event.severity')),
        now,
        JSON.stringify(doc),
      );
      stored++;
    });
    return { acked: Math.max(last, item.first + item.alerts.length - 1), stored, duplicates };
  }

  private applyGap(item: Extract<IngestItem, { kind: 'gap' }>, last: number, now: string): IngestOutcome {
    if (item.from > last + 1) return { acked: last, stored: 0, duplicates: 0, error: `gap starts at sequence ${item.from} but ${last + 1} was expected` };
    if (item.to <= last) return { acked: last, stored: 0, duplicates: 1 };
    const from = Math.max(item.from, last + 1);
    this.stmts.insertGap.run(item.key.agentId, item.key.stream, from, item.to, item.to - from + 1, item.reason, now);
    return { acked: item.to, stored: 0, duplicates: 0 };
  }

  /** Records an agent outside an ingest round (its own transaction). */
  agentSeen(agent: AgentSeen, tokenName: string, remote: string): void {
    this.ingest([{ kind: 'seen', agent, tokenName, remote }]);
  }

  /** Records an agent's health outside an ingest round (its own transaction). */
  recordHealth(agentId: string, at: string, stats: Record<string, HealthValue>): void {
    this.ingest([{ kind: 'health', agentId, at, stats }]);
  }
}
