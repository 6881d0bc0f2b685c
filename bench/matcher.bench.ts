/**
 * Pattern-set matching speed: the default keychain rule's `process.args` patterns over realistic
 * macOS exec arguments, against a naive baseline (one case-insensitive RegExp per pattern, tested
 * one by one) and the floor of reading every character once, all in this run.
 */
import { type PatternSpec, compilePatternSet } from '../src/rules/match';
import { type BenchResult, opsPerSecond } from './harness';

/** Elastic's "Access to Keychain Credentials Directories": both `process.args :` lists (`:` = like~). */
const DEFAULT_RULE_ARGS: PatternSpec[] = [
  '/Users/*/Library/Keychains/*',
  '/Library/Keychains/*',
  '/Network/Library/Keychains/*',
  'System.keychain',
  'login.keychain-db',
  'login.keychain',
  'find-certificate',
  'add-trusted-cert',
  'set-keychain-settings',
  'delete-certificate',
  '/Users/*/Library/Keychains/openvpn.keychain-db',
  'show-keychain-info',
  'lock-keychain',
  'set-key-partition-list',
  'import',
  'find-identity',
].map((text) => ({ kind: 'wildcard', text, caseInsensitive: true }));

/** Arguments as macOS exec events carry them; about 1% of events touch a keychain. */
const ORDINARY_ARGS = [
  ['/bin/zsh', '-l'],
  ['/usr/bin/git', 'status', '--porcelain=v2', '--branch'],
  ['/usr/bin/xcrun', 'clang', '-fobjc-arc', '-c', '/Users/alice/src/app/Sources/AppDelegate.m', '-o', '/Users/alice/Library/Developer/Xcode/DerivedData/App-abc/Build/AppDelegate.o'],
  ['/bin/ls', '-la', '/Users/alice/Documents'],
  ['/usr/sbin/system_profiler', 'SPHardwareDataType', '-json'],
  ['/Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Helpers/Google Chrome Helper (Renderer).app/Contents/MacOS/Google Chrome Helper (Renderer)', '--type=renderer', '--lang=en-US', '--num-raster-threads=4', '--enable-zero-copy', '--field-trial-handle=1718379636,r,16591592451376045817,3963185390126337236,262144', '--seatbelt-client=127'],
  ['/usr/bin/defaults', 'read', '/Library/Preferences/com.apple.loginwindow', 'lastUserName'],
  ['/usr/local/bin/node', '/Users/alice/src/web/node_modules/.bin/tsc', '-p', '.'],
  ['/usr/bin/plutil', '-convert', 'xml1', '-o', '-', '/Users/alice/Library/Preferences/com.apple.finder.plist'],
  ['/bin/launchctl', 'print', 'gui/501/com.apple.Finder'],
];
const KEYCHAIN_ARGS = [
  ['/usr/bin/security', 'dump-keychain', '-d', 'login.keychain'],
  ['/bin/cp', '/Users/alice/Library/Keychains/login.keychain-db', '/tmp/x'],
];

function eventStream(count: number): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < count; i++) out.push(i % 100 === 0 ? (KEYCHAIN_ARGS[(i / 100) % KEYCHAIN_ARGS.length] as string[]) : (ORDINARY_ARGS[(i * 7) % ORDINARY_ARGS.length] as string[]));
  return out;
}

const WORDS = ['osascript', 'curl', 'base64', 'launchctl', 'security', 'keychain', 'python', 'chmod', 'defaults', 'plutil', 'sqlite3', 'dscl', 'openssl', 'nscurl', 'tccutil', 'sudo', 'bash', 'zsh', 'perl', 'ruby', 'screencapture', 'pbpaste', 'kextload', 'systemsetup', 'spctl', 'xattr', 'codesign', 'hdiutil', 'installer', 'pkgutil', 'mdfind', 'find', 'grep', 'nc', 'ssh', 'scp', 'rsync', 'tar', 'zip', 'unzip'];

/**
 * Several hundred unanchored case-insensitive patterns on one field, the shape Elastic's macOS
 * rules give `process.command_line`/`process.args` (`*osascript*-e*`), with command lines to read
 * and one 4 KB value made of their words (what an attacker would send to defeat a DFA cache).
 */
function largeUnanchoredSet(): { specs: PatternSpec[]; lines: string[]; crafted: string } {
  const specs: PatternSpec[] = [];
  WORDS.forEach((w, i) => {
    specs.push({ kind: 'wildcard', text: `*${w}*`, caseInsensitive: true });
    for (let j = 1; j <= 7; j++) specs.push({ kind: 'wildcard', text: `*${w}*-${WORDS[(i + j * 3) % WORDS.length]}*`, caseInsensitive: true });
  });
  const lines = ORDINARY_ARGS.map((args) => args.join(' ')).concat(KEYCHAIN_ARGS.map((args) => args.join(' ')));
  let crafted = '';
  for (let i = 0; crafted.length < 4096; i++) crafted += `${WORDS[(i * 7) % WORDS.length]} -${WORDS[(i * 11) % WORDS.length]} `;
  return { specs, lines, crafted };
}

function naiveRegExp(spec: PatternSpec): RegExp {
  const body = spec.text.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'is');
}

/** The floor: read each UTF-16 unit once, into a local (a captured variable would be slower). */
function touchEveryChar(s: string): number {
  let acc = 0;
  for (let i = 0; i < s.length; i++) acc = (acc + s.charCodeAt(i)) | 0;
  return acc;
}

export async function run(): Promise<BenchResult[]> {
  const compileRuns = 20;
  const compileStart = process.hrtime.bigint();
  for (let i = 0; i < compileRuns - 1; i++) compilePatternSet(DEFAULT_RULE_ARGS);
  const set = compilePatternSet(DEFAULT_RULE_ARGS);
  const compileMs = Number(process.hrtime.bigint() - compileStart) / 1e6 / compileRuns;
  const fallback = compilePatternSet(DEFAULT_RULE_ARGS, { stateBudget: 2 });
  const regexps = DEFAULT_RULE_ARGS.map(naiveRegExp);
  const events = eventStream(10_000);
  const argsPerEvent = events.reduce((n, e) => n + e.length, 0) / events.length;
  const hits = new Uint32Array(set.words);
  let sink = 0;

  const perEvent = (matchArg: (arg: string) => void) => (): number => {
    for (const args of events) for (const arg of args) matchArg(arg);
    return events.length;
  };
  const floor = opsPerSecond(
    perEvent((arg) => {
      sink ^= touchEveryChar(arg);
    }),
  );
  const compiled = opsPerSecond(
    perEvent((arg) => {
      set.matchInto(arg, hits);
      sink += hits[0] as number;
      hits[0] = 0;
    }),
  );
  const nfaOnly = opsPerSecond(
    perEvent((arg) => {
      fallback.matchInto(arg, hits);
      sink += hits[0] as number;
      hits[0] = 0;
    }),
  );
  const naive = opsPerSecond(
    perEvent((arg) => {
      for (const re of regexps) if (re.test(arg)) sink++;
    }),
  );

  // Flattened, as an argument decoded from an event is (a rope would slow the floor loop, not the matcher).
  const crafted = Buffer.from(`/Users/${'/Library/'.repeat(455)}x`).toString('utf8');
  const pathSet = compilePatternSet([
    { kind: 'wildcard', text: '/Users/*/Library/*/*.plist', caseInsensitive: true },
    { kind: 'wildcard', text: '*/Library/*/*/*.plist', caseInsensitive: true },
  ]);
  const craftedPerSecond = opsPerSecond(() => {
    pathSet.matchInto(crafted, hits);
    hits[0] = 0;
    return 1;
  }, 500);
  const craftedFloor = opsPerSecond(() => {
    sink ^= touchEveryChar(crafted);
    return 1;
  }, 500);
  const large = largeUnanchoredSet();
  const largeSet = compilePatternSet(large.specs);
  const largeFallback = compilePatternSet(large.specs, { stateBudget: 2 });
  const largeHits = new Uint32Array(largeSet.words);
  const perLine = (matchLine: (line: string) => void) => (): number => {
    for (const line of large.lines) matchLine(line);
    return large.lines.length;
  };
  const largeDfa = opsPerSecond(perLine((line) => largeSet.matchInto(line, largeHits)));
  const largeNfa = opsPerSecond(perLine((line) => largeFallback.matchInto(line, largeHits)));
  const largeFloor = opsPerSecond(perLine((line) => (sink ^= touchEveryChar(line))));
  const flood = opsPerSecond(() => {
    largeSet.matchInto(large.crafted, largeHits);
    return 1;
  }, 500);
  if (sink === 0.5) process.stderr.write('unreachable\n');
  process.stderr.write(`# matcher: large set ${largeSet.strategies().join(', ')}\n`);

  process.stderr.write(`# matcher: ${set.strategies().join(', ')}; ${argsPerEvent.toFixed(1)} args/event; fallback: ${fallback.strategies().join(', ')}\n`);
  return [
    { name: 'matcher: default rule args set, compiled', value: compiled, unit: 'events/s', baseline: { name: 'naive RegExp per pattern', value: naive } },
    { name: 'matcher: default rule args set, compiled vs floor', value: compiled, unit: 'events/s', baseline: { name: 'read every char once', value: floor } },
    { name: 'matcher: default rule args set, NFA fallback only', value: nfaOnly, unit: 'events/s', baseline: { name: 'compiled DFA', value: compiled } },
    { name: 'matcher: 4 KB crafted path vs 2 path patterns', value: 1000 / craftedPerSecond, unit: 'ms/value', baseline: { name: 'read every char once', value: 1000 / craftedFloor }, target: 'well under 1 ms' },
    { name: 'matcher: compile the default rule args set', value: compileMs, unit: 'ms', target: '< 200 ms (whole rule set)' },
    { name: `matcher: ${large.specs.length} unanchored patterns, command lines`, value: largeDfa, unit: 'values/s', baseline: { name: 'read every char once', value: largeFloor } },
    { name: `matcher: ${large.specs.length} unanchored patterns, NFA fallback only`, value: largeNfa, unit: 'values/s', baseline: { name: 'lazy DFA', value: largeDfa } },
    { name: `matcher: ${large.specs.length} unanchored patterns, 4 KB value of their words`, value: 1000 / flood, unit: 'ms/value', target: 'linear, bounded by the NFA' },
  ];
}
