/**
 * `keysentry run` as root on real processes: real commands go in, exactly the expected
 * alerts come out (pid, args, executable, parent executable); SIGHUP with a broken rule file
 * keeps the rules in force; `keysentry record` + `keysentry replay` raise the same alerts.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './support/paths';
import { runKeysentry, tempDir } from './support/replay-cli';
import { fakeSecurity, parseJsonLines, runCommand, startCli, type CliChild } from './support/live-agent';

const isRoot = process.getuid?.() === 0;
const DEFAULT_RULES = path.join(REPO_ROOT, 'rules', 'default');
const NODE = fs.realpathSync(process.execPath);
const SH = fs.realpathSync('/bin/sh');
const CAT = fs.realpathSync('/bin/cat');

interface Expected {
  pid: number;
  args: string[];
  executable: string;
  parentExecutable: string;
  parentPid?: number;
}

/** The scenario: runs every command; returns the alerts it must raise and the pids it used. */
async function scenario(dir: string): Promise<{ expected: Expected[]; pids: Set<number> }> {
  const security = fakeSecurity(dir);
  const env = { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` };
  const pids = new Set<number>();
  const expected: Expected[] = [];
  const run = async (file: string, args: string[], argv0?: string): Promise<number> => {
    const pid = await runCommand(file, args, argv0 === undefined ? { env } : { argv0, env });
    pids.add(pid);
    return pid;
  };

  const catPid = await run(CAT, ['/Users/alice/Library/Keychains/login.keychain-db']);
  expected.push({ pid: catPid, args: [CAT, '/Users/alice/Library/Keychains/login.keychain-db'], executable: CAT, parentExecutable: NODE, parentPid: process.pid });

  const dumpPid = await run(security, ['dump-keychain', '-d', 'login.keychain'], 'security');
  expected.push({ pid: dumpPid, args: ['security', 'dump-keychain', '-d', 'login.keychain'], executable: security, parentExecutable: NODE, parentPid: process.pid });

  // Benign: Elastic's exclusions, and a cat of something else.
  await run(security, ['find-certificate', '-a', '/Library/Keychains/System.keychain'], 'security');
  await run(CAT, ['/etc/hostname']);
  await run(SH, ['-c', 'security find-certificate -a /Library/Keychains/System.keychain; true']);

  // Wrappers: sh forks cat (the alert's parent is sh) / sh execs cat (same pid, parent node).
  const shPid = await run(SH, ['-c', 'cat /Users/bob/Library/Keychains/login.keychain-db 2>/dev/null; true']);
  expected.push({ pid: -1, args: ['cat', '/Users/bob/Library/Keychains/login.keychain-db'], executable: CAT, parentExecutable: SH, parentPid: shPid });
  const execPid = await run(SH, ['-c', 'exec cat /Users/carol/Library/Keychains/login.keychain-db 2>/dev/null']);
  expected.push({ pid: execPid, args: ['cat', '/Users/carol/Library/Keychains/login.keychain-db'], executable: CAT, parentExecutable: NODE, parentPid: process.pid });
  const viaPath = await run(SH, ['-c', 'security dump-keychain -d login.keychain; true']);
  expected.push({ pid: -1, args: ['security', 'dump-keychain', '-d', 'login.keychain'], executable: security, parentExecutable: SH, parentPid: viaPath });
  return { expected, pids };
}

/** Alerts raised by the scenario's process trees (the machine is shared: others exec too). */
function ours(alerts: Array<Record<string, any>>, pids: Set<number>): Array<Record<string, any>> {
  return alerts.filter((a) => pids.has(a.process?.pid) || pids.has(a.process?.parent?.pid));
}

function summary(a: Record<string, any>): Expected {
  return { pid: a.process.pid, args: a.process.args, executable: a.process.executable, parentExecutable: a.process.parent?.executable, parentPid: a.process.parent?.pid };
}

function assertAlerts(alerts: Array<Record<string, any>>, expected: Expected[]): void {
  const got = alerts.map(summary);
  const key = (e: Expected): string => JSON.stringify([e.args, e.parentExecutable]);
  assert.deepEqual(got.map(key).sort(), expected.map(key).sort(), `alerts: ${JSON.stringify(got, null, 1)}`);
  for (const e of expected) {
    const g = got.find((x) => key(x) === key(e)) as Expected;
    if (e.pid !== -1) assert.equal(g.pid, e.pid, `pid of ${key(e)}`);
    assert.equal(g.executable, e.executable, `executable of ${key(e)}`);
    assert.equal(g.parentExecutable, e.parentExecutable, `parent executable of ${key(e)}`);
    assert.equal(g.parentPid, e.parentPid, `parent pid of ${key(e)}`);
  }
  for (const a of alerts) assert.equal(a.rule.name, 'Access to Keychain Credentials Directories');
}

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 500));
}

describe('keysentry run: live alerts on real processes (root)', function () {
  this.timeout(120_000);
  let agent: CliChild | undefined;
  before(function () {
    if (!isRoot) this.skip();
  });
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
  });

  it('raises exactly the expected alerts, with pid, args, executable and parent executable', async () => {
    const dir = tempDir('ks-live-');
    agent = startCli(['run', '--source', 'audit', '--rules', DEFAULT_RULES]);
    await agent.waitForStderr(/ready \(pid \d+, source native:audit\)/);
    const { expected, pids } = await scenario(dir);
    await settle();
    assert.equal(await agent.stop(), 0, agent.stderr());
    const alerts = parseJsonLines(agent.stdout());
    assertAlerts(ours(alerts, pids), expected);
    assert.match(agent.stderr(), /stopped: \d+ events, \d+ alerts, 0 rejected, 0 lost/);
  });

  it('SIGHUP with a broken rule file keeps the rules in force and says why', async () => {
    const dir = tempDir('ks-reload-');
    const rules = path.join(dir, 'rules');
    fs.mkdirSync(rules);
    for (const f of fs.readdirSync(DEFAULT_RULES)) fs.copyFileSync(path.join(DEFAULT_RULES, f), path.join(rules, f));
    agent = startCli(['run', '--source', 'audit', '--rules', rules]);
    await agent.waitForStderr(/ready/);
    const broken = ['[rule]', 'rule_id = "3c1e3a4e-0000-4000-8000-000000000001"', 'name = "broken"', 'description = "x"', 'severity = "high"', 'risk_score = 73', 'type = "eql"', 'language = "eql"', "query = '''", 'process where process.name == ', "'''", ''];
    fs.writeFileSync(path.join(rules, 'broken.toml'), broken.join('\n'));
    agent.child.kill('SIGHUP');
    await agent.waitForStderr(/rule reload failed, keeping the 1 rules in force: .*broken\.toml:\d+/);
    const pid = await runCommand(CAT, ['/Users/dave/Library/Keychains/login.keychain-db']);
    fs.rmSync(path.join(rules, 'broken.toml'));
    agent.child.kill('SIGHUP');
    await agent.waitForStderr(/rules reloaded: 1 rules/);
    await settle();
    await agent.stop();
    const alerts = parseJsonLines(agent.stdout()).filter((a) => a.process.pid === pid);
    assert.equal(alerts.length, 1, agent.stderr());
  });

  it('keysentry record, replayed, raises the alerts the live agent raised', async () => {
    const dir = tempDir('ks-record-');
    const file = path.join(dir, 'live.jsonl');
    agent = startCli(['run', '--source', 'audit', '--rules', DEFAULT_RULES]);
    const recorder = startCli(['record', '-o', file, '--source', 'audit']);
    try {
      await agent.waitForStderr(/ready/);
      await recorder.waitForStderr(/recording native:audit/);
      const { expected, pids } = await scenario(dir);
      await settle();
      assert.equal(await recorder.stop(), 0, recorder.stderr());
      await agent.stop();
      const live = ours(parseJsonLines(agent.stdout()), pids);
      assertAlerts(live, expected);
      const replayed = await runKeysentry(['replay', file, '--rules', DEFAULT_RULES]);
      assert.equal(replayed.status, 0, replayed.stderr);
      const fromRecording = ours(replayed.docs, pids);
      assert.deepEqual(fromRecording.map(summary).sort(byArgs), live.map(summary).sort(byArgs));
      assert.deepEqual(fromRecording.map((a) => a.rule.id), live.map((a) => a.rule.id));
    } finally {
      await recorder.stop();
    }
  });
});

function byArgs(a: Expected, b: Expected): number {
  return JSON.stringify(a.args) < JSON.stringify(b.args) ? -1 : 1;
}
