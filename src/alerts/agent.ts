/** Who is raising the alerts (ECS agent.*) and where the events come from (ECS host.*), for this machine. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../model/package';
import type { HostInfo } from '../process/ecs';
import type { AgentInfo } from './types';

function readTrimmed(file: string): string | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  }
}

function packageVersion(): string {
  const text = readTrimmed(path.join(PACKAGE_ROOT, 'package.json'));
  const version = text === undefined ? undefined : (JSON.parse(text) as { version?: unknown }).version;
  return typeof version === 'string' ? version : '0.0.0';
}

/** systemd's machine id on Linux; macOS has none readable without IOKit, so the hostname stands in. */
function machineKey(): string {
  return readTrimmed('/etc/machine-id') ?? readTrimmed('/var/lib/dbus/machine-id') ?? os.hostname();
}

/** A UUID-shaped id derived from the machine, stable across restarts. */
function derivedId(namespace: string): string {
  const h = createHash('sha256').update(`${namespace}\x00${machineKey()}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function localAgentInfo(): AgentInfo {
  return { name: 'keysentry', version: packageVersion(), id: derivedId('keysentry-agent') };
}

export function localHostInfo(): HostInfo {
  return { hostname: os.hostname(), id: derivedId('keysentry-host'), osType: process.platform === 'darwin' ? 'macos' : process.platform };
}
