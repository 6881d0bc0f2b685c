/**
 * Keeps the agent's own activity out of the stream: the agent process and every process it
 * spawns (and theirs) is dropped before the process table and the rules, so the agent never
 * alerts on itself nor feeds on its own events.
 *
 * Descendants are learnt from the stream itself (fork child, exec parent). On Linux the
 * audit backend reports no exits, so a remembered pid is confirmed by its start time before
 * it mutes anything: a reused pid belongs to someone else.
 */
import type { SourceRecord } from '../model/records';
import { startTicks } from './linux-seed';
import type { BatchConsumer, EventSource, SourceItem, SourceStats } from './types';

/** The agent spawns a handful of helpers at most; the set never outgrows this. */
const MAX_OWN_PROCESSES = 4096;

export class OwnActivityFilter {
  /** pid -> start ticks when learnt (Linux), undefined where the platform has no such check. */
  private readonly own = new Map<number, number | undefined>();
  skipped = 0;

  /** `startTimeOf`: a pid's start time, undefined when it is gone; null where there is no such check. */
  constructor(
    private readonly selfPid = process.pid,
    private readonly startTimeOf: ((pid: number) => number | undefined) | null = process.platform === 'linux' ? startTicks : null,
  ) {}

  /** True when the record is the agent's own activity (and is to be dropped). */
  isOwn(record: SourceRecord): boolean {
    switch (record.kind) {
      case 'fork':
        if (!this.has(record.parent.pid)) return false;
        this.add(record.child.pid);
        return true;
      case 'exec': {
        const pid = record.process.pid;
        if (pid === this.selfPid) return true;
        if (this.has(pid)) return true;
        if (record.parent === undefined || !this.has(record.parent.pid)) return false;
        this.add(pid);
        return true;
      }
      case 'exit': {
        const pid = record.process.pid;
        if (pid === this.selfPid || !this.has(pid)) return false;
        this.own.delete(pid);
        return true;
      }
      case 'seed':
        return false;
    }
  }

  private has(pid: number): boolean {
    if (pid === this.selfPid) return true;
    if (!this.own.has(pid)) return false;
    if (this.startTimeOf === null) return true;
    const remembered = this.own.get(pid);
    const now = this.startTimeOf(pid);
    // Gone, or a different process now: forget it. A process that already exited is no
    // longer the agent's either way.
    if (now !== remembered) {
      this.own.delete(pid);
      return false;
    }
    return true;
  }

  private add(pid: number): void {
    if (this.own.size >= MAX_OWN_PROCESSES) {
      const oldest = this.own.keys().next().value;
      if (oldest !== undefined) this.own.delete(oldest);
    }
    // -1: already gone when learnt, so nothing later can be confirmed as it.
    this.own.set(pid, this.startTimeOf === null ? undefined : (this.startTimeOf(pid) ?? -1));
  }
}

/** A source without the agent's own activity. */
export class WithoutOwnActivity implements EventSource {
  readonly name: string;
  readonly filter: OwnActivityFilter;
  /** Present when the inner source pushes (EventSource.deliver). */
  readonly deliver?: (consume: BatchConsumer) => Promise<void>;

  constructor(
    private readonly inner: EventSource,
    filter = new OwnActivityFilter(),
  ) {
    this.name = inner.name;
    this.filter = filter;
    const deliverInner = inner.deliver?.bind(inner);
    if (deliverInner !== undefined) {
      this.deliver = (consume) =>
        deliverInner((batch) => {
          const kept = this.withoutOwn(batch);
          return kept.length > 0 ? consume(kept) : undefined;
        });
    }
  }

  async *batches(): AsyncIterable<SourceItem[]> {
    for await (const batch of this.inner.batches()) {
      const kept = this.withoutOwn(batch);
      if (kept.length > 0) yield kept;
    }
  }

  /** The batch itself when none of it is own activity (the usual case: no copy per batch). */
  private withoutOwn(batch: SourceItem[]): SourceItem[] {
    let kept: SourceItem[] | undefined;
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i] as SourceItem;
      if (item.kind !== 'record' || !this.filter.isOwn(item.record)) {
        kept?.push(item);
        continue;
      }
      this.filter.skipped++;
      kept ??= batch.slice(0, i);
    }
    return kept ?? batch;
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  stats(): SourceStats {
    return this.inner.stats();
  }
}
