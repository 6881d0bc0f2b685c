/**
 * One automaton for a group of patterns: a DFA over the class alphabet, determinized ahead of time
 * (breadth-first from the start, so the states near the start come first) up to a state budget,
 * backed by the NFA it came from. Reading a value follows the DFA; when it reaches a transition the
 * budget left out, it continues from that DFA state's NFA states as a bitset simulation. Both are
 * linear in the value, neither allocates, and the memory is fixed at compile time.
 */
import { type AlphabetTables, astralClass, buildAlphabet } from './alphabet';
import type { Nfa } from './nfa';

/** Transition entries (states x classes) one DFA table may hold, whatever the state budget. */
export const MAX_TABLE_ENTRIES = 1 << 22;
export const DEFAULT_STATE_BUDGET = 4096;

/** Transition value for "not determinized: continue on the NFA". Dead state is offset 0. */
const UNKNOWN = -1;

export interface AutomatonTables {
  readonly patternCount: number;
  readonly alphabet: AlphabetTables;
  /** NFA in class form: edges of state s are edgeStart[s]..edgeStart[s+1]. */
  readonly nfaEdgeStart: Int32Array;
  readonly nfaEdgeTarget: Int32Array;
  /** ceil(classCount/32) words per edge: the classes the edge reads. */
  readonly nfaEdgeClasses: Uint32Array;
  readonly nfaAcceptStart: Int32Array;
  readonly nfaAcceptIds: Int32Array;
  /** states x classes; entry = target state * classCount, 0 = dead, -1 = beyond the budget, < -1 = emittingOffset(target). */
  readonly dfaTransitions: Int32Array;
  readonly dfaAcceptStart: Int32Array;
  readonly dfaAcceptIds: Int32Array;
  /** Patterns a DFA state reports as soon as it is entered (see latchedStates). */
  readonly dfaEntryStart: Int32Array;
  readonly dfaEntryIds: Int32Array;
  /** The NFA states of each DFA state, to continue on the NFA from it. */
  readonly dfaSetStart: Int32Array;
  readonly dfaSetIds: Int32Array;
  /** Start state offset (state 1 * classCount), or 0 when nothing can match. */
  readonly dfaStart: number;
  /** True when every transition is determinized (the budget was not reached). */
  readonly complete: boolean;
}

export function compileAutomaton(nfa: Nfa, patternCount: number, stateBudget: number): AutomatonTables {
  const edgeSets = nfa.edges.flatMap((edges) => edges.map((e) => e.set));
  const { tables: alphabet, classesOfSet } = buildAlphabet(edgeSets);
  const classCount = alphabet.classCount;
  const classWords = (classCount + 31) >>> 5;

  const n = nfa.edges.length;
  const nfaEdgeStart = new Int32Array(n + 1);
  const nfaEdgeTarget = new Int32Array(edgeSets.length);
  const nfaEdgeClasses = new Uint32Array(edgeSets.length * classWords);
  const edgeClassLists: number[][] = [];
  let e = 0;
  nfa.edges.forEach((edges, s) => {
    nfaEdgeStart[s] = e;
    for (const edge of edges) {
      nfaEdgeTarget[e] = edge.to;
      const classes = classesOfSet[e] as number[];
      for (const k of classes) (nfaEdgeClasses[e * classWords + (k >>> 5)] as number) |= 1 << (k & 31);
      edgeClassLists.push(classes);
      e++;
    }
  });
  nfaEdgeStart[n] = e;
  const { start: nfaAcceptStart, ids: nfaAcceptIds } = flatten(nfa.accepts);

  const latched = latchedStates(nfa, classCount, edgeClassLists, nfaEdgeStart, nfaEdgeTarget);
  const acceptsOf = (states: Iterable<number>): number[] => {
    const ids = new Set<number>();
    for (const q of states) for (let x = nfaAcceptStart[q] as number; x < (nfaAcceptStart[q + 1] as number); x++) ids.add(nfaAcceptIds[x] as number);
    return [...ids].sort((a, b) => a - b);
  };

  const budget = Math.max(2, Math.min(stateBudget, Math.floor(MAX_TABLE_ENTRIES / classCount)));
  const startLatched = latched[0] === 1;
  const sets: number[][] = [[], startLatched ? [] : [0]];
  const entryEmits: number[][] = [[], startLatched ? acceptsOf([0]) : []];
  const statesByHash = new Map<number, number[]>();
  const remember = (d: number): void => {
    const h = hashState(sets[d] as number[], sets[d]?.length ?? 0, entryEmits[d] as number[]);
    statesByHash.set(h, [...(statesByHash.get(h) ?? []), d]);
  };
  remember(0);
  remember(1);
  const rows: Int32Array[] = [new Int32Array(classCount), new Int32Array(classCount)];
  const buckets: number[][] = Array.from({ length: classCount }, () => []);
  const seen = new Int32Array(n).fill(-1);
  const live = new Int32Array(n);
  const latchedNow: number[] = [];
  let complete = true;
  for (let d = 1; d < sets.length; d++) {
    for (const q of sets[d] as number[]) {
      for (let x = nfaEdgeStart[q] as number; x < (nfaEdgeStart[q + 1] as number); x++) {
        for (const k of edgeClassLists[x] as number[]) (buckets[k] as number[]).push(nfaEdgeTarget[x] as number);
      }
    }
    const row = rows[d] as Int32Array;
    for (let k = 0; k < classCount; k++) {
      const stamp = d * classCount + k;
      let liveCount = 0;
      latchedNow.length = 0;
      for (const t of buckets[k] as number[]) {
        if (seen[t] === stamp) continue;
        seen[t] = stamp;
        if (latched[t] === 1) latchedNow.push(t);
        else live[liveCount++] = t;
      }
      (buckets[k] as number[]).length = 0;
      if (liveCount === 0 && latchedNow.length === 0) {
        row[k] = 0;
        continue;
      }
      sortPrefix(live, liveCount);
      const emits = latchedNow.length > 0 ? acceptsOf(latchedNow) : NO_IDS;
      const h = hashState(live, liveCount, emits);
      let to: number | undefined;
      for (const c of statesByHash.get(h) ?? NO_IDS) {
        if (sameIds(sets[c] as number[], live, liveCount) && sameIds(entryEmits[c] as number[], emits, emits.length)) to = c;
      }
      if (to === undefined) {
        if (sets.length >= budget) {
          row[k] = UNKNOWN;
          complete = false;
          continue;
        }
        to = sets.length;
        sets.push(Array.from(live.subarray(0, liveCount)));
        entryEmits.push(emits);
        rows.push(new Int32Array(classCount));
        remember(to);
      }
      row[k] = emits.length > 0 ? emittingOffset(to * classCount) : to * classCount;
    }
  }
  const dfaTransitions = new Int32Array(sets.length * classCount);
  rows.forEach((row, d) => dfaTransitions.set(row, d * classCount));
  const { start: dfaAcceptStart, ids: dfaAcceptIds } = flatten(sets.map(acceptsOf));
  const { start: dfaEntryStart, ids: dfaEntryIds } = flatten(entryEmits);
  const { start: dfaSetStart, ids: dfaSetIds } = flatten(sets);
  const startIsDead = (nfa.edges[0] as readonly unknown[]).length === 0 && (nfa.accepts[0] as readonly number[]).length === 0;
  return {
    patternCount,
    alphabet,
    nfaEdgeStart,
    nfaEdgeTarget,
    nfaEdgeClasses,
    nfaAcceptStart,
    nfaAcceptIds,
    dfaTransitions,
    dfaAcceptStart,
    dfaAcceptIds,
    dfaEntryStart,
    dfaEntryIds,
    dfaSetStart,
    dfaSetIds,
    dfaStart: startIsDead ? 0 : classCount,
    complete,
  };
}

const NO_IDS: number[] = [];

function hashState(states: ArrayLike<number>, count: number, emits: readonly number[]): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < count; i++) h = Math.imul(h ^ (states[i] as number), 0x01000193);
  h = Math.imul(h ^ 0xffffffff, 0x01000193);
  for (const id of emits) h = Math.imul(h ^ id, 0x01000193);
  return h;
}

function sameIds(a: readonly number[], b: ArrayLike<number>, bCount: number): boolean {
  if (a.length !== bCount) return false;
  for (let i = 0; i < bCount; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Insertion sort of the first `count` entries: the sets are small and this allocates nothing. */
function sortPrefix(a: Int32Array, count: number): void {
  for (let i = 1; i < count; i++) {
    const v = a[i] as number;
    let j = i - 1;
    while (j >= 0 && (a[j] as number) > v) {
      a[j + 1] = a[j] as number;
      j--;
    }
    a[j + 1] = v;
  }
}

/**
 * Transition value for entering a state that reports patterns on entry: -(offset) - 2, always
 * below UNKNOWN, so the hot loop's single `t <= 0` test catches it.
 */
export function emittingOffset(offset: number): number {
  return -offset - 2;
}

/**
 * NFA states from which every continuation keeps the same accepted patterns (the trailing `*` of
 * `*lit*`). Entering one decides those patterns for good, so the DFA reports them right away and
 * drops the state: the set of already-matched patterns then never multiplies the DFA's states.
 * Greatest fixpoint of: accepts something, every edge leads to such a state with the same
 * accepts, and the edges read every class.
 */
function latchedStates(nfa: Nfa, classCount: number, edgeClassLists: readonly number[][], edgeStart: Int32Array, edgeTarget: Int32Array): Uint8Array {
  const n = nfa.edges.length;
  const latched = new Uint8Array(n);
  const acceptKey = nfa.accepts.map((a) => a.join(','));
  for (let q = 0; q < n; q++) latched[q] = (nfa.accepts[q] as readonly number[]).length > 0 ? 1 : 0;
  const covered = new Uint8Array(classCount);
  for (let changed = true; changed; ) {
    changed = false;
    for (let q = 0; q < n; q++) {
      if (latched[q] === 0) continue;
      covered.fill(0);
      let ok = true;
      let count = 0;
      for (let x = edgeStart[q] as number; x < (edgeStart[q + 1] as number) && ok; x++) {
        const t = edgeTarget[x] as number;
        if (latched[t] === 0 || acceptKey[t] !== acceptKey[q]) ok = false;
        for (const k of edgeClassLists[x] as number[]) if (covered[k] === 0) (covered[k] = 1), count++;
      }
      if (!ok || count !== classCount) {
        latched[q] = 0;
        changed = true;
      }
    }
  }
  return latched;
}

function flatten(lists: readonly (readonly number[])[]): { start: Int32Array; ids: Int32Array } {
  const start = new Int32Array(lists.length + 1);
  let total = 0;
  lists.forEach((list, i) => {
    start[i] = total;
    total += list.length;
  });
  start[lists.length] = total;
  const ids = new Int32Array(total);
  lists.forEach((list, i) => ids.set(list, start[i]));
  return { start, ids };
}

/** Runs an automaton's tables over values. Holds two scratch bitsets, so one instance per thread. */
export class AutomatonMatcher {
  private readonly classCount: number;
  private readonly ascii: Uint16Array;
  private readonly pageIndex: Uint16Array;
  private readonly pages: Uint16Array;
  private readonly trans: Int32Array;
  private readonly classWords: number;
  private readonly stateWords: number;
  private current: Uint32Array;
  private next: Uint32Array;
  private readonly active: Int32Array;

  constructor(readonly tables: AutomatonTables) {
    const { alphabet } = tables;
    this.classCount = alphabet.classCount;
    this.pageIndex = alphabet.pageIndex;
    this.pages = alphabet.pages;
    this.ascii = alphabet.pages.slice((alphabet.pageIndex[0] as number) << 8, ((alphabet.pageIndex[0] as number) << 8) + 128);
    this.trans = tables.dfaTransitions;
    this.classWords = (this.classCount + 31) >>> 5;
    this.stateWords = (tables.nfaEdgeStart.length - 1 + 31) >>> 5;
    this.current = new Uint32Array(this.stateWords);
    this.next = new Uint32Array(this.stateWords);
    this.active = new Int32Array(this.nfaStates);
  }

  get dfaStates(): number {
    return this.trans.length / this.classCount;
  }

  get nfaStates(): number {
    return this.tables.nfaEdgeStart.length - 1;
  }

  matchInto(value: string, hits: Uint32Array): void {
    const trans = this.trans;
    const ascii = this.ascii;
    const n = value.length;
    let s = this.tables.dfaStart;
    if (s === 0) return;
    this.report(this.tables.dfaEntryStart, this.tables.dfaEntryIds, 1, hits);
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      let k: number;
      let extraUnits = 0;
      if (c < 128) {
        k = ascii[c] as number;
      } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && isLowSurrogate(value.charCodeAt(i + 1))) {
        k = astralClass(this.tables.alphabet, ((c - 0xd800) << 10) + (value.charCodeAt(i + 1) - 0xdc00) + 0x10000);
        extraUnits = 1;
      } else {
        k = this.pages[((this.pageIndex[c >>> 8] as number) << 8) | (c & 0xff)] as number;
      }
      const t = trans[s + k] as number;
      if (t > 0) {
        s = t;
      } else if (t === 0) {
        return;
      } else if (t === UNKNOWN) {
        this.continueOnNfa(s / this.classCount, value, i, hits);
        return;
      } else {
        s = -t - 2;
        this.report(this.tables.dfaEntryStart, this.tables.dfaEntryIds, s / this.classCount, hits);
      }
      i += extraUnits;
    }
    this.report(this.tables.dfaAcceptStart, this.tables.dfaAcceptIds, s / this.classCount, hits);
  }

  private report(start: Int32Array, ids: Int32Array, d: number, hits: Uint32Array): void {
    for (let x = start[d] as number; x < (start[d + 1] as number); x++) {
      const id = ids[x] as number;
      (hits[id >>> 5] as number) |= 1 << (id & 31);
    }
  }

  /** Bitset simulation of the NFA from DFA state `d`, reading value from index `from` on. */
  private continueOnNfa(d: number, value: string, from: number, hits: Uint32Array): void {
    const { dfaSetStart, dfaSetIds, nfaEdgeStart, nfaEdgeTarget, nfaEdgeClasses, nfaAcceptStart, nfaAcceptIds } = this.tables;
    const classWords = this.classWords;
    const active = this.active;
    let cur = this.current;
    let nxt = this.next;
    cur.fill(0);
    for (let x = dfaSetStart[d] as number; x < (dfaSetStart[d + 1] as number); x++) {
      const s = dfaSetIds[x] as number;
      (cur[s >>> 5] as number) |= 1 << (s & 31);
    }
    const n = value.length;
    for (let i = from; i < n; i++) {
      let cp = value.charCodeAt(i);
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < n && isLowSurrogate(value.charCodeAt(i + 1))) {
        cp = ((cp - 0xd800) << 10) + (value.charCodeAt(i + 1) - 0xdc00) + 0x10000;
        i++;
      }
      const k = cp >= 0x10000 ? astralClass(this.tables.alphabet, cp) : (this.pages[((this.pageIndex[cp >>> 8] as number) << 8) | (cp & 0xff)] as number);
      const classWord = k >>> 5;
      const classBit = 1 << (k & 31);
      nxt.fill(0);
      let any = 0;
      const count = listStates(cur, active);
      for (let j = 0; j < count; j++) {
        const s = active[j] as number;
        for (let x = nfaEdgeStart[s] as number; x < (nfaEdgeStart[s + 1] as number); x++) {
          if (((nfaEdgeClasses[x * classWords + classWord] as number) & classBit) !== 0) {
            const t = nfaEdgeTarget[x] as number;
            (nxt[t >>> 5] as number) |= 1 << (t & 31);
            any = 1;
          }
        }
      }
      if (any === 0) return;
      const swap = cur;
      cur = nxt;
      nxt = swap;
    }
    const count = listStates(cur, active);
    for (let j = 0; j < count; j++) this.report(nfaAcceptStart, nfaAcceptIds, active[j] as number, hits);
  }
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** Writes the indices of the set bits of `bits` into `out`; returns how many. */
function listStates(bits: Uint32Array, out: Int32Array): number {
  let count = 0;
  for (let w = 0; w < bits.length; w++) {
    let word = bits[w] as number;
    while (word !== 0) {
      const low = word & -word;
      out[count++] = (w << 5) + (31 - Math.clz32(low));
      word ^= low;
    }
  }
  return count;
}
