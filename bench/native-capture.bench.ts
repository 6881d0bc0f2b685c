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
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NativeEventSource } from '../src/sources/native';
import type { BenchResult } from './harness';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const EXECS = 800;
const RATE = 100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface ThreadCost {
  cpuNs: number;
  wakeUps: number;
}

/** Per-thread CPU and wake-ups of a process, the addon's capture threads apart. */
function costs(pid: number): { capture: ThreadCost; all: ThreadCost } {
  const capture = { cpuNs: 0, wakeUps: 0 };
  const all = { cpuNs: 0, wakeUps: 0 };
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let cpuNs: number;
    let wakeUps: number;
    let comm: string;
    try {
      cpuNs = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      wakeUps = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? 0);
      comm = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8');
    } catch {
      continue; // a thread that ended meanwhile
    }
    for (const sum of comm.startsWith('ks-') ? [capture, all] : [all]) {
      sum.cpuNs += cpuNs;
      sum.wakeUps += wakeUps;
    }
  }
  return { capture, all };
}

/** `count` runs of /bin/true at a steady `perSecond`, each started on time, not after the last. */
async function steadyTrue(count: number, perSecond: number): Promise<void> {
  const t0 = Date.now();
  const exits: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const wait = t0 + (i * 1000) / perSecond - Date.now();
    if (wait > 0) await sleep(wait);
    const child = spawn('/bin/true', ['ks-capture-bench'], { stdio: 'ignore' });
    exits.push(new Promise((resolve) => child.once('exit', () => resolve())));
  }
  await Promise.all(exits);
}

/** `keysentry run` on the audit backend, once it watches; `addon`: KEYSENTRY_NATIVE_ADDON for it (the build when undefined). */
async function startAgent(addon: string | undefined): Promise<ChildProcess> {
  const env = addon === undefined ? process.env : { ...process.env, KEYSENTRY_NATIVE_ADDON: addon };
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'keysentry'), 'run', '--source', 'audit', '--rules', path.join(REPO_ROOT, 'rules', 'default')], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const deadline = Date.now() + 15_000;
  while (!/ready/.test(err)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`agent did not start: ${err}`);
    await sleep(20);
  }
  return child;
}

async function stopAgent(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/** A second audit reader in this process: how many execs the machine runs (the agents evaluate them all). */
function machineExecs(): { count: () => number; stop: () => Promise<void> } {
  let execs = 0;
  const reader = new NativeEventSource({ backend: 'audit' });
  const reading = (async () => {
    for await (const batch of reader.batches()) {
      for (const item of batch) if (item.kind === 'record' && item.record.kind === 'exec') execs++;
    }
  })();
  return {
    count: () => execs,
    stop: async () => {
      await reader.stop();
      await reading;
    },
  };
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
  const agents = [await startAgent(addons[0]), await startAgent(addons[1])];
  await steadyTrue(200, RATE);
  const before = agents.map((a) => costs(a.pid as number).capture);
  const execs0 = execs.count();
  await steadyTrue(EXECS, RATE);
  await sleep(200);
  const after = agents.map((a) => costs(a.pid as number).capture);
  const seen = execs.count() - execs0;
  for (const agent of agents) await stopAgent(agent);
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
  const child = await startAgent(undefined);
  const pid = child.pid as number;
  const execs = machineExecs();
  await steadyTrue(200, RATE); // warm-up: the pipeline's JIT, the allocator
  const a = costs(pid);
  const execs0 = execs.count();
  await steadyTrue(EXECS, RATE);
  await sleep(200); // the last forks and exits ride the 50 ms batching
  const b = costs(pid);
  const seen = execs.count() - execs0;
  await execs.stop();
  await stopAgent(child);
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
