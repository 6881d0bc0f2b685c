/**
 * `keysentry <command> [...]`: dispatches to one module per command under src/cli/.
 * Each command module exports `run(argv): Promise<number>` (the exit status).
 */
import { CliError } from './errors';

type CommandModule = { run(argv: string[]): Promise<number> };

// Loaded lazily so `keysentry replay` never pays for the collector's SQLite, and so on.
const COMMANDS: Record<string, { summary: string; load: () => CommandModule }> = {
  rules: { summary: 'check, compile and test detection rules (Elastic EQL)', load: () => require('./rules') as CommandModule },
  replay: { summary: 'replay a capture (eslogger, ECS NDJSON, keysentry recording) through the rules', load: () => require('./replay') as CommandModule },
  start: { summary: 'npm start: agent + embedded loopback collector, end to end with nothing configured', load: () => require('./start') as CommandModule },
  collector: { summary: 'accept agents over ws(s):// and store their alerts in SQLite', load: () => require('./collector') as CommandModule },
  alerts: { summary: 'list alerts stored by the collector (table or --json lines)', load: () => require('./alerts') as CommandModule },
  run: { summary: 'the live agent: watch every exec, print alerts as JSON lines (root)', load: () => require('./run') as CommandModule },
  record: { summary: 'record the live exec/fork/exit stream to a file for replay (root)', load: () => require('./record') as CommandModule },
  status: { summary: 'ask the running agent: source, rules, events/s, drops, spool, delivery', load: () => require('./status') as CommandModule },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(16)}${c.summary}`);
  return `usage: keysentry <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`keysentry: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  try {
    return await command.load().run(rest);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`keysentry ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

export function cli(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`keysentry: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 70;
    },
  );
}

if (require.main === module) cli();
