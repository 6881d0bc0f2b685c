import { strict as assert } from 'node:assert';
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { queryStatus, RateMeter, startStatusServer, StatusError, type AgentStatus } from '../src/status';
import { REPO_ROOT } from './support/paths';

const run = promisify(execFile);
const KEYSENTRY = path.join(REPO_ROOT, 'bin', 'keysentry');

function sampleStatus(): AgentStatus {
  return {
    version: '0.1.0',
    pid: process.pid,
    startedAt: '2026-01-01T00:00:00.000Z',
    uptimeSeconds: 125,
    source: 'audit',
    rulesLoaded: 3,
    configFile: '/etc/keysentry/config.toml',
    events: { total: 1200, perSecond: 42.5 },
    alerts: { total: 1, last: '2026-01-01T00:01:00.000Z' },
    drops: { source: 4, rejected: 1, spool: 0, log: 0 },
    spool: { depth: 2, bytes: 900 },
    delivery: { url: 'wss://c.example/', connected: false, lastDelivery: null, lastError: 'ECONNREFUSED' },
  };
}

async function statusCli(...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [KEYSENTRY, 'status', ...args]);
    return { code: 0, stdout };
  } catch (err) {
    const failed = err as { code: number; stdout: string };
    return { code: failed.code, stdout: failed.stdout };
  }
}

describe('daemon: status socket', () => {
  let dir: string;
  let socketPath: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keysentry-status-'));
    socketPath = path.join(dir, 'run', 'status.sock');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('answers one JSON line from a 0600 socket in a 0700 directory', async () => {
    let asked = 0;
    const server = await startStatusServer(socketPath, () => ({ ...sampleStatus(), rulesLoaded: ++asked }));
    try {
      assert.equal(fs.statSync(socketPath).mode & 0o777, 0o600);
      assert.equal(fs.statSync(path.dirname(socketPath)).mode & 0o777, 0o700);
      assert.equal((await queryStatus(socketPath)).rulesLoaded, 1);
      assert.deepEqual(await queryStatus(socketPath), { ...sampleStatus(), rulesLoaded: 2 });
    } finally {
      await server.close();
    }
    assert.equal(fs.existsSync(socketPath), false, 'close removes the socket');
  });

  it('tightens an existing socket directory to 0700', async () => {
    fs.mkdirSync(path.dirname(socketPath), { mode: 0o755 });
    const server = await startStatusServer(socketPath, sampleStatus);
    assert.equal(fs.statSync(path.dirname(socketPath)).mode & 0o777, 0o700);
    await server.close();
  });

  it('replaces a stale socket, refuses while another agent answers, refuses a non-socket', async () => {
    fs.mkdirSync(path.dirname(socketPath), { mode: 0o700 });
    const stale = net.createServer();
    await new Promise<void>((resolve) => stale.listen(socketPath, resolve));
    await assert.rejects(startStatusServer(socketPath, sampleStatus), /another keysentry agent is running/);
    await new Promise<void>((resolve) => stale.close(() => resolve()));
    fs.writeFileSync(socketPath, '');
    await assert.rejects(startStatusServer(socketPath, sampleStatus), /exists and is not a socket/);
    fs.rmSync(socketPath);
    // A crashed agent leaves its socket file behind with nobody listening.
    const crash = `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`;
    await assert.rejects(run(process.execPath, ['-e', crash]), /SIGKILL/);
    assert.ok(fs.lstatSync(socketPath).isSocket());
    const server = await startStatusServer(socketPath, sampleStatus);
    assert.equal((await queryStatus(socketPath)).source, 'audit');
    await server.close();
  });

  it('refuses a socket path longer than a unix socket can hold, saying so', async () => {
    const long = path.join(dir, 'x'.repeat(120), 'status.sock');
    await assert.rejects(startStatusServer(long, sampleStatus), /is too long for a unix socket path/);
  });

  it('reports "not running" for a missing socket', async () => {
    await assert.rejects(queryStatus(socketPath), (err: unknown) => err instanceof StatusError && err.notRunning && /does not exist/.test(err.message));
  });

  it('keysentry status prints the fields, --json the document; exit 0 running, 3 not', async () => {
    const server = await startStatusServer(socketPath, sampleStatus);
    try {
      const text = await statusCli('--socket', socketPath);
      assert.equal(text.code, 0);
      for (const expected of [/^agent: +running \(pid \d+, up 2m5s, version 0\.1\.0\)$/m, /^source: +audit$/m, /^rules loaded: 3$/m, /^events: +1200 total, 42\.5\/s$/m, /^drops: +source 4, rejected 1, spool 0, log 0$/m, /^spool: +2 alerts waiting \(900 bytes\)$/m, /^delivery: +disconnected to wss:\/\/c\.example\/; last never; last error: ECONNREFUSED$/m]) {
        assert.match(text.stdout, expected);
      }
      const json = await statusCli('--socket', socketPath, '--json');
      assert.deepEqual(JSON.parse(json.stdout), { running: true, ...sampleStatus() });
    } finally {
      await server.close();
    }
    const down = await statusCli('--socket', socketPath, '--json');
    assert.equal(down.code, 3);
    assert.equal((JSON.parse(down.stdout) as { running: boolean }).running, false);
  });

  it('tells a user who is not root to use sudo (exit 4), without answering them', async function () {
    const server = await startStatusServer(socketPath, sampleStatus);
    try {
      fs.chmodSync(dir, 0o755);
      const asNobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, KEYSENTRY, 'status', '--socket', socketPath], { encoding: 'utf8' });
      if (asNobody.error !== undefined) this.skip();
      assert.equal(asNobody.status, 4, asNobody.stderr);
      assert.equal(asNobody.stdout, `agent:        ${socketPath}: permission denied (the status socket is root-only: use sudo)\n`);
    } finally {
      await server.close();
    }
  });

  it('RateMeter gives events per second over its window', () => {
    const meter = new RateMeter(10_000);
    assert.equal(meter.perSecond(), 0);
    for (let second = 0; second <= 20; second++) meter.sample(second * 100, second * 1000);
    assert.equal(meter.perSecond(), 100);
    meter.sample(2000 + 5000, 20_500);
    assert.ok(meter.perSecond() > 100);
  });
});
