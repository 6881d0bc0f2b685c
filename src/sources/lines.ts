/**
 * Bounded line splitting and per-line checks shared by every line-based reader.
 *
 * A line longer than the cap is never assembled: its bytes are counted and dropped as they
 * stream past, and the line is reported once its newline (or the end of input) arrives.
 */
import { isAscii, isUtf8 } from 'node:buffer';

export const DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024;

/**
 * One line without its newline. `text` is filled when the line came out of a chunk region that
 * was valid UTF-8 as a whole (decoded once per chunk, then sliced): the common case pays for one
 * decode per chunk instead of one per line. Use `lineText` to get at the text either way.
 */
export type RawLine = { lineNo: number; bytes: Buffer; text?: string } | { lineNo: number; tooLongBytes: number };

/** Splits a byte stream into lines, one array per input chunk. */
export async function* splitLines(input: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, maxLineBytes = DEFAULT_MAX_LINE_BYTES): AsyncGenerator<RawLine[]> {
  let parts: Buffer[] = [];
  let pendingBytes = 0;
  let skipping = false;
  let lineNo = 0;
  const finishLine = (last: Buffer, out: RawLine[]): void => {
    lineNo++;
    if (skipping || pendingBytes + last.length > maxLineBytes) {
      out.push({ lineNo, tooLongBytes: pendingBytes + last.length });
    } else {
      out.push({ lineNo, bytes: parts.length === 0 ? last : Buffer.concat([...parts, last]) });
    }
    parts = [];
    pendingBytes = 0;
    skipping = false;
  };
  /** The complete lines buf[start, lastNl) (newline-separated), decoded in one go when valid. */
  const wholeLines = (buf: Buffer, start: number, lastNl: number, out: RawLine[]): void => {
    const region = buf.subarray(start, lastNl);
    const ascii = isAscii(region);
    if (!ascii && !isUtf8(region)) {
      for (let nl = buf.indexOf(10, start); nl >= 0 && nl <= lastNl; nl = buf.indexOf(10, start)) {
        finishLine(buf.subarray(start, nl), out);
        start = nl + 1;
      }
      return;
    }
    // A 0x0A byte is always a newline in valid UTF-8, so byte and text newlines pair up.
    // ASCII (nearly every capture) is copied as latin1: same text, no UTF-8 transcoding.
    const text = region.toString(ascii ? 'latin1' : 'utf8');
    let from = 0;
    for (;;) {
      const nlText = text.indexOf('\n', from);
      const nlByte = nlText < 0 ? lastNl : buf.indexOf(10, start);
      lineNo++;
      if (nlByte - start > maxLineBytes) out.push({ lineNo, tooLongBytes: nlByte - start });
      else out.push({ lineNo, bytes: buf.subarray(start, nlByte), text: text.slice(from, nlText < 0 ? text.length : nlText) });
      if (nlText < 0) return;
      from = nlText + 1;
      start = nlByte + 1;
    }
  };
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const out: RawLine[] = [];
    let start = 0;
    if (pendingBytes > 0 || skipping) {
      // The first newline ends the line carried over from the previous chunk.
      const nl = buf.indexOf(10);
      if (nl >= 0) {
        finishLine(buf.subarray(0, nl), out);
        start = nl + 1;
      } else {
        start = buf.length;
        pendingBytes += buf.length;
        if (!skipping && pendingBytes > maxLineBytes) {
          skipping = true;
          parts = [];
        } else if (!skipping) {
          parts.push(buf);
        }
      }
    }
    const lastNl = buf.lastIndexOf(10);
    if (lastNl >= start) {
      wholeLines(buf, start, lastNl, out);
      start = lastNl + 1;
    }
    if (start < buf.length) {
      const rest = buf.subarray(start);
      pendingBytes += rest.length;
      if (pendingBytes > maxLineBytes) skipping = true;
      else parts.push(rest);
    }
    if (out.length > 0) yield out;
  }
  if (pendingBytes > 0 || skipping) {
    const out: RawLine[] = [];
    const tail = parts.length === 0 ? Buffer.alloc(0) : Buffer.concat(parts);
    pendingBytes -= tail.length;
    parts = [];
    finishLine(tail, out);
    yield out;
  }
}

export type LineText = { text: string } | { blank: true } | { reason: string };

/** Bytes of one line -> its text, or why it cannot be used. */
export function decodeLine(line: Buffer): LineText {
  if (!isUtf8(line)) return { reason: `invalid UTF-8 at byte ${firstInvalidUtf8(line) + 1}` };
  return textOf(line.toString('utf8'));
}

/** A split line's text (decoded already, or now), or why it cannot be used. */
export function lineText(line: { bytes: Buffer; text?: string }): LineText {
  return line.text === undefined ? decodeLine(line.bytes) : textOf(line.text);
}

/** Drops a CR line end; blank and whitespace-only lines carry nothing. */
function textOf(decoded: string): LineText {
  const text = decoded.charCodeAt(decoded.length - 1) === 13 ? decoded.slice(0, -1) : decoded;
  if (text.length === 0) return { blank: true };
  const first = text.charCodeAt(0);
  if ((first === 32 || first === 9) && text.trim() === '') return { blank: true };
  return { text };
}

/** Offset of the first byte that breaks UTF-8 (only called once a line is known to be bad). */
function firstInvalidUtf8(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    const need = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    if (need > 0 && !isUtf8(b.subarray(i, i + need + 1))) return i;
    i += need + 1;
  }
  return Math.max(0, b.length - 1);
}

/**
 * Parses one line's JSON; the error text is shortened and made printable (it quotes input).
 * A raw NUL byte is never valid JSON (not even inside a string), so it is looked for only
 * once the parse has failed, to name it.
 */
export function parseJson(text: string): { value: unknown } | { reason: string } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (err) {
    const nul = text.indexOf('\0');
    if (nul >= 0) return { reason: `NUL byte at byte ${Buffer.byteLength(text.slice(0, nul)) + 1}` };
    return { reason: `invalid JSON: ${printable(err instanceof Error ? err.message : String(err), 160)}` };
  }
}

/** Attacker text made safe for a one-line message: control characters escaped, length capped. */
export function printable(text: string, maxChars: number): string {
  const cut = text.length > maxChars ? text.slice(0, maxChars) + '…' : text;
  let out = '';
  for (const ch of cut) {
    const c = ch.codePointAt(0) as number;
    out += c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0) || c === 0x2028 || c === 0x2029 ? `\\u${c.toString(16).padStart(4, '0')}` : ch;
  }
  return out;
}
