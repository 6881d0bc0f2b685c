/**
 * The same keychain theft through every reader (eslogger, ECS nested, ECS dotted, keysentry
 * recording) gives the same alerts, and none for the benign execs around it.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { localAgentInfo } from '../src/alerts/agent';
import { runPipeline } from '../src/cli/pipeline';
import type { AlertDocument } from '../src/alerts/types';
import type { SourceRecord } from '../src/model/records';
import { hostKey, type HostInfo } from '../src/process/ecs';
import { ProcessTable } from '../src/process/table';
import { enrichEvent } from '../src/process/normalize';
import { loadRuleSet } from '../src/rules';
import { parseEsloggerLine } from '../src/sources/eslogger';
import { nestDotted } from '../src/sources/ecs-ndjson';
import { RecordingWriter } from '../src/sources/recording';
import type { EventSource, SourceItem, SourceStats } from '../src/sources/types';
import { EXPECTED_ALERTS, keychainScenarioLines } from './support/keychain-scenario';
import { alertsOf, DEFAULT_RULE_ID, DEFAULT_RULES, eventsOf, runKeysentry, tempDir, writeLines } from './support/replay-cli';

/** Stands in for a live source: hands over records it was given, in batches. */
class RecordsSource implements EventSource {
  readonly name = 'records';
  constructor(private readonly records: SourceRecord[]) {}
  async *batches(): AsyncIterable<SourceItem[]> {
    for (let i = 0; i < this.records.length; i += 4) {
      yield this.records.slice(i, i + 4).map((record, j) => ({ kind: 'record' as const, record, where: `live:${i + j + 1}` }));
    }
  }
  async stop(): Promise<void> {}
  stats(): SourceStats {
    return { records: this.records.length, ecs: 0, rejected: 0, lost: 0 };
  }
}

function flatten(doc: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(doc)) {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) flatten(v as Record<string, unknown>, `${prefix}${k}.`, out);
    else out[prefix + k] = v;
  }
  return out;
}

const summarize = (alerts: Array<Record<string, any>>): unknown[] =>
  alerts.map((a) => ({ pid: a.process.pid, executable: a.process.executable, parent: a.process.parent?.executable, rule: a.rule.id, kind: a.event.kind }));
const EXPECTED = EXPECTED_ALERTS.map((a) => ({ pid: a.pid, executable: a.executable, parent: a.parentExecutable, rule: DEFAULT_RULE_ID, kind: 'alert' }));

describe('replay: alerts through every reader, parents through the process table', () => {
  const dir = tempDir('keysentry-readers-');
  const lines = keychainScenarioLines();

  it('eslogger (audit tokens as objects and as arrays): the theft alerts, the benign execs do not', async () => {
    for (const style of ['object', 'array'] as const) {
      const run = await runKeysentry(['replay', writeLines(dir, `${style}.json`, keychainScenarioLines(style)), '--format', 'eslogger', '--rules', DEFAULT_RULES]);
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(summarize(alertsOf(run)), EXPECTED);
      assert.match(run.stderr, /13 events, 30 records, 3 alerts, 0 rejected, 0 lost/);
    }
  });

  it('ECS NDJSON, nested and dotted (parents taken as given): the same alerts', async () => {
    const events = eventsOf(await runKeysentry(['replay', writeLines(dir, 'src.json', lines), '--events']));
    assert.equal(events.length, 13);
    const nested = writeLines(dir, 'nested.ndjson', events.map((e) => JSON.stringify(e)));
    const dotted = writeLines(dir, 'dotted.ndjson', events.map((e) => JSON.stringify(flatten(e))));
    // An Elasticsearch export wraps each document as a search hit.
    const hits = writeLines(dir, 'hits.ndjson', events.map((e, i) => JSON.stringify({ _index: '.ds-logs-endpoint.events.process-default', _id: String(i), _source: flatten(e) })));
    for (const file of [nested, dotted, hits]) {
      const run = await runKeysentry(['replay', file, '--rules', DEFAULT_RULES]);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stderr, /\(ecs\): 13 events, 0 records, 3 alerts, 0 rejected/);
      const alerts = alertsOf(run);
      assert.deepEqual(summarize(alerts), EXPECTED);
      // The input's event.id is kept on the alert.
      const source = events.find((e) => e.process.pid === alerts[0]?.process.pid && e.process.executable === '/usr/bin/security');
      assert.equal(alerts[0]?.event.id, source?.event.id);
    }
  });

  it('nestDotted merges nested and dotted spellings and refuses a field given twice', () => {
    assert.deepEqual(nestDotted({ 'process.name': 'a', process: { pid: 1, 'parent.name': 'b' } }), { process: { name: 'a', pid: 1, parent: { name: 'b' } } });
    assert.throws(() => nestDotted({ 'process.name': 'a', process: { name: 'b' } }), /process\.name: given twice/);
    assert.throws(() => nestDotted({ 'process.name': 'a', 'process.name.x': 'b' }), /process\.name/);
    const polluted = nestDotted(JSON.parse('{"__proto__.polluted": 1, "a.__proto__": {"x": 1}}') as Record<string, unknown>);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(polluted.a), Object.prototype);
  });

  it('a recording replays to exactly the alerts of the live run that wrote it', async () => {
    const host: HostInfo = { hostname: 'alice-mbp', id: '4C4C4544-0042-3510-8052-B4C04F4E3732', osType: 'macos' };
    const records = lines.map((l, i) => {
      const item = parseEsloggerLine(l, `scenario:${i + 1}`);
      if (item.kind !== 'record') assert.fail(JSON.stringify(item));
      return item.record;
    });
    // The live run knew launchd from its start-up scan; the recording keeps that seed.
    const seeded: SourceRecord[] = [{ kind: 'seed', timeNs: 1n, process: { pid: 1, pidversion: 742, executable: '/sbin/launchd' }, args: ['/sbin/launchd'] }, ...records];
    const file = path.join(dir, 'live.recording');
    const writer = new RecordingWriter(fs.createWriteStream(file), { host, source: 'test-live', startedAt: '2025-08-07T13:21:00.000Z' });
    const liveAlerts: AlertDocument[] = [];
    const stats = await runPipeline({
      source: new RecordsSource(seeded),
      table: new ProcessTable({ hostId: hostKey(host) }),
      host,
      agent: localAgentInfo(),
      rules: loadRuleSet([DEFAULT_RULES]),
      sinks: [{ write: (a) => void liveAlerts.push(a) }],
      enrich: enrichEvent,
      onEvent: () => undefined,
      skip: () => false,
    });
    for (const r of seeded) await writer.write(r);
    await writer.write({ kind: 'lost', timeNs: 99n, count: 2 });
    await writer.close();
    assert.equal(stats.alerts, 3);

    const run = await runKeysentry(['replay', file, '--rules', DEFAULT_RULES]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /\(keysentry\): 13 events, 31 records, 3 alerts, 0 rejected, 2 lost/);
    assert.deepEqual(alertsOf(run), JSON.parse(JSON.stringify(liveAlerts)));
    assert.deepEqual(summarize(alertsOf(run)), EXPECTED);
    // The seed resolved the Terminal's parent in both runs.
    const events = eventsOf(await runKeysentry(['replay', file, '--events']));
    assert.equal(events[0]?.process.parent.executable, '/sbin/launchd');
    assert.equal(events[0]?.host.hostname, 'alice-mbp');
  });

  it('a recording rejects bad records by line and keeps the rest', async () => {
    const file = path.join(dir, 'bad.recording');
    const writer = new RecordingWriter(fs.createWriteStream(file), { host: { osType: 'linux' }, source: 't', startedAt: 'now' });
    await writer.write({ kind: 'exec', timeNs: 5n, process: { pid: 3, executable: '/usr/bin/security' }, args: ['security', 'dump-keychain', 'login.keychain'], argsComplete: true, parent: { pid: 1 } });
    await writer.close();
    fs.appendFileSync(file, ['{"kind":"exec","timeNs":5}', '{"kind":"exec","timeNs":"5","process":{"pid":"3","executable":"/x"},"args":[]}', '{"kind":"teleport","timeNs":"1"}'].join('\n') + '\n');
    const run = await runKeysentry(['replay', file, '--rules', DEFAULT_RULES]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(alertsOf(run).length, 1);
    assert.match(run.stderr, /bad\.recording:3: timeNs: expected a string, got number/);
    assert.match(run.stderr, /bad\.recording:4: process\.pid: expected an integer, got string/);
    assert.match(run.stderr, /bad\.recording:5: kind: unknown record kind 'teleport'/);
  });

  it('a recording keeps the images a fork and an exit show (forker, exiting process) (QA D6)', async () => {
    const file = path.join(dir, 'images.recording');
    const writer = new RecordingWriter(fs.createWriteStream(file), { host: { osType: 'macos' }, source: 'eslogger', startedAt: 'now' });
    const vpn = { pid: 700, pidversion: 70, executable: '/Applications/OpenVPN Connect/OpenVPN Connect.app/Contents/MacOS/OpenVPN Connect', codeSignature: { flags: 570491649, teamId: 'ACV7L3WCD8' } };
    await writer.write({ kind: 'fork', timeNs: 1n, child: { pid: 710, pidversion: 71, executable: vpn.executable }, parent: { pid: 700, pidversion: 70 }, parentImage: vpn });
    await writer.write({ kind: 'exit', timeNs: 2n, process: { pid: 800, pidversion: 80, executable: '/usr/libexec/daemon' } });
    for (const [pid, parent] of [[710, 700], [810, 800]] as const) {
      await writer.write({ kind: 'exec', timeNs: 3n, process: { pid, pidversion: pid, executable: '/bin/ls' }, args: ['ls'], argsComplete: true, parent: { pid: parent, pidversion: parent / 10 } });
    }
    await writer.close();
    const run = await runKeysentry(['replay', file, '--events']);
    assert.equal(run.status, 0, run.stderr);
    const [fromFork, fromExit] = eventsOf(run) as [Record<string, any>, Record<string, any>];
    assert.equal(fromFork.process.parent.executable, vpn.executable);
    assert.equal(fromFork.process.parent.code_signature.team_id, 'ACV7L3WCD8');
    assert.equal(fromExit.process.parent.executable, '/usr/libexec/daemon');
  });

  it('a recording rejects numbers out of their range by line: negative counts, ids, times past 64 bits (QA D16)', async () => {
    const file = path.join(dir, 'ranges.recording');
    const writer = new RecordingWriter(fs.createWriteStream(file), { host: { osType: 'linux' }, source: 't', startedAt: 'now' });
    await writer.write({ kind: 'lost', timeNs: 4n, count: 2 });
    await writer.close();
    const exec = (extra: string): string => `{"kind":"exec","timeNs":"5","process":{"pid":3,"executable":"/x"},"args":[]${extra}}`;
    fs.appendFileSync(
      file,
      [
        '{"kind":"lost","timeNs":"5","count":-7}',
        exec(',"seq":-1'),
        exec(',"uid":-2'),
        exec(',"gid":4294967296'),
        '{"kind":"exit","timeNs":"5","process":{"pid":3},"status":2147483648}',
        '{"kind":"exit","timeNs":"99999999999999999999999999","process":{"pid":3}}',
        '{"kind":"exit","timeNs":"18446744073709551616","process":{"pid":3}}',
        '{"kind":"fork","timeNs":"5","child":{"pid":4,"executable":"/x","codeSignature":{"flags":-1}},"parent":{"pid":3}}',
        '{"kind":"exit","timeNs":"18446744073709551615","process":{"pid":3},"status":-1}',
      ].join('\n') + '\n',
    );
    const run = await runKeysentry(['replay', file]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /\(keysentry\): 0 events, 1 records, 0 alerts, 8 rejected, 2 lost/);
    assert.match(run.stderr, /ranges\.recording:3: count: expected a non-negative integer, got -7/);
    assert.match(run.stderr, /ranges\.recording:4: seq: expected a non-negative integer, got -1/);
    assert.match(run.stderr, /ranges\.recording:5: uid: out of range: -2 \(0 to 4294967295\)/);
    assert.match(run.stderr, /ranges\.recording:6: gid: out of range: 4294967296/);
    assert.match(run.stderr, /ranges\.recording:7: status: out of range: 2147483648/);
    assert.match(run.stderr, /ranges\.recording:8: timeNs: out of range: 99999999999999999999999999 \(at most 18446744073709551615 ns\)/);
    assert.match(run.stderr, /ranges\.recording:9: timeNs: out of range: 18446744073709551616/);
    assert.match(run.stderr, /ranges\.recording:10: child\.codeSignature\.flags: out of range: -1/);
  });
});
