import * as fs from 'node:fs';
import * as path from 'node:path';

/** Every path below `root` with its type and mode, sorted: to compare a tree before and after. */
export function snapshotTree(root: string): string[] {
  const entries: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const stat = fs.lstatSync(full);
      const type = stat.isDirectory() ? 'd' : stat.isSymbolicLink() ? 'l' : stat.isSocket() ? 's' : 'f';
      entries.push(`${type} ${(stat.mode & 0o7777).toString(8)} ${path.relative(root, full)}`);
      if (stat.isDirectory()) walk(full);
    }
  };
  walk(root);
  return entries.sort();
}
