/**
 * Which strategy each pattern of a set gets, decided from its kind, flag and text alone (so a loaded
 * set can re-derive and check it): case-sensitive equality by hash lookup, a few case-sensitive
 * literal prefixes/suffixes/substrings by direct comparison, and everything else in one automaton.
 * Wildcards without `*`/`?` and the shapes `lit*`, `*lit`, `*lit*` count as the literal kinds.
 * Once any pattern needs the automaton, the literals join it too: the automaton reads the value
 * anyway, and a hash of the whole value plus one comparison per affix would read it again.
 */
import type { PatternSpec } from './index';

/** Above this many case-sensitive prefix + suffix literals, the set uses the automaton instead. */
export const DIRECT_AFFIX_LIMIT = 16;
/** Above this many substring literals, the set uses the automaton instead. */
export const DIRECT_CONTAINS_LIMIT = 2;

export interface LiteralPattern {
  readonly id: number;
  readonly text: string;
}

export interface GroupPlan {
  readonly exact: readonly LiteralPattern[];
  readonly prefix: readonly LiteralPattern[];
  readonly suffix: readonly LiteralPattern[];
  readonly contains: readonly LiteralPattern[];
  /** Spec indices compiled into the automaton, ascending. */
  readonly automaton: readonly number[];
}

type LiteralShape = { kind: 'exact' | 'prefix' | 'suffix' | 'contains'; text: string } | undefined;

function literalShape(spec: PatternSpec): LiteralShape {
  if (spec.kind === 'exact' || spec.kind === 'prefix' || spec.kind === 'suffix' || spec.kind === 'contains') return { kind: spec.kind, text: spec.text };
  if (spec.kind !== 'wildcard') return undefined;
  const t = spec.text;
  const core = t.replace(/^\*/, '').replace(/\*$/, '');
  if (core.includes('*') || core.includes('?')) return undefined;
  const lead = t.startsWith('*');
  const trail = t.length > 1 && t.endsWith('*');
  if (t === '*') return { kind: 'prefix', text: '' };
  if (lead && trail) return { kind: 'contains', text: core };
  if (lead) return { kind: 'suffix', text: core };
  if (trail) return { kind: 'prefix', text: core };
  return { kind: 'exact', text: t };
}

/**
 * `startsWith`/`endsWith`/`includes` compare UTF-16 units: a lone surrogate at a literal's edge
 * could match half of a surrogate pair, which is not a character. Such literals go to the automaton.
 */
function unitComparisonIsExact(text: string): boolean {
  return !/\p{Cs}/u.test(text);
}

export function planGroups(specs: readonly PatternSpec[]): GroupPlan {
  const exact: LiteralPattern[] = [];
  const affixes: Array<{ kind: 'prefix' | 'suffix'; id: number; text: string }> = [];
  const contains: LiteralPattern[] = [];
  const automaton: number[] = [];
  specs.forEach((spec, id) => {
    let shape = spec.caseInsensitive ? undefined : literalShape(spec);
    if (shape !== undefined && shape.kind !== 'exact' && !unitComparisonIsExact(shape.text)) shape = undefined;
    if (shape === undefined) automaton.push(id);
    else if (shape.kind === 'exact') exact.push({ id, text: shape.text });
    else if (shape.kind === 'contains') contains.push({ id, text: shape.text });
    else affixes.push({ kind: shape.kind, id, text: shape.text });
  });
  if (automaton.length > 0 || affixes.length > DIRECT_AFFIX_LIMIT || contains.length > DIRECT_CONTAINS_LIMIT) {
    return { exact: [], prefix: [], suffix: [], contains: [], automaton: specs.map((_, id) => id) };
  }
  const pick = (kind: 'prefix' | 'suffix'): LiteralPattern[] => affixes.filter((a) => a.kind === kind).map(({ id, text }) => ({ id, text }));
  return { exact, prefix: pick('prefix'), suffix: pick('suffix'), contains, automaton };
}
