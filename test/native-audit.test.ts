/**
 * The kernel audit backend against the real kernel (root): it leaves the audit
 * configuration exactly as it found it across 200 start/stop cycles, repairs what a killed
 * agent left (from the settings it saved in /run), and it coexists with
 * another audit daemon (here: a second keysentry holding the daemon channel) by reading the
 * multicast group without touching the other's rules.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NativeEventSource } from '../src/sources/native';
import { audit, configOf } from './support/audit';
import { REPO_ROOT } from './support/paths';

const isRoot = process.getuid?.() === 0;

describe('audit backend and the system audit configuration (root)', function () {
  this.timeout(120_000);
  before(function () {
    if (!isRoot) this.skip();
    // Another agent (a concurrent test, a running service) owning audit would change what we compare.
    if (audit().pid !== 0 || audit().keysentryRules !== 0) this.skip();
  });

  it('installs its rules and registers while running, and restores everything after 200 start/stop cycles', () => {
    const before = configOf(audit());
    for (let i = 0; i < 200; i++) {
      const source = new NativeEventSource({ backend: 'audit', keepAlive: false });
      if (i === 0) {
        const during = audit();
        assert.equal(during.pid, process.pid, 'registered as the audit daemon');
        assert.equal(during.enabled, 1);
        assert.ok((during.keysentryRules ?? 0) >= 1, 'execve rules installed');
        assert.ok(during.backlogLimit >= 8192);
      }
      source.stop();
    }
    assert.deepEqual(configOf(audit()), before);
  });

  it('after an agent is killed (SIGKILL), the next one restores what the killed one changed', async function () {
    const before = configOf(audit());
    const addonUser = path.join(REPO_ROOT, 'dist', 'src', 'sources', 'native.js');
    const victim = spawn(process.execPath, ['-e', `const { NativeEventSource } = require(${JSON.stringify(addonUser)}); new NativeEventSource({ backend: 'audit' }); console.log('up');`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => victim.stdout?.once('data', () => resolve()));
    if (audit().pid !== victim.pid) {
      victim.kill('SIGKILL');
      this.skip();
    }
    victim.kill('SIGKILL');
    await new Promise((r) => victim.once('exit', r));
    assert.ok((audit().keysentryRules ?? 0) >= 1, 'the killed agent left its rules');
    const next = new NativeEventSource({ backend: 'audit', keepAlive: false });
    next.stop();
    assert.deepEqual(configOf(audit()), before);
    assert.equal(fs.existsSync('/run/keysentry-audit.saved'), false);
  });

  it('reads beside another audit daemon through the multicast group and leaves its rules alone', async function () {
    const before = configOf(audit());
    const addonUser = path.join(REPO_ROOT, 'dist', 'src', 'sources', 'native.js');
    const other = spawn(
      process.execPath,
      ['-e', `const { NativeEventSource } = require(${JSON.stringify(addonUser)}); const s = new NativeEventSource({ backend: 'audit' }); console.log('up'); process.on('SIGTERM', () => s.stop());`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve) => other.stdout?.once('data', () => resolve()));
      // The machine is shared: an agent started meanwhile by someone else would hold it.
      if (audit().pid !== other.pid) this.skip();
      const rulesOfOther = audit().keysentryRules;

      const tag = `ks-multicast-${process.pid}`;
      const source = new NativeEventSource({ backend: 'audit' });
      const seen: string[][] = [];
      const reading = (async () => {
        for await (const batch of source.batches()) {
          for (const item of batch) if (item.kind === 'record' && item.record.kind === 'exec' && item.record.args[1] === tag) seen.push(item.record.args);
        }
      })();
      await new Promise<void>((resolve) => spawn('/bin/true', [tag, 'a b'], { stdio: 'ignore' }).once('exit', () => resolve()));
      const deadline = Date.now() + 3000;
      while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await source.stop();
      await reading;
      assert.deepEqual(seen, [['/bin/true', tag, 'a b']]);
      assert.equal(audit().pid, other.pid, 'the other daemon still owns the channel');
      assert.equal(audit().keysentryRules, rulesOfOther, "the other daemon's rules are untouched");
    } finally {
      other.kill('SIGTERM');
      await new Promise((r) => other.once('exit', r));
    }
    assert.deepEqual(configOf(audit()), before);
  });
});
