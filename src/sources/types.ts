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

/**
 * Takes one batch. It returns a promise only when it could not finish synchronously (a sink
 * applying backpressure); the source then holds the batches that follow until it settles.
 */
export type BatchConsumer = (batch: SourceItem[]) => Promise<void> | undefined;

export interface EventSource {
  readonly name: string;
  /** Batches in order; the iterator ends when the input ends or `stop()` is called. */
  batches(): AsyncIterable<SourceItem[]>;
  /**
   * Push delivery, offered by sources whose data arrives in callbacks (the native addon):
   * each batch goes to `consume` from the callback that brought it, without the promise and
   * generator hops of `batches()` (at 100 execs/s those cost more than the pipeline's work).
   * Resolves once the source has ended and every batch was consumed; rejects with what
   * `consume` threw. A consumer uses either this or `batches()`, never both.
   */
  deliver?(consume: BatchConsumer): Promise<void>;
  stop(): Promise<void>;
  stats(): SourceStats;
}
