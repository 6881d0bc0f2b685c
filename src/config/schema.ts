/**
 * The config file's keys (snake_case, as written in config.toml / config.json), what each
 * accepts, and where it lands in AgentConfig. Validation collects every problem so an
 * administrator fixes the file in one pass.
 */
import { LOG_LEVELS, SOURCE_CHOICES, type AgentConfig } from './types';

/** A value the file got wrong: the message says what was expected and what was there. */
class BadValue extends Error {}

class Field {
  constructor(
    /** One line for the configuration reference: type and meaning. */
    readonly doc: string,
    /** Parses the raw value (throwing BadValue) and stores it in the config. */
    readonly apply: (config: AgentConfig, raw: unknown) => void,
  ) {}
}

function field<T>(doc: string, parse: (raw: unknown) => T, set: (config: AgentConfig, value: T) => void): Field {
  return new Field(doc, (config, raw) => set(config, parse(raw)));
}

interface Section {
  [key: string]: Field | Section;
}

function show(raw: unknown): string {
  if (raw instanceof Date) return 'a date';
  if (Array.isArray(raw)) return 'an array';
  if (raw !== null && typeof raw === 'object') return 'a table';
  const text = typeof raw === 'string' ? `'${raw}'` : String(raw);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function expected(what: string, raw: unknown): BadValue {
  return new BadValue(`expected ${what}, got ${show(raw)}`);
}

function asString(raw: unknown): string {
  if (typeof raw !== 'string') throw expected('a string', raw);
  return raw;
}

function asBool(raw: unknown): boolean {
  if (typeof raw !== 'boolean') throw expected('true or false', raw);
  return raw;
}

function asAbsolutePath(raw: unknown): string {
  const value = asString(raw);
  if (!value.startsWith('/') || value.includes('\0')) throw expected('an absolute path', raw);
  return value;
}

function asList<T>(item: (raw: unknown) => T, minLength = 0): (raw: unknown) => T[] {
  return (raw) => {
    if (!Array.isArray(raw)) throw expected('an array', raw);
    if (raw.length < minLength) throw new BadValue(`expected at least ${minLength} entr${minLength === 1 ? 'y' : 'ies'}, got none`);
    return raw.map((element, index) => {
      try {
        return item(element);
      } catch (err) {
        if (err instanceof BadValue) throw new BadValue(`[${index}]: ${err.message}`);
        throw err;
      }
    });
  };
}

const TEAM_ID = /^[A-Z0-9]{10}$/;

function asTeamId(raw: unknown): string {
  const value = asString(raw);
  if (!TEAM_ID.test(value)) throw expected('a 10-character Apple team ID (A-Z, 0-9)', raw);
  return value;
}

/** "TEAMID:signing.id" or "platform:signing.id": a signing id means nothing without its signer. */
function asQualifiedSigningId(raw: unknown): string {
  const value = asString(raw);
  const colon = value.indexOf(':');
  const signer = value.slice(0, colon);
  if (colon <= 0 || colon === value.length - 1 || (signer !== 'platform' && !TEAM_ID.test(signer))) {
    throw expected("'TEAMID:signing.id' or 'platform:signing.id'", raw);
  }
  return value;
}

function asEnum<T extends string>(values: readonly T[]): (raw: unknown) => T {
  return (raw) => {
    if (typeof raw !== 'string' || !(values as readonly string[]).includes(raw)) {
      throw expected(`one of ${values.join(', ')}`, raw);
    }
    return raw as T;
  };
}

function asIntegerIn(min: number, max: number): (raw: unknown) => number {
  return (raw) => {
    if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < min || raw > max) {
      throw expected(`an integer from ${min} to ${max}`, raw);
    }
    return raw;
  };
}

const SIZE_UNITS = new Map<string, number>([
  ['', 1], ['B', 1], ['KB', 1e3], ['MB', 1e6], ['GB', 1e9], ['KIB', 1024], ['MIB', 1024 ** 2], ['GIB', 1024 ** 3],
]);
const DURATION_UNITS = new Map<string, number>([['s', 1000], ['m', 60_000], ['h', 3_600_000], ['d', 86_400_000]]);

interface Quantity {
  /** The expectation named in the error. */
  what: string;
  /** Suffix (after `unitOf`) -> multiplier. */
  units: Map<string, number>;
  unitOf: (suffix: string) => string;
  /** What a bare number counts in (1 for bytes, 1000 for seconds -> ms). */
  scaleOfBareNumber: number;
  /** Smallest value accepted (after scaling); 0 allowed only when min is 0. */
  min: number;
}

function asQuantity({ what, units, unitOf, scaleOfBareNumber, min }: Quantity): (raw: unknown) => number {
  return (raw) => {
    let value: number | undefined;
    if (typeof raw === 'number') {
      value = Number.isSafeInteger(raw) && raw >= 0 ? raw * scaleOfBareNumber : undefined;
    } else if (typeof raw === 'string') {
      const parts = /^(\d+(?:\.\d+)?) ?([A-Za-z]*)$/.exec(raw.trim());
      const multiplier = parts === null ? undefined : units.get(unitOf(parts[2]));
      value = parts === null || multiplier === undefined ? undefined : Math.round(Number(parts[1]) * multiplier);
    }
    if (value === undefined || !Number.isSafeInteger(value)) throw expected(what, raw);
    if (value < min) throw expected(`${what} of at least ${min}${scaleOfBareNumber === 1 ? ' bytes' : ' ms'}`, raw);
    return value;
  };
}

const asSize = asQuantity({
  what: "a size (bytes, or a string like '50MiB', '10MB')",
  units: SIZE_UNITS,
  unitOf: (s) => s.toUpperCase(),
  scaleOfBareNumber: 1,
  // A smaller log file or spool would rotate or drop on nearly every line.
  min: 4096,
});
const asDuration = asQuantity({
  what: "a duration (seconds, or a string like '7d', '12h', '30m')",
  units: DURATION_UNITS,
  unitOf: (s) => s,
  scaleOfBareNumber: 1000,
  min: 0,
});

function asCollectorUrl(raw: unknown): string {
  const value = asString(raw);
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'ws:' && url.protocol !== 'wss:') || url.hostname === '') {
    throw expected('ws:// or wss:// URL', raw);
  }
  return value;
}

export const CONFIG_SCHEMA: Section = {
  source: field(`string, one of ${SOURCE_CHOICES.join('|')}: which event source to run`, asEnum(SOURCE_CHOICES), (c, v) => {
    c.source = v;
  }),
  rules: {
    paths: field('array of absolute paths (rule files or directories), at least one', asList(asAbsolutePath, 1), (c, v) => {
      c.rules.paths = v;
    }),
  },
  delivery: {
    url: field('string, ws:// or wss:// URL of the collector', asCollectorUrl, (c, v) => {
      c.delivery.url = v;
    }),
    token_file: field('absolute path of the file holding the bearer token', asAbsolutePath, (c, v) => {
      c.delivery.tokenFile = v;
    }),
    tls: {
      ca_file: field('absolute path, PEM CA bundle for the collector certificate', asAbsolutePath, (c, v) => {
        c.delivery.tls.caFile = v;
      }),
      cert_file: field('absolute path, PEM client certificate (mutual TLS)', asAbsolutePath, (c, v) => {
        c.delivery.tls.certFile = v;
      }),
      key_file: field('absolute path, PEM client key (mutual TLS)', asAbsolutePath, (c, v) => {
        c.delivery.tls.keyFile = v;
      }),
      verify: field('boolean, verify the collector certificate', asBool, (c, v) => {
        c.delivery.tls.verify = v;
      }),
    },
  },
  state: {
    directory: field('absolute path of the state directory (spool)', asAbsolutePath, (c, v) => {
      c.state.directory = v;
    }),
    spool_max_size: field('size, the most the delivery spool may hold on disk', asSize, (c, v) => {
      c.state.spoolMaxBytes = v;
    }),
  },
  log: {
    level: field(`string, one of ${LOG_LEVELS.join('|')}`, asEnum(LOG_LEVELS), (c, v) => {
      c.log.level = v;
    }),
    directory: field('absolute path of the log directory', asAbsolutePath, (c, v) => {
      c.log.directory = v;
    }),
    max_size: field('size, rotate a log file before it grows past this', asSize, (c, v) => {
      c.log.maxSizeBytes = v;
    }),
    max_age: field('duration, rotate a log file older than this (0: never by age)', asDuration, (c, v) => {
      c.log.maxAgeMs = v;
    }),
    max_files: field('integer 1..1000, rotated files kept per log', asIntegerIn(1, 1000), (c, v) => {
      c.log.maxFiles = v;
    }),
    stderr: field('boolean, also write the agent log to stderr', asBool, (c, v) => {
      c.log.stderr = v;
    }),
  },
  mute: {
    paths: field('array of absolute path prefixes of process.executable', asList(asAbsolutePath), (c, v) => {
      c.mute.pathPrefixes = v;
    }),
    signing_ids: field("array of 'TEAMID:signing.id' or 'platform:signing.id' (trusted signatures only)", asList(asQualifiedSigningId), (c, v) => {
      c.mute.signingIds = v;
    }),
    team_ids: field('array of Apple team IDs (process.code_signature.team_id, trusted signatures only)', asList(asTeamId), (c, v) => {
      c.mute.teamIds = v;
    }),
  },
  status: {
    socket: field('absolute path of the status socket', asAbsolutePath, (c, v) => {
      c.status.socket = v;
    }),
  },
};

/** Levenshtein distance, for did-you-mean on unknown keys (keys are short; the file is the admin's). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

function suggestion(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const lower = key.toLowerCase();
    // "logging" for "log", "token" for "token_file": one word is the start of the other.
    const distance = lower.startsWith(candidate) || candidate.startsWith(lower) ? 1 : editDistance(lower, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function isTable(raw: unknown): raw is Record<string, unknown> {
  return raw !== null && typeof raw === 'object' && !Array.isArray(raw) && !(raw instanceof Date);
}

/** Applies `raw` onto `config` (which holds the defaults); returns "key: problem" lines. */
export function applyConfigFile(config: AgentConfig, raw: unknown): string[] {
  const problems: string[] = [];
  const walk = (section: Section, value: unknown, prefix: string) => {
    if (!isTable(value)) {
      problems.push(`${prefix === '' ? '(top level)' : prefix}: expected a table, got ${show(value)}`);
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      const name = prefix === '' ? key : `${prefix}.${key}`;
      const spec = Object.prototype.hasOwnProperty.call(section, key) ? section[key] : undefined;
      if (spec === undefined) {
        const near = suggestion(key, Object.keys(section));
        problems.push(`${name}: unknown key${near === undefined ? '' : ` (did you mean '${prefix === '' ? near : `${prefix}.${near}`}'?)`}`);
      } else if (spec instanceof Field) {
        try {
          spec.apply(config, child);
        } catch (err) {
          if (!(err instanceof BadValue)) throw err;
          problems.push(err.message.startsWith('[') ? `${name}${err.message}` : `${name}: ${err.message}`);
        }
      } else {
        walk(spec, child, name);
      }
    }
  };
  walk(CONFIG_SCHEMA, raw, '');
  return problems;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Rules that involve more than one key. */
export function crossCheck(config: AgentConfig): string[] {
  const problems: string[] = [];
  const { tls, url, tokenFile } = config.delivery;
  if ((tls.certFile === null) !== (tls.keyFile === null)) {
    problems.push(`delivery.tls: cert_file and key_file go together (got only ${tls.certFile === null ? 'key_file' : 'cert_file'})`);
  }
  if (url !== null && tokenFile !== null) {
    const parsed = new URL(url);
    if (parsed.protocol === 'ws:' && !LOOPBACK_HOSTS.has(parsed.hostname)) {
      problems.push(`delivery.url: refusing to send the token in clear text over ws:// to ${parsed.hostname}; use wss://`);
    }
  }
  if (url === null && tokenFile !== null) problems.push('delivery.token_file: set, but delivery.url is not');
  return problems;
}

/** The reference table docs/daemon.md is checked against: "dotted.key  type and meaning". */
export function schemaReference(): Array<{ key: string; doc: string }> {
  const rows: Array<{ key: string; doc: string }> = [];
  const walk = (section: Section, prefix: string) => {
    for (const [key, spec] of Object.entries(section)) {
      const name = prefix === '' ? key : `${prefix}.${key}`;
      if (spec instanceof Field) rows.push({ key: name, doc: spec.doc });
      else walk(spec, name);
    }
  };
  walk(CONFIG_SCHEMA, '');
  return rows;
}
