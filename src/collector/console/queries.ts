/**
 * What the console reads from the collector's store. Every filter is a bound parameter;
 * every result is capped, so a large fleet database never turns into a large response.
 */
import type Database from 'better-sqlite3';
import { alertWhere, type AlertFilter, type StoredAlert } from '../store';

/** The console filters alerts exactly as `keysentry alerts` does. */
export type ConsoleFilter = Omit<AlertFilter, 'agentId'>;

/** A stored alert as the list shows it: the store's columns, without the document. */
export type AlertRow = Omit<StoredAlert, 'seq' | 'doc'> & {
  /** The alerting process's command line (or executable). */
  process: string | null;
};

export type AlertDetail = AlertRow & { doc: unknown };

export interface TimelineSeries {
  rule: string;
  counts: number[];
}

export interface Timeline {
  /** Hour buckets, "YYYY-MM-DDTHH", oldest first. */
  hours: string[];
  series: TimelineSeries[];
}

export interface AgentRow {
  agentId: string;
  name: string | null;
  version: string | null;
  remote: string | null;
  firstSeen: string;
  lastSeen: string;
  healthAt: string | null;
  health: Record<string, unknown> | null;
  /** No heartbeat within the silence threshold. */
  silent: boolean;
}

export const MAX_LIST = 500;
const MAX_TIMELINE_HOURS = 24 * 14;
const MAX_FACET_VALUES = 200;

// Alert documents are nested ECS, or dotted keys when an agent forwarded an export as is.
const PROCESS_SUMMARY = `COALESCE(json_extract(doc, '$.process.command_line'), json_extract(doc, '$."process.command_line"'),
  json_extract(doc, '$.process.executable'), json_extract(doc, '$."process.executable"'))`;
const ROW_COLUMNS = `id, agent_id AS agentId, time, host, rule_id AS ruleId, rule_name AS ruleName, severity, received_at AS receivedAt,
  ${PROCESS_SUMMARY} AS process`;

export class ConsoleQueries {
  constructor(
    private readonly db: Database.Database,
    private readonly silentAfterMs: number,
  ) {}

  /** Newest first; with `afterId`, only alerts stored after that one (the live update). */
  alerts(filter: ConsoleFilter, afterId: number | undefined, limit: number): AlertRow[] {
    const { sql, params } = alertWhere(filter, afterId === undefined ? [] : ['id > ?'], afterId === undefined ? [] : [afterId]);
    return this.db
      .prepare<(string | number)[], AlertRow>(`SELECT ${ROW_COLUMNS} FROM alerts ${sql} ORDER BY id DESC LIMIT ?`)
      .all(...params, Math.min(Math.max(1, limit), MAX_LIST));
  }

  alert(id: number): AlertDetail | undefined {
    const row = this.db.prepare<[number], AlertRow & { doc: string }>(`SELECT ${ROW_COLUMNS}, doc FROM alerts WHERE id = ?`).get(id);
    if (row === undefined) return undefined;
    return { ...row, doc: JSON.parse(row.doc) as unknown };
  }

  lastId(): number {
    return this.db.prepare<[], { id: number | null }>('SELECT MAX(id) AS id FROM alerts').get()?.id ?? 0;
  }

  /** Alerts per hour by rule over the last `hours` hours up to `now`. */
  timeline(filter: ConsoleFilter, hours: number, now: Date): Timeline {
    const span = Math.min(Math.max(1, Math.floor(hours)), MAX_TIMELINE_HOURS);
    const end = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000);
    const buckets: string[] = [];
    for (let i = span - 1; i >= 0; i--) buckets.push(new Date(end.getTime() - i * 3_600_000).toISOString().slice(0, 13));
    const since = `${buckets[0] as string}:00:00`;
    const { sql, params } = alertWhere({ ...filter, since: filter.since !== undefined && filter.since > since ? filter.since : since });
    const rows = this.db
      .prepare<(string | number)[], { hour: string; rule: string; n: number }>(
        `SELECT substr(time, 1, 13) AS hour, COALESCE(rule_name, rule_id, '(unnamed rule)') AS rule, COUNT(*) AS n FROM alerts ${sql} GROUP BY hour, rule`,
      )
      .all(...params);
    const index = new Map(buckets.map((h, i) => [h, i]));
    const byRule = new Map<string, number[]>();
    for (const row of rows) {
      const at = index.get(row.hour);
      if (at === undefined) continue;
      let counts = byRule.get(row.rule);
      if (counts === undefined) {
        if (byRule.size >= MAX_FACET_VALUES) continue;
        counts = new Array<number>(buckets.length).fill(0);
        byRule.set(row.rule, counts);
      }
      counts[at] = row.n;
    }
    return { hours: buckets, series: [...byRule].map(([rule, counts]) => ({ rule, counts })) };
  }

  /** The values the filter menus offer. */
  facets(): { hosts: string[]; rules: string[]; severities: string[] } {
    const distinct = (column: string): string[] =>
      this.db
        .prepare<[number], { v: string }>(`SELECT DISTINCT ${column} AS v FROM alerts WHERE ${column} IS NOT NULL ORDER BY v LIMIT ?`)
        .all(MAX_FACET_VALUES)
        .map((r) => r.v);
    return { hosts: distinct('host'), rules: distinct('rule_name'), severities: distinct('severity') };
  }

  agents(now: Date): AgentRow[] {
    const rows = this.db
      .prepare<[number], Omit<AgentRow, 'health' | 'silent'> & { health: string | null }>(
        `SELECT agent_id AS agentId, name, version, remote, first_seen AS firstSeen, last_seen AS lastSeen, health_at AS healthAt, health
         FROM agents ORDER BY agent_id LIMIT ?`,
      )
      .all(MAX_LIST);
    return rows.map((r) => {
      const heard = Date.parse(r.healthAt ?? r.lastSeen);
      return {
        ...r,
        health: r.health === null ? null : (JSON.parse(r.health) as Record<string, unknown>),
        silent: !Number.isFinite(heard) || now.getTime() - heard > this.silentAfterMs,
      };
    });
  }
}
