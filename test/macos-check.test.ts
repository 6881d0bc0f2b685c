/**
 * scripts/check-macos.sh: the macOS-only sources compile for Apple's targets against the
 * EndpointSecurity test double (CI has no SDK), and the check can fail: an API newer than
 * the deployment target, called unguarded, is an error because the double carries Apple's
 * availability annotations.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './support/paths';

const SCRIPT = path.join(REPO_ROOT, 'scripts', 'check-macos.sh');

function check(...sources: string[]): { status: number | null; output: string } {
  const env = { ...process.env };
  delete env.MACOS_SDK;
  const r = spawnSync('bash', [SCRIPT, ...sources], { cwd: REPO_ROOT, env, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('macos: scripts/check-macos.sh against the test double', function () {
  this.timeout(180_000);

  it('compiles the macOS addon sources (native/core, native/macos) for arm64-apple-macos13 and x86_64-apple-macos11', () => {
    const sources = ['core', 'macos'].flatMap((d) => fs.readdirSync(path.join(REPO_ROOT, 'native', d)).filter((f) => f.endsWith('.cc')));
    const r = check();
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, new RegExp(`${sources.length} sources OK for arm64-apple-macos13 against native/test-double`));
    assert.match(r.output, new RegExp(`${sources.length} sources OK for x86_64-apple-macos11 against native/test-double`));
  });

  it('passes shellcheck', function () {
    const r = spawnSync('shellcheck', [SCRIPT], { encoding: 'utf8' });
    if (r.error !== undefined) this.skip();
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('fails on an unguarded call to an API newer than the deployment target', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keysentry-check-macos-'));
    try {
      const src = path.join(dir, 'too_new.cc');
      fs.writeFileSync(
        src,
        [
          '#include <EndpointSecurity/EndpointSecurity.h>',
          'es_return_t muteExecs(es_client_t* client) {',
          '  const es_event_type_t exec = ES_EVENT_TYPE_NOTIFY_EXEC;',
          '  return es_mute_path_events(client, "/usr/bin", ES_MUTE_PATH_TYPE_PREFIX, &exec, 1);',
          '}',
          '',
        ].join('\n'),
      );
      const r = check(src);
      assert.notEqual(r.status, 0, r.output);
      assert.match(r.output, /1 sources OK for arm64-apple-macos13/, 'macOS 13 has es_mute_path_events');
      assert.match(r.output, /'es_mute_path_events' is only available on macOS 12\.0 or newer \[-Werror,-Wunguarded-availability-new\]/);
      assert.match(r.output, /FAILED .*too_new\.cc for x86_64-apple-macos11/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
