/**
 * `keysentry start [--state DIR] [--port N] [--replay FILE]` (what `npm start` runs): the
 * embedded default. One process runs a collector on loopback (SQLite file and a generated
 * token in the state directory) and the agent pipeline delivering into it through the real
 * spool and websocket, so a new user sees an alert stored end to end with nothing configured.
 *
 * With the live source (root, kernel audit or process connector) it runs until SIGINT or
 * SIGTERM. Without it, it says why, replays the shipped sample capture through the same
 * pipeline, shows the alerts as the collector stored them, and exits: a demo that ends is
 * clearer than a process idling with nothing to watch. --replay FILE replays that capture
 * instead of going live.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { localAgentInfo } from '../alerts/agent';
import type { AlertSink } from '../alerts/types';
import { consolePlugin, consoleUrl } from '../collector/console';
import { startCollector, type Collector } from '../collector/server';
import { generateToken, TokenSet } from '../collector/tokens';
import { Reporter } from '../delivery/reporter';
import { hostKey } from '../process/ecs';
import { ProcessTable } from '../process/table';
import { PACKAGE_ROOT } from '../model/package';
import { enrichEvent } from '../process/normalize';
import { loadDefaultRuleSet } from '../rules';
import { BackendError } from '../sources/native';
import { ReplaySource } from '../sources/replay';
import { agentHeartbeat, startAgent, type AgentLog, type RunningAgent } from './agent';
import { formatAlertTable } from './alerts';
import { CliError } from './errors';
import { parseCommandOptions } from './options';
import { runPipeline, type PipelineStats } from './pipeline';

const USAGE =
  'usage: keysentry start [--state DIR] [--port N] [--replay FILE]\n' +
  '  --state   where the collector database, token and agent spool live (default ~/.keysentry)\n' +
  '  --port    loopback port for the embedded collector (default 0: any free port)\n' +
  '  --replay  replay this capture instead of watching live (without it, the shipped sample is replayed when the live source is unavailable)';

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

/** The live agent when this machine and user allow it; otherwise why not, in one sentence. */
function startLiveAgent(sinks: AlertSink[], log: AgentLog): RunningAgent | { unavailable: string } {
  if (process.getuid?.() !== 0) return { unavailable: 'watching every process exec needs root (kernel audit / EndpointSecurity); `sudo npm start` runs the live source' };
  try {
    return startAgent({ sinks, log });
  } catch (err) {
    if (err instanceof BackendError) return { unavailable: err.message };
    throw err;
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
    return await runPipeline({ source, table: new ProcessTable({ hostId: hostKey(host) }), host, agent: localAgentInfo(), rules, sinks: [sink], enrich: enrichEvent });
  } finally {
    input.destroy();
  }
}

/** Runs the live agent until SIGINT or SIGTERM. */
async function runLive(agent: RunningAgent): Promise<void> {
  const stop = (): void => void agent.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  say(`watching process execs with ${agent.sourceName}; press Ctrl-C to stop`);
  try {
    await agent.done;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

export async function run(argv: string[]): Promise<number> {
  const values = parseCommandOptions(
    argv,
    {
      state: { type: 'string', default: path.join(os.homedir(), '.keysentry') },
      port: { type: 'string', default: '0' },
      replay: { type: 'string' },
    },
    USAGE,
  );
  if (values === null) return 0;
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
    collector = await startCollector({ host: '127.0.0.1', port, db, tokens: TokenSet.fromTokens([{ token, name: 'embedded' }]), log, plugins: [consolePlugin()] });
  } catch (err) {
    throw new CliError(`cannot start the embedded collector on 127.0.0.1:${port}: ${(err as Error).message}`, 1);
  }
  say(`collector listening on ${collector.url}, storing into ${db}`);
  const agent = localAgentInfo();
  let live: RunningAgent | { unavailable: string } | null = null;
  const reporter = await Reporter.start({
    url: collector.url,
    token,
    agent,
    stateDir: path.join(stateDir, 'agent'),
    log,
    health: agentHeartbeat(() => (live !== null && 'snapshot' in live ? live : null)),
  });
  const storedBefore = collector.store.alerts({ agentId: agent.id }).length;
  try {
    live = values.replay === undefined ? startLiveAgent([reporter], (level, message) => log(level, message)) : { unavailable: 'not asked for (--replay)' };
    if ('snapshot' in live) {
      say(`console on ${consoleUrl(collector.url)} (log in with the token in ${path.join(stateDir, 'collector.token')})`);
      await runLive(live);
    } else {
      const sample = values.replay ?? DEFAULT_SAMPLE;
      if (values.replay === undefined) say(`live source unavailable: ${live.unavailable}`);
      say(`replaying the capture ${sample} through the same pipeline`);
      const stats = await replaySample(sample, reporter);
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
