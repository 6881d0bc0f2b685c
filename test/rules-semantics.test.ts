import { strict as assert } from 'node:assert';
import { loadDefaultRuleSet, type CompiledRuleSet } from '../src/rules';
import { execEvent, loadQueries, loadQuery } from './support/rules';

function fires(set: CompiledRuleSet, doc: object): boolean {
  assert.deepEqual(set.errors, [], 'rule set has errors');
  assert.equal(set.rules.length, 1, `expected one supported rule, unsupported: ${JSON.stringify(set.unsupported.map((u) => u.reason))}`);
  return set.evaluate(doc).length === 1;
}

function q(query: string): (doc: object) => boolean {
  const set = loadQuery(query);
  return (doc) => fires(set, doc);
}

const proc = (p: Record<string, unknown>, extra: Record<string, unknown> = {}): object => ({ event: { category: ['process'], type: ['start'] }, process: p, ...extra });

describe('rules: EQL semantics', () => {
  describe('the default rule (Access to Keychain Credentials Directories)', () => {
    const set = loadDefaultRuleSet({ withPack: false });
    const alerts = (doc: object): boolean => set.evaluate(doc).length > 0;

    it('loads from rules/default with its Elastic metadata unchanged', () => {
      assert.deepEqual(set.errors, []);
      assert.equal(set.rules.length, 1);
      const r = set.rules[0]!;
      assert.equal(r.id, '96e90768-c3b7-4df6-b5d9-6237f8bc36a8');
      assert.equal(r.name, 'Access to Keychain Credentials Directories');
      assert.equal(r.riskScore, 73);
      assert.equal(r.severity, 'high');
      assert.equal(r.threat[0]?.tactic?.id, 'TA0006');
      assert.equal(r.threat[0]?.technique?.[0]?.subtechnique?.[0]?.id, 'T1555.001');
    });
    it('alerts on security dump-keychain -d login.keychain', () => {
      assert.ok(alerts(execEvent(['security', 'dump-keychain', '-d', 'login.keychain'])));
    });
    it('does not alert on find-certificate (excluded argument)', () => {
      assert.ok(!alerts(execEvent(['security', 'find-certificate', '-a', '/Library/Keychains/System.keychain'])));
    });
    it('does not alert under OpenVPN Connect (excluded parent)', () => {
      const parentExecutable = '/Applications/OpenVPN Connect/OpenVPN Connect.app/Contents/MacOS/OpenVPN Connect';
      assert.ok(!alerts(execEvent(['security', 'dump-keychain', '-d', 'login.keychain'], { parentExecutable })));
    });
    it('does not alert when the path is inside one argument (sh -c "cat ...")', () => {
      assert.ok(!alerts(execEvent(['sh', '-c', 'cat /Users/a/Library/Keychains/login.keychain-db'])));
    });
    it('does not alert on the Keychains folder without a trailing slash', () => {
      assert.ok(!alerts(execEvent(['cp', '-R', '/Users/a/Library/Keychains', '/tmp/x'])));
    });
    it('alerts on LOGIN.KEYCHAIN-DB (case-insensitive :)', () => {
      assert.ok(alerts(execEvent(['cat', 'LOGIN.KEYCHAIN-DB'])));
    });
    it('alerts on an event without a parent (missing field: its `not` is true)', () => {
      assert.ok(alerts(execEvent(['security', 'dump-keychain', '-d', 'login.keychain'], { noParent: true })));
    });
    it('alerts on a Kelvin sign (U+212A) for the K of Keychains: Unicode simple case folding', () => {
      assert.ok(alerts(execEvent(['cp', '/Users/a/Library/\u212Aeychains/login.keychain-db', '/tmp/x'])));
      assert.ok(alerts(execEvent(['cat', '/Library/\u212Aeychains/x'])));
    });
    it('alerts on a dotted-key document and on a mixed one alike', () => {
      const dotted = { 'event.category': 'process', 'event.type': ['start'], 'process.args': ['security', 'dump-keychain', 'login.keychain'], 'process.executable': '/usr/bin/security' };
      assert.ok(alerts(dotted));
      const mixed = { event: { category: 'process', type: 'start' }, 'process.args': ['cat', 'login.keychain'], process: { 'parent.executable': '/opt/jc/bin/jumpcloud-agent' } };
      assert.ok(!alerts(mixed));
      assert.ok(alerts({ ...mixed, process: { 'parent.executable': '/bin/zsh' } }));
    });
    it('matches an argument longer than 1,024 characters (deliberately unlike ignore_above: 1024)', () => {
      assert.ok(alerts(execEvent(['cat', `/Users/a/Library/Keychains/${'x'.repeat(5000)}`])));
    });
    it('never fires on a non-process event or an event without the start type', () => {
      assert.ok(!alerts({ event: { category: ['file'], type: ['start'] }, process: { args: ['cat', 'login.keychain'] } }));
      assert.ok(!alerts({ event: { category: ['process'], type: ['end'] }, process: { args: ['cat', 'login.keychain'] } }));
    });
  });

  describe('operators and case', () => {
    it(': is case-insensitive; == and in are case-sensitive; in~ is insensitive with * literal', () => {
      const colon = q('process where process.name : "Security"');
      assert.ok(colon(proc({ name: 'SECURITY' })));
      const eq = q('process where process.name == "security"');
      assert.ok(eq(proc({ name: 'security' })));
      assert.ok(!eq(proc({ name: 'Security' })));
      const inList = q('process where process.name in ("a", "security")');
      assert.ok(inList(proc({ name: 'security' })));
      assert.ok(!inList(proc({ name: 'SECURITY' })));
      const inCi = q('process where process.name in~ ("sec*", "cat")');
      assert.ok(inCi(proc({ name: 'CAT' })));
      assert.ok(inCi(proc({ name: 'SEC*' })));
      assert.ok(!inCi(proc({ name: 'security' })));
    });
    it('like is case-sensitive, like~ insensitive; == has no wildcards', () => {
      const like = q('process where process.name like "sec*"');
      assert.ok(like(proc({ name: 'security' })));
      assert.ok(!like(proc({ name: 'Security' })));
      assert.ok(q('process where process.name like~ "sec*"')(proc({ name: 'SECURITY' })));
      const eq = q('process where process.name == "sec*"');
      assert.ok(!eq(proc({ name: 'security' })));
      assert.ok(eq(proc({ name: 'sec*' })));
    });
    it('* crosses /, ? is exactly one character, the whole value is anchored', () => {
      const star = q('process where process.executable : "/usr/*/security"');
      assert.ok(star(proc({ executable: '/usr/local/sub/bin/security' })));
      assert.ok(!star(proc({ executable: '/usr/bin/security2' })));
      assert.ok(!star(proc({ executable: 'x/usr/bin/security' })));
      const one = q('process where process.name : "ca?"');
      assert.ok(one(proc({ name: 'cat' })));
      assert.ok(!one(proc({ name: 'ca' })));
      assert.ok(!one(proc({ name: 'cats' })));
    });
    it('has no escapes in patterns: a backslash is literal', () => {
      const p = q('process where process.name : "a\\\\*b"');
      assert.ok(p(proc({ name: 'a\\xyzb' })));
      assert.ok(!p(proc({ name: 'a*b' })));
    });
    it('regex and regex~ are whole-string Lucene regular expressions', () => {
      const re = q('process where process.name regex "se[a-z]+ty"');
      assert.ok(re(proc({ name: 'security' })));
      assert.ok(!re(proc({ name: 'xsecurity' })));
      assert.ok(!re(proc({ name: 'SECURITY' })));
      assert.ok(q('process where process.name regex~ "se[a-z]+ty"')(proc({ name: 'SECURITY' })));
    });
    it('numbers and strings compare with < <= > >=', () => {
      const n = q('process where process.args_count >= 3 and process.args_count < 5');
      assert.ok(n(proc({ args_count: 3 })));
      assert.ok(!n(proc({ args_count: 5 })));
      assert.ok(!n(proc({})));
      assert.ok(q('process where process.name > "m"')(proc({ name: 'security' })));
      assert.ok(!q('process where process.name > "m"')(proc({ name: 'cat' })));
    });
    it('functions: startsWith, endsWith, stringContains, wildcard, match, length and ~ forms', () => {
      assert.ok(q('process where startsWith(process.name, "sec")')(proc({ name: 'security' })));
      assert.ok(!q('process where startsWith(process.name, "Sec")')(proc({ name: 'security' })));
      assert.ok(q('process where startsWith~(process.name, "Sec")')(proc({ name: 'security' })));
      assert.ok(q('process where startsWith(process.name, "x", "sec")')(proc({ name: 'security' })));
      assert.ok(q('process where endsWith~(process.executable, "/SECURITY")')(proc({ executable: '/usr/bin/security' })));
      assert.ok(q('process where stringContains(process.command_line, "dump-keychain")')(proc({ command_line: 'security dump-keychain -d' })));
      assert.ok(!q('process where stringContains(process.command_line, "*")')(proc({ command_line: 'security' })));
      assert.ok(q('process where wildcard(process.name, "x*", "sec*")')(proc({ name: 'security' })));
      assert.ok(q('process where match~(process.name, "SEC.*")')(proc({ name: 'security' })));
      assert.ok(q('process where length(process.name) == 8')(proc({ name: 'security' })));
      assert.ok(q('process where length(process.args) > 10')(proc({ args: ['a', 'abcdefghijkl'] })));
      assert.ok(q('process where not startsWith(process.name, "sec")')(proc({ name: 'cat' })));
    });
  });

  describe('arrays, missing fields, null', () => {
    it('any element satisfies; and may be satisfied by different elements', () => {
      const p = q('process where process.args : "-d" and process.args : "dump-*"');
      assert.ok(p(proc({ args: ['security', 'dump-keychain', '-d'] })));
      assert.ok(!p(proc({ args: ['security', '-d'] })));
      assert.ok(q('process where event.type == "start"')({ event: { category: 'process', type: ['info', 'start'] } }));
    });
    it('a path the nested document lacks is found under dotted keys at any level, the deepest object first, and through arrays of objects', () => {
      const a = q('process where process.previous.executable : "/a/*"');
      const b = q('process where process.previous.executable : "/b/*"');
      const inner = proc({ name: 'x', 'previous.executable': '/a/zoom' }, { 'process.previous': { executable: '/b/zoom' } });
      assert.ok(a(inner) && !b(inner));
      const outer = proc({ name: 'x', previous: { name: 'zoom' } }, { 'process.previous.executable': '/b/zoom' });
      assert.ok(!a(outer) && b(outer));
      assert.ok(b(proc({ name: 'x' }, { 'process.previous': { executable: '/b/zoom' } })));
      assert.ok(!a(proc({ name: 'x', previous: '/a/zoom' })));
      const inArray = { event: { category: ['process'] }, process: [{ previous: { executable: '/b/1' } }, { 'previous.executable': '/a/2' }] };
      assert.ok(a(inArray) && b(inArray));
    });
    it('a field named like an inherited member (toString, length, an index) is only the document\'s own data', () => {
      assert.ok(q('process where ?toString == null')(proc({ args: ['a'] })));
      assert.ok(q('process where ?toString == "x"')(proc({ args: ['a'] }, { toString: 'x' })));
      assert.ok(q('process where ?process.args.length == null')(proc({ args: ['a'] })));
      assert.ok(q('process where ?process.args.`0` == null')(proc({ args: ['a'] })));
      assert.ok(q('process where ?process.constructor == null')(proc({ args: ['a'] })));
      assert.ok(q('process where ?process.length == 2')(proc({ args: ['a'], length: 2 })));
      assert.ok(q('process where ?process.constructor : "x*"')(proc({ args: ['a'] }, { 'process.constructor': 'xy' })));
    });
    it('not over an array means no element matches', () => {
      const p = q('process where not process.args : ("a", "b")');
      assert.ok(!p(proc({ args: ['x', 'b'] })));
      assert.ok(p(proc({ args: ['x', 'y'] })));
      const ne = q('process where process.args != "b"');
      assert.ok(!ne(proc({ args: ['x', 'b'] })));
      assert.ok(ne(proc({ args: ['x'] })));
      const notIn = q('process where process.args not in ("a", "b")');
      assert.ok(!notIn(proc({ args: ['a'] })));
      assert.ok(notIn(proc({ args: ['c'] })));
    });
    it('a missing field makes a comparison false and its not true; == null and != null test presence', () => {
      const p = q('process where process.parent.name : "zsh"');
      assert.ok(!p(proc({})));
      assert.ok(q('process where not process.parent.name : "zsh"')(proc({})));
      assert.ok(q('process where process.parent.name == null')(proc({ parent: { name: null } })));
      assert.ok(q('process where process.parent.name == null')(proc({ args: [] })));
      assert.ok(!q('process where process.parent.name == null')(proc({ parent: { name: 'zsh' } })));
      assert.ok(q('process where process.parent.name != null')(proc({ parent: { name: 'zsh' } })));
      assert.ok(q('process where process.args == null')(proc({ args: [] })));
      assert.ok(!q('process where process.args_count > 1')(proc({ args_count: null })));
    });
    it('an unknown ?optional field is missing when absent, and read with the literal\'s type when the event has it', () => {
      const p = q('process where ?process.no_such_field : "x" or process.name == "cat"');
      assert.ok(p(proc({ name: 'cat' })));
      assert.ok(p(proc({ name: 'dog', no_such_field: 'X' })));
      assert.ok(!p(proc({ name: 'dog' })));
      assert.ok(q('process where ?process.no_such_field == null')(proc({})));
      assert.ok(!q('process where ?process.no_such_field == null')(proc({ no_such_field: 'x' })));
      assert.ok(q('process where ?process.no_such_field != null')(proc({ no_such_field: 0 })));
      assert.ok(q('process where not ?process.no_such_field in ("x")')(proc({})));
      assert.ok(!q('process where not ?process.no_such_field in ("x")')(proc({ no_such_field: ['y', 'x'] })));
      // Dotted, nested, backtick: the same field.
      assert.ok(q('process where ?foo.bar == "x"')(proc({}, { foo: { bar: 'x' } })));
      assert.ok(q('process where ?foo.bar == "x"')(proc({}, { 'foo.bar': 'x' })));
      assert.ok(q('process where ?`foo`.bar like~ "X*"')(proc({}, { foo: { bar: 'xyz' } })));
      // Each comparison reads the field with its literal's type; other types never match (no keyword conversion).
      assert.ok(q('process where ?foo.n > 3')(proc({}, { foo: { n: 4 } })));
      assert.ok(!q('process where ?foo.n > 3')(proc({}, { foo: { n: '4' } })));
      assert.ok(!q('process where ?foo.n == "4"')(proc({}, { foo: { n: 4 } })));
      assert.ok(q('process where ?foo.n in (4, "x")')(proc({}, { foo: { n: [1, 4] } })));
      assert.ok(q('process where ?foo.b == true')(proc({}, { foo: { b: true } })));
      assert.ok(!q('process where ?foo.b == true')(proc({}, { foo: { b: 'true' } })));
      assert.ok(q('process where ?foo.b')(proc({}, { foo: { b: true } })));
      assert.ok(!q('process where ?foo.b')(proc({}, { foo: { b: 'x' } })));
      assert.ok(q('process where startsWith(?foo.s, "ab") and length(?foo.s) == 3 and ?foo.s < "b"')(proc({}, { foo: { s: 'abc' } })));
      assert.ok(!q('process where ?foo.s : "1*"')(proc({}, { foo: { s: 12 } })));
      assert.ok(q('process where ?foo.s regex "a.c"')(proc({}, { foo: { s: [['abc']] } })));
      // A field of the schema keeps its type checks, and an unknown field without ? stays a load error.
      assert.match(loadQuery('process where process.no_such_field == "x"').errors[0]?.message ?? '', /unknown field 'process\.no_such_field'.*write '\?process\.no_such_field'/);
      assert.match(loadQuery('process where ?process.pid == "x"').errors[0]?.message ?? '', /cannot compare long field 'process\.pid'/);
    });
    it('keyword fields match numbers and booleans by their text; numeric strings compare as numbers', () => {
      assert.ok(q('process where user.id == "0"')(proc({}, { user: { id: 0 } })));
      assert.ok(q('process where process.args_count == 2')(proc({ args_count: '2' })));
      assert.ok(q('process where process.code_signature.trusted == false')(proc({ code_signature: { trusted: false } })));
      assert.ok(!q('process where process.code_signature.trusted == false')(proc({ code_signature: {} })));
    });
    it('a path through an array of objects collects every object\'s values, as Elasticsearch indexes them', () => {
      const p = q('process where process.parent.name == "zsh"');
      assert.ok(p({ event: { category: 'process' }, process: { parent: [{ name: 'bash' }, { name: 'zsh' }] } }));
      assert.ok(!p({ event: { category: 'process' }, process: { parent: [{ name: 'bash' }, 'zsh'] } }));
    });
    it('nested arrays count element by element at any depth, as Elasticsearch flattens them', () => {
      const p = q('process where process.args : "a*"');
      assert.ok(p(proc({ args: [['ab']] })));
      assert.ok(p(proc({ args: ['x', [['y', [['abc']]]]] })));
      assert.ok(!p(proc({ args: [['x'], [['y']]] })));
      assert.ok(q('process where not process.args : "a*"')(proc({ args: [['x'], [[]]] })));
      assert.ok(q('process where process.args == null')(proc({ args: [[null], [[]]] })));
      assert.ok(q('process where process.parent.name == "zsh"')({ event: { category: 'process' }, process: { parent: [[{ name: 'bash' }], [[{ name: 'zsh' }]]] } }));
      assert.ok(q('process where process.pid > 10')(proc({ pid: [[1], [[11]]] })));
      let deep: unknown = ['abc'];
      for (let i = 0; i < 100_000; i++) deep = [deep];
      assert.ok(p(proc({ args: deep })));
    });
    it('any where evaluates every event; process where needs event.category process', () => {
      assert.ok(q('any where process.name == "cat"')({ event: { category: 'file' }, process: { name: 'cat' } }));
      assert.ok(!q('process where process.name == "cat"')({ process: { name: 'cat' } }));
      assert.ok(!q('process where process.name == "cat"')({ event: { category: 'Process' }, process: { name: 'cat' } }));
    });
  });

  describe('gates', () => {
    it('a rule runs once however many of its gate patterns match; rules sharing a pattern all run; load order', () => {
      const names = Array.from({ length: 64 }, (_, i) => `tool${i}`);
      const set = loadQueries([
        'process where process.name : ("py*", "*thon*", "python")',
        'process where process.name : "py*" and process.args : "-c"',
        'process where process.name : "py*" and process.args : "nope"',
        `process where process.name in (${names.map((n) => `"${n}"`).join(', ')})`,
      ]);
      const fired = (name: string, args: string[]): string[] => set.evaluate(execEvent(args, { executable: `/usr/bin/${name}` })).map((r) => r.name);
      assert.deepEqual(fired('python', ['python', '-c']), ['rule 0', 'rule 1']);
      assert.deepEqual(fired('pyenv', ['pyenv']), ['rule 0']);
      assert.deepEqual(fired('ruby', ['ruby', '-c']), []);
      // Every bit position of the 32-bit hit words, the sign bit included.
      for (const n of names) assert.deepEqual(fired(n, [n]), ['rule 3'], n);
    });

    it('a rule gated on several fields runs when any of them holds, once when several do; a rule without a gate runs on every event', () => {
      const set = loadQueries([
        'process where (process.name == "curl" and process.args == "-k") or (process.parent.name == "zoom.us" and process.args == "-k")',
        'process where not process.name == "curl"',
      ]);
      const fired = (name: string, parent: string, args: string[]): string[] => set.evaluate(execEvent(args, { executable: `/usr/bin/${name}`, parentExecutable: `/Applications/${parent}` })).map((r) => r.name);
      assert.deepEqual(fired('curl', 'zsh', ['curl', '-k']), ['rule 0']);
      assert.deepEqual(fired('wget', 'zoom.us', ['wget', '-k']), ['rule 0', 'rule 1']);
      assert.deepEqual(fired('curl', 'zoom.us', ['curl', '-k']), ['rule 0']);
      assert.deepEqual(fired('curl', 'zoom.us', ['curl']), []);
      assert.deepEqual(fired('wget', 'zsh', ['wget', '-k']), ['rule 1']);
    });
  });

  describe('precedence', () => {
    it('not binds tighter than and, and tighter than or', () => {
      const p = q('process where process.name == "a" or process.name == "b" and not process.args == "x"');
      assert.ok(p(proc({ name: 'a', args: ['x'] })));
      assert.ok(p(proc({ name: 'b', args: ['y'] })));
      assert.ok(!p(proc({ name: 'b', args: ['x'] })));
      const grouped = q('process where (process.name == "a" or process.name == "b") and not process.args == "x"');
      assert.ok(!grouped(proc({ name: 'a', args: ['x'] })));
    });
  });
});
