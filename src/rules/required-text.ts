/**
 * The text an exec must contain for any loaded rule to match it (docs/rules-engine.md, "Required text"): the
 * needles of the capture's prefilter, which hurries an exec to JavaScript only when one of them occurs in one of its
 * record's strings (ASCII letters case-insensitively, every other character exactly).
 *
 * Sound by construction: every condition computed here has the form "some needle of this set occurs", and each is
 * necessary for the part of a rule it comes from. A pattern's needles are spellings every string it matches must
 * contain, read from the same syntax tree the automaton is compiled from, so case folding (KELVIN SIGN for k, LONG S
 * for s, ...) is already in its character sets; the field's FieldText says how its value relates to the record's
 * strings. Where no such condition is known, undefined.
 *
 * A part of a rule usually has several sufficient conditions (each conjunct of an `and`, each literal run of a
 * wildcard); which one is kept only decides how many execs are urgent, never soundness. Alternatives (an `or`, a
 * pattern list, the rules of a set) pick theirs together, preferring needles the others need anyway: the Elastic
 * keychain rule's "/Users/*\/Library/Keychains/*" and "System.keychain" can share "eychain", where the first alone
 * would take "/library/", which nearly every macOS exec holds.
 */
import { RuleEngine } from './engine';
import type { FieldJson, Formula } from './formula';
import { patternAst, type PatternAst } from './match';
import type { CompiledRuleSet, FieldText } from './types';

/** Some needle of the set occurs; [] when the condition never holds. */
type Needles = readonly string[];
/** Sufficient conditions, any one of which may be kept, best first; none ([]) when no needle is known to be required. */
type Options = readonly Needles[];

/** Most spellings one part of a pattern may stand for before it counts as unknown (keeps cross products small). */
const MAX_SPELLINGS = 16;
/** Larger character sets are not spelled out (their members are counted one by one). */
const MAX_SET_MEMBERS = 128;
/** Alternatives kept per part: the choice among more would cost load time for little. */
const MAX_OPTIONS = 8;

/**
 * Needles such that every event a rule of `set` matches, among events built from one record whose fields are made
 * as `text` declares, comes from a record with one of them in its strings. Lower-case ASCII (but KELVIN SIGN and
 * similar gate characters a FieldText names), none containing another. Undefined when some rule may match without
 * any particular text; [] when no rule can match.
 */
export function requiredText(set: CompiledRuleSet, text: (field: string) => FieldText): string[] | undefined {
  if (!(set instanceof RuleEngine)) return undefined;
  const analysis = new FormulaAnalysis(set.fields, text);
  const chosen = together(set.formulas.map((formula) => analysis.formula(formula)))[0];
  return chosen === undefined ? undefined : [...chosen];
}

class FormulaAnalysis {
  /** Per field, per pattern id: the pattern's options, computed once. */
  private readonly patternOptions: Map<number, Options>[];

  constructor(
    private readonly fields: readonly FieldJson[],
    private readonly text: (field: string) => FieldText,
  ) {
    this.patternOptions = fields.map(() => new Map());
  }

  formula(f: Formula): Options {
    switch (f.op) {
      case 'and':
        // Each conjunct's condition is one for the whole.
        return ranked(f.args.flatMap((arg) => this.formula(arg)));
      case 'or':
        return together(f.args.map((arg) => this.formula(arg)));
      case 'not':
        // What an event lacks names no text it must hold.
        return [];
      case 'const':
        return f.value ? [] : [[]];
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

  private gate(field: number): Options {
    const t = this.fieldText(field);
    return t.kind === 'gated' ? [minimal(t.needles)] : [];
  }

  private match(field: number, patterns: readonly number[]): Options {
    const t = this.fieldText(field);
    if (t.kind === 'gated') return this.gate(field);
    if (t.kind === 'unknown') return [];
    return together(patterns.map((p) => this.pattern(field, p, t.kind === 'substring')));
  }

  private pattern(field: number, id: number, spaceAllowed: boolean): Options {
    const cache = this.patternOptions[field] as Map<number, Options>;
    let options = cache.get(id);
    if (options === undefined) {
      const spec = (this.fields[field] as FieldJson).patterns[id];
      options = spec === undefined ? [] : usable(analyse(patternAst(spec, id), spaceAllowed));
      cache.set(id, options);
    }
    return options;
  }
}

/**
 * What is known of the strings a pattern (part) matches: `spellings`, a finite set holding each of them with its
 * ASCII letters lower-cased (so each is ASCII text, and the native compare finds it as written), when small;
 * `options`, the sufficient conditions found inside it.
 */
interface Facts {
  spellings: readonly string[] | undefined;
  options: Options;
}

const NOTHING: Facts = { spellings: [], options: [[]] };

function analyse(ast: PatternAst, spaceAllowed: boolean): Facts {
  switch (ast.type) {
    case 'chars': {
      const spellings = setSpellings(ast.set, spaceAllowed);
      return { spellings, options: spellings === undefined ? [] : [spellings] };
    }
    case 'concat':
      return concatFacts(ast.items.map((item) => analyse(item, spaceAllowed)));
    case 'union': {
      const parts = ast.items.map((item) => analyse(item, spaceAllowed));
      const spellings = parts.every((p) => p.spellings !== undefined) ? parts.flatMap((p) => p.spellings as readonly string[]) : undefined;
      return { spellings: capped(spellings), options: together(parts.map(usable)) };
    }
    case 'intersection': {
      const left = analyse(ast.left, spaceAllowed);
      const right = analyse(ast.right, spaceAllowed);
      const spellings = left.spellings === undefined ? right.spellings : right.spellings === undefined ? left.spellings : left.spellings.filter((s) => (right.spellings as readonly string[]).includes(s));
      return { spellings, options: ranked([...usable(left), ...usable(right)]) };
    }
    case 'repeat': {
      if (ast.max === 0) return { spellings: [''], options: [] };
      const item = analyse(ast.item, spaceAllowed);
      if (item.spellings !== undefined && ast.min === ast.max) return concatFacts(new Array<Facts>(ast.min).fill(item));
      return { spellings: undefined, options: ast.min >= 1 ? usable(item) : [] };
    }
    case 'nothing':
      return NOTHING;
  }
}

/**
 * A concatenation: consecutive parts with spellings join into runs (their cross product, while it stays small),
 * each run a substring every match contains; a part without spellings ends the run and offers its own options.
 */
function concatFacts(parts: readonly Facts[]): Facts {
  let run: readonly string[] = [''];
  let whole = true;
  const options: Needles[] = [];
  for (const part of parts) {
    if (part.spellings?.length === 0 || part.options.some((o) => o.length === 0)) return NOTHING;
    if (part.spellings !== undefined) {
      const joined = cross(run, part.spellings);
      if (joined !== undefined) {
        run = joined;
        continue;
      }
      options.push(...runOption(run));
      run = part.spellings;
    } else {
      options.push(...runOption(run), ...part.options);
      run = [''];
    }
    whole = false;
  }
  options.push(...runOption(run));
  return { spellings: whole ? run : undefined, options: ranked(options) };
}

function cross(left: readonly string[], right: readonly string[]): readonly string[] | undefined {
  if (left.length * right.length > MAX_SPELLINGS) return undefined;
  return unique(left.flatMap((l) => right.map((r) => l + r)));
}

/** A run's spellings as a condition, unless one is empty (every string holds the empty string). */
function runOption(run: readonly string[]): Options {
  return run.includes('') ? [] : [minimal(run)];
}

function usable(f: Facts): Options {
  return ranked([...(f.spellings === undefined ? [] : runOption(f.spellings)), ...f.options]);
}

/**
 * One condition for alternatives, one of which holds: a condition of each, joined. Picked greedily, as in weighted
 * set cover: repeatedly the option that satisfies the most alternatives still open per needle cost added (a needle
 * already taken, or one containing it, costs nothing; short needles cost more); then, latest first, every pick the
 * others make unnecessary is dropped. None when an alternative has none.
 */
function together(alternatives: readonly Options[]): Options {
  if (alternatives.some((a) => a.length === 0)) return [];
  // An alternative that never holds needs nothing.
  const needy = alternatives.filter((a) => !a.some((o) => o.length === 0));
  const picks: Needles[] = [];
  let open = needy;
  while (open.length > 0) {
    const chosen = picks.flat();
    let best: { option: Needles; satisfied: number; ratio: number } | undefined;
    for (const alternative of open) {
      for (const option of alternative) {
        const trial = [...chosen, ...option];
        const satisfied = open.filter((a) => satisfiedBy(a, trial)).length;
        const ratio = cost(option.filter((n) => !coveredBy(n, chosen))) / satisfied;
        if (best === undefined || ratio < best.ratio || (ratio === best.ratio && satisfied > best.satisfied)) best = { option, satisfied, ratio };
      }
    }
    picks.push((best as { option: Needles }).option);
    const all = picks.flat();
    open = open.filter((a) => !satisfiedBy(a, all));
  }
  for (let i = picks.length - 1; i >= 0; i--) {
    const rest = picks.filter((_, j) => j !== i);
    if (needy.every((a) => satisfiedBy(a, rest.flat()))) picks.splice(i, 1);
  }
  return [minimal(picks.flat())];
}

/** Some option of the alternative has every needle covered by `chosen`. */
function satisfiedBy(alternative: Options, chosen: readonly string[]): boolean {
  return alternative.some((o) => o.every((n) => coveredBy(n, chosen)));
}

/** A record holding `needle` holds one of `chosen`. */
function coveredBy(needle: string, chosen: readonly string[]): boolean {
  return chosen.some((c) => needle.includes(c));
}

/** Short needles occur in more execs; the exact rates are unknown, so the cost only orders by length. */
function cost(needles: readonly string[]): number {
  return needles.reduce((sum, n) => sum + 1 / n.length, 0);
}

/**
 * Options without duplicates, best first (MAX_OPTIONS of them): one that never holds, then the one whose shortest
 * needle is longest (short needles occur everywhere), then fewer needles, then longer ones.
 */
function ranked(options: readonly Needles[]): Options {
  const byKey = new Map<string, Needles>();
  for (const o of options) byKey.set(o.join('\u0000'), o);
  return [...byKey.values()].sort(compareOptions).slice(0, MAX_OPTIONS);
}

function compareOptions(a: Needles, b: Needles): number {
  if (a.length === 0 || b.length === 0) return a.length - b.length;
  const shortest = (n: Needles): number => Math.min(...n.map((s) => s.length));
  const total = (n: Needles): number => n.reduce((sum, s) => sum + s.length, 0);
  return shortest(b) - shortest(a) || a.length - b.length || total(b) - total(a);
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

/** Lower-cased (ASCII letters only), without duplicates and without a needle that contains another, sorted. */
function minimal(needles: readonly string[]): string[] {
  const sorted = unique(needles.map(asciiLower)).sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
  const kept: string[] = [];
  for (const n of sorted) if (!coveredBy(n, kept)) kept.push(n);
  return kept.sort();
}

function unique(strings: readonly string[]): string[] {
  return [...new Set(strings)];
}

/** The native compare folds ASCII letters only: KELVIN SIGN must stay itself, as toLowerCase would not leave it. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20));
}
