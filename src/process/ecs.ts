/** An exec record plus what the process table resolved, as an ECS process event. */
import type { EcsProcessEvent, EcsProcessParent } from '../model/ecs';
import type { ExecRecord } from '../model/records';
import { ecsCodeSignature } from './codesign';
import type { ExecResolution, ProcessEntry } from './table';

export interface HostInfo {
  hostname?: string;
  id?: string;
  /** ECS host.os.type: "macos", "linux". */
  osType: string;
}

/** The key a host contributes to entity_id: its id, else its name. */
export function hostKey(host: HostInfo): string {
  return host.id ?? host.hostname ?? '';
}

export function basename(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? path : path.slice(slash + 1);
}

/**
 * ECS process.command_line as Elastic Endpoint fills it on macOS and Linux: argv joined by
 * single spaces, no quoting. Ambiguous for arguments containing spaces, but it is the form
 * Elastic's rules' wildcards (`"*Chrome*"`) were written against; `process.args` keeps argv exact.
 */
export function commandLine(args: readonly string[]): string {
  return args.join(' ');
}

/** ISO-8601 with nanoseconds kept (ECS @timestamp accepts up to 9 fractional digits). */
/** Consecutive events mostly share their second: its "yyyy-mm-ddThh:mm:ss", last one built. */
let lastSecond = -1n;
let lastSecondText = '';

export function isoTimestamp(timeNs: bigint): string {
  let seconds = timeNs / 1_000_000_000n;
  let frac = Number(timeNs - seconds * 1_000_000_000n);
  if (frac < 0) {
    // BigInt division truncates toward zero; before 1970 the fraction counts up from the earlier second.
    seconds -= 1n;
    frac += 1_000_000_000;
  }
  if (seconds !== lastSecond) {
    lastSecondText = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
    lastSecond = seconds;
  }
  return `${lastSecondText}.${String(frac).padStart(9, '0')}Z`;
}

function parentFields(entry: ProcessEntry | undefined, record: ExecRecord, res: ExecResolution): EcsProcessParent | undefined {
  const ref = res.parentRef;
  if (entry === undefined) {
    if (ref === undefined && record.parentExecutable === undefined) return undefined;
    const out: EcsProcessParent = {};
    if (ref !== undefined) out.pid = ref.pid;
    if (res.parentEntityId !== undefined) out.entity_id = res.parentEntityId;
    if (record.parentExecutable !== undefined) {
      out.executable = record.parentExecutable;
      out.name = basename(record.parentExecutable);
    }
    return out;
  }
  const out: EcsProcessParent = { pid: entry.pid, entity_id: entry.entityId };
  // An entry made from a fork whose parent was never seen has no path: the source's own
  // reading of the parent, if any, is better than an empty string.
  const executable = entry.executable !== '' ? entry.executable : record.parentExecutable;
  if (executable !== undefined && executable !== '') {
    out.executable = executable;
    out.name = basename(executable);
  }
  if (entry.args !== undefined) {
    out.args = entry.args.slice();
    out.args_count = entry.args.length;
    out.command_line = commandLine(entry.args);
  }
  const cs = ecsCodeSignature(entry.codeSignature);
  if (cs !== undefined) out.code_signature = cs;
  return out;
}

export function toEcsEvent(record: ExecRecord, res: ExecResolution, host: HostInfo): EcsProcessEvent {
  const executable = record.process.executable;
  const proc: EcsProcessEvent['process'] = {
    pid: record.process.pid,
    entity_id: res.process.entityId,
    executable,
    name: basename(executable),
    args: record.args.slice(),
    args_count: record.args.length,
    command_line: commandLine(record.args),
  };
  if (record.cwd !== undefined) proc.working_directory = record.cwd;
  const cs = ecsCodeSignature(record.process.codeSignature);
  if (cs !== undefined) proc.code_signature = cs;
  const parent = parentFields(res.parent, record, res);
  if (parent !== undefined) proc.parent = parent;
  if (record.responsible !== undefined) {
    const r = res.responsible;
    proc.Ext = {
      effective_parent:
        r === undefined
          ? { pid: record.responsible.pid }
          : { pid: r.pid, entity_id: r.entityId, executable: r.executable, name: basename(r.executable) },
    };
  }
  const event: EcsProcessEvent['event'] = {
    kind: 'event',
    category: ['process'],
    type: ['start'],
    action: 'exec',
    // One exec creates one image, so the new image's entity_id (plus the source sequence) names the event.
    id: `${res.process.entityId}.${record.seq ?? ''}`,
  };
  if (record.seq !== undefined) event.sequence = record.seq;
  const out: EcsProcessEvent = {
    '@timestamp': isoTimestamp(record.timeNs),
    event,
    host: { os: { type: host.osType } },
    process: proc,
  };
  if (host.hostname !== undefined) out.host.hostname = host.hostname;
  if (host.id !== undefined) out.host.id = host.id;
  const user = userFields(record);
  if (user !== undefined) out.user = user;
  const capture = captureGaps(record);
  if (capture !== undefined) out.keysentry = { capture };
  return out;
}

type CaptureGaps = { args_complete?: false; paths_complete?: false };

/**
 * What the source could not see in full (argv past its bounds or unreadable, a path cut by ES):
 * whoever reads the alert must know that a rule saw part of the exec. Absent when all is there.
 */
function captureGaps(record: ExecRecord): CaptureGaps | undefined {
  // Most execs are complete: no object for them.
  if (record.argsComplete && record.pathsComplete !== false) return undefined;
  const gaps: CaptureGaps = {};
  if (!record.argsComplete) gaps.args_complete = false;
  if (record.pathsComplete === false) gaps.paths_complete = false;
  return gaps;
}

/** user.id is the real uid (who ran it), user.effective.id the euid (whose rights it has). */
function userFields(record: ExecRecord): EcsProcessEvent['user'] {
  if (record.uid === undefined && record.euid === undefined && record.userName === undefined) return undefined;
  const user: NonNullable<EcsProcessEvent['user']> = {};
  if (record.uid !== undefined) user.id = String(record.uid);
  if (record.userName !== undefined) user.name = record.userName;
  if (record.euid !== undefined) user.effective = { id: String(record.euid) };
  return user;
}
