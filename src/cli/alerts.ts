/**
 * `keysentry alerts [--db PATH] [--since T] [--host H] [--rule R] [--limit N] [--json]`:
 * lists stored alerts, oldest first: a table, or with --json the full documents as JSON lines.
 */
import * as fs from 'node:fs';
import { AlertReader, type StoredAlert } from '../collector/store';
import { printable } from '../sources/lines';
import { CliError } from './errors';
import { parseCommandOptions } from './options';

const USAGE =
  'usage: keysentry alerts [--db PATH] [--since T] [--host H] [--rule R] [--limit N] [--json]\n' +
  '  --since  ISO-8601 time (2026-01-31T08:00:00Z) or an age: 90s, 15m, 6h, 2d\n' +
  '  --rule   rule name or rule id\n' +
  '  --limit  at most N alerts (the newest N), default all';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseSince(value: string, now = Date.now()): string {
  const rel = /^(\d{1,9})([smhd])$/.exec(value);
  if (rel) return new Date(now - Number(rel[1]) * (UNITS[rel[2] as string] as number)).toISOString();
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(t)) throw new CliError(`--since: expected an ISO-8601 time or an age like 15m, 6h, 2d; got '${value}'`);
  return new Date(t).toISOString();
}

/** Alert fields are attacker-controlled: never let them drive the terminal. */
function cell(s: string | null, width: number): string {
  return printable(s ?? '-', width - 1);
}

function commandLine(doc: string): string | null {
  try {
    const parsed = JSON.parse(doc) as { process?: { command_line?: unknown; executable?: unknown } };
    const cl = parsed.process?.command_line ?? parsed.process?.executable;
    return typeof cl === 'string' ? cl : null;
  } catch {
    return null;
  }
}

/** Stored alerts as a fixed-width table, one line each. */
export function formatAlertTable(rows: StoredAlert[]): string {
  const header = ['TIME', 'HOST', 'SEVERITY', 'RULE', 'PROCESS'];
  const widths = [31, 24, 8, 48, 80];
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ');
  const body = rows.map((r) =>
    line([r.time, r.host, r.severity, r.ruleName ?? r.ruleId, commandLine(r.doc)].map((v, i) => cell(v, widths[i] as number))),
  );
  return [line(header), ...body].join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const values = parseCommandOptions(
    argv,
    {
      db: { type: 'string', default: 'keysentry-collector.db' },
      since: { type: 'string' },
      host: { type: 'string' },
      rule: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    USAGE,
  );
  if (values === null) return 0;
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) throw new CliError(`--limit: expected a positive integer, got '${values.limit}'`);
  if (!fs.existsSync(values.db)) throw new CliError(`${values.db}: no such collector database (use --db PATH)`);
  const since = values.since === undefined ? undefined : parseSince(values.since);
  let rows: StoredAlert[];
  try {
    const reader = new AlertReader(values.db);
    try {
      rows = reader.alerts({ since, host: values.host, rule: values.rule, newest: limit });
    } finally {
      reader.close();
    }
  } catch (err) {
    throw new CliError(`${values.db}: not a readable keysentry collector database (${(err as Error).message})`, 1);
  }
  if (values.json) for (const r of rows) process.stdout.write(`${r.doc}\n`);
  else process.stdout.write(rows.length === 0 ? 'no alerts\n' : formatAlertTable(rows));
  return 0;
}
