/**
 * Console authentication: the same credentials the collector trusts for agents.
 * A person logs in once with a token from the collector's token file (or presents a client
 * certificate the collector's CA signed) and gets a session cookie; the cookie is random,
 * HttpOnly, SameSite=Strict, and kept server-side only as a SHA-256 digest.
 */
import { createHash, randomBytes } from 'node:crypto';
import type * as http from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { TokenSet } from '../tokens';

export const SESSION_COOKIE = 'ks_console';
const MAX_SESSIONS = 1000;

export interface SessionOptions {
  ttlMs: number;
  /** Login attempts allowed per remote address per minute. */
  loginsPerMinute: number;
}

interface Session {
  who: string;
  expires: number;
}

function digest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Reads one cookie by name without a RegExp over the header (it is client-controlled). */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

export class ConsoleAuth {
  private readonly sessions = new Map<string, Session>();
  private readonly attempts = new Map<string, { windowStart: number; count: number }>();

  constructor(
    private readonly tokens: () => TokenSet,
    private readonly opts: SessionOptions,
  ) {}

  /** Who the request is, or null: a live session cookie, or a verified client certificate. */
  identify(req: http.IncomingMessage): string | null {
    const socket = req.socket as Partial<TLSSocket>;
    if (socket.encrypted === true && socket.authorized === true && typeof socket.getPeerCertificate === 'function') {
      const cert = socket.getPeerCertificate();
      if (cert && cert.subject) return `cert:${String(cert.subject.CN ?? 'client')}`;
    }
    const cookie = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (cookie === null || cookie.length > 128) return null;
    const key = digest(cookie);
    const session = this.sessions.get(key);
    if (session === undefined) return null;
    if (session.expires <= Date.now()) {
      this.sessions.delete(key);
      return null;
    }
    return session.who;
  }

  /** False when this address has used up its login attempts for the minute. */
  allowAttempt(remote: string): boolean {
    const now = Date.now();
    const entry = this.attempts.get(remote);
    if (entry === undefined || now - entry.windowStart >= 60_000) {
      if (this.attempts.size >= MAX_SESSIONS) this.pruneAttempts(now);
      this.attempts.set(remote, { windowStart: now, count: 1 });
      return true;
    }
    entry.count++;
    return entry.count <= this.opts.loginsPerMinute;
  }

  /** A new session cookie value for a valid token, or null. */
  login(token: string): string | null {
    const who = this.tokens().verify(token);
    if (who === null) return null;
    this.pruneSessions();
    const value = randomBytes(32).toString('base64url');
    this.sessions.set(digest(value), { who, expires: Date.now() + this.opts.ttlMs });
    return value;
  }

  logout(req: http.IncomingMessage): void {
    const cookie = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (cookie !== null) this.sessions.delete(digest(cookie));
  }

  /** The Set-Cookie value for a session; an empty value with `expire` clears it. */
  cookieHeader(value: string, secure: boolean, expire = false): string {
    const maxAge = expire ? 0 : Math.floor(this.opts.ttlMs / 1000);
    return `${SESSION_COOKIE}=${value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
  }

  private pruneSessions(): void {
    const now = Date.now();
    for (const [key, s] of this.sessions) if (s.expires <= now) this.sessions.delete(key);
    // Still full of live sessions: the oldest goes (Map keeps insertion order).
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string);
  }

  private pruneAttempts(now: number): void {
    for (const [remote, a] of this.attempts) if (now - a.windowStart >= 60_000) this.attempts.delete(remote);
    while (this.attempts.size >= MAX_SESSIONS) this.attempts.delete(this.attempts.keys().next().value as string);
  }
}
