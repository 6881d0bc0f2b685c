/**
 * EQL tokenizer: one left-to-right pass, no backtracking, so a hostile rule text costs linear time.
 */

export class EqlSyntaxError extends Error {
  constructor(
    message: string,
    /** UTF-16 offset into the query text. */
    readonly offset: number,
  ) {
    super(message);
    this.name = 'EqlSyntaxError';
  }
}

export type TokenKind = 'ident' | 'field' | 'string' | 'number' | 'punct' | 'eof';

export interface Token {
  kind: TokenKind;
  /** ident/punct: the text; string: the decoded value; field: the dotted path; number: the source text. */
  text: string;
  offset: number;
  /** String token written as `"""..."""`. */
  raw?: boolean;
  /** Field written with a leading `?`. */
  optional?: boolean;
  /** Identifier or keyword immediately followed by `~` (`in~`, `like~`, `startsWith~`). */
  tilde?: boolean;
}

const PUNCT2 = ['==', '!=', '<=', '>='];
const PUNCT1 = '()[],:<>|=+-*/%';

function isIdentStart(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x40;
}
function isIdentPart(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || (c >= 0x30 && c <= 0x39);
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Describes a token for "expected X, found Y" messages. */
export function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of query';
    case 'string':
      return `string "${t.text.length > 40 ? t.text.slice(0, 40) + '...' : t.text}"`;
    case 'field':
      return `field '${t.text}'`;
    default:
      return `'${t.text}${t.tilde ? '~' : ''}'`;
  }
}

export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = src.length;
  while (true) {
    i = skipSpaceAndComments(src, i);
    if (i >= n) {
      tokens.push({ kind: 'eof', text: '', offset: n });
      return tokens;
    }
    const c = src.charCodeAt(i);
    const start = i;
    if (c === 0x22 /* " */) {
      const { text: value, end, raw } = readString(src, i);
      tokens.push({ kind: 'string', text: value, offset: start, raw });
      i = end;
    } else if (c === 0x27 /* ' */) {
      throw new EqlSyntaxError(`use double quotes ["] to define string literals, not single quotes [']`, i);
    } else if (c === 0x3f /* ? */) {
      const next = src.charCodeAt(i + 1);
      if (next === 0x22) throw new EqlSyntaxError(`use double quotes ["] to define string literals, not [?"]`, i);
      if (!(isIdentStart(next) || next === 0x60)) throw new EqlSyntaxError(`expected a field name after '?'`, i + 1);
      const { text: path, end } = readFieldPath(src, i + 1);
      tokens.push({ kind: 'field', text: path, offset: start, optional: true });
      i = end;
    } else if (isIdentStart(c) || c === 0x60 /* ` */) {
      const { text: path, end, dotted } = readFieldPath(src, i);
      const isWord = !dotted && c !== 0x60;
      if (isWord && src.charCodeAt(end) === 0x7e /* ~ */) {
        tokens.push({ kind: 'ident', text: path, offset: start, tilde: true });
        i = end + 1;
      } else {
        tokens.push({ kind: isWord ? 'ident' : 'field', text: path, offset: start });
        i = end;
      }
    } else if (isDigit(c) || (c === 0x2e && isDigit(src.charCodeAt(i + 1)))) {
      const end = readNumber(src, i);
      tokens.push({ kind: 'number', text: src.slice(i, end), offset: start });
      i = end;
    } else {
      const two = src.slice(i, i + 2);
      if (PUNCT2.includes(two)) {
        tokens.push({ kind: 'punct', text: two, offset: start });
        i += 2;
      } else if (PUNCT1.includes(src[i] as string)) {
        tokens.push({ kind: 'punct', text: src[i] as string, offset: start });
        i += 1;
      } else {
        const cp = src.codePointAt(i) as number;
        throw new EqlSyntaxError(`unexpected character '${String.fromCodePoint(cp)}'`, i);
      }
    }
  }
}

/** The query's first word, read without tokenizing the rest (a sequence's `maxspan=5m` must not fail the lexer). */
export function leadingWord(src: string): { word: string; offset: number } | undefined {
  const start = skipSpaceAndComments(src, 0);
  let end = start;
  while (end < src.length && isIdentPart(src.charCodeAt(end))) end++;
  return end > start ? { word: src.slice(start, end), offset: start } : undefined;
}

function skipSpaceAndComments(src: string, from: number): number {
  let i = from;
  const n = src.length;
  while (i < n) {
    const c = src.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c) {
      i++;
    } else if (c === 0x2f && src.charCodeAt(i + 1) === 0x2f) {
      while (i < n && src.charCodeAt(i) !== 0x0a) i++;
    } else if (c === 0x2f && src.charCodeAt(i + 1) === 0x2a) {
      i = skipBracketedComment(src, i);
    } else {
      break;
    }
  }
  return i;
}

/** `/* ... *\/` comments nest, as in Elasticsearch's grammar. */
function skipBracketedComment(src: string, from: number): number {
  let depth = 0;
  let i = from;
  while (i < src.length) {
    if (src.charCodeAt(i) === 0x2f && src.charCodeAt(i + 1) === 0x2a) {
      depth++;
      i += 2;
    } else if (src.charCodeAt(i) === 0x2a && src.charCodeAt(i + 1) === 0x2f) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  throw new EqlSyntaxError(`unterminated comment: expected '*/'`, from);
}

/** Reads `seg(.seg)*` where a segment is an identifier or a backtick-quoted name (`` `` `` = one backtick). */
function readFieldPath(src: string, from: number): { text: string; end: number; dotted: boolean } {
  const segments: string[] = [];
  let i = from;
  while (true) {
    const c = src.charCodeAt(i);
    if (c === 0x60) {
      let seg = '';
      let j = i + 1;
      while (true) {
        if (j >= src.length) throw new EqlSyntaxError('unterminated quoted field name: expected \'`\'', i);
        if (src.charCodeAt(j) === 0x60) {
          if (src.charCodeAt(j + 1) === 0x60) {
            seg += '`';
            j += 2;
            continue;
          }
          break;
        }
        seg += src[j];
        j++;
      }
      if (seg.length === 0) throw new EqlSyntaxError('empty quoted field name', i);
      segments.push(seg);
      i = j + 1;
    } else if (isIdentStart(c)) {
      let j = i + 1;
      while (j < src.length && isIdentPart(src.charCodeAt(j))) j++;
      segments.push(src.slice(i, j));
      i = j;
    } else {
      throw new EqlSyntaxError(`expected a field name segment after '.'`, i);
    }
    if (src.charCodeAt(i) === 0x2e && (isIdentStart(src.charCodeAt(i + 1)) || src.charCodeAt(i + 1) === 0x60)) {
      i++;
      continue;
    }
    if (src.charCodeAt(i) === 0x2e) throw new EqlSyntaxError(`expected a field name segment after '.'`, i + 1);
    return { text: segments.join('.'), end: i, dotted: segments.length > 1 };
  }
}

function readNumber(src: string, from: number): number {
  let i = from;
  while (isDigit(src.charCodeAt(i))) i++;
  if (src.charCodeAt(i) === 0x2e && isDigit(src.charCodeAt(i + 1))) {
    i++;
    while (isDigit(src.charCodeAt(i))) i++;
  }
  const e = src.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    let j = i + 1;
    if (src.charCodeAt(j) === 0x2b || src.charCodeAt(j) === 0x2d) j++;
    if (!isDigit(src.charCodeAt(j))) throw new EqlSyntaxError('expected digits in the number\'s exponent', j);
    while (isDigit(src.charCodeAt(j))) j++;
    i = j;
  }
  if (isIdentStart(src.charCodeAt(i))) throw new EqlSyntaxError(`unexpected '${src[i]}' after number`, i);
  return i;
}

const SIMPLE_ESCAPES: Record<string, string> = { t: '\t', b: '\b', f: '\f', n: '\n', r: '\r', '"': '"', "'": "'", '\\': '\\' };

/** Returns the decoded value, the end offset, and whether it was written raw. */
function readString(src: string, from: number): { text: string; end: number; raw: boolean } {
  if (src.startsWith('"""', from)) {
    const end = src.indexOf('"""', from + 3);
    const newline = src.slice(from + 3, end < 0 ? undefined : end).search(/[\r\n]/);
    if (end < 0 || newline >= 0) throw new EqlSyntaxError('unterminated raw string: expected \'"""\' before the end of the line', from);
    // As in Elasticsearch, up to two more quotes right after the closing ones belong to the value.
    let close = end;
    while (close < end + 2 && src.charCodeAt(close + 3) === 0x22) close++;
    return { text: src.slice(from + 3, close), end: close + 3, raw: true };
  }
  let out = '';
  let i = from + 1;
  let chunkStart = i;
  while (true) {
    if (i >= src.length) throw new EqlSyntaxError('unterminated string: expected \'"\'', from);
    const c = src.charCodeAt(i);
    if (c === 0x22) {
      out += src.slice(chunkStart, i);
      return { text: out, end: i + 1, raw: false };
    }
    if (c === 0x0a || c === 0x0d) throw new EqlSyntaxError('unterminated string: expected \'"\' before the end of the line', from);
    if (c !== 0x5c) {
      i++;
      continue;
    }
    out += src.slice(chunkStart, i);
    const e = src[i + 1];
    if (e === undefined) throw new EqlSyntaxError('unterminated string: expected \'"\'', from);
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      out += simple;
      i += 2;
    } else if (e === 'u') {
      if (src[i + 2] !== '{') throw new EqlSyntaxError('invalid unicode escape: expected \\u{XXXX}', i);
      const close = src.indexOf('}', i + 3);
      const hex = close < 0 ? '' : src.slice(i + 3, close);
      if (!/^[0-9A-Fa-f]{2,8}$/.test(hex)) throw new EqlSyntaxError('invalid unicode escape: expected 2 to 8 hex digits in \\u{...}', i);
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new EqlSyntaxError(`invalid unicode escape: \\u{${hex}} is not a code point`, i);
      out += String.fromCodePoint(cp);
      i = close + 1;
    } else {
      throw new EqlSyntaxError(`invalid escape sequence '\\${e}' (valid: \\t \\b \\f \\n \\r \\" \\' \\\\ \\u{XXXX})`, i);
    }
    chunkStart = i;
  }
}
