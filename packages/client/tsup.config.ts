import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.js';

// Two entries, one per runtime: package.json "exports" sends the "browser"
// condition to dist/browser.* and everything else to dist/node.*. ES2022 for
// the browsers; node.ts's `node:` imports stay external.
//
// Both entries export ReconnectingWebSocket, so the runtime-neutral code they
// share (reconnecting-websocket.ts and what it imports: no Node module, and
// browser.ts imports nothing else of ours) goes to one dist/chunk-*.js that
// both import (tsup splits ESM by default), and its declarations to one
// dist/reconnecting-websocket-*.d.ts.
// Why split rather than inline it in each entry (`splitting: false`): in its
// own module, the chunk is dropped whole by a bundler (the package has
// `sideEffects: false`) from a page that imports only WebSocket, which stays
// about 0.9 KiB gzipped; inlined in dist/browser.js, its static blocks and
// top-level calls keep all of it, about 8 KiB
// (test/browser-bundle.test.ts). Node loads one entry, so one copy of every
// class either way.
export default defineConfig(
  packageBuild({
    entry: ['src/node.ts', 'src/browser.ts'],
    target: 'es2022',
    bundle: ['@proj/transport'],
  }),
);
