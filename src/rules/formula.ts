/**
 * The compiled, serializable form of a rule: a boolean formula over per-field atoms.
 * String atoms refer to pattern ids in their field's shared pattern set ("some element of the field matched one
 * of these patterns"); the others test the field's raw value. Every atom is "some element satisfies it", so
 * `not` is plain negation: no element satisfies it, and a missing field satisfies nothing.
 */
import type { ValueKind } from './schema';

export type NumberComparison = '==' | '<' | '<=' | '>' | '>=';
export type OrderComparison = '<' | '<=' | '>' | '>=';

export type Formula =
  | { op: 'and' | 'or'; args: Formula[] }
  | { op: 'not'; arg: Formula }
  | { op: 'const'; value: boolean }
  /** Some string element of `field` matches one of `patterns` (ids into the field's pattern set). */
  | { op: 'match'; field: number; patterns: number[] }
  /** `field` has at least one non-null value. */
  | { op: 'present'; field: number }
  | { op: 'number'; field: number; cmp: NumberComparison; value: number }
  | { op: 'boolean'; field: number; value: boolean }
  /** Lexicographic (code point order) comparison of a string element with `value`. */
  | { op: 'order'; field: number; cmp: OrderComparison; value: string }
  /** `length(field) <cmp> value` for some string element (length in UTF-16 code units, as Java's String). */
  | { op: 'length'; field: number; cmp: NumberComparison; value: number };

export type PatternKind = 'exact' | 'prefix' | 'suffix' | 'contains' | 'wildcard' | 'regex';

export interface PatternSpecJson {
  kind: PatternKind;
  text: string;
  caseInsensitive: boolean;
}

export interface FieldJson {
  path: string;
  kind: ValueKind;
  patterns: PatternSpecJson[];
  /**
   * Not in the schema (only `?optional` may name such a field): every atom reads it with its own type, strictly (a
   * string pattern matches string values only, a number comparison numbers only, a boolean test booleans only).
   */
  dynamic?: true;
}
