/**
 * The EndpointSecurity client itself (native/macos/es_backend.cc, blocks and all), compiled
 * on Linux with clang -fblocks against the test double, whose es_new_client is a fake ES
 * subsystem delivering messages on its own thread (native/test-double/src/es_client_linux.cc).
 * The driver checks the lifecycle: subscriptions, self-muting, delivery, stop from any thread
 * with es_delete_client on the creating one, restart, and every start failure.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './support/paths';

const DOUBLE = path.join(REPO_ROOT, 'native', 'test-double');
const SOURCES = [
  'native/test-double/src/es_backend_driver.cc',
  'native/test-double/src/es_client_linux.cc',
  'native/test-double/src/es_double.cc',
  'native/test-double/src/libproc_linux.cc',
  'native/macos/es_backend.cc',
  'native/macos/es_translate.cc',
  'native/macos/es_errors.cc',
];

describe('macos: EndpointSecurity client lifecycle (es_backend.cc against a fake ES)', function () {
  this.timeout(180_000);
  let dir: string;
  let output = '';

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keysentry-es-backend-'));
    const driver = path.join(dir, 'es-backend-driver');
    // libBlocksRuntime (Debian libblocksruntime-dev) provides Block_copy/Block_release on Linux.
    const build = spawnSync(
      'clang++',
      ['-std=c++17', '-fblocks', '-Wall', '-Wextra', '-Werror', '-pthread', `-I${path.join(DOUBLE, 'usr', 'include')}`, '-o', driver, ...SOURCES, '-lBlocksRuntime'],
      { cwd: REPO_ROOT, encoding: 'utf8' },
    );
    assert.equal(build.status, 0, `building the driver failed:\n${build.stdout}${build.stderr}`);
    const run = spawnSync(driver, [], { encoding: 'utf8', timeout: 60_000 });
    output = run.stdout + run.stderr;
    assert.equal(run.status, 0, output);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const expected = [
    'createBackend(es) gives the es backend',
    'subscribes to NOTIFY_EXEC, NOTIFY_FORK, NOTIFY_EXIT',
    'mutes its own process by audit token',
    'the handler hands exec, fork and exit to the sink',
    'a global_seq_num gap is reported as source loss',
    'stop unsubscribes, then deletes the client',
    'es_delete_client runs on the thread that called es_new_client',
    'the client lives on a thread of its own',
    'no record is pushed after stop returns',
    'the backend starts again after a stop',
    'es_new_client failure 3 -> es-not-entitled',
    'es_new_client failure 4 -> es-not-permitted',
    'es_new_client failure 5 -> es-not-privileged',
    'es_new_client failure 6 -> es-too-many-clients',
    'es_new_client failure 1 -> es-invalid-argument',
    'es_new_client failure 2 -> es-internal',
    'es-mute-failed: start throws and the client is deleted on its own thread',
    'es-subscribe-failed: start throws and the client is deleted on its own thread',
  ];
  for (const name of expected) {
    it(name, () => {
      assert.ok(output.split('\n').includes(`ok ${name}`), output);
    });
  }

  it('reports no failed check', () => {
    assert.doesNotMatch(output, /^FAIL /m);
    assert.match(output, /^0 failed$/m);
  });
});
