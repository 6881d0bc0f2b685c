/**
 * Semantics-preserving rewrites of rule formulas for the evaluator, and the choice of each rule's gate.
 * and/or/not over side-effect-free atoms can be flattened, reordered and merged freely:
 *   - same-field alternatives merge: `f:(a) or f:(b)` = `f:(a,b)`, and `not f:(a) and not f:(b)` = `not f:(a,b)`
 *     (both are "some element matches one of the ids", so one bit test replaces several);
 *   - operands run in the order of least expected work (operandOrder);
 *   - a rule's gate is one positive match atom every match needs; the evaluator tests it inline before calling
 *     the rule, so a benign event costs most rules a single bit test.
 */
import type { FieldJson, Formula } from './formula';

/** Fields nearly every process event satisfies (`event.type == "start"`): useless as a gate. */
const UNSELECTIVE_FIELDS = new Set(['event.category', 'event.type', 'event.action', 'event.kind', 'host.os.type']);

export function simplify(f: Formula): Formula {
  switch (f.op) {
    case 'not': {
      const inner = simplify(f.arg);
      if (inner.op === 'const') return { op: 'const', value: !inner.value };
      return inner.op === 'not' ? inner.arg : { op: 'not', arg: inner };
    }
    case 'and':
    case 'or':
      return simplifyLogical(f.op, f.args);
    default:
      return f;
  }
}

function simplifyLogical(op: 'and' | 'or', args: readonly Formula[]): Formula {
  const absorbing = op === 'or';
  const flat: Formula[] = [];
  for (const a of args) {
    const s = simplify(a);
    if (s.op === 'const') {
      if (s.value === absorbing) return s;
      continue;
    }
    if (s.op === op) flat.push(...s.args);
    else flat.push(s);
  }
  const merged = mergeSameField(op, flat);
  if (merged.length === 0) return { op: 'const', value: !absorbing };
  return merged.length === 1 ? (merged[0] as Formula) : { op, args: merged };
}

/** or: positive match atoms on one field become one atom; and: negated ones do. */
function mergeSameField(op: 'and' | 'or', args: readonly Formula[]): Formula[] {
  const out: Formula[] = [];
  const byField = new Map<number, { ids: Set<number>; index: number }>();
  for (const a of args) {
    const atom = op === 'or' ? a : a.op === 'not' ? a.arg : undefined;
    if (atom === undefined || atom.op !== 'match') {
      out.push(a);
      continue;
    }
    const seen = byField.get(atom.field);
    if (seen === undefined) {
      byField.set(atom.field, { ids: new Set(atom.patterns), index: out.length });
      out.push(a);
    } else {
      for (const id of atom.patterns) seen.ids.add(id);
    }
  }
  for (const [field, { ids, index }] of byField) {
    const atom: Formula = { op: 'match', field, patterns: [...ids].sort((x, y) => x - y) };
    out[index] = op === 'or' ? atom : { op: 'not', arg: atom };
  }
  return out;
}

/** Relative cost of scanning a field: long values and arrays of them cost most. */
function scanWeight(path: string): number {
  if (/(^|\.)(args|command_line|env_vars)$/.test(path)) return 20;
  if (/(^|\.)(executable|working_directory|path)$/.test(path)) return 3;
  return 1;
}

/**
 * How likely an atom holds on a process event, for ordering: unselective fields nearly always match, the other
 * match atoms (a name, a path, an argument) rarely do, and nothing is known of the other tests.
 */
const UNSELECTIVE_HOLDS = 0.99;
const SELECTIVE_HOLDS = 0.1;
const OTHER_HOLDS = 0.5;
const TEST_COST = 0.5;
/** A bit test on hits that the gates have computed for the event anyway. */
const SCANNED_COST = 0.1;

interface Estimate {
  /** Expected work to decide the formula, evaluated in the chosen order. */
  cost: number;
  /** Chance it holds. */
  holds: number;
}

/**
 * Orders and/or operands by expected cost: an and first tests the operands most likely to fail per unit of cost,
 * an or those most likely to hold (optimal for independent operands). So `event.type == "start"`, true on nearly
 * every event, is tested after the atom that actually rules the event out, and a field the gates scan for every
 * event anyway (`scanned`) costs its bit test only. Memoized per formula node: the estimate of a subtree is asked
 * for at every level of nesting.
 */
export function operandOrder(fields: readonly FieldJson[], scanned: ReadonlySet<number>): (args: readonly Formula[], op: 'and' | 'or') => Formula[] {
  const estimates = new Map<Formula, Estimate>();
  const ordered = new Map<Formula[], Formula[]>();
  const clamp = (p: number): number => Math.min(0.999, Math.max(0.001, p));
  const order = (args: readonly Formula[], op: 'and' | 'or'): Formula[] => {
    // An and stops at its first false operand, an or at its first true one.
    const stops = (e: Estimate): number => (op === 'and' ? 1 - e.holds : e.holds);
    return args
      .map((f, i) => ({ f, i, e: estimate(f) }))
      .sort((a, b) => a.e.cost / clamp(stops(a.e)) - b.e.cost / clamp(stops(b.e)) || a.i - b.i)
      .map((x) => x.f);
  };
  const estimate = (f: Formula): Estimate => {
    const known = estimates.get(f);
    if (known !== undefined) return known;
    let e: Estimate;
    switch (f.op) {
      case 'const':
        e = { cost: 0, holds: f.value ? 1 : 0 };
        break;
      case 'not': {
        const inner = estimate(f.arg);
        e = { cost: inner.cost, holds: 1 - inner.holds };
        break;
      }
      case 'and':
      case 'or': {
        const args = order(f.args, f.op);
        ordered.set(f.args, args);
        // Each operand runs only when the ones before it did not decide.
        let reached = 1;
        let cost = 0;
        for (const a of args) {
          const ea = estimate(a);
          cost += reached * ea.cost;
          reached *= f.op === 'and' ? ea.holds : 1 - ea.holds;
        }
        e = { cost, holds: f.op === 'and' ? reached : 1 - reached };
        break;
      }
      case 'match': {
        const path = fields[f.field]?.path ?? '';
        e = { cost: scanned.has(f.field) ? SCANNED_COST : scanWeight(path), holds: UNSELECTIVE_FIELDS.has(path) ? UNSELECTIVE_HOLDS : SELECTIVE_HOLDS };
        break;
      }
      default:
        e = { cost: TEST_COST, holds: OTHER_HOLDS };
    }
    estimates.set(f, e);
    return e;
  };
  return (args, op) => ordered.get(args as Formula[]) ?? order(args, op);
}

/** "Some element of one of these fields matched one of its ids": field -> ids. */
type Clause = Map<number, Set<number>>;

/**
 * A clause the formula implies, as cheap and selective as found: an and implies any operand's clause (the best is
 * kept); an or implies the union of one clause per branch (so it needs one from every branch).
 */
function impliedClause(f: Formula, rank: (c: Clause) => number): Clause | undefined {
  switch (f.op) {
    case 'match':
      return new Map([[f.field, new Set(f.patterns)]]);
    case 'and': {
      let best: Clause | undefined;
      for (const a of f.args) {
        const c = impliedClause(a, rank);
        if (c !== undefined && (best === undefined || rank(c) < rank(best))) best = c;
      }
      return best;
    }
    case 'or': {
      const union: Clause = new Map();
      for (const a of f.args) {
        const c = impliedClause(a, rank);
        if (c === undefined) return undefined;
        for (const [field, ids] of c) {
          const into = union.get(field) ?? new Set<number>();
          for (const id of ids) into.add(id);
          union.set(field, into);
        }
      }
      return union;
    }
    default:
      return undefined;
  }
}

export interface GateAlternative {
  field: number;
  patterns: number[];
}

/**
 * The rule's gate: alternatives (field, pattern ids) of which every match of the formula satisfies at least one,
 * preferring few, selective, cheap fields (`process.name` rather than `event.type`); undefined if none.
 */
export function chooseGate(f: Formula, fields: readonly FieldJson[]): GateAlternative[] | undefined {
  const fieldRank = (field: number): number => {
    const path = fields[field]?.path ?? '';
    return (UNSELECTIVE_FIELDS.has(path) ? 1000 : 0) + scanWeight(path);
  };
  const rank = (c: Clause): number => [...c.keys()].reduce((n, field) => n + fieldRank(field), 0);
  const clause = impliedClause(f, rank);
  if (clause === undefined) return undefined;
  return [...clause].map(([field, ids]) => ({ field, patterns: [...ids].sort((x, y) => x - y) }));
}
