import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseQuery, EqlSyntaxError } from '../src/rules/eql/parser';
import type { Condition } from '../src/rules/eql/ast';
import { loadRuleSet } from '../src/rules';
import { loadQuery, ruleToml, tempDir } from './support/rules';

function condition(query: string): Condition {
  const p = parseQuery(query);
  assert.equal(p.kind, 'event');
  return (p as { condition: Condition }).condition;
}

function syntaxError(query: string): EqlSyntaxError {
  try {
    parseQuery(query);
  } catch (err) {
    if (err instanceof EqlSyntaxError) return err;
    throw err;
  }
  assert.fail(`expected a syntax error for ${query}`);
}

function only<T>(xs: readonly T[]): T {
  assert.equal(xs.length, 1, JSON.stringify(xs));
  return xs[0] as T;
}

describe('rules: EQL parser', () => {
  it('parses not > and > or precedence into nested nodes', () => {
    const c = condition('process where a.b == 1 or not c.d == 2 and e.f == 3');
    assert.equal(c.kind, 'or');
    const [left, right] = (c as { args: Condition[] }).args;
    assert.equal(left?.kind, 'compare');
    assert.equal(right?.kind, 'and');
    assert.equal((right as { args: Condition[] }).args[0]?.kind, 'not');
  });

  it('decodes string escapes, \\u{...} and raw strings', () => {
    const c = condition('process where a.b in ("\\t\\b\\f\\n\\r\\"\\\'\\\\", "\\u{212A}\\u{1F600}", """raw \\d+ "q" """)') as { values: { value: string }[] };
    assert.deepEqual(
      c.values.map((v) => v.value),
      ['\t\b\f\n\r"\'\\', '\u212A\u{1F600}', 'raw \\d+ "q" '],
    );
  });

  it('reads backtick fields, ?optional fields, comments, numbers, booleans and null', () => {
    const c = condition('process where /* a /* nested */ comment */ `process`.`na me` == "x" // trailing\n and ?x.y != null and a.n >= -1.5e2 and a.b == true') as { args: Condition[] };
    const first = c.args[0] as { left: { path: string } };
    assert.equal(first.left.path, 'process.na me');
    const second = c.args[1] as { left: { optional: boolean } };
    assert.equal(second.left.optional, true);
    const third = c.args[2] as { right: { value: number } };
    assert.equal(third.right.value, -150);
  });

  it('parses every operator and function spelling', () => {
    for (const q of [
      'a.b : "x"',
      'a.b : ("x", "y")',
      'a.b like "x"',
      'a.b like~ ("x")',
      'a.b regex "x"',
      'a.b regex~ "x"',
      'a.b in~ ("x")',
      'a.b not in ("x")',
      'a.b not in~ ("x")',
      'startsWith~(a.b, "x")',
      'length(a.b) > 3',
    ]) {
      assert.doesNotThrow(() => parseQuery(`process where ${q}`), q);
    }
  });

  it('reports sequences, samples and pipes as out of scope, not as errors', () => {
    assert.deepEqual(parseQuery('sequence by process.entity_id with maxspan=5m [process where true] [file where true]'), { kind: 'unsupported', construct: 'sequence', offset: 0 });
    const piped = parseQuery('process where true | head 5');
    assert.equal(piped.kind === 'event' && piped.pipes[0]?.name, 'head');
  });

  it('rejects single-quoted strings, ?"..." and what else Elasticsearch rejects, saying what was expected', () => {
    assert.match(syntaxError("process where a.b == 'x'").message, /double quotes/);
    assert.match(syntaxError('process where a.b == ?"x"').message, /double quotes.*\?"/);
    assert.match(syntaxError('process where a.b in ("x" and').message, /expected '\)' or ',' after list item, found 'and'/);
    assert.match(syntaxError('process where a.b = "x"').message, /use '=='/);
    assert.match(syntaxError('process where a.b == "\\q"').message, /invalid escape/);
    assert.match(syntaxError('process where a.b == "x').message, /unterminated string/);
    assert.match(syntaxError('process a.b == "x"').message, /expected 'where'/);
    assert.match(syntaxError('process where a.b not like "x"').message, /expected 'in' or 'in~' after 'not'/);
    assert.match(syntaxError('process where a.b == 1 + 2').message, /arithmetic/);
    assert.match(syntaxError('process where a.b[0] == "x"').message, /array indexes/);
    assert.equal(syntaxError('process where\n  a.b == "x" b').offset, 27);
  });

  it('caps nesting instead of exhausting the stack', () => {
    assert.match(syntaxError(`process where ${'('.repeat(100000)}a.b == 1`).message, /nests deeper/);
    assert.match(syntaxError(`process where ${'not '.repeat(100000)}a.b == 1`).message, /nests deeper/);
  });
});

describe('rules: loading rule files', () => {
  it('reports a query error at the line and column of the rule FILE, naming the rule', () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.toml');
    fs.writeFileSync(file, ruleToml('process where process.name == "a" and\n  process.args in ("x" and process.name == "b")', 'Bad Rule'));
    const err = only(loadRuleSet([file]).errors);
    // Line 1-4 are name/id/severity/risk, 5 is `query = '''`, 6 the first query line, 7 the second.
    assert.deepEqual({ line: err.line, column: err.column, name: err.name }, { line: 7, column: 24, name: 'Bad Rule' });
    assert.match(err.message, /expected '\)' or ',' after list item, found 'and'/);
  });

  it('locates errors inside a TOML basic string with escapes and inside a JSON rule', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'basic.toml'), 'name = "b"\nrule_id = "b"\nseverity = "low"\nrisk_score = 1\nquery = "process where process.name == \\"a\\" and \\u0070rocess.name =="\n');
    fs.writeFileSync(path.join(dir, 'r.json'), JSON.stringify({ name: 'j', rule_id: 'j', severity: 'low', risk_score: 1, query: 'process where process.nam == "x"' }, null, 2));
    const set = loadRuleSet([dir]);
    const basic = set.errors.find((e) => e.name === 'b');
    assert.deepEqual([basic?.line, basic?.column], [5, 70]);
    assert.match(basic?.message ?? '', /expected a field, a value or a function call, found end of query/);
    const json = set.errors.find((e) => e.name === 'j');
    assert.deepEqual([json?.line, json?.column], [6, 27]);
    assert.match(json?.message ?? '', /unknown field 'process.nam'/);
  });

  it('maps query errors to the file position in every TOML string form, including closing quote runs, escapes and CRLF', () => {
    const header = 'name = "r"\nrule_id = "r"\nseverity = "low"\nrisk_score = 1\n';
    // Each case: the `query` assignment, and the text the error must point at (its first occurrence in the file).
    const cases: { name: string; query: string; at: string }[] = [
      { name: "''' ending in one extra quote", query: "query = '''process where process.name == 'a''''", at: "'a'" },
      { name: "''' ending in two extra quotes", query: "query = '''process where process.name == 'a'''''", at: "'a'" },
      { name: "''' multi-line, CRLF", query: "query = '''\r\nprocess where\r\n  process.name == 'a'\r\n'''", at: "'a'" },
      { name: '""" ending in one extra quote', query: 'query = """process where nosuch.f == "a""""', at: 'nosuch' },
      { name: '""" ending in two extra quotes', query: 'query = """process where nosuch.f == "a" or process.name == """""', at: 'nosuch' },
      { name: '""" with escapes', query: 'query = """process where process.name == "\\x41\\u0042\\U00000043\\t" and nosuch.f == "a" """', at: 'nosuch' },
      { name: '""" with a line-ending backslash', query: 'query = """process where \\   \n    process.name == "a" and \\\r\n  nosuch.f == "b" """', at: 'nosuch' },
      { name: "'...' literal", query: "query = 'process where process.name == \"\\\\\" and nosuch.f == \"a\"'", at: 'nosuch' },
      { name: '"..." with escapes', query: 'query = "process where process.name == \\"\\\\t\\" and nosuch.f == \\"a\\""', at: 'nosuch' },
      { name: 'quoted key', query: '"query" = "process where nosuch.f == \\"a\\""', at: 'nosuch' },
      { name: 'dotted key', query: 'rule . query = "process where nosuch.f == \\"a\\""', at: 'nosuch' },
    ];
    const dir = tempDir();
    for (const c of cases) {
      const text = `${header}${c.query}\n`;
      const file = path.join(dir, 'form.toml');
      // A dotted key only makes sense with its siblings under the same table.
      fs.writeFileSync(file, c.name === 'dotted key' ? text.replace(/^(name|rule_id|severity|risk_score) /gm, 'rule.$1 ') : text);
      const written = fs.readFileSync(file, 'utf8');
      const set = loadRuleSet([file]);
      const err = set.errors[0];
      assert.ok(err !== undefined && set.errors.length === 1, `${c.name}: ${JSON.stringify(set.errors)}`);
      const before = written.slice(0, written.indexOf(c.at, written.indexOf('query')));
      const line = before.split('\n').length;
      const column = before.length - before.lastIndexOf('\n');
      assert.deepEqual([err.line, err.column], [line, column], `${c.name}: ${err.message}`);
    }
  });

  it('type-checks against the ECS / Endpoint schema', () => {
    assert.match(only(loadQuery('process where process.name == 1').errors).message, /cannot compare keyword field 'process.name' with number 1/);
    assert.match(only(loadQuery('process where process.args_count : "3"').errors).message, /':' needs a string field; 'process.args_count' is long/);
    assert.match(only(loadQuery('process where startsWith(process.pid, "1")').errors).message, /startsWith\(\) needs a string field; 'process.pid' is long/);
    assert.match(only(loadQuery('process where process.name == process.parent.name').errors).message, /comparisons against fields/);
    assert.match(only(loadQuery('process where nosuch(process.name, "a")').errors).message, /unknown function 'nosuch'/);
    assert.match(only(loadQuery('process where process.name regex "a[b"').errors).message, /invalid pattern for 'process.name'/);
  });

  it('reports out-of-scope constructs as unsupported with the construct named', () => {
    const reasons = (q: string): string => only(loadQuery(q).unsupported).reason;
    assert.equal(reasons('sequence by process.entity_id [process where true] [process where true]'), 'unsupported: sequence');
    assert.equal(reasons('process where true | head 1'), 'unsupported: pipe | head');
    assert.equal(reasons('file where file.path : "/x"'), "unsupported: event category 'file' (keysentry evaluates process events only)");
    assert.equal(reasons('process where cidrMatch(source.ip, "10.0.0.0/8")'), 'unsupported: function cidrMatch()');
  });

  it('keeps good rules when one file is broken, and names every problem of a bad file', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'good.toml'), ruleToml('process where process.name == "cat"', 'good', 'g'));
    fs.writeFileSync(path.join(dir, 'broken.toml'), 'name = "x"\nrule_id = \n');
    fs.writeFileSync(path.join(dir, 'incomplete.json'), JSON.stringify({ name: 'inc', severity: 'urgent', risk_score: 500, query: 'process where true' }));
    fs.writeFileSync(path.join(dir, 'zdup.toml'), ruleToml('process where true', 'dup', 'g'));
    const set = loadRuleSet([dir, path.join(dir, 'missing.toml')]);
    assert.deepEqual(set.rules.map((r) => r.name), ['good']);
    const messages = set.errors.map((e) => `${path.basename(e.source)}${e.line ? `:${e.line}` : ''}: ${e.message}`);
    assert.equal(messages.length, 4, messages.join('\n'));
    assert.ok(messages.some((m) => /^broken\.toml:2: invalid TOML/.test(m)), messages.join('\n'));
    assert.ok(messages.some((m) => /^incomplete\.json: missing "rule_id".*severity must be.*risk_score must be/.test(m)), messages.join('\n'));
    assert.ok(messages.some((m) => /^zdup\.toml: duplicate rule_id g/.test(m)), messages.join('\n'));
    assert.ok(messages.some((m) => /^missing\.toml: cannot read: ENOENT/.test(m)), messages.join('\n'));
  });
});
