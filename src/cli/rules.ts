/**
 * `keysentry rules check <paths...>`            load and compile; per rule OK / unsupported (why) / error (where)
 * `keysentry rules compile <paths...> -o FILE`  write the compiled rule set (FILE.bin binary, FILE.json JSON)
 * `keysentry rules test <rules...> <events>`    run rules over an ECS NDJSON file; print which rule fired where
 */
import * as fs from 'node:fs';
import { CliError } from './errors';
import { DEFAULT_MAX_LINE_BYTES, decodeLine, parseJson, printable, splitLines } from '../sources/lines';
import { compileRuleFiles, CompiledRuleSetError, describeFields, loadRuleSet, type CompiledRuleSet, type RuleError } from '../rules';

const USAGE = `usage:
  keysentry rules check [-v] <rule files or folders...>   (-v: each field's pattern count and matcher strategies)
  keysentry rules compile <rule files or folders...> -o <rules.bin|rules.json> [--allow-errors]
  keysentry rules test <rule files, folders or compiled set...> <events.ndjson>
`;

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

function check(args: string[]): number {
  const verbose = args.includes('-v') || args.includes('--verbose');
  const paths = args.filter((a) => a !== '-v' && a !== '--verbose');
  if (paths.length === 0) throw new CliError(`rules check needs at least one path\n${USAGE}`);
  const set = loadRuleSet(paths);
  process.stdout.write(report(set));
  if (verbose) {
    for (const f of describeFields(set)) process.stdout.write(`field        ${f.path} (${f.kind}): ${f.patterns} patterns${f.strategies.length > 0 ? `: ${f.strategies.join(' + ')}` : ''}\n`);
  }
  return set.errors.length > 0 ? 1 : 0;
}

function compile(args: string[]): number {
  const paths: string[] = [];
  let output: string | undefined;
  let allowErrors = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-o' || a === '--output') {
      output = args[++i];
      if (output === undefined) throw new CliError(`${a} needs a file name`);
    } else if (a === '--allow-errors') {
      allowErrors = true;
    } else {
      paths.push(a);
    }
  }
  if (output === undefined || paths.length === 0) throw new CliError(`rules compile needs rule paths and -o <file>\n${USAGE}`);
  const { set, written } = compileRuleFiles(paths, output, { writeWithErrors: allowErrors });
  if (!written) {
    process.stdout.write(report(set));
    process.stderr.write(`not writing ${output}: fix the errors above or pass --allow-errors\n`);
    return 1;
  }
  process.stdout.write(`${set.rules.length} rules compiled (${set.unsupported.length} unsupported, ${set.errors.length} errors) -> ${output}\n`);
  return set.errors.length > 0 ? 1 : 0;
}

async function test(args: string[]): Promise<number> {
  if (args.length < 2) throw new CliError(`rules test needs rules and an events file\n${USAGE}`);
  const eventsFile = args[args.length - 1] as string;
  const set = loadRuleSet(args.slice(0, -1));
  for (const e of set.errors) process.stderr.write(`rule error: ${formatError(e)}\n`);
  if (set.rules.length === 0) throw new CliError('no rule loaded', 1);
  let input: fs.ReadStream;
  try {
    fs.accessSync(eventsFile, fs.constants.R_OK);
    input = fs.createReadStream(eventsFile);
  } catch (err) {
    throw new CliError(`cannot read ${eventsFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let events = 0;
  let alerts = 0;
  let rejected = 0;
  const skip = (lineNo: number, why: string): void => {
    rejected++;
    process.stderr.write(`${eventsFile}:${lineNo}: skipped: ${why}\n`);
  };
  for await (const batch of splitLines(input)) {
    for (const raw of batch) {
      if ('tooLongBytes' in raw) {
        skip(raw.lineNo, `line of ${raw.tooLongBytes} bytes is longer than ${DEFAULT_MAX_LINE_BYTES}`);
        continue;
      }
      const line = decodeLine(raw.bytes);
      if ('blank' in line) continue;
      if ('reason' in line) {
        skip(raw.lineNo, line.reason);
        continue;
      }
      const parsed = parseJson(line.text);
      if ('reason' in parsed) {
        skip(raw.lineNo, parsed.reason);
        continue;
      }
      const doc = parsed.value;
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
        skip(raw.lineNo, 'not a JSON object');
        continue;
      }
      events++;
      const id = eventId(doc);
      for (const rule of set.evaluate(doc)) {
        alerts++;
        process.stdout.write(`${eventsFile}:${raw.lineNo}${id === undefined ? '' : ` event.id=${printable(id, 80)}`}: ${rule.name} [${rule.id}]\n`);
      }
    }
  }
  process.stdout.write(`${events} events, ${alerts} alerts, ${rejected} lines skipped\n`);
  return rejected > 0 && events === 0 ? 1 : 0;
}

function eventId(doc: object): string | undefined {
  const d = doc as { event?: { id?: unknown }; 'event.id'?: unknown };
  const id = d.event?.id ?? d['event.id'];
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}
