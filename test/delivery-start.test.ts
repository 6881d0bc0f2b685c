import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './support/delivery-harness';
import { REPO_ROOT } from './support/paths';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const SAMPLE = path.join(REPO_ROOT, 'samples', 'keychain-theft.eslogger.jsonl');

describe('keysentry start (npm start)', function () {
  this.timeout(60_000);

  it('replays a capture through the agent, the spool and the embedded collector into SQLite, state private', () => {
    const state = path.join(tempDir('start'), 'state');
    const run = spawnSync(process.execPath, [CLI, 'start', '--state', state, '--replay', SAMPLE], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const raised = /(\d+) alerts raised/.exec(run.stdout);
    assert.ok(raised && Number(raised[1]) > 0, run.stdout);
    assert.match(run.stdout, new RegExp(`${raised[1]} alerts delivered and stored`));
    const db = path.join(state, 'collector.db');
    const stored = execFileSync(process.execPath, [CLI, 'alerts', '--db', db, '--json'], { encoding: 'utf8' }).trim().split('\n');
    assert.equal(stored.length, Number(raised[1]));
    for (const line of stored) assert.equal((JSON.parse(line) as { event: { kind: string } }).event.kind, 'alert');
    assert.equal(fs.statSync(state).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(state, 'collector.token')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(db).mode & 0o777, 0o600);
    // A second start reuses the token and the database and reports only its own new alerts.
    const again = spawnSync(process.execPath, [CLI, 'start', '--state', state, '--replay', SAMPLE], { encoding: 'utf8' });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`${raised[1]} alerts delivered and stored`));
    assert.equal(execFileSync(process.execPath, [CLI, 'alerts', '--db', db, '--json'], { encoding: 'utf8' }).trim().split('\n').length, 2 * Number(raised[1]));
  });
});
