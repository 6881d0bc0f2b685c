import * as path from 'node:path';
import { PACKAGE_ROOT } from '../model/package';
import type { AgentConfig } from './types';

/** Where the agent looks for config.toml / config.json when --config is not given. */
export function defaultConfigDir(platform: NodeJS.Platform = process.platform): string {
  return platform === 'darwin' ? '/Library/Application Support/keysentry' : '/etc/keysentry';
}

/** Built-in defaults: what an agent with no config file runs with. */
export function defaultAgentConfig(platform: NodeJS.Platform = process.platform): AgentConfig {
  const mac = platform === 'darwin';
  return {
    source: 'auto',
    rules: {
      paths: [path.join(PACKAGE_ROOT, 'rules', 'default'), path.join(PACKAGE_ROOT, 'rules', 'keysentry-keychain')],
    },
    delivery: {
      url: null,
      tokenFile: null,
      tls: { caFile: null, certFile: null, keyFile: null, verify: true },
    },
    state: {
      directory: mac ? '/var/db/keysentry' : '/var/lib/keysentry',
      spoolMaxBytes: 256 * 1024 * 1024,
    },
    log: {
      level: 'info',
      directory: mac ? '/Library/Logs/keysentry' : '/var/log/keysentry',
      maxSizeBytes: 50 * 1024 * 1024,
      maxAgeMs: 7 * 24 * 3600 * 1000,
      maxFiles: 10,
      stderr: false,
    },
    mute: { pathPrefixes: [], signingIds: [], teamIds: [] },
    status: { socket: mac ? '/var/run/keysentry/status.sock' : '/run/keysentry/status.sock' },
    configFile: null,
  };
}
