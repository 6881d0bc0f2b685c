/**
 * The detection-quality corpus (test/corpus/*.json): keychain thefts and legitimate keychain
 * administration as the execs they cause, turned into ECS events by the same stages the agent
 * runs (process table -> ECS event -> normalization) and judged by rule sets.
 *
 * Shared by `npm run detection-report`, bench/detection.bench.ts and test/detection*.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EcsProcessEvent } from '../src/model/ecs';
import type { CodeSignatureInfo, ExecRecord } from '../src/model/records';
import { CS_ADHOC, CS_SIGNED, CS_VALID } from '../src/process/codesign';
import { basename, toEcsEvent, type HostInfo } from '../src/process/ecs';
import { enrichEvent } from '../src/process/normalize';
import { ProcessTable } from '../src/process/table';
import { DEFAULT_RULES_DIR, loadRuleSet, PACK_RULES_DIR, type CompiledRuleSet } from '../src/rules';

export const CORPUS_DIR = path.resolve(__dirname, '..', '..', 'test', 'corpus');

/**
 * How an image is signed: `apple` (platform binary), `apple:<signing id>` (a platform binary
 * copied under another name), `devid:<TEAM>:<signing id>`, `adhoc`,
 * or `unsigned`. Apple-signed is the default, as for the system tools most cases run.
 */
export type SignatureSpec = string;

export interface CorpusExec {
  exe: string;
  args: string[];
  cwd?: string;
  user?: string;
  uid?: number;
  sig?: SignatureSpec;
  parent?: { exe: string; args?: string[]; sig?: SignatureSpec };
}

export interface CorpusCase {
  id: string;
  source: string;
  /** Thefts only: some exec names a keychain file or folder in argv, in some spelling. */
  keychainPathInExec?: boolean;
  execs: CorpusExec[];
}

export interface Corpus {
  thefts: CorpusCase[];
  legitimate: CorpusCase[];
}

export class CorpusError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorpusError';
  }
}

const DEFAULT_USER = { name: 'alice', uid: 501 };
export const CORPUS_HOST: HostInfo = { hostname: 'corpus-mac', id: 'corpus', osType: 'macos' };

export function loadCorpus(dir = CORPUS_DIR): Corpus {
  return { thefts: readCases(path.join(dir, 'thefts.json'), true), legitimate: readCases(path.join(dir, 'legitimate.json'), false) };
}

function readCases(file: string, thefts: boolean): CorpusCase[] {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CorpusError(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const cases = (doc as { cases?: unknown }).cases;
  if (!Array.isArray(cases)) throw new CorpusError(`${file}: expected {"cases": [...]}`);
  const seen = new Set<string>();
  return cases.map((c: unknown, i) => {
    const where = `${file}: cases[${i}]`;
    const v = c as Partial<CorpusCase>;
    if (typeof v.id !== 'string' || v.id === '') throw new CorpusError(`${where}: missing "id"`);
    if (seen.has(v.id)) throw new CorpusError(`${where}: duplicate id "${v.id}"`);
    seen.add(v.id);
    if (typeof v.source !== 'string' || v.source.trim() === '') throw new CorpusError(`${where} (${v.id}): every case cites its "source"`);
    if (thefts && typeof v.keychainPathInExec !== 'boolean') throw new CorpusError(`${where} (${v.id}): a theft says whether "keychainPathInExec"`);
    if (!Array.isArray(v.execs) || v.execs.length === 0) throw new CorpusError(`${where} (${v.id}): "execs" must be a non-empty array`);
    v.execs.forEach((e, j) => checkExec(e, `${where} (${v.id}) execs[${j}]`));
    return v as CorpusCase;
  });
}

function checkExec(e: Partial<CorpusExec>, where: string): void {
  if (typeof e.exe !== 'string' || !e.exe.startsWith('/')) throw new CorpusError(`${where}: "exe" must be an absolute path`);
  if (!Array.isArray(e.args) || e.args.length === 0 || !e.args.every((a) => typeof a === 'string')) throw new CorpusError(`${where}: "args" must be argv (strings, argv[0] first)`);
  for (const sig of [e.sig, e.parent?.sig]) if (sig !== undefined) signature(sig, where);
}

function signature(spec: SignatureSpec, where: string, exe = ''): CodeSignatureInfo {
  if (spec === 'apple') return { flags: CS_SIGNED | CS_VALID, signingId: `com.apple.${basename(exe)}`, isPlatformBinary: true };
  // A platform binary under another name (a copied /usr/bin/security keeps com.apple.security).
  if (spec.startsWith('apple:') && spec.length > 'apple:'.length) return { flags: CS_SIGNED | CS_VALID, signingId: spec.slice('apple:'.length), isPlatformBinary: true };
  if (spec === 'adhoc') return { flags: CS_SIGNED | CS_VALID | CS_ADHOC, signingId: basename(exe), isPlatformBinary: false };
  if (spec === 'unsigned') return { flags: 0, isPlatformBinary: false };
  const [kind, teamId, signingId] = spec.split(':');
  if (kind === 'devid' && teamId && signingId) return { flags: CS_SIGNED | CS_VALID, teamId, signingId, isPlatformBinary: false };
  throw new CorpusError(`${where}: signature "${spec}" is not apple, apple:SIGNING_ID, adhoc, unsigned or devid:TEAM:SIGNING_ID`);
}

/**
 * The exec records one case becomes, as a source would report them: each exec preceded by
 * its parent's exec, so the process table resolves the parent's image and signature.
 */
export function caseRecords(c: CorpusCase): { record: ExecRecord; isCaseExec: boolean }[] {
  let pid = 1000;
  let timeNs = 1_764_720_000_000_000_000n;
  return c.execs.flatMap((e) => {
    const user = e.user === undefined ? DEFAULT_USER : { name: e.user, uid: e.uid ?? 501 };
    const cwd = e.cwd ?? (user.uid === 0 ? '/var/root' : `/Users/${user.name}`);
    const parentExe = e.parent?.exe ?? '/bin/zsh';
    const parentPid = pid++;
    const parent: ExecRecord = {
      kind: 'exec',
      timeNs: timeNs++,
      process: { pid: parentPid, pidversion: 1, executable: parentExe, codeSignature: signature(e.parent?.sig ?? 'apple', c.id, parentExe) },
      args: e.parent?.args ?? [basename(parentExe)],
      argsComplete: true,
      cwd,
      uid: user.uid,
      userName: user.name,
    };
    const record: ExecRecord = {
      kind: 'exec',
      timeNs: timeNs++,
      process: { pid: pid++, pidversion: 1, executable: e.exe, codeSignature: signature(e.sig ?? 'apple', c.id, e.exe) },
      args: e.args,
      argsComplete: true,
      cwd,
      uid: user.uid,
      euid: user.uid,
      userName: user.name,
      parent: { pid: parentPid, pidversion: 1 },
    };
    return [
      { record: parent, isCaseExec: false },
      { record, isCaseExec: true },
    ];
  });
}

/** The ECS events of one case's execs (not of their parents), through a process table. */
export function caseEvents(c: CorpusCase, enrich: boolean): EcsProcessEvent[] {
  const table = new ProcessTable({ hostId: CORPUS_HOST.id ?? '' });
  const events: EcsProcessEvent[] = [];
  for (const { record, isCaseExec } of caseRecords(c)) {
    const resolution = table.apply(record);
    if (!isCaseExec) continue;
    const event = toEcsEvent(record, resolution, CORPUS_HOST);
    if (enrich) enrichEvent(event);
    events.push(event);
  }
  return events;
}

export interface RuleSetUnderTest {
  name: string;
  rules: CompiledRuleSet;
}

export const STOCK_SET = 'default rule';
export const PACK_SET = 'keysentry pack';
export const SHIPPED_SET = 'default + keysentry pack';

/** The stock rule alone, the pack's rules alone, and both (what keysentry loads unless told otherwise). */
export function reportRuleSets(): RuleSetUnderTest[] {
  return [
    { name: STOCK_SET, rules: loadChecked([DEFAULT_RULES_DIR]) },
    { name: PACK_SET, rules: loadChecked([PACK_RULES_DIR]) },
    { name: SHIPPED_SET, rules: loadChecked([DEFAULT_RULES_DIR, PACK_RULES_DIR]) },
  ];
}

function loadChecked(paths: string[]): CompiledRuleSet {
  const set = loadRuleSet(paths);
  const problems = [...set.errors.map((e) => `${e.source}${e.line ? `:${e.line}` : ''}: ${e.message}`), ...set.unsupported.map((u) => `${u.meta.source}: unsupported: ${u.reason}`)];
  if (problems.length > 0) throw new CorpusError(`rules did not all load:\n  ${problems.join('\n  ')}`);
  return set;
}

export interface CaseVerdict {
  case: CorpusCase;
  /** Rule names that fired, per exec (empty when none did). */
  firedByExec: string[][];
  fired: boolean;
}

export function judge(c: CorpusCase, rules: CompiledRuleSet): CaseVerdict {
  const firedByExec = caseEvents(c, true).map((e) => rules.evaluate(e).map((r) => r.name));
  return { case: c, firedByExec, fired: firedByExec.some((f) => f.length > 0) };
}

export interface SetReport {
  name: string;
  thefts: CaseVerdict[];
  legitimate: CaseVerdict[];
  caught: number;
  /** Thefts whose execs carry a keychain path, and how many of those were caught. */
  withPath: number;
  caughtWithPath: number;
  falseAlarms: number;
}

export function evaluateCorpus(corpus: Corpus, sets: readonly RuleSetUnderTest[]): SetReport[] {
  return sets.map(({ name, rules }) => {
    const thefts = corpus.thefts.map((c) => judge(c, rules));
    const legitimate = corpus.legitimate.map((c) => judge(c, rules));
    const withPathVerdicts = thefts.filter((v) => v.case.keychainPathInExec === true);
    return {
      name,
      thefts,
      legitimate,
      caught: thefts.filter((v) => v.fired).length,
      withPath: withPathVerdicts.length,
      caughtWithPath: withPathVerdicts.filter((v) => v.fired).length,
      falseAlarms: legitimate.filter((v) => v.fired).length,
    };
  });
}

/** Markdown: the summary table, then each set's misses and false alarms. */
export function formatReport(corpus: Corpus, reports: readonly SetReport[]): string {
  const lines: string[] = [];
  lines.push(`Corpus: ${corpus.thefts.length} thefts (${corpus.thefts.filter((c) => c.keychainPathInExec).length} with a keychain path in some exec), ${corpus.legitimate.length} legitimate administration cases.`, '');
  lines.push('| rule set | thefts caught | thefts with a keychain path caught | false alarms on legitimate cases |');
  lines.push('|---|---|---|---|');
  for (const r of reports) lines.push(`| ${r.name} | ${r.caught} / ${r.thefts.length} | ${r.caughtWithPath} / ${r.withPath} | ${r.falseAlarms} / ${r.legitimate.length} |`);
  for (const r of reports) {
    lines.push('', `### ${r.name}: missed thefts`, '');
    const misses = r.thefts.filter((v) => !v.fired);
    if (misses.length === 0) lines.push('(none)');
    for (const v of misses) lines.push(`- ${v.case.id}${v.case.keychainPathInExec ? '' : ' (no keychain path in any exec)'}: ${v.case.source}`);
    lines.push('', `### ${r.name}: false alarms`, '');
    const alarms = r.legitimate.filter((v) => v.fired);
    if (alarms.length === 0) lines.push('(none)');
    for (const v of alarms) lines.push(`- ${v.case.id} (${[...new Set(v.firedByExec.flat())].join(', ')}): ${v.case.source}`);
  }
  return lines.join('\n') + '\n';
}
