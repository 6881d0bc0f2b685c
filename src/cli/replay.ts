/**
 * `keysentry replay <file|-> [--format auto|eslogger|ecs|keysentry] [--rules PATH ...] [--no-pack] [--events]`
 *
 * Streams a recorded capture through the same pipeline as the live agent and prints one ECS
 * alert per line on stdout; a summary (events, alerts, rejected lines with where and why)
 * goes to stderr.
 */
import * as fs from 'node:fs';
import { localAgentInfo } from '../alerts/agent';
import { JsonLinesSink } from '../alerts/sink';
import { hostKey } from '../process/ecs';
import { ProcessTable } from '../process/table';
import { enrichDocument, enrichEvent } from '../process/normalize';
import { loadDefaultRuleSet, loadRuleSet } from '../rules';
import type { CompiledRuleSet, RuleError } from '../rules/types';
import { printable } from '../sources/lines';
import { REPLAY_FORMATS, ReplayInputError, ReplaySource, type ReplayFormatOption } from '../sources/replay';
import { CliError } from './errors';
import { runPipeline, type PipelineStats } from './pipeline';

const USAGE = `usage: keysentry replay <file|-> [--format ${REPLAY_FORMATS.join('|')}] [--rules PATH ...] [--no-pack] [--events]`;

interface ReplayArgs {
  input: string;
  format: ReplayFormatOption;
  rules: string[];
  /** Without --rules: the keysentry keychain pack (rules/keysentry-keychain) runs beside the stock rule unless --no-pack. */
  pack: boolean;
  events: boolean;
}

function parseArgs(argv: string[]): ReplayArgs {
  let input: string | undefined;
  let format: ReplayFormatOption = 'auto';
  const rules: string[] = [];
  let events = false;
  let pack = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new CliError(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    if (flag === '--format') {
      const f = value();
      if (!(REPLAY_FORMATS as readonly string[]).includes(f)) throw new CliError(`unknown --format '${printable(f, 40)}' (expected ${REPLAY_FORMATS.join(', ')})`);
      format = f as ReplayFormatOption;
    } else if (flag === '--rules') {
      rules.push(value());
    } else if (flag === '--events') {
      events = true;
    } else if (flag === '--no-pack') {
      pack = false;
    } else if (flag === '--help' || flag === '-h') {
      throw new CliError(USAGE, 0);
    } else if (arg.startsWith('-') && arg !== '-') {
      throw new CliError(`unknown option '${printable(arg, 40)}'\n${USAGE}`);
    } else if (input === undefined) {
      input = arg;
    } else {
      throw new CliError(`one input only (got '${printable(input, 60)}' and '${printable(arg, 60)}')`);
    }
  }
  if (input === undefined) throw new CliError(`no input file\n${USAGE}`);
  return { input, format, rules, pack, events };
}

function describeRuleError(e: RuleError): string {
  const at = e.line === undefined ? e.source : `${e.source}:${e.line}${e.column === undefined ? '' : `:${e.column}`}`;
  return `${at}: ${e.name === undefined ? '' : `rule '${e.name}': `}${e.message}`;
}

function loadRules(paths: string[], pack: boolean): CompiledRuleSet {
  let rules: CompiledRuleSet;
  try {
    rules = paths.length > 0 ? loadRuleSet(paths) : loadDefaultRuleSet({ withPack: pack });
  } catch (err) {
    throw new CliError(`cannot load rules: ${err instanceof Error ? err.message : String(err)}`);
  }
  const first = rules.errors[0];
  if (first !== undefined) {
    const more = rules.errors.length > 1 ? ` (and ${rules.errors.length - 1} more rule errors)` : '';
    throw new CliError(`cannot load rules: ${describeRuleError(first)}${more}`);
  }
  for (const u of rules.unsupported) process.stderr.write(`keysentry replay: rule '${u.meta.name}' (${u.meta.source}) cannot run on single events: ${u.reason}\n`);
  return rules;
}

async function openInput(input: string): Promise<{ stream: NodeJS.ReadableStream & { destroy(): void }; label: string }> {
  if (input === '-') return { stream: process.stdin, label: 'stdin' };
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(input, 'r');
  } catch (err) {
    throw new CliError(`cannot read ${input}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if ((await handle.stat()).isDirectory()) {
    await handle.close();
    throw new CliError(`cannot read ${input}: it is a directory`);
  }
  return { stream: handle.createReadStream({ highWaterMark: 64 * 1024 }), label: input };
}

function summary(label: string, format: string, stats: PipelineStats): string {
  const lines = [
    `keysentry replay: ${label} (${format}): ${stats.events} events, ${stats.records} records, ${stats.alerts} alerts, ` +
      `${stats.rejected} rejected, ${stats.lost} lost`,
  ];
  for (const r of stats.rejections) lines.push(`  ${r.where}: ${r.reason}`);
  if (stats.rejected > stats.rejections.length) lines.push(`  ... and ${stats.rejected - stats.rejections.length} more rejected`);
  return lines.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const rules = loadRules(args.rules, args.pack);
  const { stream, label } = await openInput(args.input);
  const source = new ReplaySource({ input: stream as AsyncIterable<Buffer>, label, format: args.format });
  try {
    const opened = await source.open();
    const host = opened.host ?? { osType: 'macos' };
    const out = new JsonLinesSink(process.stdout);
    const stats = await runPipeline({
      source,
      table: new ProcessTable({ hostId: hostKey(host) }),
      host,
      agent: localAgentInfo(),
      rules,
      sinks: [out],
      enrich: enrichEvent,
      enrichDocument,
      ...(args.events ? { onEvent: (doc) => out.write(doc) } : {}),
    });
    process.stderr.write(summary(label, opened.format ?? 'empty', stats));
    return 0;
  } catch (err) {
    throw replayFailure(err, label);
  } finally {
    stream.destroy();
  }
}

/**
 * A replay input's failure (input that is not a capture, a file that cannot be read) as its
 * one-line CLI error; anything else is a bug and stays as it is.
 */
export function replayFailure(err: unknown, label: string): unknown {
  if (err instanceof ReplayInputError) return new CliError(err.message);
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && code.startsWith('E')) return new CliError(`cannot read ${label}: ${code}`);
  return err;
}
