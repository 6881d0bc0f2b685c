/**
 * The agent's logs, in its log directory:
 *   keysentry.log  the agent's own log, ECS JSON (ecs-logging layout: "@timestamp",
 *                  "log.level", "message", "ecs.version", then the record's fields)
 *   alerts.log     one ECS alert document a line, exactly the document (its own stream)
 * Both rotate by size and age (RotatingFile); everything passes the Redactor first.
 */
import * as path from 'node:path';
import * as winston from 'winston';
import type { AlertDocument, AlertSink } from '../alerts/types';
import { ConfigError } from '../config/load';
import type { AgentConfig } from '../config/types';
import { Redactor } from './redact';
import { RotatingFile, RotatingFileTransport } from './rotating-file';

export { Redactor, REDACTED, isSecretKey } from './redact';
export { RotatingFile, RotatingFileTransport, type RotationLimits } from './rotating-file';

export const ECS_VERSION = '8.11.0';
export const AGENT_LOG_NAME = 'keysentry.log';
export const ALERT_LOG_NAME = 'alerts.log';

const MESSAGE = Symbol.for('message');

export interface AgentLogger {
  /** The agent log. Pass context as a meta object: log.warn('spool full', { dropped }). */
  log: winston.Logger;
  /** Writes each alert as one line of alerts.log. */
  alerts: AlertSink;
  /** Register the token (or any other secret value) here as soon as it is read. */
  redactor: Redactor;
  /** Lines lost to write errors, per file: for `keysentry status`. */
  dropped(): { agentLog: number; alertLog: number };
  close(): Promise<void>;
}

export interface LoggerOptions {
  /** Secret values known up front (the token): cut out of every line. */
  secrets?: string[];
  /** Overrides config.log.stderr (`keysentry run --verbose` and tests). */
  stderr?: boolean;
}

/** winston info -> redacted ecs-logging document, serialized into info[MESSAGE]. */
function ecsFormat(redactor: Redactor): winston.Logform.Format {
  return winston.format((info) => {
    const { level, message, ...fields } = info as Record<string, unknown>;
    const redacted = redactor.redact(fields) as Record<string, unknown>;
    const error = redacted.error ?? (message instanceof Error ? redactor.redact(message) : undefined);
    const doc: Record<string, unknown> = {
      '@timestamp': new Date().toISOString(),
      'log.level': level,
      message: redactor.redactString(message instanceof Error ? message.message : String(message ?? '')),
      'ecs.version': ECS_VERSION,
      ...redacted,
      log: { logger: 'keysentry' },
      process: { pid: process.pid, ...(typeof redacted.process === 'object' && redacted.process !== null ? redacted.process : {}) },
      service: { name: 'keysentry', type: 'agent' },
    };
    if (error !== undefined) doc.error = error;
    (info as Record<string | symbol, unknown>)[MESSAGE] = JSON.stringify(doc);
    return info;
  })();
}

export function createLogger(config: Pick<AgentConfig, 'log'>, options: LoggerOptions = {}): AgentLogger {
  const redactor = new Redactor();
  for (const secret of options.secrets ?? []) redactor.addSecret(secret);
  const limits = { maxSizeBytes: config.log.maxSizeBytes, maxAgeMs: config.log.maxAgeMs, maxFiles: config.log.maxFiles };
  let agentFile: RotatingFile;
  let alertFile: RotatingFile;
  try {
    agentFile = new RotatingFile(path.join(config.log.directory, AGENT_LOG_NAME), limits);
    alertFile = new RotatingFile(path.join(config.log.directory, ALERT_LOG_NAME), limits);
  } catch (err) {
    throw new ConfigError([`log.directory: ${(err as Error).message}`]);
  }

  const transports: winston.transport[] = [new RotatingFileTransport(agentFile)];
  if (options.stderr ?? config.log.stderr) {
    transports.push(new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'verbose', 'debug'] }));
  }
  const log = winston.createLogger({
    level: config.log.level,
    levels: winston.config.npm.levels,
    format: winston.format.combine(winston.format.splat(), ecsFormat(redactor)),
    transports,
    exitOnError: false,
  });

  return {
    log,
    redactor,
    alerts: {
      write(alert: AlertDocument): void {
        let line: string;
        try {
          // The redactor has turned bigints into strings, so a plain stringify (no slow replacer) is safe.
          line = JSON.stringify(redactor.redact(alert));
        } catch {
          alertFile.dropped++;
          return;
        }
        alertFile.writeLine(line);
      },
    },
    dropped: () => ({ agentLog: agentFile.dropped, alertLog: alertFile.dropped }),
    close: () =>
      new Promise<void>((resolve) => {
        log.on('finish', () => {
          agentFile.close();
          alertFile.close();
          resolve();
        });
        log.end();
      }),
  };
}
