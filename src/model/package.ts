import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The installed package (or checkout) root, where bundled data lives (rules/, assets/,
 * samples/, package.json). Found by walking up to keysentry's own package.json, so it holds
 * for dist/src/<stage>/ and for a packaged bundle alike.
 */
export const PACKAGE_ROOT: string = findPackageRoot(__dirname);

function findPackageRoot(from: string): string {
  for (let dir = from; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'keysentry') return dir;
    } catch {
      // No package.json here, or not JSON: keep walking up.
    }
  }
  // Compiled code runs from dist/src/<stage>/: three levels below the root.
  return path.resolve(from, '..', '..', '..');
}
