import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Tests import @proj/* through the "source" export condition, so they run against
// src/*.ts without a build. The condition is added in front of Vite's defaults
// (setting `conditions` replaces them); Node-environment tests resolve through
// the SSR list, jsdom/browser ones through the client list.
export default defineConfig({
  resolve: { conditions: ['source', ...defaultClientConditions] },
  ssr: { resolve: { conditions: ['source', ...defaultServerConditions] } },
  test: {
    // Upper bounds only: CI machines are shared 2-core boxes, and a test that
    // is merely slow under load must not fail. Tests await events, never sleep.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // A stray `.only` would run a fraction of the suite and still report
    // `0 failed`: refuse it everywhere, not just when CI is set (vitest's
    // default). Every vitest run in the repo (apps, conformance) uses this file.
    allowOnly: false,
    // purity.test.ts loads the ESM bundle through vm.SourceTextModule.
    execArgv: ['--experimental-vm-modules', '--disable-warning=ExperimentalWarning'],
    include: [
      'packages/*/test/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'conformance/**/*.test.ts',
      'integration/**/*.test.ts',
    ],
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**'],
      exclude: ['**/*.d.ts'],
      reporter: ['text', 'json-summary'],
      thresholds: {
        'packages/protocol/src/**': { lines: 95, branches: 95, functions: 95, statements: 95 },
      },
    },
  },
});
