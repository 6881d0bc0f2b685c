/** Alert documents and the pipeline's ordering and fault isolation. */
import { strict as assert } from 'node:assert';
import { PassThrough } from 'node:stream';
import { buildAlert } from '../src/alerts/alert';
import { JsonLinesSink } from '../src/alerts/sink';
import type { AlertDocument } from '../src/alerts/types';
import { runPipeline, type PipelineOptions, type PipelineStats } from '../src/cli/pipeline';
import type { EcsDocument } from '../src/model/ecs';
import { ProcessTable } from '../src/process/table';
import { loadDefaultRuleSet } from '../src/rules';
import type { CompiledRuleSet, RuleMeta } from '../src/rules/types';
import { ReplaySource } from '../src/sources/replay';
import { keychainScenarioLines } from './support/keychain-scenario';

const agent = { name: 'keysentry', version: '9.9.9', id: 'agent-1' };
const RULE: RuleMeta = {
  id: 'r-1',
  name: 'Keychain dump',
  description: 'security dump-keychain',
  severity: 'high',
  riskScore: 73,
  references: ['https://ss64.com/osx/security.html'],
  tags: ['OS: macOS'],
  threat: [
    {
      framework: 'MITRE ATT&CK',
      tactic: { id: 'TA0006', name: 'Credential Access', reference: 'https://attack.mitre.org/tactics/TA0006/' },
      technique: [
        {
          id: 'T1555',
          name: 'Credentials from Password Stores',
          reference: 'https://attack.mitre.org/techniques/T1555/',
          subtechnique: [{ id: 'T1555.001', name: 'Keychain', reference: 'https://attack.mitre.org/techniques/T1555/001/' }],
        },
      ],
    },
  ],
  query: 'process where true',
  source: 'test.toml',
};

const scenarioSource = (): ReplaySource => new ReplaySource({ input: [Buffer.from(keychainScenarioLines().join('\n'))], label: 'scenario', format: 'auto' });

/** The scenario through a fresh table on a macOS host; the test supplies the rest. */
function runScenario(options: Pick<PipelineOptions, 'rules' | 'sinks'> & Partial<PipelineOptions>): Promise<PipelineStats> {
  return runPipeline({ source: scenarioSource(), table: new ProcessTable({ hostId: 'h' }), host: { osType: 'macos' }, agent, ...options });
}

describe('alerts: ECS alert documents', () => {
  it('carry the event fields, event.kind alert, rule.*, threat.* (ECS flat form) and agent.*', () => {
    const event: EcsDocument = { '@timestamp': '2025-08-07T13:21:35.880814738Z', event: { kind: 'event', id: 'e-1', action: 'exec' }, process: { pid: 7, args: ['a'] } };
    const alert = buildAlert(event, RULE, agent);
    assert.deepEqual(alert, {
      '@timestamp': '2025-08-07T13:21:35.880814738Z',
      event: { kind: 'alert', id: 'e-1', action: 'exec' },
      process: { pid: 7, args: ['a'] },
      rule: { id: 'r-1', name: 'Keychain dump', description: 'security dump-keychain', severity: 'high', risk_score: 73, reference: ['https://ss64.com/osx/security.html'] },
      threat: {
        framework: 'MITRE ATT&CK',
        tactic: { id: ['TA0006'], name: ['Credential Access'], reference: ['https://attack.mitre.org/tactics/TA0006/'] },
        technique: {
          id: ['T1555'],
          name: ['Credentials from Password Stores'],
          reference: ['https://attack.mitre.org/techniques/T1555/'],
          subtechnique: { id: ['T1555.001'], name: ['Keychain'], reference: ['https://attack.mitre.org/techniques/T1555/001/'] },
        },
      },
      agent: { name: 'keysentry', version: '9.9.9', id: 'agent-1', type: 'keysentry' },
    });
    // The event itself is untouched (other rules may match it too).
    assert.equal((event.event as { kind: string }).kind, 'event');
    (alert.process as { args: string[] }).args.push('b');
    assert.deepEqual((event.process as { args: string[] }).args, ['a']);
  });

  it('an input that brings its own rule/threat/agent fields gets them replaced, never merged', () => {
    const alert = buildAlert({ event: 'x', rule: { id: 'spoofed', extra: 1 }, threat: { framework: 'fake' }, agent: { id: 'other' } }, { ...RULE, threat: [] }, agent);
    assert.deepEqual(alert.rule, buildAlert({}, { ...RULE, threat: [] }, agent).rule);
    assert.equal(alert.threat, undefined);
    assert.deepEqual(alert.event, { kind: 'alert' });
    assert.equal((alert.agent as { id: string }).id, 'agent-1');
    assert.equal(typeof alert['@timestamp'], 'string');
  });
});

describe('pipeline: order, live rule sets, enrichment, skips and failures', () => {
  it('runs table -> ECS -> enrich -> rules -> alert -> sinks in source order, reading the rule getter per event', async () => {
    const real = loadDefaultRuleSet({ withPack: false });
    let calls = 0;
    const enriched: number[] = [];
    const alerts: AlertDocument[] = [];
    const stats = await runScenario({
      rules: () => {
        calls++;
        return real;
      },
      sinks: [{ write: (a) => void alerts.push(a) }],
      enrich: (e) => {
        enriched.push(e.process.pid);
        e.keysentry = { seen: true };
      },
    });
    assert.equal(calls, 13);
    assert.equal(enriched.length, 13);
    assert.deepEqual(alerts.map((a) => (a.process as { pid: number }).pid), [702, 704, 950]);
    assert.deepEqual(alerts[0]?.keysentry, { seen: true }, 'rules and alerts see the enriched event');
    assert.deepEqual({ ...stats, rejections: stats.rejections.length }, { events: 13, records: 30, alerts: 3, rejected: 0, rejections: 0, lost: 0, skipped: 0 });
  });

  it('a throwing enrichment or rule fails that event only; skipped records still feed the table', async () => {
    const real = loadDefaultRuleSet({ withPack: false });
    const flaky: CompiledRuleSet = {
      rules: real.rules,
      unsupported: real.unsupported,
      errors: real.errors,
      evaluate: (doc) => {
        if ((doc as { process: { pid: number } }).process.pid === 704) throw new Error('engine bug');
        return real.evaluate(doc);
      },
    };
    const rejections: string[] = [];
    const out = new PassThrough();
    const written: Buffer[] = [];
    out.on('data', (b: Buffer) => written.push(b));
    const stats = await runScenario({
      rules: flaky,
      sinks: [new JsonLinesSink(out)],
      enrich: (e) => {
        if (e.process.pid === 600) throw new Error('normalizer bug');
      },
      // The agent's own processes: zsh's direct exec is muted, its children still get zsh as parent.
      skip: (r) => r.kind === 'exec' && r.process.pid === 500,
      onReject: (r) => rejections.push(`${r.where}: ${r.reason}`),
    });
    const alerts = Buffer.concat(written).toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    assert.deepEqual(alerts.map((a) => [a.process.pid, a.process.parent.executable]), [
      [702, '/bin/zsh'],
      [950, '/bin/zsh'],
    ]);
    assert.equal(stats.skipped, 1);
    assert.equal(stats.rejected, 2);
    assert.match(rejections[0] as string, /^scenario:\d+: event processing failed: normalizer bug$/);
    assert.match(rejections[1] as string, /^scenario:\d+: rule evaluation failed: engine bug$/);
  });

  it('a sink that throws loses its own write only: the other sinks and the next events go on', async () => {
    const kept: number[] = [];
    const rejections: string[] = [];
    const stats = await runScenario({
      rules: loadDefaultRuleSet({ withPack: false }),
      sinks: [
        {
          write: (a) => {
            if ((a.process as { pid: number }).pid === 702) throw new Error('disk full');
          },
        },
        { write: async (a) => void kept.push((a.process as { pid: number }).pid) },
      ],
      onReject: (r) => rejections.push(`${r.where}: ${r.reason}`),
    });
    assert.deepEqual(kept, [702, 704, 950]);
    assert.equal(stats.alerts, 3);
    assert.equal(rejections.length, 1);
    assert.match(rejections[0] as string, /^scenario:\d+: alert not written: disk full$/);
  });

  it('stop() ends a replay of a stream that is still open, without an error', async () => {
    const input = new PassThrough();
    input.write(keychainScenarioLines().join('\n') + '\n');
    const source = new ReplaySource({ input, label: 'open', format: 'auto' });
    const alerts: number[] = [];
    const done = runPipeline({
      source,
      table: new ProcessTable({ hostId: 'h' }),
      host: { osType: 'macos' },
      agent,
      rules: loadDefaultRuleSet({ withPack: false }),
      sinks: [{ write: (a) => void alerts.push((a.process as { pid: number }).pid) }],
    });
    while (alerts.length < 3) await new Promise((r) => setTimeout(r, 10));
    await source.stop();
    const stats = await done;
    assert.equal(stats.alerts, 3);
    assert.equal(stats.records, 30);
  });

  it('the JSON Lines sink waits for a slow reader instead of buffering without bound', async () => {
    const out = new PassThrough({ highWaterMark: 1024 });
    const sink = new JsonLinesSink(out);
    const pending = sink.write({ big: 'x'.repeat(4096) });
    assert.ok(pending instanceof Promise, 'a full stream makes write() wait');
    let drained = false;
    void (pending as Promise<void>).then(() => (drained = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(drained, false);
    out.read();
    await pending;
    assert.equal(drained, true);
  });
});
