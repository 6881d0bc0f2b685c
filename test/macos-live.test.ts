/**
 * `--source es|eslogger|auto` on macOS (src/sources/mac-live.ts): the fallback decision, and
 * the start-up scan turned into seed records, ahead of the live stream.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import type { SeedRecord } from '../src/model/records';
import { EsloggerLiveSource } from '../src/sources/eslogger-live';
import { SeededSource } from '../src/sources/live';
import { ES_NOT_ENTITLED, openMacLiveSource, seedRecordsOf, type MacSourceDeps } from '../src/sources/mac-live';
import { BackendError } from '../src/sources/native';
import type { EventSource } from '../src/sources/types';
import { loadEsTestAddon } from './support/es-messages';
import { collect, fakeEsloggerDir, fakeRun, fixtureLines } from './support/fake-eslogger';

function refusingEs(code: string): MacSourceDeps['openEs'] {
  return () => {
    throw new BackendError(`EndpointSecurity refused keysentry (${code})`, code);
  };
}

const stubSource = (name: string): EventSource => ({
  name,
  batches: async function* () {},
  stop: async () => undefined,
  stats: () => ({ records: 0, ecs: 0, rejected: 0, lost: 0 }),
});

describe('macos: live source choice (--source es|eslogger|auto)', function () {
  let dir: string;
  before(() => {
    dir = fakeEsloggerDir();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('auto falls back to eslogger when ES says not entitled, says why, and seeds from the scan first', async () => {
    const warnings: string[] = [];
    const run = fakeRun(dir, fixtureLines().join('\n') + '\n');
    const seeds: SeedRecord[] = [{ kind: 'seed', timeNs: 1n, process: { pid: 1, pidversion: 742, executable: '/sbin/launchd' } }];
    const mac = openMacLiveSource('auto', {}, {
      openEs: refusingEs(ES_NOT_ENTITLED),
      openEslogger: () => new EsloggerLiveSource(run.options),
      scan: () => seeds,
      log: { info: () => undefined, warn: (m) => warnings.push(m) },
    });
    assert.equal(mac.live.name, 'eslogger');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /refused keysentry \(es-not-entitled\)\nFalling back to eslogger \(--source auto\)\./);
    const items = await collect(new SeededSource(mac.live, mac.seeds), (got) => got.length >= 5);
    assert.equal(items[0]?.where, 'seed');
    assert.deepEqual(items.slice(1).map((i) => i.kind), ['record', 'record', 'record', 'record']);
  });

  it('does not fall back on failures eslogger would share, nor when es was asked for by name', () => {
    const deps = { openEslogger: () => stubSource('eslogger'), scan: () => [], log: { info: () => undefined, warn: () => undefined } };
    for (const code of ['es-not-permitted', 'es-not-privileged', 'es-too-many-clients']) {
      assert.throws(() => openMacLiveSource('auto', {}, { ...deps, openEs: refusingEs(code) }), (e: unknown) => e instanceof BackendError && e.code === code);
    }
    assert.throws(() => openMacLiveSource('es', {}, { ...deps, openEs: refusingEs(ES_NOT_ENTITLED) }), /es-not-entitled/);
    const opened: string[] = [];
    const mac = openMacLiveSource('eslogger', {}, { ...deps, openEs: () => (opened.push('es'), stubSource('es')) });
    assert.equal(mac.live.name, 'eslogger');
    assert.deepEqual(opened, []);
  });

  it('stops the live source when the scan fails', () => {
    let stopped = false;
    const live = { ...stubSource('es'), stop: async () => void (stopped = true) };
    assert.throws(
      () => openMacLiveSource('es', {}, { openEs: () => live, scan: () => { throw new BackendError('no scan', 'ENOSEED'); } }),
      /no scan/,
    );
    assert.equal(stopped, true);
  });

  it('turns the scan (libproc over the double) into seed records: executable, execution id, parent, start', () => {
    const scanned = loadEsTestAddon().seedProcesses();
    const seeds = seedRecordsOf(scanned, 5n);
    const self = seeds.find((s) => s.process.pid === process.pid);
    assert.ok(self !== undefined);
    assert.equal(self.process.executable, fs.realpathSync(process.execPath));
    assert.equal(typeof self.process.pidversion, 'number');
    assert.deepEqual(self.parent, { pid: process.ppid });
    assert.equal(self.timeNs, 5n);
    assert.ok((self.startTimeNs ?? 0n) > 0n);
    const unknown = seedRecordsOf([{ pid: 7, pidversion: -1, ppid: -1, uid: -1, gid: -1, executable: '/bin/x', startTimeNs: 0n }, { pid: 8, pidversion: 3, ppid: 1, uid: 0, gid: 0, executable: '', startTimeNs: 0n }], 1n);
    assert.deepEqual(unknown, [{ kind: 'seed', timeNs: 1n, process: { pid: 7, executable: '/bin/x' } }]);
  });
});
