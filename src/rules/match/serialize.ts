/**
 * The JSON form of a compiled pattern set: the specs (from which the literal groups are re-derived)
 * and the automaton's alphabet and NFA as base64 little-endian typed arrays, so loading parses no
 * pattern and builds no automaton (the DFA is lazy either way). Loading checks every table's shape and every index it holds, so a damaged file
 * is rejected with what is wrong instead of matching out of bounds.
 */
import { type AlphabetTables, MAX_CLASSES } from './alphabet';
import type { AutomatonTables } from './automaton';
import type { PatternSpec } from './index';
import type { GroupPlan } from './plan';

export const SERIALIZED_FORMAT = 'keysentry.pattern-set';
/** 2: every pattern of a set that needs an automaton is in it (version 1 left literals beside it). */
export const SERIALIZED_VERSION = 2;

const TYPED_FIELDS = {
  pageIndex: Uint16Array,
  pages: Uint16Array,
  astralStarts: Int32Array,
  astralClasses: Uint16Array,
  nfaEdgeStart: Int32Array,
  nfaEdgeTarget: Int32Array,
  nfaEdgeClasses: Uint32Array,
  nfaAcceptStart: Int32Array,
  nfaAcceptIds: Int32Array,
} as const;
type TypedField = keyof typeof TYPED_FIELDS;

export type SerializedAutomaton = { [K in TypedField]: string } & {
  patternCount: number;
  classCount: number;
};

export interface SerializedPatternSet {
  format: typeof SERIALIZED_FORMAT;
  version: typeof SERIALIZED_VERSION;
  stateBudget: number;
  specs: PatternSpec[];
  automaton: SerializedAutomaton | null;
}

/** A serialized pattern set that is not one: what is wrong, and where. */
export class PatternSetFormatError extends Error {
  constructor(message: string) {
    super(`invalid compiled pattern set: ${message}`);
    this.name = 'PatternSetFormatError';
  }
}

function toBase64(array: ArrayBufferView): string {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');
}

export function serializeTables(t: AutomatonTables): SerializedAutomaton {
  const a = t.alphabet;
  return {
    patternCount: t.patternCount,
    classCount: a.classCount,
    pageIndex: toBase64(a.pageIndex),
    pages: toBase64(a.pages),
    astralStarts: toBase64(a.astralStarts),
    astralClasses: toBase64(a.astralClasses),
    nfaEdgeStart: toBase64(t.nfaEdgeStart),
    nfaEdgeTarget: toBase64(t.nfaEdgeTarget),
    nfaEdgeClasses: toBase64(t.nfaEdgeClasses),
    nfaAcceptStart: toBase64(t.nfaAcceptStart),
    nfaAcceptIds: toBase64(t.nfaAcceptIds),
  };
}

export interface ParsedPatternSet {
  specs: PatternSpec[];
  stateBudget: number;
  plan: GroupPlan;
  tables: AutomatonTables | undefined;
}

function fail(message: string): never {
  throw new PatternSetFormatError(message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function integer(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${what} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return v;
}

export function parseSerialized(data: unknown, plan: (specs: PatternSpec[]) => GroupPlan): ParsedPatternSet {
  if (!isRecord(data)) fail('not an object');
  if (data.format !== SERIALIZED_FORMAT) fail(`format must be ${JSON.stringify(SERIALIZED_FORMAT)}, got ${JSON.stringify(data.format)}`);
  if (data.version !== SERIALIZED_VERSION) fail(`unsupported version ${JSON.stringify(data.version)} (this build reads ${SERIALIZED_VERSION})`);
  const stateBudget = integer(data.stateBudget, 'stateBudget', 2, 2 ** 31 - 1);
  if (!Array.isArray(data.specs)) fail('specs must be an array');
  const specs = data.specs.map((s: unknown, i: number): PatternSpec => {
    if (!isRecord(s)) fail(`specs[${i}] must be an object`);
    return { kind: s.kind as PatternSpec['kind'], text: s.text as string, caseInsensitive: s.caseInsensitive as boolean };
  });
  const groups = plan(specs);
  if (groups.automaton.length === 0) {
    if (data.automaton !== null) fail('automaton must be null: no pattern of these specs needs one');
    return { specs, stateBudget, plan: groups, tables: undefined };
  }
  if (!isRecord(data.automaton)) fail('automaton missing: these specs need one');
  return { specs, stateBudget, plan: groups, tables: parseTables(data.automaton, specs.length) };
}

function decode<F extends TypedField>(raw: Record<string, unknown>, field: F): InstanceType<(typeof TYPED_FIELDS)[F]> {
  const v = raw[field];
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) fail(`automaton.${field} must be a base64 string`);
  const bytes = Buffer.from(v, 'base64');
  const Type = TYPED_FIELDS[field];
  if (bytes.length % Type.BYTES_PER_ELEMENT !== 0) fail(`automaton.${field} has ${bytes.length} bytes, not a whole number of elements`);
  const out = new Type(bytes.length / Type.BYTES_PER_ELEMENT);
  new Uint8Array(out.buffer).set(bytes);
  return out as InstanceType<(typeof TYPED_FIELDS)[F]>;
}

function checkRange(array: ArrayLike<number>, field: string, min: number, max: number): void {
  for (let i = 0; i < array.length; i++) {
    const v = array[i] as number;
    if (v < min || v > max) fail(`automaton.${field}[${i}] = ${v} is outside ${min}..${max}`);
  }
}

/** `starts` must be offsets into a list of `total` items: length count+1, from 0, non-decreasing, ending at total. */
function checkOffsets(starts: Int32Array, field: string, count: number, total: number): void {
  if (starts.length !== count + 1) fail(`automaton.${field} has ${starts.length} entries, expected ${count + 1}`);
  if (starts[0] !== 0 || starts[count] !== total) fail(`automaton.${field} must run from 0 to ${total}`);
  for (let i = 1; i <= count; i++) if ((starts[i] as number) < (starts[i - 1] as number)) fail(`automaton.${field} decreases at ${i}`);
}

function parseTables(raw: Record<string, unknown>, specCount: number): AutomatonTables {
  const patternCount = integer(raw.patternCount, 'automaton.patternCount', 0, 2 ** 31 - 1);
  if (patternCount !== specCount) fail(`automaton.patternCount ${patternCount} != ${specCount} specs`);
  const classCount = integer(raw.classCount, 'automaton.classCount', 1, MAX_CLASSES);
  const t = Object.fromEntries((Object.keys(TYPED_FIELDS) as TypedField[]).map((f) => [f, decode(raw, f)])) as { [F in TypedField]: InstanceType<(typeof TYPED_FIELDS)[F]> };

  if (t.pageIndex.length !== 256) fail('automaton.pageIndex must have 256 entries');
  if (t.pages.length === 0 || t.pages.length % 256 !== 0) fail('automaton.pages must hold whole 256-entry pages');
  checkRange(t.pageIndex, 'pageIndex', 0, t.pages.length / 256 - 1);
  checkRange(t.pages, 'pages', 0, classCount - 1);
  if (t.astralStarts.length === 0 || t.astralStarts[0] !== 0x10000) fail('automaton.astralStarts must start at 0x10000');
  for (let i = 1; i < t.astralStarts.length; i++) {
    if ((t.astralStarts[i] as number) <= (t.astralStarts[i - 1] as number) || (t.astralStarts[i] as number) > 0x10ffff) fail(`automaton.astralStarts[${i}] is not ascending within the code points`);
  }
  if (t.astralClasses.length !== t.astralStarts.length) fail('automaton.astralClasses must match automaton.astralStarts');
  checkRange(t.astralClasses, 'astralClasses', 0, classCount - 1);

  const nfaStates = t.nfaEdgeStart.length - 1;
  if (nfaStates < 1) fail('automaton.nfaEdgeStart must describe at least one state');
  const edges = t.nfaEdgeTarget.length;
  checkOffsets(t.nfaEdgeStart, 'nfaEdgeStart', nfaStates, edges);
  checkRange(t.nfaEdgeTarget, 'nfaEdgeTarget', 0, nfaStates - 1);
  if (t.nfaEdgeClasses.length !== edges * ((classCount + 31) >>> 5)) fail('automaton.nfaEdgeClasses does not have one class bitset per edge');
  checkOffsets(t.nfaAcceptStart, 'nfaAcceptStart', nfaStates, t.nfaAcceptIds.length);
  // The plan puts every pattern of a set with an automaton into it: any spec index is one of its patterns.
  checkRange(t.nfaAcceptIds, 'nfaAcceptIds', 0, specCount - 1);

  const alphabet: AlphabetTables = { classCount, pageIndex: t.pageIndex, pages: t.pages, astralStarts: t.astralStarts, astralClasses: t.astralClasses };
  return {
    patternCount,
    alphabet,
    nfaEdgeStart: t.nfaEdgeStart,
    nfaEdgeTarget: t.nfaEdgeTarget,
    nfaEdgeClasses: t.nfaEdgeClasses,
    nfaAcceptStart: t.nfaAcceptStart,
    nfaAcceptIds: t.nfaAcceptIds,
  };
}
