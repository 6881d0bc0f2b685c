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
import { machineExecs, sleep, startKeysentryRun, steadyExecs, threadSamples } from './live-agent';

const EXECS = 800;
const RATE = 100;

interface ThreadCost {
  cpuNs: number;
  wakeUps: number;
}

/** CPU and wake-ups of a process's threads, the addon's capture threads (named ks-*) apart. */
function costs(pid: number): { capture: ThreadCost; all: ThreadCost } {
  const capture = { cpuNs: 0, wakeUps: 0 };
  const all = { cpuNs: 0, wakeUps: 0 };
  for (const t of threadSamples(pid).values()) {
    for (const sum of t.comm.startsWith('ks-') ? [capture, all] : [all]) {
      sum.cpuNs += t.cpuNs;
      sum.wakeUps += t.wakeUps;
    }
  }
  return { capture, all };
}

/** `count` runs of /bin/true at RATE per second. */
function steadyTrue(count: number): Promise<void> {
  return steadyExecs(count, RATE, '/bin/true', ['ks-capture-bench']);
}

/**
 * Two builds of the addon in the same window (KEYSENTRY_CAPTURE_AB="A.node,B.node"): one agent
 * each, both reading the multicast group beside this process's reader (started first: the audit
 * daemon), over the same execs, so the machine's other load falls on both alike. Per exec the
 * machine ran.
 */
async function sideBySide(addons: [string, string]): Promise<BenchResult[]> {
  const execs = machineExecs();
  await sleep(300);
  const agents = [await startKeysentryRun({ addon: addons[0] }), await startKeysentryRun({ addon: addons[1] })];
  await steadyTrue(200);
  const before = agents.map((a) => costs(a.pid).capture);
  const execs0 = execs.count();
  await steadyTrue(EXECS);
  await sleep(200);
  const after = agents.map((a) => costs(a.pid).capture);
  const seen = execs.count() - execs0;
  for (const agent of agents) await agent.stop();
  await execs.stop();
  const [a, b] = [0, 1].map((i) => ({ cpuUs: (after[i].cpuNs - before[i].cpuNs) / seen / 1000, wakeUps: (after[i].wakeUps - before[i].wakeUps) / seen }));
  const [nameA, nameB] = addons.map((f) => path.basename(f));
  return [
    { name: `native: capture CPU per exec seen, ${nameA} beside ${nameB} (${seen} execs)`, value: a.cpuUs, unit: 'µs', baseline: { name: nameB, value: b.cpuUs } },
    { name: `native: capture wake-ups per exec seen, ${nameA} beside ${nameB}`, value: a.wakeUps, unit: 'wake-ups', baseline: { name: nameB, value: b.wakeUps } },
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
