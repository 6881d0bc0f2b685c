/**
 * The web console end to end: a real collector on loopback, a real agent reporter sending
 * alerts built by the real rule engine, and Debian's Chromium driven by playwright-core.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildAlert } from '../src/alerts/alert';
import type { AlertDocument } from '../src/alerts/types';
import { consolePlugin, CONTENT_SECURITY_POLICY } from '../src/collector/console';
import { startCollector, type Collector } from '../src/collector/server';
import { generateToken, TokenSet } from '../src/collector/tokens';
import { Reporter } from '../src/delivery/reporter';
import type { EcsDocument } from '../src/model/ecs';
import { loadDefaultRuleSet } from '../src/rules';
import { REPO_ROOT } from './support/paths';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = path.join(REPO_ROOT, 'docs', 'screenshots');
const AGENT = { name: 'keysentry', version: 'test', id: 'agent-console-1' };

function execEvent(host: string, args: string[], parentExecutable: string): EcsDocument {
  const executable = args[0] as string;
  return {
    '@timestamp': new Date().toISOString(),
    event: { kind: 'event', category: ['process'], type: ['start'], action: 'exec', id: `${host}-${args.join('-').length}-${Math.random()}` },
    host: { hostname: host, os: { type: 'macos' } },
    process: {
      pid: 4242,
      entity_id: `e-${Math.random()}`,
      executable,
      name: path.basename(executable),
      args,
      args_count: args.length,
      command_line: args.join(' '),
      working_directory: '/Users/alice',
      code_signature: { exists: true, trusted: false, signing_id: 'com.example.tool' },
      parent: { pid: 4000, executable: parentExecutable, name: path.basename(parentExecutable), command_line: parentExecutable },
      Ext: { effective_parent: { executable: '/Applications/Terminal.app/Contents/MacOS/Terminal', name: 'Terminal', pid: 900 } },
    },
    user: { id: '501', name: 'alice' },
  };
}

/** An alert exactly as the agent raises it: the event through the bundled default rule. */
function alertFor(event: EcsDocument): AlertDocument {
  const rules = loadDefaultRuleSet({ withPack: false });
  const [rule] = rules.evaluate(event);
  assert.ok(rule, `the default rule should fire on ${JSON.stringify((event.process as { args: string[] }).args)}`);
  return buildAlert(event, rule, AGENT);
}

function get(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      })
      .on('error', reject);
  });
}

describe('web console (Chromium)', function () {
  this.timeout(120_000);
  let dir: string;
  let token: string;
  let collector: Collector;
  let reporter: Reporter;
  let browser: Browser;
  let page: Page;
  let base: string;

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-console-'));
    token = generateToken();
    const tokens = TokenSet.fromTokens([{ token, name: 'soc' }]);
    collector = await startCollector({ port: 0, db: path.join(dir, 'alerts.db'), tokens, plugins: [consolePlugin({ tokens, silentAfterMs: 60_000 })] });
    base = `http://127.0.0.1:${collector.port}/console`;
    reporter = await Reporter.start({ url: collector.url, token, agent: AGENT, stateDir: path.join(dir, 'agent'), health: () => ({ events_per_second: 12, events_lost: 0 }), healthIntervalMs: 200 });
    // An agent that reported long ago and went quiet: the fleet view must flag it.
    collector.store.agentSeen({ id: 'agent-gone-quiet', name: 'mbp-lost', version: '0.1.0' }, 'soc', '127.0.0.1');
    collector.store.recordHealth('agent-gone-quiet', new Date(Date.now() - 3_600_000).toISOString(), { events_per_second: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await reporter?.close();
    await collector?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses pages and data without authentication', async () => {
    const pageRes = await get(`${base}/`);
    assert.equal(pageRes.status, 303);
    assert.equal(pageRes.headers.location, '/console/login');
    assert.equal((await get(`${base}/api/alerts`)).status, 401);
    assert.equal((await get(`${base}/api/alerts`, { Cookie: 'ks_console=forged-session-value' })).status, 401);
    assert.equal((await get(`${base}/api/live`)).status, 401);
    await page.goto(`${base}/`);
    assert.equal(new URL(page.url()).pathname, '/console/login');
    await page.fill('#token', 'not-the-token-at-all');
    await page.click('#login');
    await page.waitForURL(/\/console\/login\?failed=1$/);
  });

  it('logs in with a token and shows an alert a test agent just sent, without reload', async () => {
    await page.goto(`${base}/login`);
    await page.fill('#token', token);
    await page.click('#login');
    await page.waitForURL(`${base}/`);
    await page.waitForSelector('#live-state.on');
    let navigations = 0;
    page.on('framenavigated', () => navigations++);
    await reporter.write(alertFor(execEvent('mbp-alice', ['/usr/bin/security', 'dump-keychain', '-d', 'login.keychain'], '/bin/zsh')));
    const row = page.locator('#alert-rows tr', { hasText: 'dump-keychain' });
    await row.waitFor({ timeout: 15_000 });
    assert.match(await row.innerText(), /Access to Keychain Credentials Directories/);
    assert.match(await row.innerText(), /mbp-alice/);
    assert.equal(navigations, 0, 'the alert arrived without a reload');
  });

  it('renders attacker-controlled HTML in an alert as text and runs none of it', async () => {
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const hostile = ['/tmp/<script>window.__pwned=1</script>', '<img src=x onerror="window.__pwned=2">', '/Users/bob/Library/Keychains/login.keychain-db'];
    await reporter.write(alertFor(execEvent('<b>evil-host</b>', hostile, '/tmp/<svg onload=alert(1)>')));
    const row = page.locator('#alert-rows tr', { hasText: 'onerror' });
    await row.waitFor({ timeout: 15_000 });
    assert.match(await row.innerText(), /<script>window\.__pwned=1<\/script>/);
    await row.click();
    await page.waitForSelector('#detail:not([hidden])');
    const detail = await page.locator('#detail-body').innerText();
    assert.match(detail, /<img src=x onerror="window.__pwned=2">/);
    assert.match(detail, /\/tmp\/<svg onload=alert\(1\)>/);
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.equal(await page.locator('#alert-rows script, #detail-body script, #detail-body img, #detail-body svg').count(), 0);
    assert.deepEqual(dialogs, []);
    const headers = (await page.request.get(`${base}/`)).headers();
    assert.equal(headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval/);
  });

  it('filters by host and rule, and opens an alert with its process tree and MITRE technique', async () => {
    await reporter.write(alertFor(execEvent('mbp-carol', ['/bin/cat', '/Users/carol/Library/Keychains/login.keychain-db'], '/bin/bash')));
    await page.locator('#alert-rows tr', { hasText: 'carol' }).waitFor({ timeout: 15_000 });
    await page.locator('#filter-host option', { hasText: 'mbp-carol' }).waitFor({ state: 'attached' });
    await page.selectOption('#filter-host', 'mbp-carol');
    await page.waitForFunction(() => document.querySelectorAll('#alert-rows tr').length === 1);
    assert.match(await page.locator('#alert-rows').innerText(), /mbp-carol/);
    await page.selectOption('#filter-host', '');
    await page.waitForFunction(() => document.querySelectorAll('#alert-rows tr').length === 3);
    await page.selectOption('#filter-rule', 'Access to Keychain Credentials Directories');
    await page.waitForFunction(() => document.querySelectorAll('#alert-rows tr').length === 3);
    await page.selectOption('#filter-severity', 'high');
    await page.waitForFunction(() => document.querySelectorAll('#alert-rows tr').length === 3);

    await page.locator('#alert-rows tr', { hasText: 'carol' }).click();
    await page.waitForSelector('#detail:not([hidden])');
    const detail = await page.locator('#detail-body').innerText();
    assert.match(detail, /effective parent[\s\S]*Terminal[\s\S]*parent[\s\S]*\/bin\/bash[\s\S]*process[\s\S]*\/bin\/cat/i);
    assert.match(detail, /\/Users\/carol\/Library\/Keychains\/login\.keychain-db/);
    assert.match(detail, /tactic: TA0006 Credential Access/);
    assert.match(detail, /technique: T1555 Credentials from Password Stores/);
    assert.match(detail, /subtechnique: T1555\.001 Keychain/);
    assert.match(detail, /com\.example\.tool/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-detail.png'), fullPage: true });
  });

  it('charts alerts per hour by rule and shows fleet health with silent agents flagged', async () => {
    await page.waitForFunction(() => document.getElementById('chart')?.getAttribute('data-total') === '3');
    assert.ok((await page.locator('#chart rect').count()) >= 1);
    assert.match(await page.locator('#legend').innerText(), /Access to Keychain Credentials Directories \(3\)/);
    await page.waitForFunction(() => /12/.test(document.getElementById('agent-rows')?.textContent ?? ''), undefined, { timeout: 15_000 });
    const silent = page.locator('#agent-rows tr.silent');
    assert.equal(await silent.count(), 1);
    assert.match(await silent.innerText(), /mbp-lost/);
    assert.equal(await page.locator('#agent-rows tr:not(.silent)', { hasText: 'keysentry' }).count(), 1);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-overview.png'), fullPage: true });
  });
});
