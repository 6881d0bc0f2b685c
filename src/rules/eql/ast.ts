/** The parsed form of a single-event EQL query. Offsets are UTF-16 indexes into the query text. */

export interface FieldRef {
  kind: 'field';
  /** Dotted ECS path, backticks removed. */
  path: string;
  /** Written as `?field`: an unknown field evaluates as missing instead of being an error. */
  optional: boolean;
  offset: number;
}

export interface StringLit {
  kind: 'string';
  value: string;
  /** Written as a raw `"""..."""` string. */
  raw: boolean;
  offset: number;
}

export interface NumberLit {
  kind: 'number';
  value: number;
  offset: number;
}

export interface BoolLit {
  kind: 'boolean';
  value: boolean;
  offset: number;
}

export interface NullLit {
  kind: 'null';
  offset: number;
}

export type Literal = StringLit | NumberLit | BoolLit | NullLit;

export interface FunctionCall {
  kind: 'call';
  /** As written (function names are matched case-insensitively, as Elasticsearch does). */
  name: string;
  /** The `~` (case-insensitive) form. */
  insensitive: boolean;
  args: Operand[];
  offset: number;
}

export type Operand = FieldRef | Literal | FunctionCall;

export type ComparisonOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export interface Comparison {
  kind: 'compare';
  op: ComparisonOp;
  left: Operand;
  right: Operand;
  offset: number;
}

export interface InList {
  kind: 'in';
  subject: Operand;
  values: Operand[];
  negated: boolean;
  insensitive: boolean;
  offset: number;
}

/** `:` (= like~), `like`, `like~`, `regex`, `regex~` against one pattern or a list. */
export interface PatternMatch {
  kind: 'pattern';
  operator: ':' | 'like' | 'regex';
  insensitive: boolean;
  subject: Operand;
  patterns: Operand[];
  offset: number;
}

export interface Logical {
  kind: 'and' | 'or';
  args: Condition[];
  offset: number;
}

export interface Not {
  kind: 'not';
  arg: Condition;
  offset: number;
}

/** An operand used where a condition is expected (a function call, a boolean literal or field). */
export interface OperandCondition {
  kind: 'operand';
  operand: Operand;
  offset: number;
}

export type Condition = Comparison | InList | PatternMatch | Logical | Not | OperandCondition;

/** A query the single-event engine may evaluate, or the construct that puts it out of scope. */
export type ParsedQuery =
  | { kind: 'event'; category: string; categoryOffset: number; condition: Condition; pipes: PipeRef[] }
  | { kind: 'unsupported'; construct: string; offset: number };

export interface PipeRef {
  name: string;
  offset: number;
}
