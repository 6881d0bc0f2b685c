/**
 * The real eslogger lines through the real `keysentry replay --events`: every ECS field is
 * checked against the line it came from, parents included.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { APPLE_CS, DEVELOPER_ID_CS, esProcess, execLine, forkLine, type ProcSpec } from './support/eslogger-builder';
import { FIXTURES_DIR } from './support/paths';
import { alertsOf, eventsOf, runKeysentry, tempDir, writeLines } from './support/replay-cli';
import { OPENVPN } from './support/keychain-scenario';

const ESLOGGER_DIR = path.join(FIXTURES_DIR, 'eslogger');
const fixtureText = (name: string): string => fs.readFileSync(path.join(ESLOGGER_DIR, name), 'utf8').trimEnd();
const fixture = (name: string): Record<string, any> => JSON.parse(fixtureText(name)) as Record<string, any>;
const tokenPid = (t: any): number => (Array.isArray(t) ? t[5] : t.pid);
const tokenPidversion = (t: any): number => (Array.isArray(t) ? t[7] : t.pidversion);
/** "2025-08-07T13:21:35.880814738Z" -> ns since the epoch, as a decimal string. */
const timeNs = (iso: string): string => {
  const [whole, frac] = iso.replace('Z', '').split('.') as [string, string];
  return (BigInt(Date.parse(`${whole}Z`)) * 1_000_000n + BigInt(frac.padEnd(9, '0'))).toString();
};
const ENTITY_ID = /^[0-9a-f]{12}-\d+-\d*-\d*$/;

/** The fields every exec event takes from the line, whatever its parent. */
function assertExecFields(ev: Record<string, any>, line: Record<string, any>): void {
  const exec = line.event.exec;
  const target = exec.target;
  assert.equal(ev['@timestamp'], line.time);
  assert.deepEqual(ev.event.category, ['process']);
  assert.deepEqual(ev.event.type, ['start']);
  assert.equal(ev.event.kind, 'event');
  assert.equal(ev.event.action, 'exec');
  assert.equal(ev.event.sequence, line.global_seq_num);
  assert.equal(ev.event.id, `${ev.process.entity_id}.${line.global_seq_num}`);
  assert.equal(ev.host.os.type, 'macos');
  assert.equal(ev.process.pid, tokenPid(target.audit_token));
  // <host tag>-<pid>-<pidversion>-<exec time ns>
  assert.match(ev.process.entity_id, ENTITY_ID);
  assert.equal(ev.process.entity_id.slice(13), `${tokenPid(target.audit_token)}-${tokenPidversion(target.audit_token)}-${timeNs(line.time)}`);
  assert.equal(ev.process.executable, target.executable.path);
  assert.equal(ev.process.name, path.posix.basename(target.executable.path));
  assert.deepEqual(ev.process.args, exec.args);
  assert.equal(ev.process.args_count, exec.args.length);
  assert.equal(ev.process.command_line, exec.args.join(' '));
  assert.equal(ev.process.working_directory, exec.cwd.path);
  assert.equal(ev.process.code_signature.signing_id, target.signing_id);
  assert.equal(ev.process.code_signature.team_id, target.team_id ?? undefined);
  assert.equal(ev.process.code_signature.is_platform_binary, target.is_platform_binary);
  assert.equal(ev.process.parent.pid, tokenPid(target.parent_audit_token));
  assert.equal(ev.process.Ext.effective_parent.pid, tokenPid(target.responsible_audit_token));
  assert.equal(ev.user.id, String(Array.isArray(target.audit_token) ? target.audit_token[3] : target.audit_token.ruid));
  assert.equal(ev.user.effective.id, String(Array.isArray(target.audit_token) ? target.audit_token[1] : target.audit_token.euid));
  assert.notEqual(ev.process.parent.executable, line.process.executable.path, 'the pre-exec image is not the parent');
}

describe('events: real eslogger lines -> ECS process events (keysentry replay --events)', () => {
  const dir = tempDir('keysentry-events-');

  it('v9 exec (macOS 15): every field, parent from the forker chain, pre-exec /bin/nu is not the parent', async () => {
    const line = fixture('v9-macos15-exec.json');
    const target = line.event.exec.target;
    // What happened before the real line: the shell 58916 exec'd zsh, forked 97391, which exec'd nu.
    const shell: ProcSpec = { pid: 58916, pidversion: 87724, executable: '/bin/zsh', ppid: 1, parentPidversion: 742, cs: APPLE_CS };
    const shellBefore: ProcSpec = { ...shell, pidversion: 87723, executable: '/usr/bin/login' };
    const forked: ProcSpec = { pid: 97391, pidversion: 149090, executable: '/bin/zsh', ppid: 58916, parentPidversion: 87724 };
    const nu: ProcSpec = { ...forked, pidversion: 149091, executable: '/bin/nu' };
    const t = (s: number): { time: string; seq: number } => ({ time: `2025-08-07T13:21:3${s}.000000000Z`, seq: 70 + s });
    const file = writeLines(dir, 'v9.json', [
      execLine(t(1), shellBefore, shell, ['-zsh']),
      forkLine(t(2), shell, forked),
      execLine(t(3), forked, nu, ['nu']),
      fixtureText('v9-macos15-exec.json'),
    ]);
    const run = await runKeysentry(['replay', file, '--events']);
    assert.equal(run.status, 0, run.stderr);
    const events = eventsOf(run);
    assert.equal(events.length, 3);
    const [zshEvent, , ev] = events as [Record<string, any>, Record<string, any>, Record<string, any>];
    assertExecFields(ev, line);
    // nu is linker-signed ad hoc (CS_ADHOC | CS_LINKER_SIGNED): signed, not trusted.
    assert.deepEqual(ev.process.code_signature, { exists: true, trusted: false, signing_id: target.signing_id, is_platform_binary: false });
    assert.deepEqual(ev.process.parent, {
      pid: 58916,
      entity_id: zshEvent.process.entity_id,
      executable: '/bin/zsh',
      name: 'zsh',
      args: ['-zsh'],
      args_count: 1,
      command_line: '-zsh',
      code_signature: { exists: true, trusted: true, signing_id: 'com.apple.generic', is_platform_binary: true },
    });
    // The responsible process (938) was never seen: its pid only.
    assert.deepEqual(ev.process.Ext, { effective_parent: { pid: 938 } });
    assert.equal(ev.user.name, undefined);
    assert.notEqual(ev.process.entity_id, events[1]?.process.entity_id, 'a new image gets a new entity_id');
  });

  it('v11 exec (macOS 27 beta): xpcproxy execs the daemon, the parent is launchd (pid 1), never xpcproxy', async () => {
    const line = fixture('v11-macos27beta-exec.json');
    const before = line.process;
    // launchd forked 11085 (running launchd's image) and the child exec'd xpcproxy.
    const fork: ProcSpec = { pid: 11085, pidversion: 25187, executable: '/sbin/launchd', ppid: 1, parentPidversion: 742, uid: 0 };
    const xpcproxy: ProcSpec = { ...fork, pidversion: tokenPidversion(before.audit_token), executable: before.executable.path };
    const launchd: ProcSpec = { pid: 1, pidversion: 742, executable: '/sbin/launchd', ppid: 0, parentPidversion: 0, uid: 0 };
    const file = writeLines(dir, 'v11.json', [
      forkLine({ time: '2026-08-04T11:38:25.815739000Z', seq: 14 }, launchd, fork),
      execLine({ time: '2026-08-04T11:38:25.816000000Z', seq: 15 }, fork, xpcproxy, ['xpcproxy', 'com.apple.localizationswitcherd']),
      fixtureText('v11-macos27beta-exec.json'),
    ]);
    const run = await runKeysentry(['replay', file, '--events']);
    assert.equal(run.status, 0, run.stderr);
    const ev = eventsOf(run)[1] as Record<string, any>;
    assertExecFields(ev, line);
    assert.deepEqual(ev.process.code_signature, {
      exists: true,
      trusted: true,
      signing_id: 'com.apple.localizationswitcherd',
      is_platform_binary: true,
    });
    // launchd's own start is not in this capture, but its image is: it is the `process` of the
    // fork message (the forker), so the parent is launchd with its path, its start unknown.
    assert.equal(ev.process.parent.pid, 1);
    assert.equal(ev.process.parent.executable, '/sbin/launchd');
    assert.equal(ev.process.parent.entity_id, `${ev.process.entity_id.slice(0, 12)}-1-742-`, 'start unknown');
    // The daemon is its own responsible process.
    assert.deepEqual(ev.process.Ext.effective_parent, {
      pid: 11085,
      entity_id: ev.process.entity_id,
      executable: line.event.exec.target.executable.path,
      name: 'localizationswitcherd',
    });
  });

  it('v10 fork (macOS 26, audit tokens as arrays) feeds the table: the child exec gets the forker as parent', async () => {
    const line = fixture('v10-macos26-fork.json');
    const child = line.event.fork.child;
    const app = line.process.executable.path;
    const appSpec: ProcSpec = {
      pid: 19745,
      pidversion: 35165,
      executable: app,
      ppid: 1,
      parentPidversion: 1029,
      cs: { flags: line.process.codesigning_flags, signingId: line.process.signing_id, teamId: line.process.team_id, platform: false },
    };
    const childBefore: ProcSpec = { pid: 21497, pidversion: tokenPidversion(child.audit_token), executable: app, ppid: 19745, parentPidversion: 35165 };
    const childAfter: ProcSpec = { ...childBefore, pidversion: childBefore.pidversion + 1, executable: '/bin/sh' };
    const style = { style: 'array' as const, version: 10 };
    const file = writeLines(dir, 'v10.json', [
      execLine({ time: '2025-07-22T15:05:14.076236000Z', seq: 0, ...style }, { ...appSpec, pidversion: 35164, executable: '/sbin/launchd' }, appSpec, [app]),
      fixtureText('v10-macos26-fork.json'),
      execLine({ time: '2025-07-22T15:09:01.100000000Z', seq: 2, ...style }, childBefore, childAfter, ['/bin/sh', '-c', 'true']),
    ]);
    const run = await runKeysentry(['replay', file, '--events']);
    assert.equal(run.status, 0, run.stderr);
    const [appEvent, shEvent] = eventsOf(run) as [Record<string, any>, Record<string, any>];
    assert.equal(appEvent.process.code_signature.team_id, 'CKG9MXH72F');
    assert.equal(shEvent.process.pid, 21497);
    assert.deepEqual(shEvent.process.parent, {
      pid: 19745,
      entity_id: appEvent.process.entity_id,
      executable: app,
      name: 'Mullvad VPN',
      args: [app],
      args_count: 1,
      command_line: app,
      code_signature: { exists: true, trusted: true, signing_id: 'net.mullvad.vpn', team_id: 'CKG9MXH72F', is_platform_binary: false },
    });
    assert.match(run.stderr, /3 records/);
  });

  it('a fork by a process that predates the capture gives the table its image: the vendor exclusions apply (QA D6)', async () => {
    // /tmp/qa/repro/precapture-openvpn.jsonl: OpenVPN Connect (pid 700) was running before
    // eslogger started; its only trace is as the forker (`process`) of its child's FORK.
    const vpn: ProcSpec = { pid: 700, pidversion: 70, executable: OPENVPN, ppid: 1, parentPidversion: 10, uid: 501, cs: { ...DEVELOPER_ID_CS, signingId: 'x', teamId: 'ACV7L3WCD8' } };
    const child: ProcSpec = { pid: 710, pidversion: 71, executable: OPENVPN, ppid: 700, parentPidversion: 70, uid: 501, cs: vpn.cs };
    const security: ProcSpec = { ...child, pidversion: 72, executable: '/usr/bin/security', cs: APPLE_CS };
    const file = writeLines(dir, 'precapture.json', [
      forkLine({ time: '2025-08-07T13:21:35.001000000Z', seq: 1 }, vpn, child),
      execLine({ time: '2025-08-07T13:21:35.002000000Z', seq: 2 }, child, security, ['security', 'find-generic-password', '-s', 'OpenVPN', '/Users/alice/Library/Keychains/login.keychain-db']),
    ]);
    const run = await runKeysentry(['replay', file, '--events']);
    assert.equal(run.status, 0, run.stderr);
    const [ev] = eventsOf(run) as [Record<string, any>];
    assert.equal(ev.process.parent.executable, OPENVPN);
    assert.equal(ev.process.parent.code_signature.team_id, 'ACV7L3WCD8');
    assert.equal(ev.process.parent.code_signature.trusted, true);
    assert.equal(ev.process.parent.entity_id, `${ev.process.entity_id.slice(0, 12)}-700-70-`, 'start unknown');
    assert.deepEqual(alertsOf(run), [], 'stock rule and pack both exclude the real OpenVPN');
  });

  it('v9 exit is read as a record (no event) and every real line parses without a rejection', async () => {
    const names = fs.readdirSync(ESLOGGER_DIR).filter((n) => n.endsWith('.json'));
    assert.equal(names.length, 4);
    const file = writeLines(dir, 'all.json', names.map(fixtureText));
    const run = await runKeysentry(['replay', file, '--events']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(eventsOf(run).length, 2);
    assert.match(run.stderr, /\(eslogger\): 2 events, 4 records, 0 alerts, 0 rejected/);
  });

  it('the builder writes the same keys as the real lines (so scenario captures are faithful)', () => {
    const real = fixture('v9-macos15-exec.json');
    const built = JSON.parse(execLine({ time: real.time, seq: 1 }, { pid: 1, pidversion: 1, executable: '/a', ppid: 1, parentPidversion: 1 }, { pid: 1, pidversion: 2, executable: '/b', ppid: 1, parentPidversion: 1 }, ['b'])) as Record<string, any>;
    const keys = (o: Record<string, unknown>): string[] => Object.keys(o).sort();
    assert.deepEqual(keys(built), keys(real));
    assert.deepEqual(keys(built.event.exec), keys(real.event.exec));
    assert.deepEqual(keys(built.process), keys(real.process));
    const builtTarget = esProcess({ pid: 1, pidversion: 1, executable: '/x', ppid: 1, parentPidversion: 1 }) as Record<string, any>;
    assert.deepEqual(keys(builtTarget), keys(real.event.exec.target));
    assert.deepEqual(keys(builtTarget.executable.stat), keys(real.event.exec.target.executable.stat));
  });
});
