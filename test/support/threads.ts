/** Per-thread counters of a process from /proc, for the live tests and the native benches. */
import * as fs from 'node:fs';

/** One thread's counters: on-CPU time in ns (schedstat; stat's 10 ms ticks round a short window to 0) and voluntary context switches. */
export interface ThreadSample {
  comm: string;
  cpuNs: number;
  wakeUps: number;
}

/** Every thread of `pid`, by tid; a thread that ends between the listing and the reads is left out. */
export function threadSamples(pid: number = process.pid): Map<number, ThreadSample> {
  const out = new Map<number, ThreadSample>();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const cpuNs = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const wakeUps = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? 0);
      out.set(Number(tid), { comm: fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(), cpuNs, wakeUps });
    } catch {
      // The thread ended meanwhile: its time is lost either way.
    }
  }
  return out;
}
