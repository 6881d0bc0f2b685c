/**
 * One automaton for a group of patterns: an epsilon-free NFA over the class alphabet (built at
 * compile time, serializable), read through a DFA that is determinized lazily, one transition the
 * first time a value needs it, up to a state budget. Real argument strings visit few DFA states, so
 * even a field with hundreds of unanchored patterns costs two array loads per character once warm,
 * while the DFA states such a set *could* reach are far too many to build ahead of time.
 *
 * When a value needs a new state and the budget is full, that value continues on the NFA as a
 * bitset simulation from the DFA state it reached, and the DFA is discarded before the next value
 * (as RE2 flushes its cache). Every step is bounded by the NFA's size, so reading is linear in the
 * value whatever it contains; memory is bounded by the budget.
 */
import { type AlphabetTables, astralClass, buildAlphabet } from './alphabet';
import type { CodePointSet } from './charset';
import type { Nfa, NfaEdge } from './nfa';

/** Transition entries (states x classes) one DFA may hold, whatever the state budget. */
export const MAX_TABLE_ENTRIES = 1 << 22;
export const DEFAULT_STATE_BUDGET = 4096;

/** Transition not determinized yet. The dead state is offset 0. */
const UNKNOWN = -1;
const DEAD = 0;
const START = 1;
const NO_IDS = new Int32Array(0);

/** The compiled, immutable part: alphabet and NFA. */
export interface AutomatonTables {
  readonly patternCount: number;
  readonly alphabet: AlphabetTables;
  /** Edges of NFA state q are nfaEdgeStart[q]..nfaEdgeStart[q+1]. */
  readonly nfaEdgeStart: Int32Array;
  readonly nfaEdgeTarget: Int32Array;
  /** ceil(classCount/32) words per edge: the classes the edge reads. */
  readonly nfaEdgeClasses: Uint32Array;
  /** Pattern ids accepted in NFA state q: nfaAcceptIds[nfaAcceptStart[q]..nfaAcceptStart[q+1]]. */
  readonly nfaAcceptStart: Int32Array;
  readonly nfaAcceptIds: Int32Array;
}

export function compileAutomaton(nfa: Nfa, patternCount: number): AutomatonTables {
  const n = nfa.edges.length;
  const edgeSets: CodePointSet[] = [];
  const nfaEdgeStart = new Int32Array(n + 1);
  const targets: number[] = [];
  // Indexed loops: this runs once per rule load, mostly before the JIT has optimized it.
  for (let q = 0; q < n; q++) {
    nfaEdgeStart[q] = edgeSets.length;
    const edges = nfa.edges[q] as readonly NfaEdge[];
    for (let x = 0; x < edges.length; x++) {
      const edge = edges[x] as NfaEdge;
      edgeSets.push(edge.set);
      targets.push(edge.to);
    }
  }
  nfaEdgeStart[n] = edgeSets.length;
  const nfaEdgeTarget = Int32Array.from(targets);
  const { tables: alphabet, distinctOf, classesOfDistinct } = buildAlphabet(edgeSets);
  const classWords = (alphabet.classCount + 31) >>> 5;
  // Each distinct set's class bits once; an edge copies its set's.
  const masks = new Uint32Array(classesOfDistinct.length * classWords);
  for (let d = 0; d < classesOfDistinct.length; d++) {
    for (const k of classesOfDistinct[d] as number[]) (masks[d * classWords + (k >>> 5)] as number) |= 1 << (k & 31);
  }
  const nfaEdgeClasses = new Uint32Array(edgeSets.length * classWords);
  for (let e = 0; e < edgeSets.length; e++) {
    const d = distinctOf[e] as number;
    for (let w = 0; w < classWords; w++) nfaEdgeClasses[e * classWords + w] = masks[d * classWords + w] as number;
  }
  const nfaAcceptStart = new Int32Array(n + 1);
  for (let q = 0; q < n; q++) nfaAcceptStart[q + 1] = (nfaAcceptStart[q] as number) + (nfa.accepts[q] as readonly number[]).length;
  const nfaAcceptIds = Int32Array.from(nfa.accepts.flat());
  return { patternCount, alphabet, nfaEdgeStart, nfaEdgeTarget, nfaEdgeClasses, nfaAcceptStart, nfaAcceptIds };
}

/**
 * NFA states from which every continuation keeps the same accepted patterns (the trailing `*` of
 * `*lit*`). Entering one decides those patterns for good, so the DFA reports them right away and
 * drops the state: the set of already-matched patterns then never multiplies the DFA's states.
 * Greatest fixpoint of: accepts something, every edge leads to such a state with the same
 * accepts, and the edges together read every class.
 */
function latchedStates(t: AutomatonTables): Uint8Array {
  const n = t.nfaEdgeStart.length - 1;
  const classCount = t.alphabet.classCount;
  const words = (classCount + 31) >>> 5;
  const acceptKey: string[] = [];
  const latched = new Uint8Array(n);
  for (let q = 0; q < n; q++) {
    const from = t.nfaAcceptStart[q] as number;
    const to = t.nfaAcceptStart[q + 1] as number;
    acceptKey.push(from === to ? '' : t.nfaAcceptIds.subarray(from, to).join(','));
    latched[q] = from === to ? 0 : 1;
  }
  const covered = new Uint32Array(words);
  for (let changed = true; changed; ) {
    changed = false;
    // Targets mostly have higher numbers than their sources: downwards, one pass nearly settles it.
    for (let q = n - 1; q >= 0; q--) {
      if (latched[q] === 0) continue;
      covered.fill(0);
      let ok = true;
      for (let x = t.nfaEdgeStart[q] as number; x < (t.nfaEdgeStart[q + 1] as number); x++) {
        const to = t.nfaEdgeTarget[x] as number;
        if (latched[to] === 0 || acceptKey[to] !== acceptKey[q]) ok = false;
        for (let w = 0; w < words; w++) (covered[w] as number) |= t.nfaEdgeClasses[x * words + w] as number;
      }
      for (let k = 0; k < classCount && ok; k++) if (((covered[k >>> 5] as number) & (1 << (k & 31))) === 0) ok = false;
      if (!ok) {
        latched[q] = 0;
        changed = true;
      }
    }
  }
  return latched;
}

/** States with a self-loop on every class (and not latched). */
function stickyStates(t: AutomatonTables, latched: Uint8Array): Uint8Array {
  const n = t.nfaEdgeStart.length - 1;
  const sticky = new Uint8Array(n);
  const classCount = t.alphabet.classCount;
  const words = (classCount + 31) >>> 5;
  for (let q = 0; q < n; q++) {
    if (latched[q] === 1) continue;
    for (let x = t.nfaEdgeStart[q] as number; x < (t.nfaEdgeStart[q + 1] as number); x++) {
      if (t.nfaEdgeTarget[x] !== q) continue;
      let all = true;
      for (let k = 0; k < classCount && all; k++) if (((t.nfaEdgeClasses[x * words + (k >>> 5)] as number) & (1 << (k & 31))) === 0) all = false;
      if (all) sticky[q] = 1;
    }
  }
  return sticky;
}

/**
 * The ASCII units on which the start state's transition is dead: no edge of the NFA's start state reads their class
 * and the start reports nothing on entry (it is not latched). A property of the NFA, so it holds before the lazy
 * DFA has built that transition and after every flush.
 */
function deadFirstUnits(t: AutomatonTables, ascii: Uint16Array, startLatched: boolean): Uint8Array {
  const dead = new Uint8Array(128);
  if (startLatched) return dead;
  const words = (t.alphabet.classCount + 31) >>> 5;
  const read = new Uint32Array(words);
  for (let x = t.nfaEdgeStart[0] as number; x < (t.nfaEdgeStart[1] as number); x++) {
    for (let w = 0; w < words; w++) (read[w] as number) |= t.nfaEdgeClasses[x * words + w] as number;
  }
  for (let c = 0; c < 128; c++) {
    const k = ascii[c] as number;
    if (((read[k >>> 5] as number) & (1 << (k & 31))) === 0) dead[c] = 1;
  }
  return dead;
}

/**
 * Transition value for entering a state that reports patterns on entry: -(offset) - 2, always
 * below UNKNOWN, so the hot loop's single `t > 0` test keeps the common case short.
 */
function emittingOffset(offset: number): number {
  return -offset - 2;
}

/** Matches values against one automaton. Holds its lazy DFA and scratch space: one instance per thread. */
export class AutomatonMatcher {
  readonly nfaStates: number;
  private readonly classCount: number;
  private readonly classWords: number;
  private readonly ascii: Uint16Array;
  private readonly pageIndex: Uint16Array;
  private readonly pages: Uint16Array;
  private readonly latched: Uint8Array;
  /** Per ASCII unit: a value starting with it matches nothing (deadFirstUnits). */
  private readonly deadOnFirst: Uint8Array;
  private readonly budget: number;
  private trans: Int32Array;
  /** Per DFA state: its live NFA states, what it accepts at the end, what it reports on entry. */
  private sets: Int32Array[] = [];
  private accepts: Int32Array[] = [];
  private entryReports: Int32Array[] = [];
  private statesByHash = new Map<number, number[]>();
  private flushPending = false;
  /** The start state reports patterns on entry (a `*` pattern) / holds no NFA state (nothing else can match). */
  private startReports = false;
  private startIsEmpty = false;
  private flushCount = 0;
  // Scratch, sized once: sparse state lists for the NFA continuation, target lists for determinization.
  private readonly current: Int32Array;
  private readonly next: Int32Array;
  private nextCount = 0;
  private readonly mark: Int32Array;
  private generation = 0;
  private readonly sticky: Uint8Array;
  private readonly isActiveSticky: Uint8Array;
  private readonly activeSticky: number[] = [];
  /** Per class: successors of the active sticky states on it. */
  private readonly stickySuccessors: number[][];
  private readonly live: Int32Array;
  private readonly seen: Int32Array;
  private seenStamp = 0;
  /** matchEachInto's scratch: indexes of the strings its first pass left to walk. */
  private readonly survivors = new Int32Array(64);

  constructor(
    readonly tables: AutomatonTables,
    stateBudget: number,
  ) {
    const { alphabet } = tables;
    this.nfaStates = tables.nfaEdgeStart.length - 1;
    this.classCount = alphabet.classCount;
    this.classWords = (this.classCount + 31) >>> 5;
    this.pageIndex = alphabet.pageIndex;
    this.pages = alphabet.pages;
    const asciiPage = (alphabet.pageIndex[0] as number) << 8;
    this.ascii = alphabet.pages.slice(asciiPage, asciiPage + 128);
    this.latched = latchedStates(tables);
    this.deadOnFirst = deadFirstUnits(tables, this.ascii, this.latched[0] === 1);
    this.budget = Math.max(2, Math.min(stateBudget, Math.floor(MAX_TABLE_ENTRIES / this.classCount)));
    this.current = new Int32Array(this.nfaStates);
    this.next = new Int32Array(this.nfaStates);
    this.mark = new Int32Array(this.nfaStates).fill(-1);
    this.sticky = stickyStates(tables, this.latched);
    this.isActiveSticky = new Uint8Array(this.nfaStates);
    this.stickySuccessors = Array.from({ length: this.classCount }, () => []);
    this.live = new Int32Array(this.nfaStates);
    this.seen = new Int32Array(this.nfaStates).fill(-1);
    this.trans = new Int32Array(Math.min(this.budget, 16) * this.classCount);
    this.resetDfa();
  }

  /** DFA states built so far, the dead and the start state included. */
  get dfaStates(): number {
    return this.sets.length;
  }

  get stateBudget(): number {
    return this.budget;
  }

  /** How often a full budget made the DFA start over. */
  get flushes(): number {
    return this.flushCount;
  }

  matchInto(value: string, hits: Uint32Array): void {
    if (this.diesOnFirstUnit(value)) return;
    if (this.flushPending) this.resetDfa();
    this.run(value, hits);
  }

  /**
   * matchInto for each string element of `values` from index `from` on, skipping null and undefined; stops at the
   * first other element and returns its index (values.length when all were handled), so the caller decides what
   * other elements mean. One call per field instead of one per string.
   */
  matchEachInto(values: readonly unknown[], from: number, hits: Uint32Array): number {
    const survivors = this.survivors;
    const n = values.length;
    let j = from;
    while (j < n) {
      // First the first unit of every string, in a short loop whose loads do not wait on each other, so the cache
      // misses of an event's strings overlap instead of each waiting for the walk of the one before.
      let count = 0;
      let stop = n;
      for (; j < n && count < survivors.length; j++) {
        const v: unknown = values[j];
        if (typeof v === 'string') {
          if (!this.diesOnFirstUnit(v)) survivors[count++] = j;
        } else if (v !== null && v !== undefined) {
          stop = j;
          break;
        }
      }
      for (let k = 0; k < count; k++) {
        if (this.flushPending) this.resetDfa();
        this.run(values[survivors[k] as number] as string, hits);
      }
      if (stop < n) return stop;
    }
    return n;
  }

  /**
   * Most arguments are ruled out by their first unit (`-x` against paths and names): the start state's transition
   * on it is dead. One table read, before anything else is set up.
   */
  private diesOnFirstUnit(value: string): boolean {
    // An empty value's charCodeAt(0) is NaN, which no comparison admits: it goes on to report what start accepts.
    const c = value.charCodeAt(0);
    return c < 128 && this.deadOnFirst[c] === 1;
  }

  private run(value: string, hits: Uint32Array): void {
    const K = this.classCount;
    const ascii = this.ascii;
    let trans = this.trans;
    let s = START * K;
    if (this.startReports) report(this.entryReports[START] as Int32Array, hits);
    if (this.startIsEmpty) return;
    const n = value.length;
    let i = 0;
    while (i < n) {
      let c = value.charCodeAt(i);
      // Fast path, the usual step of a warm DFA: an ASCII unit on a built, non-reporting transition.
      while (c < 128) {
        const t = trans[s + (ascii[c] as number)] as number;
        if (t <= 0) break;
        s = t;
        if (++i === n) break;
        c = value.charCodeAt(i);
      }
      if (i === n) break;
      // The general step: any unit, a transition to build, a state that reports, the dead state.
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
      let t = trans[s + k] as number;
      if (t > 0) {
        s = t;
      } else {
        if (t === UNKNOWN) {
          t = this.determinize(s / K, k);
          trans = this.trans;
          if (t === UNKNOWN) {
            this.continueOnNfa(s / K, value, i, hits);
            return;
          }
        }
        if (t === DEAD) return;
        if (t < 0) {
          s = -t - 2;
          report(this.entryReports[s / K] as Int32Array, hits);
        } else {
          s = t;
        }
      }
      i += 1 + extraUnits;
    }
    report(this.accepts[s / K] as Int32Array, hits);
  }

  private resetDfa(): void {
    if (this.sets.length > 0) this.flushCount++;
    this.flushPending = false;
    this.sets = [NO_IDS];
    this.accepts = [NO_IDS];
    this.entryReports = [NO_IDS];
    this.statesByHash.clear();
    this.trans.fill(DEAD, 0, this.classCount);
    this.remember(DEAD);
    const startLatched = this.latched[0] === 1;
    this.addState(startLatched ? NO_IDS : Int32Array.of(0), startLatched ? this.acceptsOf(Int32Array.of(0), 1) : NO_IDS);
    this.startReports = (this.entryReports[START] as Int32Array).length > 0;
    this.startIsEmpty = (this.sets[START] as Int32Array).length === 0;
  }

  private addState(set: Int32Array, reports: Int32Array): number {
    const d = this.sets.length;
    const K = this.classCount;
    if ((d + 1) * K > this.trans.length) {
      const grown = new Int32Array(Math.min(this.budget, d * 2) * K);
      grown.set(this.trans);
      this.trans = grown;
    }
    this.trans.fill(UNKNOWN, d * K, (d + 1) * K);
    this.sets.push(set);
    this.accepts.push(this.acceptsOf(set, set.length));
    this.entryReports.push(reports);
    this.remember(d);
    return d;
  }

  private remember(d: number): void {
    const set = this.sets[d] as Int32Array;
    const h = hashState(set, set.length, this.entryReports[d] as Int32Array);
    const bucket = this.statesByHash.get(h);
    if (bucket === undefined) this.statesByHash.set(h, [d]);
    else bucket.push(d);
  }

  private acceptsOf(states: Int32Array, count: number): Int32Array {
    const { nfaAcceptStart, nfaAcceptIds } = this.tables;
    const ids = new Set<number>();
    for (let j = 0; j < count; j++) {
      const q = states[j] as number;
      for (let x = nfaAcceptStart[q] as number; x < (nfaAcceptStart[q + 1] as number); x++) ids.add(nfaAcceptIds[x] as number);
    }
    return ids.size === 0 ? NO_IDS : Int32Array.from([...ids].sort((a, b) => a - b));
  }

  /** Builds DFA state d's transition on class k; UNKNOWN when that needs a state past the budget. */
  private determinize(d: number, k: number): number {
    const { nfaEdgeStart, nfaEdgeTarget, nfaEdgeClasses } = this.tables;
    const set = this.sets[d] as Int32Array;
    const live = this.live;
    const seen = this.seen;
    const stamp = ++this.seenStamp;
    const classWord = k >>> 5;
    const classBit = 1 << (k & 31);
    const words = this.classWords;
    let liveCount = 0;
    let latchedTargets: number[] | undefined;
    for (let j = 0; j < set.length; j++) {
      const q = set[j] as number;
      for (let x = nfaEdgeStart[q] as number; x < (nfaEdgeStart[q + 1] as number); x++) {
        if (((nfaEdgeClasses[x * words + classWord] as number) & classBit) === 0) continue;
        const to = nfaEdgeTarget[x] as number;
        if (seen[to] === stamp) continue;
        seen[to] = stamp;
        if (this.latched[to] === 1) (latchedTargets ??= []).push(to);
        else live[liveCount++] = to;
      }
    }
    let value: number;
    if (liveCount === 0 && latchedTargets === undefined) {
      value = DEAD;
    } else {
      sortPrefix(live, liveCount);
      const reports = latchedTargets === undefined ? NO_IDS : this.acceptsOf(Int32Array.from(latchedTargets), latchedTargets.length);
      let to = this.find(live, liveCount, reports);
      if (to === undefined) {
        if (this.sets.length >= this.budget) {
          // Starting over helps only when there is something to discard beyond dead and start.
          this.flushPending = this.sets.length > START + 1;
          return UNKNOWN;
        }
        to = this.addState(live.slice(0, liveCount), reports);
      }
      value = reports.length > 0 ? emittingOffset(to * this.classCount) : to * this.classCount;
    }
    this.trans[d * this.classCount + k] = value;
    return value;
  }

  private find(live: Int32Array, count: number, reports: Int32Array): number | undefined {
    for (const c of this.statesByHash.get(hashState(live, count, reports)) ?? []) {
      if (sameIds(this.sets[c] as Int32Array, live, count) && sameIds(this.entryReports[c] as Int32Array, reports, reports.length)) return c;
    }
    return undefined;
  }

  /**
   * Simulation of the NFA from DFA state `d`, reading value from index `from` on, over a sparse
   * set of active states. Sticky states (a self-loop on every class: the `*` of `*lit`) stay
   * active once entered, so they are kept aside and their other successors filed per class once,
   * on entry; each character then costs the successors filed under its class plus the edges of
   * the other active states, not the hundreds of `*` states a large unanchored set keeps alive.
   */
  private continueOnNfa(d: number, value: string, from: number, hits: Uint32Array): void {
    const { nfaEdgeStart, nfaEdgeTarget, nfaEdgeClasses } = this.tables;
    const classWords = this.classWords;
    const stickyByClass = this.stickySuccessors;
    for (const list of stickyByClass) list.length = 0;
    for (const q of this.activeSticky) this.isActiveSticky[q] = 0;
    this.activeSticky.length = 0;
    let cur = this.current;
    let nxt = this.next;
    this.nextCount = 0;
    // Marks from earlier values are older generations; restart the count long before it overflows.
    if (this.generation > 0x3fffffff - value.length) {
      this.mark.fill(-1);
      this.generation = 0;
    }
    this.generation++;
    for (const q of this.sets[d] as Int32Array) this.enter(q, nxt, hits);
    let curCount = this.nextCount;
    let swap = cur;
    cur = nxt;
    nxt = swap;
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
      this.generation++;
      this.nextCount = 0;
      const filed = stickyByClass[k] as number[];
      const filedCount = filed.length;
      for (let j = 0; j < filedCount; j++) this.enter(filed[j] as number, nxt, hits);
      for (let j = 0; j < curCount; j++) {
        const q = cur[j] as number;
        for (let x = nfaEdgeStart[q] as number; x < (nfaEdgeStart[q + 1] as number); x++) {
          if (((nfaEdgeClasses[x * classWords + classWord] as number) & classBit) !== 0) this.enter(nfaEdgeTarget[x] as number, nxt, hits);
        }
      }
      curCount = this.nextCount;
      if (curCount === 0 && this.activeSticky.length === 0) return;
      swap = cur;
      cur = nxt;
      nxt = swap;
    }
    const { nfaAcceptStart, nfaAcceptIds } = this.tables;
    for (let j = 0; j < curCount; j++) reportRange(nfaAcceptIds, nfaAcceptStart[cur[j] as number] as number, nfaAcceptStart[(cur[j] as number) + 1] as number, hits);
    for (const q of this.activeSticky) reportRange(nfaAcceptIds, nfaAcceptStart[q] as number, nfaAcceptStart[q + 1] as number, hits);
  }

  /** NFA state t is reached: report it if latched, keep it aside if sticky, else add it to `into`. */
  private enter(t: number, into: Int32Array, hits: Uint32Array): void {
    if (this.mark[t] === this.generation) return;
    this.mark[t] = this.generation;
    if (this.latched[t] === 1) {
      reportRange(this.tables.nfaAcceptIds, this.tables.nfaAcceptStart[t] as number, this.tables.nfaAcceptStart[t + 1] as number, hits);
    } else if (this.sticky[t] === 1) {
      if (this.isActiveSticky[t] === 0) this.activateSticky(t);
    } else {
      into[this.nextCount++] = t;
    }
  }

  /** Marks sticky state q active and files its other successors under every class that leads to them. */
  private activateSticky(q: number): void {
    const { nfaEdgeStart, nfaEdgeTarget, nfaEdgeClasses } = this.tables;
    this.isActiveSticky[q] = 1;
    this.activeSticky.push(q);
    for (let x = nfaEdgeStart[q] as number; x < (nfaEdgeStart[q + 1] as number); x++) {
      const t = nfaEdgeTarget[x] as number;
      if (t === q) continue;
      for (let k = 0; k < this.classCount; k++) {
        if (((nfaEdgeClasses[x * this.classWords + (k >>> 5)] as number) & (1 << (k & 31))) !== 0) (this.stickySuccessors[k] as number[]).push(t);
      }
    }
  }
}

function report(ids: Int32Array, hits: Uint32Array): void {
  reportRange(ids, 0, ids.length, hits);
}

function reportRange(ids: Int32Array, from: number, to: number, hits: Uint32Array): void {
  for (let x = from; x < to; x++) {
    const id = ids[x] as number;
    (hits[id >>> 5] as number) |= 1 << (id & 31);
  }
}

function hashState(states: ArrayLike<number>, count: number, reports: Int32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < count; i++) h = Math.imul(h ^ (states[i] as number), 0x01000193);
  h = Math.imul(h ^ 0xffffffff, 0x01000193);
  for (let i = 0; i < reports.length; i++) h = Math.imul(h ^ (reports[i] as number), 0x01000193);
  return h;
}

function sameIds(a: Int32Array, b: Int32Array, bCount: number): boolean {
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

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}
