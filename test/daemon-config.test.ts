import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  checkTrustedFile,
  ConfigError,
  createMuteFilter,
  defaultAgentConfig,
  loadAgentConfig,
  readDeliveryToken,
  schemaReference,
  UntrustedFileError,
  verifyAgentFilesTrusted,
} from '../src/config';
import type { EcsObject } from '../src/model/ecs';
import { REPO_ROOT } from './support/paths';

/** A private root-owned (0700) scratch directory; tests run as root, like the agent. */
function scratch(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'keysentry-config-'));
}

function problemsOf(file: string): string[] {
  try {
    loadAgentConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail(`${file} was accepted`);
}

function write(dir: string, name: string, text: string, mode = 0o644): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode);
  return file;
}

describe('daemon: config loading and validation', () => {
  let dir: string;
  beforeEach(() => {
    dir = scratch();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads every key from TOML into the typed config', () => {
    const file = write(
      dir,
      'config.toml',
      `source = "audit"
[rules]
paths = ["/opt/keysentry/rules/default", "/etc/keysentry/rules"]
[delivery]
url = "wss://collector.example:8443/ingest"
token_file = "/etc/keysentry/token"
[delivery.tls]
ca_file = "/etc/keysentry/ca.pem"
cert_file = "/etc/keysentry/client.pem"
key_file = "/etc/keysentry/client.key"
verify = false
[state]
directory = "/var/lib/ks"
spool_max_size = "64MiB"
[log]
level = "debug"
directory = "/var/log/ks"
max_size = "10MB"
max_age = "12h"
max_files = 3
stderr = true
[mute]
paths = ["/opt/backup/"]
signing_ids = ["EQHXZ8M8AV:com.google.Chrome", "platform:com.apple.security"]
team_ids = ["EQHXZ8M8AV"]
[status]
socket = "/run/ks/status.sock"
`,
    );
    const config = loadAgentConfig(file);
    assert.deepEqual(config, {
      source: 'audit',
      rules: { paths: ['/opt/keysentry/rules/default', '/etc/keysentry/rules'] },
      delivery: {
        url: 'wss://collector.example:8443/ingest',
        tokenFile: '/etc/keysentry/token',
        tls: { caFile: '/etc/keysentry/ca.pem', certFile: '/etc/keysentry/client.pem', keyFile: '/etc/keysentry/client.key', verify: false },
      },
      state: { directory: '/var/lib/ks', spoolMaxBytes: 64 * 1024 * 1024 },
      log: { level: 'debug', directory: '/var/log/ks', maxSizeBytes: 10_000_000, maxAgeMs: 12 * 3600 * 1000, maxFiles: 3, stderr: true },
      mute: { pathPrefixes: ['/opt/backup/'], signingIds: ['EQHXZ8M8AV:com.google.Chrome', 'platform:com.apple.security'], teamIds: ['EQHXZ8M8AV'] },
      status: { socket: '/run/ks/status.sock' },
      configFile: file,
    });
  });

  it('reads JSON the same way, keeping defaults for keys not given; bare numbers are bytes and seconds', () => {
    const file = write(dir, 'config.json', JSON.stringify({ log: { level: 'warn', max_size: 4096, max_age: 60 } }));
    const config = loadAgentConfig(file, 'darwin');
    const defaults = defaultAgentConfig('darwin');
    assert.deepEqual(config.log, { ...defaults.log, level: 'warn', maxSizeBytes: 4096, maxAgeMs: 60_000 });
    assert.deepEqual(config.state, defaults.state);
    assert.equal(config.state.directory, '/var/db/keysentry');
    assert.equal(config.status.socket, '/var/run/keysentry/status.sock');
  });

  it('uses the platform defaults with no file, and refuses an explicit file that does not exist', () => {
    assert.equal(defaultAgentConfig('linux').log.directory, '/var/log/keysentry');
    assert.equal(defaultAgentConfig('darwin').log.directory, '/Library/Logs/keysentry');
    const missing = path.join(dir, 'nope.toml');
    assert.deepEqual(problemsOf(missing), [`${missing}: cannot read it (ENOENT)`]);
  });

  const badCases: Array<[string, string, string]> = [
    ['bad url scheme', '[delivery]\nurl = "http://x"', "delivery.url: expected ws:// or wss:// URL, got 'http://x'"],
    ['url not a URL', '[delivery]\nurl = "wss://"', "delivery.url: expected ws:// or wss:// URL, got 'wss://'"],
    ['unknown top-level key', 'sorce = "audit"', "sorce: unknown key (did you mean 'source'?)"],
    ['unknown nested key', '[log]\nlevle = "info"', "log.levle: unknown key (did you mean 'log.level'?)"],
    ['unknown key, nothing near', '[log]\ncolour = true', 'log.colour: unknown key'],
    ['unknown section', '[logging]\nlevel = "info"', "logging: unknown key (did you mean 'log'?)"],
    ['section given as a value', 'log = "info"', "log: expected a table, got 'info'"],
    ['enum', 'source = "dtrace"', "source: expected one of auto, es, eslogger, audit, connector, got 'dtrace'"],
    ['level enum', '[log]\nlevel = "trace"', "log.level: expected one of error, warn, info, verbose, debug, got 'trace'"],
    ['bool given as string', '[delivery.tls]\nverify = "no"', "delivery.tls.verify: expected true or false, got 'no'"],
    ['relative path', '[state]\ndirectory = "var/lib"', "state.directory: expected an absolute path, got 'var/lib'"],
    ['path given as number', '[log]\ndirectory = 5', 'log.directory: expected a string, got 5'],
    ['empty rule list', '[rules]\npaths = []', 'rules.paths: expected at least 1 entry, got none'],
    ['rule list not an array', '[rules]\npaths = "/x"', "rules.paths: expected an array, got '/x'"],
    ['relative rule path at an index', '[rules]\npaths = ["/a", "b"]', "rules.paths[1]: expected an absolute path, got 'b'"],
    ['size unit', '[log]\nmax_size = "10 parsecs"', "log.max_size: expected a size (bytes, or a string like '50MiB', '10MB'), got '10 parsecs'"],
    ['negative size', '[state]\nspool_max_size = -1', "state.spool_max_size: expected a size (bytes, or a string like '50MiB', '10MB'), got -1"],
    ['size too small', '[log]\nmax_size = 100', "log.max_size: expected a size (bytes, or a string like '50MiB', '10MB') of at least 4096 bytes, got 100"],
    ['size beyond any disk', '[state]\nspool_max_size = "99999999999999999999GiB"', "state.spool_max_size: expected a size (bytes, or a string like '50MiB', '10MB'), got '99999999999999999999GiB'"],
    ['duration with an inherited property name as unit', '[log]\nmax_age = "5constructor"', "log.max_age: expected a duration (seconds, or a string like '7d', '12h', '30m'), got '5constructor'"],
    ['duration unit', '[log]\nmax_age = "3w"', "log.max_age: expected a duration (seconds, or a string like '7d', '12h', '30m'), got '3w'"],
    ['count range', '[log]\nmax_files = 0', 'log.max_files: expected an integer from 1 to 1000, got 0'],
    ['count not integer', '[log]\nmax_files = 2.5', 'log.max_files: expected an integer from 1 to 1000, got 2.5'],
    ['date where a string belongs', '[log]\nlevel = 1979-05-27', 'log.level: expected one of error, warn, info, verbose, debug, got a date'],
    ['team id shape', '[mute]\nteam_ids = ["apple"]', "mute.team_ids[0]: expected a 10-character Apple team ID (A-Z, 0-9), got 'apple'"],
    ['bare signing id', '[mute]\nsigning_ids = ["com.apple.security"]', "mute.signing_ids[0]: expected 'TEAMID:signing.id' or 'platform:signing.id', got 'com.apple.security'"],
    ['cert without key', '[delivery.tls]\ncert_file = "/c.pem"', 'delivery.tls: cert_file and key_file go together (got only cert_file)'],
    ['token in clear text', '[delivery]\nurl = "ws://collector.example/"\ntoken_file = "/t"', 'delivery.url: refusing to send the token in clear text over ws:// to collector.example; use wss://'],
    ['token without url', '[delivery]\ntoken_file = "/t"', 'delivery.token_file: set, but delivery.url is not'],
  ];
  for (const [name, toml, problem] of badCases) {
    it(`rejects: ${name}`, () => {
      const file = write(dir, 'config.toml', toml);
      assert.deepEqual(problemsOf(file), [`${file}: ${problem}`]);
    });
  }

  it('reports every problem of a file at once', () => {
    const file = write(dir, 'config.toml', 'source = "x"\n[log]\nlevel = 1\nmax_files = "3"\n');
    assert.equal(problemsOf(file).length, 3);
  });

  it('allows ws:// with a token to a loopback collector', () => {
    const file = write(dir, 'config.toml', '[delivery]\nurl = "ws://127.0.0.1:8080/"\ntoken_file = "/t"');
    assert.equal(loadAgentConfig(file).delivery.url, 'ws://127.0.0.1:8080/');
  });

  it('locates syntax errors: TOML line:column, JSON line:column', () => {
    const toml = write(dir, 'config.toml', 'source = "audit"\n[log\nlevel = "info"\n');
    const [tomlProblem] = problemsOf(toml);
    assert.match(tomlProblem, new RegExp(`^${toml}:2:\\d+: `));
    const json = write(dir, 'config.json', '{\n  "log": {"level": "info",}\n}');
    const [jsonProblem] = problemsOf(json);
    assert.match(jsonProblem, new RegExp(`^${json}:2:\\d+: `));
  });

  it('docs/daemon.md has a reference row for every key, and the installed template validates', () => {
    const docs = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'daemon.md'), 'utf8');
    for (const { key } of schemaReference()) assert.ok(docs.includes(`| \`${key}\` |`), `docs/daemon.md does not document ${key}`);
    const template = fs.readFileSync(path.join(REPO_ROOT, 'scripts', 'config.toml.in'), 'utf8').replace(/@[A-Z]+@/g, '/x');
    loadAgentConfig(write(dir, 'config.toml', template));
  });

  it('rejects a key given twice: JSON (which JSON.parse would silently accept) and TOML', () => {
    const json = write(dir, 'config.json', '{"log": {"level": "debug", "dir\\"ectory": "/x",\n  "level": "error"}, "mute": {"paths": [{"level": 1}, {"level": 2}]}}');
    assert.deepEqual(problemsOf(json), [`${json}:2:3: duplicate key 'level'`]);
    const toml = write(dir, 'config.toml', '[log]\nlevel = "debug"\nlevel = "error"\n');
    assert.match(problemsOf(toml)[0], new RegExp(`^${toml}:3:\\d+: `));
  });

  it('rejects a file that is neither .toml nor .json, and a top level that is not an object', () => {
    const yaml = write(dir, 'config.yaml', 'a: 1');
    assert.deepEqual(problemsOf(yaml), [`${yaml}: expected a .toml or .json file`]);
    const array = write(dir, 'config.json', '[1]');
    assert.deepEqual(problemsOf(array), [`${array}: (top level): expected a table, got an array`]);
  });
});

describe('daemon: trusted files', () => {
  let dir: string;
  beforeEach(() => {
    dir = scratch();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function refusal(file: string, options = {}): string {
    try {
      checkTrustedFile(file, options);
    } catch (err) {
      if (err instanceof UntrustedFileError) return err.message;
      throw err;
    }
    assert.fail(`${file} was trusted`);
  }

  it('trusts a root-owned 0644 file under root-owned dirs (and a sticky /tmp)', () => {
    checkTrustedFile(write(dir, 'config.toml', ''));
  });

  it('refuses a file not owned by root, naming it', () => {
    const file = write(dir, 'config.toml', '');
    fs.chownSync(file, 65534, 65534);
    assert.equal(refusal(file), `${file}: refusing to use it: it is owned by uid 65534, not root`);
  });

  it('refuses a group- or other-writable file', () => {
    const file = write(dir, 'config.toml', '', 0o664);
    assert.equal(refusal(file), `${file}: refusing to use it: it is writable by group (mode 0664)`);
    fs.chmodSync(file, 0o646);
    assert.equal(refusal(file), `${file}: refusing to use it: it is writable by others (mode 0646)`);
  });

  it('refuses a file below a directory others can write, naming the directory', () => {
    const sub = path.join(dir, 'etc');
    fs.mkdirSync(sub);
    const file = write(sub, 'config.toml', '');
    fs.chmodSync(sub, 0o777);
    assert.equal(refusal(file), `${file}: refusing to use it: ${sub} is writable by group and others (mode 0777)`);
    fs.chmodSync(sub, 0o755);
    fs.chownSync(sub, 65534, 0);
    assert.equal(refusal(file), `${file}: refusing to use it: ${sub} is owned by uid 65534, not root`);
  });

  it('checks the directory holding a symlink as well as the target', () => {
    const target = write(dir, 'real.toml', '');
    const open = path.join(dir, 'open');
    fs.mkdirSync(open, { mode: 0o777 });
    fs.chmodSync(open, 0o777);
    const link = path.join(open, 'config.toml');
    fs.symlinkSync(target, link);
    assert.equal(refusal(link), `${link}: refusing to use it: ${open} is writable by group and others (mode 0777)`);
  });

  it('trusts one more owner when told (an agent under test runs as someone else)', () => {
    const file = write(dir, 'config.toml', '');
    fs.chownSync(file, 501, 20);
    assert.equal(refusal(file), `${file}: refusing to use it: it is owned by uid 501, not root`);
    checkTrustedFile(file, { trustedUid: 501 });
    fs.chownSync(file, 65534, 65534);
    assert.equal(refusal(file, { trustedUid: 501 }), `${file}: refusing to use it: it is owned by uid 65534, not root or uid 501`);
  });

  it('requires the token and client key to be private', () => {
    const token = write(dir, 'token', 'abc123token\n', 0o644);
    assert.equal(refusal(token, { secret: true }), `${token}: refusing to use it: it holds a secret but is readable by group or others (mode 0644); chmod 600 it`);
    fs.chmodSync(token, 0o600);
    checkTrustedFile(token, { secret: true });
  });

  it('verifyAgentFilesTrusted names every untrusted file: config, token, rules below a rule directory', () => {
    const rules = path.join(dir, 'rules');
    fs.mkdirSync(rules);
    const rule = write(rules, 'keychain.toml', '', 0o666);
    const token = write(dir, 'token', 'abc123token', 0o644);
    const file = write(dir, 'config.toml', `[rules]\npaths = ["${rules}"]\n[delivery]\nurl = "wss://c.example/"\ntoken_file = "${token}"\n`, 0o664);
    const config = loadAgentConfig(file);
    assert.throws(
      () => verifyAgentFilesTrusted(config),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          `${file}: refusing to use it: it is writable by group (mode 0664)`,
          `${token}: refusing to use it: it holds a secret but is readable by group or others (mode 0644); chmod 600 it`,
          `${rule}: refusing to use it: it is writable by group and others (mode 0666)`,
        ]);
        return true;
      },
    );
    fs.chmodSync(file, 0o644);
    fs.chmodSync(token, 0o600);
    fs.chmodSync(rule, 0o644);
    verifyAgentFilesTrusted(config);
    assert.equal(readDeliveryToken(config), 'abc123token');
  });

  it('refuses an empty token file', () => {
    const token = write(dir, 'token', '\n', 0o600);
    const config = { ...defaultAgentConfig(), delivery: { ...defaultAgentConfig().delivery, tokenFile: token } };
    assert.throws(() => readDeliveryToken(config), /the token file is empty/);
  });
});

describe('daemon: mute list', () => {
  const event = (executable: string, signature?: EcsObject): EcsObject => ({ process: { executable, ...(signature ? { code_signature: signature } : {}) } });
  const muted = createMuteFilter({
    pathPrefixes: ['/opt/backup/', '/usr/local/bin/tool'],
    signingIds: ['EQHXZ8M8AV:com.google.Chrome', 'platform:com.apple.mdmclient'],
    teamIds: ['UBF8T346G9'],
  });

  it('mutes by path prefix, on path boundaries unless the prefix ends in /', () => {
    assert.equal(muted(event('/opt/backup/bin/run')), true);
    assert.equal(muted(event('/usr/local/bin/tool')), true);
    assert.equal(muted(event('/usr/local/bin/tool/helper')), true);
    assert.equal(muted(event('/usr/local/bin/toolkit')), false);
    assert.equal(muted(event('/opt/backupx/run')), false);
  });

  it('mutes by team id and team-qualified signing id only for trusted signatures', () => {
    assert.equal(muted(event('/Applications/Teams', { trusted: true, team_id: 'UBF8T346G9' })), true);
    assert.equal(muted(event('/Applications/Teams', { trusted: false, team_id: 'UBF8T346G9' })), false);
    assert.equal(muted(event('/x/Chrome', { trusted: true, team_id: 'EQHXZ8M8AV', signing_id: 'com.google.Chrome' })), true);
    // An ad-hoc signature can claim any identifier: without the team it mutes nothing.
    assert.equal(muted(event('/tmp/evil', { trusted: true, signing_id: 'com.google.Chrome' })), false);
    assert.equal(muted(event('/tmp/evil', { trusted: true, team_id: 'AAAAAAAAAA', signing_id: 'com.google.Chrome' })), false);
  });

  it('mutes platform:signing.id only for Apple platform binaries', () => {
    assert.equal(muted(event('/usr/libexec/mdmclient', { trusted: true, is_platform_binary: true, signing_id: 'com.apple.mdmclient' })), true);
    assert.equal(muted(event('/tmp/mdmclient', { trusted: true, is_platform_binary: false, signing_id: 'com.apple.mdmclient' })), false);
  });

  it('an empty mute list mutes nothing', () => {
    assert.equal(createMuteFilter({ pathPrefixes: [], signingIds: [], teamIds: [] })(event('/bin/sh')), false);
  });
});
