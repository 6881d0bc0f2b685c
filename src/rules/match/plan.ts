/**
 * Which strategy each pattern of a set gets, decided from its kind, flag and text alone (so a loaded
 * set can re-derive and check it): case-sensitive equality by hash lookup, a few case-sensitive
 * literal prefixes/suffixes/substrings by direct comparison, and everything else in one automaton.
 * Wildcards without `*`/`?` and the shapes `lit*`, `*lit`, `*lit*` count as the literal kinds.
 */
import type { PatternSpec } from './index';

/** Above this many case-sensitive prefix + suffix literals, they go into the automaton instead. */
export const DIRECT_AFFIX_LIMIT = 16;
/** Substring literals are compared directly only when there are this few and no automaton. */
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
  const direct = affixes.length <= DIRECT_AFFIX_LIMIT;
  if (!direct) automaton.push(...affixes.map((a) => a.id));
  const directContains = contains.length <= DIRECT_CONTAINS_LIMIT && automaton.length === 0;
  if (!directContains) automaton.push(...contains.map((c) => c.id));
  automaton.sort((a, b) => a - b);
  const pick = (kind: 'prefix' | 'suffix'): LiteralPattern[] => (direct ? affixes.filter((a) => a.kind === kind).map(({ id, text }) => ({ id, text })) : []);
  return { exact, prefix: pick('prefix'), suffix: pick('suffix'), contains: directContains ? contains : [], automaton };
}
