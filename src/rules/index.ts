/**
 * The rule engine's entry points. Load rule files (or a compiled rule set) into a CompiledRuleSet; see
 * docs/rules-engine.md for the semantics and the evaluation strategy.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../model/package';
import { compileSources, type CompiledPlan } from './compile';
import { engineFromPayload, isCompiledFile, MAX_COMPILED_FILE_BYTES, readCompiled, sourcesDigest, toPayload, writeCompiled, CompiledVersionError, CompiledWriteError } from './compiled-file';
import { CompiledRuleSetError, RuleEngine } from './engine';
import { listRuleFiles, parseRuleText, readRuleFile, type RuleSource } from './loader';
import type { CompiledRuleSet, RuleError } from './types';

export type { CompiledRuleSet, FieldText, RuleMeta, RuleError, UnsupportedRule, ThreatEntry, MitreRef } from './types';
export { requiredText } from './required-text';
export { CompiledRuleSetError } from './engine';
export { COMPILED_FORMAT, COMPILED_VERSION, CompiledWriteError } from './compiled-file';

/** rules/default/ of the installed package (found from src/rules or dist/src/rules alike). */
export const DEFAULT_RULES_DIR: string = path.join(PACKAGE_ROOT, 'rules', 'default');

export interface LoadOptions {
  /**
   * A compiled rule set file (rules.bin or rules.json) kept beside the sources: used as-is when it was compiled from
   * exactly these rule files, otherwise (re)written. A damaged cache is an error, not silently replaced.
   */
  compiledCache?: string;
}

interface ReadSources {
  texts: { path: string; text: string }[];
  errors: RuleError[];
  /** Set when `paths` named exactly one compiled rule set file. */
  compiled?: { file: string; bytes: Buffer };
}

function readSources(paths: readonly string[]): ReadSources {
  const errors: RuleError[] = [];
  const files = listRuleFiles(paths, errors);
  const texts: { path: string; text: string }[] = [];
  for (const file of files) {
    const bytes = readRuleFile(file, (head) => (isCompiledFile(head) ? MAX_COMPILED_FILE_BYTES : undefined));
    if (!Buffer.isBuffer(bytes)) {
      errors.push(bytes);
      continue;
    }
    if (isCompiledFile(bytes)) {
      if (files.length === 1) return { texts, errors, compiled: { file, bytes } };
      errors.push({ source: file, message: 'a compiled rule set cannot be loaded together with other rule files; load it on its own' });
      continue;
    }
    texts.push({ path: file, text: bytes.toString('utf8') });
  }
  return { texts, errors };
}

function compileTexts(texts: ReadSources['texts'], loadErrors: readonly RuleError[]): CompiledPlan {
  const errors = [...loadErrors];
  const sources: RuleSource[] = [];
  for (const { path: file, text } of texts) {
    const parsed = parseRuleText(file, text);
    if ('message' in parsed) errors.push(parsed);
    else sources.push(parsed);
  }
  return compileSources(sources, errors);
}

function engineFromPlan(plan: CompiledPlan): CompiledRuleSet {
  return new RuleEngine(plan.rules, plan.formulas, plan.fields, plan.sets, plan.unsupported, plan.errors);
}

/**
 * Loads rule files or folders (recursively, *.toml / *.json), or one compiled rule set file.
 * Never throws for a bad rule: it lands in `.errors` (or `.unsupported`). Throws CompiledRuleSetError for a
 * compiled file that fails its version or checksum check.
 */
export function loadRuleSet(paths: readonly string[], options: LoadOptions = {}): CompiledRuleSet {
  const { texts, errors, compiled } = readSources(paths);
  if (compiled !== undefined) return engineFromPayload(readCompiled(compiled.file, compiled.bytes), compiled.file);
  const digest = sourcesDigest(texts);
  const cache = options.compiledCache;
  if (cache !== undefined && errors.length === 0 && fs.existsSync(cache)) {
    try {
      const payload = readCompiled(cache);
      if (payload.sourcesDigest === digest) return engineFromPayload(payload, cache);
    } catch (err) {
      // An older keysentry's cache is expected after an upgrade; anything else (a bad checksum) is not.
      if (!(err instanceof CompiledVersionError)) throw err;
    }
  }
  const plan = compileTexts(texts, errors);
  if (cache !== undefined) {
    try {
      writeCompiled(cache, toPayload(plan, digest));
    } catch (err) {
      // The rules themselves are fine; an unwritable cache only costs the next start a compile.
      if (!(err instanceof CompiledWriteError)) throw err;
      plan.errors.push({ source: cache, message: `cannot write the compiled rule cache: ${err.code}` });
    }
  }
  return engineFromPlan(plan);
}

/**
 * Compiles rule files and writes the compiled form (`keysentry rules compile`). When a rule has an error nothing is
 * written unless `writeWithErrors` (a half-working rule set should be a decision, not an accident).
 */
export function compileRuleFiles(paths: readonly string[], output: string, options: { writeWithErrors?: boolean } = {}): { set: CompiledRuleSet; written: boolean } {
  const { texts, errors, compiled } = readSources(paths);
  if (compiled !== undefined) throw new CompiledRuleSetError(`${compiled.file} is already a compiled rule set; compile the rule files instead`);
  const plan = compileTexts(texts, errors);
  const written = plan.errors.length === 0 || options.writeWithErrors === true;
  if (written) writeCompiled(output, toPayload(plan, sourcesDigest(texts)));
  return { set: engineFromPlan(plan), written };
}

export interface FieldSummary {
  path: string;
  kind: 'string' | 'number' | 'boolean';
  patterns: number;
  /** The matcher's strategies for the field's shared pattern set (empty without patterns). */
  strategies: string[];
}

/** Every field a rule set reads, with its shared pattern set's size and strategies (`rules check -v`, benchmarks). */
export function describeFields(set: CompiledRuleSet): FieldSummary[] {
  if (!(set instanceof RuleEngine)) return [];
  return set.fields.map((f, i) => ({ path: f.path, kind: f.kind, patterns: f.patterns.length, strategies: set.patternSets[i]?.strategies() ?? [] }));
}

/** rules/keysentry-keychain/: keysentry's opt-out keychain pack (docs/detection.md). */
export const PACK_RULES_DIR: string = path.join(path.dirname(DEFAULT_RULES_DIR), 'keysentry-keychain');

/**
 * What keysentry runs when no rules are named: Elastic's "Access to Keychain Credentials
 * Directories" as bundled in rules/default/, and the keysentry keychain pack beside it
 * unless `withPack: false` (the pack is opt-out; the agent's default config lists both too).
 */
export function loadDefaultRuleSet(options: { withPack?: boolean } = {}): CompiledRuleSet {
  return loadRuleSet(options.withPack === false ? [DEFAULT_RULES_DIR] : [DEFAULT_RULES_DIR, PACK_RULES_DIR]);
}
