/**
 * The agent tells the capture which execs its rules could match (requiredText over the loaded
 * rules), at start and on every reload: execs holding none of that text are not counted urgent
 * (they ride a later batch), execs a newly loaded rule needs are, and a rule set that can match
 * without any particular text makes every exec urgent again. Root: the audit backend.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AlertSink } from '../src/alerts/types';
import { startAgent, type RunningAgent } from '../src/cli/agent';
import type { EcsDocument } from '../src/model/ecs';
import { loadAddon } from '../src/sources/native';
import { REPO_ROOT } from './support/paths';
import { tempDir } from './support/replay-cli';
import { waitUntil } from './support/wait';

const isRoot = process.getuid?.() === 0;
const ECHO = fs.realpathSync('/bin/echo');
/** Enough execs that other processes of the machine cannot fake the count. */
const EXECS = 20;

class Alerts implements AlertSink {
  readonly docs: EcsDocument[] = [];
  async write(alert: EcsDocument): Promise<void> {
    this.docs.push(alert);
  }
}

function writeRule(dir: string, name: string, query: string): void {
  const lines = ['[rule]', `rule_id = "${name}"`, `name = "${name}"`, 'description = "test"', 'severity = "low"', 'risk_score = 21', 'type = "eql"', 'language = "eql"', `query = '''`, query, `'''`, ''];
  fs.writeFileSync(path.join(dir, `${name}.toml`), lines.join('\n'));
}

/**
 * Runs the execs from a shell started before the agent: the agent did not see it fork, so its
 * children are not the agent's own activity (which it never evaluates).
 */
class Launcher {
  private readonly shell = spawn('/bin/sh', [], { stdio: ['pipe', 'ignore', 'ignore'] });
  private runs = 0;
  constructor(private readonly dir: string) {}
  /** EXECS execs of echo with `marker` as argv[1]; resolves when the shell has run them all. */
  async echoes(marker: string): Promise<void> {
    const done = path.join(this.dir, `done-${this.runs++}`);
    this.shell.stdin.write(`i=0; while [ $i -lt ${EXECS} ]; do ${ECHO} ${marker}; i=$((i+1)); done; : > ${done}\n`);
    await waitUntil(() => fs.existsSync(done), 10_000);
  }
  close(): void {
    this.shell.stdin.end();
  }
}

describe('the agent hurries only the execs its rules could match (root)', function () {
  this.timeout(60_000);
  let agent: RunningAgent | undefined;
  let launcher: Launcher | undefined;
  before(function () {
    if (!isRoot) this.skip();
  });
  afterEach(async () => {
    launcher?.close();
    await agent?.stop();
    agent = undefined;
  });

  it('sets the required text of the rules at start and on each reload', async () => {
    const rules = tempDir('ks-urgency-');
    for (const f of fs.readdirSync(path.join(REPO_ROOT, 'rules', 'default'))) fs.copyFileSync(path.join(REPO_ROOT, 'rules', 'default', f), path.join(rules, f));
    const run = new Launcher(tempDir('ks-urgency-run-'));
    launcher = run;
    const alerts = new Alerts();
    const log: string[] = [];
    agent = startAgent({ source: 'audit', rulePaths: [rules], sinks: [alerts], log: (_level, message) => log.push(message) });
    const running = agent;
    const urgent = (): number => running.snapshot().native?.urgent ?? 0;
    // The deadline told is the core's own default (no quietFlushMicros given).
    const quietMs = loadAddon().sessionDefaults.quietFlushMicros / 1000;
    assert.ok(log.includes(`execs holding one of 1 required texts go to the rules at once, the others within ${quietMs} ms`), log.join('\n'));

    // No text of Elastic's keychain rule: these wait for company.
    const quiet = `ks-urgency-${process.pid}-quiet`;
    const before = urgent();
    await run.echoes(quiet);
    // The capture pushes an exec when its audit records come, shortly after the process ended.
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(urgent() - before < EXECS, `urgent went from ${before} to ${urgent()}: the execs of ${quiet} were hurried`);

    // A rule that needs the marker: after the reload its execs are urgent, and alert.
    const marker = `ks-urgency-${process.pid}-marker`;
    writeRule(rules, 'marker', `process where process.args == "${marker}"`);
    assert.deepEqual(running.reloadRules(), { ok: true, rules: 2 });
    assert.deepEqual(log.slice(-2).map((m) => m.replace(/\d+ required texts.*/, 'N')), ['rules reloaded: 2 rules', 'execs holding one of N']);
    assert.match(log[log.length - 1] as string, /execs holding one of 2 required texts go to the rules at once/);
    const beforeMarker = urgent();
    await run.echoes(marker);
    await waitUntil(() => alerts.docs.filter((a) => (a.process as { args?: string[] }).args?.[1] === marker).length === EXECS, 5000);
    assert.ok(urgent() - beforeMarker >= EXECS, `urgent went from ${beforeMarker} to ${urgent()} for ${EXECS} execs of ${marker}`);

    // A rule with no required text: every exec is urgent again.
    writeRule(rules, 'any-pid', 'process where process.pid < 0');
    assert.equal(running.reloadRules().ok, true);
    assert.match(log[log.length - 1] as string, /every exec goes to the rules at once/);
    const beforeAll = urgent();
    await run.echoes(quiet);
    await waitUntil(() => urgent() - beforeAll >= EXECS, 5000);
  });
});
