/**
 * The config, token and rule files decide what the agent detects and where it reports, so
 * the agent only trusts files that nobody but root could have written: the file and every
 * directory above it must be owned by root and not writable by group or others. A root-owned
 * world-writable directory with the sticky bit (/tmp) is accepted: in it, only an entry's
 * owner can remove or rename that entry.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface TrustOptions {
  /** An owner trusted besides root (0 = root only, production). An agent run by a test as another user passes its uid. */
  trustedUid?: number;
  /** Also refuse the file when group or others can read it (tokens, private keys). */
  secret?: boolean;
}

/** Why one file is not trusted; `file` is the path the config named. */
export class UntrustedFileError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: refusing to use it: ${reason}`);
    this.name = 'UntrustedFileError';
  }
}

const S_ISVTX = 0o1000;
const MAX_TREE_ENTRIES = 10_000;

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

function whoCanWrite(mode: number): string {
  const group = (mode & 0o020) !== 0;
  const other = (mode & 0o002) !== 0;
  return group && other ? 'group and others' : group ? 'group' : 'others';
}

/** The problem with one path of the chain, or undefined when it is trusted. */
function problemWith(p: string, stat: fs.Stats, trustedUid: number, isTarget: boolean): string | undefined {
  if (stat.uid !== 0 && stat.uid !== trustedUid) {
    return `${isTarget ? 'it' : p} is owned by uid ${stat.uid}, not root${trustedUid === 0 ? '' : ` or uid ${trustedUid}`}`;
  }
  if ((stat.mode & 0o022) === 0) return undefined;
  if (stat.isDirectory() && (stat.mode & S_ISVTX) !== 0) return undefined;
  return `${isTarget ? 'it' : p} is writable by ${whoCanWrite(stat.mode)} (mode ${octal(stat.mode)})`;
}

function checkChain(file: string, start: string, trustedUid: number, startIsTarget: boolean): void {
  let current = start;
  for (;;) {
    const problem = problemWith(current, fs.statSync(current), trustedUid, startIsTarget && current === start);
    if (problem !== undefined) throw new UntrustedFileError(file, problem);
    const parent = path.dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

/**
 * Throws UntrustedFileError naming `file` when it, a directory above it, or (for a symlink)
 * the directories above the link could be written by anyone but the trusted owner.
 */
export function checkTrustedFile(file: string, options: TrustOptions = {}): void {
  const trustedUid = options.trustedUid ?? 0;
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch (err) {
    throw new UntrustedFileError(file, `cannot resolve it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  checkChain(file, real, trustedUid, true);
  // Whoever can write the directory holding a symlink can repoint it.
  const linkDir = fs.realpathSync(path.dirname(path.resolve(file)));
  if (!real.startsWith(`${linkDir}/`)) checkChain(file, linkDir, trustedUid, false);
  if (options.secret === true) {
    const mode = fs.statSync(real).mode;
    if ((mode & 0o044) !== 0) throw new UntrustedFileError(file, `it holds a secret but is readable by group or others (mode ${octal(mode)}); chmod 600 it`);
  }
}

/** checkTrustedFile on a rule path and, for a directory, on everything below it. */
export function checkTrustedTree(root: string, options: TrustOptions = {}): void {
  checkTrustedFile(root, options);
  const pending = [root];
  let seen = 0;
  while (pending.length > 0) {
    const dir = pending.pop() as string;
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (++seen > MAX_TREE_ENTRIES) throw new UntrustedFileError(root, `more than ${MAX_TREE_ENTRIES} entries below it`);
      const child = path.join(dir, entry.name);
      checkTrustedFile(child, options);
      if (entry.isDirectory() || (entry.isSymbolicLink() && fs.statSync(child).isDirectory())) pending.push(child);
    }
  }
}
