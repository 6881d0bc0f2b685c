/**
 * Agent tokens. The file holds one token per line, optionally followed by whitespace and a
 * name for the agent or group it belongs to; blank lines and lines starting with # are
 * ignored. It must not be readable by other users (mode & 0o007 == 0).
 *
 * Tokens are kept only as SHA-256 digests and compared with crypto.timingSafeEqual on the
 * fixed-length digests, every token every time, so the time taken says nothing about how
 * close a guess was.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';

export const MIN_TOKEN_LENGTH = 16;

export interface TokenEntry {
  name: string;
  digest: Buffer;
}

export class TokenFileError extends Error {}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export class TokenSet {
  private constructor(private readonly entries: TokenEntry[]) {}

  static fromTokens(tokens: { token: string; name?: string }[]): TokenSet {
    return new TokenSet(tokens.map((t, i) => ({ name: t.name ?? `token-${i + 1}`, digest: digest(t.token) })));
  }

  /** Reads a token file; throws TokenFileError naming the file and line. */
  static load(file: string): TokenSet {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch (err) {
      throw new TokenFileError(`${file}: cannot read token file: ${(err as Error).message}`);
    }
    if ((st.mode & 0o007) !== 0) throw new TokenFileError(`${file}: token file is accessible to other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    const entries: TokenEntry[] = [];
    fs.readFileSync(file, 'utf8')
      .split('\n')
      .forEach((raw, i) => {
        const line = raw.trim();
        if (line === '' || line.startsWith('#')) return;
        const [token, ...rest] = line.split(/\s+/);
        if ((token as string).length < MIN_TOKEN_LENGTH) throw new TokenFileError(`${file}:${i + 1}: token is shorter than ${MIN_TOKEN_LENGTH} characters`);
        entries.push({ name: rest.join(' ') || `line-${i + 1}`, digest: digest(token as string) });
      });
    if (entries.length === 0) throw new TokenFileError(`${file}: no tokens in file`);
    return new TokenSet(entries);
  }

  get size(): number {
    return this.entries.length;
  }

  /** The matching token's name, or null. */
  verify(presented: string): string | null {
    const d = digest(presented);
    let match: string | null = null;
    for (const e of this.entries) {
      if (timingSafeEqual(d, e.digest) && match === null) match = e.name;
    }
    return match;
  }
}

/** A fresh random token (256 bits, base64url). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Parses "Authorization: Bearer <token>"; null when absent or another scheme. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Bearer[ ]+([^ ]{1,512})[ ]*$/i.exec(header);
  return m ? (m[1] as string) : null;
}
