/**
 * `keysentry run [--config FILE] [--source auto|audit|connector|es|eslogger] [--rules PATH ...]`
 *
 * The live agent in the foreground: every alert is printed as one JSON line on stdout.
 * With a configuration file (--config, or the platform's default location) it also writes
 * the winston logs, delivers to the collector when one is configured and answers
 * `keysentry status`; with none it runs on the built-in defaults and logs to stderr.
 * SIGTERM/SIGINT stop it cleanly; SIGHUP reloads the rules (a bad rule keeps the old ones).
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { localAgentInfo } from '../alerts/agent';
import { JsonLinesSink } from '../alerts/sink';
import type { AlertSink } from '../alerts/types';
import { ConfigError, createMuteFilter, loadAgentConfig, readDeliveryToken, SOURCE_CHOICES, verifyAgentFilesTrusted, type AgentConfig, type SourceChoice } from '../config';
import { Reporter, type ReporterTls } from '../delivery/reporter';
import { createLogger, type AgentLogger } from '../logging';
import { BackendError } from '../sources/native';
import { RateMeter, startStatusServer, type StatusServer } from '../status';
import { agentHeartbeat, startAgent, type AgentLog, type RunningAgent } from './agent';
import { CliError } from './errors';

const USAGE = `usage: keysentry run [--config FILE] [--source ${SOURCE_CHOICES.join('|')}] [--rules PATH ...]`;

interface RunArgs {
  config?: string;
  source?: SourceChoice;
  rules: string[];
}

function parseRunArgs(argv: string[]): RunArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        source: { type: 'string' },
        rules: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help === true) throw new CliError(USAGE, 0);
  const source = values.source;
  if (source !== undefined && !(SOURCE_CHOICES as readonly string[]).includes(source)) {
    throw new CliError(`unknown --source '${source}' (expected ${SOURCE_CHOICES.join(', ')})`);
  }
  const args: RunArgs = { rules: values.rules ?? [] };
  if (values.config !== undefined) args.config = values.config;
  if (source !== undefined) args.source = source as SourceChoice;
  return args;
}

export function loadConfig(file: string | undefined): AgentConfig {
  try {
    const config = loadAgentConfig(file);
    // The config decides what is detected: refuse files anyone but root could have written.
    if (config.configFile !== null) verifyAgentFilesTrusted(config);
    return config;
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
}

function stderrLog(command: string): AgentLog {
  return (level, message) => process.stderr.write(`keysentry ${command}: ${level}: ${message}\n`);
}

function winstonLog(logger: AgentLogger): AgentLog {
  return (level, message, meta) => logger.log.log(level, message, meta ?? {});
}

/** The configured extras around the agent; each closes what it opened. */
interface Extras {
  sinks: AlertSink[];
  log: AgentLog;
  reporter?: Reporter;
  logger?: AgentLogger;
}

function reporterTls(config: AgentConfig): ReporterTls {
  const { caFile, certFile, keyFile, verify } = config.delivery.tls;
  const tls: ReporterTls = { rejectUnauthorized: verify };
  if (caFile !== null) tls.ca = fs.readFileSync(caFile);
  if (certFile !== null) tls.cert = fs.readFileSync(certFile);
  if (keyFile !== null) tls.key = fs.readFileSync(keyFile);
  return tls;
}

async function openExtras(config: AgentConfig, agent: () => RunningAgent | null): Promise<Extras> {
  if (config.configFile === null) return { sinks: [], log: stderrLog('run') };
  const logger = createLogger(config);
  const extras: Extras = { sinks: [logger.alerts], log: winstonLog(logger), logger };
  if (config.delivery.url !== null) {
    const token = readDeliveryToken(config);
    if (token !== null) logger.redactor.addSecret(token);
    extras.reporter = await Reporter.start({
      url: config.delivery.url,
      token: token ?? '',
      agent: localAgentInfo(),
      stateDir: config.state.directory,
      spool: { maxBytes: config.state.spoolMaxBytes },
      tls: reporterTls(config),
      health: agentHeartbeat(agent),
      log: (level, message) => logger.log.log(level, message),
    });
    extras.sinks.push(extras.reporter);
  }
  return extras;
}

async function serveStatus(config: AgentConfig, agent: RunningAgent, extras: Extras): Promise<StatusServer | undefined> {
  if (config.configFile === null) return undefined;
  const version = localAgentInfo().version;
  // Sampled at start and on each status query: the rate over the last 10 s of queries, or since the previous one.
  const meter = new RateMeter();
  meter.sample(agent.snapshot().events);
  try {
    return await startStatusServer(config.status.socket, () => {
      const s = agent.snapshot();
      meter.sample(s.events);
      const logDrops = extras.logger?.dropped();
      const reporter = extras.reporter?.stats();
      const uptime = (Date.now() - Date.parse(s.startedAt)) / 1000;
      return {
        version,
        pid: process.pid,
        startedAt: s.startedAt,
        uptimeSeconds: Math.round(uptime),
        source: s.source.replace(/^native:/, ''),
        capture: s.capture,
        rulesLoaded: s.rulesLoaded,
        configFile: config.configFile,
        events: { total: s.events, perSecond: meter.perSecond() },
        alerts: { total: s.alerts, last: s.lastAlert },
        drops: { source: s.lost, rejected: s.rejected, spool: reporter?.spool.dropped ?? 0, log: (logDrops?.agentLog ?? 0) + (logDrops?.alertLog ?? 0) },
        spool: { depth: reporter?.spool.depth ?? 0, bytes: reporter?.spool.bytes ?? 0 },
        delivery: { url: config.delivery.url, connected: reporter?.connected ?? false, lastDelivery: reporter?.lastDelivery ?? null, lastError: reporter?.lastError ?? null },
      };
    });
  } catch (err) {
    extras.log('warn', `status socket ${config.status.socket} unavailable: ${(err as Error).message}`);
    return undefined;
  }
}

export async function run(argv: string[]): Promise<number> {
  const args = parseRunArgs(argv);
  const config = loadConfig(args.config);
  let agent: RunningAgent | null = null;
  const extras = await openExtras(config, () => agent).catch((err: unknown) => {
    // An empty token file or a log directory that cannot be written: the admin's to fix.
    throw err instanceof ConfigError ? new CliError(err.message) : err;
  });
  const stdout = new JsonLinesSink(process.stdout);
  let running: RunningAgent;
  try {
    running = agent = startAgent({
      source: args.source ?? config.source,
      rulePaths: args.rules.length > 0 ? args.rules : config.rules.paths,
      sinks: [stdout, ...extras.sinks],
      log: extras.log,
      mute: createMuteFilter(config.mute),
    });
  } catch (err) {
    await closeExtras(extras);
    if (err instanceof BackendError) throw new CliError(`cannot start the live source: ${err.message}`, 1);
    if (err instanceof Error && !(err instanceof CliError)) throw new CliError(`cannot load rules: ${err.message}`, 1);
    throw err;
  }
  const status = await serveStatus(config, running, extras);
  const stop = (): void => void running.stop();
  const reload = (): void => void running.reloadRules();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', reload);
  // Says the agent is watching: tests and supervisors wait for this line.
  extras.log('info', `ready (pid ${process.pid}, source ${running.sourceName})`);
  try {
    const stats = await running.done;
    extras.log('info', `stopped: ${stats.events} events, ${stats.alerts} alerts, ${stats.rejected} rejected, ${stats.lost} lost`);
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    process.off('SIGHUP', reload);
    await status?.close();
    await closeExtras(extras);
  }
  return 0;
}

async function closeExtras(extras: Extras): Promise<void> {
  await extras.reporter?.close();
  await extras.logger?.close();
}
