/**
 * The process table: which image each running (pid, pidversion) executes, so that every
 * exec gets its real parent (the forker, ES `parent_audit_token`), never the pre-exec image
 * of the same pid (see docs/events.md, "Who is the parent").
 *
 * Time inside the table is event time (the records' `timeNs`), never the wall clock, so a
 * replay of a recording resolves exactly as the live run that wrote it did.
 */
import { createHash } from 'node:crypto';
import type { CodeSignatureInfo, ExecRecord, ProcessImage, ProcessRef, SeedRecord, SourceRecord } from '../model/records';

export interface ProcessEntry {
  readonly pid: number;
  readonly pidversion?: number;
  readonly executable: string;
  /** argv of the image; a forked child inherits its parent's. */
  readonly args?: readonly string[];
  readonly codeSignature?: CodeSignatureInfo;
  readonly parent?: ProcessRef;
  readonly entityId: string;
  /** Bytes of strings this entry holds, for the table's byte budget. */
  readonly bytes: number;
  /** Event time at which the image ended (exit, or replaced by exec); undefined while it runs. */
  endedNs?: bigint;
}

/** What the table knows around one exec, for the ECS event. */
export interface ExecResolution {
  /** The new image (already in the table). */
  process: ProcessEntry;
  /** The forker, when the table knows it. */
  parent?: ProcessEntry;
  /** The forker's pid/pidversion as the record gives it, known or not. */
  parentRef?: ProcessRef;
  /** The forker's entity_id: its entry's, else derived from its (pid, pidversion) when it has one. */
  parentEntityId?: string;
  /** The responsible process (ES responsible_audit_token), when the table knows it. */
  responsible?: ProcessEntry;
}

export interface ProcessTableOptions {
  /** ECS host.id (or hostname): part of every entity_id. */
  hostId: string;
  /** Hard cap on entries; beyond it the oldest are evicted (counted). */
  maxEntries?: number;
  /** Hard cap on the bytes of paths and argv held; beyond it the oldest are evicted (counted). */
  maxBytes?: number;
  /** How long an ended image stays resolvable for late lookups, in ns of event time. */
  endedGraceNs?: bigint;
}

export interface ProcessTableStats {
  entries: number;
  bytes: number;
  /** Entries of ended images still kept for late lookups. */
  ended: number;
  /** Ended entries dropped after the grace period. */
  expired: number;
  /** Entries dropped because a cap was hit (running or ended): each one may cost a parent. */
  evicted: number;
  parentHits: number;
  parentMisses: number;
}

export const DEFAULT_MAX_ENTRIES = 65_536;
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_ENDED_GRACE_NS = 60n * 1_000_000_000n;
/** Fixed per-entry overhead charged to the byte budget besides its strings. */
const ENTRY_OVERHEAD_BYTES = 200;

/** 12 hex digits of SHA-256 over the host id: the host part of every entity_id (hashed once per table). */
export function hostTag(hostId: string): string {
  return createHash('sha256').update(hostId).digest('hex').slice(0, 12);
}

/**
 * entity_id: `<host tag>-<pid>-<pidversion>-<start ns>`, where start is the event time that
 * created the image (its exec, fork or seed start), empty when unknown, and pidversion is
 * empty without one (Linux). Unique per execution on a host, the same in a live run and in
 * the replay of its recording, and readable when an analyst pivots on it. No per-event hash:
 * it is built for every event.
 */
export function entityId(tag: string, pid: number, pidversion: number | undefined, startNs: bigint | undefined): string {
  return `${tag}-${pid}-${pidversion ?? ''}-${startNs ?? ''}`;
}

/**
 * The table key of a (pid, pidversion): a number, so lookups allocate nothing. pid alone is
 * -(pid + 1); with a pidversion, pid * 2^32 + pidversion, exact below 2^53 (pid < 2^21, which
 * covers macOS's 99,999). Anything larger falls back to a string.
 */
type Key = number | string;
function keyOf(ref: ProcessRef): Key {
  if (ref.pidversion === undefined) return -(ref.pid + 1);
  return ref.pid < 0x20_0000 ? ref.pid * 0x1_0000_0000 + ref.pidversion : `${ref.pid}:${ref.pidversion}`;
}
const pidOnlyKey = (pid: number): Key => -(pid + 1);

function stringBytes(executable: string, args: readonly string[] | undefined): number {
  let n = ENTRY_OVERHEAD_BYTES + executable.length;
  if (args !== undefined) for (const a of args) n += a.length + 16;
  return n;
}

export class ProcessTable {
  private readonly hostTag: string;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly graceNs: bigint;
  /** Insertion-ordered, so the first key is the oldest entry. */
  private readonly byKey = new Map<Key, ProcessEntry>();
  /** The newest image of each pid: the answer for refs without a pidversion. */
  private readonly currentByPid = new Map<number, ProcessEntry>();
  /** Ended entries in end order; stale slots (entry since replaced) are skipped. */
  private endedQueue: Array<{ key: Key; entry: ProcessEntry }> = [];
  private endedHead = 0;
  private nowNs = 0n;
  private bytes = 0;
  private endedCount = 0;
  private expired = 0;
  private evicted = 0;
  private parentHits = 0;
  private parentMisses = 0;

  constructor(options: ProcessTableOptions) {
    this.hostTag = hostTag(options.hostId);
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.graceNs = options.endedGraceNs ?? DEFAULT_ENDED_GRACE_NS;
  }

  /** The processes running at start-up. */
  seed(records: Iterable<SeedRecord>): void {
    for (const r of records) this.apply(r);
  }

  /** Feeds one record; for an exec, returns what the ECS event needs. */
  apply(record: ExecRecord): ExecResolution;
  apply(record: SourceRecord): ExecResolution | undefined;
  apply(record: SourceRecord): ExecResolution | undefined {
    if (record.timeNs > this.nowNs) this.nowNs = record.timeNs;
    this.expireEnded();
    switch (record.kind) {
      case 'exec':
        return this.exec(record);
      case 'fork': {
        const parent = record.parentImage === undefined ? this.lookup(record.parent) : this.seen(record.parentImage, undefined);
        const child = record.child;
        this.insert(child, child.executable || parent?.executable || '', parent?.args, child.codeSignature ?? parent?.codeSignature, record.parent, record.timeNs);
        return undefined;
      }
      case 'exit': {
        // An exiting image the table never saw is still the parent of children that exec late.
        const entry = 'executable' in record.process ? this.seen(record.process, undefined) : this.lookup(record.process);
        if (entry !== undefined) this.end(keyOf(entry), entry, record.timeNs);
        return undefined;
      }
      case 'seed':
        this.insert(record.process, record.process.executable, record.args, record.process.codeSignature, record.parent, record.startTimeNs);
        return undefined;
    }
  }

  /** The entry for a ref: exact generation, else the pid's generation-less or newest entry. */
  lookup(ref: ProcessRef): ProcessEntry | undefined {
    if (ref.pidversion !== undefined) {
      const exact = this.byKey.get(keyOf(ref));
      if (exact !== undefined) return exact;
      // A generation-less entry (seeded by a source without pidversions) is the only safe
      // fallback: another generation of the pid would be a different image, i.e. a lie.
      return this.byKey.get(pidOnlyKey(ref.pid));
    }
    return this.currentByPid.get(ref.pid);
  }

  stats(): ProcessTableStats {
    return {
      entries: this.byKey.size,
      bytes: this.bytes,
      ended: this.endedCount,
      expired: this.expired,
      evicted: this.evicted,
      parentHits: this.parentHits,
      parentMisses: this.parentMisses,
    };
  }

  private exec(record: ExecRecord): ExecResolution {
    // The old image is what this pid was, and what children forked before the exec resolve to.
    const preEntry = record.preExec === undefined ? undefined : this.seen(record.preExec, record.parent);
    const parentRef = record.parent ?? preEntry?.parent ?? this.currentByPid.get(record.process.pid)?.parent;
    const parent = parentRef === undefined ? undefined : this.lookup(parentRef);
    if (parent !== undefined) this.parentHits++;
    else this.parentMisses++;
    // The pid's previous image ends here (kept for late lookups). Without pidversions the new
    // image simply takes the pid's slot.
    const newKey = keyOf(record.process);
    this.endUnlessKey(preEntry, newKey, record.timeNs);
    this.endUnlessKey(this.currentByPid.get(record.process.pid), newKey, record.timeNs);
    this.endUnlessKey(this.byKey.get(pidOnlyKey(record.process.pid)), newKey, record.timeNs);
    const process = this.insert(record.process, record.process.executable, record.args, record.process.codeSignature, parentRef, record.timeNs);
    const responsible = record.responsible === undefined ? undefined : this.lookup(record.responsible);
    const resolution: ExecResolution = { process };
    if (parentRef !== undefined) resolution.parentRef = parentRef;
    if (parent !== undefined) resolution.parent = parent;
    if (responsible !== undefined) resolution.responsible = responsible;
    // A missed parent is named the same way every time it is missed (start unknown).
    const parentEntityId = parent?.entityId ?? (parentRef?.pidversion === undefined ? undefined : entityId(this.hostTag, parentRef.pid, parentRef.pidversion, undefined));
    if (parentEntityId !== undefined) resolution.parentEntityId = parentEntityId;
    return resolution;
  }

  /**
   * An image a message shows a (pid, pidversion) running (ES msg->process of an exec, fork or
   * exit). It enters the table only when the table has no entry for it (the process predates
   * the capture): what the table learnt from the process's own fork or exec is fresher (it
   * carries argv and the start time) and stays. Without a pidversion the pid alone could name
   * a later image of a reused pid, so such an image is not entered.
   */
  private seen(image: ProcessImage, parent: ProcessRef | undefined): ProcessEntry | undefined {
    const known = this.lookup(image);
    if (known !== undefined || image.pidversion === undefined) return known;
    return this.insert(image, image.executable, undefined, image.codeSignature, parent, undefined);
  }

  private insert(
    ref: ProcessRef,
    executable: string,
    args: readonly string[] | undefined,
    codeSignature: CodeSignatureInfo | undefined,
    parent: ProcessRef | undefined,
    startNs: bigint | undefined,
  ): ProcessEntry {
    const key = keyOf(ref);
    // One shape for every entry (absent fields stay undefined): property reads stay monomorphic.
    const entry: ProcessEntry = {
      pid: ref.pid,
      pidversion: ref.pidversion,
      executable,
      args,
      codeSignature,
      parent,
      entityId: entityId(this.hostTag, ref.pid, ref.pidversion, startNs),
      bytes: stringBytes(executable, args),
      endedNs: undefined,
    };
    const old = this.byKey.get(key);
    if (old !== undefined) this.remove(key, old);
    this.byKey.set(key, entry);
    this.currentByPid.set(ref.pid, entry);
    this.bytes += entry.bytes;
    this.enforceCaps();
    return entry;
  }

  private endUnlessKey(entry: ProcessEntry | undefined, key: Key, atNs: bigint): void {
    if (entry !== undefined && keyOf(entry) !== key) this.end(keyOf(entry), entry, atNs);
  }

  private end(key: Key, entry: ProcessEntry, atNs: bigint): void {
    if (entry.endedNs !== undefined) return;
    entry.endedNs = atNs;
    this.endedCount++;
    this.endedQueue.push({ key, entry });
  }

  private remove(key: Key, entry: ProcessEntry): void {
    this.byKey.delete(key);
    if (this.currentByPid.get(entry.pid) === entry) this.currentByPid.delete(entry.pid);
    this.bytes -= entry.bytes;
    if (entry.endedNs !== undefined) this.endedCount--;
  }

  private expireEnded(): void {
    const q = this.endedQueue;
    while (this.endedHead < q.length) {
      const slot = q[this.endedHead] as { key: Key; entry: ProcessEntry };
      const live = this.byKey.get(slot.key) === slot.entry;
      if (live && (slot.entry.endedNs as bigint) + this.graceNs > this.nowNs) break;
      if (live) {
        this.remove(slot.key, slot.entry);
        this.expired++;
      }
      this.endedHead++;
    }
    // Compact once the consumed prefix dominates, so the queue stays proportional to the table.
    if (this.endedHead > 1024 && this.endedHead * 2 > q.length) {
      this.endedQueue = q.slice(this.endedHead).filter((s) => this.byKey.get(s.key) === s.entry);
      this.endedHead = 0;
    }
  }

  private enforceCaps(): void {
    while (this.byKey.size > this.maxEntries || this.bytes > this.maxBytes) {
      const victim = this.oldestEnded() ?? this.oldestEntry();
      if (victim === undefined) return;
      this.remove(victim.key, victim.entry);
      this.evicted++;
    }
  }

  private oldestEnded(): { key: Key; entry: ProcessEntry } | undefined {
    const q = this.endedQueue;
    while (this.endedHead < q.length) {
      const slot = q[this.endedHead++] as { key: Key; entry: ProcessEntry };
      if (this.byKey.get(slot.key) === slot.entry) return slot;
    }
    return undefined;
  }

  private oldestEntry(): { key: Key; entry: ProcessEntry } | undefined {
    for (const [key, entry] of this.byKey) return { key, entry };
    return undefined;
  }
}
