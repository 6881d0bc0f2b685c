/**
 * The composition shared by `replay`, `run` and `start`: source -> process table -> ECS
 * event -> enrichment -> rules -> alerts -> sinks, one item at a time, in source order.
 * One consumer of batches, driven by the source's push delivery where it has one (the native
 * live source: each batch straight from the addon's callback) and by `batches()` otherwise.
 * Nothing about one event (a bad line, an enrichment or rule failure) stops the others.
 */
import { buildAlert } from '../alerts/alert';
import type { AgentInfo, AlertDocument, AlertSink } from '../alerts/types';
import type { EcsDocument, EcsProcessEvent } from '../model/ecs';
import type { SourceRecord } from '../model/records';
import { toEcsEvent, type HostInfo } from '../process/ecs';
import type { ProcessTable } from '../process/table';
import type { CompiledRuleSet } from '../rules/types';
import type { BatchConsumer, EventSource, SourceItem } from '../sources/types';

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
  /** The same for ECS documents read as they are (ECS NDJSON replay). */
  enrichDocument?: (doc: EcsDocument) => void;
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

  // Everything below is synchronous unless a sink or observer hands back a promise: one
  // microtask per event would cost more than the table and the ECS conversion together.
  const writeAlerts = async (alerts: AlertDocument[], where: string): Promise<void> => {
    for (const alert of alerts) {
      for (const sink of options.sinks) {
        // One failing sink (a full disk, an unserializable document) must not stop the others or the pipeline.
        try {
          await sink.write(alert);
        } catch (err) {
          reject(where, `alert not written: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
  };

  const evaluate = (doc: EcsDocument, where: string): Promise<void> | undefined => {
    let alerts: AlertDocument[];
    try {
      const matches = ruleSet().evaluate(doc);
      if (matches.length === 0) return undefined;
      alerts = matches.map((rule) => buildAlert(doc, rule, options.agent));
    } catch (err) {
      reject(where, `rule evaluation failed: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
    stats.alerts += alerts.length;
    return writeAlerts(alerts, where);
  };

  const detect = (doc: EcsDocument, where: string): Promise<void> | undefined => {
    stats.events++;
    const observed = options.onEvent?.(doc);
    if (observed instanceof Promise) return observed.then(() => evaluate(doc, where));
    return evaluate(doc, where);
  };

  const handle = (item: SourceItem): Promise<void> | undefined => {
    switch (item.kind) {
      case 'reject':
        reject(item.where, item.reason);
        return undefined;
      case 'ecs':
        try {
          options.enrichDocument?.(item.doc);
        } catch (err) {
          reject(item.where, `event processing failed: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
        return detect(item.doc, item.where);
      case 'record': {
        stats.records++;
        const record = item.record;
        if (record.kind !== 'exec') {
          options.table.apply(record);
          return undefined;
        }
        const resolution = options.table.apply(record);
        if (options.skip?.(record) === true) {
          stats.skipped++;
          return undefined;
        }
        let event: EcsProcessEvent;
        try {
          event = toEcsEvent(record, resolution, options.host);
          options.enrich?.(event);
        } catch (err) {
          reject(item.where, `event processing failed: ${err instanceof Error ? err.message : String(err)}`);
          return undefined;
        }
        return detect(event as unknown as EcsDocument, item.where);
      }
    }
  };

  // The rest of a batch waits for the item that went asynchronous (a sink's backpressure).
  const consumeFrom = (batch: SourceItem[], start: number): Promise<void> | undefined => {
    for (let i = start; i < batch.length; i++) {
      const pending = handle(batch[i] as SourceItem);
      if (pending !== undefined) return pending.then(() => consumeFrom(batch, i + 1));
    }
    return undefined;
  };
  const consume: BatchConsumer = (batch) => consumeFrom(batch, 0);

  const source = options.source;
  if (source.deliver !== undefined) {
    await source.deliver(consume);
  } else {
    for await (const batch of source.batches()) {
      const pending = consume(batch);
      if (pending !== undefined) await pending;
    }
  }
  stats.lost = options.source.stats().lost;
  return stats;
}
