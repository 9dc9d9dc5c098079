import { defineConfig } from 'tsup';

// Runs anywhere: no Node or DOM built-ins are assumed (see the sans-I/O rules in
// eslint.config.js and tsconfig.json).
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  platform: 'neutral',
  target: 'es2022',
  treeshake: true,
});
