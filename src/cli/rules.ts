/**
 * `keysentry rules check <paths...>`            load and compile; per rule OK / unsupported (why) / error (where)
 * `keysentry rules compile <paths...> -o FILE`  write the compiled rule set (FILE.bin binary, FILE.json JSON)
 * `keysentry rules test <rules...> <events>`    run rules over a recorded capture as `replay` does; print which rule fired where
 */
import * as fs from 'node:fs';
import { localAgentInfo } from '../alerts/agent';
import { LinesSink } from '../alerts/sink';
import type { AlertDocument } from '../alerts/types';
import { hostKey } from '../process/ecs';
import { enrichDocument, enrichEvent } from '../process/normalize';
import { ProcessTable } from '../process/table';
import { compileRuleFiles, CompiledRuleSetError, CompiledWriteError, describeFields, loadRuleSet, type CompiledRuleSet, type RuleError } from '../rules';
import { printable } from '../sources/lines';
import { ReplaySource } from '../sources/replay';
import type { EventSource, SourceItem, SourceStats } from '../sources/types';
import { CliError } from './errors';
import { parseCommandLine } from './options';
import { runPipeline } from './pipeline';
import { replayFailure } from './replay';

const CHECK_USAGE = "  keysentry rules check [-v|--verbose] <rule files or folders...>   (-v: each field's pattern count and matcher strategies)";
const COMPILE_USAGE = '  keysentry rules compile <rule files or folders...> -o|--output <rules.bin|rules.json> [--allow-errors]';
const TEST_USAGE = '  keysentry rules test <rule files, folders or compiled set...> <events|->   (events: ECS NDJSON, eslogger JSON lines or a keysentry recording)';
const USAGE = `usage:\n${CHECK_USAGE}\n${COMPILE_USAGE}\n${TEST_USAGE}\n`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'check':
        return check(rest);
      case 'compile':
        return compile(rest);
      case 'test':
        return await test(rest);
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return 0;
      default:
        throw new CliError(`${sub === undefined ? 'missing subcommand' : `unknown subcommand '${sub}'`}\n${USAGE}`);
    }
  } catch (err) {
    if (err instanceof CompiledRuleSetError) throw new CliError(err.message, 1);
    if (err instanceof CompiledWriteError) throw new CliError(err.message);
    throw err;
  }
}

export function formatError(e: RuleError): string {
  const where = e.line === undefined ? e.source : `${e.source}:${e.line}:${e.column ?? 1}`;
  return `${where}: ${e.name === undefined ? '' : `${e.name}: `}${e.message}`;
}

function report(set: CompiledRuleSet): string {
  const lines: string[] = [];
  for (const r of set.rules) lines.push(`OK           ${r.name}  (${r.source})`);
  for (const u of set.unsupported) lines.push(`unsupported  ${u.meta.name}  (${u.reason.replace(/^unsupported: /, '')})  (${u.meta.source})`);
  for (const e of set.errors) lines.push(`error        ${formatError(e)}`);
  lines.push(`${set.rules.length} OK, ${set.unsupported.length} unsupported, ${set.errors.length} errors`);
  return lines.join('\n') + '\n';
}

function check(argv: string[]): number {
  const parsed = parseCommandLine(argv, { verbose: { type: 'boolean', short: 'v' } }, `usage:\n${CHECK_USAGE}`);
  if (parsed === null) return 0;
  const paths = parsed.positionals;
  if (paths.length === 0) throw new CliError(`rules check needs at least one path\nusage:\n${CHECK_USAGE}`);
  const set = loadRuleSet(paths);
  process.stdout.write(report(set));
  if (parsed.values.verbose === true) {
    for (const f of describeFields(set)) process.stdout.write(`field        ${f.path} (${f.kind}): ${f.patterns} patterns${f.strategies.length > 0 ? `: ${f.strategies.join(' + ')}` : ''}\n`);
  }
  return set.errors.length > 0 ? 1 : 0;
}

function compile(argv: string[]): number {
  const parsed = parseCommandLine(argv, { output: { type: 'string', short: 'o' }, 'allow-errors': { type: 'boolean' } }, `usage:\n${COMPILE_USAGE}`);
  if (parsed === null) return 0;
  const paths = parsed.positionals;
  const output = parsed.values.output;
  if (output === undefined || paths.length === 0) throw new CliError(`rules compile needs rule paths and -o <file>\nusage:\n${COMPILE_USAGE}`);
  const { set, written } = compileRuleFiles(paths, output, { writeWithErrors: parsed.values['allow-errors'] === true });
  if (!written) {
    process.stdout.write(report(set));
    process.stderr.write(`not writing ${output}: fix the errors above or pass --allow-errors\n`);
    return 1;
  }
  process.stdout.write(`${set.rules.length} rules compiled (${set.unsupported.length} unsupported, ${set.errors.length} errors) -> ${output}\n`);
  return set.errors.length > 0 ? 1 : 0;
}

/**
 * Yields the source's items one at a time: the pipeline finishes an item (its alerts written) before it asks for the
 * next, so `where` names the line an alert came from.
 */
class ItemByItemSource implements EventSource {
  readonly name: string;
  where = '';

  constructor(private readonly inner: EventSource) {
    this.name = inner.name;
  }

  async *batches(): AsyncIterable<SourceItem[]> {
    for await (const batch of this.inner.batches()) {
      for (const item of batch) {
        this.where = item.where;
        yield [item];
      }
    }
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  stats(): SourceStats {
    return this.inner.stats();
  }
}

/**
 * Runs the rules over a recorded capture (any `replay` format) through replay's own pipeline (the same readers and
 * rejections, the process table, the enrichment), so a verdict here is the verdict `replay` and the agent give.
 */
async function test(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, {}, `usage:\n${TEST_USAGE}`);
  if (parsed === null) return 0;
  const { positionals } = parsed;
  if (positionals.length < 2) throw new CliError(`rules test needs rules and an events file\nusage:\n${TEST_USAGE}`);
  const eventsFile = positionals[positionals.length - 1] as string;
  const rulePaths = positionals.slice(0, -1);
  // As in replay, a rules path that is not there is a usage error (exit 2), not a rule error.
  for (const p of rulePaths) if (!fs.existsSync(p)) throw new CliError(`cannot read ${p}: ENOENT`);
  const set = loadRuleSet(rulePaths);
  for (const e of set.errors) process.stderr.write(`rule error: ${formatError(e)}\n`);
  if (set.rules.length === 0) throw new CliError('no rule loaded', 1);
  const input = openEvents(eventsFile);
  const source = new ReplaySource({ input, label: eventsFile === '-' ? 'stdin' : eventsFile, format: 'auto' });
  const items = new ItemByItemSource(source);
  const alertLine = (alert: AlertDocument): string => {
    const rule = (alert.rule ?? {}) as { id?: unknown; name?: unknown };
    const id = eventId(alert);
    return `${items.where}${id === undefined ? '' : ` event.id=${printable(id, 80)}`}: ${String(rule.name)} [${String(rule.id)}]`;
  };
  // LinesSink keeps a closed stdout (`rules test ... | head -1`) from crashing the command; the summary after it goes
  // to the same closed pipe, whose error the sink's listener already absorbs.
  const out = new LinesSink(process.stdout, alertLine);
  try {
    const opened = await source.open();
    const host = opened.host ?? { osType: 'macos' };
    const stats = await runPipeline({
      source: items,
      table: new ProcessTable({ hostId: hostKey(host) }),
      host,
      agent: localAgentInfo(),
      rules: set,
      sinks: [out],
      enrich: enrichEvent,
      enrichDocument,
      keepRejections: 0,
      onReject: (r) => process.stderr.write(`${r.where}: skipped: ${r.reason}\n`),
    });
    process.stdout.write(`${stats.events} events, ${stats.alerts} alerts, ${stats.rejected} lines skipped (${opened.format ?? 'no events'})\n`);
    return stats.rejected > 0 && stats.events === 0 ? 1 : 0;
  } catch (err) {
    throw replayFailure(err, eventsFile);
  } finally {
    input.destroy();
  }
}

/** The events file, or stdin for `-` (as replay reads it). */
function openEvents(file: string): NodeJS.ReadableStream & AsyncIterable<Buffer> & { destroy(): void } {
  if (file === '-') return process.stdin;
  try {
    if (fs.statSync(file).isDirectory()) throw new CliError(`cannot read ${file}: it is a directory`);
    fs.accessSync(file, fs.constants.R_OK);
    return fs.createReadStream(file, { highWaterMark: 64 * 1024 });
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function eventId(doc: object): string | undefined {
  const d = doc as { event?: { id?: unknown }; 'event.id'?: unknown };
  const id = d.event?.id ?? d['event.id'];
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}
