/**
 * The compiled rule set on disk, so the daemon starts without re-parsing or re-determinizing.
 *
 * rules.json: {"format":"keysentry.compiled-rules","version":N,"sha256":<hex of JSON.stringify(payload)>,"payload":{...}}
 * rules.bin:  "KSRULES\n" | u32 LE version | 32-byte sha256 of the body | body = gzip(JSON.stringify(payload))
 * Loading checks the format, the version and the checksum before it trusts a byte of the payload.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { loadPatternSet, type PatternSet, type SerializedPatternSet } from './match';
import { CompiledRuleSetError, RuleEngine } from './engine';
import type { FieldJson, Formula } from './formula';
import type { CompiledPlan } from './compile';
import type { RuleError, RuleMeta, UnsupportedRule } from './types';

export const COMPILED_FORMAT = 'keysentry.compiled-rules';
/** 2: pattern sets of version 2 (see match/serialize.ts). */
export const COMPILED_VERSION = 2;
const BIN_MAGIC = Buffer.from('KSRULES\n', 'latin1');
const MAX_PAYLOAD_BYTES = 256 << 20;
/** A compiled file is never larger than its payload (gzip or JSON around it). */
export const MAX_COMPILED_FILE_BYTES = MAX_PAYLOAD_BYTES;

export interface CompiledPayload {
  /** sha256 over the rule files the set was compiled from (see sourcesDigest). */
  sourcesDigest: string;
  rules: { meta: RuleMeta; formula: Formula }[];
  fields: { field: FieldJson; set: SerializedPatternSet | null }[];
  unsupported: UnsupportedRule[];
  errors: RuleError[];
}

export function sourcesDigest(files: readonly { path: string; text: string }[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(`${path.resolve(f.path)}\u0000${f.text.length}\u0000${f.text}\u0000`);
  return h.digest('hex');
}

export function toPayload(plan: CompiledPlan, digest: string): CompiledPayload {
  return {
    sourcesDigest: digest,
    rules: plan.rules.map((meta, i) => ({ meta, formula: plan.formulas[i] as Formula })),
    fields: plan.fields.map((field, i) => ({ field, set: plan.sets[i]?.toJSON() ?? null })),
    unsupported: plan.unsupported,
    errors: plan.errors,
  };
}

export function engineFromPayload(p: CompiledPayload, source: string): RuleEngine {
  try {
    const sets: (PatternSet | undefined)[] = p.fields.map((f) => (f.set === null ? undefined : loadPatternSet(f.set)));
    return new RuleEngine(
      p.rules.map((r) => r.meta),
      p.rules.map((r) => r.formula),
      p.fields.map((f) => f.field),
      sets,
      p.unsupported,
      p.errors,
    );
  } catch (err) {
    throw new CompiledRuleSetError(`${source}: malformed compiled rule set: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function writeCompiled(file: string, payload: CompiledPayload): void {
  const json = JSON.stringify(payload);
  const sha = createHash('sha256');
  let bytes: Buffer;
  if (isBinaryPath(file)) {
    const body = zlib.gzipSync(Buffer.from(json, 'utf8'));
    const header = Buffer.alloc(BIN_MAGIC.length + 4);
    BIN_MAGIC.copy(header);
    header.writeUInt32LE(COMPILED_VERSION, BIN_MAGIC.length);
    bytes = Buffer.concat([header, sha.update(body).digest(), body]);
  } else {
    const envelope = `{"format":"${COMPILED_FORMAT}","version":${COMPILED_VERSION},"sha256":"${sha.update(json).digest('hex')}","payload":${json}}\n`;
    bytes = Buffer.from(envelope, 'utf8');
  }
  // Written beside the target and renamed, so a crash never leaves a half-written rule set where the daemon looks.
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new CompiledWriteError(file, (err as NodeJS.ErrnoException).code ?? String(err));
  }
}

/** The compiled form could not be written (a missing folder, no permission, a full disk): the user's to fix. */
export class CompiledWriteError extends Error {
  constructor(
    readonly file: string,
    readonly code: string,
  ) {
    super(`cannot write ${file}: ${code}`);
    this.name = 'CompiledWriteError';
  }
}

function isBinaryPath(file: string): boolean {
  return !/\.json$/i.test(file);
}

/** True when `bytes` look like a compiled rule set (so a rule folder walk can tell it from a rule file). */
export function isCompiledFile(bytes: Buffer): boolean {
  if (bytes.subarray(0, BIN_MAGIC.length).equals(BIN_MAGIC)) return true;
  return bytes.subarray(0, 64).toString('utf8').replace(/\s/g, '').startsWith(`{"format":"${COMPILED_FORMAT}"`);
}

/** The file was written by a keysentry with another compiled format: recompiling fixes it. */
export class CompiledVersionError extends CompiledRuleSetError {}

export function readCompiled(file: string, bytes: Buffer = fs.readFileSync(file)): CompiledPayload {
  const fail = (why: string, kind: typeof CompiledRuleSetError = CompiledRuleSetError): never => {
    throw new kind(`${file}: ${why}`);
  };
  let json: string;
  if (bytes.subarray(0, BIN_MAGIC.length).equals(BIN_MAGIC)) {
    if (bytes.length < BIN_MAGIC.length + 4 + 32) fail('truncated compiled rule set');
    const version = bytes.readUInt32LE(BIN_MAGIC.length);
    if (version !== COMPILED_VERSION) fail(versionMessage(version), CompiledVersionError);
    const expected = bytes.subarray(BIN_MAGIC.length + 4, BIN_MAGIC.length + 36);
    const body = bytes.subarray(BIN_MAGIC.length + 36);
    if (!createHash('sha256').update(body).digest().equals(expected)) fail('checksum mismatch: the file is damaged or was modified; recompile it with `keysentry rules compile`');
    try {
      json = zlib.gunzipSync(body, { maxOutputLength: MAX_PAYLOAD_BYTES }).toString('utf8');
    } catch (err) {
      return fail(`cannot decompress: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else {
    let envelope: { format?: unknown; version?: unknown; sha256?: unknown; payload?: unknown };
    try {
      envelope = JSON.parse(bytes.toString('utf8')) as typeof envelope;
    } catch (err) {
      return fail(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (envelope.format !== COMPILED_FORMAT) fail(`not a compiled rule set (format ${JSON.stringify(envelope.format)}, expected "${COMPILED_FORMAT}")`);
    if (envelope.version !== COMPILED_VERSION) fail(versionMessage(envelope.version), CompiledVersionError);
    json = JSON.stringify(envelope.payload);
    if (createHash('sha256').update(json).digest('hex') !== envelope.sha256) fail('checksum mismatch: the file is damaged or was modified; recompile it with `keysentry rules compile`');
  }
  const payload = JSON.parse(json) as CompiledPayload;
  if (!Array.isArray(payload.rules) || !Array.isArray(payload.fields) || !Array.isArray(payload.unsupported) || !Array.isArray(payload.errors)) fail('malformed payload');
  return payload;
}

function versionMessage(version: unknown): string {
  return `compiled rule set version ${JSON.stringify(version)} is not the supported version ${COMPILED_VERSION}; recompile it with this keysentry (\`keysentry rules compile\`)`;
}
