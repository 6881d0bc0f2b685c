import * as path from 'node:path';

/** The repository root (tests run compiled, from dist/test/...). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
/** ../shared beside the checkout: fixtures and docs, read-only. */
export const SHARED_DIR = path.resolve(REPO_ROOT, '..', 'shared');
export const FIXTURES_DIR = path.join(SHARED_DIR, 'fixtures');
