/**
 * The web console, served by the collector's own HTTP(S) server under /console.
 *
 * Never open: every page but the login form and every API call needs a session (from a
 * token in the collector's token file) or a client certificate the collector verified.
 * Alert fields are attacker-controlled, so the page renders them only as text (the script
 * builds DOM nodes with textContent, never HTML), and a Content-Security-Policy forbids
 * inline script and every origin but this one. New alerts reach open pages through a
 * server-sent event stream that only says "there is something new"; the page then asks
 * for it with its own filters.
 */
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../../model/package';
import type { CollectorContext, CollectorPlugin } from '../server';
import type { TokenSet } from '../tokens';
import { ConsoleAuth } from './auth';
import { ConsoleQueries, MAX_LIST, type ConsoleFilter } from './queries';

export interface ConsoleOptions {
  /** Who may log in; default: whoever holds a token the collector accepts from agents (re-read with it). */
  tokens?: TokenSet;
  sessionTtlMs?: number;
  /** An agent without a heartbeat for this long is shown as silent. */
  silentAfterMs?: number;
  maxLiveClients?: number;
  loginsPerMinute?: number;
}

const ASSETS_DIR = path.join(PACKAGE_ROOT, 'assets', 'console');
const PREFIX = '/console';
const MAX_LOGIN_BODY = 4096;

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const ASSETS: Record<string, { file: string; type: string; public: boolean }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8', public: false },
  '/login': { file: 'login.html', type: 'text/html; charset=utf-8', public: true },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8', public: true },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8', public: true },
};

function securityHeaders(res: http.ServerResponse): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  // same-origin, not no-referrer: the login form's POST must carry a real Origin for the CSRF check.
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
}

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer): void {
  securityHeaders(res);
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

function redirect(res: http.ServerResponse, location: string, cookie?: string): void {
  securityHeaders(res);
  const headers: http.OutgoingHttpHeaders = { Location: location, 'Content-Length': 0 };
  if (cookie !== undefined) headers['Set-Cookie'] = cookie;
  res.writeHead(303, headers);
  res.end();
}

function filterFrom(params: URLSearchParams): ConsoleFilter {
  const filter: ConsoleFilter = {};
  for (const key of ['host', 'rule', 'severity', 'since', 'until'] as const) {
    const value = params.get(key);
    if (value !== null && value !== '' && value.length <= 512) filter[key] = value;
  }
  return filter;
}

function positiveInt(value: string | null): number | undefined {
  if (value === null) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** A login must come from this console's own page: a cross-site form post is refused. */
function sameOrigin(req: http.IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function readForm(req: http.IncomingMessage): Promise<URLSearchParams | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_LOGIN_BODY) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', () => resolve(null));
  });
}

/** The console's address on a collector whose agent URL is `agentUrl` (ws[s]://host:port). */
export function consoleUrl(agentUrl: string): string {
  const url = new URL(agentUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = `${PREFIX}/`;
  return url.toString();
}

export function consolePlugin(options: ConsoleOptions = {}): CollectorPlugin {
  return (ctx: CollectorContext) => {
    const fixed = options.tokens;
    const auth = new ConsoleAuth(fixed === undefined ? ctx.tokens : () => fixed, { ttlMs: options.sessionTtlMs ?? 12 * 3_600_000, loginsPerMinute: options.loginsPerMinute ?? 20 });
    const queries = new ConsoleQueries(ctx.store.db, options.silentAfterMs ?? 5 * 60_000);
    const live = new Set<http.ServerResponse>();
    const maxLive = options.maxLiveClients ?? 100;
    const assets = new Map<string, Buffer>();
    const asset = (file: string): Buffer => {
      let body = assets.get(file);
      if (body === undefined) {
        body = fs.readFileSync(path.join(ASSETS_DIR, file));
        assets.set(file, body);
      }
      return body;
    };

    ctx.events.on('stored', () => {
      if (live.size === 0) return;
      const frame = `event: alerts\ndata: ${JSON.stringify({ lastId: queries.lastId() })}\n\n`;
      for (const res of live) res.write(frame);
    });
    const keepAlive = setInterval(() => {
      for (const res of live) res.write(': keep-alive\n\n');
    }, 25_000);
    keepAlive.unref();
    ctx.server.on('close', () => {
      clearInterval(keepAlive);
      for (const res of live) res.end();
    });

    const api = (req: http.IncomingMessage, res: http.ServerResponse, route: string, params: URLSearchParams): void => {
      if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
      const filter = filterFrom(params);
      if (route === '/api/alerts') {
        const alerts = queries.alerts(filter, positiveInt(params.get('after')), positiveInt(params.get('limit')) ?? MAX_LIST);
        return sendJson(res, 200, { alerts, lastId: queries.lastId() });
      }
      if (route.startsWith('/api/alerts/')) {
        const id = positiveInt(route.slice('/api/alerts/'.length));
        const alert = id === undefined ? undefined : queries.alert(id);
        return alert === undefined ? sendJson(res, 404, { error: 'no such alert' }) : sendJson(res, 200, alert);
      }
      if (route === '/api/timeline') return sendJson(res, 200, queries.timeline(filter, positiveInt(params.get('hours')) ?? 24, new Date()));
      if (route === '/api/facets') return sendJson(res, 200, queries.facets());
      if (route === '/api/agents') return sendJson(res, 200, { agents: queries.agents(new Date()) });
      if (route === '/api/live') {
        if (live.size >= maxLive) return sendJson(res, 503, { error: 'too many live views' });
        securityHeaders(res);
        res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
        res.write(`event: hello\ndata: ${JSON.stringify({ lastId: queries.lastId() })}\n\n`);
        live.add(res);
        req.on('close', () => live.delete(res));
        return;
      }
      sendJson(res, 404, { error: 'not found' });
    };

    const login = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
      const remote = req.socket.remoteAddress ?? 'unknown';
      if (!sameOrigin(req)) return send(res, 403, 'text/plain; charset=utf-8', 'cross-site login refused\n');
      if (!auth.allowAttempt(remote)) return send(res, 429, 'text/plain; charset=utf-8', 'too many login attempts; wait a minute\n');
      const form = await readForm(req);
      const token = form?.get('token') ?? null;
      const cookie = token === null || token.length > 512 ? null : auth.login(token);
      if (cookie === null) return redirect(res, `${PREFIX}/login?failed=1`);
      redirect(res, `${PREFIX}/`, auth.cookieHeader(cookie, (req.socket as { encrypted?: boolean }).encrypted === true));
    };

    ctx.addRequestHandler((req, res) => {
      const url = new URL(req.url ?? '/', 'http://console.invalid');
      if (url.pathname !== PREFIX && !url.pathname.startsWith(`${PREFIX}/`)) return false;
      const route = url.pathname === PREFIX ? '' : url.pathname.slice(PREFIX.length);
      if (route === '') {
        redirect(res, `${PREFIX}/`);
        return true;
      }
      if (route === '/login' && req.method === 'POST') {
        void login(req, res);
        return true;
      }
      if (route === '/logout' && req.method === 'POST') {
        auth.logout(req);
        redirect(res, `${PREFIX}/login`, auth.cookieHeader('', false, true));
        return true;
      }
      const who = auth.identify(req);
      const static_ = ASSETS[route];
      if (static_ !== undefined && req.method === 'GET') {
        if (!static_.public && who === null) redirect(res, `${PREFIX}/login`);
        else send(res, 200, static_.type, asset(static_.file));
        return true;
      }
      if (route.startsWith('/api/')) {
        if (who === null) sendJson(res, 401, { error: 'log in first' });
        else api(req, res, route, url.searchParams);
        return true;
      }
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
      return true;
    });
  };
}
