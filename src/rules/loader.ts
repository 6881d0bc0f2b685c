/**
 * Reads rule files: Elastic detection-rule TOML (`[metadata]`, `[rule]`, `[[rule.threat]]`) and small keysentry
 * rules (TOML or JSON with top-level `name`, `rule_id`, `severity`, `risk_score`, `query`).
 * A bad file becomes a RuleError with its location; it never stops the other files from loading.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { locateQuery, type QueryLocator } from './query-location';
import type { MitreRef, RuleError, RuleMeta, ThreatEntry } from './types';

const MAX_RULE_FILE_BYTES = 1 << 20;
const SEVERITIES = new Set(['low', 'medium', 'high', 'critical']);

export interface RuleSource {
  meta: RuleMeta;
  language: string;
  type: string;
  locate: QueryLocator;
}

export interface ReadResult {
  sources: RuleSource[];
  errors: RuleError[];
  /** Every file read, with its content, in load order (the compiled form's staleness check hashes them). */
  files: { path: string; text: string }[];
}

/** Lists rule files under `paths` (files as given; folders recursively, *.toml and *.json, sorted). */
export function listRuleFiles(paths: readonly string[], errors: RuleError[]): string[] {
  const out: string[] = [];
  const seenDirs = new Set<string>();
  const walk = (p: string, explicit: boolean): void => {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (err) {
      errors.push({ source: p, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
      return;
    }
    if (st.isDirectory()) {
      const real = fs.realpathSync(p);
      if (seenDirs.has(real)) return;
      seenDirs.add(real);
      for (const name of fs.readdirSync(p).sort()) {
        if (name.startsWith('.')) continue;
        walk(path.join(p, name), false);
      }
    } else if (explicit || /\.(toml|json)$/i.test(p)) {
      out.push(p);
    }
  };
  for (const p of paths) walk(p, true);
  return out;
}

/**
 * Reads one rule file, at most `limit + 1` bytes of it: enough to know it is too large, never more, so a 50 MB file
 * costs no 50 MB and `/dev/zero` cannot hang the load. Only regular files are read (a FIFO or a device has no size to
 * check and may never end); the FIFO is opened non-blocking so that refusing it cannot wait for a writer.
 * `allowLarger(head)` may raise the limit once the first `limit + 1` bytes are known (a compiled rule set).
 */
export function readRuleFile(file: string, allowLarger?: (head: Buffer) => number | undefined): Buffer | RuleError {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    return { source: file, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return { source: file, message: 'cannot read: not a regular file' };
    let limit = MAX_RULE_FILE_BYTES;
    let bytes = readUpTo(fd, Buffer.alloc(0), limit + 1);
    if (bytes.length > limit) {
      const larger = allowLarger?.(bytes);
      if (larger !== undefined) {
        limit = larger;
        bytes = readUpTo(fd, bytes, limit + 1);
      }
    }
    if (bytes.length > limit) return { source: file, message: `cannot read: larger than ${limit} bytes` };
    return bytes;
  } catch (err) {
    return { source: file, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  } finally {
    fs.closeSync(fd);
  }
}

/** `head` followed by what the file has after it, up to `total` bytes in all. */
function readUpTo(fd: number, head: Buffer, total: number): Buffer {
  const chunks = [head];
  let length = head.length;
  while (length < total) {
    const chunk = Buffer.allocUnsafe(Math.min(total - length, 1 << 20));
    const n = fs.readSync(fd, chunk, 0, chunk.length, null);
    if (n === 0) break;
    chunks.push(chunk.subarray(0, n));
    length += n;
  }
  return Buffer.concat(chunks, length);
}

export function readRuleFiles(files: readonly string[]): ReadResult {
  const result: ReadResult = { sources: [], errors: [], files: [] };
  for (const file of files) {
    const bytes = readRuleFile(file);
    if (!Buffer.isBuffer(bytes)) {
      result.errors.push(bytes);
      continue;
    }
    const text = bytes.toString('utf8');
    result.files.push({ path: file, text });
    const parsed = parseRuleText(file, text);
    if ('message' in parsed) result.errors.push(parsed);
    else result.sources.push(parsed);
  }
  return result;
}

/** Parses one rule file's text into its metadata and query (not yet the query itself). */
export function parseRuleText(source: string, text: string): RuleSource | RuleError {
  const format = /\.json$/i.test(source) ? 'json' : 'toml';
  let doc: unknown;
  try {
    doc = format === 'json' ? JSON.parse(text) : parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) return { source, line: err.line, column: err.column, message: `invalid TOML: ${err.message.split('\n')[0]}` };
    return { source, message: `invalid ${format.toUpperCase()}: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!isObject(doc)) return { source, message: `expected a rule object at the top level` };
  const rule = isObject(doc.rule) ? doc.rule : doc;
  const fields = new FieldReader(source, rule);
  const name = fields.string('name');
  const id = fields.string('rule_id');
  const language = fields.optionalString('language') ?? (rule.type === undefined || rule.type === 'eql' ? 'eql' : '');
  const type = fields.optionalString('type') ?? 'eql';
  const query = fields.optionalString('query') ?? '';
  const severity = fields.string('severity');
  const riskScore = fields.number('risk_score');
  const meta: RuleMeta = {
    id: id ?? '',
    name: name ?? '',
    severity: severity ?? '',
    riskScore: riskScore ?? 0,
    references: fields.stringArray('references'),
    tags: fields.stringArray('tags'),
    threat: readThreats(rule.threat),
    query,
    source,
  };
  const description = fields.optionalString('description');
  if (description !== undefined) meta.description = description.trim();
  if (severity !== undefined && !SEVERITIES.has(severity)) fields.problems.push(`severity must be one of low, medium, high, critical (found "${severity}")`);
  if (riskScore !== undefined && !(Number.isInteger(riskScore) && riskScore >= 0 && riskScore <= 100)) fields.problems.push(`risk_score must be an integer from 0 to 100 (found ${riskScore})`);
  if (language === 'eql' && query.trim() === '') fields.problems.push(`missing "query"`);
  if (fields.problems.length > 0) {
    const error: RuleError = { source, message: fields.problems.join('; ') };
    if (name !== undefined) error.name = name;
    return error;
  }
  return { meta, language, type, locate: locateQuery(text, query, format) };
}

class FieldReader {
  readonly problems: string[] = [];
  constructor(
    readonly source: string,
    readonly obj: Record<string, unknown>,
  ) {}

  string(key: string): string | undefined {
    const v = this.obj[key];
    if (typeof v === 'string' && v.trim() !== '') return v;
    this.problems.push(v === undefined ? `missing "${key}"` : `"${key}" must be a non-empty string`);
    return undefined;
  }

  optionalString(key: string): string | undefined {
    const v = this.obj[key];
    if (v === undefined) return undefined;
    if (typeof v === 'string') return v;
    this.problems.push(`"${key}" must be a string`);
    return undefined;
  }

  number(key: string): number | undefined {
    const v = this.obj[key];
    if (typeof v === 'number' || typeof v === 'bigint') return Number(v);
    this.problems.push(v === undefined ? `missing "${key}"` : `"${key}" must be a number`);
    return undefined;
  }

  stringArray(key: string): string[] {
    const v = this.obj[key];
    if (v === undefined) return [];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    this.problems.push(`"${key}" must be an array of strings`);
    return [];
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mitreRef(v: unknown): MitreRef | undefined {
  if (!isObject(v) || typeof v.id !== 'string' || typeof v.name !== 'string') return undefined;
  const ref: MitreRef = { id: v.id, name: v.name };
  if (typeof v.reference === 'string') ref.reference = v.reference;
  return ref;
}

function readThreats(v: unknown): ThreatEntry[] {
  if (!Array.isArray(v)) return [];
  const out: ThreatEntry[] = [];
  for (const t of v) {
    if (!isObject(t)) continue;
    const entry: ThreatEntry = { framework: typeof t.framework === 'string' ? t.framework : 'MITRE ATT&CK' };
    const tactic = mitreRef(t.tactic);
    if (tactic) entry.tactic = tactic;
    if (Array.isArray(t.technique)) {
      entry.technique = [];
      for (const tech of t.technique) {
        const ref = mitreRef(tech);
        if (!ref || !isObject(tech)) continue;
        const subs = Array.isArray(tech.subtechnique) ? tech.subtechnique.map(mitreRef).filter((s): s is MitreRef => s !== undefined) : [];
        entry.technique.push(subs.length > 0 ? { ...ref, subtechnique: subs } : ref);
      }
    }
    out.push(entry);
  }
  return out;
}
