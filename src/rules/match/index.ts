/**
 * Compiled pattern sets: every equality / prefix / suffix / substring / wildcard / Lucene regex
 * pattern that the rule engine compares one field against, matched in one pass over the value.
 * See docs/matcher.md for the strategies and the semantics.
 */
import { ANY_STRING, type PatternAst, concat, literalAst, wildcardAst } from './ast';
import { AutomatonMatcher, DEFAULT_STATE_BUDGET, compileAutomaton } from './automaton';
import { RegexSyntaxError, parseLuceneRegex } from './lucene-regex';
import { PatternTooComplexError, buildGroupNfa } from './nfa';
import { type GroupPlan, type LiteralPattern, planGroups } from './plan';
import { SERIALIZED_FORMAT, SERIALIZED_VERSION, type SerializedPatternSet, parseSerialized, serializeTables } from './serialize';

export type { SerializedPatternSet } from './serialize';
export type { PatternAst } from './ast';
export { PatternSetFormatError } from './serialize';

export type PatternKind = 'exact' | 'prefix' | 'suffix' | 'contains' | 'wildcard' | 'regex';
export const PATTERN_KINDS: readonly PatternKind[] = ['exact', 'prefix', 'suffix', 'contains', 'wildcard', 'regex'];

export interface PatternSpec {
  kind: PatternKind;
  text: string;
  caseInsensitive: boolean;
}

/** A pattern that cannot compile (bad Lucene regex, ...): which one, where in its text, why. */
export class PatternError extends Error {
  constructor(
    readonly patternIndex: number,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`pattern ${patternIndex} at offset ${offset}: ${reason}`);
    this.name = 'PatternError';
  }
}

export interface PatternSet {
  /** Number of specs. */
  readonly size: number;
  /** Uint32Array length needed for hits = ceil(size/32). */
  readonly words: number;
  /** ORs into `hits` bit i for every pattern i that matches the WHOLE of `value`. Linear in value.length; allocates only while its lazy DFA warms up. */
  matchInto(value: string, hits: Uint32Array): void;
  /**
   * matchInto for each string element of `values` from index `from` on, skipping null and undefined. Stops at the
   * first element of any other type and returns its index (values.length when every element was handled): what a
   * number or a nested array means is the caller's business.
   */
  matchEachInto(values: readonly unknown[], from: number, hits: Uint32Array): number;
  /** Human-readable strategy per group, for docs and `rules check`. */
  strategies(): string[];
  /** Plain JSON (for `keysentry rules compile`). */
  toJSON(): SerializedPatternSet;
}

export interface CompileOptions {
  /** Most DFA states kept (default 4,096); a value needing more continues on the NFA, and the DFA starts over. */
  stateBudget?: number;
}

/** NFA nodes one pattern may need before it is rejected as too complex. */
export const MAX_PATTERN_STATES = 20_000;

export function compilePatternSet(specs: readonly PatternSpec[], options: CompileOptions = {}): PatternSet {
  specs.forEach(checkSpec);
  const stateBudget = options.stateBudget ?? DEFAULT_STATE_BUDGET;
  if (!Number.isInteger(stateBudget) || stateBudget < 2) throw new RangeError(`stateBudget must be an integer >= 2, got ${stateBudget}`);
  const plan = planGroups(specs);
  let automaton: AutomatonMatcher | undefined;
  if (plan.automaton.length > 0) {
    const patterns = plan.automaton.map((id) => ({ id, ast: patternAst(specs[id] as PatternSpec, id) }));
    const nfa = buildGroupNfa(patterns, MAX_PATTERN_STATES, (id, err: PatternTooComplexError) => {
      throw new PatternError(id, 0, err.message);
    });
    automaton = new AutomatonMatcher(compileAutomaton(nfa, specs.length), stateBudget);
  }
  return new CompiledPatternSet(specs.map(copySpec), stateBudget, plan, automaton);
}

export function loadPatternSet(data: unknown): PatternSet {
  const parsed = parseSerialized(data, (specs) => {
    specs.forEach(checkSpec);
    return planGroups(specs);
  });
  return new CompiledPatternSet(parsed.specs, parsed.stateBudget, parsed.plan, parsed.tables ? new AutomatonMatcher(parsed.tables, parsed.stateBudget) : undefined);
}

function copySpec(spec: PatternSpec): PatternSpec {
  return { kind: spec.kind, text: spec.text, caseInsensitive: spec.caseInsensitive };
}

function checkSpec(spec: PatternSpec, index: number): void {
  if (spec === null || typeof spec !== 'object') throw new PatternError(index, 0, 'pattern spec must be an object');
  if (!PATTERN_KINDS.includes(spec.kind)) throw new PatternError(index, 0, `unknown pattern kind ${JSON.stringify(spec.kind)}`);
  if (typeof spec.text !== 'string') throw new PatternError(index, 0, 'pattern text must be a string');
  if (typeof spec.caseInsensitive !== 'boolean') throw new PatternError(index, 0, 'caseInsensitive must be a boolean');
}

/** The pattern as the automaton compiles it (case folding applied); `index` names it in a PatternError. */
export function patternAst(spec: PatternSpec, index: number): PatternAst {
  const ci = spec.caseInsensitive;
  switch (spec.kind) {
    case 'exact':
      return literalAst(spec.text, ci);
    case 'prefix':
      return concat([literalAst(spec.text, ci), ANY_STRING]);
    case 'suffix':
      return concat([ANY_STRING, literalAst(spec.text, ci)]);
    case 'contains':
      return concat([ANY_STRING, literalAst(spec.text, ci), ANY_STRING]);
    case 'wildcard':
      return wildcardAst(spec.text, ci);
    case 'regex':
      try {
        return parseLuceneRegex(spec.text, ci);
      } catch (err) {
        if (err instanceof RegexSyntaxError) throw new PatternError(index, err.offset, `invalid Lucene regular expression: ${err.message}`);
        throw err;
      }
  }
}

class CompiledPatternSet implements PatternSet {
  readonly size: number;
  readonly words: number;
  private readonly exact: Map<string, Int32Array>;
  private readonly prefixText: string[];
  private readonly prefixIds: Int32Array;
  private readonly suffixText: string[];
  private readonly suffixIds: Int32Array;
  private readonly containsText: string[];
  private readonly containsIds: Int32Array;

  constructor(
    private readonly specs: readonly PatternSpec[],
    private readonly stateBudget: number,
    private readonly plan: GroupPlan,
    private readonly automaton: AutomatonMatcher | undefined,
  ) {
    this.size = specs.length;
    this.words = (specs.length + 31) >>> 5;
    const byText = new Map<string, number[]>();
    for (const { id, text } of plan.exact) byText.set(text, [...(byText.get(text) ?? []), id]);
    this.exact = new Map([...byText].map(([text, ids]) => [text, Int32Array.from(ids)]));
    const split = (list: readonly LiteralPattern[]): [string[], Int32Array] => [list.map((l) => l.text), Int32Array.from(list.map((l) => l.id))];
    [this.prefixText, this.prefixIds] = split(plan.prefix);
    [this.suffixText, this.suffixIds] = split(plan.suffix);
    [this.containsText, this.containsIds] = split(plan.contains);
  }

  matchInto(value: string, hits: Uint32Array): void {
    // The plan puts either every pattern in the automaton or none.
    if (this.automaton !== undefined) {
      this.automaton.matchInto(value, hits);
      return;
    }
    if (this.exact.size > 0) {
      const ids = this.exact.get(value);
      if (ids !== undefined) for (let i = 0; i < ids.length; i++) setBit(hits, ids[i] as number);
    }
    for (let i = 0; i < this.prefixText.length; i++) if (value.startsWith(this.prefixText[i] as string)) setBit(hits, this.prefixIds[i] as number);
    for (let i = 0; i < this.suffixText.length; i++) if (value.endsWith(this.suffixText[i] as string)) setBit(hits, this.suffixIds[i] as number);
    for (let i = 0; i < this.containsText.length; i++) if (value.includes(this.containsText[i] as string)) setBit(hits, this.containsIds[i] as number);
  }

  matchEachInto(values: readonly unknown[], from: number, hits: Uint32Array): number {
    if (this.automaton !== undefined) return this.automaton.matchEachInto(values, from, hits);
    for (let j = from; j < values.length; j++) {
      const v: unknown = values[j];
      if (typeof v === 'string') this.matchInto(v, hits);
      else if (v !== null && v !== undefined) return j;
    }
    return values.length;
  }

  strategies(): string[] {
    const out: string[] = [];
    if (this.plan.exact.length > 0) out.push(`exact-set(${this.plan.exact.length})`);
    if (this.plan.prefix.length > 0) out.push(`prefix(${this.plan.prefix.length})`);
    if (this.plan.suffix.length > 0) out.push(`suffix(${this.plan.suffix.length})`);
    if (this.plan.contains.length > 0) out.push(`contains(${this.plan.contains.length})`);
    const a = this.automaton;
    if (a !== undefined) {
      const flushed = a.flushes > 0 ? `, budget reached ${a.flushes}x: nfa-fallback` : '';
      out.push(`dfa(${this.plan.automaton.length} patterns, ${a.nfaStates} nfa states, ${a.tables.alphabet.classCount} classes, lazy: ${a.dfaStates} of ${a.stateBudget} states built${flushed})`);
    }
    return out;
  }

  toJSON(): SerializedPatternSet {
    return {
      format: SERIALIZED_FORMAT,
      version: SERIALIZED_VERSION,
      stateBudget: this.stateBudget,
      specs: this.specs.map(copySpec),
      automaton: this.automaton === undefined ? null : serializeTables(this.automaton.tables),
    };
  }
}

function setBit(hits: Uint32Array, id: number): void {
  (hits[id >>> 5] as number) |= 1 << (id & 31);
}
