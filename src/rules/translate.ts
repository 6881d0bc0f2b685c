/**
 * Parsed EQL -> Formula over one rule's own field table, with Elasticsearch's type checks
 * (a string field compared with a number, a string function on a number field, ... are load errors).
 */
import type { Comparison, Condition, FieldRef, FunctionCall, InList, Operand, ParsedQuery, PatternMatch } from './eql/ast';
import type { FieldJson, Formula, PatternKind, PatternSpecJson } from './formula';
import { FIELD_SCHEMA, valueKind, type EsFieldType, type ValueKind } from './schema';

/** A construct the single-event engine does not evaluate; the rule loads as unsupported. */
export class UnsupportedConstruct extends Error {
  constructor(readonly construct: string) {
    super(`unsupported: ${construct}`);
  }
}

/** A query that Elasticsearch would reject (or that keysentry cannot type-check). */
export class QueryError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

export const EVALUATED_CATEGORIES = new Set(['process', 'any']);

/** The fields and patterns one rule uses; merged into the rule set's shared tables after the rule compiled. */
export class FieldTable {
  readonly fields: FieldJson[] = [];
  /** For each field, for each pattern: where it was written in the query. */
  readonly patternOffsets: number[][] = [];
  private readonly byPath = new Map<string, number>();
  private readonly byPattern: Map<string, number>[] = [];

  field(path: string, kind: ValueKind, dynamic?: true): number {
    let id = this.byPath.get(path);
    if (id === undefined) {
      id = this.fields.length;
      this.fields.push(dynamic === true ? { path, kind, patterns: [], dynamic } : { path, kind, patterns: [] });
      this.patternOffsets.push([]);
      this.byPattern.push(new Map());
      this.byPath.set(path, id);
    }
    return id;
  }

  pattern(field: number, spec: PatternSpecJson, offset: number): number {
    const key = `${spec.kind}\u0000${spec.caseInsensitive ? 1 : 0}\u0000${spec.text}`;
    const map = this.byPattern[field] as Map<string, number>;
    let id = map.get(key);
    if (id === undefined) {
      const f = this.fields[field] as FieldJson;
      id = f.patterns.length;
      f.patterns.push(spec);
      (this.patternOffsets[field] as number[]).push(offset);
      map.set(key, id);
    }
    return id;
  }
}

const FALSE: Formula = { op: 'const', value: false };
const TRUE: Formula = { op: 'const', value: true };

function not(f: Formula): Formula {
  if (f.op === 'const') return f.value ? FALSE : TRUE;
  if (f.op === 'not') return f.arg;
  return { op: 'not', arg: f };
}

function or(args: Formula[]): Formula {
  return args.length === 1 ? (args[0] as Formula) : { op: 'or', args };
}

/** Wildcard text -> the cheapest exact kind that means the same. */
export function classifyWildcard(text: string): { kind: PatternKind; text: string } {
  if (!text.includes('?')) {
    const stars = text.split('*').length - 1;
    if (stars === 0) return { kind: 'exact', text };
    const inner = text.slice(1, -1);
    if (stars === 1 && text.endsWith('*') && text.length > 1) return { kind: 'prefix', text: text.slice(0, -1) };
    if (stars === 1 && text.startsWith('*') && text.length > 1) return { kind: 'suffix', text: text.slice(1) };
    if (stars === 2 && text.startsWith('*') && text.endsWith('*') && inner.length > 0) return { kind: 'contains', text: inner };
  }
  return { kind: 'wildcard', text };
}

const KNOWN_UNSUPPORTED_FUNCTIONS = new Set(['add', 'between', 'cidrmatch', 'concat', 'divide', 'indexof', 'modulo', 'multiply', 'number', 'string', 'substring', 'subtract']);
const STRING_FUNCTIONS: Record<string, PatternKind> = {
  startswith: 'prefix',
  endswith: 'suffix',
  stringcontains: 'contains',
  wildcard: 'wildcard',
  match: 'regex',
};

/**
 * A field of the schema, with its type; or an `?optional` field the schema does not know (`dynamic`): Elasticsearch
 * maps such a field from the documents themselves, so each comparison reads it with the literal's own type, and a
 * value of another type does not match.
 */
type Subject = { kind: 'field'; id: number; type: EsFieldType; ref: FieldRef } | { kind: 'dynamic'; id: number; ref: FieldRef };

/** The value kind a comparison reads its subject with: the schema's, or for a dynamic field the literal's. */
function kindOf(s: Subject, literal: Operand): ValueKind | undefined {
  if (s.kind === 'field') return valueKind(s.type);
  return literal.kind === 'string' || literal.kind === 'number' || literal.kind === 'boolean' ? literal.kind : undefined;
}

export class Translator {
  readonly table = new FieldTable();

  translate(parsed: ParsedQuery): Formula {
    if (parsed.kind === 'unsupported') throw new UnsupportedConstruct(parsed.construct);
    if (!EVALUATED_CATEGORIES.has(parsed.category)) {
      throw new UnsupportedConstruct(`event category '${parsed.category}' (keysentry evaluates process events only)`);
    }
    const pipe = parsed.pipes[0];
    if (pipe !== undefined) throw new UnsupportedConstruct(`pipe | ${pipe.name}`);
    const condition = this.condition(parsed.condition);
    if (parsed.category === 'any') return condition;
    const category = this.table.field('event.category', 'string');
    const isProcess: Formula = { op: 'match', field: category, patterns: [this.table.pattern(category, { kind: 'exact', text: parsed.category, caseInsensitive: false }, parsed.categoryOffset)] };
    return condition.op === 'and' ? { op: 'and', args: [isProcess, ...condition.args] } : { op: 'and', args: [isProcess, condition] };
  }

  private condition(c: Condition): Formula {
    switch (c.kind) {
      case 'and':
      case 'or':
        return { op: c.kind, args: c.args.map((a) => this.condition(a)) };
      case 'not':
        return not(this.condition(c.arg));
      case 'compare':
        return this.compare(c);
      case 'in':
        return this.inList(c);
      case 'pattern':
        return this.pattern(c);
      case 'operand':
        return this.operandCondition(c.operand);
    }
  }

  private operandCondition(o: Operand): Formula {
    if (o.kind === 'boolean') return o.value ? TRUE : FALSE;
    if (o.kind === 'call') return this.booleanCall(o);
    if (o.kind === 'field') {
      const s = this.subject(o);
      if (s.kind === 'dynamic' || s.type === 'boolean') return { op: 'boolean', field: s.id, value: true };
      throw new QueryError(`expected a condition, found ${s.type} field '${o.path}' (compare it with a value)`, o.offset);
    }
    throw new QueryError(`expected a condition, found a ${o.kind} value`, o.offset);
  }

  private subject(ref: FieldRef): Subject {
    const type = FIELD_SCHEMA.get(ref.path);
    if (type === undefined) {
      if (ref.optional) return { kind: 'dynamic', id: this.table.field(ref.path, 'string', true), ref };
      throw new QueryError(`unknown field '${ref.path}' (not in the ECS/Elastic Endpoint schema; write '?${ref.path}' if it may be absent)`, ref.offset);
    }
    return { kind: 'field', id: this.table.field(ref.path, valueKind(type)), type, ref };
  }

  private compare(c: Comparison): Formula {
    let { left, right } = c;
    let op = c.op;
    if (left.kind !== 'field' && left.kind !== 'call' && (right.kind === 'field' || right.kind === 'call')) {
      [left, right] = [right, left];
      op = FLIPPED[op];
    }
    if (right.kind === 'field' || right.kind === 'call') {
      throw new QueryError(`comparisons against fields or functions are not supported (as in Elasticsearch); compare with a value`, right.offset);
    }
    if (left.kind === 'call') {
      if (left.name.toLowerCase() === 'length') return this.lengthCompare(left, op, right);
      if (right.kind === 'boolean' && (op === '==' || op === '!=')) {
        const f = this.booleanCall(left);
        return (op === '==') === right.value ? f : not(f);
      }
      throw new QueryError(`${left.name}() returns a boolean; compare it with true or false using == or !=`, right.offset);
    }
    if (left.kind !== 'field') throw new QueryError(`expected a field on one side of '${op}'`, c.offset);
    const s = this.subject(left);
    if (right.kind === 'null') {
      if (op !== '==' && op !== '!=') return FALSE;
      const present: Formula = { op: 'present', field: s.id };
      return op === '==' ? not(present) : present;
    }
    if (op === '!=') return not(this.compare({ ...c, op: '==', left, right }));
    const kind = kindOf(s, right);
    if (kind === 'string') {
      if (right.kind !== 'string') throw typeMismatch(s, right);
      if (op === '==') return this.match(s.id, [{ kind: 'exact', text: right.value, caseInsensitive: false }], [right.offset]);
      return { op: 'order', field: s.id, cmp: op, value: right.value };
    }
    if (kind === 'number') {
      if (right.kind !== 'number') throw typeMismatch(s, right);
      return { op: 'number', field: s.id, cmp: op, value: right.value };
    }
    if (right.kind !== 'boolean') throw typeMismatch(s, right);
    if (op !== '==') throw new QueryError(`'${op}' cannot compare ${s.kind === 'field' ? 'boolean ' : ''}field '${s.ref.path}'`, c.offset);
    return { op: 'boolean', field: s.id, value: right.value };
  }

  private lengthCompare(call: FunctionCall, op: Comparison['op'], value: Operand): Formula {
    const [arg, extra] = call.args;
    if (arg === undefined || extra !== undefined) throw new QueryError(`length() takes exactly one argument`, call.offset);
    if (arg.kind !== 'field') throw new QueryError(`length() expects a field`, arg.offset);
    if (value.kind === 'null') return FALSE;
    if (value.kind !== 'number') throw new QueryError(`length() returns a number; cannot compare it with a ${value.kind}`, value.offset);
    if (op === '!=') return not(this.lengthCompare(call, '==', value));
    const s = this.subject(arg);
    if (s.kind === 'field' && valueKind(s.type) !== 'string') throw new QueryError(`length() needs a string field; '${arg.path}' is ${s.type}`, arg.offset);
    return { op: 'length', field: s.id, cmp: op, value: value.value };
  }

  private inList(c: InList): Formula {
    if (c.subject.kind !== 'field') throw new QueryError(`'in' expects a field on its left`, c.subject.offset);
    const s = this.subject(c.subject);
    const result = this.inValues(s, c);
    return c.negated ? not(result) : result;
  }

  private inValues(s: Subject, c: InList): Formula {
    if (c.insensitive && s.kind === 'field' && valueKind(s.type) !== 'string') throw new QueryError(`'in~' needs a string field; '${s.ref.path}' is ${s.type}`, c.offset);
    const alternatives: Formula[] = [];
    const specs: PatternSpecJson[] = [];
    const offsets: number[] = [];
    for (const v of c.values) {
      if (v.kind === 'field' || v.kind === 'call') throw new QueryError(`comparisons against fields or functions are not supported (as in Elasticsearch); list values only`, v.offset);
      if (v.kind === 'null') {
        alternatives.push(not({ op: 'present', field: s.id }));
        continue;
      }
      const kind = kindOf(s, v);
      if (kind === 'string') {
        if (v.kind !== 'string') throw typeMismatch(s, v);
        specs.push({ kind: 'exact', text: v.value, caseInsensitive: c.insensitive });
        offsets.push(v.offset);
      } else if (kind === 'number') {
        if (v.kind !== 'number') throw typeMismatch(s, v);
        alternatives.push({ op: 'number', field: s.id, cmp: '==', value: v.value });
      } else {
        if (v.kind !== 'boolean') throw typeMismatch(s, v);
        alternatives.push({ op: 'boolean', field: s.id, value: v.value });
      }
    }
    if (specs.length > 0) alternatives.unshift(this.match(s.id, specs, offsets));
    return alternatives.length === 0 ? FALSE : or(alternatives);
  }

  private pattern(c: PatternMatch): Formula {
    const opName = c.operator === ':' ? ':' : c.operator + (c.insensitive ? '~' : '');
    if (c.subject.kind !== 'field') throw new QueryError(`'${opName}' expects a field on its left`, c.subject.offset);
    const s = this.subject(c.subject);
    const specs: PatternSpecJson[] = [];
    const offsets: number[] = [];
    for (const p of c.patterns) {
      if (p.kind !== 'string') throw new QueryError(`'${opName}' expects string patterns, found a ${p.kind === 'call' ? 'function call' : p.kind}`, p.offset);
      const classified = c.operator === 'regex' ? { kind: 'regex' as const, text: p.value } : classifyWildcard(p.value);
      specs.push({ ...classified, caseInsensitive: c.insensitive });
      offsets.push(p.offset);
    }
    if (s.kind === 'field' && valueKind(s.type) !== 'string') throw new QueryError(`'${opName}' needs a string field; '${s.ref.path}' is ${s.type}`, c.subject.offset);
    return this.match(s.id, specs, offsets);
  }

  private booleanCall(call: FunctionCall): Formula {
    const name = call.name.toLowerCase();
    const kind = STRING_FUNCTIONS[name];
    if (kind === undefined) {
      if (name === 'length') throw new QueryError(`length() returns a number; compare it (length(field) > 10)`, call.offset);
      if (KNOWN_UNSUPPORTED_FUNCTIONS.has(name)) throw new UnsupportedConstruct(`function ${call.name}()`);
      throw new QueryError(`unknown function '${call.name}'`, call.offset);
    }
    const [subject, ...patterns] = call.args;
    if (subject === undefined || patterns.length === 0) throw new QueryError(`${call.name}() expects a field and at least one string`, call.offset);
    if (subject.kind !== 'field') throw new QueryError(`${call.name}() expects a field as its first argument`, subject.offset);
    const s = this.subject(subject);
    const specs: PatternSpecJson[] = [];
    const offsets: number[] = [];
    for (const p of patterns) {
      if (p.kind !== 'string') throw new QueryError(`${call.name}() expects string arguments after the field, found a ${p.kind === 'call' ? 'function call' : p.kind}`, p.offset);
      const spec = kind === 'wildcard' ? classifyWildcard(p.value) : { kind, text: p.value };
      specs.push({ ...spec, caseInsensitive: call.insensitive });
      offsets.push(p.offset);
    }
    if (s.kind === 'field' && valueKind(s.type) !== 'string') throw new QueryError(`${call.name}() needs a string field; '${subject.path}' is ${s.type}`, subject.offset);
    return this.match(s.id, specs, offsets);
  }

  private match(field: number, specs: PatternSpecJson[], offsets: number[]): Formula {
    const ids = specs.map((spec, i) => this.table.pattern(field, spec, offsets[i] as number));
    return { op: 'match', field, patterns: [...new Set(ids)] };
  }
}

const FLIPPED: Record<Comparison['op'], Comparison['op']> = { '==': '==', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

function typeMismatch(s: Subject, value: Operand): QueryError {
  const shown = value.kind === 'string' ? `string "${value.value}"` : value.kind === 'number' || value.kind === 'boolean' ? `${value.kind} ${String(value.value)}` : value.kind;
  return new QueryError(`cannot compare ${s.kind === 'field' ? `${s.type} ` : ''}field '${s.ref.path}' with ${shown}`, value.offset);
}


