import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadAgentConfig } from '../src/config';
import { parsePlist, parsePlistDict, PlistError, type PlistValue } from './support/plist';
import { REPO_ROOT } from './support/paths';
import { snapshotTree } from './support/tree';

const LAUNCHD = path.join(REPO_ROOT, 'launchd');
const SCRIPTS = path.join(REPO_ROOT, 'scripts');
const APP_EXECUTABLE = '/Library/Application Support/keysentry/keysentry.app/Contents/MacOS/keysentry';

type Check = (value: PlistValue) => string | undefined;
const isString: Check = (v) => (v.kind === 'string' && v.value !== '' ? undefined : 'a non-empty string');
const isBool: Check = (v) => (v.kind === 'bool' ? undefined : 'a boolean');
const isInteger: Check = (v) => (v.kind === 'integer' ? undefined : 'an integer');
const isAbsolutePath: Check = (v) => (v.kind === 'string' && v.value.startsWith('/') ? undefined : 'an absolute path');
const isStringArray: Check = (v) => (v.kind === 'array' && v.items.length > 0 && v.items.every((i) => isString(i) === undefined) ? undefined : 'a non-empty array of strings');
const oneOf = (...values: string[]): Check => (v) => (v.kind === 'string' && values.includes(v.value) ? undefined : `one of ${values.join(', ')}`);

/** launchd.plist(5) keys keysentry uses, with the type launchd requires of each. */
const LAUNCHD_KEYS: Record<string, Check> = {
  Label: isString,
  ProgramArguments: isStringArray,
  AssociatedBundleIdentifiers: isString,
  RunAtLoad: isBool,
  KeepAlive: isBool,
  ThrottleInterval: isInteger,
  ProcessType: oneOf('Background', 'Standard', 'Adaptive', 'Interactive'),
  ExitTimeOut: isInteger,
  UserName: isString,
  GroupName: isString,
  Umask: isInteger,
  StandardOutPath: isAbsolutePath,
  StandardErrorPath: isAbsolutePath,
};
const LAUNCHD_REQUIRED = ['Label', 'ProgramArguments', 'RunAtLoad', 'KeepAlive', 'ThrottleInterval', 'ProcessType', 'StandardOutPath', 'StandardErrorPath', 'UserName'];

function checkLaunchdPlist(file: string): Map<string, PlistValue> {
  const dict = parsePlistDict(fs.readFileSync(file, 'utf8'), file);
  for (const [key, value] of dict) {
    const check = LAUNCHD_KEYS[key];
    assert.ok(check !== undefined, `${file}: ${key} is not a launchd key keysentry expects`);
    assert.equal(check(value), undefined, `${file}: ${key} must be ${check(value)}`);
  }
  for (const key of LAUNCHD_REQUIRED) assert.ok(dict.has(key), `${file}: ${key} is missing`);
  return dict;
}

const str = (dict: Map<string, PlistValue>, key: string) => {
  const value = dict.get(key);
  return value?.kind === 'string' ? value.value : undefined;
};
const args = (dict: Map<string, PlistValue>) => {
  const value = dict.get('ProgramArguments');
  return value?.kind === 'array' ? value.items.map((item) => (item.kind === 'string' ? item.value : '')) : [];
};

function have(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** A fresh directory for the enclosing describe block, removed after it. */
function useScratchDir(prefix: string): () => string {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return () => dir;
}

/** A stand-in for launchctl/systemctl (which cannot run here) that records its arguments. */
function recordingCommand(dir: string, name: string): { command: string; calls: () => string[] } {
  const log = path.join(dir, `${name}.calls`);
  const command = path.join(dir, name);
  fs.writeFileSync(command, `#!/bin/sh\necho "$*" >> '${log}'\n`, { mode: 0o755 });
  return { command, calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []) };
}

describe('daemon: strict plist parser', () => {
  const wrap = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">\n${body}\n</plist>\n`;
  const malformed: Array<[string, string, RegExp]> = [
    ['unclosed element', wrap('<dict><key>a</key><string>x</dict>'), /expected '<\/string>'|unterminated/],
    ['value without key', wrap('<dict><string>x</string></dict>'), /expected <key> in <dict>/],
    ['key without value', wrap('<dict><key>a</key></dict>'), /key 'a' has no value/],
    ['duplicate key', wrap('<dict><key>a</key><true/><key>a</key><false/></dict>'), /duplicate key 'a'/],
    ['unknown element', wrap('<dict><key>a</key><bool>yes</bool></dict>'), /unknown element <bool>/],
    ['stray text', wrap('<dict>oops<key>a</key><true/></dict>'), /expected an element/],
    ['bad integer', wrap('<integer>10s</integer>'), /bad integer '10s'/],
    ['bad entity', wrap('<string>a &nbsp; b</string>'), /unknown entity '&nbsp;'/],
    ['non-empty true', wrap('<true>yes</true>'), /must be empty/],
    ['two roots', wrap('<true/><false/>'), /expected '<\/plist>'/],
    ['content after plist', `${wrap('<true/>')}<dict/>`, /content after <\/plist>/],
    ['no plist element', '<?xml version="1.0" encoding="UTF-8"?>\n<dict/>', /expected <plist version="1.0">/],
    ['bad date', wrap('<date>2026-01-01</date>'), /bad date/],
    ['bad base64', wrap('<data>***</data>'), /bad base64/],
  ];
  for (const [name, text, error] of malformed) {
    it(`rejects ${name}, with line:column`, () => {
      assert.throws(() => parsePlist(text, 'x.plist'), (err: unknown) => err instanceof PlistError && /^x\.plist:\d+:\d+: /.test(err.message) && error.test(err.message));
    });
  }

  it('reads every value type, comments and entities', () => {
    const root = parsePlist(wrap('<!-- c --><dict><key>s</key><string>a &amp; &#x41;</string><key>i</key><integer>-3</integer><key>r</key><real>1.5</real><key>d</key><data>aGk=</data><key>a</key><array/><key>e</key><dict/></dict>'));
    assert.equal(root.kind, 'dict');
    const entries = root.kind === 'dict' ? root.entries : new Map<string, PlistValue>();
    assert.deepEqual(entries.get('s'), { kind: 'string', value: 'a & A' });
    assert.deepEqual(entries.get('i'), { kind: 'integer', value: -3 });
    assert.deepEqual(entries.get('r'), { kind: 'real', value: 1.5 });
    assert.deepEqual(entries.get('d'), { kind: 'data', value: Buffer.from('hi') });
  });
});

describe('daemon: service definitions', () => {
  it('the agent LaunchDaemon runs the installed bundle as root, kept alive', () => {
    const dict = checkLaunchdPlist(path.join(LAUNCHD, 'com.keysentry.agent.plist'));
    assert.equal(str(dict, 'Label'), 'com.keysentry.agent');
    assert.deepEqual(args(dict), [APP_EXECUTABLE, 'run']);
    assert.equal(str(dict, 'UserName'), 'root');
    assert.deepEqual(dict.get('KeepAlive'), { kind: 'bool', value: true });
    assert.deepEqual(dict.get('RunAtLoad'), { kind: 'bool', value: true });
    assert.match(str(dict, 'StandardErrorPath') ?? '', /^\/Library\/Logs\/keysentry\//);
  });

  it('the collector LaunchDaemon runs `keysentry collector` with flags the command knows', () => {
    const dict = checkLaunchdPlist(path.join(LAUNCHD, 'com.keysentry.collector.plist'));
    assert.equal(str(dict, 'Label'), 'com.keysentry.collector');
    const argv = args(dict);
    assert.deepEqual(argv.slice(0, 2), [APP_EXECUTABLE, 'collector']);
    const usage = fs.readFileSync(path.join(REPO_ROOT, 'src', 'cli', 'collector.ts'), 'utf8');
    for (const flag of argv.filter((a) => a.startsWith('--'))) assert.ok(usage.includes(flag), `keysentry collector has no ${flag}`);
  });

  it('Info.plist template, entitlements and the PPPC profile are valid plists with the right keys', () => {
    const info = parsePlistDict(fs.readFileSync(path.join(LAUNCHD, 'Info.plist.in'), 'utf8'), 'Info.plist.in');
    assert.equal(str(info, 'CFBundleIdentifier'), 'com.keysentry.agent');
    assert.equal(str(info, 'CFBundleExecutable'), path.basename(APP_EXECUTABLE));
    assert.equal(str(info, 'CFBundlePackageType'), 'APPL');

    const entitlements = parsePlistDict(fs.readFileSync(path.join(LAUNCHD, 'keysentry.entitlements'), 'utf8'), 'keysentry.entitlements');
    assert.deepEqual([...entitlements.keys()].sort(), [
      'com.apple.developer.endpoint-security.client',
      'com.apple.security.cs.allow-jit',
      'com.apple.security.cs.allow-unsigned-executable-memory',
    ]);
    for (const value of entitlements.values()) assert.deepEqual(value, { kind: 'bool', value: true });

    const profile = parsePlistDict(fs.readFileSync(path.join(LAUNCHD, 'keysentry-pppc.mobileconfig'), 'utf8'), 'pppc');
    assert.equal(str(profile, 'PayloadType'), 'Configuration');
    assert.equal(str(profile, 'PayloadScope'), 'System');
    const content = profile.get('PayloadContent');
    assert.ok(content?.kind === 'array' && content.items[0].kind === 'dict');
    const tcc = content.items[0].kind === 'dict' ? content.items[0].entries : new Map<string, PlistValue>();
    assert.equal(str(tcc, 'PayloadType'), 'com.apple.TCC.configuration-profile-policy');
    const services = tcc.get('Services');
    assert.ok(services?.kind === 'dict');
    const fda = services.entries.get('SystemPolicyAllFiles');
    assert.ok(fda?.kind === 'array' && fda.items[0].kind === 'dict');
    const grant = fda.items[0].kind === 'dict' ? fda.items[0].entries : new Map<string, PlistValue>();
    assert.equal(str(grant, 'Identifier'), str(info, 'CFBundleIdentifier'));
    assert.equal(str(grant, 'IdentifierType'), 'bundleID');
    assert.equal(str(grant, 'Authorization'), 'Allow');
    assert.match(str(grant, 'CodeRequirement') ?? '', /^identifier "com\.keysentry\.agent" and anchor apple generic .*certificate leaf\[subject\.OU\] = "@TEAM_ID@"$/);
    for (const dict of [profile, tcc]) assert.match(str(dict, 'PayloadUUID') ?? '', /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
  });

  it('the shell scripts pass shellcheck', function () {
    if (!have('shellcheck')) this.skip();
    const scripts = ['lib.sh', 'macos-paths.sh', 'linux-paths.sh', 'install-macos.sh', 'uninstall-macos.sh', 'package-macos.sh', 'install-linux.sh', 'uninstall-linux.sh'];
    execFileSync('shellcheck', ['-x', '-P', 'SCRIPTDIR', ...scripts], { cwd: SCRIPTS, stdio: 'pipe' });
  });
});

describe('daemon: macOS packaging and install (layout-only, launchctl recorded)', () => {
  const scratch = useScratchDir('keysentry-macos-');

  it('lays out keysentry.app, installs it into DESTDIR with launchctl bootstrap, uninstalls to nothing', () => {
    const dir = scratch();
    const out = path.join(dir, 'out');
    execFileSync('bash', [path.join(SCRIPTS, 'package-macos.sh'), '--layout-only', '--out', out, '--team-id', 'ABCDE12345'], { stdio: 'pipe' });
    const app = path.join(out, 'keysentry.app');
    const info = parsePlistDict(fs.readFileSync(path.join(app, 'Contents', 'Info.plist'), 'utf8'), 'Info.plist');
    const version = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(str(info, 'CFBundleShortVersionString'), version);
    assert.ok(fs.existsSync(path.join(app, 'Contents', 'Resources', 'app', 'dist', 'src', 'cli', 'main.js')));
    assert.ok(fs.existsSync(path.join(app, 'Contents', 'Resources', 'app', 'node_modules', 'winston')));
    assert.ok(!fs.existsSync(path.join(app, 'Contents', 'Resources', 'app', 'node_modules', 'mocha')), 'dev dependencies are not shipped');
    const shippedAddons = path.join(app, 'Contents', 'Resources', 'app', 'build', 'Release');
    if (fs.existsSync(path.join(REPO_ROOT, 'build', 'Release', 'keysentry_native.node'))) {
      assert.deepEqual(fs.readdirSync(shippedAddons), ['keysentry_native.node'], 'the agent addon, and no test addon');
    }
    // The SEA entry resolves the program from its own executable's bundle: run it the way the
    // SEA runs it (a node binary in Contents/MacOS, user arguments from argv[2]).
    const seaStandIn = path.join(app, 'Contents', 'MacOS', 'node-sea-stand-in');
    fs.copyFileSync(process.execPath, seaStandIn);
    fs.chmodSync(seaStandIn, 0o755);
    const viaBundle = spawnSync(seaStandIn, [path.join(SCRIPTS, 'sea-main.js'), 'status', '--socket', path.join(dir, 'none.sock'), '--json'], { encoding: 'utf8' });
    fs.rmSync(seaStandIn);
    assert.equal(viaBundle.status, 3, viaBundle.stderr);
    assert.equal((JSON.parse(viaBundle.stdout) as { running: boolean }).running, false);
    const pppc = fs.readFileSync(path.join(out, 'keysentry-pppc.mobileconfig'), 'utf8');
    parsePlist(pppc, 'rendered pppc');
    assert.ok(pppc.includes('certificate leaf[subject.OU] = "ABCDE12345"') && !pppc.includes('@TEAM_ID@'));

    const root = path.join(dir, 'root');
    for (const system of ['Library/LaunchDaemons', 'Library/Logs', 'Library/Application Support', 'var/db', 'var/run']) {
      fs.mkdirSync(path.join(root, system), { recursive: true });
    }
    const before = snapshotTree(root);
    const launchctl = recordingCommand(dir, 'launchctl');
    const env = { ...process.env, DESTDIR: root, LAUNCHCTL: launchctl.command };
    const install = () => execFileSync('bash', [path.join(SCRIPTS, 'install-macos.sh'), app], { env, stdio: 'pipe' });
    install();
    install(); // idempotent: an upgrade over itself
    const plist = path.join(root, 'Library', 'LaunchDaemons', 'com.keysentry.agent.plist');
    checkLaunchdPlist(plist);
    assert.equal(fs.statSync(plist).mode & 0o777, 0o644);
    assert.ok(fs.statSync(path.join(root, APP_EXECUTABLE)).isFile(), 'the plist points at the installed executable');
    const config = loadAgentConfig(path.join(root, 'Library', 'Application Support', 'keysentry', 'config.toml'), 'darwin');
    assert.equal(config.log.directory, '/Library/Logs/keysentry');
    assert.equal(config.status.socket, '/var/run/keysentry/status.sock');
    assert.deepEqual(config.rules.paths, ['/Library/Application Support/keysentry/keysentry.app/Contents/Resources/app/rules/default', '/Library/Application Support/keysentry/keysentry.app/Contents/Resources/app/rules/keysentry-keychain']);
    const round = ['bootout system/com.keysentry.agent', 'enable system/com.keysentry.agent', `bootstrap system ${plist}`];
    assert.deepEqual(launchctl.calls(), [...round, ...round]);

    execFileSync('bash', [path.join(SCRIPTS, 'uninstall-macos.sh'), '--purge'], { env, stdio: 'pipe' });
    execFileSync('bash', [path.join(SCRIPTS, 'uninstall-macos.sh'), '--purge'], { env, stdio: 'pipe' });
    assert.deepEqual(snapshotTree(root), before);
    assert.deepEqual(launchctl.calls().slice(6), ['bootout system/com.keysentry.agent', 'disable system/com.keysentry.agent']);
  });

  it('refuses to install when not root, and refuses signing without a provisioning profile', function () {
    const nobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', path.join(SCRIPTS, 'uninstall-macos.sh')], { encoding: 'utf8' });
    if (nobody.error !== undefined) this.skip();
    assert.equal(nobody.status, 1);
    assert.match(nobody.stderr, /uninstall-macos\.sh: must run as root/);
    const sign = spawnSync('bash', [path.join(SCRIPTS, 'package-macos.sh'), '--identity', 'Developer ID Application: X (ABCDE12345)'], { encoding: 'utf8' });
    assert.equal(sign.status, 1);
    assert.match(sign.stderr, /--identity needs --profile/);
  });
});

describe('daemon: Linux install staging (DESTDIR)', () => {
  const scratch = useScratchDir('keysentry-linux-stage-');

  it('stages into DESTDIR with the final paths written into the unit, launcher and config', () => {
    const systemctl = recordingCommand(scratch(), 'systemctl');
    const stage = path.join(scratch(), 'stage');
    execFileSync('bash', [path.join(SCRIPTS, 'install-linux.sh')], { env: { ...process.env, DESTDIR: stage, SYSTEMCTL: systemctl.command }, stdio: 'pipe' });
    assert.deepEqual(systemctl.calls(), [], 'staging never touches systemd');
    const unit = fs.readFileSync(path.join(stage, 'etc', 'systemd', 'system', 'keysentry.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/opt\/keysentry\/bin\/keysentry run --config \/etc\/keysentry\/config\.toml$/m);
    assert.ok(!unit.includes(stage) && !unit.includes('@'), 'no staging path or placeholder left in the unit');
    const launcher = fs.readFileSync(path.join(stage, 'opt', 'keysentry', 'bin', 'keysentry'), 'utf8');
    assert.ok(launcher.includes('"/opt/keysentry/dist/src/cli/main.js"'));
    const config = loadAgentConfig(path.join(stage, 'etc', 'keysentry', 'config.toml'), 'linux');
    assert.deepEqual([config.log.directory, config.state.directory, config.status.socket], ['/var/log/keysentry', '/var/lib/keysentry', '/run/keysentry/status.sock']);
  });

  it('install and uninstall refuse clearly when not root', function () {
    for (const script of ['install-linux.sh', 'uninstall-linux.sh']) {
      const run = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', path.join(SCRIPTS, script)], { encoding: 'utf8', env: { ...process.env, SYSTEMCTL: 'none' } });
      if (run.error !== undefined) this.skip();
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`^${script.replace('.', '\\.')}: must run as root \\(try: sudo `));
    }
  });
});
