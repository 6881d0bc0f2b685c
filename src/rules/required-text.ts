/**
 * The text an exec must contain for any loaded rule to match it (docs/rules-engine.md, "Required text"): the
 * needles of the capture's prefilter, which hurries an exec to JavaScript only when one of them occurs in one of its
 * record's strings (ASCII letters case-insensitively, every other character exactly).
 *
 * Sound by construction: each step keeps a necessary condition of the form "some needle occurs". A pattern's
 * needles are spellings every string it matches must contain, read from the same syntax tree the automaton is
 * compiled from, so case folding (KELVIN SIGN for k, LONG S for s, ...) is already in its character sets; the
 * field's FieldText says how its value relates to the record's strings. Where no such condition is known, undefined.
 */
import { RuleEngine } from './engine';
import type { FieldJson, Formula } from './formula';
import { patternAst, type PatternAst } from './match';
import type { CompiledRuleSet, FieldText } from './types';

/** Some needle occurs; [] when the condition never holds; undefined when no needle is known to be required. */
type Needles = readonly string[] | undefined;

/** Most spellings one part of a pattern may stand for before it counts as unknown (keeps cross products small). */
const MAX_SPELLINGS = 16;
/** Larger character sets are not spelled out (their members are counted one by one). */
const MAX_SET_MEMBERS = 128;

/**
 * Needles such that every event a rule of `set` matches, among events built from one record whose fields are made
 * as `text` declares, comes from a record with one of them in its strings. Lower-case ASCII (but KELVIN SIGN and
 * similar gate characters a FieldText names), none containing another. Undefined when some rule may match without
 * any particular text; [] when no rule can match.
 */
export function requiredText(set: CompiledRuleSet, text: (field: string) => FieldText): string[] | undefined {
  if (!(set instanceof RuleEngine)) return undefined;
  const analysis = new FormulaAnalysis(set.fields, text);
  const needles = unionOf(set.formulas, (formula) => analysis.formula(formula));
  return needles === undefined ? undefined : [...needles];
}

/** Each item needs one of its needles, and one of the items holds: the union, undefined if an item has none. */
function unionOf<T>(items: readonly T[], needlesOf: (item: T) => Needles): Needles {
  const union: string[] = [];
  for (const item of items) {
    const needles = needlesOf(item);
    if (needles === undefined) return undefined;
    union.push(...needles);
  }
  return minimal(union);
}

class FormulaAnalysis {
  /** Per field, per pattern id: the pattern's needles, computed once. */
  private readonly patternNeedles: Map<number, Needles>[];

  constructor(
    private readonly fields: readonly FieldJson[],
    private readonly text: (field: string) => FieldText,
  ) {
    this.patternNeedles = fields.map(() => new Map());
  }

  formula(f: Formula): Needles {
    switch (f.op) {
      case 'and':
        return f.args.reduce<Needles>((best, arg) => better(best, this.formula(arg)), undefined);
      case 'or':
        return unionOf(f.args, (arg) => this.formula(arg));
      case 'not':
        // What an event lacks names no text it must hold.
        return undefined;
      case 'const':
        return f.value ? undefined : [];
      case 'match':
        return this.match(f.field, f.patterns);
      default:
        // Every other atom holds only for a field with a value.
        return this.gate(f.field);
    }
  }

  private fieldText(field: number): FieldText {
    return this.text((this.fields[field] as FieldJson).path);
  }

  private gate(field: number): Needles {
    const t = this.fieldText(field);
    return t.kind === 'gated' ? minimal(t.needles) : undefined;
  }

  private match(field: number, patterns: readonly number[]): Needles {
    const t = this.fieldText(field);
    if (t.kind === 'gated') return this.gate(field);
    if (t.kind === 'unknown') return undefined;
    return unionOf(patterns, (p) => this.pattern(field, p, t.kind === 'substring'));
  }

  private pattern(field: number, id: number, spaceAllowed: boolean): Needles {
    const cache = this.patternNeedles[field] as Map<number, Needles>;
    if (cache.has(id)) return cache.get(id);
    const spec = (this.fields[field] as FieldJson).patterns[id];
    const needles = spec === undefined ? undefined : usable(analyse(patternAst(spec, id), spaceAllowed));
    cache.set(id, needles);
    return needles;
  }
}

/**
 * What is known of the strings a pattern (part) matches: `spellings`, a finite set holding each of them with its
 * ASCII letters lower-cased (so each is ASCII text, and the native compare finds it as written); `needles`, a
 * necessary condition. Either may be unknown.
 */
interface Facts {
  spellings: readonly string[] | undefined;
  needles: Needles;
}

const NOTHING: Facts = { spellings: [], needles: [] };

function analyse(ast: PatternAst, spaceAllowed: boolean): Facts {
  switch (ast.type) {
    case 'chars': {
      const spellings = setSpellings(ast.set, spaceAllowed);
      return { spellings, needles: spellings };
    }
    case 'concat':
      return concatFacts(ast.items.map((item) => analyse(item, spaceAllowed)));
    case 'union': {
      const parts = ast.items.map((item) => analyse(item, spaceAllowed));
      const spellings = parts.every((p) => p.spellings !== undefined) ? parts.flatMap((p) => p.spellings as readonly string[]) : undefined;
      return { spellings: capped(spellings), needles: unionOf(parts, usable) };
    }
    case 'intersection': {
      const left = analyse(ast.left, spaceAllowed);
      const right = analyse(ast.right, spaceAllowed);
      const spellings = left.spellings === undefined ? right.spellings : right.spellings === undefined ? left.spellings : left.spellings.filter((s) => (right.spellings as readonly string[]).includes(s));
      return { spellings, needles: better(usable(left), usable(right)) };
    }
    case 'repeat': {
      if (ast.max === 0) return { spellings: [''], needles: undefined };
      const item = analyse(ast.item, spaceAllowed);
      if (item.spellings !== undefined && ast.min === ast.max) return concatFacts(new Array<Facts>(ast.min).fill(item));
      return { spellings: undefined, needles: ast.min >= 1 ? usable(item) : undefined };
    }
    case 'nothing':
      return NOTHING;
  }
}

/**
 * A concatenation: consecutive parts with spellings join into runs (their cross product, while it stays small),
 * each run a substring every match contains; a part without spellings ends the run and offers its own needles.
 */
function concatFacts(parts: readonly Facts[]): Facts {
  let run: readonly string[] = [''];
  let whole = true;
  let best: Needles;
  for (const part of parts) {
    if (part.spellings?.length === 0 || part.needles?.length === 0) return NOTHING;
    if (part.spellings !== undefined) {
      const joined = cross(run, part.spellings);
      if (joined !== undefined) {
        run = joined;
        continue;
      }
      best = better(best, runNeedles(run));
      run = part.spellings;
    } else {
      best = better(best, better(runNeedles(run), part.needles));
      run = [''];
    }
    whole = false;
  }
  return { spellings: whole ? run : undefined, needles: better(best, runNeedles(run)) };
}

function cross(left: readonly string[], right: readonly string[]): readonly string[] | undefined {
  if (left.length * right.length > MAX_SPELLINGS) return undefined;
  return unique(left.flatMap((l) => right.map((r) => l + r)));
}

function runNeedles(run: readonly string[]): Needles {
  return run.includes('') ? undefined : minimal(run);
}

/** The better of a part's two conditions: its spellings (when none is empty) or its needles. */
function usable(f: Facts): Needles {
  return better(f.spellings === undefined ? undefined : runNeedles(f.spellings), f.needles);
}

/**
 * The ASCII characters (lower-cased) a character set stands for, when all its members are ASCII, not NUL (record
 * strings are C strings) and, for joined fields, not a space. A case-insensitive k's set holds KELVIN SIGN and an
 * s's LONG S (the matcher's folding data): such a letter has no ASCII spelling, and a needle stops there.
 */
function setSpellings(set: readonly number[], spaceAllowed: boolean): readonly string[] | undefined {
  let members = 0;
  const out = new Set<string>();
  for (let r = 0; r < set.length; r += 2) {
    const lo = set[r] as number;
    const hi = set[r + 1] as number;
    members += hi - lo + 1;
    if (members > MAX_SET_MEMBERS || hi >= 0x80 || lo === 0) return undefined;
    for (let cp = lo; cp <= hi; cp++) {
      if (cp === 0x20 && !spaceAllowed) return undefined;
      out.add(asciiLower(String.fromCharCode(cp)));
    }
  }
  return capped([...out]);
}

function capped(spellings: readonly string[] | undefined): readonly string[] | undefined {
  if (spellings === undefined) return undefined;
  const distinct = unique(spellings);
  return distinct.length > MAX_SPELLINGS ? undefined : distinct;
}

/**
 * The condition more likely to keep an exec waiting: the one that never holds, else the one whose shortest needle
 * is longest (short needles occur everywhere), then the one with fewer needles, then the longer ones.
 */
function better(a: Needles, b: Needles): Needles {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a.length === 0 || b.length === 0) return a.length === 0 ? a : b;
  const shortest = (n: readonly string[]): number => Math.min(...n.map((s) => s.length));
  const total = (n: readonly string[]): number => n.reduce((sum, s) => sum + s.length, 0);
  if (shortest(a) !== shortest(b)) return shortest(a) > shortest(b) ? a : b;
  if (a.length !== b.length) return a.length < b.length ? a : b;
  return total(a) >= total(b) ? a : b;
}

/** Lower-cased (ASCII letters only), without duplicates and without a needle that contains another. */
function minimal(needles: readonly string[]): string[] {
  const sorted = unique(needles.map(asciiLower)).sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
  const kept: string[] = [];
  for (const n of sorted) if (!kept.some((k) => n.includes(k))) kept.push(n);
  return kept.sort();
}

function unique(strings: readonly string[]): string[] {
  return [...new Set(strings)];
}

/** The native compare folds ASCII letters only: KELVIN SIGN must stay itself, as toLowerCase would not leave it. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20));
}
