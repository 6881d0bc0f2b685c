/** Helpers for rule-engine tests: real rule files in a temporary folder, loaded through the public entry point. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadRuleSet, type CompiledRuleSet } from '../../src/rules';

const created: string[] = [];
process.on('exit', () => {
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the test process exits. */
export function tempDir(prefix = 'keysentry-rules-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** A small keysentry TOML rule with `query` written as a TOML literal string. */
export function ruleToml(query: string, name = 'test rule', id = 'test-rule-1'): string {
  return `name = "${name}"\nrule_id = "${id}"\nseverity = "high"\nrisk_score = 50\nquery = '''\n${query}\n'''\n`;
}

/** Writes one rule per query into a fresh folder and loads the folder. */
export function loadQueries(queries: readonly string[]): CompiledRuleSet {
  const dir = tempDir();
  queries.forEach((q, i) => fs.writeFileSync(path.join(dir, `rule${String(i).padStart(3, '0')}.toml`), ruleToml(q, `rule ${i}`, `rule-${i}`)));
  return loadRuleSet([dir]);
}

export function loadQuery(query: string): CompiledRuleSet {
  return loadQueries([query]);
}

/** An exec event as keysentry builds it (nested ECS). */
export function execEvent(args: string[], extra: { executable?: string; parentExecutable?: string; noParent?: boolean } = {}): object {
  const executable = extra.executable ?? `/usr/bin/${args[0] ?? 'true'}`;
  const process: Record<string, unknown> = {
    pid: 4242,
    entity_id: 'e1',
    name: path.basename(executable),
    executable,
    args,
    args_count: args.length,
    command_line: args.join(' '),
  };
  if (!extra.noParent) process.parent = { pid: 1, executable: extra.parentExecutable ?? '/bin/zsh', name: path.basename(extra.parentExecutable ?? '/bin/zsh') };
  return { '@timestamp': '2026-12-03T10:00:00Z', event: { kind: 'event', category: ['process'], type: ['start'], action: 'exec' }, host: { os: { type: 'macos' } }, process };
}
