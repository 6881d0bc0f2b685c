/**
 * Builds eslogger(1) JSON lines with the structure of the real lines in
 * ../shared/fixtures/eslogger (same keys, same nesting; test/events-eslogger.test.ts checks
 * that the key sets match), for scenarios the four real lines do not cover.
 */

export interface CodeSigningSpec {
  flags: number;
  signingId: string | null;
  teamId: string | null;
  platform: boolean;
}

/** One execution of a process, as ES describes it. */
export interface ProcSpec {
  pid: number;
  pidversion: number;
  executable: string;
  ppid: number;
  parentPidversion: number;
  uid?: number;
  cs?: CodeSigningSpec;
  responsible?: { pid: number; pidversion: number };
}

export type TokenStyle = 'object' | 'array';

/** Apple platform binary (flags of /usr/sbin/ipconfig in the real exit line). */
export const APPLE_CS: CodeSigningSpec = { flags: 637623057, signingId: 'com.apple.generic', teamId: null, platform: true };
/** Developer ID signed, hardened runtime (flags of the Mullvad app in the real fork line). */
export const DEVELOPER_ID_CS: CodeSigningSpec = { flags: 570491649, signingId: 'com.example.app', teamId: 'CKG9MXH72F', platform: false };
/** Ad-hoc, linker-signed (flags of /bin/nu in the real v9 exec line). */
export const ADHOC_CS: CodeSigningSpec = { flags: 570556931, signingId: 'a.out-1234', teamId: null, platform: false };

function token(pid: number, pidversion: number, uid: number, style: TokenStyle): unknown {
  const gid = uid === 0 ? 0 : 20;
  return style === 'array'
    ? [uid, uid, gid, uid, gid, pid, 100019, pidversion]
    : { auid: uid, euid: uid, egid: gid, ruid: uid, rgid: gid, pid, asid: 100019, pidversion };
}

const STAT_TIME = '2025-05-12T14:47:04.129389008Z';

function file(path: string): unknown {
  return {
    path,
    path_truncated: false,
    stat: {
      st_dev: 16777234,
      st_mode: 33261,
      st_nlink: 1,
      st_ino: 14784254,
      st_uid: 0,
      st_gid: 0,
      st_rdev: 0,
      st_atimespec: STAT_TIME,
      st_mtimespec: STAT_TIME,
      st_ctimespec: STAT_TIME,
      st_birthtimespec: STAT_TIME,
      st_size: 5087360,
      st_blocks: 9944,
      st_blksize: 4096,
      st_flags: 0,
      st_gen: 0,
    },
  };
}

export function esProcess(p: ProcSpec, style: TokenStyle = 'object'): Record<string, unknown> {
  const uid = p.uid ?? 501;
  const cs = p.cs ?? APPLE_CS;
  const responsible = p.responsible ?? { pid: p.pid, pidversion: p.pidversion };
  return {
    audit_token: token(p.pid, p.pidversion, uid, style),
    parent_audit_token: token(p.ppid, p.parentPidversion, p.ppid === 1 ? 0 : uid, style),
    responsible_audit_token: token(responsible.pid, responsible.pidversion, uid, style),
    ppid: p.ppid,
    original_ppid: p.ppid,
    group_id: p.pid,
    session_id: 1,
    codesigning_flags: cs.flags,
    cdhash: '0000000000000000000000000000000000000000',
    signing_id: cs.signingId,
    team_id: cs.teamId,
    is_platform_binary: cs.platform,
    is_es_client: false,
    start_time: '2025-08-07T13:21:35.877422Z',
    tty: null,
    executable: file(p.executable),
  };
}

interface Envelope {
  time: string;
  seq: number;
  version?: number;
  style?: TokenStyle;
}

function message(env: Envelope, eventType: number, process: Record<string, unknown>, event: Record<string, unknown>): string {
  return JSON.stringify({
    schema_version: 1,
    version: env.version ?? 9,
    event_type: eventType,
    action_type: 1,
    action: { result: { result_type: 0, result: { auth: 0 } } },
    time: env.time,
    mach_time: 289350913517,
    seq_num: env.seq,
    global_seq_num: env.seq,
    thread: { thread_id: 505819 },
    process,
    event,
  });
}

/** NOTIFY_EXEC: `before` is the pid's image before exec, `after` the new one (pidversion + 1). */
export function execLine(env: Envelope, before: ProcSpec, after: ProcSpec, args: string[], cwd = '/'): string {
  return message(env, 9, esProcess(before, env.style), {
    exec: {
      target: esProcess(after, env.style),
      args,
      env: ['PATH=/usr/bin:/bin:/usr/sbin:/sbin'],
      cwd: file(cwd),
      script: null,
      dyld_exec_path: after.executable,
      fds: [{ fd: 0, fdtype: 1 }],
      last_fd: 2,
      image_cputype: 16777228,
      image_cpusubtype: 0,
    },
  });
}

export function forkLine(env: Envelope, parent: ProcSpec, child: ProcSpec): string {
  return message(env, 11, esProcess(parent, env.style), { fork: { child: esProcess(child, env.style) } });
}

export function exitLine(env: Envelope, proc: ProcSpec, stat = 0): string {
  return message(env, 15, esProcess(proc, env.style), { exit: { stat } });
}
