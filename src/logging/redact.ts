/**
 * Nothing that holds a secret reaches a log: values under secret-looking keys
 * (token, password, secret, authorization, ...) are replaced whole, every known secret VALUE
 * (the delivery token) is cut out of every string wherever it appears, and so is whatever
 * follows "Bearer ". All passes are plain substring scans: linear in the text.
 */

export const REDACTED = '[REDACTED]';

/** Keys are compared lowercased with '_' and '-' removed: "api_key", "X-Api-Key", "apiKey" are one. */
const SECRET_KEY_SUFFIXES = ['token', 'password', 'passwd', 'secret', 'apikey', 'privatekey'];
const SECRET_KEYS = new Set(['authorization', 'proxyauthorization', 'cookie', 'setcookie', 'credentials']);
/** Deeper than this is not a log record anyone wrote on purpose; it is cut rather than walked. */
const MAX_DEPTH = 16;
const BEARER = 'bearer ';

/** Verdicts for the keys seen so far; bounded because replayed ECS documents carry any keys. */
const keyVerdicts = new Map<string, boolean>();
const MAX_KEY_VERDICTS = 4096;

export function isSecretKey(key: string): boolean {
  const known = keyVerdicts.get(key);
  if (known !== undefined) return known;
  const normalized = key.toLowerCase().replace(/[-_]/g, '');
  const secret = SECRET_KEYS.has(normalized) || SECRET_KEY_SUFFIXES.some((suffix) => normalized.endsWith(suffix));
  if (keyVerdicts.size < MAX_KEY_VERDICTS) keyVerdicts.set(key, secret);
  return secret;
}

/** A literal, case-insensitive search: linear, and far cheaper than lowercasing every string. */
const MAY_HOLD_BEARER = /bearer /i;

function redactBearer(text: string): string {
  if (!MAY_HOLD_BEARER.test(text)) return text;
  const lower = text.toLowerCase();
  let at = lower.indexOf(BEARER);
  if (at < 0) return text;
  let out = '';
  let from = 0;
  while (at >= 0) {
    const valueStart = at + BEARER.length;
    let valueEnd = valueStart;
    while (valueEnd < text.length && !/\s|"|'|,/.test(text[valueEnd])) valueEnd++;
    out += text.slice(from, valueStart) + (valueEnd > valueStart ? REDACTED : '');
    from = valueEnd;
    at = lower.indexOf(BEARER, valueEnd);
  }
  return out + text.slice(from);
}

export class Redactor {
  private readonly secrets: string[] = [];

  /** Registers a secret value (the token) to be cut out of every string logged from now on. */
  addSecret(value: string): void {
    // A one- or two-character "secret" would shred every log line; such a token is refused upstream.
    if (value.length >= 4 && !this.secrets.includes(value)) this.secrets.push(value);
  }

  redactString(text: string): string {
    let out = text;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return redactBearer(out);
  }

  /**
   * `value` with secrets redacted: the same object when nothing needed redacting, else a
   * copy of just the parts that changed (arrays, plain objects; Errors become ECS error
   * fields, Dates ISO strings, bigints strings).
   */
  redact(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.redactString(value);
    if (typeof value === 'bigint') return value.toString();
    if (value === null || typeof value !== 'object') return value;
    if (depth >= MAX_DEPTH) return '[TRUNCATED]';
    if (value instanceof Date) return value.toISOString();
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      value.forEach((element: unknown, index) => {
        const redacted = this.redact(element, depth + 1);
        if (redacted !== element) (copy ??= value.slice())[index] = redacted;
      });
      return copy ?? value;
    }
    const isError = value instanceof Error;
    const source: object = isError ? { type: value.name, message: value.message, stack_trace: value.stack } : value;
    let copy: Record<string, unknown> | undefined = isError ? { ...source } : undefined;
    for (const [key, child] of Object.entries(source)) {
      const redacted = isSecretKey(key) && child !== undefined && child !== null ? REDACTED : this.redact(child, depth + 1);
      if (redacted !== child) (copy ??= { ...source })[key] = redacted;
    }
    return copy ?? value;
  }
}
