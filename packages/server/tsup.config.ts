import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  platform: 'node',
  target: 'node20',
  treeshake: true,
  // The Node transport is a private workspace package: bundled, never a dependency.
  noExternal: ['@proj/transport'],
});
