/**
 * The Linux service end to end, as systemd would run it: install into a temporary root, run
 * the installed unit's ExecStart as a background child (root, cwd /, systemd's PATH) that
 * delivers to a real collector, exec a keychain-theft command, see the alert through
 * `keysentry status`, alerts.log and the collector's store, reload with SIGHUP, stop it with
 * SIGTERM as systemd does, uninstall, and find the tree as it was before.
 */
import { strict as assert } from 'node:assert';
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { AgentStatus } from '../src/status';
import { REPO_ROOT } from './support/paths';
import { snapshotTree } from './support/tree';

const execFileAsync = promisify(execFile);
const SCRIPTS = path.join(REPO_ROOT, 'scripts');
const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The unit's [Service] keys (last assignment wins, as systemd reads it). */
function unitKeys(file: string): Map<string, string> {
  const keys = new Map<string, string>();
  let section = '';
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) section = line;
    else if (section === '[Service]') keys.set(line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1));
  }
  return keys;
}

async function status(launcher: string, config: string): Promise<{ code: number; doc: AgentStatus & { running: boolean } }> {
  try {
    const { stdout } = await execFileAsync(launcher, ['status', '--config', config, '--json']);
    return { code: 0, doc: JSON.parse(stdout) as AgentStatus & { running: boolean } };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    if (failed.stdout.trim() === '') assert.fail(`keysentry status exited ${failed.code}: ${failed.stderr}`);
    return { code: failed.code, doc: JSON.parse(failed.stdout) as AgentStatus & { running: boolean } };
  }
}

/** Polls `probe` until it gives a value; fails at once when the agent has exited. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, agent: ChildProcess, output: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (agent.exitCode !== null || agent.signalCode !== null) assert.fail(`the agent exited (${agent.exitCode ?? agent.signalCode}) while waiting for ${what}:\n${output()}`);
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; agent output:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('daemon: Linux service end to end', function () {
  this.timeout(120_000);
  let root: string;
  let agent: ChildProcess | undefined;
  let collector: ChildProcess | undefined;
  let collectorDir: string | undefined;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'keysentry-service-'));
  });
  after(() => {
    for (const child of [agent, collector]) if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    if (collectorDir !== undefined) fs.rmSync(collectorDir, { recursive: true, force: true });
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('installs, runs the unit as systemd would, alerts, reports status, stops, uninstalls to nothing', async () => {
    for (const system of ['opt', 'etc/systemd/system', 'var/lib', 'var/log', 'run']) fs.mkdirSync(path.join(root, system), { recursive: true });
    const before = snapshotTree(root);
    const env = { ...process.env, ROOT: root, SYSTEMCTL: 'none' };
    execFileSync('bash', [path.join(SCRIPTS, 'install-linux.sh')], { env, stdio: 'pipe' });

    const unit = path.join(root, 'etc', 'systemd', 'system', 'keysentry.service');
    if (spawnSync('sh', ['-c', 'command -v systemd-analyze']).status === 0) {
      const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
      assert.equal(verify.status, 0, `systemd-analyze verify: ${verify.stderr}`);
      // An unknown or misspelt key is only a warning (exit 0): any output at all is a failure.
      assert.equal(verify.stderr + verify.stdout, '', 'systemd-analyze verify is silent');
    }
    const service = unitKeys(unit);
    assert.equal(service.get('Restart'), 'on-failure');
    for (const capability of ['CAP_AUDIT_CONTROL', 'CAP_AUDIT_READ']) assert.ok(service.get('CapabilityBoundingSet')?.includes(capability));
    const execStart = (service.get('ExecStart') ?? '').split(' ');
    const [launcher, , , config] = execStart;
    assert.deepEqual(execStart, [path.join(root, 'opt', 'keysentry', 'bin', 'keysentry'), 'run', '--config', path.join(root, 'etc', 'keysentry', 'config.toml')]);

    // The installed service refuses a config someone besides root could have changed.
    fs.chmodSync(config, 0o664);
    const refused = spawnSync(launcher, execStart.slice(1), { cwd: '/', env: { PATH: SYSTEMD_PATH }, encoding: 'utf8' });
    assert.notEqual(refused.status, 0);
    assert.ok(refused.stderr.includes(`${config}: refusing to use it: it is writable by group (mode 0664)`), refused.stderr);
    fs.chmodSync(config, 0o644);

    // A collector to deliver to (the site's, not part of the install), and the agent's token.
    collectorDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keysentry-service-collector-'));
    const token = `ks-e2e-${randomBytes(16).toString('hex')}`;
    const tokens = path.join(collectorDir, 'tokens');
    fs.writeFileSync(tokens, `${token} e2e-agent\n`, { mode: 0o600 });
    const collectorDb = path.join(collectorDir, 'collector.db');
    collector = spawn(launcher, ['collector', '--listen', '127.0.0.1:0', '--db', collectorDb, '--tokens', tokens], { stdio: ['ignore', 'pipe', 'pipe'] });
    const collectorUrl = await new Promise<string>((resolve, reject) => {
      let said = '';
      collector?.stdout?.on('data', (chunk: Buffer) => {
        said += chunk.toString();
        const url = /listening on (ws:\/\/\S+)/.exec(said);
        if (url !== null) resolve(url[1]);
      });
      collector?.once('exit', (code) => reject(new Error(`the collector exited (${code}): ${said}`)));
    });
    const tokenFile = path.join(root, 'etc', 'keysentry', 'token');
    fs.appendFileSync(config, `\n[delivery]\nurl = "${collectorUrl}"\ntoken_file = "${tokenFile}"\n`);
    // A token file left empty is the admin's mistake: one clear line, not a crash.
    fs.writeFileSync(tokenFile, '', { mode: 0o600 });
    const empty = spawnSync(launcher, execStart.slice(1), { cwd: '/', env: { PATH: SYSTEMD_PATH }, encoding: 'utf8' });
    assert.notEqual(empty.status, 0);
    assert.equal(empty.stderr, `keysentry run: ${tokenFile}: the token file is empty\n`);
    fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });

    const logDir = path.join(root, 'var', 'log', 'keysentry');
    let printed = '';
    const output = () => {
      const log = fs.existsSync(path.join(logDir, 'keysentry.log')) ? fs.readFileSync(path.join(logDir, 'keysentry.log'), 'utf8') : '(no keysentry.log)';
      return `${printed}\n--- keysentry.log ---\n${log}`;
    };
    agent = spawn(execStart[0], execStart.slice(1), { cwd: '/', env: { PATH: SYSTEMD_PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    agent.stdout?.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    agent.stderr?.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => agent?.once('exit', (code) => resolve(code)));

    const running = await waitFor('the agent to answer on its status socket', async () => {
      const answer = await status(launcher, config);
      return answer.code === 0 ? answer.doc : undefined;
    }, 30_000, agent, output);
    assert.equal(running.running, true);
    assert.equal(running.pid, agent.pid);
    assert.ok(running.rulesLoaded >= 1, 'rules are loaded');
    assert.ok(['audit', 'connector'].includes(running.source), `live source, got ${running.source}`);
    const socket = path.join(root, 'run', 'keysentry', 'status.sock');
    assert.equal(fs.statSync(socket).mode & 0o777, 0o600);

    // A keychain theft: a tool named like Apple's, dumping a user's login keychain. It stays
    // alive a moment so a source that reads argv from /proc sees it too.
    const tools = fs.mkdtempSync(path.join(os.tmpdir(), 'keysentry-tools-'));
    fs.writeFileSync(path.join(tools, 'security'), '#!/bin/sh\nsleep 1\n', { mode: 0o755 });
    execFileSync(path.join(tools, 'security'), ['dump-keychain', '-d', '/Users/victim/Library/Keychains/login.keychain-db']);
    fs.rmSync(tools, { recursive: true });

    const alerted = await waitFor('the alert to show in keysentry status', async () => {
      const answer = await status(launcher, config);
      return answer.code === 0 && answer.doc.alerts.total >= 1 ? answer.doc : undefined;
    }, 30_000, agent, output);
    assert.ok(alerted.events.total >= 1);
    assert.notEqual(alerted.alerts.last, null);
    const delivered = await waitFor('the delivery to the collector', async () => {
      const answer = await status(launcher, config);
      return answer.code === 0 && answer.doc.delivery.lastDelivery !== null ? answer.doc : undefined;
    }, 30_000, agent, output);
    assert.equal(delivered.delivery.url, collectorUrl);
    assert.equal(delivered.spool.depth, 0);
    const stored = execFileSync(launcher, ['alerts', '--db', collectorDb, '--json'], { encoding: 'utf8' }).trim().split('\n');
    assert.ok(stored.some((line) => line.includes('/Users/victim/Library/Keychains/login.keychain-db')), 'the collector stored the alert');
    const alerts = fs.readFileSync(path.join(logDir, 'alerts.log'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { process?: { args?: string[] } });
    assert.ok(alerts.some((alert) => alert.process?.args?.includes('/Users/victim/Library/Keychains/login.keychain-db')), 'alerts.log holds the alert');
    const agentLog = fs.readFileSync(path.join(logDir, 'keysentry.log'), 'utf8');
    assert.ok(agentLog.split('\n').filter((line) => line !== '').every((line) => typeof (JSON.parse(line) as Record<string, unknown>)['log.level'] === 'string'));

    // systemctl reload: ExecReload sends SIGHUP; the agent reloads its rules and keeps running.
    assert.equal(service.get('ExecReload'), '/bin/kill -HUP $MAINPID');
    agent.kill('SIGHUP');
    await waitFor('the rule reload in keysentry.log', async () => (/"message":"rules reloaded: \d+ rules"/.test(fs.readFileSync(path.join(logDir, 'keysentry.log'), 'utf8')) ? true : undefined), 15_000, agent, output);
    assert.equal((await status(launcher, config)).code, 0);

    const logged = fs.readdirSync(logDir).map((name) => fs.readFileSync(path.join(logDir, name), 'utf8')).join('');
    assert.ok(!logged.includes(token), 'the token never reaches a log');

    agent.kill('SIGTERM');
    assert.equal(await exited, 0, `the agent exits cleanly on SIGTERM; output:\n${output()}`);
    collector.kill('SIGTERM');
    const stopped = await status(launcher, config);
    assert.equal(stopped.code, 3);
    assert.equal(stopped.doc.running, false);

    // Installing again is an upgrade: the program is replaced, the admin's config kept.
    const configured = fs.readFileSync(config, 'utf8');
    const again = execFileSync('bash', [path.join(SCRIPTS, 'install-linux.sh')], { env, encoding: 'utf8' });
    assert.match(again, /keeping the existing config/);
    assert.equal(fs.readFileSync(config, 'utf8'), configured);

    for (let round = 0; round < 2; round++) execFileSync('bash', [path.join(SCRIPTS, 'uninstall-linux.sh'), '--purge'], { env, stdio: 'pipe' });
    assert.deepEqual(snapshotTree(root), before, 'uninstall --purge leaves nothing behind (and a second run is a no-op)');
  });
});
