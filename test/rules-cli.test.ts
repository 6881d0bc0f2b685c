/**
 * `keysentry rules check|compile|test` as real child processes, on the fixture folders and on damaged compiled files;
 * and the compiled-form cache of loadRuleSet.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { compileRuleFiles, loadRuleSet, CompiledRuleSetError } from '../src/rules';
import { FIXTURES_DIR } from './support/paths';
import { execEvent, ruleToml, tempDir } from './support/rules';
import { EXPECTED_ALERTS, keychainScenarioLines } from './support/keychain-scenario';

const MAIN = path.join(__dirname, '..', 'src', 'cli', 'main.js');
const RULES = path.join(FIXTURES_DIR, 'detection-rules');

function keysentry(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('rules: keysentry rules CLI', function () {
  this.timeout(120_000);

  const expected: Record<string, number> = { rules_macos: 44, rules_building_block_macos: 2, other_dirs_tagged_macos: 36 };
  for (const [dir, ok] of Object.entries(expected)) {
    it(`check ${dir}: ${ok} rules OK, every other rule unsupported with its reason, exit 0`, () => {
      const r = keysentry('rules', 'check', path.join(RULES, dir));
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const lines = r.stdout.trim().split('\n');
      const files = fs.readdirSync(path.join(RULES, dir)).length;
      assert.equal(lines.filter((l) => l.startsWith('OK ')).length, ok);
      const unsupported = lines.filter((l) => l.startsWith('unsupported '));
      assert.equal(unsupported.length, files - ok);
      for (const l of unsupported) assert.match(l, /\((sequence|language '(kuery|esql)'.*|event category '\w+' \(keysentry evaluates process events only\))\)/, l);
      assert.equal(lines[lines.length - 1], `${ok} OK, ${files - ok} unsupported, 0 errors`);
    });
  }

  it('check prints error (file:line:col: rule: why) and exits 1', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'bad.toml'), ruleToml('process where process.name == "a" or (process.args : "x"', 'Broken'));
    const r = keysentry('rules', 'check', dir);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`error +${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/bad\\.toml:7:1: Broken: expected '\\)' to close`));
  });

  it('compile writes rules.bin and rules.json that rules test loads; a damaged file is refused with a clear error', () => {
    const dir = tempDir();
    const events = path.join(dir, 'events.ndjson');
    const alert = { ...execEvent(['security', 'dump-keychain', '-d', 'login.keychain']), event: { id: 'ev-1', category: ['process'], type: ['start'] } };
    const quiet = execEvent(['ls', '-la']);
    fs.writeFileSync(events, `${JSON.stringify(quiet)}\nnot json\n${JSON.stringify(alert)}\n`);
    for (const name of ['rules.bin', 'rules.json']) {
      const out = path.join(dir, name);
      const c = keysentry('rules', 'compile', 'rules/default', '-o', out);
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stdout, /1 rules compiled/);
      const t = keysentry('rules', 'test', out, events);
      assert.equal(t.code, 0, t.stderr);
      assert.match(t.stdout, /events\.ndjson:3 event\.id=ev-1: Access to Keychain Credentials Directories \[96e90768-c3b7-4df6-b5d9-6237f8bc36a8\]/);
      assert.match(t.stdout, /2 events, 1 alerts, 1 lines skipped/);
      assert.match(t.stderr, /events\.ndjson:2: skipped: invalid JSON/);
    }
    const bin = fs.readFileSync(path.join(dir, 'rules.bin'));
    bin[bin.length - 5] ^= 0xff;
    fs.writeFileSync(path.join(dir, 'rules.bin'), bin);
    const damaged = keysentry('rules', 'test', path.join(dir, 'rules.bin'), events);
    assert.equal(damaged.code, 1);
    assert.match(damaged.stderr, /rules\.bin: checksum mismatch/);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'rules.json'), 'utf8')) as { version: number };
    json.version = 999;
    fs.writeFileSync(path.join(dir, 'rules.json'), JSON.stringify(json));
    const old = keysentry('rules', 'check', path.join(dir, 'rules.json'));
    assert.equal(old.code, 1);
    assert.match(old.stderr, /version 999 is not the supported version 2/);
  });

  it('compile refuses to write a rule set with errors unless --allow-errors', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'bad.toml'), ruleToml('process where nosuch.field == "a"'));
    const out = path.join(dir, 'out.bin');
    assert.equal(keysentry('rules', 'compile', dir, '-o', out).code, 1);
    assert.ok(!fs.existsSync(out));
  });
});

describe('rules: keysentry rules CLI options, outputs and inputs', function () {
  this.timeout(120_000);
  const stealEvent = (id: string): object => ({ ...execEvent(['security', 'dump-keychain', '-d', 'login.keychain']), event: { id, category: ['process'], type: ['start'] } });

  it('--help prints the subcommand usage with exit 0; an unknown flag is an error, never a rule path', () => {
    for (const sub of ['check', 'compile', 'test']) {
      const r = keysentry('rules', sub, '--help');
      assert.equal(r.code, 0, `${sub}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`usage:\\n  keysentry rules ${sub} `));
    }
    const unknown = keysentry('rules', 'check', '-x', 'rules/default');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown option '-x'/);
    assert.doesNotMatch(unknown.stdout + unknown.stderr, /cannot read/);
    const verbose = keysentry('rules', 'check', '--verbose', 'rules/default');
    assert.equal(verbose.code, 0, verbose.stderr);
    assert.match(verbose.stdout, /^field +process\.args /m);
    const missing = keysentry('rules', 'test', '/nonexistent-rules', 'ev.ndjson');
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr.trim(), 'keysentry rules: cannot read /nonexistent-rules: ENOENT');
  });

  it('compile into a missing folder: one line naming the file and why, exit 2, no stack', () => {
    const out = path.join(tempDir(), 'missing', 'x.bin');
    const r = keysentry('rules', 'compile', 'rules/default', '-o', out);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `keysentry rules: cannot write ${out}: ENOENT\n`);
    assert.ok(!fs.existsSync(path.dirname(out)));
  });

  it('test into a closed pipe (| head -1) ends quietly with exit 0', () => {
    const dir = tempDir();
    const events = path.join(dir, 'many.ndjson');
    fs.writeFileSync(events, Array.from({ length: 20_000 }, (_, i) => JSON.stringify(stealEvent(`e${i}`))).join('\n') + '\n');
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${MAIN}" rules test rules/default "${events}" | head -1; exit \${PIPESTATUS[0]}`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^.*many\.ndjson:1 event\.id=e0: Access to Keychain Credentials Directories \[96e90768-c3b7-4df6-b5d9-6237f8bc36a8\]\n$/);
  });

  it('test reads ECS through the replay reader: mistyped fields and dotted+nested duplicates are skipped with their line', () => {
    const dir = tempDir();
    const events = path.join(dir, 'typed.ndjson');
    const typed = stealEvent('t1') as { process: Record<string, unknown> };
    typed.process.pid = 'abc';
    const twice = { ...stealEvent('t2'), 'process.args': ['ls'] };
    fs.writeFileSync(events, `${JSON.stringify(typed)}\n${JSON.stringify(twice)}\n${JSON.stringify(stealEvent('t3'))}\n`);
    const r = keysentry('rules', 'test', 'rules/default', events);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /typed\.ndjson:1: skipped: process\.pid: expected an integer, got string/);
    assert.match(r.stderr, /typed\.ndjson:2: skipped: process\.args: given twice \(nested and dotted\)/);
    assert.match(r.stdout, /typed\.ndjson:3 event\.id=t3: Access to Keychain/);
    assert.match(r.stdout, /^1 events, 1 alerts, 2 lines skipped \(ecs\)$/m);
    const stdin = spawnSync(process.execPath, [MAIN, 'rules', 'test', 'rules/default', '-'], { input: fs.readFileSync(events), encoding: 'utf8', timeout: 60_000 });
    assert.equal(stdin.status, 0, stdin.stderr);
    assert.match(stdin.stderr, /^stdin:1: skipped: process\.pid/m);
    assert.match(stdin.stdout, /^stdin:3 event\.id=t3: Access to Keychain/m);
  });

  it('test and replay flatten nested arrays in ECS documents, as Elasticsearch indexes them', () => {
    const dir = tempDir();
    const events = path.join(dir, 'nested.ndjson');
    const nested = { event: { id: 'n1', category: [['process']], type: ['start'] }, process: { name: 'cat', args: [['cat', ['/Users/a/Library/Keychains/login.keychain-db']]] } };
    fs.writeFileSync(events, JSON.stringify(nested) + '\n');
    const t = keysentry('rules', 'test', 'rules/default', events);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /nested\.ndjson:1 event\.id=n1: Access to Keychain Credentials Directories/);
    const r = keysentry('replay', events, '--no-pack');
    assert.equal(r.code, 0, r.stderr);
    const alert = JSON.parse(r.stdout.trim()) as { process: { args: unknown } };
    assert.deepEqual(alert.process.args, ['cat', '/Users/a/Library/Keychains/login.keychain-db']);
  });

  it('test on an eslogger capture runs the replay pipeline (process table, parents) and says which format it read', () => {
    const dir = tempDir();
    const events = path.join(dir, 'capture.jsonl');
    fs.writeFileSync(events, keychainScenarioLines().join('\n') + '\n');
    const r = keysentry('rules', 'test', 'rules/default', events);
    assert.equal(r.code, 0, r.stderr);
    const alerts = r.stdout.split('\n').filter((l) => l.includes('Access to Keychain'));
    assert.equal(alerts.length, EXPECTED_ALERTS.length, r.stdout);
    assert.match(r.stdout, new RegExp(`, ${EXPECTED_ALERTS.length} alerts, 0 lines skipped \\(eslogger\\)`));
    const junk = path.join(dir, 'junk.txt');
    fs.writeFileSync(junk, '{"a":1}\n'.repeat(1001));
    const undetected = keysentry('rules', 'test', 'rules/default', junk);
    assert.equal(undetected.code, 2);
    assert.match(undetected.stderr, /no eslogger message, ECS document or keysentry recording header in the first 1000 lines; pass --format/);
  });
});

describe('rules: rule file size cap (1 MiB) on every load path', function () {
  this.timeout(120_000);

  it('refuses a file over 1 MiB without reading it whole, loads one of exactly 1 MiB', () => {
    const dir = tempDir();
    const rule = ruleToml('process where process.name == "cat"');
    const exact = path.join(dir, 'exact.toml');
    fs.writeFileSync(exact, rule + '#'.repeat((1 << 20) - Buffer.byteLength(rule) - 1) + '\n');
    assert.equal(fs.statSync(exact).size, 1 << 20);
    assert.equal(loadRuleSet([exact]).rules.length, 1);
    const big = path.join(dir, 'big.toml');
    fs.writeFileSync(big, rule + '#'.repeat(50 << 20) + '\n');
    const set = loadRuleSet([big]);
    assert.equal(set.rules.length, 0);
    assert.deepEqual(set.errors, [{ source: big, message: 'cannot read: larger than 1048576 bytes' }]);
    const r = keysentry('rules', 'check', big);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /error +.*big\.toml: cannot read: larger than 1048576 bytes/);
  });

  it('refuses devices and FIFOs by name, at once (rules check /dev/zero returns)', () => {
    const fifo = path.join(tempDir(), 'rules.fifo');
    spawnSync('mkfifo', [fifo]);
    for (const file of ['/dev/zero', fifo]) {
      const r = keysentry('rules', 'check', file);
      assert.equal(r.code, 1, `${file}: ${r.stderr}`);
      assert.equal(r.stdout, `error        ${file}: cannot read: not a regular file\n0 OK, 0 unsupported, 1 errors\n`);
    }
  });

  it('still loads a compiled rule set larger than 1 MiB', () => {
    const dir = tempDir();
    const rules = path.join(dir, 'rules');
    fs.mkdirSync(rules);
    for (let i = 0; i < 1500; i++) fs.writeFileSync(path.join(rules, `r${i}.toml`), ruleToml(`process where process.name == "tool${i}" and process.args : "*--secret-${i}-*"`, `rule ${i}`, `rule-${i}`));
    const out = path.join(dir, 'rules.json');
    compileRuleFiles([rules], out);
    assert.ok(fs.statSync(out).size > 1 << 20, `compiled file of ${fs.statSync(out).size} bytes`);
    const set = loadRuleSet([out]);
    assert.equal(set.errors.length, 0);
    assert.equal(set.rules.length, 1500);
  });
});

describe('rules: compiled-form cache', () => {
  it('refuses a checksum-valid file whose formulas point outside its tables', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'a.toml'), ruleToml('process where process.name == "cat"'));
    const out = path.join(dir, 'rules.json');
    compileRuleFiles([dir], out);
    const envelope = JSON.parse(fs.readFileSync(out, 'utf8')) as { sha256: string; payload: { rules: { formula: unknown }[] } };
    (envelope.payload.rules[0] as { formula: unknown }).formula = { op: 'match', field: 99, patterns: [0] };
    envelope.sha256 = createHash('sha256').update(JSON.stringify(envelope.payload)).digest('hex');
    fs.writeFileSync(out, JSON.stringify(envelope));
    assert.throws(() => loadRuleSet([out]), (err: unknown) => err instanceof CompiledRuleSetError && /malformed compiled rule set: field id 99 out of range/.test(err.message));
  });

  it('writes the cache, reuses it while the sources are unchanged, recompiles when they change, refuses a damaged one', () => {
    const dir = tempDir();
    const rules = path.join(dir, 'rules');
    fs.mkdirSync(rules);
    const cache = path.join(dir, 'cache.bin');
    fs.writeFileSync(path.join(rules, 'a.toml'), ruleToml('process where process.name == "cat"', 'cat rule', 'a'));
    const first = loadRuleSet([rules], { compiledCache: cache });
    assert.ok(fs.existsSync(cache));
    const fromCache = loadRuleSet([rules], { compiledCache: cache });
    const cat = execEvent(['cat']);
    assert.deepEqual(first.evaluate(cat).map((r) => r.id), ['a']);
    assert.deepEqual(fromCache.evaluate(cat).map((r) => r.id), ['a']);

    fs.writeFileSync(path.join(rules, 'a.toml'), ruleToml('process where process.name == "dog"', 'dog rule', 'a'));
    const changed = loadRuleSet([rules], { compiledCache: cache });
    assert.deepEqual(changed.evaluate(cat), []);
    assert.deepEqual(loadRuleSet([cache]).rules.map((r) => r.name), ['dog rule']);

    const bytes = fs.readFileSync(cache);
    bytes[bytes.length - 1] ^= 1;
    fs.writeFileSync(cache, bytes);
    assert.throws(() => loadRuleSet([rules], { compiledCache: cache }), (err: unknown) => err instanceof CompiledRuleSetError && /checksum mismatch/.test(err.message));

    const unwritable = loadRuleSet([rules], { compiledCache: path.join(dir, 'no-such-dir', 'cache.bin') });
    assert.equal(unwritable.rules.length, 1);
    assert.match(unwritable.errors[0]?.message ?? '', /cannot write the compiled rule cache: ENOENT/);
  });
});
