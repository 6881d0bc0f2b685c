/**
 * `keysentry start [--state DIR] [--port N] [--sample FILE]` (what `npm start` runs): the
 * embedded default. One process runs a collector on loopback (SQLite file and a generated
 * token in the state directory) and the agent pipeline delivering into it through the real
 * spool and websocket, so a new user sees an alert stored end to end with nothing configured.
 *
 * With the live source (root, kernel audit or process connector) it runs until SIGINT or
 * SIGTERM. Without it, it says why, replays the shipped sample capture through the same
 * pipeline, shows the alerts as the collector stored them, and exits: a demo that ends is
 * clearer than a process idling with nothing to watch.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { localAgentInfo } from '../alerts/agent';
import type { AlertDocument, AlertSink } from '../alerts/types';
import { startCollector, type Collector } from '../collector/server';
import { generateToken, TokenSet } from '../collector/tokens';
import { Reporter } from '../delivery/reporter';
import { hostKey, type HostInfo } from '../process/ecs';
import { ProcessTable } from '../process/table';
import { loadDefaultRuleSet } from '../rules';
import type { EventSource } from '../sources/types';
import { ReplaySource } from '../sources/replay';
import { formatAlertTable } from './alerts';
import { CliError } from './errors';
import { runPipeline, type PipelineStats } from './pipeline';

const USAGE =
  'usage: keysentry start [--state DIR] [--port N] [--sample FILE]\n' +
  '  --state   where the collector database, token and agent spool live (default ~/.keysentry)\n' +
  '  --port    loopback port for the embedded collector (default 0: any free port)\n' +
  '  --sample  capture to replay when the live source is unavailable (default samples/keychain-theft.eslogger.jsonl)';

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');
const DEFAULT_SAMPLE = path.join(PACKAGE_ROOT, 'samples', 'keychain-theft.eslogger.jsonl');
const DRAIN_TIMEOUT_MS = 10_000;

function say(line: string): void {
  process.stdout.write(`keysentry start: ${line}\n`);
}

/** The embedded collector's token: made once, kept 0600 beside its database. */
function embeddedToken(stateDir: string): string {
  const file = path.join(stateDir, 'collector.token');
  try {
    const token = fs.readFileSync(file, 'utf8').trim();
    if (token.length > 0) return token;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError(`${file}: ${(err as Error).message}`, 1);
  }
  const token = generateToken();
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

type LiveSource = { source: EventSource; host: HostInfo } | { unavailable: string };

/** The live source when this machine and user allow it; otherwise why not, in one sentence. */
function openLiveSource(): LiveSource {
  if (process.platform !== 'linux' && process.platform !== 'darwin') return { unavailable: `no live source for ${process.platform}` };
  if (process.getuid?.() !== 0) return { unavailable: 'watching every process exec needs root (kernel audit / EndpointSecurity); run `sudo npm start` for the live source' };
  return { unavailable: 'the native live source is not part of this build yet' };
}

/** Counts alerts for the health heartbeat. */
class CountingSink implements AlertSink {
  count = 0;
  constructor(private readonly inner: AlertSink) {}
  async write(alert: AlertDocument): Promise<void> {
    this.count++;
    await this.inner.write(alert);
  }
}

async function replaySample(sample: string, sink: AlertSink): Promise<PipelineStats> {
  const rules = loadDefaultRuleSet();
  if (rules.errors.length > 0) throw new CliError(`cannot load the default rules: ${rules.errors[0]?.message ?? ''}`, 1);
  let input: fs.ReadStream;
  try {
    fs.accessSync(sample, fs.constants.R_OK);
    input = fs.createReadStream(sample);
  } catch (err) {
    throw new CliError(`cannot read the sample ${sample}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 1);
  }
  const source = new ReplaySource({ input, label: path.basename(sample), format: 'auto' });
  try {
    const opened = await source.open();
    const host = opened.host ?? { osType: 'macos' };
    return await runPipeline({ source, table: new ProcessTable({ hostId: hostKey(host) }), host, agent: localAgentInfo(), rules, sinks: [sink] });
  } finally {
    input.destroy();
  }
}

async function runLive(live: { source: EventSource; host: HostInfo }, sink: AlertSink): Promise<void> {
  const rules = loadDefaultRuleSet();
  const stop = (): void => void live.source.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  say('watching process execs; press Ctrl-C to stop');
  await runPipeline({ source: live.source, table: new ProcessTable({ hostId: hostKey(live.host) }), host: live.host, agent: localAgentInfo(), rules, sinks: [sink] });
}

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        state: { type: 'string', default: path.join(os.homedir(), '.keysentry') },
        port: { type: 'string', default: '0' },
        sample: { type: 'string', default: DEFAULT_SAMPLE },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port: expected 0..65535, got '${values.port}'`);
  const stateDir = path.resolve(values.state);
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(stateDir, 0o700);
  const token = embeddedToken(stateDir);
  const db = path.join(stateDir, 'collector.db');
  const log = (level: string, message: string): void => {
    if (level !== 'info') process.stderr.write(`keysentry start: ${level}: ${message}\n`);
  };

  let collector: Collector;
  try {
    collector = await startCollector({ host: '127.0.0.1', port, db, tokens: TokenSet.fromTokens([{ token, name: 'embedded' }]), log });
  } catch (err) {
    throw new CliError(`cannot start the embedded collector on 127.0.0.1:${port}: ${(err as Error).message}`, 1);
  }
  say(`collector listening on ${collector.url}, storing into ${db}`);
  const agent = localAgentInfo();
  let counting: CountingSink | null = null;
  const reporter = await Reporter.start({
    url: collector.url,
    token,
    agent,
    stateDir: path.join(stateDir, 'agent'),
    log,
    health: () => ({ alerts: counting?.count ?? 0 }),
  });
  counting = new CountingSink(reporter);
  const storedBefore = collector.store.alerts({ agentId: agent.id }).length;
  try {
    const live = openLiveSource();
    if ('source' in live) {
      await runLive(live, counting);
    } else {
      say(`live source unavailable: ${live.unavailable}`);
      say(`replaying the sample capture ${values.sample} through the same pipeline instead`);
      const stats = await replaySample(values.sample, counting);
      say(`${stats.events} events evaluated, ${stats.alerts} alerts raised, ${stats.rejected} input lines rejected`);
    }
    const drained = await Promise.race([reporter.drained().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), DRAIN_TIMEOUT_MS).unref())]);
    if (!drained) say(`not every alert reached the collector within ${DRAIN_TIMEOUT_MS / 1000}s; the rest stay in the spool for next time`);
    const stored = collector.store.alerts({ agentId: agent.id }).slice(storedBefore);
    say(`${stored.length} alerts delivered and stored in ${db}:`);
    if (stored.length > 0) process.stdout.write(formatAlertTable(stored));
    say(`list them again with: keysentry alerts --db ${db}`);
  } finally {
    await reporter.close();
    await collector.close();
  }
  return 0;
}
