/**
 * The composition shared by `replay`, `run` and `start`: source -> process table -> ECS
 * event -> enrichment -> rules -> alerts -> sinks, one item at a time, in source order.
 * Nothing about one event (a bad line, an enrichment or rule failure) stops the others.
 */
import { buildAlert } from '../alerts/alert';
import type { AgentInfo, AlertSink } from '../alerts/types';
import type { EcsDocument, EcsProcessEvent } from '../model/ecs';
import type { SourceRecord } from '../model/records';
import { toEcsEvent, type HostInfo } from '../process/ecs';
import type { ProcessTable } from '../process/table';
import type { CompiledRuleSet } from '../rules/types';
import type { EventSource, SourceItem } from '../sources/types';

export interface Rejection {
  where: string;
  reason: string;
}

export interface PipelineOptions {
  source: EventSource;
  table: ProcessTable;
  /** The host the records come from (ECS host.*). */
  host: HostInfo;
  agent: AgentInfo;
  /** A rule set, or a getter read per event so a live reload takes effect at once. */
  rules: CompiledRuleSet | (() => CompiledRuleSet);
  sinks: AlertSink[];
  /** Adds normalized fields to keysentry's own events before the rules see them. */
  enrich?: (event: EcsProcessEvent) => void;
  /** Every ECS document the rules evaluate, after enrichment (for `replay --events`). */
  onEvent?: (doc: EcsDocument) => void | Promise<void>;
  onReject?: (rejection: Rejection) => void;
  /** Records to keep out of detection (the agent's own activity). They still feed the table. */
  skip?: (record: SourceRecord) => boolean;
  /** Rejections kept in the stats (all are counted). Default 100. */
  keepRejections?: number;
}

export interface PipelineStats {
  /** ECS events evaluated (exec records + ECS documents). */
  events: number;
  /** Records read (exec, fork, exit, seed). */
  records: number;
  alerts: number;
  /** Items that could not be used: bad input lines, plus events whose processing failed. */
  rejected: number;
  /** The first `keepRejections` of them. */
  rejections: Rejection[];
  /** Events the source knows it lost. */
  lost: number;
  skipped: number;
}

export async function runPipeline(options: PipelineOptions): Promise<PipelineStats> {
  const keep = options.keepRejections ?? 100;
  const stats: PipelineStats = { events: 0, records: 0, alerts: 0, rejected: 0, rejections: [], lost: 0, skipped: 0 };
  const ruleSet = typeof options.rules === 'function' ? options.rules : () => options.rules as CompiledRuleSet;

  const reject = (where: string, reason: string): void => {
    stats.rejected++;
    const rejection = { where, reason };
    if (stats.rejections.length < keep) stats.rejections.push(rejection);
    options.onReject?.(rejection);
  };

  const detect = async (doc: EcsDocument, where: string): Promise<void> => {
    stats.events++;
    if (options.onEvent !== undefined) await options.onEvent(doc);
    let matches;
    try {
      matches = ruleSet().evaluate(doc);
    } catch (err) {
      reject(where, `rule evaluation failed: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    for (const rule of matches) {
      const alert = buildAlert(doc, rule, options.agent);
      stats.alerts++;
      for (const sink of options.sinks) await sink.write(alert);
    }
  };

  const handle = async (item: SourceItem): Promise<void> => {
    switch (item.kind) {
      case 'reject':
        reject(item.where, item.reason);
        return;
      case 'ecs':
        await detect(item.doc, item.where);
        return;
      case 'record': {
        stats.records++;
        const record = item.record;
        if (record.kind !== 'exec') {
          options.table.apply(record);
          return;
        }
        const resolution = options.table.apply(record);
        if (options.skip?.(record) === true) {
          stats.skipped++;
          return;
        }
        let event: EcsProcessEvent;
        try {
          event = toEcsEvent(record, resolution, options.host);
          options.enrich?.(event);
        } catch (err) {
          reject(item.where, `event processing failed: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
        await detect(event as unknown as EcsDocument, item.where);
        return;
      }
    }
  };

  for await (const batch of options.source.batches()) {
    for (const item of batch) await handle(item);
  }
  stats.lost = options.source.stats().lost;
  return stats;
}
