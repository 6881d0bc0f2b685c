// Entry point of the keysentry single executable (Contents/MacOS/keysentry): a Node SEA can
// only embed one script, so it loads the real program from the signed bundle's
// Contents/Resources/app, whose files are sealed by the bundle signature.
'use strict';
const path = require('node:path');
const { createRequire } = require('node:module');

const app = path.resolve(path.dirname(process.execPath), '..', 'Resources', 'app');
createRequire(path.join(app, 'package.json'))('./dist/src/cli/main.js').cli();
