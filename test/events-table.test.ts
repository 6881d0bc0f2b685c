/** The process table: parent resolution, the pre-exec trap, ended-image grace, caps. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExecRecord, ForkRecord, ProcessImage, SourceRecord } from '../src/model/records';
import { toEcsEvent } from '../src/process/ecs';
import { ProcessTable } from '../src/process/table';
import { parseEsloggerLine } from '../src/sources/eslogger';
import { FIXTURES_DIR } from './support/paths';

const S = 1_000_000_000n;
const img = (pid: number, executable: string, pidversion?: number): ProcessImage => ({ pid, executable, ...(pidversion === undefined ? {} : { pidversion }) });
const exec = (t: bigint, after: ProcessImage, parent: { pid: number; pidversion?: number } | undefined, args: string[], preExec?: ProcessImage): ExecRecord => ({
  kind: 'exec',
  timeNs: t,
  process: after,
  args,
  argsComplete: true,
  ...(parent === undefined ? {} : { parent }),
  ...(preExec === undefined ? {} : { preExec }),
});
const fork = (t: bigint, child: ProcessImage, parent: { pid: number; pidversion?: number }): ForkRecord => ({ kind: 'fork', timeNs: t, child, parent });

function realRecord(name: string): SourceRecord {
  const item = parseEsloggerLine(fs.readFileSync(path.join(FIXTURES_DIR, 'eslogger', name), 'utf8').trimEnd(), name);
  if (item.kind !== 'record') assert.fail(`${name}: ${JSON.stringify(item)}`);
  return item.record;
}

describe('events: process table', () => {
  it('resolves the real xpcproxy line to its seeded parent launchd, not to the pre-exec xpcproxy', () => {
    const table = new ProcessTable({ hostId: 'h' });
    table.seed([{ kind: 'seed', timeNs: 1n, process: img(1, '/sbin/launchd', 742), args: ['/sbin/launchd'] }]);
    const record = realRecord('v11-macos27beta-exec.json') as ExecRecord;
    assert.equal(record.preExec?.executable, '/usr/libexec/xpcproxy');
    const res = table.apply(record);
    assert.equal(res.parent?.executable, '/sbin/launchd');
    const ev = toEcsEvent(record, res, { osType: 'macos' });
    assert.equal(ev.process.parent?.executable, '/sbin/launchd');
    assert.equal(ev.process.parent?.name, 'launchd');
    assert.deepEqual(ev.process.parent?.args, ['/sbin/launchd']);
    // The pre-exec image is kept as what pid 11085 was, for late lookups by its old token.
    assert.equal(table.lookup({ pid: 11085, pidversion: 25188 })?.executable, '/usr/libexec/xpcproxy');
    assert.equal(table.lookup({ pid: 11085, pidversion: 25189 })?.executable, record.process.executable);
    assert.equal(table.lookup({ pid: 11085 })?.pidversion, 25189, 'a pid-only ref gets the newest image');
  });

  it('a forked child runs its parent image and argv until it execs', () => {
    const table = new ProcessTable({ hostId: 'h' });
    table.apply(exec(1n, img(10, '/bin/zsh', 2), { pid: 1, pidversion: 1 }, ['-zsh']));
    table.apply(fork(2n, img(11, '/bin/zsh', 5), { pid: 10, pidversion: 2 }));
    const child = table.lookup({ pid: 11, pidversion: 5 });
    assert.equal(child?.executable, '/bin/zsh');
    assert.deepEqual(child?.args, ['-zsh']);
    // `sh -c 'exec x'` style: 11 execs twice; the parent of both images is 10, the forker.
    const r1 = table.apply(exec(3n, img(11, '/bin/sh', 6), { pid: 10, pidversion: 2 }, ['sh', '-c', 'exec id'], img(11, '/bin/zsh', 5)));
    const r2 = table.apply(exec(4n, img(11, '/usr/bin/id', 7), { pid: 10, pidversion: 2 }, ['id'], img(11, '/bin/sh', 6)));
    assert.equal(r1.parent?.executable, '/bin/zsh');
    assert.equal(r2.parent?.executable, '/bin/zsh');
    assert.notEqual(r1.process.entityId, r2.process.entityId);
    assert.equal(r2.parent?.entityId, table.lookup({ pid: 10, pidversion: 2 })?.entityId);
  });

  it('without pidversions (Linux) keys by pid: exec replaces the image, the ppid resolves', () => {
    const table = new ProcessTable({ hostId: 'linux' });
    table.seed([{ kind: 'seed', timeNs: 0n, process: img(100, '/usr/bin/bash'), args: ['bash'], parent: { pid: 1 } }]);
    table.apply(fork(1n, img(200, '/usr/bin/bash'), { pid: 100 }));
    const res = table.apply(exec(2n, img(200, '/usr/bin/cat'), { pid: 100 }, ['cat', 'x'], img(200, '/usr/bin/bash')));
    assert.equal(res.parent?.executable, '/usr/bin/bash');
    assert.equal(table.lookup({ pid: 200 })?.executable, '/usr/bin/cat');
    assert.equal(table.stats().entries, 2);
  });

  it('a ref with a pidversion never resolves to another generation of the pid (it would lie)', () => {
    const table = new ProcessTable({ hostId: 'h' });
    table.apply(exec(1n, img(10, '/bin/new', 3), { pid: 1 }, ['new'], img(10, '/bin/old', 2)));
    assert.equal(table.lookup({ pid: 10, pidversion: 2 })?.executable, '/bin/old');
    assert.equal(table.lookup({ pid: 10, pidversion: 1 }), undefined);
    // A generation-less seed (a source without pidversions) is the one allowed fallback.
    table.seed([{ kind: 'seed', timeNs: 1n, process: img(20, '/bin/seeded') }]);
    assert.equal(table.lookup({ pid: 20, pidversion: 99 })?.executable, '/bin/seeded');
  });

  it('falls back to the source-given parent executable when the table has no entry', () => {
    const table = new ProcessTable({ hostId: 'h' });
    const record: ExecRecord = { ...exec(1n, img(5, '/bin/ls'), { pid: 4 }, ['ls']), parentExecutable: '/usr/bin/fish' };
    const ev = toEcsEvent(record, table.apply(record), { osType: 'linux' });
    assert.deepEqual(ev.process.parent, { pid: 4, executable: '/usr/bin/fish', name: 'fish' });
    assert.equal(table.stats().parentMisses, 1);
  });

  it('an exec the source saw only in part says so in keysentry.capture (and nothing when it saw it all)', () => {
    const table = new ProcessTable({ hostId: 'h' });
    const whole = exec(1n, img(40, '/bin/cat'), { pid: 1 }, ['cat', '/etc/hosts']);
    assert.equal(toEcsEvent(whole, table.apply(whole), { osType: 'linux' }).keysentry, undefined);
    const cases: Array<[Partial<ExecRecord>, object]> = [
      [{ argsComplete: false }, { args_complete: false }],
      [{ pathsComplete: false }, { paths_complete: false }],
      [{ argsComplete: false, pathsComplete: false }, { args_complete: false, paths_complete: false }],
    ];
    for (const [gap, expected] of cases) {
      const record: ExecRecord = { ...exec(2n, img(41, '/bin/cat'), { pid: 1 }, ['cat']), ...gap };
      assert.deepEqual(toEcsEvent(record, table.apply(record), { osType: 'linux' }).keysentry, { capture: expected }, JSON.stringify(gap));
    }
  });

  it('a parent known only from a fork without a path gets no empty executable', () => {
    const table = new ProcessTable({ hostId: 'h' });
    table.apply(fork(1n, img(30, ''), { pid: 29 }));
    const bare = exec(2n, img(31, '/bin/ls'), { pid: 30 }, ['ls']);
    assert.deepEqual(toEcsEvent(bare, table.apply(bare), { osType: 'linux' }).process.parent, { pid: 30, entity_id: table.lookup({ pid: 30 })?.entityId });
    const seen: ExecRecord = { ...exec(3n, img(32, '/bin/ls'), { pid: 30 }, ['ls']), parentExecutable: '/usr/bin/make' };
    assert.equal(toEcsEvent(seen, table.apply(seen), { osType: 'linux' }).process.parent?.executable, '/usr/bin/make');
  });

  it('keeps an exited image for the grace period (late lookups), then drops it', () => {
    const table = new ProcessTable({ hostId: 'h', endedGraceNs: 10n * S });
    table.apply(exec(1n * S, img(10, '/bin/parent', 2), { pid: 1 }, ['parent']));
    table.apply(fork(2n * S, img(11, '/bin/parent', 3), { pid: 10, pidversion: 2 }));
    table.apply({ kind: 'exit', timeNs: 3n * S, process: { pid: 10, pidversion: 2 } });
    // The child execs after its parent exited: still resolved.
    const late = table.apply(exec(8n * S, img(11, '/bin/child', 4), { pid: 10, pidversion: 2 }, ['child'], img(11, '/bin/parent', 3)));
    assert.equal(late.parent?.executable, '/bin/parent');
    assert.equal(table.stats().ended, 2);
    table.apply({ kind: 'exit', timeNs: 20n * S, process: { pid: 11, pidversion: 4 } });
    assert.equal(table.lookup({ pid: 10, pidversion: 2 }), undefined);
    const stats = table.stats();
    assert.equal(stats.expired, 2);
    assert.equal(stats.entries, 1);
    assert.equal(stats.ended, 1);
  });

  it('is capped by entries and bytes, evicting ended images first and counting every eviction', () => {
    const table = new ProcessTable({ hostId: 'h', maxEntries: 100 });
    table.apply(exec(1n, img(1, '/sbin/launchd', 1), undefined, ['launchd']));
    for (let pid = 2; pid < 1000; pid++) {
      table.apply(exec(BigInt(pid), img(pid, '/bin/x', 1), { pid: 1, pidversion: 1 }, ['x']));
      if (pid % 2 === 0) table.apply({ kind: 'exit', timeNs: BigInt(pid), process: { pid, pidversion: 1 } });
    }
    const stats = table.stats();
    assert.equal(stats.entries, 100);
    assert.equal(stats.evicted, 899); // 999 images into 100 slots
    // Ended entries went first: the running ones (odd pids) survive, the oldest of them last.
    assert.equal(table.lookup({ pid: 999, pidversion: 1 })?.executable, '/bin/x');
    assert.equal(table.lookup({ pid: 998, pidversion: 1 }), undefined);

    const bytes = new ProcessTable({ hostId: 'h', maxBytes: 1_000_000 });
    const big = 'A'.repeat(100_000);
    for (let pid = 2; pid < 100; pid++) bytes.apply(exec(BigInt(pid), img(pid, '/bin/x', 1), { pid: 1 }, ['x', big]));
    assert.ok(bytes.stats().bytes <= 1_000_000);
    assert.ok(bytes.stats().evicted >= 88, String(bytes.stats().evicted));
    assert.equal(bytes.lookup({ pid: 99, pidversion: 1 })?.args?.[1], big);
  });

  it('the image a message shows (forker, exiting process) is learnt when unknown and never overrides what the table knows (QA D6)', () => {
    const table = new ProcessTable({ hostId: 'h' });
    // A forker the table never saw: its image comes with the fork.
    table.apply({ ...fork(1n, img(20, '', 2), { pid: 10, pidversion: 1 }), parentImage: img(10, '/Applications/App', 1) });
    assert.equal(table.lookup({ pid: 20, pidversion: 2 })?.executable, '/Applications/App', 'the child runs the forker image');
    assert.equal(table.apply(exec(2n, img(20, '/bin/sh', 3), { pid: 10, pidversion: 1 }, ['sh'], img(20, '', 2))).parent?.executable, '/Applications/App');
    // A known process: its own exec (argv, start time) stays, whatever a later message shows.
    const known = table.apply(exec(3n, img(30, '/usr/bin/real', 5), { pid: 1 }, ['real', '-x'])).process;
    table.apply({ ...fork(4n, img(31, '/usr/bin/real', 6), { pid: 30, pidversion: 5 }), parentImage: img(30, '/stale', 5) });
    assert.equal(table.lookup({ pid: 30, pidversion: 5 }), known);
    // An exiting process the table never saw stays resolvable for a child's late exec.
    table.apply({ kind: 'exit', timeNs: 5n, process: img(40, '/usr/libexec/daemon', 4) });
    assert.equal(table.apply(exec(6n, img(41, '/bin/ls', 9), { pid: 40, pidversion: 4 }, ['ls'])).parent?.executable, '/usr/libexec/daemon');
    assert.equal(table.lookup({ pid: 40, pidversion: 4 })?.endedNs, 5n);
  });

  it('entity_id is stable for the same (host, pid, pidversion, start) and differs across hosts', () => {
    const a = new ProcessTable({ hostId: 'host-a' });
    const b = new ProcessTable({ hostId: 'host-a' });
    const c = new ProcessTable({ hostId: 'host-b' });
    const r = exec(5n, img(42, '/bin/x', 7), { pid: 1 }, ['x']);
    const ids = [a, b, c].map((t) => t.apply(r).process.entityId);
    assert.equal(ids[0], ids[1]);
    assert.notEqual(ids[0], ids[2]);
    assert.notEqual(a.apply(exec(6n, img(42, '/bin/x', 8), { pid: 1 }, ['x'])).process.entityId, ids[0]);
  });
});
