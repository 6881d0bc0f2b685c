import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import WebSocket from 'ws';
import { startCollector } from '../src/collector/server';
import { AlertReader } from '../src/collector/store';
import { TokenSet } from '../src/collector/tokens';
import { Reporter } from '../src/delivery/reporter';
import { AGENT_PATH } from '../src/delivery/protocol';
import { freePort, startCollectorProcess, storedIndices, range, tempDir, TOKEN, writeTokenFile, type Child } from './support/delivery-harness';
import { testAlert } from './support/delivery-agent';
import { REPO_ROOT } from './support/paths';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

/** The HTTP status the collector answers an upgrade request with. */
function upgradeStatus(port: number, headers: Record<string, string>, urlPath = AGENT_PATH): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ port, host: '127.0.0.1', path: urlPath, headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers } });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens an authenticated websocket, runs `act`, and resolves with the close code and reason. */
function closedWith(port: number, act: (ws: WebSocket) => void): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${AGENT_PATH}`, { headers: { Authorization: `Bearer ${TOKEN}` }, maxPayload: 1 << 20 });
    ws.on('open', () => act(ws));
    ws.on('error', () => undefined);
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    setTimeout(() => reject(new Error('connection was not closed')), 15_000).unref();
  });
}

const hello = (agentId = 'rogue'): string => JSON.stringify({ type: 'hello', protocol: 1, agent: { id: agentId, name: agentId, version: '1' }, stream: 's1', lastSeq: 0 });

async function deliverGood(url: string, dir: string, agentId: string, n: number): Promise<void> {
  const reporter = await Reporter.start({ url, token: TOKEN, agent: { id: agentId, name: agentId, version: 't' }, stateDir: path.join(dir, agentId) });
  for (let i = 0; i < n; i++) await reporter.write(testAlert(i, agentId));
  await reporter.drained();
  await reporter.close();
}

describe('collector under abuse (real collector process)', function () {
  this.timeout(60_000);
  let collector: Child;
  let port: number;
  let dir: string;
  let db: string;

  before(async () => {
    dir = tempDir('abuse');
    port = await freePort();
    db = path.join(dir, 'collector.db');
    collector = await startCollectorProcess({ port, db, tokens: writeTokenFile(dir) });
  });
  after(async () => {
    await collector.kill();
  });

  it('answers 401 to a missing, wrong or non-Bearer token, and 404 off the agent path', async () => {
    assert.equal(await upgradeStatus(port, {}), 401);
    assert.equal(await upgradeStatus(port, { Authorization: 'Bearer wrong-token-but-long-enough' }), 401);
    assert.equal(await upgradeStatus(port, { Authorization: `Bearer ${TOKEN}x` }), 401);
    assert.equal(await upgradeStatus(port, { Authorization: `Basic ${Buffer.from(`a:${TOKEN}`).toString('base64')}` }), 401);
    assert.equal(await upgradeStatus(port, { Authorization: `Bearer ${TOKEN}` }, '/elsewhere'), 404);
    assert.equal(await upgradeStatus(port, { Authorization: `Bearer ${TOKEN}` }), 101);
  });

  it('closes connections that send garbage, oversized frames, binary, messages before hello, jumps, or floods', async () => {
    assert.equal((await closedWith(port, (ws) => ws.send('{not json'))).code, 1007);
    assert.equal((await closedWith(port, (ws) => ws.send(Buffer.from([1, 2, 3]), { binary: true }))).code, 1007);
    assert.equal((await closedWith(port, (ws) => ws.send(JSON.stringify({ type: 'alerts', first: 1, alerts: [{}] })))).code, 1002);
    assert.equal((await closedWith(port, (ws) => ws.send('x'.repeat(5 * 1024 * 1024)))).code, 1009);
    const jump = await closedWith(port, (ws) => {
      ws.send(hello());
      ws.send(JSON.stringify({ type: 'alerts', first: 50, alerts: [{ a: 1 }] }));
    });
    assert.equal(jump.code, 1008);
    assert.match(jump.reason, /no gap explains/);
    const badGap = await closedWith(port, (ws) => {
      ws.send(hello());
      ws.send(JSON.stringify({ type: 'gap', from: 1, to: 10, count: 3, reason: 'spool-full' }));
    });
    assert.equal(badGap.code, 1008);
    const flood = await closedWith(port, (ws) => {
      ws.send(hello());
      for (let i = 0; i < 5000; i++) ws.send(JSON.stringify({ type: 'health', at: 'now', stats: { i } }));
    });
    assert.deepEqual(flood, { code: 1008, reason: 'rate limit exceeded' });
    // Reasons quote agent input: a multi-byte field name must not make the close itself fail.
    const wide = await closedWith(port, (ws) => {
      ws.send(hello());
      ws.send(JSON.stringify({ type: 'health', at: 'now', stats: { ['鍵'.repeat(80)]: { nested: true } } }));
    });
    assert.equal(wide.code, 1008);
    assert.ok(Buffer.byteLength(wide.reason) <= 123 && !wide.reason.includes('\ufffd'), wide.reason);
    // A frame that breaks RFC 6455 itself (reserved bits set, unmasked).
    const raw = await closedWith(port, (ws) => (ws as unknown as { _socket: net.Socket })._socket.write(Buffer.from([0xff, 0x05, 1, 2, 3, 4, 5])));
    assert.ok(raw.code >= 1000, `closed ${raw.code}`);
  });

  it('keeps an agent with a wrong token retrying with backoff, its alerts safe in the spool, the reason in its stats', async () => {
    const reporter = await Reporter.start({
      url: `ws://127.0.0.1:${port}`,
      token: 'not-the-right-token-at-all',
      agent: { id: 'wrong-token', name: 'w', version: 't' },
      stateDir: path.join(dir, 'wrong-token'),
      backoffInitialMs: 50,
      backoffMaxMs: 100,
    });
    await reporter.write(testAlert(0, 'wrong-token'));
    await new Promise((r) => setTimeout(r, 600));
    const stats = reporter.stats();
    await reporter.close();
    assert.equal(stats.connected, false);
    assert.match(stats.lastError ?? '', /HTTP 401/);
    assert.equal(stats.spool.depth, 1);
    assert.deepEqual(storedIndices(db, 'wrong-token').indices, []);
  });

  it('survives 1,000 connections opened and dropped at every stage, and keeps serving good agents', async () => {
    const stages = [
      (s: net.Socket) => s.destroy(),
      (s: net.Socket) => s.end('GET /v1/agent HTTP/1.1\r\nHost: x\r\n'),
      (s: net.Socket) => s.end(`GET ${AGENT_PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`),
      (s: net.Socket) => s.end(Buffer.alloc(4096, 0xa5)),
    ];
    for (let wave = 0; wave < 4; wave++) {
      await Promise.all(
        range(0, 250).map(
          (i) =>
            new Promise<void>((resolve) => {
              const s = net.connect(port, '127.0.0.1', () => (stages[(i + wave) % stages.length] as (s: net.Socket) => void)(s));
              s.on('error', () => resolve());
              s.on('close', () => resolve());
              setTimeout(() => s.destroy(), 300).unref();
            }),
        ),
      );
    }
    assert.ok(collector.alive, `collector died: ${collector.stderr}`);
    await deliverGood(`ws://127.0.0.1:${port}`, dir, 'good-agent', 200);
    assert.deepEqual(storedIndices(db, 'good-agent').indices, range(0, 200));
    const reader = new AlertReader(db);
    const health = reader.agentHealth('good-agent');
    reader.close();
    assert.equal(typeof health?.health?.spool_depth, 'number', 'the heartbeat reached the store');
    assert.ok(collector.alive);
  });
});

describe('collector configuration and TLS', function () {
  this.timeout(60_000);

  it('takes a rotated token file on SIGHUP for new connections, and keeps the old tokens when the new file is bad', async () => {
    const dir = tempDir('rotate');
    const port = await freePort();
    const file = writeTokenFile(dir, ['old-token-0123456789 fleet']);
    const collector = await startCollectorProcess({ port, db: path.join(dir, 'c.db'), tokens: file });
    try {
      const status = (token: string) => upgradeStatus(port, { Authorization: `Bearer ${token}` });
      assert.equal(await status('old-token-0123456789'), 101);
      fs.writeFileSync(file, 'new-token-0123456789 fleet\n');
      collector.proc.kill('SIGHUP');
      for (let waited = 0; (await status('new-token-0123456789')) !== 101 && waited < 5000; waited += 100) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await status('new-token-0123456789'), 101);
      assert.equal(await status('old-token-0123456789'), 401);
      fs.writeFileSync(file, 'short\n');
      collector.proc.kill('SIGHUP');
      for (let waited = 0; !collector.stderr.includes('not reloaded') && waited < 5000; waited += 100) await new Promise((r) => setTimeout(r, 100));
      assert.match(collector.stderr, /token file not reloaded, keeping the previous tokens: .*token is shorter/);
      assert.equal(await status('new-token-0123456789'), 101);
    } finally {
      await collector.kill();
    }
  });

  it('refuses a token file others can read, a short token, and no --tokens, naming the file and line', () => {
    const dir = tempDir('tokens');
    const open = path.join(dir, 'open');
    fs.writeFileSync(open, `${TOKEN}\n`, { mode: 0o644 });
    fs.chmodSync(open, 0o644);
    const short = path.join(dir, 'short');
    fs.writeFileSync(short, `# fleet\n${TOKEN} laptops\nshort\n`, { mode: 0o600 });
    const runCollector = (args: string[]) => spawnSync(process.execPath, [CLI, 'collector', '--listen', '127.0.0.1:0', '--db', path.join(dir, 'db'), ...args], { encoding: 'utf8' });
    const r1 = runCollector(['--tokens', open]);
    assert.equal(r1.status, 2);
    assert.match(r1.stderr, /accessible to other users.*chmod 600/);
    const r2 = runCollector(['--tokens', short]);
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /short:3: token is shorter than 16/);
    assert.equal(runCollector([]).status, 2);
    const set = TokenSet.load(writeTokenFile(dir, [`${TOKEN} laptops`, 'another-token-abcdefgh']));
    assert.equal(set.verify(TOKEN), 'laptops');
    assert.equal(set.verify('another-token-abcdefgh'), 'line-3');
    assert.equal(set.verify(`${TOKEN} `), null);
  });

  it('serves wss:// with certificate verification on by default, and requires client certificates with a client CA', async () => {
    const dir = tempDir('tls');
    const pem = (name: string) => path.join(dir, name);
    const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=keysentry test CA', '-keyout', 'ca.key', '-out', 'ca.pem']);
    for (const who of ['server', 'client']) {
      ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${who === 'server' ? 'localhost' : 'agent-1'}`, '-keyout', `${who}.key`, '-out', `${who}.csr`]);
      fs.writeFileSync(pem(`${who}.ext`), who === 'server' ? 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' : 'extendedKeyUsage=clientAuth\n');
      ssl(['x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${who}.ext`, '-out', `${who}.pem`]);
    }
    const read = (n: string) => fs.readFileSync(pem(n));
    const tokens = TokenSet.fromTokens([{ token: TOKEN }]);
    const collector = await startCollector({ db: path.join(dir, 'c.db'), tokens, tls: { cert: read('server.pem'), key: read('server.key'), clientCa: read('ca.pem') } });
    const url = `wss://localhost:${collector.port}`;
    const attempt = async (agentId: string, tls: Parameters<typeof Reporter.start>[0]['tls']): Promise<boolean> => {
      const errors: string[] = [];
      const reporter = await Reporter.start({ url, token: TOKEN, agent: { id: agentId, name: agentId, version: 't' }, stateDir: path.join(dir, agentId), tls, log: (_l, m) => errors.push(m) });
      await reporter.write(testAlert(0, agentId));
      const ok = await Promise.race([reporter.drained().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1500))]);
      await reporter.close();
      return ok;
    };
    try {
      assert.equal(await attempt('no-ca', { cert: read('client.pem'), key: read('client.key') }), false, 'an unknown server certificate must be refused');
      assert.equal(await attempt('no-client-cert', { ca: read('ca.pem') }), false, 'a client without a certificate must be refused');
      assert.equal(await attempt('mutual', { ca: read('ca.pem'), cert: read('client.pem'), key: read('client.key') }), true);
      assert.equal(collector.store.alerts({ agentId: 'mutual' }).length, 1);
    } finally {
      await collector.close();
    }
  });

  it('keysentry alerts filters by host, rule and time and never prints control characters', async () => {
    const dir = tempDir('alerts');
    const port = await freePort();
    const db = path.join(dir, 'c.db');
    const collector = await startCollector({ port, db, tokens: TokenSet.fromTokens([{ token: TOKEN }]) });
    await deliverGood(collector.url, dir, 'agent-a', 3);
    const reporter = await Reporter.start({ url: collector.url, token: TOKEN, agent: { id: 'agent-b', name: 'b', version: 't' }, stateDir: path.join(dir, 'b') });
    await reporter.write({ '@timestamp': '2020-01-01T00:00:00.000Z', host: { hostname: 'evil\u001b[31mhost' }, rule: { name: 'Other rule', id: 'r2' }, process: { command_line: 'x\u001b]0;pwned\u0007' } });
    await reporter.drained();
    await reporter.close();
    await collector.close();
    const cli = (args: string[]) => execFileSync(process.execPath, [CLI, 'alerts', '--db', db, ...args], { encoding: 'utf8' });
    assert.equal(cli(['--json', '--host', 'host-agent-a']).trim().split('\n').length, 3);
    assert.equal(cli(['--json', '--rule', 'r2']).trim().split('\n').length, 1);
    assert.equal(cli(['--json', '--since', '1h']).trim().split('\n').length, 3);
    const table = cli([]);
    assert.equal(table.trim().split('\n').length, 5);
    assert.ok(!/[\u0000-\u0009\u000b-\u001f]/.test(table), 'no control characters but newlines');
    assert.match(table, /evil\\u001b\[31mhost/);
    const bad = spawnSync(process.execPath, [CLI, 'alerts', '--db', db, '--since', 'yesterday'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--since: expected/);
    fs.writeFileSync(path.join(dir, 'not-a-db'), 'hello\n');
    const notDb = spawnSync(process.execPath, [CLI, 'alerts', '--db', path.join(dir, 'not-a-db')], { encoding: 'utf8' });
    assert.equal(notDb.status, 1);
    assert.match(notDb.stderr, /not-a-db: not a readable keysentry collector database/);
  });
});
