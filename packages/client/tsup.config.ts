import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.js';

// Two entries, one per runtime: package.json "exports" sends the "browser"
// condition to dist/browser.* and everything else to dist/node.*. browser.ts
// imports nothing of the Node code, so no chunk is shared; it is ES2022 for
// the browsers, and node.ts's `node:` imports stay external.
export default defineConfig(
  packageBuild({
    entry: ['src/node.ts', 'src/browser.ts'],
    target: 'es2022',
    bundle: ['@proj/transport'],
  }),
);
