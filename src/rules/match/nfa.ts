/**
 * Pattern ASTs to one epsilon-free NFA for a whole group of patterns (Thompson construction,
 * then epsilon closure), trimmed to the states that can still reach an accepting state so that
 * an automaton with no live state left can stop reading.
 */
import type { PatternAst } from './ast';
import { type CodePointSet, intersect, union } from './charset';

export interface NfaEdge {
  readonly set: CodePointSet;
  readonly to: number;
}

/** Epsilon-free NFA; state 0 is the start; `accepts[s]` lists the pattern ids accepted in state s. */
export interface Nfa {
  readonly edges: readonly (readonly NfaEdge[])[];
  readonly accepts: readonly (readonly number[])[];
}

/** Thrown when one pattern needs more automaton states than `limit` (`a{1000}{1000}`). */
export class PatternTooComplexError extends Error {
  constructor(readonly limit: number) {
    super(`pattern too complex: needs more than ${limit} automaton states`);
    this.name = 'PatternTooComplexError';
  }
}

interface Fragment {
  start: number;
  end: number;
}

type BuilderEdge = { set: CodePointSet; to: number };
const NO_MOVES: readonly never[] = [];

class ThompsonBuilder {
  // A node's lists are made on its first move: most nodes have either character edges or epsilons, not both, and a
  // rule set builds tens of thousands of nodes on every load.
  private readonly epsilons: Array<number[] | undefined> = [];
  private readonly edges: Array<BuilderEdge[] | undefined> = [];
  private budgetEnd: number;

  constructor(private readonly limitPerPattern: number) {
    this.budgetEnd = limitPerPattern;
  }

  /** Starts a new pattern's allowance of `limitPerPattern` nodes. */
  startPattern(): void {
    this.budgetEnd = this.epsilons.length + this.limitPerPattern;
  }

  node(): number {
    if (this.epsilons.length >= this.budgetEnd) throw new PatternTooComplexError(this.limitPerPattern);
    this.epsilons.push(undefined);
    this.edges.push(undefined);
    return this.epsilons.length - 1;
  }

  epsilon(from: number, to: number): void {
    const list = this.epsilons[from];
    if (list === undefined) this.epsilons[from] = [to];
    else list.push(to);
  }

  private edge(from: number, set: CodePointSet, to: number): void {
    if (set.length === 0) return;
    const list = this.edges[from];
    if (list === undefined) this.edges[from] = [{ set, to }];
    else list.push({ set, to });
  }

  build(ast: PatternAst): Fragment {
    switch (ast.type) {
      case 'chars': {
        const start = this.node();
        const end = this.node();
        this.edge(start, ast.set, end);
        return { start, end };
      }
      case 'concat': {
        // Characters in a row chain directly, without epsilon moves between them.
        let start: number | undefined;
        let end: number | undefined;
        for (const item of ast.items) {
          if (item.type === 'chars' && end !== undefined) {
            const next = this.node();
            this.edge(end, item.set, next);
            end = next;
            continue;
          }
          const f = this.build(item);
          if (end === undefined) start = f.start;
          else this.epsilon(end, f.start);
          end = f.end;
        }
        if (start === undefined || end === undefined) {
          const only = this.node();
          return { start: only, end: only };
        }
        return { start, end };
      }
      case 'union': {
        const start = this.node();
        const end = this.node();
        for (const item of ast.items) {
          const f = this.build(item);
          this.epsilon(start, f.start);
          this.epsilon(f.end, end);
        }
        return { start, end };
      }
      case 'repeat':
        return this.repeat(ast.item, ast.min, ast.max);
      case 'intersection':
        return this.intersection(ast.left, ast.right);
      case 'nothing':
        return { start: this.node(), end: this.node() };
    }
  }

  private chain(parts: Fragment[]): Fragment {
    for (let i = 1; i < parts.length; i++) this.epsilon((parts[i - 1] as Fragment).end, (parts[i] as Fragment).start);
    return { start: (parts[0] as Fragment).start, end: (parts[parts.length - 1] as Fragment).end };
  }

  private repeat(item: PatternAst, min: number, max: number): Fragment {
    const parts: Fragment[] = [];
    for (let i = 0; i < min; i++) parts.push(this.build(item));
    if (max === Infinity) {
      const body = this.build(item);
      const loop = this.node();
      this.epsilon(loop, body.start);
      this.epsilon(body.end, loop);
      parts.push({ start: loop, end: loop });
    } else {
      for (let i = min; i < max; i++) {
        const body = this.build(item);
        const start = this.node();
        const end = this.node();
        this.epsilon(start, body.start);
        this.epsilon(body.end, end);
        this.epsilon(start, end);
        parts.push({ start, end });
      }
    }
    if (parts.length === 0) {
      const only = this.node();
      return { start: only, end: only };
    }
    return this.chain(parts);
  }

  /** Lucene `&`: the product of the two operands' epsilon-free automata, embedded as states. */
  private intersection(left: PatternAst, right: PatternAst): Fragment {
    const product = intersectNfas(this.operand(left), this.operand(right), this.limitPerPattern);
    const ids = product.edges.map(() => this.node());
    const end = this.node();
    product.edges.forEach((edges, s) => {
      for (const e of edges) this.edge(ids[s] as number, e.set, ids[e.to] as number);
      if ((product.accepts[s] as readonly number[]).length > 0) this.epsilon(ids[s] as number, end);
    });
    return { start: ids[0] as number, end };
  }

  private operand(ast: PatternAst): Nfa {
    const sub = new ThompsonBuilder(this.limitPerPattern);
    const f = sub.build(ast);
    return sub.eliminateEpsilons(f.start, new Map([[f.end, [0]]]));
  }

  /** Epsilon closure: one state per node that starts the automaton or is entered by a character. */
  eliminateEpsilons(start: number, acceptLabels: ReadonlyMap<number, readonly number[]>): Nfa {
    const nodeCount = this.epsilons.length;
    const stateOf = new Int32Array(nodeCount).fill(-1);
    const visited = new Int32Array(nodeCount).fill(-1);
    const edgeAt = new Int32Array(nodeCount).fill(-1);
    stateOf[start] = 0;
    const nodes = [start];
    const edges: NfaEdge[][] = [];
    const accepts: (readonly number[])[] = [];
    const stack: number[] = [];
    for (let s = 0; s < nodes.length; s++) {
      const out: BuilderEdge[] = [];
      let labels: number[] | undefined;
      stack.push(nodes[s] as number);
      visited[nodes[s] as number] = s;
      while (stack.length > 0) {
        const n = stack.pop() as number;
        const nodeLabels = acceptLabels.get(n);
        if (nodeLabels !== undefined) labels = labels === undefined ? [...nodeLabels] : [...labels, ...nodeLabels];
        // Indexed loops here and below: this runs once per rule load, mostly before the JIT has optimized it, when
        // an array iterator costs several times an index.
        const nodeEdges = this.edges[n] ?? NO_MOVES;
        for (let x = 0; x < nodeEdges.length; x++) {
          const e = nodeEdges[x] as BuilderEdge;
          let target = stateOf[e.to] as number;
          if (target < 0) {
            target = nodes.length;
            stateOf[e.to] = target;
            nodes.push(e.to);
          }
          // edgeAt remembers, per target state, where this state's edge to it is (valid when visited by s).
          const at = edgeAt[target] as number;
          if (at >= 0 && at < out.length && (out[at] as { to: number }).to === target) {
            const merged = out[at] as BuilderEdge;
            merged.set = union(merged.set, e.set);
          } else {
            edgeAt[target] = out.length;
            out.push({ set: e.set, to: target });
          }
        }
        const nodeEpsilons = this.epsilons[n] ?? NO_MOVES;
        for (let x = 0; x < nodeEpsilons.length; x++) {
          const m = nodeEpsilons[x] as number;
          if (visited[m] !== s) {
            visited[m] = s;
            stack.push(m);
          }
        }
      }
      edges.push(out);
      accepts.push(labels === undefined ? NO_MOVES : labels.length < 2 ? labels : [...new Set(labels)].sort((a, b) => a - b));
    }
    return { edges, accepts };
  }
}

function intersectNfas(a: Nfa, b: Nfa, limit: number): Nfa {
  const width = b.edges.length;
  const stateOf = new Map<number, number>([[0, 0]]);
  const pairs: Array<[number, number]> = [[0, 0]];
  const edges: NfaEdge[][] = [];
  const accepts: number[][] = [];
  for (let s = 0; s < pairs.length; s++) {
    const [x, y] = pairs[s] as [number, number];
    const out: NfaEdge[] = [];
    for (const ea of a.edges[x] as readonly NfaEdge[]) {
      for (const eb of b.edges[y] as readonly NfaEdge[]) {
        const set = intersect(ea.set, eb.set);
        if (set.length === 0) continue;
        const key = ea.to * width + eb.to;
        let to = stateOf.get(key);
        if (to === undefined) {
          if (pairs.length >= limit) throw new PatternTooComplexError(limit);
          to = pairs.length;
          stateOf.set(key, to);
          pairs.push([ea.to, eb.to]);
        }
        out.push({ set, to });
      }
    }
    edges.push(out);
    accepts.push((a.accepts[x] as readonly number[]).length > 0 && (b.accepts[y] as readonly number[]).length > 0 ? [0] : []);
  }
  return trim({ edges, accepts });
}

/** Drops states from which no accepting state is reachable (state 0 always stays, as the start). */
export function trim(nfa: Nfa): Nfa {
  const n = nfa.edges.length;
  const reverseStart = new Int32Array(n + 1);
  for (let s = 0; s < n; s++) {
    const edges = nfa.edges[s] as readonly NfaEdge[];
    for (let x = 0; x < edges.length; x++) (reverseStart[(edges[x] as NfaEdge).to + 1] as number)++;
  }
  for (let s = 0; s < n; s++) (reverseStart[s + 1] as number) += reverseStart[s] as number;
  const fill = reverseStart.slice(0, n);
  const reverse = new Int32Array(reverseStart[n] as number);
  for (let s = 0; s < n; s++) {
    const edges = nfa.edges[s] as readonly NfaEdge[];
    for (let x = 0; x < edges.length; x++) reverse[(fill[(edges[x] as NfaEdge).to] as number)++] = s;
  }
  const live = new Uint8Array(n);
  const stack: number[] = [];
  for (let s = 0; s < n; s++) {
    if ((nfa.accepts[s] as readonly number[]).length > 0) {
      live[s] = 1;
      stack.push(s);
    }
  }
  while (stack.length > 0) {
    const t = stack.pop() as number;
    for (let x = reverseStart[t] as number; x < (reverseStart[t + 1] as number); x++) {
      const p = reverse[x] as number;
      if (!live[p]) {
        live[p] = 1;
        stack.push(p);
      }
    }
  }
  // Thompson states of ordinary patterns all lead to their end: usually there is nothing to drop.
  if (live.indexOf(0, 1) < 0) return nfa;
  const renumber = new Int32Array(n).fill(-1);
  renumber[0] = 0;
  let next = 1;
  for (let s = 1; s < n; s++) if (live[s]) renumber[s] = next++;
  const edges: NfaEdge[][] = Array.from({ length: next }, () => []);
  const accepts: (readonly number[])[] = Array.from({ length: next }, () => []);
  for (let s = 0; s < n; s++) {
    if (!live[s]) continue;
    const to = renumber[s] as number;
    accepts[to] = nfa.accepts[s] as readonly number[];
    for (const e of nfa.edges[s] as readonly NfaEdge[]) if (live[e.to]) (edges[to] as NfaEdge[]).push({ set: e.set, to: renumber[e.to] as number });
  }
  return { edges, accepts };
}

/**
 * One epsilon-free, trimmed NFA for `patterns` (pattern id = its `id`). Patterns that are a run of characters with
 * `x*` loops between them (every literal and wildcard kind, many regexes) get their states directly, one per
 * position, a loop being a self-edge of the position before it; only the others go through Thompson's construction
 * and the epsilon closure. Rule sets are almost all of the first kind, and a rule load builds them before the JIT
 * has optimized anything, so the 20,000 Thompson nodes and their closure were most of a cold compile's NFA time.
 */
export function buildGroupNfa(
  patterns: ReadonlyArray<{ readonly id: number; readonly ast: PatternAst }>,
  limitPerPattern: number,
  onTooComplex: (id: number, err: PatternTooComplexError) => never,
): Nfa {
  const builder = new ThompsonBuilder(limitPerPattern);
  const start = builder.node();
  const labels = new Map<number, number[]>();
  const runs: Array<{ id: number; run: PositionRun }> = [];
  for (const p of patterns) {
    const run = positionRun(p.ast);
    if (run !== undefined) {
      if (run.chars.length + 1 > limitPerPattern) onTooComplex(p.id, new PatternTooComplexError(limitPerPattern));
      runs.push({ id: p.id, run });
      continue;
    }
    builder.startPattern();
    try {
      const f = builder.build(p.ast);
      builder.epsilon(start, f.start);
      labels.set(f.end, [...(labels.get(f.end) ?? []), p.id]);
    } catch (err) {
      if (err instanceof PatternTooComplexError) onTooComplex(p.id, err);
      throw err;
    }
  }
  const general = trim(builder.eliminateEpsilons(start, labels));
  if (runs.length === 0) return general;
  // The Thompson part is the regexes' few states: copied, so that it can grow.
  const edges: NfaEdge[][] = general.edges.map((out) => [...out]);
  const accepts: (readonly number[])[] = [...general.accepts];
  const startAccepts = [...(general.accepts[0] as readonly number[])];
  for (const { id, run } of runs) appendRun(edges, accepts, startAccepts, id, run);
  accepts[0] = startAccepts.length < 2 ? startAccepts : [...new Set(startAccepts)].sort((a, b) => a - b);
  return { edges, accepts };
}

/** `chars[k]` is read after position k; `loops[k]`, when set, is what position k reads and stays on (k = 0..chars.length). */
interface PositionRun {
  readonly chars: readonly CodePointSet[];
  readonly loops: readonly (CodePointSet | undefined)[];
}

/** A concatenation of characters and `x*` loops, never two loops in a row (`[0-9]*[a-z]*` is not one self-edge). */
function positionRun(ast: PatternAst): PositionRun | undefined {
  const items = ast.type === 'concat' ? ast.items : [ast];
  const chars: CodePointSet[] = [];
  const loops: (CodePointSet | undefined)[] = [undefined];
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as PatternAst;
    if (item.type === 'chars' && item.set.length > 0) {
      chars.push(item.set);
      loops.push(undefined);
    } else if (item.type === 'repeat' && item.min === 0 && item.max === Infinity && item.item.type === 'chars' && item.item.set.length > 0 && loops[chars.length] === undefined) {
      loops[chars.length] = item.item.set;
    } else {
      return undefined;
    }
  }
  return { chars, loops };
}

/**
 * Adds one state per position after the first (and one for the first when it loops: the shared start cannot carry a
 * pattern's self-edge, so the start gets that state's edges into it instead, and accepts if the run reads nothing).
 */
function appendRun(edges: NfaEdge[][], accepts: (readonly number[])[], startAccepts: number[], id: number, run: PositionRun): void {
  const m = run.chars.length;
  const ownFirst = run.loops[0] !== undefined;
  const base = edges.length - (ownFirst ? 0 : 1);
  const stateAt = (k: number): number => (k === 0 && !ownFirst ? 0 : base + k);
  for (let k = ownFirst ? 0 : 1; k <= m; k++) {
    edges.push([]);
    accepts.push(k === m ? [id] : NO_MOVES);
  }
  for (let k = 0; k <= m; k++) {
    const q = stateAt(k);
    const out = edges[q] as NfaEdge[];
    const loop = run.loops[k];
    if (loop !== undefined) out.push({ set: loop, to: q });
    if (k < m) out.push({ set: run.chars[k] as CodePointSet, to: stateAt(k + 1) });
  }
  if (ownFirst) {
    const entry = edges[0] as NfaEdge[];
    entry.push({ set: run.loops[0] as CodePointSet, to: stateAt(0) });
    if (m > 0) entry.push({ set: run.chars[0] as CodePointSet, to: stateAt(1) });
  }
  if (m === 0) startAccepts.push(id);
}
