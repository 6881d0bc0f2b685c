/**
 * ECS NDJSON: one ECS document per line, as Elastic exports them, with nested objects,
 * dotted field names ("process.parent.name"), or both. Documents are taken as given
 * (process.parent.* included) and handed on nested, so the rules and the alert builder see
 * one shape. An Elasticsearch search hit ({"_index", "_source": {...}}) is unwrapped.
 */
import type { EcsDocument } from '../model/ecs';
import { FieldError, int, isObject, obj, str, strArray, type JsonObject } from './fields';
import type { SourceItem } from './types';

function setOwn(target: JsonObject, key: string, value: unknown): void {
  // A key named "__proto__" must stay data instead of replacing the prototype; defineProperty
  // only for it, since it turns the object into a slow dictionary.
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}

function ownValue(target: JsonObject, key: string): unknown {
  return Object.hasOwn(target, key) ? target[key] : undefined;
}

function merge(target: JsonObject, key: string, value: unknown, path: string): void {
  const existing = ownValue(target, key);
  if (existing === undefined) {
    setOwn(target, key, value);
  } else if (isObject(existing) && isObject(value)) {
    for (const [k, v] of Object.entries(value)) merge(existing, k, v, `${path}.${k}`);
  } else {
    throw new FieldError(path, 'given twice (nested and dotted)');
  }
}

/** Field paths in errors are built on the way out, so the common case allocates none. */
function under(prefix: string, err: unknown): unknown {
  return err instanceof FieldError ? new FieldError(`${prefix}.${err.path}`, err.problem) : err;
}

/** Nests dotted keys at every level; returns the input itself when it has none. */
export function nestDotted(doc: JsonObject): JsonObject {
  let dotted = false;
  // for-in rather than Object.keys: no key array per object. JSON.parse output has no
  // inherited enumerable keys.
  for (const key in doc) {
    if (key.includes('.')) {
      dotted = true;
      continue;
    }
    const v = doc[key];
    if (!isObject(v)) continue;
    let nested: JsonObject;
    try {
      nested = nestDotted(v);
    } catch (err) {
      throw under(key, err);
    }
    if (nested !== v) setOwn(doc, key, nested);
  }
  return dotted ? nestLevel(doc) : doc;
}

/** One level with dotted keys: "a.b.c": v becomes a: { b: { c: v } }, merged with the nested spelling. */
function nestLevel(doc: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, v0] of Object.entries(doc)) {
    let v = v0;
    if (isObject(v0) && key.includes('.')) {
      try {
        v = nestDotted(v0);
      } catch (err) {
        throw under(key, err);
      }
    }
    const segments = key.split('.');
    let target = out;
    for (let i = 0; i < segments.length - 1; i++) {
      const seg = segments[i] as string;
      let next = ownValue(target, seg);
      if (next === undefined) {
        next = {};
        setOwn(target, seg, next);
      } else if (!isObject(next)) {
        throw new FieldError(segments.slice(0, i + 1).join('.'), 'is both a value and an object');
      }
      target = next as JsonObject;
    }
    merge(target, segments[segments.length - 1] as string, v, key);
  }
  return out;
}

const STRING_FIELDS = ['executable', 'name', 'command_line', 'entity_id', 'working_directory'] as const;

function checkProcessFields(p: JsonObject, path: string): void {
  if (p.pid !== undefined) int(p.pid, `${path}.pid`);
  for (const f of STRING_FIELDS) if (p[f] !== undefined) str(p[f], `${path}.${f}`);
  stringOrStrings(p, 'args', `${path}.args`);
}

/**
 * `holder[key]`: absent, a string or strings. Nested arrays are flattened in place first, as Elasticsearch indexes
 * them (`[["a"], ["b"]]` is `["a", "b"]`), so enrichment and the rules see the values a search would.
 */
function stringOrStrings(holder: JsonObject, key: string, path: string): void {
  const v = holder[key];
  if (v === undefined || typeof v === 'string') return;
  // Array#flat recurses: a line nested deeper than the stack is a RangeError, which ecsItem reports as too deep.
  if (Array.isArray(v) && v.some(Array.isArray)) holder[key] = v.flat(Infinity);
  strArray(holder[key], path);
}

/** Type checks on the fields keysentry and its rules rely on; other fields pass untouched. */
function checkEcsDocument(doc: JsonObject): void {
  if (doc['@timestamp'] !== undefined) str(doc['@timestamp'], '@timestamp');
  if (doc.event !== undefined) {
    const event = obj(doc.event, 'event');
    for (const f of ['kind', 'action', 'id'] as const) if (event[f] !== undefined) str(event[f], `event.${f}`);
    stringOrStrings(event, 'category', 'event.category');
    stringOrStrings(event, 'type', 'event.type');
  }
  if (doc.process !== undefined) {
    const process = obj(doc.process, 'process');
    checkProcessFields(process, 'process');
    if (process.parent !== undefined) checkProcessFields(obj(process.parent, 'process.parent'), 'process.parent');
  }
  if (doc.host !== undefined) {
    const host = obj(doc.host, 'host');
    if (host.os !== undefined && obj(host.os, 'host.os').type !== undefined) str((host.os as JsonObject).type, 'host.os.type');
  }
}

/** One parsed line -> an ECS document item, or a rejection. */
export function ecsItem(value: unknown, where: string): SourceItem {
  try {
    let doc = obj(value, 'line');
    if (isObject(doc._source) && typeof doc._index === 'string') doc = doc._source;
    doc = nestDotted(doc);
    checkEcsDocument(doc);
    return { kind: 'ecs', doc: doc as EcsDocument, where };
  } catch (err) {
    if (err instanceof FieldError) return { kind: 'reject', where, reason: err.message };
    if (err instanceof RangeError) return { kind: 'reject', where, reason: 'document nested too deeply' };
    throw err;
  }
}

/** True when a parsed line looks like an ECS document (for format auto-detection). */
export function looksLikeEcs(value: JsonObject): boolean {
  if (isObject(value._source)) return true;
  for (const key of Object.keys(value)) {
    if (key === '@timestamp' || key === 'event' || key === 'process' || key.startsWith('event.') || key.startsWith('process.')) return true;
  }
  return false;
}
