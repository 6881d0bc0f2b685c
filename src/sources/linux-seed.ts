/**
 * Start-up scan of the running processes on Linux (/proc), so an exec whose parent is
 * older than the agent still resolves its parent. A process that exits mid-scan is skipped.
 */
import * as fs from 'node:fs';
import type { SeedRecord } from '../model/records';

/** More than any real host runs; the scan stops there rather than growing without bound. */
export const MAX_SEED_PROCESSES = 65_536;
const MAX_CMDLINE_BYTES = 64 * 1024;

function readText(file: string, maxBytes: number): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const buf = Buffer.allocUnsafe(maxBytes);
    const n = fs.readSync(fd, buf, 0, maxBytes, null);
    return buf.toString('utf8', 0, n);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Clock ticks since boot at which the process started: field 22 of /proc/<pid>/stat. */
export function startTicks(pid: number): number | undefined {
  const stat = readText(`/proc/${pid}/stat`, 4096);
  if (stat === undefined) return undefined;
  // comm (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

function bootTimeNs(): bigint | undefined {
  const text = readText('/proc/stat', 64 * 1024);
  const m = text === undefined ? null : /^btime (\d+)$/m.exec(text);
  return m === null ? undefined : BigInt(m[1] as string) * 1_000_000_000n;
}

// USER_HZ is 100 on every Linux ABI keysentry runs on (it is fixed for userspace).
const TICK_NS = 10_000_000n;

export function scanLinuxProcesses(limit = MAX_SEED_PROCESSES): SeedRecord[] {
  const timeNs = BigInt(Date.now()) * 1_000_000n;
  const boot = bootTimeNs();
  const seeds: SeedRecord[] = [];
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return seeds;
  }
  for (const name of names) {
    if (seeds.length >= limit) break;
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const status = readText(`/proc/${pid}/status`, 16384);
    if (status === undefined) continue;
    const ppid = /^PPid:\s*(\d+)$/m.exec(status);
    let executable = '';
    try {
      executable = fs.readlinkSync(`/proc/${pid}/exe`);
    } catch {
      // kernel threads and processes of other namespaces have no readable image
    }
    const seed: SeedRecord = { kind: 'seed', timeNs, process: { pid, executable } };
    const cmdline = readText(`/proc/${pid}/cmdline`, MAX_CMDLINE_BYTES);
    if (cmdline !== undefined && cmdline !== '') seed.args = cmdline.replace(/\0$/, '').split('\0');
    if (ppid !== null) seed.parent = { pid: Number(ppid[1]) };
    const ticks = startTicks(pid);
    if (boot !== undefined && ticks !== undefined) seed.startTimeNs = boot + BigInt(ticks) * TICK_NS;
    seeds.push(seed);
  }
  return seeds;
}
