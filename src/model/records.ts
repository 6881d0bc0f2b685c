/**
 * Source records: what a source (live backend, eslogger, a recording) knows about one
 * process lifecycle event, before the process table resolves parents.
 *
 * Every source emits these; only the process table turns them into ECS events. Field
 * meanings follow ../shared/docs/endpoint-security.md: for an exec, `process` is the
 * image AFTER exec (ES `event.exec.target`), and `parent` is the process that forked it
 * (ES `target.parent_audit_token`), never the pre-exec image (`preExec`).
 */

/** One execution of a pid. `pidversion` is ES's (pid, pidversion) generation; absent on Linux. */
export interface ProcessRef {
  pid: number;
  pidversion?: number;
}

export interface CodeSignatureInfo {
  /** ES `codesigning_flags` (CS_* bits); `exists`/`trusted` are derived from it in one place. */
  flags?: number;
  signingId?: string;
  teamId?: string;
  isPlatformBinary?: boolean;
}

/** The image a process runs, as far as the source saw it. */
export interface ProcessImage extends ProcessRef {
  executable: string;
  codeSignature?: CodeSignatureInfo;
}

export interface ExecRecord {
  kind: 'exec';
  /** Wall-clock time of the event, nanoseconds since the Unix epoch. */
  timeNs: bigint;
  /** Source sequence number (ES global_seq_num, audit serial), when the source has one. */
  seq?: number;
  /** The process after exec. */
  process: ProcessImage;
  /** argv, including argv[0]. */
  args: string[];
  /** False when the source could not read the whole argv (Linux connector fallback, truncation). */
  argsComplete: boolean;
  /** False when the source cut a path it reports (the executable, cwd or pre-exec image: ES's path_truncated). Absent: complete. */
  pathsComplete?: boolean;
  cwd?: string;
  uid?: number;
  euid?: number;
  gid?: number;
  userName?: string;
  /** The parent (forker) of this process. */
  parent?: ProcessRef;
  /** What the source itself saw of the parent's image (Linux /proc read at capture time). */
  parentExecutable?: string;
  /** ES responsible process: Elastic's process.Ext.effective_parent. */
  responsible?: ProcessRef;
  /** ES msg->process: the same pid before exec. Fed to the table as what this pid was. */
  preExec?: ProcessImage;
}

export interface ForkRecord {
  kind: 'fork';
  timeNs: bigint;
  seq?: number;
  /** The new child: it runs its parent's image until it execs. */
  child: ProcessImage;
  parent: ProcessRef;
  /**
   * ES msg->process: the forker's own image (same pid/pidversion as `parent`). Fed to the table
   * as what the parent runs, so a parent that started before the capture still gets its image.
   */
  parentImage?: ProcessImage;
}

export interface ExitRecord {
  kind: 'exit';
  timeNs: bigint;
  seq?: number;
  /** The exiting process; an image when the source shows what it ran (ES msg->process). */
  process: ProcessRef | ProcessImage;
  /** wait(2) status. */
  status?: number;
}

/**
 * A process that was already running when the source started (live start-up scan, or the
 * seed lines of a recording): it enters the process table without an event of its own.
 */
export interface SeedRecord {
  kind: 'seed';
  /** When the source saw it (the scan time). */
  timeNs: bigint;
  process: ProcessImage;
  args?: string[];
  parent?: ProcessRef;
  /** Process start time, when the source knows it. */
  startTimeNs?: bigint;
}

export type SourceRecord = ExecRecord | ForkRecord | ExitRecord | SeedRecord;
