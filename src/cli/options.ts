/** Option parsing shared by the commands (node:util parseArgs, strict, with --help). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './errors';

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>>;

/**
 * The parsed options and positional arguments, or null when --help/-h asked for `usage` (already printed).
 * An unknown option or a missing value is a CliError that quotes `usage`.
 */
export function parseCommandLine<const O extends Options>(argv: string[], options: O, usage: string): { values: Parsed<O>['values']; positionals: string[] } | null {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    return null;
  }
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    return { values, positionals };
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${usage}`);
  }
}

/** parseCommandLine for commands that take no positional arguments. */
export function parseCommandOptions<const O extends Options>(argv: string[], options: O, usage: string): Parsed<O>['values'] | null {
  const parsed = parseCommandLine(argv, options, usage);
  if (parsed === null) return null;
  if (parsed.positionals.length > 0) throw new CliError(`unexpected argument '${parsed.positionals[0]}'\n${usage}`);
  return parsed.values;
}
