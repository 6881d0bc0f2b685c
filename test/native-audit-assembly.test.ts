/**
 * The audit backend's record assembler (native/linux/audit_parse.cc) on record sequences that
 * a live test cannot order at will: when an exec is whole (its CWD: the socket filter leaves its
 * EOE in the kernel), interleaved events, another rule's events, an exec whose CWD, EOE or
 * SYSCALL never came. The production source is compiled with a small driver
 * (test/support/audit_assemble.cc) under AddressSanitizer and UndefinedBehaviorSanitizer.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './support/paths';

const SYSCALL = 1300;
const CWD = 1307;
const EXECVE = 1309;
const EOE = 1320;

interface Completed {
  line: number;
  serial: number;
  pid: number;
  ppid: number;
  uid: number;
  exe: string;
  hasCwd: boolean;
  cwd: string;
  args: string[];
  argsComplete: boolean;
}

interface Outcome {
  execs: Completed[];
  idle: boolean;
  discarded: number;
  /** Serials the assembler keeps for expiry. */
  tracked: number;
}

const stamp = (serial: number): string => `audit(1796318171.250:${serial}):`;
const execSyscall = (serial: number, pid: number, success = 'yes'): string =>
  `${SYSCALL} ${stamp(serial)} arch=c000003e syscall=59 success=${success} exit=0 a0=55d0 a1=55d1 a2=55d2 a3=8 items=2 ppid=${pid - 1} pid=${pid} auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="true" exe="/usr/bin/true" key="keysentry-1-1"`;
const otherSyscall = (serial: number, syscall: number): string =>
  `${SYSCALL} ${stamp(serial)} arch=c000003e syscall=${syscall} success=yes exit=3 a0=ffffff9c a1=7ffd a2=0 a3=0 items=1 ppid=1 pid=77 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4 comm="cat" exe="/usr/bin/cat" key="watch"`;
const execve = (serial: number, body: string): string => `${EXECVE} ${stamp(serial)} ${body}`;
const cwd = (serial: number, dir: string): string => `${CWD} ${stamp(serial)} cwd="${dir}"`;
const eoe = (serial: number): string => `${EOE} ${stamp(serial)} `;

describe('audit record assembly (the production parser, compiled with a driver)', function () {
  this.timeout(120_000);
  let dir: string;
  let driver: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-assemble-'));
    driver = path.join(dir, 'assemble');
    const cc = spawnSync(
      'c++',
      [
        '-std=c++17', '-O1', '-g', '-fno-omit-frame-pointer', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-Wall', '-Wextra', '-Werror',
        '-I', path.join(REPO_ROOT, 'native', 'linux'),
        path.join(REPO_ROOT, 'native', 'linux', 'audit_parse.cc'),
        path.join(REPO_ROOT, 'test', 'support', 'audit_assemble.cc'),
        '-o', driver,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(cc.status, 0, `the driver did not build: ${cc.stderr}`);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function assemble(records: string[]): Outcome {
    const run = spawnSync(driver, [], { input: records.join('\n') + '\n', encoding: 'utf8' });
    assert.equal(run.status, 0, `driver failed: ${run.stderr}`);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const last = lines.pop() as { idle: boolean; discarded: number; tracked: number };
    return { execs: lines as unknown as Completed[], idle: last.idle, discarded: last.discarded, tracked: last.tracked };
  }

  it('an exec is whole at its CWD: it completes there, with every field, and its EOE adds nothing', () => {
    const out = assemble([execSyscall(10, 200), execve(10, 'argc=2 a0="/bin/true" a1="ks-assembly"'), cwd(10, '/tmp/ks'), eoe(10)]);
    assert.equal(out.execs.length, 1);
    const [e] = out.execs;
    assert.deepEqual(
      { line: e.line, serial: e.serial, pid: e.pid, ppid: e.ppid, uid: e.uid, exe: e.exe, hasCwd: e.hasCwd, cwd: e.cwd, args: e.args, argsComplete: e.argsComplete },
      { line: 2, serial: 10, pid: 200, ppid: 199, uid: 0, exe: '/usr/bin/true', hasCwd: true, cwd: '/tmp/ks', args: ['/bin/true', 'ks-assembly'], argsComplete: true },
    );
    assert.ok(out.idle, 'nothing left pending');
    assert.equal(out.discarded, 0);
  });

  it('an argv over several EXECVE records (a long argument in chunks) is whole at the CWD that follows them', () => {
    const out = assemble([
      execSyscall(11, 300),
      execve(11, 'argc=3 a0="/bin/echo" a1_len=12'),
      execve(11, 'a1[0]="abcdef"'),
      execve(11, 'a1[1]=676869404142'),
      execve(11, 'a2="last"'),
      cwd(11, '/'),
    ]);
    assert.deepEqual(out.execs.map((e) => [e.line, e.args, e.argsComplete]), [[5, ['/bin/echo', 'abcdefghi@AB', 'last'], true]]);
  });

  it("interleaved execs each complete at their own CWD; another rule's events yield nothing and leave nothing pending", () => {
    const out = assemble([
      execSyscall(20, 400),
      otherSyscall(21, 257), // openat, with a CWD record
      otherSyscall(22, 62), // kill: no CWD record, and its EOE stays in the kernel
      execSyscall(23, 500),
      execve(20, 'argc=1 a0="first"'),
      execve(23, 'argc=1 a0="second"'),
      cwd(21, '/var'),
      cwd(23, '/home/b'),
      cwd(20, '/home/a'),
    ]);
    assert.deepEqual(out.execs.map((e) => [e.line, e.serial, e.pid, e.cwd, e.args]), [
      [7, 23, 500, '/home/b', ['second']],
      [8, 20, 400, '/home/a', ['first']],
    ]);
    assert.ok(out.idle, 'no event of another rule waits for an EOE that never comes');
    assert.equal(out.discarded, 0);
  });

  it('a failed exec (an older rule without success=1) yields nothing', () => {
    const out = assemble([execSyscall(30, 600, 'no'), execve(30, 'argc=1 a0="x"'), cwd(30, '/'), eoe(30)]);
    assert.deepEqual(out.execs, []);
    assert.ok(out.idle);
  });

  it('without a CWD record, an exec completes at its EOE (a kernel that refused the socket filter sends it)', () => {
    const out = assemble([execSyscall(40, 700), execve(40, 'argc=1 a0="/bin/true"'), eoe(40)]);
    assert.deepEqual(out.execs.map((e) => [e.line, e.hasCwd, e.args]), [[2, false, ['/bin/true']]]);
    assert.ok(out.idle);
  });

  it('an exec whose CWD and EOE were lost is still reported at expiry, and not counted lost', () => {
    const out = assemble([execSyscall(50, 800), execve(50, 'argc=1 a0="/bin/true"'), 'expire']);
    assert.deepEqual(out.execs.map((e) => [e.line, e.pid, e.hasCwd]), [[2, 800, false]]);
    assert.equal(out.discarded, 0);
    assert.ok(out.idle);
  });

  it('keeps no serial of what it finished: 5,000 execs one after another (and other rules\' events between) leave nothing tracked', () => {
    const records: string[] = [];
    for (let i = 0; i < 5_000; i++) {
      const serial = 1_000 + 2 * i;
      records.push(execSyscall(serial, 400 + (i % 1000)), execve(serial, 'argc=1 a0="/bin/true"'), cwd(serial, '/'));
      records.push(otherSyscall(serial + 1, 257), cwd(serial + 1, '/'));
    }
    const out = assemble(records);
    assert.equal(out.execs.length, 5_000);
    assert.ok(out.idle);
    // Before the fix, each exec left its serial on the expiry list for good: 5,000 here.
    assert.equal(out.tracked, 0);
  });

  it('an exec whose SYSCALL was lost yields nothing and leaves nothing pending', () => {
    const out = assemble([execve(60, 'argc=1 a0="/bin/true"'), cwd(60, '/')]);
    assert.deepEqual(out.execs, []);
    assert.ok(out.idle);
  });
});
