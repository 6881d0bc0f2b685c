/**
 * A capture of keychain theft among benign activity, as eslogger lines. samples/ ships it
 * (`node dist/test/support/keychain-scenario.js > samples/keychain-theft.eslogger.jsonl`).
 *
 * Three execs must alert (the Elastic keychain rule, with its parent exclusion); the others
 * must not. Two of them only come out right when the parent is the forker and not the
 * pre-exec image of the same pid:
 *  - pid 901: OpenVPN forks, the child execs `sh -c 'exec security ...'`; sh execs security.
 *    Pre-exec image sh, parent OpenVPN (excluded by the rule): no alert.
 *  - pid 950: zsh forks, the child execs the OpenVPN binary, which execs security.
 *    Pre-exec image OpenVPN, parent zsh: alert.
 */
import { ADHOC_CS, APPLE_CS, DEVELOPER_ID_CS, execLine, exitLine, forkLine, type ProcSpec, type TokenStyle } from './eslogger-builder';

export const TERMINAL = '/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal';
export const OPENVPN = '/Applications/OpenVPN Connect/OpenVPN Connect.app/Contents/MacOS/OpenVPN Connect';
export const STEALER = '/tmp/.hidden/stealer';

/** The execs that must alert: pid -> the parent executable the alert must name. */
export const EXPECTED_ALERTS: ReadonlyArray<{ pid: number; executable: string; parentExecutable: string }> = [
  { pid: 702, executable: '/usr/bin/security', parentExecutable: '/bin/zsh' },
  { pid: 704, executable: '/bin/cp', parentExecutable: STEALER },
  { pid: 950, executable: '/usr/bin/security', parentExecutable: '/bin/zsh' },
];
/** Execs in the capture that must not alert. */
export const BENIGN_EXEC_PIDS = [500, 600, 700, 701, 703, 900, 901, 951] as const;

export function keychainScenarioLines(style: TokenStyle = 'object'): string[] {
  const lines: string[] = [];
  let seq = 0;
  const env = (): { time: string; seq: number; style: TokenStyle } => {
    seq++;
    const ms = Date.UTC(2025, 7, 7, 13, 21, 0) + seq * 7;
    return { time: new Date(ms).toISOString().replace('Z', `${String(seq).padStart(6, '0')}Z`), seq, style };
  };
  const proc = (pid: number, pidversion: number, executable: string, parent: ProcSpec | undefined, extra: Partial<ProcSpec> = {}): ProcSpec => ({
    pid,
    pidversion,
    executable,
    ppid: parent?.pid ?? 1,
    parentPidversion: parent?.pidversion ?? 742,
    ...extra,
  });
  /** fork from `parent`, then exec `executable` in the child. */
  const spawn = (parent: ProcSpec, pid: number, pidversion: number, executable: string, args: string[], extra: Partial<ProcSpec> = {}): ProcSpec => {
    const child = proc(pid, pidversion, parent.executable, parent, { cs: parent.cs, uid: parent.uid });
    lines.push(forkLine(env(), parent, child));
    const after = proc(pid, pidversion + 1, executable, parent, extra);
    lines.push(execLine(env(), child, after, args, '/Users/alice'));
    return after;
  };
  const launchd: ProcSpec = { pid: 1, pidversion: 742, executable: '/sbin/launchd', ppid: 0, parentPidversion: 0, uid: 0 };

  const terminal = spawn(launchd, 500, 5000, TERMINAL, [TERMINAL]);
  const zsh = spawn(terminal, 600, 6000, '/bin/zsh', ['-zsh']);
  const ls = spawn(zsh, 700, 7000, '/bin/ls', ['ls', '-la']);
  lines.push(exitLine(env(), ls));
  const certs = spawn(zsh, 701, 7010, '/usr/bin/security', ['security', 'find-certificate', '-a', '/Library/Keychains/System.keychain']);
  lines.push(exitLine(env(), certs));
  const dump = spawn(zsh, 702, 7020, '/usr/bin/security', ['security', 'dump-keychain', '-d', '/Users/alice/Library/Keychains/login.keychain-db']);
  lines.push(exitLine(env(), dump));

  const stealer = spawn(zsh, 703, 7030, STEALER, [STEALER, '--quiet'], { cs: ADHOC_CS });
  const copy = spawn(stealer, 704, 7040, '/bin/cp', ['cp', '/Users/alice/Library/Keychains/login.keychain-db', '/tmp/.hidden/k'], { cs: APPLE_CS });
  lines.push(exitLine(env(), copy));

  const vpn = spawn(launchd, 900, 9000, OPENVPN, [OPENVPN], { cs: DEVELOPER_ID_CS, uid: 501 });
  const sh = spawn(vpn, 901, 9010, '/bin/sh', ['/bin/sh', '-c', 'exec security find-generic-password -s OpenVPN login.keychain']);
  const vpnLookup = proc(901, 9012, '/usr/bin/security', vpn);
  lines.push(execLine(env(), sh, vpnLookup, ['security', 'find-generic-password', '-s', 'OpenVPN', 'login.keychain']));
  lines.push(exitLine(env(), vpnLookup));

  const fakeVpn = spawn(zsh, 950, 9500, OPENVPN, [OPENVPN, '--helper'], { cs: ADHOC_CS });
  const theft = proc(950, 9502, '/usr/bin/security', zsh);
  lines.push(execLine(env(), fakeVpn, theft, ['security', 'find-generic-password', '-ga', 'Chrome', 'login.keychain']));
  const benignAfter = spawn(zsh, 951, 9510, '/usr/bin/sw_vers', ['sw_vers', '-productVersion']);
  lines.push(exitLine(env(), benignAfter));
  return lines;
}

if (require.main === module) process.stdout.write(keychainScenarioLines().join('\n') + '\n');
