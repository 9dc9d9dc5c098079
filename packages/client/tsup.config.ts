import { defineConfig } from 'tsup';

// Two entries, one per runtime: package.json "exports" sends the "browser"
// condition to dist/browser.* and everything else to dist/node.*.
export default defineConfig({
  entry: ['src/node.ts', 'src/browser.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  treeshake: true,
  // The Node transport is a private workspace package: bundled, never a dependency.
  noExternal: ['@proj/transport'],
  // browser.ts must not pull in Node code; node.ts may use node: built-ins, which
  // stay external with platform "node".
  platform: 'node',
});
