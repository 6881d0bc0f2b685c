/**
 * Rule engine throughput on one realistic macOS exec stream (~1% of events are keychain access or other attacks):
 * the compiled engine vs a naive baseline (the reference interpreter with one RegExp per pattern, rule by rule)
 * vs a "read every byte once" floor (a loop touching each character of every field the rules read).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { opsPerSecond, percentile, type BenchResult } from './harness';
import { compileRuleFiles, describeFields, loadDefaultRuleSet, loadRuleSet, type CompiledRuleSet } from '../src/rules';
import type { ParsedQuery } from '../src/rules/eql/ast';
import { parseQuery } from '../src/rules/eql/parser';
import { compileSources } from '../src/rules/compile';
import { RuleEngine } from '../src/rules/engine';
import { listRuleFiles, readRuleFiles } from '../src/rules/loader';
import type { ExecRecord } from '../src/model/records';
import { toEcsEvent } from '../src/process/ecs';
import { ProcessTable } from '../src/process/table';
import { flatten, ReferenceRule, type MatcherFactory } from '../test/support/eql-reference';
import { FIXTURES_DIR } from '../test/support/paths';
import { prng } from '../test/support/random';

const RULE_DIRS = ['rules_macos', 'rules_building_block_macos', 'other_dirs_tagged_macos'].map((d) => path.join(FIXTURES_DIR, 'detection-rules', d));
const STREAM_LENGTH = 20_000;
const MEASURE_MS = 1500;

const USERS = ['alice', 'bob', 'j.appleseed', 'buildbot'];
const PARENTS = [
  '/sbin/launchd',
  '/bin/zsh',
  '/bin/bash',
  '/usr/libexec/xpcproxy',
  '/Applications/iTerm.app/Contents/MacOS/iTerm2',
  '/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder',
  '/Applications/Xcode.app/Contents/MacOS/Xcode',
  '/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal',
  '/opt/homebrew/bin/fish',
];

/** Ordinary execs seen on a developer Mac: (executable, argv builder). */
const BENIGN: Array<[string, (u: string, r: () => number) => string[]]> = [
  ['/usr/bin/git', (u, r) => ['git', 'status', '--porcelain=v2', '-C', `/Users/${u}/src/project-${Math.floor(r() * 40)}`]],
  ['/usr/bin/git', (u) => ['git', 'rev-parse', '--show-toplevel', `/Users/${u}/src/keysentry`]],
  ['/bin/ls', (u) => ['ls', '-la', `/Users/${u}/Library/Application Support/Code/User`]],
  ['/usr/bin/xcrun', () => ['xcrun', '--sdk', 'macosx', '--show-sdk-path']],
  ['/usr/sbin/sysctl', () => ['sysctl', '-n', 'hw.memsize']],
  ['/usr/bin/defaults', () => ['defaults', 'read', 'com.apple.dock', 'persistent-apps']],
  ['/bin/ps', () => ['ps', '-axo', 'pid,ppid,command']],
  ['/usr/bin/codesign', (u) => ['codesign', '-dv', '--verbose=4', `/Users/${u}/Downloads/Tool.app`]],
  ['/usr/local/bin/node', (u, r) => ['node', `/Users/${u}/src/app/node_modules/.bin/tsc`, '-p', '.', '--incremental', `--tsBuildInfoFile=/Users/${u}/src/app/dist/.tsbuildinfo-${Math.floor(r() * 9)}`]],
  ['/opt/homebrew/bin/python3.12', (u) => ['python3', '-m', 'pytest', '-q', `/Users/${u}/src/service/tests/test_api.py`, '-k', 'not slow']],
  ['/Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Versions/126.0.6478.127/Helpers/Google Chrome Helper (Renderer).app/Contents/MacOS/Google Chrome Helper (Renderer)', (u, r) => [
    'Google Chrome Helper (Renderer)',
    '--type=renderer',
    `--user-data-dir=/Users/${u}/Library/Application Support/Google/Chrome`,
    '--lang=en-US',
    '--num-raster-threads=4',
    '--enable-zero-copy',
    `--renderer-client-id=${Math.floor(r() * 900)}`,
    '--field-trial-handle=1718379636,r,14419236427593372128,1097829183264939577,262144',
    '--variations-seed-version=20240612-180144.546000',
    `--seatbelt-client=${Math.floor(r() * 200)}`,
  ]],
  ['/usr/bin/curl', () => ['curl', '-fsSL', 'https://raw.githubusercontent.com/Homebrew/install/HEAD/install.sh']],
  ['/bin/cat', (u) => ['cat', `/Users/${u}/.zshrc`]],
  ['/usr/bin/security', () => ['security', 'find-identity', '-v', '-p', 'codesigning']],
  ['/usr/bin/osascript', () => ['osascript', '-e', 'tell application "System Events" to get name of every process']],
  ['/usr/sbin/networksetup', () => ['networksetup', '-getinfo', 'Wi-Fi']],
  ['/bin/launchctl', (u) => ['launchctl', 'print', `gui/501/com.${u}.agent`]],
];

/** Attacks (~1%): keychain theft and what other fixture rules look for. */
const MALICIOUS: Array<[string, (u: string) => string[]]> = [
  ['/usr/bin/security', () => ['security', 'dump-keychain', '-d', 'login.keychain']],
  ['/bin/cp', (u) => ['cp', `/Users/${u}/Library/Keychains/login.keychain-db`, '/tmp/.x']],
  ['/usr/bin/sqlite3', (u) => ['sqlite3', `/Users/${u}/Library/Application Support/com.apple.TCC/TCC.db`, 'select * from access']],
  ['/usr/bin/security', () => ['security', 'find-generic-password', '-wa', 'Chrome']],
  ['/usr/sbin/spctl', () => ['spctl', '--master-disable']],
];

function execDoc(r: () => number, executable: string, args: string[], user: string): object {
  const parent = PARENTS[Math.floor(r() * PARENTS.length)] as string;
  return {
    '@timestamp': '2026-12-03T10:00:00.000Z',
    event: { kind: 'event', category: ['process'], type: ['start'], action: 'exec' },
    host: { hostname: 'mbp-1', os: { type: 'macos' } },
    user: { id: '501', name: user },
    process: {
      pid: Math.floor(r() * 60000),
      entity_id: `e${Math.floor(r() * 1e9)}`,
      executable,
      name: path.basename(executable),
      args,
      args_count: args.length,
      command_line: args.join(' '),
      working_directory: `/Users/${user}`,
      code_signature: { exists: true, trusted: true },
      parent: { pid: 1, executable: parent, name: path.basename(parent), args: [parent], command_line: parent, code_signature: { exists: true, trusted: true } },
    },
  };
}

export function stream(): object[] {
  const r = prng(42);
  const out: object[] = [];
  for (let i = 0; i < STREAM_LENGTH; i++) {
    const user = USERS[Math.floor(r() * USERS.length)] as string;
    const [exe, argv] = r() < 0.01 ? (MALICIOUS[Math.floor(r() * MALICIOUS.length)] as [string, (u: string) => string[]]) : (BENIGN[Math.floor(r() * BENIGN.length)] as [string, (u: string, r: () => number) => string[]]);
    out.push(execDoc(r, exe, argv(user, r), user));
  }
  return out;
}

function alertingShare(set: CompiledRuleSet, events: readonly object[]): number {
  let alerting = 0;
  for (const e of events) if (set.evaluate(e).length > 0) alerting++;
  return alerting / events.length;
}

function enginePass(set: CompiledRuleSet, events: readonly object[]): () => number {
  return () => {
    for (let i = 0; i < events.length; i++) set.evaluate(events[i] as object);
    return events.length;
  };
}

/** How many events the pipeline hands the rules at a time in this figure: a batch of lines or records. */
const HANDOVER_BATCH = 100;

/**
 * Events as the pipeline hands them to the rules: each batch built just before its events are evaluated, so they
 * are in cache as they are after the live source's decode and toEcsEvent, or replay's parse. Only the evaluation is
 * timed. The stream figure instead reads 20,000 events built long before, ~19 MB that the caches do not hold.
 */
function handedOverRate(set: CompiledRuleSet, count: number, build: (i: number) => object): number {
  const docs: object[] = [];
  let evaluatedNs = 0n;
  let evaluated = 0;
  const pass = (): void => {
    for (let i = 0; i + HANDOVER_BATCH <= count; i += HANDOVER_BATCH) {
      for (let j = 0; j < HANDOVER_BATCH; j++) docs[j] = build(i + j);
      const t0 = process.hrtime.bigint();
      for (let j = 0; j < HANDOVER_BATCH; j++) set.evaluate(docs[j] as object);
      evaluatedNs += process.hrtime.bigint() - t0;
      evaluated += HANDOVER_BATCH;
    }
  };
  pass(); // JIT warm-up, as for the other figures
  evaluatedNs = 0n;
  evaluated = 0;
  while (evaluatedNs < BigInt(MEASURE_MS) * 1_000_000n / 3n) pass();
  return evaluated / (Number(evaluatedNs) / 1e9);
}

/** The stream's events as exec records, with strings of their own (as a decoder makes them), for toEcsEvent. */
function asExecRecords(events: readonly object[]): ExecRecord[] {
  const own = (s: string): string => JSON.parse(JSON.stringify(s)) as string;
  return events.map((e, i) => {
    const p = (e as { process: { executable: string; args: string[]; working_directory: string; parent: { executable: string } } }).process;
    return { kind: 'exec', timeNs: BigInt(i + 1), process: { pid: 100 + i, executable: own(p.executable) }, args: p.args.map(own), argsComplete: true, cwd: own(p.working_directory), uid: 501, parent: { pid: 1 }, parentExecutable: own(p.parent.executable) };
  });
}

const PAIRED_ROUNDS = 10;

/**
 * Engine and floor in alternating slices, each figure the median of its rounds: on a shared box the load changes
 * within seconds, and measuring one after the other made the engine/floor ratio swing 2x between runs.
 */
function pairedRates(engine: () => number, floor: () => number): { engine: number; floor: number } {
  const engineRates: number[] = [];
  const floorRates: number[] = [];
  for (let r = 0; r < PAIRED_ROUNDS; r++) {
    engineRates.push(opsPerSecond(engine, MEASURE_MS / PAIRED_ROUNDS));
    floorRates.push(opsPerSecond(floor, MEASURE_MS / PAIRED_ROUNDS));
  }
  const median = (xs: number[]): number => percentile(xs.sort((a, b) => a - b), 50);
  return { engine: median(engineRates), floor: median(floorRates) };
}

/** The naive baseline: one RegExp per pattern (built once), every rule interpreted on its own. */
const regexpMatcher: MatcherFactory = (kind, pattern, ci) => {
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const source =
    kind === 'regex' ? pattern : kind === 'wildcard' ? esc(pattern).replace(/\\\*/g, '.*').replace(/\\\?/g, '.') : kind === 'prefix' ? `${esc(pattern)}.*` : kind === 'suffix' ? `.*${esc(pattern)}` : kind === 'contains' ? `.*${esc(pattern)}.*` : esc(pattern);
  const re = new RegExp(`^(?:${source})$`, ci ? 'isu' : 'su');
  return (v) => re.test(v);
};

/** The naive baseline is ~100× slower: a slice of the stream keeps each timed pass short. */
const NAIVE_SLICE = 1_000;

function naiveRate(set: CompiledRuleSet, allEvents: readonly object[]): number {
  const events = allEvents.slice(0, NAIVE_SLICE);
  const rules = set.rules.map((r) => new ReferenceRule(parseQuery(r.query) as ParsedQuery & { kind: 'event' }, regexpMatcher));
  return opsPerSecond(() => {
    for (let i = 0; i < events.length; i++) {
      const flat = flatten(events[i]);
      for (const rule of rules) rule.matches(flat);
    }
    return events.length;
  }, MEASURE_MS);
}

/** Kept so the floor loop's reads cannot be optimized away. */
export let floorSink = 0;

/** Touches every character of every field the rule set reads, resolving each field the same way the engine does. */
function floorPass(fieldPaths: readonly string[], events: readonly object[]): () => number {
  const segments = fieldPaths.map((p) => p.split('.'));
  // A local sum in the loop (a module export would be a property store per character), published per pass.
  let sink = floorSink;
  const touch = (v: unknown): void => {
    if (typeof v === 'string') for (let i = 0; i < v.length; i++) sink = (sink + v.charCodeAt(i)) | 0;
    else if (Array.isArray(v)) for (const x of v) touch(x);
    else if (typeof v === 'number') sink = (sink + v) | 0;
  };
  return () => {
    for (let i = 0; i < events.length; i++) {
      for (const segs of segments) {
        let v: unknown = events[i];
        for (let s = 0; s < segs.length && v !== undefined; s++) v = (v as Record<string, unknown>)[segs[s] as string];
        touch(v);
      }
    }
    floorSink = sink;
    return events.length;
  };
}

/** `login.keychain`: the shortest string the default rule's argument list matches, in UTF-16 units. */
const SHORTEST_KEYCHAIN_ARGUMENT = 14;

/**
 * The least any correct evaluation of the default rule must read of an event: the length of each argument, and the
 * first unit of each one long enough to match. Any of them could be `login.keychain` and turn the verdict, so none
 * can go unread, and on the stream nearly every event gets that far (the other conditions hold for it). Nothing is
 * evaluated: an engine can come near this, never past it.
 */
function leastReadPass(events: readonly object[]): () => number {
  let sink = floorSink;
  return () => {
    for (let i = 0; i < events.length; i++) {
      const args = (events[i] as { process: { args: string[] } }).process.args;
      for (let j = 0; j < args.length; j++) {
        const arg = args[j] as string;
        sink = (sink + (arg.length >= SHORTEST_KEYCHAIN_ARGUMENT ? arg.charCodeAt(0) : arg.length)) | 0;
      }
    }
    floorSink = sink;
    return events.length;
  };
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];

  const ms = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e6;
  const t0 = process.hrtime.bigint();
  const read = readRuleFiles(listRuleFiles(RULE_DIRS, []));
  const readMs = ms(t0);
  const compile = (): { ms: number; rules: number } => {
    const t1 = process.hrtime.bigint();
    const plan = compileSources(read.sources, read.errors);
    new RuleEngine(plan.rules, plan.formulas, plan.fields, plan.sets, plan.unsupported, plan.errors);
    return { ms: ms(t1), rules: plan.rules.length };
  };
  // The first compile in a process pays for JIT warm-up, as a starting daemon does; later ones show the steady cost.
  const cold = compile();
  const compileMs = cold.ms;
  const warmMs = Math.min(compile().ms, compile().ms);
  const all = loadRuleSet(RULE_DIRS);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keysentry-bench-'));
  const bin = path.join(dir, 'rules.bin');
  compileRuleFiles(RULE_DIRS, bin);
  const t2 = process.hrtime.bigint();
  loadRuleSet([bin]);
  const loadMs = ms(t2);
  fs.rmSync(dir, { recursive: true, force: true });
  const kib = Math.round(read.files.reduce((n, f) => n + f.text.length, 0) / 1024);
  results.push({ name: `rules: compile ${cold.rules} rules, cold (EQL -> pattern sets -> engine)`, value: compileMs, unit: 'ms', baseline: { name: 'load compiled rules.bin', value: loadMs }, target: '< 200 ms' });
  results.push({ name: `rules: compile ${cold.rules} rules, warm`, value: warmMs, unit: 'ms', baseline: { name: 'load compiled rules.bin', value: loadMs }, target: '< 200 ms' });
  results.push({ name: `rules: read + TOML-parse ${read.files.length} rule files (${kib} KiB)`, value: readMs, unit: 'ms', baseline: { name: 'compile', value: compileMs } });

  const fields = (set: CompiledRuleSet): string[] => describeFields(set).map((f) => f.path);

  // Built after the compiles: built before them, the stream lay spread among their garbage and the GC's moves (the
  // default rule read 20-30% slower on it), a layout of old events that no pipeline evaluates.
  const events = stream();

  const def = loadDefaultRuleSet({ withPack: false });
  const defAlerting = alertingShare(def, events);
  const defRates = pairedRates(enginePass(def, events), floorPass(fields(def), events));
  const defNaive = naiveRate(def, events);
  results.push({ name: `rules: default rule, compiled (${(defAlerting * 100).toFixed(1)}% alert)`, value: defRates.engine, unit: 'events/s', baseline: { name: 'naive RegExp', value: defNaive }, target: '≥ 3,000,000 events/s' });
  results.push({ name: 'rules: default rule, compiled vs read-bytes floor', value: defRates.engine, unit: 'events/s', baseline: { name: 'floor', value: defRates.floor } });
  const leastRates = pairedRates(enginePass(def, events), leastReadPass(events));
  results.push({ name: 'rules: default rule, compiled vs the least it must read (each argument: its length, the first unit of those long enough to match)', value: leastRates.engine, unit: 'events/s', baseline: { name: 'least read', value: leastRates.floor } });
  const records = asExecRecords(events);
  const table = new ProcessTable({ hostId: 'bench' });
  const host = { hostname: 'mbp-1', osType: 'macos' };
  results.push({
    name: `rules: default rule on events toEcsEvent just built, ${HANDOVER_BATCH} at a time (the live agent's case)`,
    value: handedOverRate(def, records.length, (i) => toEcsEvent(records[i] as ExecRecord, table.apply(records[i] as ExecRecord), host)),
    unit: 'events/s',
    baseline: { name: 'the stream', value: defRates.engine },
  });
  const lines = events.map((e) => JSON.stringify(e));
  results.push({
    name: `rules: default rule on events just parsed, ${HANDOVER_BATCH} at a time (replay of ECS NDJSON)`,
    value: handedOverRate(def, lines.length, (i) => JSON.parse(lines[i] as string) as object),
    unit: 'events/s',
    baseline: { name: 'the same parsed events read as one stream', value: opsPerSecond(enginePass(def, lines.map((l) => JSON.parse(l) as object)), MEASURE_MS) },
  });

  const allAlerting = alertingShare(all, events);
  const allRates = pairedRates(enginePass(all, events), floorPass(fields(all), events));
  const allNaive = naiveRate(all, events);
  results.push({ name: `rules: all ${all.rules.length} macOS rules, compiled (${(allAlerting * 100).toFixed(1)}% alert)`, value: allRates.engine, unit: 'events/s', baseline: { name: 'naive RegExp rule by rule', value: allNaive }, target: '≥ 10× naive' });
  results.push({ name: `rules: all ${all.rules.length} macOS rules, compiled vs read-bytes floor`, value: allRates.engine, unit: 'events/s', baseline: { name: 'floor', value: allRates.floor }, target: '≥ 0.5× floor' });
  return results;
}
