/**
 * requiredText, the needles of the capture's prefilter: an exec is hurried to JavaScript only when one of them
 * occurs in its record's strings, so every event a rule matches must come from a record holding one. Checked on
 * live-shaped records built from the rules' own literals and run through the real pipeline stages (process table,
 * toEcsEvent, enrichEvent, the compiled rule set), against a reference of the native check (test/support/prefilter).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExecRecord, SeedRecord } from '../src/model/records';
import { CS_ADHOC, CS_SIGNED, CS_VALID } from '../src/process/codesign';
import { toEcsEvent } from '../src/process/ecs';
import { enrichEvent, KEYCHAIN_HINTS, mayNameKeychain, mayNameKeychainText } from '../src/process/normalize';
import { recordText } from '../src/process/record-text';
import { ProcessTable } from '../src/process/table';
import { loadDefaultRuleSet, loadRuleSet, PACK_RULES_DIR, DEFAULT_RULES_DIR, requiredText, type CompiledRuleSet, type RuleMeta } from '../src/rules';
import type { ParsedQuery } from '../src/rules/eql/ast';
import { parseQuery } from '../src/rules/eql/parser';
import { caseRecords, CORPUS_HOST, loadCorpus } from '../bench/detection-corpus';
import { FIXTURES_DIR } from './support/paths';
import { prefilterHits, prefilterUrgent } from './support/prefilter';
import { prng } from './support/random';
import { literalPools, type FieldPools, type Literal } from './support/rule-literals';
import { loadQueries, loadQuery } from './support/rules';

const FIXTURE_DIRS = ['rules_macos', 'rules_building_block_macos', 'other_dirs_tagged_macos'].map((d) => path.join(FIXTURES_DIR, 'detection-rules', d));
const EVENTS = 120_000;
const HOST = { hostname: 'mac-1', id: 'host-1', osType: 'macos' };
/** A letter of "keychain" but the last, then a quoting character: where a split spelling (Key''chain) splits first. */
const SPLIT_HINTS = [...'keychai'].flatMap((letter) => ['\\', "'", '"'].map((q) => letter + q));
const BUNDLED_NEEDLES = [...SPLIT_HINTS, 'eychain', 'file:', 'security', '\u212A'].sort();

function ruleFiles(dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.toml')) out.push(p);
    }
  };
  dirs.forEach(walk);
  return out;
}

/** Each rule's own list, from the rule loaded alone, by rule file (the fixtures hold another version of a bundled rule, same id). */
function listsByFile(files: readonly string[]): Map<string, string[] | undefined> {
  const out = new Map<string, string[] | undefined>();
  for (const file of files) {
    const set = loadRuleSet([file]);
    if (set.rules.length === 1) out.set(file, requiredText(set, recordText));
  }
  return out;
}

function exec(args: string[], extra: Partial<ExecRecord> & { executable?: string } = {}): ExecRecord {
  const { executable, ...rest } = extra;
  return { kind: 'exec', timeNs: 1_700_000_000_000_000_000n, process: { pid: 4242, executable: executable ?? `/usr/bin/${args[0] ?? 'true'}` }, args, argsComplete: true, cwd: '/Users/alice', uid: 501, userName: 'alice', ...rest };
}

/** The event the live pipeline evaluates for `record` (its parent, if any, seeded into the table first). */
function liveEvent(table: ProcessTable, record: ExecRecord, parent?: SeedRecord): object {
  if (parent !== undefined) table.apply(parent);
  const event = toEcsEvent(record, table.apply(record), HOST);
  enrichEvent(event);
  return event;
}

/** How a path-like value is written in argv: every spelling the normalizer resolves to the same keychain location. */
const SPELLINGS = ['plain', 'flipped', 'kelvin-long-s', 'relative', 'home', 'quoted', 'escaped', 'percent', 'dot-dot'] as const;
type Spelling = (typeof SPELLINGS)[number];

interface Spelled {
  args: string[];
  cwd?: string;
  userName?: string;
  /** The value is script text for sh -c. */
  script?: boolean;
}

function spell(value: string, how: Spelling, rnd: () => number): Spelled {
  const at = (s: string): number => 1 + Math.floor(rnd() * Math.max(1, s.length - 1));
  switch (how) {
    case 'plain':
      return { args: [value] };
    case 'flipped':
      return { args: [[...value].map((c) => (rnd() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join('')] };
    case 'kelvin-long-s':
      return { args: [value.replace(/[kK]/g, '\u212A').replace(/s/g, (m) => (rnd() < 0.5 ? '\u017F' : m))] };
    case 'relative': {
      const slash = value.indexOf('/', 1);
      if (!value.startsWith('/') || slash < 0) return { args: [value], cwd: '/Users/alice' };
      return { args: [value.slice(slash + 1) || '.'], cwd: value.slice(0, slash) };
    }
    case 'home': {
      const m = /^\/Users\/([^/]+)(\/.*)?$/.exec(value);
      if (m === null) return { args: [`~/${value.replace(/^\/+/, '')}`], userName: 'alice' };
      const rest = m[2] ?? '';
      return rnd() < 0.5 ? { args: [`~${rest}`], userName: m[1] as string } : { args: [`~${m[1] as string}${rest}`] };
    }
    case 'quoted': {
      const i = at(value);
      return { args: [`cat ${value.slice(0, i)}''${value.slice(i)} > /tmp/x`], script: true };
    }
    case 'escaped': {
      const i = at(value);
      return { args: [`cp ${value.slice(0, i)}\\${value.slice(i)} /tmp/x`], script: true };
    }
    case 'percent': {
      const encoded = [...value].map((c) => (/[A-Za-z]/.test(c) && rnd() < 0.3 ? `%${c.charCodeAt(0).toString(16).toUpperCase()}` : c)).join('');
      return { args: [`file://${encoded.startsWith('/') ? '' : '/'}${encoded}`] };
    }
    case 'dot-dot': {
      const i = value.indexOf('/', 1);
      return { args: [i < 0 ? `./${value}` : `${value.slice(0, i)}/x/..${value.slice(i)}`] };
    }
  }
}

const KEYCHAIN_PATHS = ['/Users/alice/Library/Keychains/login.keychain-db', '/Users/bob/Library/Keychains', '/Library/Keychains/System.keychain', '/tmp/copy/login.keychain', '/Volumes/Backup/Users/carol/Library/Keychains/ABC/keychain-2.db'];
const CWDS = ['/Users/alice', '/', '/tmp', '/Users/alice/Library', undefined];
const FLAGS = [CS_SIGNED | CS_VALID, CS_SIGNED | CS_VALID | CS_ADHOC, 0, undefined];
const EXECUTABLE_DIRS = ['/usr/bin', '/bin', '/tmp/.x', '/Applications/Tool.app/Contents/MacOS', '.'];

interface Target {
  meta: RuleMeta;
  pools: Map<string, FieldPools>;
}

function targetsOf(set: CompiledRuleSet, rnd: () => number): Target[] {
  return set.rules.map((meta) => ({ meta, pools: literalPools((parseQuery(meta.query) as ParsedQuery & { kind: 'event' }).condition, rnd) }));
}

/** A live exec record leaning toward `t`'s literals, its parent, and how its path-like values were spelled. */
function makeRecord(t: Target, rnd: () => number, n: number): { record: ExecRecord; parent?: SeedRecord; spelling: Spelling } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const pool = (field: string): Literal[] | undefined => {
    const p = t.pools.get(field);
    return p === undefined ? undefined : rnd() < 0.85 ? p.likely : p.all;
  };
  const text = (field: string): string | undefined => {
    const p = pool(field);
    return p === undefined || rnd() < 0.1 ? undefined : String(pick(p));
  };
  const spelling = pick(SPELLINGS);
  const name = text('process.name');
  let executable = text('process.executable') ?? (name === undefined ? pick(['/usr/bin/true', '/bin/sh', '/usr/bin/security', '/usr/bin/tar']) : `${pick(EXECUTABLE_DIRS)}/${name}`);
  let cwd = text('process.working_directory') ?? pick(CWDS);
  let userName: string | undefined = text('user.name') ?? pick(['alice', 'root', undefined]);
  const args: string[] = [];
  const add = (value: string | undefined): void => {
    if (value === undefined) return;
    const s = spell(value, value.includes('/') ? spelling : pick(['plain', 'flipped', 'kelvin-long-s'] as const), rnd);
    if (s.cwd !== undefined) cwd = s.cwd;
    if (s.userName !== undefined) userName = s.userName;
    if (s.script === true) {
      executable = '/bin/sh';
      args.push('-c');
    }
    args.push(...s.args);
  };
  for (let i = Math.floor(rnd() * 4); i > 0; i--) add(text('process.args'));
  for (const field of ['keysentry.keychain_locations', 'keysentry.keychain_paths', 'keysentry.paths']) {
    if (t.pools.has(field)) add(rnd() < 0.5 ? pick(KEYCHAIN_PATHS) : text(field));
  }
  // A command line is argv joined by spaces: a pattern instance spans as many arguments as it has words.
  const commandLine = text('process.command_line');
  if (commandLine !== undefined) args.push(...commandLine.split(' '));
  const subcommand = text('keysentry.subcommand');
  if (subcommand !== undefined) {
    if (rnd() < 0.7) executable = '/usr/bin/security';
    args.unshift(...(rnd() < 0.3 ? ['-q'] : []), subcommand);
  }
  args.unshift(rnd() < 0.5 ? executable : executable.slice(executable.lastIndexOf('/') + 1));
  const signingId = text('process.code_signature.signing_id');
  const teamId = text('process.code_signature.team_id');
  const flags = pick(FLAGS);
  const codeSignature = flags === undefined && signingId === undefined && teamId === undefined ? undefined : { flags, signingId, teamId };
  const pid = 10_000 + (n % 50_000);
  const parentExecutable = text('process.parent.executable') ?? (pool('process.parent.name') !== undefined ? `/usr/bin/${text('process.parent.name') ?? 'zsh'}` : pick(['/bin/zsh', '/sbin/launchd']));
  const parentArgs = text('process.parent.command_line')?.split(' ') ?? [parentExecutable, ...(text('process.parent.args') ?? 'x').split(' ')];
  const parentPid = 70_000 + (n % 50_000);
  const record: ExecRecord = { kind: 'exec', timeNs: BigInt(n) * 1000n, seq: n, process: { pid, executable }, args, argsComplete: true, parent: { pid: parentPid }, uid: userName === 'root' ? 0 : 501 };
  if (codeSignature !== undefined) record.process.codeSignature = codeSignature;
  if (cwd !== undefined) record.cwd = cwd;
  if (userName !== undefined) record.userName = userName;
  // The table's parent (a process seen earlier), or only the source's own reading of it (Linux), or none.
  const parentStyle = rnd();
  if (parentStyle < 0.3) record.parentExecutable = parentExecutable;
  const parent: SeedRecord | undefined =
    parentStyle < 0.8
      ? { kind: 'seed', timeNs: record.timeNs, process: { pid: parentPid, executable: parentExecutable, codeSignature: { flags: pick(FLAGS), teamId: text('process.parent.code_signature.team_id') } }, args: parentArgs }
      : undefined;
  return parent === undefined ? { record, spelling } : { record, parent, spelling };
}

describe('rules: requiredText, the capture prefilter needles', function () {
  this.timeout(300_000);

  it('gives the bundled rules a defined list, which a keychain read contains and the bench load exec does not', () => {
    const set = loadDefaultRuleSet();
    const needles = requiredText(set, recordText);
    assert.deepEqual(needles, BUNDLED_NEEDLES);
    assert.equal(prefilterUrgent(exec(['true', 'ks-bench-load'], { executable: '/bin/true' }), BUNDLED_NEEDLES), false);
    assert.equal(prefilterUrgent(exec(['security', 'dump-keychain', '-d'], { executable: '/usr/bin/security' }), BUNDLED_NEEDLES), true);
    // The Elastic rule alone: `:` compares case-insensitively, so k and s (KELVIN SIGN, LONG S) end its needles,
    // and its patterns share "eychain".
    assert.deepEqual(requiredText(loadRuleSet([DEFAULT_RULES_DIR]), recordText), ['eychain']);
    assert.equal(requiredText(loadRuleSet([PACK_RULES_DIR]), recordText)?.includes('\u212A'), true);
  });

  it('keeps urgent every exec of the detection corpus that the shipped rules alert on', () => {
    const set = loadDefaultRuleSet();
    const needles = requiredText(set, recordText) ?? [];
    let execs = 0;
    let alerts = 0;
    let urgent = 0;
    const corpus = loadCorpus();
    for (const c of [...corpus.thefts, ...corpus.legitimate]) {
      const table = new ProcessTable({ hostId: CORPUS_HOST.id ?? '' });
      for (const { record } of caseRecords(c)) {
        const event = toEcsEvent(record, table.apply(record), CORPUS_HOST);
        enrichEvent(event);
        const isUrgent = prefilterUrgent(record, needles);
        execs++;
        if (isUrgent) urgent++;
        if (set.evaluate(event).length === 0) continue;
        alerts++;
        assert.ok(isUrgent, `case ${c.id}: ${JSON.stringify(record.args)} alerts but holds none of the needles`);
      }
    }
    assert.ok(alerts >= 30, `only ${alerts} alerts in the corpus`);
    // The corpus is keychain work, theft and administration: most of it is urgent, its parents (shells) mostly not.
    assert.ok(urgent > alerts && urgent < execs, `${urgent} of ${execs} execs urgent, ${alerts} alerts`);
  });

  it('is undefined when a rule can match without particular text: parent fields, NOT, user names, numbers, "*"', () => {
    for (const query of [
      'process where process.parent.executable : "/Applications/*"',
      'process where process.parent.name == "launchd" and process.parent.args : "-s"',
      'process where not process.name : "ls"',
      'process where user.name == "root"',
      'process where process.pid > 1',
      'process where process.args : "*"',
      'process where process.name : ("security", "k*")',
      'process where process.name : "kk"',
      'process where process.name == "ls" or process.parent.name == "ls"',
      'process where process.executable != null',
    ]) {
      assert.equal(requiredText(loadQuery(query), recordText), undefined, query);
    }
  });

  it('takes the best conjunct, the union of alternatives, and splits needles where the native compare cannot follow', () => {
    const cases: Array<[string, string[] | undefined]> = [
      ['process where process.name == "security" and process.args : "dump-keychain"', ['security']],
      ['process where process.name : "ls" and process.args == "dump-keychain"', ['dump-keychain']],
      ['process where process.name in ("cat", "CP") or process.args like "*/Cookies/*"', ['/cookies/', 'cat', 'cp']],
      // Sensitive k is fine (the native compare is case-insensitive: a superset); insensitive k stops a needle.
      ['process where process.name == "kextload"', ['kextload']],
      ['process where process.name : "kextload"', ['extload']],
      // Non-ASCII characters are left out of needles.
      ['process where process.name == "café-tool"', ['-tool']],
      ['process where process.executable regex "/usr/bin/sec(urity|ret)"', ['/usr/bin/secret', '/usr/bin/security']],
      ['process where process.name regex~ ".*[0-9]+x"', ['x']],
      // A case-insensitive [a-z] holds KELVIN SIGN and LONG S; so does k.
      ['process where process.name regex~ "[a-z]+k"', undefined],
      ['process where process.args : "?ogin.*chain"', ['ogin.']],
      ['process where keysentry.subcommand == "dump-keychain"', ['dump-keychain']],
      ['process where process.working_directory : "/tmp/*" and process.code_signature.team_id == "ABCDE12345"', ['abcde12345']],
      ['process where keysentry.keychain_paths != null', [...KEYCHAIN_HINTS].sort()],
      ['process where false', []],
      // Alternatives pick their needles together: one pattern alone takes its longest run, with others a shared one.
      ['process where process.args : "/Users/*/Library/Keychains/*"', ['/library/']],
      ['process where process.args : ("/Users/*/Library/Keychains/*", "System.keychain")', ['eychain']],
      ['process where process.name : "tar" and process.args : "*keychain*" or process.args : "*.keychain-db"', ['eychain']],
    ];
    for (const [query, want] of cases) assert.deepEqual(requiredText(loadQuery(query), recordText), want, query);
  });

  it('splits command_line patterns at spaces: an argument holds each part of a pattern that spans arguments', () => {
    const set = loadQueries(['process where process.command_line : "*security find-generic-password -wa *Chrome*"', 'process where process.command_line == "/bin/sh -c curl"']);
    const needles = requiredText(set, recordText);
    assert.deepEqual(needles, ['/bin/sh', 'find-generic-pa']);
    const table = new ProcessTable({ hostId: HOST.id });
    const record = exec(['/usr/bin/security', 'find-generic-password', '-wa', 'Google Chrome'], { executable: '/usr/bin/security' });
    assert.equal(set.evaluate(liveEvent(table, record)).length, 1);
    assert.deepEqual(prefilterHits(record, needles ?? []), ['find-generic-pa']);
  });

  it('mayNameKeychain finds a keychain hint whenever it answers yes, and the hints hold no space', () => {
    assert.ok(KEYCHAIN_HINTS.every((h) => !h.includes(' ')));
    const rnd = prng(0x4b1c);
    const pieces = ['key', 'chain', 'Key', 'CHAIN', "'", '"', '\\', '%4B', 'file:', 'FILE://', '\u212A', 'ey', 'y', ' ', '/', 'a', 'Library/', 'login.', 'ſ', '%'];
    let yes = 0;
    for (let i = 0; i < 50_000; i++) {
      const words = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => Array.from({ length: Math.floor(rnd() * 6) }, () => pieces[Math.floor(rnd() * pieces.length)] as string).join(''));
      const cwd = rnd() < 0.3 ? `/${words.pop() ?? ''}` : undefined;
      const args = ['tool', ...words];
      const record = exec(args, cwd === undefined ? { cwd: undefined } : { cwd });
      const either = mayNameKeychain(args, cwd) || mayNameKeychainText(args.join(' '), cwd, 4);
      if (!either) continue;
      yes++;
      assert.ok(prefilterUrgent(record, KEYCHAIN_HINTS), `mayNameKeychain(${JSON.stringify(args)}, ${JSON.stringify(cwd)}) but no hint`);
    }
    assert.ok(yes > 5_000, `only ${yes} texts may name a keychain`);
  });

  it('keysentry.subcommand is always one whole argument of the record', () => {
    const rnd = prng(0x5ab);
    const words = ['-q', '-p', 'prompt', '-pprompt', '-qp', '--', '-', '', 'dump-keychain', 'export', '-v', 'find-generic-password', 'x'.repeat(70)];
    const table = new ProcessTable({ hostId: HOST.id });
    let found = 0;
    for (let i = 0; i < 20_000; i++) {
      const args = ['security', ...Array.from({ length: Math.floor(rnd() * 5) }, () => words[Math.floor(rnd() * words.length)] as string)];
      const event = liveEvent(table, exec(args, rnd() < 0.5 ? { executable: '/usr/bin/security' } : { executable: '/tmp/s', process: { pid: 4242, executable: '/tmp/s', codeSignature: { flags: CS_SIGNED | CS_VALID, signingId: 'com.apple.security' } } })) as { keysentry?: { subcommand?: string } };
      const subcommand = event.keysentry?.subcommand;
      if (subcommand === undefined) continue;
      found++;
      assert.ok(args.slice(1).includes(subcommand), `${JSON.stringify(subcommand)} is not an argument of ${JSON.stringify(args)}`);
    }
    assert.ok(found > 8_000, `only ${found} subcommands`);
  });

  it(`every event a rule matches holds one of that rule's needles, on ${EVENTS.toLocaleString('en-US')} live records from the rules' literals`, () => {
    const bundledFiles = ruleFiles([DEFAULT_RULES_DIR, PACK_RULES_DIR]);
    const fixtureFiles = ruleFiles(FIXTURE_DIRS);
    const fixtureLists = listsByFile(fixtureFiles);
    assert.equal(fixtureLists.size, 82);
    const withList = fixtureFiles.filter((f) => fixtureLists.get(f) !== undefined);
    assert.equal(withList.length, 76);
    const needlesByFile = new Map([...listsByFile(bundledFiles), ...fixtureLists]);
    const sets = [loadRuleSet(bundledFiles), loadRuleSet(withList)];
    for (const set of sets) assert.deepEqual(set.errors, []);
    assert.deepEqual(requiredText(sets[0] as CompiledRuleSet, recordText), BUNDLED_NEEDLES);
    assert.notEqual(requiredText(sets[1] as CompiledRuleSet, recordText), undefined);

    const rnd = prng(0x2e9d);
    const targets = sets.flatMap((s) => targetsOf(s, rnd));
    // The bundled rules are few: they get a third of the events, so each spelling fires them often.
    const bundled = targets.slice(0, (sets[0] as CompiledRuleSet).rules.length);
    const table = new ProcessTable({ hostId: HOST.id });
    const firedRules = new Set<string>();
    const firedSpellings = new Set<Spelling>();
    /** Bundled needles that were the only one an alerting record held: each is needed, so a test without it fails. */
    const soleNeedles = new Set<string>();
    let fired = 0;
    for (let n = 0; n < EVENTS; n++) {
      const t = (n % 3 === 0 ? bundled[n % bundled.length] : targets[n % targets.length]) as Target;
      const { record, parent, spelling } = makeRecord(t, rnd, n);
      const event = liveEvent(table, record, parent);
      for (const set of sets) {
        for (const rule of set.evaluate(event)) {
          const needles = needlesByFile.get(rule.source) as readonly string[];
          const hits = prefilterHits(record, needles);
          if (hits.length === 0) assert.fail(`rule "${rule.name}" matched a record holding none of ${JSON.stringify(needles)}:\n${JSON.stringify(record, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}\n${JSON.stringify(event)}`);
          fired++;
          firedRules.add(rule.id);
          if (set === sets[0]) {
            firedSpellings.add(spelling);
            const bundledHits = prefilterHits(record, BUNDLED_NEEDLES);
            if (bundledHits.length === 1) soleNeedles.add(bundledHits[0] as string);
          }
        }
      }
    }
    assert.ok(fired > EVENTS / 20, `only ${fired} rule matches`);
    assert.ok(firedRules.size >= targets.length * 0.6, `only ${firedRules.size} of ${targets.length} rules ever matched`);
    for (const meta of (sets[0] as CompiledRuleSet).rules) assert.ok(firedRules.has(meta.id), `bundled rule "${meta.name}" never matched`);
    assert.deepEqual([...firedSpellings].sort(), [...SPELLINGS].sort());
    for (const needle of ['eychain', 'file:', 'security']) assert.ok(soleNeedles.has(needle), `no alert depended on ${JSON.stringify(needle)} alone`);
    for (const q of ['\\', "'"]) assert.ok([...soleNeedles].some((n) => SPLIT_HINTS.includes(n) && n.endsWith(q)), `no alert depended on a letter before ${q} alone`);
  });
});
