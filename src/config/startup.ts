/**
 * What `keysentry run` does with its config before it opens a source, in one call:
 * load and validate it, refuse untrusted files, read the token, open the logs with the
 * token registered for redaction. Any failure is a ConfigError naming the file and key.
 */
import type { EcsDocument } from '../model/ecs';
import { createLogger, type AgentLogger } from '../logging';
import { loadAgentConfig, readDeliveryToken, verifyAgentFilesTrusted } from './load';
import { createMuteFilter } from './mute';
import type { TrustOptions } from './trust';
import type { AgentConfig } from './types';

export interface AgentSetup {
  config: AgentConfig;
  /** The delivery token, or null without delivery. Registered with the logger's redactor. */
  token: string | null;
  logger: AgentLogger;
  isMuted: (event: EcsDocument) => boolean;
}

export interface PrepareOptions {
  /** --config; undefined = the platform's default location. */
  configFile?: string;
  /** Tests run the agent on files owned by their own uid. */
  trust?: TrustOptions;
  /** Also log to stderr (foreground runs). */
  stderr?: boolean;
}

export function prepareAgent(options: PrepareOptions = {}): AgentSetup {
  const config = loadAgentConfig(options.configFile);
  verifyAgentFilesTrusted(config, options.trust);
  const token = readDeliveryToken(config);
  const logger = createLogger(config, { secrets: token === null ? [] : [token], stderr: options.stderr });
  logger.log.info('keysentry agent configured', {
    keysentry: {
      config_file: config.configFile,
      source: config.source,
      rule_paths: config.rules.paths,
      delivery_url: config.delivery.url,
      muted: { paths: config.mute.pathPrefixes.length, signing_ids: config.mute.signingIds.length, team_ids: config.mute.teamIds.length },
    },
  });
  if (config.delivery.url !== null && !config.delivery.tls.verify) {
    logger.log.warn('delivery.tls.verify is false: the collector certificate is not checked');
  }
  return { config, token, logger, isMuted: createMuteFilter(config.mute) };
}
