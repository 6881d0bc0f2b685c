/**
 * eslogger JSON -> the fields of a real es_message_t, for the test addon that builds the
 * message from the double's types (native/test-double/src/es_test_addon.cc). Written
 * independently of the eslogger reader under test: both paths must agree on their own.
 */
import * as path from 'node:path';
import type { RunningProcess } from '../../src/sources/mac-live';
import { REPO_ROOT } from './paths';

export type AuditTokenValues = [number, number, number, number, number, number, number, number];

export interface EsFileSpec {
  path: string;
  truncated: boolean;
}

export interface EsProcessSpec {
  auditToken: AuditTokenValues;
  ppid: number;
  originalPpid: number;
  groupId: number;
  sessionId: number;
  codesigningFlags: number;
  isPlatformBinary: boolean;
  isEsClient: boolean;
  signingId: string | null;
  teamId: string | null;
  executable: EsFileSpec;
  tty: EsFileSpec | null;
  responsibleAuditToken: AuditTokenValues;
  parentAuditToken: AuditTokenValues;
}

export interface EsMessageSpec {
  version: number;
  timeSec: number;
  timeNsec: number;
  machTime: number;
  seqNum: number;
  globalSeqNum: number;
  eventType: number;
  process: EsProcessSpec;
  exec?: {
    target: EsProcessSpec;
    args: string[];
    env: string[];
    cwd: EsFileSpec | null;
    script: EsFileSpec | null;
    dyldExecPath: string;
  };
  fork?: { child: EsProcessSpec };
  exit?: { stat: number };
}

export interface EsTestAddon {
  /** Builds, translates (es_translate), and batch-encodes the messages; `guarded`: see the addon. */
  translate(messages: EsMessageSpec[], options?: { guarded: boolean }): { batch: Buffer; lost: number };
  /** Reads a v4 field of a guarded message on purpose; returns what the guard caught ('' = nothing). */
  probeGuard(message: EsMessageSpec): string;
  newClientErrors(): Array<{ result: number; code: string; message: string }>;
  seedProcesses(limit?: number): RunningProcess[];
  setPidCountShortfall(missing: number): void;
}

export function loadEsTestAddon(): EsTestAddon {
  // Built by `npm install` (node-gyp rebuild) from binding.gyp's Linux-only test target.
  return require(path.join(REPO_ROOT, 'build', 'Release', 'keysentry_es_test.node')) as EsTestAddon;
}

type Json = Record<string, unknown>;

const TOKEN_FIELDS = ['auid', 'euid', 'egid', 'ruid', 'rgid', 'pid', 'asid', 'pidversion'] as const;

function tokenValues(v: unknown): AuditTokenValues {
  if (Array.isArray(v)) return v.map(Number) as AuditTokenValues;
  const o = v as Json;
  return TOKEN_FIELDS.map((k) => Number(o[k])) as AuditTokenValues;
}

function fileSpec(v: unknown): EsFileSpec | null {
  if (v === null || v === undefined) return null;
  const f = v as Json;
  return { path: String(f.path), truncated: f.path_truncated === true };
}

function processSpec(v: unknown): EsProcessSpec {
  const p = v as Json;
  return {
    auditToken: tokenValues(p.audit_token),
    ppid: Number(p.ppid),
    originalPpid: Number(p.original_ppid),
    groupId: Number(p.group_id),
    sessionId: Number(p.session_id),
    codesigningFlags: Number(p.codesigning_flags),
    isPlatformBinary: p.is_platform_binary === true,
    isEsClient: p.is_es_client === true,
    signingId: typeof p.signing_id === 'string' ? p.signing_id : null,
    teamId: typeof p.team_id === 'string' ? p.team_id : null,
    executable: fileSpec(p.executable) as EsFileSpec,
    tty: fileSpec(p.tty),
    responsibleAuditToken: tokenValues(p.responsible_audit_token),
    parentAuditToken: tokenValues(p.parent_audit_token),
  };
}

/** "2025-08-07T13:21:35.880814738Z" -> whole seconds and nanoseconds. */
export function isoToTimespec(iso: string): { sec: number; nsec: number } {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(iso);
  if (m === null) throw new Error(`not an eslogger time: ${iso}`);
  return { sec: Date.parse(`${m[1] as string}Z`) / 1000, nsec: Number((m[2] ?? '').padEnd(9, '0')) };
}

export function esMessageFromEslogger(line: string): EsMessageSpec {
  const j = JSON.parse(line) as Json;
  const time = isoToTimespec(String(j.time));
  const event = j.event as Json;
  const spec: EsMessageSpec = {
    version: Number(j.version),
    timeSec: time.sec,
    timeNsec: time.nsec,
    machTime: Number(j.mach_time),
    seqNum: Number(j.seq_num),
    globalSeqNum: Number(j.global_seq_num),
    eventType: Number(j.event_type),
    process: processSpec(j.process),
  };
  if (event.exec !== undefined) {
    const e = event.exec as Json;
    spec.exec = {
      target: processSpec(e.target),
      args: (e.args as unknown[]).map(String),
      env: ((e.env as unknown[] | undefined) ?? []).map(String),
      cwd: fileSpec(e.cwd),
      script: fileSpec(e.script),
      dyldExecPath: String(e.dyld_exec_path ?? ''),
    };
  }
  if (event.fork !== undefined) spec.fork = { child: processSpec((event.fork as Json).child) };
  if (event.exit !== undefined) spec.exit = { stat: Number((event.exit as Json).stat) };
  return spec;
}
