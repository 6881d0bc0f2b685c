/**
 * Recursive-descent parser for single-event EQL (Elasticsearch's grammar, restricted to what one event can answer).
 * Every production consumes at least one token or fails, so parsing is linear in the query; nesting depth is capped
 * so a hostile `((((...` cannot exhaust the stack.
 */
import type { Condition, FunctionCall, Operand, ParsedQuery, PipeRef } from './ast';
import { EqlSyntaxError, describe, leadingWord, tokenize, type Token } from './lexer';

export { EqlSyntaxError } from './lexer';

const MAX_DEPTH = 200;
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'like', 'regex', 'where', 'true', 'false', 'null', 'any', 'sequence', 'sample', 'join', 'by', 'with', 'until', 'of', 'fork', 'maxspan']);
const COMPARISON = new Set(['==', '!=', '<', '<=', '>', '>=']);

const OUT_OF_SCOPE_QUERIES = new Set(['sequence', 'sample', 'join']);

export function parseQuery(query: string): ParsedQuery {
  const lead = leadingWord(query);
  if (lead !== undefined && OUT_OF_SCOPE_QUERIES.has(lead.word)) return { kind: 'unsupported', construct: lead.word, offset: lead.offset };
  return new Parser(tokenize(query)).query();
}

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

  query(): ParsedQuery {
    const first = this.peek();
    let category: string;
    if (first.kind === 'string' || (first.kind === 'ident' && !first.tilde && (first.text === 'any' || !KEYWORDS.has(first.text)))) {
      category = first.text;
    } else {
      throw this.expected('an event category (process, file, any, ...) to start the query', first);
    }
    this.pos++;
    const where = this.peek();
    if (!this.isKeyword(where, 'where')) throw this.expected(`'where' after the event category`, where);
    this.pos++;
    const condition = this.orExpr();
    const pipes: PipeRef[] = [];
    while (this.isPunct(this.peek(), '|')) {
      const bar = this.next();
      const name = this.peek();
      if (name.kind !== 'ident') throw this.expected(`a pipe name after '|'`, name);
      pipes.push({ name: name.text, offset: bar.offset });
      // The pipe's arguments do not matter: a rule with a pipe is out of the single-event engine's scope.
      while (this.peek().kind !== 'eof' && !this.isPunct(this.peek(), '|')) this.pos++;
    }
    const end = this.peek();
    if (end.kind !== 'eof') throw this.expected(`'and', 'or' or a pipe '|'`, end);
    return { kind: 'event', category, categoryOffset: first.offset, condition, pipes };
  }

  private orExpr(): Condition {
    return this.chain('or', () => this.andExpr());
  }

  private andExpr(): Condition {
    return this.chain('and', () => this.notExpr());
  }

  /** `operand (word operand)*`, flattened into one n-ary node. */
  private chain(word: 'and' | 'or', operand: () => Condition): Condition {
    const first = operand();
    if (!this.isKeyword(this.peek(), word)) return first;
    const args = [first];
    while (this.isKeyword(this.peek(), word)) {
      this.pos++;
      args.push(operand());
    }
    return { kind: word, args, offset: first.offset };
  }

  private notExpr(): Condition {
    const t = this.peek();
    if (this.isKeyword(t, 'not')) {
      this.pos++;
      return this.nested(() => ({ kind: 'not', arg: this.notExpr(), offset: t.offset }));
    }
    return this.predicate();
  }

  private predicate(): Condition {
    const t = this.peek();
    if (this.isPunct(t, '(')) {
      this.pos++;
      const inner = this.nested(() => this.orExpr());
      this.expectPunct(')', `')' to close the '(' at offset ${t.offset}`);
      this.rejectArithmetic();
      return inner;
    }
    const subject = this.operand();
    this.rejectArithmetic();
    const op = this.peek();
    if (op.kind === 'punct' && COMPARISON.has(op.text)) {
      this.pos++;
      const right = this.operand();
      this.rejectArithmetic();
      return { kind: 'compare', op: op.text as '==', left: subject, right, offset: op.offset };
    }
    if (this.isPunct(op, '=')) throw new EqlSyntaxError(`use '==' to compare, not '='`, op.offset);
    if (this.isKeyword(op, 'not')) {
      this.pos++;
      const inTok = this.peek();
      if (!this.isKeyword(inTok, 'in', true)) throw this.expected(`'in' or 'in~' after 'not'`, inTok);
      this.pos++;
      return { kind: 'in', subject, values: this.list('in'), negated: true, insensitive: inTok.tilde === true, offset: op.offset };
    }
    if (this.isKeyword(op, 'in', true)) {
      this.pos++;
      return { kind: 'in', subject, values: this.list('in'), negated: false, insensitive: op.tilde === true, offset: op.offset };
    }
    if (this.isPunct(op, ':')) {
      this.pos++;
      return { kind: 'pattern', operator: ':', insensitive: true, subject, patterns: this.patternArgs(':'), offset: op.offset };
    }
    if (this.isKeyword(op, 'like', true) || this.isKeyword(op, 'regex', true)) {
      this.pos++;
      const operator = op.text as 'like' | 'regex';
      return { kind: 'pattern', operator, insensitive: op.tilde === true, subject, patterns: this.patternArgs(operator + (op.tilde ? '~' : '')), offset: op.offset };
    }
    return { kind: 'operand', operand: subject, offset: subject.offset };
  }

  /** `: "p"` or `: ("p1", "p2")`. */
  private patternArgs(op: string): Operand[] {
    if (this.isPunct(this.peek(), '(')) return this.list(op);
    return [this.operand()];
  }

  private list(op: string): Operand[] {
    this.expectPunct('(', `'(' to open the list after '${op}'`);
    const items: Operand[] = [];
    while (true) {
      items.push(this.operand());
      this.rejectArithmetic();
      const t = this.next();
      if (this.isPunct(t, ')')) return items;
      if (!this.isPunct(t, ',')) throw this.expected(`')' or ',' after list item`, t);
    }
  }

  private operand(): Operand {
    const t = this.next();
    switch (t.kind) {
      case 'string':
        return { kind: 'string', value: t.text, raw: t.raw === true, offset: t.offset };
      case 'number':
        return { kind: 'number', value: Number(t.text), offset: t.offset };
      case 'field':
        return this.field(t);
      case 'ident':
        if (this.isPunct(this.peek(), '(')) return this.call(t);
        if (t.tilde) throw this.expected(`'(' after '${t.text}~'`, this.peek());
        if (t.text === 'true' || t.text === 'false') return { kind: 'boolean', value: t.text === 'true', offset: t.offset };
        if (t.text === 'null') return { kind: 'null', offset: t.offset };
        if (KEYWORDS.has(t.text)) throw this.expected('a field, a value or a function call', t);
        return this.field(t);
      case 'punct':
        if (t.text === '-' && this.peek().kind === 'number') {
          const n = this.next();
          return { kind: 'number', value: -Number(n.text), offset: t.offset };
        }
        throw this.expected('a field, a value or a function call', t);
      default:
        throw this.expected('a field, a value or a function call', t);
    }
  }

  private field(t: Token): Operand {
    if (this.isPunct(this.peek(), '[')) throw new EqlSyntaxError(`array indexes are not supported ('${t.text}[...]')`, this.peek().offset);
    return { kind: 'field', path: t.text, optional: t.optional === true, offset: t.offset };
  }

  private call(name: Token): FunctionCall {
    this.pos++; // '('
    const args: Operand[] = [];
    if (this.isPunct(this.peek(), ')')) {
      this.pos++;
    } else {
      this.nested(() => {
        while (true) {
          args.push(this.operand());
          this.rejectArithmetic();
          const t = this.next();
          if (this.isPunct(t, ')')) return;
          if (!this.isPunct(t, ',')) throw this.expected(`')' or ',' after argument of ${name.text}()`, t);
        }
      });
    }
    return { kind: 'call', name: name.text, insensitive: name.tilde === true, args, offset: name.offset };
  }

  private rejectArithmetic(): void {
    const t = this.peek();
    if (t.kind === 'punct' && '+-*/%'.includes(t.text)) throw new EqlSyntaxError(`arithmetic ('${t.text}') is not supported in keysentry rules`, t.offset);
  }

  private nested<T>(fn: () => T): T {
    if (++this.depth > MAX_DEPTH) throw new EqlSyntaxError(`query nests deeper than ${MAX_DEPTH} levels`, this.peek().offset);
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  private peek(): Token {
    return this.tokens[this.pos] as Token;
  }

  private next(): Token {
    const t = this.tokens[this.pos] as Token;
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  private isKeyword(t: Token, word: string, tildeAllowed = false): boolean {
    return t.kind === 'ident' && t.text === word && (tildeAllowed || !t.tilde);
  }

  private isPunct(t: Token, p: string): boolean {
    return t.kind === 'punct' && t.text === p;
  }

  private expectPunct(p: string, what: string): void {
    const t = this.next();
    if (!this.isPunct(t, p)) throw this.expected(what, t);
  }

  private expected(what: string, found: Token): EqlSyntaxError {
    return new EqlSyntaxError(`expected ${what}, found ${describe(found)}`, found.offset);
  }
}
