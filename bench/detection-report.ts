/**
 * `npm run detection-report`: the corpus (test/corpus) judged by Elastic's stock keychain rule
 * alone and with the keysentry pack; prints the table, the misses and the false alarms.
 * Exits 1 when the pack misses a theft whose execs carry a keychain path, or raises more
 * false alarms than the stock rule: the pack's two promises.
 */
import { CorpusError, evaluateCorpus, formatReport, loadCorpus, PACK_SET, reportRuleSets, STOCK_SET } from './detection-corpus';

function main(): number {
  const corpus = loadCorpus();
  const reports = evaluateCorpus(corpus, reportRuleSets());
  const stock = reports.find((r) => r.name === STOCK_SET);
  const pack = reports.find((r) => r.name === PACK_SET);
  if (stock === undefined || pack === undefined) throw new CorpusError('the report needs the stock rule and the pack');
  process.stdout.write(formatReport(corpus, reports));
  const broken: string[] = [];
  if (pack.caughtWithPath < pack.withPath) broken.push(`the pack misses ${pack.withPath - pack.caughtWithPath} theft(s) with a keychain path in argv`);
  if (pack.falseAlarms > stock.falseAlarms) broken.push(`the pack raises ${pack.falseAlarms} false alarms, the stock rule ${stock.falseAlarms}`);
  for (const b of broken) process.stderr.write(`detection-report: ${b}\n`);
  return broken.length === 0 ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (err) {
  process.stderr.write(`detection-report: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
