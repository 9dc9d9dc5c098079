import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.js';

// Two entries: `@proj/testing` (Node, for any test runner) and
// `@proj/testing/playwright` (the fixture), so that vitest and node:test users
// never load Playwright. What both use (the server, the peers, the errors)
// goes to one shared dist/chunk-*.js (tsup splits ESM by default): one copy
// of every class, so `instanceof` holds whichever entry threw.
export default defineConfig(packageBuild({ entry: ['src/index.ts', 'src/playwright.ts'] }));
