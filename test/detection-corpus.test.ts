import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { caseEvents, caseRecords, CORPUS_DIR, CORPUS_HOST, CorpusError, evaluateCorpus, loadCorpus, PACK_SET, reportRuleSets, SHIPPED_SET, STOCK_SET } from '../bench/detection-corpus';
import { RecordingWriter } from '../src/sources/recording';
import { REPO_ROOT } from './support/paths';

describe('detection: corpus report', () => {
  const corpus = loadCorpus();
  const reports = evaluateCorpus(corpus, reportRuleSets());
  const byName = (name: string) => {
    const r = reports.find((x) => x.name === name);
    assert.ok(r, name);
    return r;
  };

  it('the pack catches every theft whose execs carry a keychain path, in any spelling', () => {
    const pack = byName(PACK_SET);
    const missed = pack.thefts.filter((v) => v.case.keychainPathInExec && !v.fired).map((v) => v.case.id);
    assert.deepEqual(missed, []);
    assert.ok(pack.withPath >= 30, 'the corpus keeps its path-carrying thefts');
  });

  it('the pack raises no more false alarms than the stock rule, and the shipped pair no more than the stock rule', () => {
    assert.ok(byName(PACK_SET).falseAlarms <= byName(STOCK_SET).falseAlarms);
    assert.equal(byName(SHIPPED_SET).falseAlarms, byName(STOCK_SET).falseAlarms);
  });

  it('lists thefts nothing catches instead of hiding them', () => {
    const shipped = byName(SHIPPED_SET);
    const missed = shipped.thefts.filter((v) => !v.fired);
    assert.ok(missed.length > 0, 'the corpus keeps thefts with no keychain path in argv');
    assert.ok(missed.every((v) => v.case.keychainPathInExec === false));
  });

  it('the stock rule still catches what it was written for', () => {
    const stock = byName(STOCK_SET);
    const caught = new Set(stock.thefts.filter((v) => v.fired).map((v) => v.case.id));
    for (const id of ['art-t1555.001-copy-with-cat', 'security-export-identities', 'scp-exfiltration', 'unicode-kelvin-sign']) assert.ok(caught.has(id), id);
  });

  it('the pack raises at most one alert per exec, and catches every theft the stock rule catches', () => {
    const pack = byName(PACK_SET);
    for (const v of [...pack.thefts, ...pack.legitimate]) for (const fired of v.firedByExec) assert.ok(fired.length <= 1, `${v.case.id}: ${fired.join(', ')}`);
    const caughtByPack = new Set(pack.thefts.filter((v) => v.fired).map((v) => v.case.id));
    for (const v of byName(STOCK_SET).thefts) if (v.fired) assert.ok(caughtByPack.has(v.case.id), v.case.id);
  });

  it('keysentry replay (pack on by default) raises the same alerts from a recording of the corpus', async function () {
    this.timeout(120_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-corpus-replay-'));
    try {
      const file = path.join(dir, 'corpus.jsonl');
      const writer = new RecordingWriter(fs.createWriteStream(file), { host: CORPUS_HOST, source: 'corpus', startedAt: '2026-12-03T00:00:00.000Z' });
      // Cases are replayed back to back: pids restart per case, so each case's pids are offset.
      const expected: string[] = [];
      const shipped = byName(SHIPPED_SET);
      let offset = 0;
      for (const v of [...shipped.thefts, ...shipped.legitimate]) {
        for (const { record } of caseRecords(v.case)) {
          const moved = { ...record, process: { ...record.process, pid: record.process.pid + offset } };
          if (record.parent !== undefined) moved.parent = { ...record.parent, pid: record.parent.pid + offset };
          await writer.write(moved);
        }
        offset += 10_000;
        for (const fired of v.firedByExec) expected.push(...fired);
      }
      await writer.close();
      const run = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'), 'replay', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      assert.equal(run.status, 0, run.stderr);
      const got = run.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { rule: { name: string } }).rule.name);
      assert.deepEqual(got.sort(), expected.sort());
      assert.match(run.stderr, /0 rejected/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keysentry replay (pack on by default) on an ECS NDJSON export of the corpus: the same alerts, and planted keysentry fields are replaced', function () {
    this.timeout(120_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-corpus-ecs-'));
    try {
      const shipped = byName(SHIPPED_SET);
      const expected: string[] = [];
      const lines: string[] = [];
      for (const v of [...shipped.thefts, ...shipped.legitimate]) {
        for (const event of caseEvents(v.case, false)) lines.push(JSON.stringify(event));
        for (const fired of v.firedByExec) expected.push(...fired);
      }
      // A document that claims a keychain path it does not name must not alert on the claim.
      const planted = caseEvents({ id: 'planted', source: 'test', execs: [{ exe: '/bin/echo', args: ['echo', 'hi'] }] }, false)[0];
      lines.push(JSON.stringify({ ...planted, keysentry: { keychain_paths: ['/Users/alice/Library/Keychains/login.keychain-db'] } }));
      const file = path.join(dir, 'corpus.ecs.ndjson');
      fs.writeFileSync(file, lines.join('\n') + '\n');
      const run = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'), 'replay', '--format', 'ecs', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      assert.equal(run.status, 0, run.stderr);
      const got = run.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { rule: { name: string } }).rule.name);
      assert.deepEqual(got.sort(), expected.sort());
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a corpus case without a source, saying which file and case', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-corpus-'));
    try {
      fs.copyFileSync(path.join(CORPUS_DIR, 'legitimate.json'), path.join(dir, 'legitimate.json'));
      fs.writeFileSync(path.join(dir, 'thefts.json'), JSON.stringify({ cases: [{ id: 'x', keychainPathInExec: true, execs: [{ exe: '/bin/cp', args: ['cp'] }] }] }));
      assert.throws(() => loadCorpus(dir), (e: unknown) => e instanceof CorpusError && /thefts\.json: cases\[0\] \(x\): every case cites its "source"/.test(e.message));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
