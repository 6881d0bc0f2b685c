/**
 * The audit backend keeps its kernel event feed while others touch audit (root, real kernel):
 * two agents on one machine, one stops, the other goes on alerting; rules deleted by someone
 * else (auditctl -D) and audit disabled (auditctl -e 0) are put back, counted and logged; the
 * status output says when capture is degraded. The audit configuration is as found after.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AlertSink } from '../src/alerts/types';
import { agentHeartbeat, startAgent, type AgentLogLevel, type RunningAgent } from '../src/cli/agent';
import { formatStatus } from '../src/cli/status';
import type { EcsDocument } from '../src/model/ecs';
import type { AuditDiagnostics } from '../src/sources/native';
import type { AgentStatus } from '../src/status';
import { audit, configOf } from './support/audit';
import { REPO_ROOT } from './support/paths';
import { startCli } from './support/live-agent';

const isRoot = process.getuid?.() === 0;
const AUDITCTL = path.join(REPO_ROOT, 'test', 'support', 'auditctl.py');

/** What an admin or an attacker does with auditctl; returns the rules deleted. */
function auditctl(action: 'delete-keysentry-rules' | 'disable'): number {
  return Number(execFileSync('python3', [AUDITCTL, action], { encoding: 'utf8' }).trim());
}

async function until(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Runs commands for the tests from a shell started before the agents: the agents did not see
 * it fork, so its children are not their own activity (which an agent never alerts on).
 */
class Launcher {
  private readonly shell = spawn('/bin/sh', [], { stdio: ['pipe', 'ignore', 'ignore'] });
  /** A keychain read the default rules alert on, tagged so that only ours count. */
  keychainRead(tag: string): string {
    const target = `/Users/${tag}/Library/Keychains/login.keychain-db`;
    this.shell.stdin.write(`/bin/cat ${target} 2>/dev/null\n`);
    return target;
  }
  close(): void {
    this.shell.stdin.end();
  }
}

class Alerts implements AlertSink {
  readonly all: EcsDocument[] = [];
  async write(alert: EcsDocument): Promise<void> {
    this.all.push(alert);
  }
  about(target: string): EcsDocument[] {
    return this.all.filter((a) => JSON.stringify((a as { process?: { args?: unknown } }).process?.args ?? []).includes(target));
  }
}

function startAuditAgent(): { agent: RunningAgent; alerts: Alerts; log: Array<[AgentLogLevel, string]> } {
  const alerts = new Alerts();
  const log: Array<[AgentLogLevel, string]> = [];
  const agent = startAgent({ source: 'audit', sinks: [alerts], log: (level, message) => log.push([level, message]) });
  return { agent, alerts, log };
}

describe('audit backend watchdog and rule ownership (root)', function () {
  this.timeout(120_000);
  let found: Omit<AuditDiagnostics, 'lost'>;
  let launcher: Launcher;
  beforeEach(() => (launcher = new Launcher()));
  before(function () {
    if (!isRoot) this.skip();
    // Another agent (a concurrent test, a running service) owning audit would change what we compare.
    if (audit().pid !== 0 || audit().keysentryRules !== 0) this.skip();
    found = configOf(audit());
  });
  afterEach(() => {
    launcher.close();
    if (isRoot) assert.deepEqual(configOf(audit()), found, 'audit configuration as found');
    assert.equal(fs.existsSync('/run/keysentry-audit.saved'), false);
  });

  it('a second agent goes on alerting after the first (the audit daemon) stops, and takes over as daemon', async function () {
    const first = startCli(['run', '--source', 'audit']);
    let second: ReturnType<typeof startAuditAgent> | undefined;
    try {
      await first.waitForStderr(/ready \(pid/);
      if (audit().pid !== first.child.pid) this.skip();
      second = startAuditAgent();
      const rulesOfBoth = audit().keysentryRules ?? 0;
      const both = launcher.keychainRead(`ks-both-${process.pid}`);
      await until('the second agent alerts while both run', () => second!.alerts.about(both).length > 0);
      assert.equal(await first.stop(), 0);
      assert.equal(audit().keysentryRules, rulesOfBoth / 2, "the first removed its own rules only; the second's stay");
      assert.equal(audit().enabled, 1, 'audit stays on for the second agent');

      const after = launcher.keychainRead(`ks-after-${process.pid}`);
      await until('the second agent alerts after the first stopped', () => second!.alerts.about(after).length > 0);
      const alert = second.alerts.about(after)[0] as { process: { args: string[]; executable: string } };
      assert.deepEqual(alert.process.args, ['/bin/cat', after]);
      await until('the second agent takes over as the audit daemon', () => audit().pid === process.pid);
      await until('the takeover is reported', () => second!.agent.snapshot().capture.repairs >= 1);
      assert.match(second.agent.snapshot().capture.lastRepair ?? '', /took over as the audit daemon/);
      assert.equal(second.agent.snapshot().capture.degraded, null);
    } finally {
      await first.stop();
      await second?.agent.stop();
    }
  });

  it('rules deleted by someone else (auditctl -D) are re-installed, counted, logged, and capture goes on', async () => {
    const { agent, alerts, log } = startAuditAgent();
    try {
      const rules = audit().keysentryRules ?? 0;
      assert.ok(rules >= 1);
      assert.equal(auditctl('delete-keysentry-rules'), rules);
      await until('the rules are back', () => audit().keysentryRules === rules);
      await until('the repair is logged', () => log.some(([level, m]) => level === 'warn' && /audit rule removed by someone else; re-installed/.test(m)));
      const snapshot = agent.snapshot();
      assert.equal(snapshot.capture.repairs, rules, 'one repair per rule');
      assert.equal(snapshot.capture.degraded, null);
      assert.equal(agentHeartbeat(() => agent)().capture_repairs, rules);

      const target = launcher.keychainRead(`ks-repaired-${process.pid}`);
      await until('an alert after the repair', () => alerts.about(target).length > 0);
    } finally {
      await agent.stop();
    }
  });

  it('audit disabled by someone else (auditctl -e 0) is re-enabled and reported', async () => {
    const { agent, alerts, log } = startAuditAgent();
    try {
      auditctl('disable');
      await until('audit enabled again', () => audit().enabled === 1);
      await until('the repair is logged', () => log.some(([level, m]) => level === 'warn' && /audit was disabled by someone else; re-enabled/.test(m)));
      const target = launcher.keychainRead(`ks-reenabled-${process.pid}`);
      await until('an alert after the repair', () => alerts.about(target).length > 0);
    } finally {
      await agent.stop();
    }
  });

});

describe('keysentry status when capture is degraded', () => {
  const status: AgentStatus = {
    version: '1',
    pid: 42,
    startedAt: '2026-12-03T11:00:00.000Z',
    uptimeSeconds: 5,
    source: 'audit',
    capture: { repairs: 3, lastRepair: 'audit rule removed by someone else; re-installed', degraded: 'audit rule removed by someone else and cannot be re-installed: EPERM' },
    rulesLoaded: 1,
    configFile: null,
    events: { total: 0, perSecond: 0 },
    alerts: { total: 0, last: null },
    drops: { source: 0, rejected: 0, spool: 0, log: 0 },
    spool: { depth: 0, bytes: 0 },
    delivery: { url: null, connected: false, lastDelivery: null, lastError: null },
  };

  it('does not say "running", and says why and how often capture was repaired', () => {
    const text = formatStatus(status);
    assert.match(text, /^agent: +DEGRADED, processes are not watched: audit rule removed by someone else and cannot be re-installed: EPERM; \(pid 42/m);
    assert.match(text, /^capture: +repaired 3 times \(last: audit rule removed by someone else; re-installed\)$/m);
    assert.match(formatStatus({ ...status, capture: { repairs: 0, lastRepair: null, degraded: null } }), /^agent: +running \(pid 42/m);
  });
});
