/**
 * Typed reads of parsed JSON for the readers. Each throws a FieldError naming the field path
 * and what was wrong, which the reader turns into a rejected line.
 */

export class FieldError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'FieldError';
  }
}

export type JsonObject = Record<string, unknown>;

/**
 * Every reader below takes the field's location as `path` plus an optional `field` under it,
 * joined only when there is an error to report: building "event.exec.target.pid" for every
 * field of every line would cost more than reading it.
 */
function at(path: string, field: string | undefined): string {
  if (field === undefined) return path;
  return field.startsWith('[') ? path + field : `${path}.${field}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function obj(v: unknown, path: string, field?: string): JsonObject {
  if (!isObject(v)) throw new FieldError(at(path, field), v === undefined ? 'missing' : `expected an object, got ${describe(v)}`);
  return v;
}

export function int(v: unknown, path: string, field?: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new FieldError(at(path, field), v === undefined ? 'missing' : `expected an integer, got ${typeof v === 'number' ? v : describe(v)}`);
  }
  return v;
}

/** null and absent both mean "not given". */
export function optInt(v: unknown, path: string, field?: string): number | undefined {
  return v === undefined || v === null ? undefined : int(v, path, field);
}

export function str(v: unknown, path: string, field?: string): string {
  if (typeof v !== 'string') throw new FieldError(at(path, field), v === undefined ? 'missing' : `expected a string, got ${describe(v)}`);
  return v;
}

export function optStr(v: unknown, path: string, field?: string): string | undefined {
  return v === undefined || v === null ? undefined : str(v, path, field);
}

export function optBool(v: unknown, path: string, field?: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new FieldError(at(path, field), `expected a boolean, got ${describe(v)}`);
  return v;
}

export function strArray(v: unknown, path: string, field?: string): string[] {
  if (!Array.isArray(v)) throw new FieldError(at(path, field), v === undefined ? 'missing' : `expected an array of strings, got ${describe(v)}`);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'string') throw new FieldError(`${at(path, field)}[${i}]`, `expected a string, got ${describe(v[i])}`);
  }
  return v as string[];
}

function inRange(v: unknown, min: number, max: number, path: string, field: string | undefined): number {
  const n = int(v, path, field);
  if (n < min || n > max) throw new FieldError(at(path, field), `out of range: ${n} (${min} to ${max})`);
  return n;
}

/** An unsigned 32-bit kernel value: uid, gid, code-signing flags. */
export function uint32(v: unknown, path: string, field?: string): number {
  return inRange(v, 0, 0xffff_ffff, path, field);
}

/** A pid or pidversion: a non-negative integer that fits the 32-bit kernel types. */
export const pidNumber = uint32;

/** A signed 32-bit kernel value: a wait(2) status. */
export function int32(v: unknown, path: string, field?: string): number {
  return inRange(v, -0x8000_0000, 0x7fff_ffff, path, field);
}

/** A count or sequence number: a non-negative integer. */
export function count(v: unknown, path: string, field?: string): number {
  const n = int(v, path, field);
  if (n < 0) throw new FieldError(at(path, field), `expected a non-negative integer, got ${n}`);
  return n;
}

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Consecutive events mostly share their second: "yyyy-mm-ddThh:mm:ss" (UTC) -> its ns, last one seen. */
let lastSecondText = '';
let lastSecondNs = 0n;

/** `.ddddddddd` then `Z` from offset 19, as ns; -1 when the tail has another shape. */
function utcFractionNs(s: string): number {
  const end = s.length - 1;
  if (s.charCodeAt(end) !== 90 /* Z */) return -1;
  if (end === 19) return 0;
  if (s.charCodeAt(19) !== 46 /* . */ || end - 20 > 9 || end === 20) return -1;
  let n = 0;
  for (let i = 20; i < end; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n * 10 ** (9 - (end - 20));
}

/** ISO-8601 (as eslogger writes it, nanoseconds kept) -> ns since the epoch. */
export function isoTimeNs(v: unknown, path: string): bigint {
  const s = str(v, path);
  if (s.length >= 20 && s.length <= 30 && s.startsWith(lastSecondText) && lastSecondText.length === 19) {
    const frac = utcFractionNs(s);
    if (frac >= 0) return lastSecondNs + BigInt(frac);
  }
  const m = s.length <= 40 ? ISO_TIME.exec(s) : null;
  if (m === null) throw new FieldError(path, 'expected an ISO-8601 time like 2025-08-07T13:21:35.880814738Z');
  const [, y, mo, d, h, mi, sec, frac, zone] = m as unknown as string[];
  // Date.UTC maps years 0-99 to 19xx; no capture predates 1970 anyway.
  if (Number(y) < 1970) throw new FieldError(path, `before 1970: ${s}`);
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
  const check = new Date(ms);
  if (check.getUTCDate() !== Number(d) || check.getUTCHours() !== Number(h) || Number(sec) > 59 || Number(mi) > 59) {
    throw new FieldError(path, `not a valid date/time: ${s}`);
  }
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const sign = (zone as string)[0] === '-' ? -1 : 1;
    offsetMinutes = sign * (Number((zone as string).slice(1, 3)) * 60 + Number((zone as string).slice(4, 6)));
  }
  const secondNs = (BigInt(ms) - BigInt(offsetMinutes) * 60_000n) * 1_000_000n;
  if (zone === 'Z') {
    lastSecondText = s.slice(0, 19);
    lastSecondNs = secondNs;
  }
  return secondNs + (frac === undefined ? 0n : BigInt(frac.padEnd(9, '0')));
}

/** The largest time in ns the sources carry: the live backends' unsigned 64-bit field (year 2554). */
export const MAX_TIME_NS = 0xffff_ffff_ffff_ffffn;

/** A time in ns since the epoch written as a decimal string (JSON has no 64-bit integers). */
export function bigintString(v: unknown, path: string): bigint {
  const s = str(v, path);
  if (!/^\d+$/.test(s)) throw new FieldError(path, 'expected a non-negative decimal integer string');
  // Past 20 digits it cannot fit: no BigInt of an attacker-sized string.
  const n = s.length <= 20 ? BigInt(s) : undefined;
  if (n === undefined || n > MAX_TIME_NS) {
    const shown = s.length > 40 ? `${s.slice(0, 40)}… (${s.length} digits)` : s;
    throw new FieldError(path, `out of range: ${shown} (at most ${MAX_TIME_NS} ns)`);
  }
  return n;
}
