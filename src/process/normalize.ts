/**
 * Argument normalization: the `keysentry.*` fields of an exec event (docs/normalization.md).
 *
 * Elastic's rules match `process.args` as typed, so the same file reached through another
 * spelling (a relative path, `~`, a firmlink alias, `//` or `/../`, a path inside an
 * `sh -c` script or after `if=`) slips past them. This stage derives, from argv, cwd and the
 * user, the canonical absolute paths an exec names, so rules can match one spelling.
 *
 * argv is attacker-controlled: every step is a single left-to-right pass over the text
 * (script text is re-scanned at most MAX_SCRIPT_DEPTH times, for quoted strings nested in
 * quoted strings), no RegExp touches event data, and the output per event is capped, with
 * what was left out counted in `keysentry.dropped`. The field the rules read,
 * `keysentry.keychain_locations`, holds only credential keychain locations (each one a hit),
 * deduplicated, so no padding of argv, with or without the word "keychain", can push a
 * keychain location out of it: filling its cap takes as many real hits.
 */
import type { EcsDocument, EcsObject, EcsProcessEvent, EcsValue } from '../model/ecs';
import { basename } from './ecs';

export interface NormalizeInput {
  /** argv including argv[0]. */
  args: readonly string[];
  /** The process's working directory (absolute), when the source knows it. */
  cwd?: string;
  /** user.name: whose home `~` and `$HOME` stand for. */
  userName?: string;
  /** user.id, used for root's home when the name is missing. */
  userId?: string;
  /** process.name: decides whether script arguments follow shell grammar. */
  processName?: string;
  /**
   * argv joined by single spaces (ECS process.command_line as toEcsEvent builds it), when
   * already at hand: the per-exec pre-check then searches one string instead of every argument.
   */
  commandLine?: string;
}

export interface NormalizedArgs {
  /**
   * Canonical absolute path of every argument, option value and path-like script word (first
   * MAX_PATHS), for execs that may name a keychain (mayNameKeychain); empty for the others.
   */
  paths: string[];
  /** The subset of all candidate paths (before the MAX_PATHS cap) that contain "keychain" under case folding. */
  keychainPaths: string[];
  /**
   * The distinct credential keychain locations (keychainLocation) among all candidate paths,
   * whatever the caps on the two lists above left out: what the pack's rules read.
   */
  keychainLocations: string[];
  /** For tools with a known option grammar (`security`): the first operand after argv[0], options skipped. */
  subcommand?: string;
  /** Home directory `~` expanded to, when the user is known. */
  home?: string;
  /** Candidate paths left out by a cap. */
  dropped: number;
}

/** Output caps: one event's keysentry fields stay small however large argv is. */
export const LIMITS = {
  maxPaths: 128,
  maxKeychainPaths: 64,
  /** Every entry is a distinct keychain location, so reaching this cap takes 64 real hits. */
  maxKeychainLocations: 64,
  /** Sum of the lengths of the stored paths. */
  maxPathChars: 32 * 1024,
  /**
   * Longest word kept as a path candidate. The kernel refuses path arguments longer than
   * MAXPATHLEN (1,024 bytes) with ENAMETOOLONG, so a longer word is not a path a syscall opens.
   */
  maxPathWord: 4096,
  /** Longest base (`cd` or `-C` target) kept whole: MAXPATHLEN, the longest path one syscall accepts. */
  maxBasePath: 1024,
} as const;

/** Quoted strings inside script text are re-tokenized up to this depth (`sh -c "osascript -e '... \"cat x\"'"`). */
const MAX_SCRIPT_DEPTH = 4;

const SHELLS = new Set(['sh', 'bash', 'zsh', 'dash', 'ksh', 'mksh', 'csh', 'tcsh', 'fish']);
/** Words that run the next word as the command (their own options are skipped). */
const COMMAND_PREFIXES = new Set(['sudo', 'env', 'exec', 'command', 'nohup', 'time', 'nice', 'builtin', 'xcrun']);

/**
 * Per-tool getopt option strings for finding the subcommand: a letter followed by ':' takes
 * a value. security(1): `security [-hilqv] [-p prompt] command [command_options]`.
 */
const SUBCOMMAND_GRAMMAR: ReadonlyMap<string, string> = new Map([['security', 'hilp:qv']]);
/**
 * Code signing identifiers of the tools above. A copied or renamed platform binary keeps its
 * signature, so `/tmp/s dump-keychain` is still security(1). A signer may choose any identifier,
 * but the identity only adds a subcommand field and detections, never an exclusion (those
 * require /usr/bin/security's SIP-protected path), so a forged one gains an attacker nothing.
 */
const TOOL_BY_SIGNING_ID: ReadonlyMap<string, string> = new Map([['com.apple.security', 'security']]);

/** The tool an exec runs: by code identity when the signature names one of ours, else by its name. */
export function toolName<Name extends string | undefined>(processName: Name, signingId: string | undefined): string | Name {
  return (signingId === undefined ? undefined : TOOL_BY_SIGNING_ID.get(signingId)) ?? processName;
}

/**
 * Options that change the directory the operands after them are resolved against, per tool:
 * `tar -czf k.tgz -C ~/Library Keychains` archives ~/Library/Keychains. Like tar's -C, each
 * one is taken relative to the previous one. `short` is the option letter, `long` its long
 * names; `valueLetters` are the tool's other short options that take a value, so that in a
 * cluster `-fC` the C is f's value and not the option. Tools with no such option (zip, ditto,
 * rsync, cp, curl) are absent.
 */
interface DirectoryOption {
  short: string;
  long: readonly string[];
  valueLetters: string;
}
const TAR_DIRECTORY: DirectoryOption = { short: 'C', long: ['--directory', '--cd'], valueLetters: 'bfFgHIKLNTVX' };
const DIRECTORY_OPTIONS: ReadonlyMap<string, DirectoryOption> = new Map([
  ['tar', TAR_DIRECTORY],
  ['bsdtar', TAR_DIRECTORY],
  ['gtar', TAR_DIRECTORY],
  ['xar', { short: 'C', long: [], valueLetters: 'abfnsx' }],
  // GNU cpio: -D DIR, --directory=DIR.
  ['cpio', { short: 'D', long: ['--directory'], valueLetters: 'CEFHIMORW' }],
  // Apple Archive: `aa archive -d DIR -o out.aar`.
  ['aa', { short: 'd', long: [], valueLetters: 'abiost' }],
  ['git', { short: 'C', long: [], valueLetters: 'c' }],
  ['make', { short: 'C', long: ['--directory'], valueLetters: 'fIjlOoW' }],
  ['gmake', { short: 'C', long: ['--directory'], valueLetters: 'fIjlOoW' }],
  // GNU env 8.28+: -C DIR, --chdir=DIR.
  ['env', { short: 'C', long: ['--chdir'], valueLetters: 'Su' }],
]);
/** Longer than any verb of the tools above: a longer operand is left out rather than copied. */
const MAX_SUBCOMMAND = 64;

export function normalizeArguments(input: NormalizeInput): NormalizedArgs {
  return normalizeChecked(input, argvMayNameKeychain(input.args, input.cwd, input.commandLine));
}

/** The pre-check (mayNameKeychain): one search of the command line when it is at hand, else one per argument. */
function argvMayNameKeychain(args: readonly string[], cwd: string | undefined, commandLine: string | undefined): boolean {
  return commandLine !== undefined ? mayNameKeychainText(commandLine, cwd, args[0]?.length ?? 0) : mayNameKeychain(args, cwd);
}

/** normalizeArguments with the pre-check's verdict already at hand. */
function normalizeChecked(input: NormalizeInput, mayNameKeychain: boolean): NormalizedArgs {
  const args = input.args;
  const home = homeFor(input);
  const out: NormalizedArgs = { paths: [], keychainPaths: [], keychainLocations: [], dropped: 0 };
  if (mayNameKeychain) {
    const collector = new PathCollector(input, home);
    collector.arguments(args);
    out.paths = collector.paths;
    out.keychainPaths = collector.keychainPaths;
    out.keychainLocations = collector.keychainLocations;
    out.dropped = collector.dropped;
  }
  const grammar = SUBCOMMAND_GRAMMAR.get(input.processName ?? '');
  const subcommand = grammar === undefined ? undefined : findSubcommand(args, grammar);
  if (subcommand !== undefined && subcommand.length <= MAX_SUBCOMMAND) out.subcommand = subcommand;
  if (home !== undefined) out.home = home;
  return out;
}

function homeFor(input: NormalizeInput): string | undefined {
  if (input.userName !== undefined && input.userName !== '') return homeOf(input.userName);
  return input.userId === '0' ? '/var/root' : undefined;
}

/**
 * The pipeline's enrichment hook: fills `event.keysentry` from the event's own fields. For
 * events built by toEcsEvent, whose process.command_line is process.args joined by spaces.
 */
export function enrichEvent(event: EcsProcessEvent): void {
  const p = event.process;
  const args = Array.isArray(p.args) ? p.args : [];
  const cwd = typeof p.working_directory === 'string' ? p.working_directory : undefined;
  // toEcsEvent builds command_line as argv joined by spaces: the pre-check reads that one string.
  const commandLine = typeof p.command_line === 'string' ? p.command_line : undefined;
  const tool = toolName(p.name, p.code_signature?.signing_id);
  const mayName = argvMayNameKeychain(args, cwd, commandLine);
  // Most execs neither may name a keychain nor run a tool with a subcommand: they get no fields.
  if (!mayName && !SUBCOMMAND_GRAMMAR.has(tool)) return;
  const input: NormalizeInput = { args, processName: tool };
  if (commandLine !== undefined) input.commandLine = commandLine;
  if (cwd !== undefined) input.cwd = cwd;
  if (typeof event.user?.name === 'string') input.userName = event.user.name;
  if (typeof event.user?.id === 'string') input.userId = event.user.id;
  event.keysentry = Object.assign(event.keysentry ?? {}, keysentryFields(normalizeChecked(input, mayName)));
}

/**
 * The same for an ECS document read as it is (ECS NDJSON replay): its fields are only read
 * when they have the ECS types, its command_line is not trusted to match its args, and any
 * `keysentry` object it carries is replaced, since a document may claim anything there.
 */
export function enrichDocument(doc: EcsDocument): void {
  delete doc.keysentry;
  const p = doc.process;
  if (!isEcsObject(p) || !Array.isArray(p.args)) return;
  const args = p.args.filter((a): a is string => typeof a === 'string');
  const input: NormalizeInput = { args };
  const signature = p.code_signature;
  const signingId = isEcsObject(signature) && typeof signature.signing_id === 'string' ? signature.signing_id : undefined;
  const tool = toolName(typeof p.name === 'string' ? p.name : undefined, signingId);
  if (tool !== undefined) input.processName = tool;
  if (typeof p.working_directory === 'string') input.cwd = p.working_directory;
  const user = doc.user;
  if (isEcsObject(user) && typeof user.name === 'string') input.userName = user.name;
  if (isEcsObject(user) && typeof user.id === 'string') input.userId = user.id;
  const fields = keysentryFields(normalizeArguments(input));
  if (Object.keys(fields).length > 0) doc.keysentry = fields;
}

function isEcsObject(v: EcsValue | undefined): v is EcsObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The `keysentry.*` fields of a normalization, empty ones left out. */
function keysentryFields(n: NormalizedArgs): EcsObject {
  const fields: EcsObject = {};
  if (n.paths.length > 0) fields.paths = n.paths;
  if (n.keychainPaths.length > 0) fields.keychain_paths = n.keychainPaths;
  if (n.keychainLocations.length > 0) fields.keychain_locations = n.keychainLocations;
  if (n.subcommand !== undefined) fields.subcommand = n.subcommand;
  if (n.home !== undefined) fields.home = n.home;
  if (n.dropped > 0) fields.dropped = n.dropped;
  return fields;
}

/** Home directory of a macOS account: root's is /var/root, everyone else's /Users/<name>. */
export function homeOf(userName: string): string {
  return userName === 'root' ? '/var/root' : `/Users/${userName}`;
}

/**
 * Lexical canonical form of a path: `//` and `/./` collapsed, `..` applied, trailing slash
 * dropped, then the Data-volume firmlink prefix and the `/private` symlink targets mapped to
 * the names rules are written with. Symlinks other than those are not resolved (no file
 * system access: the event may describe another machine). A relative path with no base
 * stays relative, spelled `./...` so `*\/x` patterns still see a slash before its first name.
 */
export function canonicalPath(path: string, base?: string, baseIsCanonical = false): string {
  const absolute = path.startsWith('/');
  if (absolute ? isCanonical(path) : base !== undefined && (baseIsCanonical || isCanonical(base)) && isPlainRelative(path)) {
    return absolute ? path : base === '/' ? `/${path}` : `${base}/${path}`;
  }
  const stack: string[] = [];
  if (!absolute && base !== undefined && base.startsWith('/')) pushSegments(stack, base);
  const rooted = absolute || (base !== undefined && base.startsWith('/'));
  pushSegments(stack, path, rooted);
  if (!rooted) return stack.length === 0 ? '.' : `./${stack.join('/')}`;
  mapAliases(stack);
  return `/${stack.join('/')}`;
}

/**
 * Already canonical: absolute, no empty, `.` or `..` segment, no trailing slash, and not
 * under an alias prefix (its first letter is not s or p, whatever the case: /System, /private).
 * One pass from slash to slash, no copy: this is the common case and must stay cheap.
 */
function isCanonical(path: string): boolean {
  if (path === '/') return true;
  const first = foldChar(path.charCodeAt(1));
  return first !== 0x73 && first !== 0x70 && namesArePlain(path, false);
}

/** A relative path that joins a canonical base without changing it: no empty, `.` or `..` segment. */
function isPlainRelative(path: string): boolean {
  const first = foldChar(path.charCodeAt(0));
  return first !== 0x73 && first !== 0x70 && namesArePlain(path, true);
}

/**
 * No slash of `path`, nor one before it when `afterSlash` (a path to be joined to a base, read without copying
 * it), starts an empty, `.` or `..` name: no `//`, `/./`, `/../`, and no `/`, `/.`, `/..` at the end.
 */
function namesArePlain(path: string, afterSlash: boolean): boolean {
  const end = path.length;
  let slash = afterSlash ? -1 : path.indexOf('/');
  if (slash < 0 && !afterSlash) return true;
  for (;;) {
    let name = slash + 1;
    if (name === end || path.charCodeAt(name) === Ch.Slash) return false;
    if (path.charCodeAt(name) === Ch.Dot) {
      if (++name === end || path.charCodeAt(name) === Ch.Slash) return false;
      if (path.charCodeAt(name) === Ch.Dot && (++name === end || path.charCodeAt(name) === Ch.Slash)) return false;
    }
    slash = path.indexOf('/', slash + 1);
    if (slash < 0) return true;
  }
}

function pushSegments(stack: string[], path: string, rooted = true): void {
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i < path.length && path.charCodeAt(i) !== 0x2f) continue;
    const seg = path.slice(start, i);
    start = i + 1;
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      // `..` at the root stays at the root; above a relative path's start it is kept.
      if (stack.length > 0 && stack[stack.length - 1] !== '..') stack.pop();
      else if (!rooted) stack.push('..');
      continue;
    }
    stack.push(seg);
  }
}

/** /private/{var,etc,tmp} are where /var, /etc, /tmp point; the Data volume is firmlinked onto /. */
const PRIVATE_LINKS = ['var', 'etc', 'tmp'];

function mapAliases(stack: string[]): void {
  if (stack.length >= 3 && foldEquals(stack[0] as string, 'system') && foldEquals(stack[1] as string, 'volumes') && foldEquals(stack[2] as string, 'data')) {
    stack.splice(0, 3);
  }
  if (stack.length >= 2 && foldEquals(stack[0] as string, 'private') && PRIVATE_LINKS.some((l) => foldEquals(stack[1] as string, l))) {
    stack.shift();
  }
}

/**
 * APFS compares names case-insensitively with Unicode folding, so `/ſystem` names /System.
 * Only two non-ASCII code points fold onto ASCII letters under simple case folding:
 * KELVIN SIGN (U+212A -> k) and LATIN SMALL LETTER LONG S (U+017F -> s).
 */
function foldChar(c: number): number {
  if (c >= 0x41 && c <= 0x5a) return c | 0x20;
  if (c === 0x212a) return 0x6b;
  if (c === 0x17f) return 0x73;
  return c;
}

/** Keychain files rules name wherever they lie (a copy in /tmp is still the login keychain), lower case. */
const KEYCHAIN_FILE_NAMES = ['login.keychain', 'login.keychain-db', 'system.keychain'];

/**
 * The credential keychain location a canonical path names, or undefined: the `Library/Keychains`
 * folder the path is or lies in (`<prefix>/Library/Keychains`, any prefix: home, /Library,
 * /Network, a backup under /Volumes, a container), else the path itself when it is a login or
 * System keychain file elsewhere. Names compare as APFS compares them (foldEquals).
 * /System/Library/Keychains is not a location: it holds Apple's read-only, SIP-protected
 * trust stores (SystemRootCertificates.keychain: public root certificates), no secrets.
 */
export function keychainLocation(path: string, lowerCase = path.toLowerCase()): string | undefined {
  const folded = foldName(path, lowerCase);
  for (let at = folded.indexOf(KEYCHAINS_FOLDER); at >= 0; at = folded.indexOf(KEYCHAINS_FOLDER, at + 1)) {
    const end = at + KEYCHAINS_FOLDER.length;
    if (end < folded.length && folded.charCodeAt(end) !== Ch.Slash) continue;
    if (at === SYSTEM_FOLDER.length && folded.startsWith(SYSTEM_FOLDER)) return undefined;
    return path.slice(0, end);
  }
  return KEYCHAIN_FILE_NAMES.includes(folded.slice(folded.lastIndexOf('/') + 1)) ? path : undefined;
}

const KEYCHAINS_FOLDER = '/library/keychains';
/** `/System/Library/Keychains`: Apple's trust stores (keychainLocation). */
const SYSTEM_FOLDER = '/system';
const LONG_S = /\u017F/g;

/**
 * `path` folded as foldChar folds, with the same length, so an index into it is an index into
 * `path`. toLowerCase (native) folds KELVIN SIGN and ASCII; LONG S is already lower case and is
 * mapped after. When toLowerCase changes the length (U+0130 becomes two code units), each unit
 * is folded on its own.
 */
function foldName(path: string, lowerCase: string): string {
  if (lowerCase.length === path.length) return lowerCase.indexOf('\u017F') < 0 ? lowerCase : lowerCase.replace(LONG_S, 's');
  let out = '';
  for (let i = 0; i < path.length; i++) out += String.fromCharCode(foldChar(path.charCodeAt(i)));
  return out;
}

/** `s` equals the lower-case ASCII `lower` under case folding. */
function foldEquals(s: string, lower: string): boolean {
  if (s.length !== lower.length) return false;
  for (let i = 0; i < s.length; i++) if (foldChar(s.charCodeAt(i)) !== lower.charCodeAt(i)) return false;
  return true;
}

/**
 * Whether resolving this exec's words can yield a path that mentions "keychain": every
 * transformation below keeps the letters of a word (quotes and backslashes are removed,
 * bases prepended, `file://` URLs percent-decoded), so the word, the cwd or a quoted or
 * escaped spelling of it must already contain them. Almost no exec does, and for those
 * the whole normalization is skipped: this check uses native string search only, because
 * it runs on every exec and must cost a fraction of rule evaluation.
 */
export function mayNameKeychain(args: readonly string[], cwd: string | undefined): boolean {
  if (cwdMentionsKeychain(cwd)) return true;
  for (let i = 1; i < args.length; i++) {
    const arg = args[i] as string;
    // Every spelling of the 8 letters (quoted, escaped, percent-encoded) is at least 8 long.
    if (arg.length >= 8 && textMayNameKeychain(arg)) return true;
  }
  return false;
}

/** mayNameKeychain over argv already joined by spaces; `argv0Length` skips argv[0]. */
export function mayNameKeychainText(commandLine: string, cwd: string | undefined, argv0Length = 0): boolean {
  return cwdMentionsKeychain(cwd) || textMayNameKeychain(commandLine, argv0Length);
}

const KEYCHAIN_WORD = 'keychain';
/** The characters a shell removes from a word, which mentionsKeychain skips when reading through quoting. */
const QUOTING = ['\\', "'", '"'];

/**
 * What textMayNameKeychain looks for, ASCII letters case-insensitively, every other character exactly: the word
 * itself; KELVIN SIGN (a k under case folding); a letter of the word but its last followed by a quoting character,
 * which a spelling split by quotes or backslashes (Key''chain, Key\chain) must hold at its first split; the scheme
 * of a percent-encoded `file:` URL. Text with none of them gets no path fields. The capture's prefilter keeps an
 * exec urgent when its record holds one of them (src/process/record-text.ts), and textMayNameKeychain answers yes
 * only when one of them is there, so the prefilter cannot miss what this check finds. None contains a space: a hint found in argv
 * joined by spaces lies in one argument.
 */
export const KEYCHAIN_HINTS: readonly string[] = [
  KEYCHAIN_WORD,
  '\u212A',
  ...[...KEYCHAIN_WORD.slice(0, -1)].flatMap((letter) => QUOTING.map((q) => letter + q)),
  'file:',
];

/**
 * The word as a literal (irregexp's Boyer-Moore skip) and the scheme: no quantifier, no alternative, nothing to
 * backtrack into, so both searches are linear. The `i` flag without `u` folds ASCII only, as the prefilter compares.
 */
const KEYCHAIN_LITERAL = new RegExp(escapeRegExp(KEYCHAIN_WORD), 'gi');
const FILE_SCHEME = /file:/gi;

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/**
 * `from`: where to start looking (past argv[0], which names the image, not a file it reads). A yes implies a hint:
 * the word; a spelling split by quoting, whose first split is a hint; KELVIN SIGN; `file:`.
 */
function textMayNameKeychain(text: string, from = 0): boolean {
  // The word and its quoted or escaped spellings hold its y. Most command lines hold none (in either case): two
  // native searches rule both out, where a search for every hint costs several times more on a long line.
  if (text.indexOf('y', from) >= 0 || text.indexOf('Y', from) >= 0) {
    KEYCHAIN_LITERAL.lastIndex = from;
    if (KEYCHAIN_LITERAL.test(text)) return true;
    // Quotes or backslashes may split the word (Key''chains).
    if (QUOTING.some((q) => text.indexOf(q, from) >= 0) && mentionsKeychain(from === 0 ? text : text.slice(from), true)) return true;
  }
  if (text.indexOf('\u212A', from) >= 0) return true;
  FILE_SCHEME.lastIndex = from;
  return text.indexOf('%', from) >= 0 && FILE_SCHEME.test(text);
}

/**
 * A host runs from few working directories, so their verdicts are remembered: one hash lookup instead of the
 * searches. Bounded: at most MAX_CWD_VERDICTS entries of at most LIMITS.maxBasePath characters, cleared when full.
 */
const cwdVerdicts = new Map<string, boolean>();
const MAX_CWD_VERDICTS = 256;

function cwdMentionsKeychain(cwd: string | undefined): boolean {
  if (cwd === undefined) return false;
  if (cwd.length > LIMITS.maxBasePath) return textMayNameKeychain(cwd);
  let verdict = cwdVerdicts.get(cwd);
  if (verdict === undefined) {
    if (cwdVerdicts.size >= MAX_CWD_VERDICTS) cwdVerdicts.clear();
    verdict = textMayNameKeychain(cwd);
    cwdVerdicts.set(cwd, verdict);
  }
  return verdict;
}

/**
 * "keychain" occurs in `s` under case folding (with `throughQuoting`, quote and backslash
 * characters are skipped, as a shell removes them: `Key\chains`, `Key''chains`). Its
 * letters never overlap a shifted copy of themselves, so one pass suffices.
 */
export function mentionsKeychain(s: string, throughQuoting = false): boolean {
  const needle = 'keychain';
  let matched = 0;
  for (let i = 0; i < s.length; i++) {
    const c = foldChar(s.charCodeAt(i));
    if (throughQuoting && (c === Ch.Backslash || c === Ch.Quote || c === Ch.DoubleQuote)) continue;
    if (c === needle.charCodeAt(matched)) {
      if (++matched === needle.length) return true;
    } else {
      matched = c === 0x6b ? 1 : 0;
    }
  }
  return false;
}

/**
 * The first operand after argv[0] under a getopt option string: options (and the values of
 * those that take one) are skipped, `--` ends them. Without a grammar, any `-x` word is a flag.
 */
export function findSubcommand(args: readonly string[], grammar: string): string | undefined {
  for (let i = 1; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') return args[i + 1];
    if (a.length < 2 || a.charCodeAt(0) !== 0x2d) return a;
    // A cluster like `-qp prompt` or `-pprompt`: the first letter that takes a value ends it.
    for (let j = 1; j < a.length; j++) {
      const k = grammar.indexOf(a[j] as string);
      if (k >= 0 && grammar[k + 1] === ':') {
        if (j === a.length - 1) i++;
        break;
      }
    }
  }
  return undefined;
}

const enum Ch {
  Tab = 0x09,
  Newline = 0x0a,
  Return = 0x0d,
  Space = 0x20,
  DoubleQuote = 0x22,
  Dollar = 0x24,
  Ampersand = 0x26,
  Quote = 0x27,
  OpenParen = 0x28,
  CloseParen = 0x29,
  Plus = 0x2b,
  Comma = 0x2c,
  Dash = 0x2d,
  Dot = 0x2e,
  Slash = 0x2f,
  Semicolon = 0x3b,
  Less = 0x3c,
  Equals = 0x3d,
  Greater = 0x3e,
  At = 0x40,
  OpenBracket = 0x5b,
  Backslash = 0x5c,
  CloseBracket = 0x5d,
  Backtick = 0x60,
  Pipe = 0x7c,
  Tilde = 0x7e,
}

function isBlank(c: number): boolean {
  return c === Ch.Space || c === Ch.Tab || c === Ch.Newline || c === Ch.Return;
}

/** Ends a simple command in shell grammar (and a statement in most scripting languages). */
function isCommandBreak(c: number): boolean {
  return c === Ch.Semicolon || c === Ch.Ampersand || c === Ch.Pipe || c === Ch.OpenParen || c === Ch.CloseParen || c === Ch.Backtick || c === Ch.Newline;
}

/** Outside shell grammar (Python, AppleScript, JavaScript...), these also separate words: `open('/a','rb')`. */
function isCodePunctuation(c: number): boolean {
  return c === Ch.Comma || c === Ch.OpenBracket || c === Ch.CloseBracket || c === Ch.Plus;
}

/** A character the tokenizer copies into the current word as it is. */
function isOrdinary(c: number, shell: boolean): boolean {
  return !(c === Ch.Quote || c === Ch.DoubleQuote || c === Ch.Backslash || isBlank(c) || isCommandBreak(c) || c === Ch.Less || c === Ch.Greater || (!shell && isCodePunctuation(c)));
}

/** What a word is made of: plain characters, also blanks, or script syntax (quotes, separators, redirections). */
const enum Shape {
  Plain,
  Blanks,
  Syntax,
}

function shapeOf(s: string): Shape {
  let blanks = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isCommandBreak(c) || c === Ch.Quote || c === Ch.DoubleQuote || c === Ch.Less || c === Ch.Greater) return Shape.Syntax;
    if (isBlank(c)) blanks = true;
  }
  return blanks ? Shape.Blanks : Shape.Plain;
}

/** One word of script text and what precedes it. */
interface Word {
  text: string;
  /** The word follows `<` or `>`: the shell itself opens it. */
  redirect: boolean;
  /** The word starts a new simple command. */
  commandStart: boolean;
  /** The word was (partly) quoted: its blanks are literal. */
  quoted: boolean;
}

/**
 * Splits script text into words, shell-style: blanks separate, quotes group and are removed,
 * backslash escapes (not inside single quotes). One pass; words are emitted to `sink`.
 */
function tokenize(text: string, shell: boolean, sink: (w: Word) => void): void {
  let word = '';
  let inWord = false;
  let quoted = false;
  let redirectNext = false;
  let commandStart = true;
  const flush = (): void => {
    if (inWord) {
      sink({ text: word, redirect: redirectNext, commandStart, quoted });
      redirectNext = false;
      commandStart = false;
    }
    word = '';
    inWord = false;
    quoted = false;
  };
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === Ch.Quote) {
      const end = text.indexOf("'", i + 1);
      const stop = end < 0 ? text.length : end;
      word += text.slice(i + 1, stop);
      inWord = true;
      quoted = true;
      i = stop + 1;
      continue;
    }
    if (c === Ch.DoubleQuote) {
      i++;
      while (i < text.length && text.charCodeAt(i) !== Ch.DoubleQuote) {
        const d = text.charCodeAt(i);
        if (d === Ch.Backslash && i + 1 < text.length) {
          const e = text.charCodeAt(i + 1);
          if (e === Ch.DoubleQuote || e === Ch.Backslash || e === Ch.Dollar || e === Ch.Backtick) {
            word += text[i + 1];
            i += 2;
            continue;
          }
        }
        word += text[i];
        i++;
      }
      inWord = true;
      quoted = true;
      i++;
      continue;
    }
    if (c === Ch.Backslash && i + 1 < text.length) {
      word += text[i + 1];
      inWord = true;
      i += 2;
      continue;
    }
    if (isBlank(c) && c !== Ch.Newline) {
      flush();
      i++;
      continue;
    }
    if (isCommandBreak(c)) {
      flush();
      commandStart = true;
      i++;
      continue;
    }
    if (c === Ch.Less || c === Ch.Greater) {
      flush();
      redirectNext = true;
      i++;
      continue;
    }
    if (!shell && isCodePunctuation(c)) {
      flush();
      i++;
      continue;
    }
    const start = i;
    while (++i < text.length && isOrdinary(text.charCodeAt(i), shell));
    word += text.slice(start, i);
    inWord = true;
  }
  flush();
}

/** Gathers candidate paths from argv and embedded scripts into the capped output lists. */
class PathCollector {
  readonly paths: string[] = [];
  readonly keychainPaths: string[] = [];
  readonly keychainLocations: string[] = [];
  readonly home: string | undefined;
  dropped = 0;
  private readonly seen = new Set<string>();
  private readonly processName: string | undefined;
  private pathChars = 0;
  private checkedBase: string | undefined;
  private checkedBaseMayNameKeychain = false;
  private readonly cwd: string | undefined;
  private readonly shell: boolean;

  constructor(input: NormalizeInput, home: string | undefined) {
    // Every base the collector resolves against is canonical: the cwd made so here, `cd` targets by resolveBase.
    this.cwd = input.cwd !== undefined && input.cwd.startsWith('/') ? canonicalPath(input.cwd) : undefined;
    this.home = home;
    this.shell = SHELLS.has(input.processName ?? '');
    this.processName = input.processName;
  }

  /** argv after argv[0], each word resolved against the cwd or the directory a `-C DIR` option moved to. */
  arguments(args: readonly string[]): void {
    const bases = new OperandBases(DIRECTORY_OPTIONS.get(this.processName ?? ''), this.cwd, (dir, base) => this.resolveBase(dir, base));
    for (let i = 1; i < args.length; i++) {
      const arg = args[i] as string;
      this.argument(arg, bases.next(arg));
    }
  }

  /** One argv element. Every non-option word may be a relative path, so all of them are resolved. */
  private argument(arg: string, base: string | undefined): void {
    const shape = shapeOf(arg);
    if (arg.charCodeAt(0) === 0x2d) {
      const value = optionValue(arg);
      if (value !== undefined) this.candidate(value, base);
    } else {
      const value = assignmentValue(arg);
      if (value !== undefined) this.candidate(value, base);
      // A shell's script argument is script text, not a path with blanks in it.
      else if (shape === Shape.Plain || (shape === Shape.Blanks && !this.shell)) this.candidate(arg, base);
    }
    if (shape !== Shape.Plain) this.script(arg, this.shell, 1, base);
  }

  /**
   * Script text: words that look like paths are candidates. In shell grammar a simple command
   * run by `security` is skipped (its own exec is evaluated with the verb-aware exclusions),
   * except its redirections, which the shell performs; `cd DIR` moves the base of later
   * relative words. Quoted words with blanks in them are scripts one level down.
   */
  private script(text: string, shell: boolean, depth: number, cwd: string | undefined): void {
    const skipSecurity = shell && !redefinesSecurity(text);
    let base = cwd;
    let commandWord: string | undefined;
    let awaitingCommand = true;
    let afterPrefix = false;
    let wordsInCommand = 0;
    // The base of the current simple command's operands, moved by its `-C DIR` options (tar, git, make).
    let operandBases: OperandBases | undefined;
    tokenize(text, shell, (w) => {
      if (w.commandStart) {
        commandWord = undefined;
        awaitingCommand = true;
        afterPrefix = false;
        wordsInCommand = 0;
        operandBases = undefined;
      }
      const isAssignment = assignmentValue(w.text) !== undefined;
      let wordBase = base;
      if (awaitingCommand && !w.redirect && !isAssignment && !(afterPrefix && w.text.startsWith('-'))) {
        const name = basename(w.text);
        if (COMMAND_PREFIXES.has(name)) {
          afterPrefix = true;
        } else {
          commandWord = name;
          awaitingCommand = false;
          const option = DIRECTORY_OPTIONS.get(name);
          if (option !== undefined) operandBases = new OperandBases(option, base, (dir, from) => this.resolveBase(dir, from));
        }
      } else if (!w.redirect) {
        wordsInCommand++;
        if (operandBases !== undefined) wordBase = operandBases.next(w.text);
      }
      if (shell && commandWord === 'cd' && wordsInCommand === 1 && !w.redirect) {
        base = this.resolveBase(w.text, base);
      }
      const skipped = skipSecurity && commandWord === 'security' && !w.redirect;
      // A script handed to another shell is read as script only, never as one long path.
      const shape = shapeOf(w.text);
      const wrapped = w.quoted && commandWord !== undefined && SHELLS.has(commandWord) && shape !== Shape.Plain;
      if (!skipped && !wrapped && shape !== Shape.Syntax && scriptWordIsPathLike(w.text) && (shape === Shape.Plain || startsLikeAbsolute(w.text))) {
        const value = assignmentValue(w.text) ?? optionValue(w.text);
        this.candidate(value ?? w.text, wordBase);
      }
      if (!skipped && w.text.indexOf(':') >= 0 && w.text.indexOf('/') < 0 && mentionsKeychain(w.text)) {
        // AppleScript HFS path ("Macintosh HD:Users:x:Library:Keychains:"): ':' separates names.
        this.candidate(`/${w.text.split(':').join('/')}`, wordBase);
      }
      if (!skipped && w.quoted && depth < MAX_SCRIPT_DEPTH && shape !== Shape.Plain) {
        this.script(w.text, shell, depth + 1, wordBase);
      }
    });
  }

  /**
   * The directory `cd DIR` or a `-C DIR` option moves to. Repeated relative moves (`-C a -C a ...`)
   * would grow the base without end and make every later word cost its length, so a base longer
   * than LIMITS.maxBasePath keeps only its last names (half the limit, so the cut is amortized).
   */
  private resolveBase(word: string, base: string | undefined): string | undefined {
    const expanded = this.expandHome(word);
    const target = expanded ?? word;
    const resolved = target.startsWith('/') ? canonicalPath(target) : base === undefined ? undefined : canonicalPath(target, base, true);
    if (resolved === undefined || resolved.length <= LIMITS.maxBasePath) return resolved;
    const cut = resolved.indexOf('/', resolved.length - LIMITS.maxBasePath / 2);
    return cut < 0 ? '/' : resolved.slice(cut);
  }

  /** Whether resolving words against `base` may yield a keychain path, remembered for the last base seen. */
  private baseMayNameKeychain(base: string | undefined): boolean {
    if (base !== this.checkedBase) {
      this.checkedBase = base;
      this.checkedBaseMayNameKeychain = base !== undefined && textMayNameKeychain(base);
    }
    return this.checkedBaseMayNameKeychain;
  }

  /** `~`, `~/x`, `~name/x`, `$HOME/x`, `${HOME}/x` with the home filled in; undefined if not home-relative or home unknown. */
  private expandHome(word: string): string | undefined {
    const rest = homeRelativeRest(word);
    if (rest === undefined) return undefined;
    if (rest.user !== undefined) return homeOf(rest.user) + rest.path;
    return this.home === undefined ? undefined : this.home + rest.path;
  }

  private candidate(raw: string, base: string | undefined): void {
    let text = raw;
    if (text.length === 0 || text.length > LIMITS.maxPathWord) {
      if (text.length > LIMITS.maxPathWord) this.dropped++;
      return;
    }
    // Once the general list is full, only a word that can yield a keychain path is worth resolving:
    // this keeps a long argv of padding words linear however long the base they join is.
    if (this.pathsFull() && !textMayNameKeychain(text) && !this.baseMayNameKeychain(base)) {
      this.dropped++;
      return;
    }
    const first = text.charCodeAt(0);
    if (first === Ch.At || first === Ch.Less) text = text.slice(1); // curl `-F f=@path`, `-d @path`, `name=<path`
    const filePath = fileUrlPath(text);
    if (filePath !== undefined) text = decodePercent(filePath);
    else if (text.indexOf('://') >= 0) return; // a URL names no local file
    if (text.length === 0) return;
    const home = homeRelativeRest(text);
    if (home !== undefined) {
      // As typed (the shell's HOME may differ from the account's: sudo keeps it) and expanded.
      const rest: string[] = [];
      pushSegments(rest, home.path, false);
      this.add(`~${home.user ?? ''}${rest.length === 0 ? '' : `/${rest.join('/')}`}`);
      const expanded = this.expandHome(text);
      if (expanded !== undefined) this.add(canonicalPath(expanded));
      return;
    }
    this.add(canonicalPath(text, base, true));
  }

  private pathsFull(): boolean {
    return this.paths.length >= LIMITS.maxPaths || this.pathChars >= LIMITS.maxPathChars;
  }

  private add(path: string): void {
    if (this.seen.has(path)) return;
    let stored = false;
    let left = false;
    // toLowerCase folds KELVIN SIGN to k: the same test as mentionsKeychain, natively.
    const lowerCase = path.toLowerCase();
    if (lowerCase.indexOf('keychain') >= 0) {
      this.addLocation(path, lowerCase);
      if (this.keychainPaths.length < LIMITS.maxKeychainPaths) {
        this.keychainPaths.push(path);
        stored = true;
      } else left = true;
    }
    if (this.paths.length < LIMITS.maxPaths && this.pathChars + path.length <= LIMITS.maxPathChars) {
      this.paths.push(path);
      this.pathChars += path.length;
      stored = true;
    } else left = true;
    // Only stored paths are remembered, so the set is bounded by the two caps.
    if (stored) this.seen.add(path);
    if (left) this.dropped++;
  }

  /** Locations are few and deduplicated: a path that repeats one (any file in the folder) adds nothing. */
  private addLocation(path: string, lowerCase: string): void {
    const location = keychainLocation(path, lowerCase);
    if (location === undefined || this.keychainLocations.includes(location)) return;
    if (this.keychainLocations.length < LIMITS.maxKeychainLocations) this.keychainLocations.push(location);
    else this.dropped++;
  }
}

/** What an argv word is to a tool's directory option (directoryOperand). */
type DirectoryWord = { dir: string } | 'dir-next' | 'value-next' | undefined;

/**
 * `-C DIR`, `-CDIR`, `-xC DIR`, `--directory=DIR`, `--directory DIR` under `option`; also
 * whether the word is a cluster whose last letter takes the next word as its value (`-czf`),
 * so that value is not read as an option.
 */
function directoryOperand(word: string, option: DirectoryOption): DirectoryWord {
  if (word.length < 2 || word.charCodeAt(0) !== Ch.Dash) return undefined;
  if (word.charCodeAt(1) === Ch.Dash) {
    const eq = word.indexOf('=');
    if (!option.long.includes(eq < 0 ? word : word.slice(0, eq))) return undefined;
    return eq < 0 ? 'dir-next' : { dir: word.slice(eq + 1) };
  }
  for (let j = 1; j < word.length; j++) {
    const letter = word[j] as string;
    const last = j === word.length - 1;
    if (letter === option.short) return last ? 'dir-next' : { dir: word.slice(j + 1) };
    // The rest of the word, or the next word, is this letter's value.
    if (option.valueLetters.includes(letter)) return last ? 'value-next' : undefined;
  }
  return undefined;
}

/**
 * The base each operand of one command resolves against, as the tool's directory option moves
 * it (getopt order: options and operands in the order given, `--` ends options). One step per
 * word, constant state: linear in argv.
 */
class OperandBases {
  private pending: 'dir' | 'value' | undefined;
  private optionsEnded = false;

  constructor(
    private readonly option: DirectoryOption | undefined,
    private base: string | undefined,
    private readonly resolve: (dir: string, base: string | undefined) => string | undefined,
  ) {}

  /** The base `word` resolves against; a directory option or its value moves the base of the words after it. */
  next(word: string): string | undefined {
    const base = this.base;
    if (this.option === undefined) return base;
    if (this.pending !== undefined) {
      if (this.pending === 'dir') this.base = this.resolve(word, base);
      this.pending = undefined;
      return base;
    }
    if (this.optionsEnded) return base;
    if (word === '--') {
      this.optionsEnded = true;
      return base;
    }
    const role = directoryOperand(word, this.option);
    if (role === 'dir-next') this.pending = 'dir';
    else if (role === 'value-next') this.pending = 'value';
    else if (role !== undefined) this.base = this.resolve(role.dir, base);
    return base;
  }
}

/**
 * The path of a `file:` URL, else undefined. Schemes are case-insensitive (RFC 3986: `FILE://`,
 * `File://` are file URLs too); `file://host/path` names /path (curl and Finder accept localhost),
 * and `file:/path` is the short form. The path is still percent-encoded.
 */
function fileUrlPath(text: string): string | undefined {
  if (text.length < 5 || !foldEquals(text.slice(0, 5), 'file:')) return undefined;
  const rest = text.slice(5);
  if (!rest.startsWith('//')) return rest.startsWith('/') ? rest : undefined;
  const slash = rest.indexOf('/', 2);
  return slash < 0 ? '' : rest.slice(slash);
}

/** `~[user]/rest`, `$HOME/rest`, `${HOME}/rest` -> the user (for `~user`) and `/rest`; else undefined. */
function homeRelativeRest(word: string): { user?: string; path: string } | undefined {
  let after: number;
  if (word.startsWith('${HOME}')) after = 7;
  else if (word.startsWith('$HOME')) after = 5;
  else if (word.charCodeAt(0) === Ch.Tilde) {
    let end = word.indexOf('/');
    if (end < 0) end = word.length;
    const user = word.slice(1, end);
    const path = word.slice(end);
    return user === '' ? { path } : { user, path };
  } else return undefined;
  if (after < word.length && word.charCodeAt(after) !== Ch.Slash) return undefined; // `$HOMEBREW_PREFIX`
  return { path: word.slice(after) };
}

/** The value of `name=value` when `name` is an identifier-like key (`if=`, `file=`, `D=`), else undefined. */
function assignmentValue(word: string): string | undefined {
  const eq = word.indexOf('=');
  if (eq <= 0) return undefined;
  for (let i = 0; i < eq; i++) {
    const c = word.charCodeAt(i) | 0x20;
    const ident = (c >= 0x61 && c <= 0x7a) || (word.charCodeAt(i) >= 0x30 && word.charCodeAt(i) <= 0x39) || word[i] === '_' || word[i] === '-' || word[i] === '.';
    if (!ident) return undefined;
  }
  return word.slice(eq + 1);
}

/**
 * The value of an option word: `--opt=value`, `-o=value`, or a value glued to a short option or
 * cluster (`-T/path`, `-o~/x`, `-F@file`, `-czf./k.tgz`) when it starts like a path (`/`, `~`,
 * `./`, `../`) or a curl file reference (`@`). Any tool: getopt reads `-Xvalue` so for every
 * letter that takes a value. Other glued words (`-rf`, `-n5`) are flags, not paths.
 */
function optionValue(word: string): string | undefined {
  if (word.charCodeAt(0) !== Ch.Dash) return undefined;
  const eq = word.indexOf('=');
  if (eq > 0) return word.slice(eq + 1);
  if (word.charCodeAt(1) === Ch.Dash) return undefined;
  let j = 1;
  while (j < word.length && isAsciiAlphanumeric(word.charCodeAt(j))) j++;
  if (j < 2 || j >= word.length) return undefined;
  const c = word.charCodeAt(j);
  const rest = word.slice(j);
  return c === Ch.Slash || c === Ch.Tilde || c === Ch.At || rest.startsWith('./') || rest.startsWith('../') ? rest : undefined;
}

function isAsciiAlphanumeric(c: number): boolean {
  const lower = c | 0x20;
  return (lower >= 0x61 && lower <= 0x7a) || (c >= 0x30 && c <= 0x39);
}

/** A script word worth resolving: it has a slash, starts at home or a variable, or names a keychain. */
function scriptWordIsPathLike(word: string): boolean {
  if (word.length === 0) return false;
  const c = word.charCodeAt(0);
  return word.indexOf('/') >= 0 || c === Ch.Tilde || c === Ch.Dollar || mentionsKeychain(word);
}

/** A quoted word with blanks is kept as one path only when it is spelled from the root or home. */
function startsLikeAbsolute(word: string): boolean {
  const c = word.charCodeAt(0);
  return c === Ch.Slash || c === Ch.Tilde || c === Ch.Dollar;
}

/**
 * The script may make `security` something other than /usr/bin/security (a function, an
 * alias), in which case its words are not left to a later `security` exec. Shell names and
 * keywords are case-sensitive, so plain indexOf is exact here.
 */
function redefinesSecurity(text: string): boolean {
  if (text.indexOf('function') >= 0 || text.indexOf('alias') >= 0) return true;
  for (let i = text.indexOf('security'); i >= 0; i = text.indexOf('security', i + 8)) {
    let j = i + 8;
    while (j < text.length && isBlank(text.charCodeAt(j))) j++;
    if (text.charCodeAt(j) === Ch.OpenParen || text.charCodeAt(j) === Ch.Equals) return true;
  }
  return false;
}

function decodePercent(s: string): string {
  if (s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
