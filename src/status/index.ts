/**
 * The running agent's status over a local unix socket, for `keysentry status`.
 *
 * The socket is root-only: 0600 in a 0700 directory owned by the agent's user. A client
 * connects and reads one JSON line; the agent never reads what a client sends.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export interface AgentStatus {
  version: string;
  pid: number;
  /** ISO 8601. */
  startedAt: string;
  uptimeSeconds: number;
  /** The source that runs: es | eslogger | audit | connector | replay. */
  source: string;
  /** Whether the kernel event feed is in place (live agents; absent from older agents). */
  capture?: { repairs: number; lastRepair: string | null; degraded: string | null };
  rulesLoaded: number;
  configFile: string | null;
  events: { total: number; perSecond: number };
  alerts: { total: number; last: string | null };
  /** Events or lines lost, by where: the source (kernel/queue), rejected input, spool overflow, log write errors. */
  drops: { source: number; rejected: number; spool: number; log: number };
  spool: { depth: number; bytes: number };
  delivery: { url: string | null; connected: boolean; lastDelivery: string | null; lastError: string | null };
}

export interface StatusServer {
  readonly socketPath: string;
  close(): Promise<void>;
}

export class StatusError extends Error {
  constructor(
    message: string,
    /** True when the answer is "the agent is not running" rather than "could not ask". */
    readonly notRunning: boolean,
  ) {
    super(message);
    this.name = 'StatusError';
  }
}

const MAX_STATUS_BYTES = 1024 * 1024;
const CLIENT_IDLE_MS = 5000;

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** Makes the socket's directory 0700 and owned by us, or refuses. */
function prepareDirectory(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = fs.lstatSync(dir);
  if (!stat.isDirectory()) throw new StatusError(`${dir}: not a directory`, false);
  const uid = process.getuid?.() ?? 0;
  if (stat.uid !== uid) throw new StatusError(`${dir}: owned by uid ${stat.uid}, not ${uid}; refusing to put the status socket there`, false);
  if ((stat.mode & 0o777) !== 0o700) fs.chmodSync(dir, 0o700);
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** Removes a stale socket left by a crashed agent; refuses when another agent answers on it. */
async function clearStaleSocket(socketPath: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(socketPath);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  if (!stat.isSocket()) throw new StatusError(`${socketPath}: exists and is not a socket; refusing to replace it`, false);
  if (await answers(socketPath)) throw new StatusError(`${socketPath}: another keysentry agent is running and answers on it`, false);
  fs.unlinkSync(socketPath);
}

/** sun_path holds 104 bytes on macOS, 108 on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = process.platform === 'darwin' ? 103 : 107;

export async function startStatusServer(socketPath: string, getStatus: () => AgentStatus): Promise<StatusServer> {
  const length = Buffer.byteLength(socketPath);
  if (length > MAX_SOCKET_PATH_BYTES) {
    throw new StatusError(`${socketPath}: ${length} bytes is too long for a unix socket path (at most ${MAX_SOCKET_PATH_BYTES})`, false);
  }
  prepareDirectory(path.dirname(socketPath));
  await clearStaleSocket(socketPath);
  const server = net.createServer((client) => {
    client.setTimeout(CLIENT_IDLE_MS, () => client.destroy());
    client.on('error', () => client.destroy());
    let line: string;
    try {
      line = JSON.stringify(getStatus());
    } catch (err) {
      line = JSON.stringify({ error: `status unavailable: ${(err as Error).message}` });
    }
    client.end(`${line}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(socketPath, 0o600);
  server.unref();
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        fs.rmSync(socketPath, { force: true });
      }),
  };
}

/** Asks the agent listening on `socketPath` for its status. */
export function queryStatus(socketPath: string, timeoutMs = 3000): Promise<AgentStatus> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const client = net.connect(socketPath);
    client.setTimeout(timeoutMs, () => client.destroy(new StatusError(`${socketPath}: the agent did not answer within ${timeoutMs} ms`, false)));
    client.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > MAX_STATUS_BYTES) client.destroy(new StatusError(`${socketPath}: answer larger than ${MAX_STATUS_BYTES} bytes`, false));
      else chunks.push(chunk);
    });
    client.on('error', (err) => {
      const code = errnoCode(err);
      if (err instanceof StatusError) reject(err);
      else if (code === 'ENOENT') reject(new StatusError(`not running (${socketPath} does not exist)`, true));
      else if (code === 'ECONNREFUSED') reject(new StatusError(`not running (nothing listens on ${socketPath})`, true));
      else if (code === 'EACCES') reject(new StatusError(`${socketPath}: permission denied (the status socket is root-only: use sudo)`, false));
      else reject(new StatusError(`${socketPath}: ${err.message}`, false));
    });
    client.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        reject(new StatusError(`${socketPath}: the answer is not JSON`, false));
        return;
      }
      const error = (parsed as { error?: unknown }).error;
      if (typeof error === 'string') reject(new StatusError(`agent: ${error}`, false));
      else resolve(parsed as AgentStatus);
    });
  });
}

/** Events per second over a sliding window, from a running total sampled at most once a second. */
export class RateMeter {
  private readonly samples: Array<{ at: number; total: number }> = [];

  constructor(private readonly windowMs = 10_000) {}

  sample(total: number, now = Date.now()): void {
    // The newest sample always moves to `now`; a new one starts once the one before it is a second old.
    const beforeLast = this.samples[this.samples.length - 2];
    if (beforeLast !== undefined && now - beforeLast.at < 1000) this.samples[this.samples.length - 1] = { at: now, total };
    else this.samples.push({ at: now, total });
    while (this.samples.length > 2 && now - this.samples[0].at > this.windowMs) this.samples.shift();
  }

  perSecond(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    return last.at > first.at ? ((last.total - first.total) * 1000) / (last.at - first.at) : 0;
  }
}
