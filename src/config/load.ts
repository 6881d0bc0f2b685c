/** Reading, validating and trusting the config file and the files it names. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { defaultAgentConfig, defaultConfigDir } from './defaults';
import { applyConfigFile, crossCheck } from './schema';
import { checkTrustedFile, checkTrustedTree, UntrustedFileError, type TrustOptions } from './trust';
import type { AgentConfig } from './types';

/** Every problem found in one config file, one "file: key: problem" line each. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

const CONFIG_NAMES = ['config.toml', 'config.json'];
/** A config file is a few KiB; anything this big is a mistake, not a config. */
const MAX_CONFIG_BYTES = 1024 * 1024;

function defaultConfigPath(platform: NodeJS.Platform): string | undefined {
  const dir = defaultConfigDir(platform);
  const present = CONFIG_NAMES.map((name) => path.join(dir, name)).filter((p) => fs.existsSync(p));
  if (present.length > 1) throw new ConfigError([`${present.join(' and ')}: both exist; keep one`]);
  return present[0];
}

/** "line L, column C" for a JSON.parse error (V8 reports a character position). */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  return `${before.split('\n').length}:${before.length - before.lastIndexOf('\n')}`;
}

function jsonErrorWhere(text: string, message: string): string {
  const position = /position (\d+)/.exec(message);
  if (position === null) return message;
  return `${lineColumn(text, Number(position[1]))}: ${message.replace(/ in JSON at position \d+.*$/, '')}`;
}

/**
 * JSON.parse keeps the last of two equal keys without a word; in a config that hides a
 * setting. One linear pass over text JSON.parse has already accepted finds them.
 */
function duplicateJsonKeys(text: string): string[] {
  const problems: string[] = [];
  const objects: Array<Set<string> | null> = [];
  for (let at = 0; at < text.length; at++) {
    const c = text[at];
    if (c === '{') objects.push(new Set());
    else if (c === '[') objects.push(null);
    else if (c === '}' || c === ']') objects.pop();
    else if (c === '"') {
      const start = at;
      for (at++; text[at] !== '"'; at++) if (text[at] === '\\') at++;
      let next = at + 1;
      while (' \t\r\n'.includes(text[next])) next++;
      const keys = objects[objects.length - 1];
      if (text[next] !== ':' || keys === null || keys === undefined) continue;
      const key = JSON.parse(text.slice(start, at + 1)) as string;
      if (keys.has(key)) problems.push(`${lineColumn(text, start)}: duplicate key '${key}'`);
      keys.add(key);
    }
  }
  return problems;
}

function parseFile(file: string): unknown {
  let text: string;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_CONFIG_BYTES) throw new ConfigError([`${file}: ${size} bytes; a config file is at most ${MAX_CONFIG_BYTES}`]);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError([`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  if (file.endsWith('.toml')) {
    try {
      return parseToml(text);
    } catch (err) {
      if (err instanceof TomlError) throw new ConfigError([`${file}:${err.line}:${err.column}: ${err.message.split('\n')[0]}`]);
      throw err;
    }
  }
  if (file.endsWith('.json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text) as unknown;
    } catch (err) {
      throw new ConfigError([`${file}:${jsonErrorWhere(text, (err as Error).message)}`]);
    }
    const duplicates = duplicateJsonKeys(text);
    if (duplicates.length > 0) throw new ConfigError(duplicates.map((problem) => `${file}:${problem}`));
    return parsed;
  }
  throw new ConfigError([`${file}: expected a .toml or .json file`]);
}

/**
 * Reads and validates the agent config. With no `file`, the platform's default location is
 * used when it holds config.toml or config.json, else the built-in defaults. An explicit
 * `file` must exist. Throws ConfigError listing every problem.
 */
export function loadAgentConfig(file?: string, platform: NodeJS.Platform = process.platform): AgentConfig {
  const config = defaultAgentConfig(platform);
  const chosen = file ?? defaultConfigPath(platform);
  if (chosen === undefined) return config;
  const problems = applyConfigFile(config, parseFile(chosen));
  if (problems.length === 0) problems.push(...crossCheck(config));
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `${chosen}: ${p}`));
  config.configFile = path.resolve(chosen);
  return config;
}

/**
 * Refuses to start on a config, token, TLS or rule file (or a directory above one) that
 * anyone but root could have written; the token and client key must also be private.
 */
export function verifyAgentFilesTrusted(config: AgentConfig, options: TrustOptions = {}): void {
  const problems: string[] = [];
  const attempt = (check: () => void) => {
    try {
      check();
    } catch (err) {
      if (err instanceof UntrustedFileError) problems.push(err.message);
      else throw err;
    }
  };
  const secret = { ...options, secret: true };
  if (config.configFile !== null) attempt(() => checkTrustedFile(config.configFile as string, options));
  const { tokenFile, tls } = config.delivery;
  if (tokenFile !== null) attempt(() => checkTrustedFile(tokenFile, secret));
  if (tls.keyFile !== null) attempt(() => checkTrustedFile(tls.keyFile as string, secret));
  for (const file of [tls.caFile, tls.certFile]) if (file !== null) attempt(() => checkTrustedFile(file, options));
  for (const rulePath of config.rules.paths) attempt(() => checkTrustedTree(rulePath, options));
  if (problems.length > 0) throw new ConfigError(problems);
}

/** The token (trimmed), or null when delivery has no token file. Never log the result. */
export function readDeliveryToken(config: AgentConfig): string | null {
  const file = config.delivery.tokenFile;
  if (file === null) return null;
  let token: string;
  try {
    token = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError([`${file}: cannot read the token (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  if (token.length === 0) throw new ConfigError([`${file}: the token file is empty`]);
  if (/\s/.test(token)) throw new ConfigError([`${file}: the token contains whitespace; expected one token`]);
  return token;
}
