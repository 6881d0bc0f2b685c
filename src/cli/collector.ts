/**
 * `keysentry collector [--listen HOST:PORT] [--db PATH] [--tokens FILE] [--tls-cert F --tls-key F] [--tls-ca F]`:
 * runs the collector until SIGINT/SIGTERM; SIGHUP re-reads the token file. Prints "listening on <url>"
 * once it accepts agents.
 */
import * as fs from 'node:fs';
import { consolePlugin, consoleUrl } from '../collector/console';
import { startCollector, type CollectorTls } from '../collector/server';
import { TokenFileError, TokenSet } from '../collector/tokens';
import { CliError } from './errors';
import { parseCommandOptions } from './options';

const USAGE =
  'usage: keysentry collector [--listen HOST:PORT] [--db PATH] --tokens FILE [--tls-cert FILE --tls-key FILE] [--tls-ca FILE] [--no-console]\n' +
  '  --listen   address to accept agents on (default 127.0.0.1:8443; port 0 picks a free one)\n' +
  '  --db       SQLite database (default ./keysentry-collector.db)\n' +
  '  --tokens   agent token file: one token per line, optional name after it, mode 0600\n' +
  '  --tls-cert/--tls-key  serve wss:// with this certificate and key (PEM)\n' +
  '  --tls-ca   require agents to present a client certificate signed by this CA (PEM)\n' +
  '  --no-console  do not serve the web console on /console (it logs in with a token from --tokens, or a client certificate)';

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new CliError(`--listen: expected HOST:PORT (e.g. 0.0.0.0:8443 or [::1]:8443), got '${value}'`);
  return { host: (m[1] ?? m[2]) as string, port };
}

function readPem(flag: string, file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new CliError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const values = parseCommandOptions(
    argv,
    {
      listen: { type: 'string', default: '127.0.0.1:8443' },
      db: { type: 'string', default: 'keysentry-collector.db' },
      tokens: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      'no-console': { type: 'boolean', default: false },
    },
    USAGE,
  );
  if (values === null) return 0;
  if (values.tokens === undefined) throw new CliError(`--tokens FILE is required: agents are never accepted unauthenticated\n${USAGE}`);
  let tokens: TokenSet;
  try {
    tokens = TokenSet.load(values.tokens);
  } catch (err) {
    if (err instanceof TokenFileError) throw new CliError(err.message);
    throw err;
  }
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new CliError('--tls-cert and --tls-key go together');
  if (values['tls-ca'] !== undefined && values['tls-cert'] === undefined) throw new CliError('--tls-ca (client certificates) needs --tls-cert and --tls-key');
  const cert = readPem('--tls-cert', values['tls-cert']);
  const key = readPem('--tls-key', values['tls-key']);
  const tls: CollectorTls | undefined = cert && key ? { cert, key, clientCa: readPem('--tls-ca', values['tls-ca']) } : undefined;
  const { host, port } = parseListen(values.listen);
  const log = (level: string, message: string): void => {
    process.stderr.write(`${new Date().toISOString()} ${level} ${message}\n`);
  };
  let collector;
  try {
    collector = await startCollector({ host, port, db: values.db, tokens, tls, log, plugins: values['no-console'] ? [] : [consolePlugin()] });
  } catch (err) {
    throw new CliError(`cannot start: ${(err as Error).message}`, 1);
  }
  if (tls === undefined && host !== '127.0.0.1' && host !== '::1' && host !== 'localhost') {
    log('warn', 'serving ws:// without TLS on a non-loopback address: tokens and alerts cross the network in clear text');
  }
  process.stdout.write(`keysentry collector listening on ${collector.url} (db ${values.db}, ${tokens.size} token(s))\n`);
  if (!values['no-console']) process.stdout.write(`keysentry console on ${consoleUrl(collector.url)}\n`);
  // SIGHUP re-reads the token file (rotation without dropping the fleet); a bad file keeps the old tokens.
  const tokenFile = values.tokens;
  const reload = (): void => {
    try {
      const next = TokenSet.load(tokenFile);
      collector.setTokens(next);
      log('info', `token file reloaded: ${next.size} token(s)`);
    } catch (err) {
      log('error', `token file not reloaded, keeping the previous tokens: ${(err as Error).message}`);
    }
  };
  process.on('SIGHUP', reload);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.off('SIGHUP', reload);
  await collector.close();
  return 0;
}
