/** `keysentry replay` as a real child process: bad input, line numbers, exit statuses. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { keychainScenarioLines, EXPECTED_ALERTS } from './support/keychain-scenario';
import { REPO_ROOT } from './support/paths';
import { alertsOf, DEFAULT_RULE_ID, DEFAULT_RULES, runKeysentry, tempDir, writeLines } from './support/replay-cli';

const alertedPids = (docs: Array<Record<string, any>>): number[] => docs.map((a) => a.process.pid as number);
const EXPECTED_PIDS = EXPECTED_ALERTS.map((a) => a.pid);

describe('replay: bad input is rejected by line, the lines around it still alert', () => {
  const dir = tempDir('keysentry-replay-');
  const good = keychainScenarioLines();
  const anExec = good.find((l) => l.includes('"event_type":9')) as string;

  it('rejects each kind of bad line with its line number and reason, and keeps every alert', async () => {
    const bad: Array<{ line: string | Buffer; reason: RegExp }> = [
      { line: 'this is not json', reason: /invalid JSON/ },
      { line: good[3]!.slice(0, 200), reason: /invalid JSON/ }, // truncated mid-line
      { line: Buffer.concat([Buffer.from(good[5]!.slice(0, 40)), Buffer.from([0xc3, 0x28]), Buffer.from(good[5]!.slice(40))]), reason: /invalid UTF-8 at byte 41/ },
      { line: Buffer.concat([Buffer.from(good[6]!.slice(0, 10)), Buffer.from([0]), Buffer.from(good[6]!.slice(10))]), reason: /NUL byte at byte 11/ },
      { line: anExec.replace('"event_type":9', '"event_type":"9"'), reason: /event_type: expected an integer, got string/ },
      { line: anExec.replace(/"args":\[[^\]]*\]/, '"args":[1,2]'), reason: /event\.exec\.args\[0\]: expected a string, got number/ },
      { line: anExec.replace(/"pidversion":\d+/, '"pidversion":-4'), reason: /audit_token\.pidversion: out of range/ },
      { line: anExec.replace(/"time":"[^"]*"/, '"time":"yesterday"'), reason: /time: expected an ISO-8601 time/ },
      { line: anExec.replace('"event_type":9', '"event_type":42'), reason: /event_type: 42 is not exec/ },
      { line: '[1,2,3]', reason: /line: expected an object, got an array/ },
      { line: `{"event_type":9,"process":{},"event":{"exec":${'['.repeat(20)}`, reason: /invalid JSON/ },
    ];
    // Interleave: bad line k goes after good line k, so the 1-based number is known.
    const lines: Array<string | Buffer> = [];
    const expectedAt: Array<{ lineNo: number; reason: RegExp }> = [];
    good.forEach((g, i) => {
      lines.push(g);
      const b = bad[i];
      if (b !== undefined) {
        lines.push(b.line);
        expectedAt.push({ lineNo: lines.length, reason: b.reason });
      }
    });
    const file = writeLines(dir, 'mixed.json', lines);
    const run = await runKeysentry(['replay', file, '--rules', DEFAULT_RULES]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(alertedPids(alertsOf(run)), EXPECTED_PIDS);
    assert.match(run.stderr, new RegExp(`3 alerts, ${bad.length} rejected`));
    for (const { lineNo, reason } of expectedAt) {
      const line = run.stderr.split('\n').find((l) => l.startsWith(`  ${file}:${lineNo}: `));
      assert.ok(line !== undefined, `no rejection reported for line ${lineNo}:\n${run.stderr}`);
      assert.match(line, reason);
    }
  });

  it('rejects a 10 MB line as too long without losing the next line, from a file and from stdin', async () => {
    const huge = `{"event_type":9,"args":"${'A'.repeat(10 * 1024 * 1024)}"}`;
    const lines = [good[0]!, good[1]!, huge, ...good.slice(2)];
    const file = writeLines(dir, 'huge.json', lines);
    for (const args of [['replay', file, '--rules', DEFAULT_RULES], ['replay', '-', '--rules', DEFAULT_RULES]]) {
      const run = await runKeysentry(args, args[1] === '-' ? fs.readFileSync(file) : undefined);
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(alertedPids(alertsOf(run)), EXPECTED_PIDS);
      assert.match(run.stderr, /:3: line too long: 10485\d\d\d bytes \(limit 4194304\)/);
      assert.match(run.stderr, /1 rejected/);
    }
  });

  it('a last line without its newline is still read; CRLF line ends and blank lines are fine', async () => {
    const file = path.join(dir, 'crlf.json');
    fs.writeFileSync(file, '\r\n' + good.join('\r\n\r\n'));
    const run = await runKeysentry(['replay', file, '--rules', DEFAULT_RULES]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(alertedPids(alertsOf(run)), EXPECTED_PIDS);
    assert.match(run.stderr, /0 rejected/);
  });

  it('counts the events eslogger dropped (gaps in global_seq_num) and still resolves the rest', async () => {
    // Drop the fork of pid 702 (and so one sequence number): its exec still alerts, its parent
    // now only known by the exec record's parent token.
    const forkOf702 = good.findIndex((l) => l.includes('"event_type":11') && l.includes('"pid":702'));
    const file = writeLines(dir, 'gap.json', good.filter((_, i) => i !== forkOf702));
    const run = await runKeysentry(['replay', file, '--rules', DEFAULT_RULES]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /29 records, 3 alerts, 0 rejected, 1 lost/);
    assert.deepEqual(alertedPids(alertsOf(run)), EXPECTED_PIDS);
  });

  it('the shipped sample, with the default rules: the stock rule alerts on its keychain theft only', async () => {
    const run = await runKeysentry(['replay', path.join(REPO_ROOT, 'samples', 'keychain-theft.eslogger.jsonl')]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(
      alertsOf(run)
        .filter((a) => a.rule.id === DEFAULT_RULE_ID)
        .map((a) => [a.process.pid, a.process.parent.executable]),
      EXPECTED_ALERTS.map((a) => [a.pid, a.parentExecutable]),
    );
    assert.equal(fs.readFileSync(path.join(REPO_ROOT, 'samples', 'keychain-theft.eslogger.jsonl'), 'utf8'), good.join('\n') + '\n', 'sample is what test/support/keychain-scenario builds');
  });
});

describe('replay: unusable invocations exit 2 with a one-line error', () => {
  const dir = tempDir('keysentry-replay-err-');
  const sample = path.join(REPO_ROOT, 'samples', 'keychain-theft.eslogger.jsonl');

  const cases: Array<{ name: string; args: () => string[]; message: RegExp }> = [
    { name: 'missing file', args: () => ['replay', path.join(dir, 'nope.json')], message: /cannot read .*nope\.json: ENOENT/ },
    { name: 'a directory', args: () => ['replay', dir], message: /is a directory/ },
    { name: 'unknown --format', args: () => ['replay', sample, '--format', 'pcap'], message: /unknown --format 'pcap' \(expected auto, eslogger, ecs, keysentry\)/ },
    { name: 'no input', args: () => ['replay'], message: /no input file/ },
    { name: 'missing rule path', args: () => ['replay', sample, '--rules', path.join(dir, 'no-rules.toml')], message: /cannot load rules: .*no-rules\.toml/ },
    {
      name: 'a rule that does not parse',
      args: () => {
        const rule = path.join(dir, 'bad.toml');
        fs.writeFileSync(rule, '[rule]\nname = "Broken"\nrule_id = "x"\ntype = "eql"\nlanguage = "eql"\nseverity = "low"\nrisk_score = 1\ndescription = "d"\nquery = \'\'\'\nprocess where process.name ==\n\'\'\'\n');
        return ['replay', sample, '--rules', rule];
      },
      message: /cannot load rules: .*bad\.toml:\d+:\d+: /,
    },
    { name: 'a recording of an unknown version', args: () => ['replay', writeLines(dir, 'v9.rec', ['{"format":"keysentry-recording","version":9}'])], message: /version 9 is not supported/ },
    {
      name: 'recording records without their header',
      args: () => ['replay', writeLines(dir, 'headless.rec', ['{"kind":"exit","timeNs":"5","process":{"pid":3}}'])],
      message: /headless\.rec:1: not a keysentry recording \(the first line must be its header\)/,
    },
    {
      name: 'input in no known format',
      args: () => ['replay', writeLines(dir, 'csv.json', Array.from({ length: 1001 }, (_, i) => `{"col${i}":1}`))],
      message: /first 1000 lines; pass --format/,
    },
    // QA D7: every line counts toward the detection limit, not only those that parse as JSON.
    { name: 'a text log', args: () => ['replay', writeLines(dir, 'junk.txt', Array.from({ length: 5000 }, () => 'x'))], message: /junk\.txt: no eslogger message.* first 1000 lines; pass --format/ },
    {
      name: 'invalid UTF-8, too long, blank and truncated lines, the format showing only after line 1000',
      args: () => {
        const file = path.join(dir, 'binary.dat');
        fs.writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xfe, 0x0a]), Buffer.alloc(5 * 1024 * 1024, 0x78), Buffer.from('\n')]));
        for (let i = 0; i < 400; i++) fs.appendFileSync(file, Buffer.from([0xc3, 0x28, 0x0a]));
        fs.appendFileSync(file, '\n'.repeat(300) + '{"a":\n'.repeat(300) + (keychainScenarioLines()[0] as string) + '\n');
        return ['replay', file];
      },
      message: /binary\.dat: no eslogger message.* first 1000 lines; pass --format/,
    },
    {
      name: 'a gzip-compressed capture',
      args: () => {
        const file = path.join(dir, 'capture.jsonl.gz');
        fs.writeFileSync(file, zlib.gzipSync(keychainScenarioLines().join('\n') + '\n'));
        return ['replay', file];
      },
      message: /capture\.jsonl\.gz: gzip-compressed: gunzip it or pipe through gunzip -c/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const run = await runKeysentry(c.args());
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, /^keysentry replay: /);
      assert.match(run.stderr, c.message);
      assert.equal(run.stderr.trimEnd().split('\n')[0]!.length > 0, true);
      assert.equal(alertsOf(run).length, 0);
    });
  }
});
