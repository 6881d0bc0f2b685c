/**
 * The agent's log paths: alerts.log and keysentry.log lines per second (redaction, ECS
 * formatting, synchronous rotating writes) against the same lines written with a bare
 * fs.writeSync in the same run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultAgentConfig } from '../src/config';
import { createLogger } from '../src/logging';
import { opsPerSecond, type BenchResult } from './harness';

const BATCH = 500;
const TOKEN = 'ks_live_4f9a0c1e7b2d8a6f3e5c';

function sampleAlert(i: number) {
  return {
    '@timestamp': new Date(1_760_000_000_000 + i).toISOString(),
    event: { kind: 'alert', category: ['process'], type: ['start'], action: 'exec', id: `evt-${i}` },
    host: { hostname: 'mac-042', os: { type: 'macos' } },
    process: {
      pid: 4000 + (i % 1000),
      entity_id: `4000-${i}`,
      executable: '/usr/bin/security',
      name: 'security',
      args: ['security', 'dump-keychain', '-d', '/Users/alice/Library/Keychains/login.keychain-db'],
      args_count: 4,
      command_line: 'security dump-keychain -d /Users/alice/Library/Keychains/login.keychain-db',
      parent: { pid: 3999, executable: '/bin/zsh', name: 'zsh' },
      code_signature: { exists: true, trusted: true, signing_id: 'com.apple.security', is_platform_binary: true },
    },
    rule: { id: 'credential_access_keychain', name: 'Access to Keychain Credentials Directories', severity: 'high' },
    threat: { technique: { id: 'T1555.001', name: 'Keychain' } },
    agent: { name: 'keysentry', version: '0.1.0', id: 'agent-1' },
  };
}

export async function run(): Promise<BenchResult[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keysentry-bench-daemon-'));
  const config = { log: { ...defaultAgentConfig().log, directory: dir, maxSizeBytes: 16 * 1024 * 1024, maxFiles: 2 } };
  const logger = createLogger(config, { secrets: [TOKEN] });
  const rawFd = fs.openSync(path.join(dir, 'raw.log'), 'a');
  let i = 0;
  try {
    const raw = opsPerSecond(() => {
      for (let n = 0; n < BATCH; n++) fs.writeSync(rawFd, `${JSON.stringify(sampleAlert(i++))}\n`);
      return BATCH;
    }, 1500);
    const alerts = opsPerSecond(() => {
      for (let n = 0; n < BATCH; n++) void logger.alerts.write(sampleAlert(i++));
      return BATCH;
    }, 1500);
    const agentLines = opsPerSecond(() => {
      for (let n = 0; n < BATCH; n++) logger.log.info('delivered batch', { delivery: { seq: i++, alerts: 12, bytes: 18_000 } });
      return BATCH;
    }, 1500);
    const rawAgentLines = opsPerSecond(() => {
      for (let n = 0; n < BATCH; n++) {
        const line = { '@timestamp': new Date().toISOString(), 'log.level': 'info', message: 'delivered batch', delivery: { seq: i++, alerts: 12, bytes: 18_000 } };
        fs.writeSync(rawFd, `${JSON.stringify(line)}\n`);
      }
      return BATCH;
    }, 1500);
    return [
      { name: 'daemon: alerts.log writes (redacted, rotating, sync)', value: alerts, unit: 'alerts/s', baseline: { name: 'JSON.stringify + fs.writeSync', value: raw } },
      { name: 'daemon: keysentry.log lines (winston, ECS, redacted)', value: agentLines, unit: 'lines/s', baseline: { name: 'JSON.stringify + fs.writeSync', value: rawAgentLines } },
    ];
  } finally {
    fs.closeSync(rawFd);
    await logger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
