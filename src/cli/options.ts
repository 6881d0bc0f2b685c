/** Option parsing shared by the collector-side commands (node:util parseArgs, strict, with --help). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './errors';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * The parsed values, or null when --help/-h asked for `usage` (already printed). An unknown
 * option or a missing value is a CliError that quotes `usage`.
 */
export function parseCommandOptions<const O extends Options>(argv: string[], options: O, usage: string): ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'] | null {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    return null;
  }
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${usage}`);
  }
}
