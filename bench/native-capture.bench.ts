/**
 * What the capture threads of `keysentry run` (audit backend) cost per exec at 100 execs/s of
 * `/bin/true`: CPU time of the addon's threads (named ks-*) from /proc/<pid>/task/<tid>/schedstat
 * (nanoseconds, where /proc/<pid>/stat counts 10 ms ticks), and their wake-ups (voluntary context
 * switches), each against the whole agent's figure over the same execs. The agent sees every
 * exec of the machine, so other processes' execs are counted in: a second audit reader in this
 * process counts them, and the figure's name says how many the machine ran in the window (800
 * of them the bench's). The ratio to the whole agent is what the figure is read against. Root
 * only (audit). With KEYSENTRY_CAPTURE_AB="A.node,B.node" it compares two builds of the addon
 * side by side instead (sideBySide()).
 */
import * as path from 'node:path';
import type { BenchResult } from './harness';
import { threadSamples } from '../test/support/threads';
import { machineExecs, sleep, startKeysentryRun, steadyExecs } from './live-agent';

const EXECS = 800;
const RATE = 100;

interface ThreadCost {
  cpuNs: number;
  wakeUps: number;
}

interface Costs {
  capture: ThreadCost;
  audit: ThreadCost;
  all: ThreadCost;
}

/** CPU and wake-ups of a process's threads, the addon's capture threads (named ks-*) and of them the audit thread apart. */
function costs(pid: number): Costs {
  const capture = { cpuNs: 0, wakeUps: 0 };
  const audit = { cpuNs: 0, wakeUps: 0 };
  const all = { cpuNs: 0, wakeUps: 0 };
  for (const t of threadSamples(pid).values()) {
    const sums = t.comm === 'ks-audit' ? [audit, capture, all] : t.comm.startsWith('ks-') ? [capture, all] : [all];
    for (const sum of sums) {
      sum.cpuNs += t.cpuNs;
      sum.wakeUps += t.wakeUps;
    }
  }
  return { capture, audit, all };
}

/** `count` runs of /bin/true at RATE per second. */
function steadyTrue(count: number): Promise<void> {
  return steadyExecs(count, RATE, '/bin/true', ['ks-capture-bench']);
}

/**
 * Two builds of the addon in the same window (KEYSENTRY_CAPTURE_AB="A.node,B.node"): one agent
 * each, both reading the multicast group beside this process's reader (started first: the audit
 * daemon), over the same execs, so the machine's other load falls on both alike. Per exec the
 * machine ran; the capture threads together, and the audit thread (ks-audit) alone.
 */
async function sideBySide(addons: [string, string]): Promise<BenchResult[]> {
  const execs = machineExecs();
  await sleep(300);
  const agents = [await startKeysentryRun({ addon: addons[0] }), await startKeysentryRun({ addon: addons[1] })];
  await steadyTrue(200);
  const before = agents.map((a) => costs(a.pid));
  const execs0 = execs.count();
  await steadyTrue(EXECS);
  await sleep(200);
  const after = agents.map((a) => costs(a.pid));
  const seen = execs.count() - execs0;
  for (const agent of agents) await agent.stop();
  await execs.stop();
  const perExec = (agent: number, which: 'capture' | 'audit'): { cpuUs: number; wakeUps: number } => {
    const [from, to] = [before[agent], after[agent]] as [Costs, Costs];
    return { cpuUs: (to[which].cpuNs - from[which].cpuNs) / seen / 1000, wakeUps: (to[which].wakeUps - from[which].wakeUps) / seen };
  };
  const [a, b, auditA, auditB] = [perExec(0, 'capture'), perExec(1, 'capture'), perExec(0, 'audit'), perExec(1, 'audit')];
  const [nameA, nameB] = addons.map((f) => path.basename(f));
  return [
    { name: `native: capture CPU per exec seen, ${nameA} beside ${nameB} (${seen} execs)`, value: a.cpuUs, unit: 'µs', baseline: { name: nameB, value: b.cpuUs } },
    { name: `native: capture wake-ups per exec seen, ${nameA} beside ${nameB}`, value: a.wakeUps, unit: 'wake-ups', baseline: { name: nameB, value: b.wakeUps } },
    { name: "native: ... of it ks-audit's CPU per exec seen", value: auditA.cpuUs, unit: 'µs', baseline: { name: nameB, value: auditB.cpuUs } },
    { name: "native: ... of it ks-audit's wake-ups per exec seen", value: auditA.wakeUps, unit: 'wake-ups', baseline: { name: nameB, value: auditB.wakeUps } },
  ];
}

export async function run(): Promise<BenchResult[]> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('native-capture bench: not root, skipping\n');
    return [];
  }
  const ab = process.env.KEYSENTRY_CAPTURE_AB?.split(',');
  if (ab !== undefined && ab.length === 2) return sideBySide([ab[0] as string, ab[1] as string]);
  const agent = await startKeysentryRun();
  const execs = machineExecs();
  await steadyTrue(200); // warm-up: the pipeline's JIT, the allocator
  const a = costs(agent.pid);
  const execs0 = execs.count();
  await steadyTrue(EXECS);
  await sleep(200); // the last forks and exits ride the quiet deadline
  const b = costs(agent.pid);
  const seen = execs.count() - execs0;
  await execs.stop();
  await agent.stop();
  const perExec = (x: number, y: number): number => (x - y) / EXECS;
  return [
    {
      name: `native: capture threads' CPU per exec (${RATE} execs/s, ${seen} execs seen)`,
      value: perExec(b.capture.cpuNs, a.capture.cpuNs) / 1000,
      unit: 'µs',
      baseline: { name: 'the whole agent per exec', value: perExec(b.all.cpuNs, a.all.cpuNs) / 1000 },
    },
    {
      name: "native: capture threads' wake-ups per exec",
      value: perExec(b.capture.wakeUps, a.capture.wakeUps),
      unit: 'wake-ups',
      baseline: { name: 'the whole agent per exec', value: perExec(b.all.wakeUps, a.all.wakeUps) },
    },
  ];
}
