/**
 * The macOS live sources behind `keysentry run --source es|eslogger|auto`:
 *
 * - `es`: the EndpointSecurity backend of the native addon (native/macos). Needs Apple's
 *   endpoint-security entitlement on the running executable, root and Full Disk Access.
 * - `eslogger`: Apple's eslogger as a child process (./eslogger-live). Needs root and Full
 *   Disk Access, no entitlement; macOS 13+.
 * - `auto`: `es`, and `eslogger` when ES says the executable is not entitled. Every other ES
 *   failure (no Full Disk Access, not root, too many clients) would stop eslogger as well,
 *   so it is reported instead of hidden behind a fallback that cannot work.
 *
 * Either way the start-up scan (native/macos/proc_seed.cc, module keysentry_macos; needs no
 * entitlement) runs after capture has started, so no process that starts in between is missed.
 */
import bindings from 'bindings';
import type { SeedRecord } from '../model/records';
import { EsloggerLiveSource, type SourceLog } from './eslogger-live';
import { BackendError, NativeEventSource, type NativeEventSourceOptions } from './native';
import type { EventSource } from './types';

export type MacSourceChoice = 'auto' | 'es' | 'eslogger';

/** err.code of the addon's BackendError when the executable lacks the ES entitlement. */
export const ES_NOT_ENTITLED = 'es-not-entitled';

/** More than any Mac runs (kern.maxproc is a few thousand); the scan stops there. */
export const MAX_SEED_PROCESSES = 65_536;

/** One entry of the addon's seedProcesses(): -1 and '' mean unknown. */
export interface RunningProcess {
  pid: number;
  pidversion: number;
  ppid: number;
  uid: number;
  gid: number;
  executable: string;
  startTimeNs: bigint;
}

export interface MacLiveSource {
  live: EventSource;
  /** The processes running once capture had started. */
  seeds: SeedRecord[];
}

/** What opening a macOS source needs from the system; the tests substitute parts. */
export interface MacSourceDeps {
  openEs(options: Omit<NativeEventSourceOptions, 'backend'>): EventSource;
  openEslogger(): EventSource;
  scan(): SeedRecord[];
  log: SourceLog;
}

const systemDeps: MacSourceDeps = {
  openEs: (options) => new NativeEventSource({ ...options, backend: 'es' }),
  openEslogger: () => new EsloggerLiveSource(),
  scan: () => scanMacProcesses(),
  log: {
    info: (m) => process.stderr.write(`keysentry: ${m}\n`),
    warn: (m) => process.stderr.write(`keysentry: warning: ${m}\n`),
  },
};

export function openMacLiveSource(
  choice: MacSourceChoice,
  native: Omit<NativeEventSourceOptions, 'backend'>,
  deps: Partial<MacSourceDeps> = {},
): MacLiveSource {
  const d: MacSourceDeps = { ...systemDeps, ...deps };
  const live = choice === 'eslogger' ? d.openEslogger() : openEsOrFallback(choice, native, d);
  try {
    return { live, seeds: d.scan() };
  } catch (err) {
    void live.stop();
    throw err;
  }
}

function openEsOrFallback(choice: 'auto' | 'es', native: Omit<NativeEventSourceOptions, 'backend'>, d: MacSourceDeps): EventSource {
  try {
    return d.openEs(native);
  } catch (err) {
    if (choice !== 'auto' || !(err instanceof BackendError) || err.code !== ES_NOT_ENTITLED) throw err;
    d.log.warn(`${err.message}\nFalling back to eslogger (--source auto).`);
    return d.openEslogger();
  }
}

/** The addon's start-up scan as seed records; entries whose executable could not be read are left out. */
export function seedRecordsOf(processes: readonly RunningProcess[], timeNs: bigint): SeedRecord[] {
  const seeds: SeedRecord[] = [];
  for (const p of processes) {
    if (p.pid < 0 || p.executable === '') continue;
    const seed: SeedRecord = { kind: 'seed', timeNs, process: { pid: p.pid, executable: p.executable } };
    if (p.pidversion >= 0) seed.process.pidversion = p.pidversion;
    if (p.ppid >= 0) seed.parent = { pid: p.ppid };
    if (p.startTimeNs > 0n) seed.startTimeNs = p.startTimeNs;
    seeds.push(seed);
  }
  return seeds;
}

interface SeedModule {
  seedProcesses(limit: number): RunningProcess[];
}

let seedModule: SeedModule | undefined;

/** The scan lives in its own module (native/macos/macos.gypi), built by `npm install` on a Mac. */
function loadSeedModule(): SeedModule {
  if (seedModule === undefined) {
    try {
      seedModule = bindings('keysentry_macos') as SeedModule;
    } catch (err) {
      const reason = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
      throw new BackendError(`the macOS scan module is not built (${reason}); run \`npm install\``, 'ENOADDON');
    }
  }
  return seedModule;
}

export function scanMacProcesses(limit = MAX_SEED_PROCESSES): SeedRecord[] {
  return seedRecordsOf(loadSeedModule().seedProcesses(limit), BigInt(Date.now()) * 1_000_000n);
}
