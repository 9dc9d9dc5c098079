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
 * Two pages: one imports every export (what front-end bundlers use), the
 * other `require`s the package, which resolves to the same ESM build (the
 * package is ESM only). Bounds in bytes gzipped, from the measurement
 * (esbuild 0.27, minified): ESM 1,056 B and CJS 1,247 B, since only the error
 * classes come from @proj/protocol. When the package shipped a CommonJS
 * build, the `require` page took about 12.6 KiB, all of @proj/protocol, since
 * CommonJS cannot be tree-shaken: one reason it ships none (tsup.base.ts).
 */
const PAGES = {
  esm: `
    import * as client from '@proj/client';
    import { WebSocket, HandshakeError } from '@proj/client';
    const ws = new WebSocket('wss://example.test/feed', 'feed.v1');
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (event) => { document.title = String(event.data); };
    ws.onerror = (event) => console.log(event.error instanceof HandshakeError);
    globalThis.client = client;
  `,
  cjs: `
    const client = require('@proj/client');
    const ws = new client.WebSocket('wss://example.test/feed');
    ws.addEventListener('close', (event) => console.log(event.code));
    globalThis.client = client;
  `,
} as const;
const MAX_GZIP_BYTES = { esm: 1536, cjs: 2048 } as const;

interface Bundle {
  code: string;
  gzipped: number;
  /** Every file in the bundle, relative to packages/client. */
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
  return {
    code,
    gzipped: gzipSync(code).length,
    inputs: Object.keys(result.metafile.inputs),
  };
}

describe.each(['esm', 'cjs'] as const)(
  'a browser bundle of a page using @proj/client (%s)',
  (kind) => {
    let bundled: Bundle;
    beforeAll(async () => {
      bundled = await bundlePage(PAGES[kind]);
    });
    it('resolves to the browser wrapper, never to the Node implementation', () => {
      const { inputs } = bundled;
      // The page, the browser entry, and the pure protocol core it re-exports
      // errors from: the same ESM files whether the page imports or requires.
      expect(inputs.sort()).toEqual(
        ['test/page.js', 'dist/browser.js', '../protocol/dist/index.js'].sort(),
      );
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

    it(`stays small: under ${MAX_GZIP_BYTES[kind]} bytes gzipped`, () => {
      const { code, gzipped } = bundled;
      console.log(
        `[browser bundle, ${kind}] ${code.length} bytes minified, ${gzipped} bytes gzipped`,
      );
      expect(gzipped).toBeLessThan(MAX_GZIP_BYTES[kind]);
    });
  },
);
