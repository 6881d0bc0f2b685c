/**
 * Maps an offset inside a rule's query back to a line and column of the rule FILE, so a query error points at the
 * file line a person sees in their editor, not at a line of the extracted string.
 */

export interface FilePosition {
  line: number;
  column: number;
}

export type QueryLocator = (queryOffset: number) => FilePosition;

export function positionAt(text: string, offset: number): FilePosition {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/**
 * Finds where `query` sits in a TOML (`query = ...`) or JSON (`"query": "..."`) rule file. When the value cannot be
 * located exactly (an unusual escape), positions fall back to the line of the `query` key.
 */
export function locateQuery(fileText: string, query: string, format: 'toml' | 'json'): QueryLocator {
  // Decoding is deferred to the first error: most rules never need a position.
  let locate: QueryLocator | undefined;
  return (q) => (locate ??= buildLocator(fileText, query, format))(q);
}

function buildLocator(fileText: string, query: string, format: 'toml' | 'json'): QueryLocator {
  // TOML keys may be bare, quoted ("query", 'query') or dotted (rule.query = ...).
  const key = format === 'toml' ? /(^|\n)[ \t]*(?:[A-Za-z0-9_-]+[ \t]*\.[ \t]*)*(?:query|"query"|'query')[ \t]*=[ \t]*/g : /"query"\s*:\s*/g;
  let fallback: number | undefined;
  for (let m = key.exec(fileText); m !== null; m = key.exec(fileText)) {
    const valueStart = m.index + m[0].length;
    fallback ??= m.index + (m[1]?.length ?? 0);
    const map = decodeStringAt(fileText, valueStart, format);
    if (map !== undefined && map.value === query) {
      const offsets = map.offsets;
      return (q) => positionAt(fileText, offsets[Math.min(Math.max(q, 0), offsets.length - 1)] as number);
    }
  }
  const at = fallback ?? 0;
  return () => positionAt(fileText, at);
}

interface DecodedString {
  value: string;
  /** offsets[k] = file offset of decoded UTF-16 unit k; one extra entry for the end of the value. */
  offsets: number[];
}

const ESCAPES: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\', '/': '/', e: '\u001b' };

function decodeStringAt(text: string, at: number, format: 'toml' | 'json'): DecodedString | undefined {
  for (const delim of format === 'toml' ? ["'''", '"""', "'", '"'] : ['"']) {
    if (!text.startsWith(delim, at)) continue;
    const literal = delim[0] === "'";
    const multiline = delim.length === 3;
    let i = at + delim.length;
    if (multiline && text[i] === '\n') i++;
    else if (multiline && text.startsWith('\r\n', i)) i += 2;
    let value = '';
    const offsets: number[] = [];
    while (i < text.length) {
      if (text.startsWith(delim, i)) {
        // Up to two quotes right before a closing ''' or """ belong to the value (TOML: '''a'''' is "a'").
        for (let extra = 0; multiline && extra < 2 && text[i + 3] === delim[0]; extra++) {
          value += delim[0];
          offsets.push(i);
          i++;
        }
        offsets.push(i);
        return { value, offsets };
      }
      const c = text[i] as string;
      if (literal || c !== '\\') {
        value += c;
        offsets.push(i);
        i++;
        continue;
      }
      const e = text[i + 1] ?? '';
      const simple = ESCAPES[e];
      if (simple !== undefined) {
        value += simple;
        offsets.push(i);
        i += 2;
      } else if (e === 'u' || e === 'U' || (e === 'x' && format === 'toml')) {
        // \uXXXX, \UXXXXXXXX, and TOML 1.1's \xXX: exactly that many hex digits.
        const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = text.slice(i + 2, i + 2 + len);
        const cp = /^[0-9A-Fa-f]+$/.test(hex) && hex.length === len ? parseInt(hex, 16) : NaN;
        if (!Number.isFinite(cp) || cp > 0x10ffff) return undefined;
        const s = String.fromCodePoint(cp);
        value += s;
        for (let k = 0; k < s.length; k++) offsets.push(i);
        i += 2 + len;
      } else if (multiline && /[ \t\r\n]/.test(e)) {
        // TOML line-ending backslash: the newline and all whitespace after it vanish.
        i++;
        while (i < text.length && /[ \t\r\n]/.test(text[i] as string)) i++;
      } else {
        return undefined;
      }
    }
    return undefined;
  }
  return undefined;
}
