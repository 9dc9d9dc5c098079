import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.js';

// Runs anywhere: no Node or DOM built-ins are assumed (see the sans-I/O rules in
// eslint.config.js and tsconfig.json).
export default defineConfig(
  packageBuild({ entry: ['src/index.ts'], platform: 'neutral', target: 'es2022' }),
);
