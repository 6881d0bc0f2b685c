/** The agent's own activity filter: descendants learnt from the stream, reused pids released. */
import { strict as assert } from 'node:assert';
import type { ExecRecord, SourceRecord } from '../src/model/records';
import { OwnActivityFilter } from '../src/sources/own-activity';

const SELF = 1000;

function exec(pid: number, ppid: number): ExecRecord {
  return { kind: 'exec', timeNs: 1n, process: { pid, executable: '/bin/true' }, args: ['true'], argsComplete: true, parent: { pid: ppid } };
}

describe('own activity filter', () => {
  it('mutes the agent, its children and their children, and nothing else', () => {
    const f = new OwnActivityFilter(SELF, () => 42);
    assert.equal(f.isOwn(exec(SELF, 1)), true);
    assert.equal(f.isOwn(exec(2000, SELF)), true, 'a child the agent spawned');
    assert.equal(f.isOwn({ kind: 'fork', timeNs: 1n, child: { pid: 2001, executable: '' }, parent: { pid: 2000 } }), true);
    assert.equal(f.isOwn(exec(2001, 2000)), true, 'a grandchild');
    assert.equal(f.isOwn(exec(3000, 1)), false, 'an unrelated process');
    assert.equal(f.isOwn(exec(3001, 3000)), false);
    const exit: SourceRecord = { kind: 'exit', timeNs: 1n, process: { pid: 2001 } };
    assert.equal(f.isOwn(exit), true);
    assert.equal(f.isOwn(exec(2001, 1)), false, 'after its exit the pid is someone else');
  });

  it('releases a remembered pid whose start time changed (reused, no exit seen)', () => {
    const starts = new Map<number, number>([[2000, 100]]);
    const f = new OwnActivityFilter(SELF, (pid) => starts.get(pid));
    assert.equal(f.isOwn(exec(2000, SELF)), true);
    starts.set(2000, 555); // the kernel gave pid 2000 to a new process
    assert.equal(f.isOwn(exec(2000, 1)), false);
    assert.equal(f.isOwn(exec(2002, 2000)), false, "the new process's children are not ours");
  });

  it('does not mute forever a child already gone when it was learnt', () => {
    const f = new OwnActivityFilter(SELF, () => undefined);
    assert.equal(f.isOwn(exec(2000, SELF)), true);
    assert.equal(f.isOwn(exec(2000, 1)), false);
  });
});
