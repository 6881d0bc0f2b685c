/**
 * The EndpointSecurity translation (native/macos/es_translate.cc), run on Linux against the
 * ES test double: real es_message_t values built from real eslogger lines, translated,
 * packed by the core's batch encoder and unpacked by the JavaScript decoder. Then the same
 * lines through the eslogger child source and through ES translation give identical ECS events.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import type { EcsDocument } from '../src/model/ecs';
import type { ExecRecord, SeedRecord, SourceRecord } from '../src/model/records';
import type { AlertDocument } from '../src/alerts/types';
import { runPipeline } from '../src/cli/pipeline';
import { enrichEvent } from '../src/process/normalize';
import { ProcessTable } from '../src/process/table';
import { DEFAULT_RULES_DIR, loadRuleSet, PACK_RULES_DIR } from '../src/rules';
import { EsloggerLiveSource } from '../src/sources/eslogger-live';
import { esloggerRecord } from '../src/sources/eslogger';
import { decodeBatch } from '../src/sources/native-decode';
import type { EventSource, SourceItem, SourceStats } from '../src/sources/types';
import { esMessageFromEslogger, loadEsTestAddon, type EsMessageSpec, type EsTestAddon } from './support/es-messages';
import { collect, fakeEsloggerDir, fakeRun, fixtureLines } from './support/fake-eslogger';

const [EXEC_V9, FORK_V10, EXEC_V11, EXIT_V9] = fixtureLines() as [string, string, string, string];

let addon: EsTestAddon;

function records(specs: EsMessageSpec[], guarded = false): { records: SourceRecord[]; lost: number } {
  const out = addon.translate(specs, { guarded });
  const decoded = decodeBatch(out.batch);
  assert.equal(decoded.error, undefined);
  return { records: decoded.records, lost: out.lost };
}

function one(spec: EsMessageSpec, guarded = false): SourceRecord {
  const r = records([spec], guarded).records;
  assert.equal(r.length, 1);
  return r[0] as SourceRecord;
}

function atVersion(line: string, version: number): EsMessageSpec {
  return { ...esMessageFromEslogger(line), version };
}

describe('macos: EndpointSecurity message translation (test double)', function () {
  before(function () {
    addon = loadEsTestAddon();
  });

  it('translates the v9 exec: target image, argv, cwd, credentials, parent and responsible from audit tokens', () => {
    const r = one(esMessageFromEslogger(EXEC_V9));
    assert.deepEqual(r, {
      kind: 'exec',
      timeNs: 1754572895880814738n,
      seq: 75,
      process: {
        pid: 97391,
        pidversion: 149092,
        executable: '/bin/connection-checker',
        codeSignature: { flags: 570556931, isPlatformBinary: false, signingId: 'connection_checker-04fde7bdb8bceee3' },
      },
      args: ['/bin/connection-checker'],
      argsComplete: true,
      cwd: '/bin/mullvadvpn-app',
      uid: 501,
      euid: 501,
      gid: 20,
      parent: { pid: 58916, pidversion: 87724 },
      responsible: { pid: 938, pidversion: 2424 },
      preExec: { pid: 97391, pidversion: 149091, executable: '/bin/nu' },
    });
  });

  it('keeps the pre-exec image apart from the parent: xpcproxy execs a daemon whose parent is launchd', () => {
    const r = one(esMessageFromEslogger(EXEC_V11)) as ExecRecord;
    assert.equal(r.preExec?.executable, '/usr/libexec/xpcproxy');
    assert.equal(r.preExec?.pid, r.process.pid, 'msg->process is the same pid before exec');
    assert.deepEqual(r.parent, { pid: 1, pidversion: 742 }, 'the parent is launchd, from parent_audit_token');
    assert.equal(r.parentExecutable, undefined, 'the translator never names xpcproxy as the parent');
    assert.equal(r.process.executable, '/System/Library/PrivateFrameworks/IntlPreferences.framework/Support/localizationswitcherd');
    assert.deepEqual(r.responsible, { pid: 11085, pidversion: 25189 });

    // Through the process table: the parent's image comes from launchd's entry, not msg->process.
    const table = new ProcessTable({ hostId: 'test-host' });
    table.seed([seed(1, 742, '/sbin/launchd')]);
    const res = table.apply(r);
    assert.equal(res.parent?.executable, '/sbin/launchd');
  });

  it('translates fork (the forker is msg->process, exact at every version) and exit', () => {
    const MULLVAD_CS = { flags: 570491649, isPlatformBinary: false, signingId: 'net.mullvad.vpn', teamId: 'CKG9MXH72F' };
    const [fork, exit] = records([esMessageFromEslogger(FORK_V10), esMessageFromEslogger(EXIT_V9)]).records;
    assert.deepEqual(fork, {
      kind: 'fork',
      timeNs: 1753196941084030274n,
      seq: 1,
      child: { pid: 21497, pidversion: 38282, executable: '/Applications/Mullvad VPN.app/Contents/MacOS/Mullvad VPN', codeSignature: MULLVAD_CS },
      parent: { pid: 19745, pidversion: 35165 },
      // The child runs its forker's image: the forker's image as the eslogger reader takes it from msg->process.
      parentImage: { pid: 19745, pidversion: 35165, executable: '/Applications/Mullvad VPN.app/Contents/MacOS/Mullvad VPN', codeSignature: MULLVAD_CS },
    });
    assert.deepEqual(exit, { kind: 'exit', timeNs: 1754579589811587464n, seq: 1103, process: { pid: 11221, pidversion: 170692 }, status: 0 });
  });

  it('reads nothing past a message version: v3 has cwd but no audit-token parent, v2 and v1 not even cwd', () => {
    // Guarded: the first field newer than the version starts an unmapped page, so a read of
    // it (or of a v7 dyld_exec_path, which points into one) fails the translation.
    const v3 = one(atVersion(EXEC_V9, 3), true) as ExecRecord;
    assert.equal(v3.cwd, '/bin/mullvadvpn-app');
    assert.deepEqual(v3.parent, { pid: 58916 }, 'before v4 the parent is ppid, without a pidversion');
    assert.equal(v3.responsible, undefined);
    assert.equal(v3.seq, undefined, 'global_seq_num is v4');
    for (const version of [2, 1]) {
      const r = one(atVersion(EXEC_V9, version), true) as ExecRecord;
      assert.equal(r.cwd, undefined, `v${version} has no cwd`);
      assert.deepEqual(r.parent, { pid: 58916 });
      assert.equal(r.process.executable, '/bin/connection-checker');
      assert.deepEqual(r.args, ['/bin/connection-checker']);
    }
    for (const line of [FORK_V10, EXIT_V9]) {
      for (const version of [1, 2, 3]) assert.ok(one(atVersion(line, version), true));
    }
  });

  it('the guard catches a read past the version (the check above can fail)', () => {
    assert.match(addon.probeGuard(atVersion(EXEC_V9, 3)), /^es_process_t \(message process\) byte \d+$/);
    assert.equal(addon.probeGuard(atVersion(EXEC_V9, 4)), '', 'a v4 message has parent_audit_token');
  });

  it('counts dropped messages from global_seq_num gaps (v4+) and per-type seq_num gaps (v2-v3)', () => {
    const global = (g: number): EsMessageSpec => ({ ...esMessageFromEslogger(EXEC_V9), globalSeqNum: g });
    assert.equal(records([global(75), global(76), global(80), global(81)]).lost, 3);
    assert.equal(records([global(75), global(2), global(3)]).lost, 0, 'a smaller number is a new client, not a loss');

    const typed = (line: string, seq: number): EsMessageSpec => ({ ...atVersion(line, 3), seqNum: seq });
    const sequence = [typed(EXEC_V9, 5), typed(FORK_V10, 0), typed(EXEC_V9, 6), typed(EXIT_V9, 40), typed(FORK_V10, 1), typed(EXEC_V9, 9)];
    assert.equal(records(sequence).lost, 2, 'exec 6 -> 9 lost two; other types run their own sequences');
    assert.equal(records([1, 5, 9].map((s) => ({ ...atVersion(EXEC_V9, 1), seqNum: s })), true).lost, 0, 'v1 has no seq_num');
  });

  it('bounds argv: past 4096 arguments or 256 KiB it is cut and marked incomplete', () => {
    const base = esMessageFromEslogger(EXEC_V9);
    const many = { ...base, exec: { ...base.exec!, args: Array.from({ length: 5000 }, (_, i) => `a${i}`) } };
    const r = one(many) as ExecRecord;
    assert.equal(r.args.length, 4096);
    assert.equal(r.argsComplete, false);
    const big = { ...base, exec: { ...base.exec!, args: ['x'.repeat(200 * 1024), 'y'.repeat(100 * 1024), 'z'] } };
    const b = one(big) as ExecRecord;
    assert.deepEqual(b.args.map((a) => a.length), [200 * 1024]);
    assert.equal(b.argsComplete, false);
  });

  it('carries ES path_truncated (executable, cwd, pre-exec image) as pathsComplete: false, like the eslogger reader', () => {
    const truncate = (mark: (m: { event: { exec: { target: { executable: Record<string, unknown> }; cwd: Record<string, unknown> } }; process: { executable: Record<string, unknown> } }) => void): string => {
      const m = JSON.parse(EXEC_V9);
      mark(m);
      return JSON.stringify(m);
    };
    const cases: Array<[string, string]> = [
      ['executable', truncate((m) => (m.event.exec.target.executable.path_truncated = true))],
      ['cwd', truncate((m) => (m.event.exec.cwd.path_truncated = true))],
      ['pre-exec image', truncate((m) => (m.process.executable.path_truncated = true))],
    ];
    for (const [what, line] of cases) {
      const viaEs = one(esMessageFromEslogger(line)) as ExecRecord;
      const viaEslogger = esloggerRecord(JSON.parse(line)) as ExecRecord;
      assert.equal(viaEs.pathsComplete, false, `ES translation, ${what} cut`);
      assert.equal(viaEslogger.pathsComplete, false, `eslogger reader, ${what} cut`);
    }
    assert.equal((one(esMessageFromEslogger(EXEC_V9)) as ExecRecord).pathsComplete, undefined, 'nothing cut: no mark');
    assert.equal((esloggerRecord(JSON.parse(EXEC_V9)) as ExecRecord).pathsComplete, undefined);
  });

  it('gives each es_new_client failure one actionable message', () => {
    const byCode = new Map(addon.newClientErrors().map((e) => [e.code, e]));
    const expect: Array<[string, RegExp[]]> = [
      ['es-not-entitled', [/com\.apple\.developer\.endpoint-security\.client/, /embedded\.provisionprofile/, /keysentry\.app/, /--source eslogger/]],
      ['es-not-permitted', [/Full Disk Access/, /x-apple\.systempreferences:com\.apple\.preference\.security\?Privacy_AllFiles/, /PPPC/]],
      ['es-not-privileged', [/root/, /LaunchDaemons/]],
      ['es-too-many-clients', [/limit of simultaneous clients/, /eslogger/]],
      ['es-invalid-argument', [/keysentry bug/]],
      ['es-internal', [/ERR_INTERNAL|result 42/]],
    ];
    for (const [code, patterns] of expect) {
      const e = byCode.get(code);
      assert.ok(e !== undefined, `no message for ${code}`);
      for (const p of patterns) assert.match(e.message, p, code);
    }
    const unknown = addon.newClientErrors().find((e) => e.result === 42);
    assert.match(unknown?.message ?? '', /result 42/);
  });
});

describe('macos: start-up scan (libproc over the double)', function () {
  before(function () {
    addon = loadEsTestAddon();
  });

  it('lists running processes with parent, owner, executable and an execution id, also when the list outgrows its first sizing', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      for (const shortfall of [0, 1000]) {
        addon.setPidCountShortfall(shortfall);
        const found = addon.seedProcesses().find((p) => p.pid === child.pid);
        addon.setPidCountShortfall(0);
        assert.ok(found !== undefined, `sleep (pid ${child.pid}) not listed with shortfall ${shortfall}`);
        assert.equal(found.ppid, process.pid);
        assert.equal(found.executable, fs.realpathSync(`/proc/${child.pid}/exe`));
        assert.equal(found.uid, process.getuid?.());
        const ticks = Number(fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19]);
        assert.equal(found.pidversion, ticks & 0x7fffffff);
        assert.ok(found.startTimeNs > 0n);
      }
      assert.equal(addon.seedProcesses(3).length, 3);
    } finally {
      child.kill();
    }
  });
});

function seed(pid: number, pidversion: number, executable: string): SeedRecord {
  return { kind: 'seed', timeNs: 1n, process: { pid, pidversion, executable } };
}

class FixedSource implements EventSource {
  readonly name = 'es-test';
  constructor(private readonly items: SourceItem[]) {}
  async *batches(): AsyncIterable<SourceItem[]> {
    yield this.items;
  }
  async stop(): Promise<void> {}
  stats(): SourceStats {
    return { records: this.items.length, ecs: 0, rejected: 0, lost: 0 };
  }
}

/** The ECS events the rules saw and the alerts they raised, for one source. */
async function detect(source: EventSource, seeds: SeedRecord[]): Promise<{ events: EcsDocument[]; alerts: AlertDocument[] }> {
  const table = new ProcessTable({ hostId: 'test-host' });
  table.seed(seeds);
  const events: EcsDocument[] = [];
  const alerts: AlertDocument[] = [];
  await runPipeline({
    source,
    table,
    host: { hostname: 'test-host', id: 'test-host', osType: 'macos' },
    agent: { name: 'keysentry', version: 'test', id: 'test-agent' },
    rules: loadRuleSet([DEFAULT_RULES_DIR, PACK_RULES_DIR]),
    enrich: enrichEvent,
    sinks: [{ write: (alert) => void alerts.push(alert) }],
    onEvent: (doc) => {
      events.push(doc);
    },
  });
  return { events, alerts };
}

describe('macos: ES translation and eslogger give identical ECS events', function () {
  let dir: string;
  before(function () {
    addon = loadEsTestAddon();
    dir = fakeEsloggerDir();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The fixtures plus lines built from their structure: a fork whose child then execs twice. */
  function scenario(): string[] {
    const fork = JSON.parse(FORK_V10) as { event: { fork: { child: Record<string, unknown> } } };
    const child = fork.event.fork.child;
    const exec = JSON.parse(EXEC_V9) as Record<string, any>;
    // The forked Mullvad VPN child (21497, pidversion 38282) execs connection-checker...
    exec.process = { ...child };
    exec.event.exec.target.audit_token = { ...exec.event.exec.target.audit_token, pid: 21497, pidversion: 38283 };
    exec.event.exec.target.parent_audit_token = { ...exec.event.exec.target.parent_audit_token, pid: 19745, pidversion: 35165 };
    exec.global_seq_num = 2;
    // ...which then execs `security find-generic-password` with argv that is not NUL-safe to strlen.
    const again = JSON.parse(JSON.stringify(exec)) as Record<string, any>;
    again.process = JSON.parse(JSON.stringify(exec.event.exec.target));
    again.event.exec.target.audit_token.pidversion = 38284;
    again.event.exec.target.executable.path = '/usr/bin/security';
    again.event.exec.args = ['security', 'find-generic-password', '-wa', 'Chrome Safe Storage'];
    again.global_seq_num = 5;
    // security forks a child (its image and signature come from the fork alone), which forks
    // a grandchild that execs: the grandchild's parent is known only through a fork record.
    const forkOf = (parent: Record<string, any>, pid: number, pidversion: number, seq: number): Record<string, any> => {
      const f = JSON.parse(FORK_V10) as Record<string, any>;
      f.process = JSON.parse(JSON.stringify(parent));
      f.event.fork.child = { ...JSON.parse(JSON.stringify(parent)), audit_token: [501, 501, 20, 501, 20, pid, 100013, pidversion], ppid: parent.audit_token.pid };
      f.event.fork.child.parent_audit_token = JSON.parse(JSON.stringify(parent.audit_token));
      f.global_seq_num = seq;
      return f;
    };
    const sub = forkOf(again.event.exec.target, 30001, 50001, 6);
    const grand = forkOf(sub.event.fork.child, 30002, 50002, 7);
    const ls = JSON.parse(JSON.stringify(again)) as Record<string, any>;
    ls.process = JSON.parse(JSON.stringify(grand.event.fork.child));
    ls.event.exec.target = { ...JSON.parse(JSON.stringify(grand.event.fork.child)), audit_token: [501, 501, 20, 501, 20, 30002, 100013, 50003] };
    ls.event.exec.target.executable.path = '/bin/ls';
    ls.event.exec.target.parent_audit_token = [501, 501, 20, 501, 20, 30001, 100013, 50001];
    ls.event.exec.args = ['ls', '-l'];
    ls.global_seq_num = 8;
    return [EXEC_V9, FORK_V10, JSON.stringify(exec), JSON.stringify(again), JSON.stringify(sub), JSON.stringify(grand), JSON.stringify(ls), EXEC_V11, EXIT_V9];
  }

  it('for the fixtures and a fork -> exec -> exec chain built from them', async () => {
    const lines = scenario();
    const seeds = [seed(1, 742, '/sbin/launchd'), seed(19745, 35165, '/Applications/Mullvad VPN.app/Contents/MacOS/Mullvad VPN'), seed(58916, 87724, '/bin/zsh')];

    const run = fakeRun(dir, lines.join('\n') + '\n');
    const viaEslogger = new EsloggerLiveSource(run.options);
    const esloggerItems = await collect(viaEslogger, (got) => got.length >= lines.length);
    assert.ok(esloggerItems.every((i) => i.kind === 'record'), JSON.stringify(esloggerItems.filter((i) => i.kind !== 'record')));
    const viaEsloggerPath = await detect(new FixedSource(esloggerItems), seeds);

    const translated = records(lines.map(esMessageFromEslogger)).records;
    const viaEsPath = await detect(new FixedSource(translated.map((record, i) => ({ kind: 'record', record, where: `es:${i + 1}` }))), seeds);
    const fromEs = viaEsPath.events;
    const fromEslogger = viaEsloggerPath.events;

    assert.equal(fromEs.length, 5, 'one ECS event per exec');
    assert.deepEqual(fromEs, fromEslogger);
    const security = fromEs[2] as { process: { executable: string; args: string[]; parent: { executable: string } } };
    assert.equal(security.process.executable, '/usr/bin/security');
    assert.deepEqual(security.process.args, ['security', 'find-generic-password', '-wa', 'Chrome Safe Storage']);
    assert.equal(security.process.parent.executable, '/Applications/Mullvad VPN.app/Contents/MacOS/Mullvad VPN');
    const ls = fromEs[3] as { process: { parent: { executable: string; pid: number } } };
    assert.deepEqual([ls.process.parent.pid, ls.process.parent.executable], [30001, '/usr/bin/security']);
    const daemon = fromEs[4] as { process: { parent: { executable: string } } };
    assert.equal(daemon.process.parent.executable, '/sbin/launchd');

    // The keychain rules fire on the `security find-generic-password` exec, alike on both paths.
    assert.ok(viaEsPath.alerts.length > 0, 'the keychain exec raised an alert');
    assert.deepEqual(viaEsPath.alerts, viaEsloggerPath.alerts);
  });

  it('a forker that predates the capture gets its image from the fork on both paths (QA D6)', async () => {
    // No seed for Mullvad VPN (19745): its image is known only as the forker of 21497.
    const lines = scenario();
    const seeds = [seed(1, 742, '/sbin/launchd'), seed(58916, 87724, '/bin/zsh')];
    const run = fakeRun(dir, lines.join('\n') + '\n');
    const esloggerItems = await collect(new EsloggerLiveSource(run.options), (got) => got.length >= lines.length);
    const viaEslogger = await detect(new FixedSource(esloggerItems), seeds);
    const translated = records(lines.map(esMessageFromEslogger)).records;
    const viaEs = await detect(new FixedSource(translated.map((record, i) => ({ kind: 'record', record, where: `es:${i + 1}` }))), seeds);
    assert.deepEqual(viaEs.events, viaEslogger.events);
    const checker = viaEs.events[1] as { process: { pid: number; parent: { executable: string; code_signature: { team_id: string } } } };
    assert.equal(checker.process.pid, 21497);
    assert.equal(checker.process.parent.executable, '/Applications/Mullvad VPN.app/Contents/MacOS/Mullvad VPN');
    assert.equal(checker.process.parent.code_signature.team_id, 'CKG9MXH72F');
  });
});
