import * as path from 'node:path';

/**
 * The installed package (or checkout) root. Code always runs compiled, from dist/src/<stage>/,
 * so the root is three levels above this file's folder; bundled data (rules/, assets/,
 * samples/) is found from here.
 */
export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');
