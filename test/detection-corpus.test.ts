import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CORPUS_DIR, CorpusError, evaluateCorpus, loadCorpus, PACK_SET, reportRuleSets, SHIPPED_SET, STOCK_SET } from '../bench/detection-corpus';

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
