// @ts-check
// Bundles page.js for browsers into dist/page.js with esbuild.
//
//   node build.mjs
//
// `import { WebSocket } from '@proj/client'` resolves through the package's
// `browser` export condition (esbuild's platform "browser" sets it) to the
// small wrapper of the browser's own WebSocket: no Node code is bundled. It
// uses the built package (packages/client/dist), as an application would, so
// build the packages first (`pnpm build` at the repository root).
//
// The files are written to a temporary name and renamed into place, so a
// running server (or a concurrent build) never serves a half-written bundle.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const appDir = fileURLToPath(new URL('.', import.meta.url));
const outfile = fileURLToPath(new URL('dist/page.js', import.meta.url));

const result = await build({
  absWorkingDir: appDir,
  entryPoints: ['page.js'],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  write: false,
  metafile: true,
  logLevel: 'warning',
}).catch((/** @type {Error} */ error) => {
  console.error(
    `build failed: ${error.message.split('\n')[0]}\n` +
      'Is @proj/client built? Run `pnpm build` at the repository root first.',
  );
  process.exit(1);
});

const nodeImports = Object.keys(result.metafile.inputs).filter((input) =>
  /(^|\/)node:|packages\/client\/(src|dist)\/node/.test(input),
);
if (nodeImports.length > 0) {
  console.error(`build failed: Node code reached the browser bundle: ${nodeImports.join(', ')}`);
  process.exit(1);
}

await mkdir(fileURLToPath(new URL('dist/', import.meta.url)), { recursive: true });
for (const file of result.outputFiles) {
  const temporary = `${file.path}.${process.pid}.tmp`;
  await writeFile(temporary, file.contents);
  await rename(temporary, file.path);
}
const page = result.outputFiles.find((file) => file.path === outfile);
console.log(`built dist/${basename(outfile)} (${page?.contents.length ?? 0} bytes)`);
