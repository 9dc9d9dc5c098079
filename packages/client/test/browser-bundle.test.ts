/**
 * The browser build, proved with a real bundler: a page that imports
 * `@proj/client` is bundled by esbuild for the browser (as Vite, webpack or
 * esbuild would for a front-end app), through the package's `exports` map.
 * The `browser` condition must select dist/browser.*, a wrapper of the
 * native WebSocket, so no Node built-in and none of the Node implementation
 * reaches the bundle, and the bundle stays small.
 *
 * Needs `dist/` (the test command runs `turbo run build` first).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const testDir = fileURLToPath(new URL('.', import.meta.url));
const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const packageDir = fileURLToPath(new URL('..', import.meta.url));

/**
 * Three pages. One uses the WebSocket API only (`WebSocket` and an error
 * class), as most pages do; the other two take every export, one through
 * `import`, one through `require` (which resolves to the same ESM build: the
 * package is ESM only). Bounds in bytes gzipped, from the measurement
 * (esbuild 0.27, minified):
 * - the WebSocket page, 931 B: its bound stays the 1.5 KiB that held every
 *   export before `ReconnectingWebSocket` came, since the reconnecting code
 *   is a chunk of its own (tsup.config.ts) that the bundler drops whole;
 * - every export, ESM 8,218 B and CJS 8,470 B: `ReconnectingWebSocket` is
 *   about 7 KiB of it (19 KB minified: options checked with messages that
 *   name them, providers, the retry policy, the offline queue, five event
 *   and error classes, and the option checks of @proj/protocol it uses);
 *   bounds under 3% above, so that a few hundred bytes more are noticed.
 * When the package shipped a CommonJS build, the `require` page took about
 * 12.6 KiB for the WebSocket wrapper alone, all of @proj/protocol, since
 * CommonJS cannot be tree-shaken: one reason it ships none (tsup.base.ts).
 */
const PAGES = {
  websocket: `
    import { WebSocket, HandshakeError } from '@proj/client';
    const ws = new WebSocket('wss://example.test/feed', 'feed.v1');
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (event) => { document.title = String(event.data); };
    ws.onerror = (event) => console.log(event.error instanceof HandshakeError);
  `,
  esm: `
    import * as client from '@proj/client';
    import { ReconnectingWebSocket } from '@proj/client';
    const ws = new ReconnectingWebSocket('wss://example.test/feed', 'feed.v1');
    ws.onmessage = (event) => { document.title = String(event.data); };
    globalThis.client = client;
  `,
  cjs: `
    const client = require('@proj/client');
    const ws = new client.WebSocket('wss://example.test/feed');
    ws.addEventListener('close', (event) => console.log(event.code));
    globalThis.client = client;
  `,
} as const;
type Page = keyof typeof PAGES;
// A page with ReconnectingWebSocket carries the session layer (its `session` option: about 3 KiB gzipped).
const MAX_GZIP_BYTES: Record<Page, number> = { websocket: 1536, esm: 12288, cjs: 12544 };

/**
 * The files each page's bundle holds code of: the page, the browser entry,
 * the pure protocol core (error classes, option checks) and, where
 * `ReconnectingWebSocket` is used, the chunk of reconnecting code that the
 * entries share (its name's hash stands as `*`). The same ESM files whether
 * the page imports or requires.
 */
const EXPECTED_INPUTS: Record<Page, string[]> = {
  websocket: ['test/page.js', 'dist/browser.js', '../protocol/dist/index.js'],
  esm: ['test/page.js', 'dist/browser.js', 'dist/chunk-*.js', '../protocol/dist/index.js'],
  cjs: ['test/page.js', 'dist/browser.js', 'dist/chunk-*.js', '../protocol/dist/index.js'],
};

interface Bundle {
  code: string;
  gzipped: number;
  /** Every file the bundle holds code of, relative to packages/client. */
  inputs: string[];
}

async function bundlePage(contents: string): Promise<Bundle> {
  if (!existsSync(dist + 'browser.js')) {
    throw new Error(
      'packages/client/dist/browser.js is missing. This test bundles the BUILT package: run ' +
        'the build first (`pnpm build` at the repository root).',
    );
  }
  const result = await build({
    // Resolved from this directory, '@proj/client' is the package itself
    // (a self-reference through its own "exports").
    stdin: { contents, resolveDir: testDir, sourcefile: 'page.js', loader: 'js' },
    absWorkingDir: packageDir,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.text;
  // The files it parsed include those tree-shaking emptied: count only
  // those with bytes in the output.
  const [output] = Object.values(result.metafile.outputs);
  return {
    code,
    gzipped: gzipSync(code).length,
    inputs: Object.entries(output!.inputs)
      .filter(([, input]) => input.bytesInOutput > 0)
      .map(([path]) => path),
  };
}

describe.each(['websocket', 'esm', 'cjs'] as const)(
  'a browser bundle of a page using @proj/client (%s)',
  (kind) => {
    let bundled: Bundle;
    beforeAll(async () => {
      bundled = await bundlePage(PAGES[kind]);
    });
    it('resolves to the browser wrapper, never to the Node implementation', () => {
      const inputs = bundled.inputs.map((path) =>
        path.replace(/^dist\/chunk-\w+\.js$/, 'dist/chunk-*.js'),
      );
      expect(inputs.sort()).toEqual([...EXPECTED_INPUTS[kind]].sort());
    });

    it('contains no Node built-in and no code of the Node client', () => {
      const { code } = bundled;
      expect(code).not.toContain('node:');
      for (const builtin of [
        'net',
        'tls',
        'crypto',
        'events',
        'stream',
        'buffer',
        'http',
        'https',
      ]) {
        expect(code).not.toMatch(new RegExp(`require\\(\\s*["'\`]${builtin}["'\`]`));
        expect(code).not.toMatch(new RegExp(`from\\s*["'\`]${builtin}["'\`]`));
      }
      // Names that exist only in connect.ts / websocket.ts / the send and task queues.
      for (const marker of ['createConnection', 'setImmediate', 'process.', 'Buffer.from']) {
        expect(code).not.toContain(marker);
      }
      expect(code).not.toMatch(/\bBuffer\./);
      // What it does contain: the native classes, taken from the global object.
      expect(code).toMatch(/\.WebSocket\b/);
    });

    it(
      kind === 'websocket' ? 'leaves ReconnectingWebSocket out' : 'carries ReconnectingWebSocket',
      () => {
        // Its Symbol.toStringTag, which minifying keeps.
        if (kind === 'websocket') expect(bundled.code).not.toContain('ReconnectingWebSocket');
        else expect(bundled.code).toContain('"ReconnectingWebSocket"');
      },
    );

    it(`stays small: under ${MAX_GZIP_BYTES[kind]} bytes gzipped`, () => {
      const { code, gzipped } = bundled;
      console.log(
        `[browser bundle, ${kind}] ${code.length} bytes minified, ${gzipped} bytes gzipped`,
      );
      expect(gzipped).toBeLessThan(MAX_GZIP_BYTES[kind]);
    });
  },
);
