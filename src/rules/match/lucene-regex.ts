/**
 * Lucene `RegExp` syntax, as Elasticsearch's EQL `regex`/`regex~` hands it to Lucene 10:
 * `new RegExp(pattern)` = syntax flags ALL (intersection `&`, empty language `#`, any string `@`,
 * numeric interval `<n-m>`, named automata `<name>` — of which ES supplies none), without the
 * deprecated complement `~` (a literal character since Lucene 10). The grammar and its quirks follow
 * Lucene's recursive-descent parser (a leading `*` or a stray `]` is a literal, `\x` for a non-letter
 * is x, `\` before a letter other than d D s S w W is an error, `\s` is [\t\n\r ]).
 *
 * Case-insensitive (`regex~`) folds every literal character, string and range with Unicode simple
 * case folding. Lucene folds single characters only and leaves ranges like `[a-z]` case-sensitive;
 * keysentry folds ranges too (see docs/matcher.md): `regex~ "[a-z]+"` is meant to match `ABC`.
 * The predefined classes (`\w`, `\d`, `\s` and negations) and `.` are used as written.
 */
import { ANY_CHAR, ANY_STRING, EMPTY_STRING, type PatternAst, concat, literalAst } from './ast';
import { type CodePointSet, complement, foldClosure, normalize } from './charset';

/** A regex that Lucene would reject: `offset` is the UTF-16 index in the pattern text. */
export class RegexSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'RegexSyntaxError';
  }
}

const MAX_INT = 2147483647;
const DIGITS: CodePointSet = [0x30, 0x39];
const WHITESPACE: CodePointSet = [0x09, 0x0a, 0x0d, 0x0d, 0x20, 0x20];
const WORD: CodePointSet = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a];
const PREDEFINED: Record<string, CodePointSet> = {
  d: DIGITS,
  D: complement(DIGITS),
  s: WHITESPACE,
  S: complement(WHITESPACE),
  w: WORD,
  W: complement(WORD),
};
const LETTERS = /^[A-Za-z]$/;

export function parseLuceneRegex(text: string, caseInsensitive: boolean): PatternAst {
  if (text.length === 0) return EMPTY_STRING;
  const parser = new Parser(text, caseInsensitive);
  const ast = parser.parseUnion();
  if (parser.more()) throw new RegexSyntaxError(`end-of-string expected at position ${parser.pos}`, parser.pos);
  return ast;
}

class Parser {
  pos = 0;

  constructor(
    private readonly text: string,
    private readonly fold: boolean,
  ) {}

  more(): boolean {
    return this.pos < this.text.length;
  }

  private current(): number {
    return this.text.codePointAt(this.pos) as number;
  }

  private peek(chars: string): boolean {
    return this.more() && chars.includes(String.fromCodePoint(this.current()));
  }

  private match(ch: string): boolean {
    if (this.more() && this.current() === ch.codePointAt(0)) {
      this.pos += ch.length;
      return true;
    }
    return false;
  }

  private next(): number {
    if (!this.more()) throw new RegexSyntaxError('unexpected end-of-string', this.pos);
    const cp = this.current();
    this.pos += cp > 0xffff ? 2 : 1;
    return cp;
  }

  private chars(set: CodePointSet): PatternAst {
    return { type: 'chars', set: this.fold ? foldClosure(set) : set };
  }

  parseUnion(): PatternAst {
    const items = [this.parseIntersection()];
    while (this.match('|')) items.push(this.parseIntersection());
    return items.length === 1 ? (items[0] as PatternAst) : { type: 'union', items };
  }

  private parseIntersection(): PatternAst {
    let left = this.parseConcat();
    while (this.match('&')) left = { type: 'intersection', left, right: this.parseConcat() };
    return left;
  }

  private parseConcat(): PatternAst {
    const items = [this.parseRepeat()];
    while (this.more() && !this.peek(')|&')) items.push(this.parseRepeat());
    return concat(items);
  }

  private parseRepeat(): PatternAst {
    let e = this.parseCharClassExp();
    while (this.peek('?*+{')) {
      if (this.match('?')) e = { type: 'repeat', item: e, min: 0, max: 1 };
      else if (this.match('*')) e = { type: 'repeat', item: e, min: 0, max: Infinity };
      else if (this.match('+')) e = { type: 'repeat', item: e, min: 1, max: Infinity };
      else {
        this.match('{');
        const min = this.parseCount();
        let max = min;
        if (this.match(',')) max = this.peek('0123456789') ? this.parseCount() : Infinity;
        if (!this.match('}')) throw new RegexSyntaxError(`expected '}' at position ${this.pos}`, this.pos);
        if (min > max) throw new RegexSyntaxError(`invalid repetition range(out of order): ${min}..${max}`, this.pos - 1);
        e = { type: 'repeat', item: e, min, max };
      }
    }
    return e;
  }

  private parseCount(): number {
    const start = this.pos;
    while (this.peek('0123456789')) this.next();
    if (start === this.pos) throw new RegexSyntaxError(`integer expected at position ${this.pos}`, this.pos);
    const n = Number(this.text.slice(start, this.pos));
    if (n > MAX_INT) throw new RegexSyntaxError(`repetition count too large at position ${start}`, start);
    return n;
  }

  private parseCharClassExp(): PatternAst {
    if (!this.match('[')) return this.parseSimple();
    const negate = this.match('^');
    const set = this.parseCharClasses();
    if (!this.match(']')) throw new RegexSyntaxError(`expected ']' at position ${this.pos}`, this.pos);
    return { type: 'chars', set: negate ? complement(set) : set };
  }

  /** The members of `[...]`, folded already when case-insensitive. */
  private parseCharClasses(): CodePointSet {
    const ranges: number[] = [];
    do {
      if (this.match('\\')) {
        if (this.peek('\\') || (this.more() && LETTERS.test(String.fromCodePoint(this.current())))) {
          ranges.push(...this.predefined());
        } else {
          const cp = this.next();
          ranges.push(...this.foldIfInsensitive([cp, cp]));
        }
      } else {
        const start = this.pos;
        const from = this.parseCharExp();
        if (this.match('-')) {
          const to = this.parseCharExp();
          if (from > to) throw new RegexSyntaxError(`invalid range: from (${from}) cannot be > to (${to})`, start);
          ranges.push(...this.foldIfInsensitive([from, to]));
        } else {
          ranges.push(...this.foldIfInsensitive([from, from]));
        }
      }
    } while (this.more() && !this.peek(']'));
    return normalize(ranges);
  }

  private foldIfInsensitive(set: CodePointSet): CodePointSet {
    return this.fold ? foldClosure(set) : set;
  }

  /** After a backslash, before `\` or a letter: `\\`, a predefined class, or an error. */
  private predefined(): CodePointSet {
    const at = this.pos - 1;
    const cp = this.next();
    if (cp === 0x5c) return [0x5c, 0x5c];
    const set = PREDEFINED[String.fromCodePoint(cp)];
    if (set === undefined) throw new RegexSyntaxError(`invalid character class \\${String.fromCodePoint(cp)}`, at);
    return set;
  }

  private parseSimple(): PatternAst {
    if (this.match('.')) return ANY_CHAR;
    if (this.match('#')) return { type: 'nothing' };
    if (this.match('@')) return ANY_STRING;
    if (this.match('"')) {
      const start = this.pos;
      while (this.more() && !this.peek('"')) this.next();
      if (!this.match('"')) throw new RegexSyntaxError(`expected '"' at position ${this.pos}`, this.pos);
      return literalAst(this.text.slice(start, this.pos - 1), this.fold);
    }
    if (this.match('(')) {
      if (this.match(')')) return EMPTY_STRING;
      const e = this.parseUnion();
      if (!this.match(')')) throw new RegexSyntaxError(`expected ')' at position ${this.pos}`, this.pos);
      return e;
    }
    if (this.match('<')) return this.parseAngle();
    if (this.match('\\')) {
      if (this.peek('\\') || (this.more() && LETTERS.test(String.fromCodePoint(this.current())))) {
        return { type: 'chars', set: this.predefined() };
      }
      const cp = this.next();
      return this.chars([cp, cp]);
    }
    const cp = this.next();
    return this.chars([cp, cp]);
  }

  private parseCharExp(): number {
    this.match('\\');
    return this.next();
  }

  /** `<n-m>` numeric interval, or `<name>` (a named automaton: Elasticsearch defines none). */
  private parseAngle(): PatternAst {
    const open = this.pos - 1;
    const start = this.pos;
    while (this.more() && !this.peek('>')) this.next();
    if (!this.match('>')) throw new RegexSyntaxError(`expected '>' at position ${this.pos}`, this.pos);
    const body = this.text.slice(start, this.pos - 1);
    const dash = body.indexOf('-');
    if (dash === -1) throw new RegexSyntaxError(`'${body}' not found (no named automata are defined)`, open);
    const bad = (): RegexSyntaxError => new RegexSyntaxError(`interval syntax error at position ${this.pos - 1}`, open);
    if (dash === 0 || dash === body.length - 1 || dash !== body.lastIndexOf('-')) throw bad();
    const minText = body.slice(0, dash);
    const maxText = body.slice(dash + 1);
    if (!/^\d+$/.test(minText) || !/^\d+$/.test(maxText)) throw bad();
    let min = Number(minText);
    let max = Number(maxText);
    if (min > MAX_INT || max > MAX_INT) throw bad();
    if (min > max) [min, max] = [max, min];
    return decimalInterval(min, max, minText.length === maxText.length ? minText.length : 0);
  }
}

/**
 * Lucene's Automata.makeDecimalInterval: with `digits` > 0, exactly that many digits (zero-padded);
 * otherwise any number of leading zeros before the number.
 */
function decimalInterval(min: number, max: number, digits: number): PatternAst {
  if (digits > 0) return digitRange(String(min).padStart(digits, '0'), String(max).padStart(digits, '0'));
  const byLength: PatternAst[] = [];
  const minLen = String(min).length;
  const maxLen = String(max).length;
  for (let len = minLen; len <= maxLen; len++) {
    const lo = len === minLen ? String(min) : `1${'0'.repeat(len - 1)}`;
    const hi = len === maxLen ? String(max) : '9'.repeat(len);
    byLength.push(digitRange(lo, hi));
  }
  const zeros: PatternAst = { type: 'repeat', item: { type: 'chars', set: [0x30, 0x30] }, min: 0, max: Infinity };
  return concat([zeros, byLength.length === 1 ? (byLength[0] as PatternAst) : { type: 'union', items: byLength }]);
}

/** Digit strings of lo's length between lo and hi (same length) in lexicographic order. */
function digitRange(lo: string, hi: string): PatternAst {
  if (lo.length === 0) return EMPTY_STRING;
  const a = lo.charCodeAt(0);
  const b = hi.charCodeAt(0);
  const restLo = lo.slice(1);
  const restHi = hi.slice(1);
  const anyDigits = (n: number): PatternAst => ({ type: 'repeat', item: { type: 'chars', set: DIGITS }, min: n, max: n });
  if (a === b) return concat([{ type: 'chars', set: [a, a] }, digitRange(restLo, restHi)]);
  if (/^0*$/.test(restLo) && /^9*$/.test(restHi)) return concat([{ type: 'chars', set: [a, b] }, anyDigits(restLo.length)]);
  const items: PatternAst[] = [concat([{ type: 'chars', set: [a, a] }, digitRange(restLo, '9'.repeat(restLo.length))])];
  if (a + 1 <= b - 1) items.push(concat([{ type: 'chars', set: [a + 1, b - 1] }, anyDigits(restLo.length)]));
  items.push(concat([{ type: 'chars', set: [b, b] }, digitRange('0'.repeat(restHi.length), restHi)]));
  return { type: 'union', items };
}
