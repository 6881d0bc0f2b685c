/**
 * eslogger(1) JSON Lines -> source records. Used by replay and by the live eslogger child
 * process source. eslogger's format "is not API": every field is read defensively, unknown
 * keys are ignored, and audit tokens are accepted both as objects (macOS 13-15) and as
 * 8-integer arrays [auid, euid, egid, ruid, rgid, pid, asid, pidversion] (macOS 26+).
 */
import type { CodeSignatureInfo, ProcessImage, ProcessRef, SourceRecord } from '../model/records';
import { FieldError, int, isObject, isoTimeNs, obj, optBool, optInt, optStr, pidNumber, str, strArray, type JsonObject } from './fields';
import { parseJson } from './lines';
import type { SourceItem } from './types';

export const ES_EVENT_TYPE_NOTIFY_EXEC = 9;
export const ES_EVENT_TYPE_NOTIFY_FORK = 11;
export const ES_EVENT_TYPE_NOTIFY_EXIT = 15;

interface AuditToken extends Required<ProcessRef> {
  euid: number;
  ruid: number;
  rgid: number;
}

function auditToken(v: unknown, path: string, field: string): AuditToken {
  const where = `${path}.${field}`;
  if (Array.isArray(v)) {
    if (v.length !== 8) throw new FieldError(where, `expected 8 integers, got ${v.length}`);
    return { euid: int(v[1], where, '[1]'), ruid: int(v[3], where, '[3]'), rgid: int(v[4], where, '[4]'), pid: pidNumber(v[5], where, '[5]'), pidversion: pidNumber(v[7], where, '[7]') };
  }
  const t = obj(v, where);
  return { euid: int(t.euid, where, 'euid'), ruid: int(t.ruid, where, 'ruid'), rgid: int(t.rgid, where, 'rgid'), pid: pidNumber(t.pid, where, 'pid'), pidversion: pidNumber(t.pidversion, where, 'pidversion') };
}

function refOf(t: AuditToken): ProcessRef {
  return { pid: t.pid, pidversion: t.pidversion };
}

/** The audit token and image of an es_process_t. */
/** `pathTruncated`: ES cut the executable's path at its limit (es_file_t.path_truncated). */
function esImage(p: JsonObject, path: string): { token: AuditToken; image: ProcessImage; pathTruncated: boolean } {
  const token = auditToken(p.audit_token, path, 'audit_token');
  const file = obj(p.executable, path, 'executable');
  const executable = str(file.path, path, 'executable.path');
  const pathTruncated = optBool(file.path_truncated, path, 'executable.path_truncated') === true;
  const codeSignature: CodeSignatureInfo = {};
  const flags = optInt(p.codesigning_flags, path, 'codesigning_flags');
  if (flags !== undefined) codeSignature.flags = flags;
  const signingId = optStr(p.signing_id, path, 'signing_id');
  if (signingId !== undefined) codeSignature.signingId = signingId;
  const teamId = optStr(p.team_id, path, 'team_id');
  if (teamId !== undefined) codeSignature.teamId = teamId;
  const platform = optBool(p.is_platform_binary, path, 'is_platform_binary');
  if (platform !== undefined) codeSignature.isPlatformBinary = platform;
  return { token, image: { pid: token.pid, pidversion: token.pidversion, executable, codeSignature }, pathTruncated };
}

interface EsProcess {
  token: AuditToken;
  image: ProcessImage;
  pathTruncated: boolean;
  /** parent_audit_token (message v4+), else ppid. */
  parent: ProcessRef;
  responsible?: ProcessRef;
}

/** An es_process_t with its parent and responsible process. */
function esProcess(v: unknown, path: string): EsProcess {
  const p = obj(v, path);
  const { token, image, pathTruncated } = esImage(p, path);
  const parent =
    p.parent_audit_token !== undefined && p.parent_audit_token !== null
      ? refOf(auditToken(p.parent_audit_token, path, 'parent_audit_token'))
      : { pid: pidNumber(p.ppid, path, 'ppid') };
  const out: EsProcess = { token, image, pathTruncated, parent };
  if (p.responsible_audit_token !== undefined && p.responsible_audit_token !== null) {
    out.responsible = refOf(auditToken(p.responsible_audit_token, path, 'responsible_audit_token'));
  }
  return out;
}

function cwdPath(v: unknown): { path: string; truncated: boolean } | undefined {
  if (v === undefined || v === null) return undefined;
  const file = obj(v, 'event.exec.cwd');
  return { path: str(file.path, 'event.exec.cwd.path'), truncated: optBool(file.path_truncated, 'event.exec.cwd.path_truncated') === true };
}

/** One parsed eslogger message -> a source record; throws FieldError when it does not fit. */
export function esloggerRecord(value: unknown): SourceRecord {
  const msg = obj(value, 'line');
  const eventType = int(msg.event_type, 'event_type');
  const timeNs = isoTimeNs(msg.time, 'time');
  const seq = optInt(msg.global_seq_num, 'global_seq_num') ?? optInt(msg.seq_num, 'seq_num');
  const event = obj(msg.event, 'event');
  const seqField = seq === undefined ? {} : { seq };
  switch (eventType) {
    case ES_EVENT_TYPE_NOTIFY_EXEC: {
      const exec = obj(event.exec, 'event.exec');
      const target = esProcess(exec.target, 'event.exec.target');
      const before = esImage(obj(msg.process, 'process'), 'process');
      const record: SourceRecord = {
        kind: 'exec',
        timeNs,
        ...seqField,
        process: target.image,
        args: strArray(exec.args, 'event.exec.args'),
        argsComplete: true,
        uid: target.token.ruid,
        euid: target.token.euid,
        gid: target.token.rgid,
        parent: target.parent,
        preExec: before.image,
      };
      const cwd = cwdPath(exec.cwd);
      if (cwd !== undefined) record.cwd = cwd.path;
      if (target.pathTruncated || before.pathTruncated || cwd?.truncated === true) record.pathsComplete = false;
      if (target.responsible !== undefined) record.responsible = target.responsible;
      return record;
    }
    case ES_EVENT_TYPE_NOTIFY_FORK: {
      const child = esProcess(obj(event.fork, 'event.fork').child, 'event.fork.child');
      // The message's process is the one that called fork(): the child's parent, exactly, with
      // its image (the only place the image of a parent started before the capture shows).
      const forker = esImage(obj(msg.process, 'process'), 'process');
      return { kind: 'fork', timeNs, ...seqField, child: child.image, parent: refOf(forker.token), parentImage: forker.image };
    }
    case ES_EVENT_TYPE_NOTIFY_EXIT: {
      const exiting = esImage(obj(msg.process, 'process'), 'process');
      const exit = obj(event.exit, 'event.exit');
      const status = optInt(exit.stat, 'event.exit.stat');
      return { kind: 'exit', timeNs, ...seqField, process: exiting.image, ...(status === undefined ? {} : { status }) };
    }
    default:
      throw new FieldError('event_type', `${eventType} is not exec (9), fork (11) or exit (15)`);
  }
}

/** True when a parsed line looks like an eslogger message (for format auto-detection). */
export function looksLikeEslogger(value: JsonObject): boolean {
  return typeof value.event_type === 'number' && isObject(value.process) && isObject(value.event);
}

/** Wraps esloggerRecord's failures as a rejected item. */
export function esloggerItem(value: unknown, where: string): SourceItem {
  try {
    return { kind: 'record', record: esloggerRecord(value), where };
  } catch (err) {
    if (err instanceof FieldError) return { kind: 'reject', where, reason: err.message };
    throw err;
  }
}

/** One line of eslogger's stdout (already split, without its newline) -> a source item. */
export function parseEsloggerLine(text: string, where: string): SourceItem {
  const parsed = parseJson(text);
  if ('reason' in parsed) return { kind: 'reject', where, reason: parsed.reason };
  return esloggerItem(parsed.value, where);
}
