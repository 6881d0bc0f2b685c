/**
 * Rule sources -> one engine: parses and type-checks each rule on its own, then merges every rule's patterns per
 * field into ONE pattern set per field, shared by all rules. A pattern the matcher rejects (a bad Lucene regex, a
 * pattern too complex) makes only the rules that use it errors; the rest of the set still compiles.
 */
import { parseQuery, EqlSyntaxError } from './eql/parser';
import { compilePatternSet, PatternError, type PatternSet } from './match';
import type { FieldJson, Formula } from './formula';
import type { RuleSource } from './loader';
import { FieldTable, QueryError, Translator, UnsupportedConstruct } from './translate';
import type { RuleError, RuleMeta, UnsupportedRule } from './types';
import type { QueryLocator } from './query-location';

export interface CompiledPlan {
  rules: RuleMeta[];
  formulas: Formula[];
  fields: FieldJson[];
  sets: (PatternSet | undefined)[];
  unsupported: UnsupportedRule[];
  errors: RuleError[];
}

interface TranslatedRule {
  meta: RuleMeta;
  locate: QueryLocator;
  table: FieldTable;
  formula: Formula;
}

export function compileSources(sources: readonly RuleSource[], loadErrors: readonly RuleError[]): CompiledPlan {
  const errors = [...loadErrors];
  const unsupported: UnsupportedRule[] = [];
  let translated: TranslatedRule[] = [];
  const seenIds = new Map<string, string>();
  for (const src of sources) {
    const firstSource = seenIds.get(src.meta.id);
    if (firstSource !== undefined) {
      errors.push({ source: src.meta.source, name: src.meta.name, message: `duplicate rule_id ${src.meta.id} (already loaded from ${firstSource})` });
      continue;
    }
    seenIds.set(src.meta.id, src.meta.source);
    const outcome = translateRule(src);
    if ('formula' in outcome) translated.push(outcome);
    else if ('reason' in outcome) unsupported.push(outcome);
    else errors.push(outcome);
  }
  // Each failed compile removes at least one rule, so this ends.
  for (;;) {
    const merged = merge(translated);
    const failure = buildSets(merged.fields);
    if (!('failedField' in failure)) {
      return { rules: translated.map((t) => t.meta), formulas: merged.formulas, fields: merged.fields, sets: failure.sets, unsupported, errors };
    }
    const { failedField, error } = failure;
    const path = (merged.fields[failedField] as FieldJson).path;
    const culprits = new Set(merged.users[failedField]?.[error.patternIndex] ?? translated.map((_, i) => i));
    for (const i of culprits) {
      const t = translated[i] as TranslatedRule;
      const local = t.table.fields.findIndex((f) => f.path === path);
      const localPattern = local < 0 ? -1 : (t.table.fields[local] as FieldJson).patterns.findIndex((p) => sameSpec(p, (merged.fields[failedField] as FieldJson).patterns[error.patternIndex]));
      const offset = local < 0 || localPattern < 0 ? 0 : (t.table.patternOffsets[local]?.[localPattern] ?? 0);
      errors.push(ruleError(t.meta, t.locate, offset, `invalid pattern for '${path}': ${error.reason} (at character ${error.offset + 1} of the pattern)`));
    }
    translated = translated.filter((_, i) => !culprits.has(i));
  }
}

function translateRule(src: RuleSource): TranslatedRule | UnsupportedRule | RuleError {
  const { meta, locate } = src;
  if (src.language !== 'eql') {
    const what = src.language === '' ? `rule type '${src.type}'` : `language '${src.language}' (rule type '${src.type}')`;
    return { meta, reason: `unsupported: ${what} (keysentry evaluates EQL only)` };
  }
  try {
    const translator = new Translator();
    const formula = translator.translate(parseQuery(meta.query));
    return { meta, locate, table: translator.table, formula };
  } catch (err) {
    if (err instanceof UnsupportedConstruct) return { meta, reason: err.message };
    if (err instanceof EqlSyntaxError || err instanceof QueryError) return ruleError(meta, locate, err.offset, err.message);
    throw err;
  }
}

function ruleError(meta: RuleMeta, locate: QueryLocator, offset: number, message: string): RuleError {
  const { line, column } = locate(offset);
  return { source: meta.source, name: meta.name, line, column, message };
}

function sameSpec(a: FieldJson['patterns'][number], b: FieldJson['patterns'][number] | undefined): boolean {
  return b !== undefined && a.kind === b.kind && a.text === b.text && a.caseInsensitive === b.caseInsensitive;
}

interface Merged {
  fields: FieldJson[];
  formulas: Formula[];
  /** users[field][pattern] = indexes of the rules using that pattern. */
  users: number[][][];
}

function merge(rules: readonly TranslatedRule[]): Merged {
  const global = new FieldTable();
  const users: number[][][] = [];
  const formulas = rules.map((rule, ruleIndex) => {
    const fieldMap: number[] = [];
    const patternMaps: number[][] = [];
    rule.table.fields.forEach((f, localField) => {
      const g = global.field(f.path, f.kind, f.dynamic);
      fieldMap[localField] = g;
      const fieldUsers = (users[g] ??= []);
      patternMaps[localField] = f.patterns.map((spec, p) => {
        const id = global.pattern(g, spec, rule.table.patternOffsets[localField]?.[p] ?? 0);
        const list = (fieldUsers[id] ??= []);
        if (list[list.length - 1] !== ruleIndex) list.push(ruleIndex);
        return id;
      });
    });
    return remap(rule.formula, fieldMap, patternMaps);
  });
  return { fields: global.fields, formulas, users };
}

function remap(f: Formula, fieldMap: readonly number[], patternMaps: readonly number[][]): Formula {
  switch (f.op) {
    case 'and':
    case 'or':
      return { op: f.op, args: f.args.map((a) => remap(a, fieldMap, patternMaps)) };
    case 'not':
      return { op: 'not', arg: remap(f.arg, fieldMap, patternMaps) };
    case 'const':
      return f;
    case 'match':
      return { op: 'match', field: fieldMap[f.field] as number, patterns: f.patterns.map((p) => (patternMaps[f.field] as number[])[p] as number) };
    default:
      return { ...f, field: fieldMap[f.field] as number };
  }
}

function buildSets(fields: readonly FieldJson[]): { sets: (PatternSet | undefined)[] } | { failedField: number; error: PatternError } {
  const sets: (PatternSet | undefined)[] = [];
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as FieldJson;
    if (f.patterns.length === 0) {
      sets.push(undefined);
      continue;
    }
    try {
      sets.push(compilePatternSet(f.patterns));
    } catch (err) {
      if (err instanceof PatternError) return { failedField: i, error: err };
      throw err;
    }
  }
  return { sets };
}
