/**
 * The sources stage's interface: every source (native live, eslogger child, replay readers)
 * yields batches of items; the pipeline drains them in order.
 */
import type { EcsDocument } from '../model/ecs';
import type { SourceRecord } from '../model/records';

/** `where` locates the item in its input for error messages: "capture.json:17", "live". */
export type SourceItem =
  | { kind: 'record'; record: SourceRecord; where: string }
  /** An ECS document taken as given (ECS NDJSON): it bypasses the process table. */
  | { kind: 'ecs'; doc: EcsDocument; where: string }
  /** Input that could not be used: counted and reported, never fatal. */
  | { kind: 'reject'; where: string; reason: string };

export interface SourceStats {
  /** Items produced so far, by kind. */
  records: number;
  ecs: number;
  rejected: number;
  /** Events the source knows it lost (queue full, kernel backlog, ES seq gaps). */
  lost: number;
}

export interface EventSource {
  readonly name: string;
  /** Batches in order; the iterator ends when the input ends or `stop()` is called. */
  batches(): AsyncIterable<SourceItem[]>;
  stop(): Promise<void>;
  stats(): SourceStats;
}
