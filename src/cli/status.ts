/**
 * `keysentry status [--socket PATH] [--config PATH] [--json]`: asks the running agent.
 * Exit status as LSB/systemctl: 0 running, 3 not running, 4 could not tell (permission, bad answer).
 */
import { ConfigError, loadAgentConfig } from '../config';
import { queryStatus, StatusError, type AgentStatus } from '../status';
import { CliError } from './errors';

const USAGE =
  'usage: keysentry status [--socket PATH] [--config PATH] [--json]\n' +
  '  --socket  the agent\'s status socket (default: status.socket of the config)\n' +
  '  --config  the agent\'s config file (default: the platform\'s config location)\n' +
  '  --json    one JSON document instead of text\n' +
  'exit status: 0 running, 3 not running, 4 could not tell';

interface StatusArgs {
  socket?: string;
  config?: string;
  json: boolean;
}

function parseArgs(argv: string[]): StatusArgs {
  const args: StatusArgs = { json: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--help' || flag === '-h') throw new CliError(USAGE, 0);
    if (flag === '--json') args.json = true;
    else if (flag === '--socket' || flag === '--config') {
      const value = argv[++i];
      if (value === undefined) throw new CliError(`${flag} needs a path\n${USAGE}`);
      args[flag === '--socket' ? 'socket' : 'config'] = value;
    } else throw new CliError(`unknown argument '${flag}'\n${USAGE}`);
  }
  return args;
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return d > 0 ? `${d}d${h}h` : h > 0 ? `${h}h${m}m` : m > 0 ? `${m}m${s}s` : `${s}s`;
}

export function formatStatus(status: AgentStatus): string {
  const { delivery, drops } = status;
  const deliveryLine =
    delivery.url === null
      ? 'off (no delivery.url; alerts are logged only)'
      : `${delivery.connected ? 'connected' : 'disconnected'} to ${delivery.url}; last ${delivery.lastDelivery ?? 'never'}` +
        (delivery.lastError === null ? '' : `; last error: ${delivery.lastError}`);
  const capture = status.capture;
  // Degraded: the process runs but sees no process execs; it must not read as "running".
  const state = capture?.degraded != null ? `DEGRADED, processes are not watched: ${capture.degraded};` : 'running';
  const rows: Array<[string, string]> = [
    ['agent', `${state} (pid ${status.pid}, up ${duration(status.uptimeSeconds)}, version ${status.version})`],
    ['config', status.configFile ?? '(built-in defaults)'],
    ['source', status.source],
    ...(capture === undefined || capture.repairs === 0
      ? []
      : ([['capture', `repaired ${capture.repairs} time${capture.repairs === 1 ? '' : 's'} (last: ${capture.lastRepair ?? '?'})`]] as Array<[string, string]>)),
    ['rules loaded', String(status.rulesLoaded)],
    ['events', `${status.events.total} total, ${status.events.perSecond.toFixed(1)}/s`],
    ['alerts', `${status.alerts.total}${status.alerts.last === null ? '' : ` (last ${status.alerts.last})`}`],
    ['drops', `source ${drops.source}, rejected ${drops.rejected}, spool ${drops.spool}, log ${drops.log}`],
    ['spool', `${status.spool.depth} alerts waiting (${status.spool.bytes} bytes)`],
    ['delivery', deliveryLine],
  ];
  return rows.map(([name, value]) => `${`${name}:`.padEnd(14)}${value}`).join('\n') + '\n';
}

function socketFromConfig(configFile: string | undefined): string {
  try {
    return loadAgentConfig(configFile).status.socket;
  } catch (err) {
    // 78: EX_CONFIG, as the agent itself exits on a bad config.
    if (err instanceof ConfigError) throw new CliError(err.message, 78);
    throw err;
  }
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const socket = args.socket ?? socketFromConfig(args.config);
  try {
    const status = await queryStatus(socket);
    process.stdout.write(args.json ? `${JSON.stringify({ running: true, ...status })}\n` : formatStatus(status));
    return 0;
  } catch (err) {
    if (!(err instanceof StatusError)) throw err;
    if (args.json) process.stdout.write(`${JSON.stringify({ running: false, reason: err.message })}\n`);
    else process.stdout.write(`agent:        ${err.message}\n`);
    return err.notRunning ? 3 : 4;
  }
}
