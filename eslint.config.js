// One flat config for the whole monorepo. The only project-specific part is the
// fence around packages/protocol/src: that package is sans-I/O (bytes in, events
// and bytes out), so it may not import Node/DOM I/O or use timers and host globals.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const SANS_IO = '@proj/protocol is sans-I/O: no Node, DOM, timers or host globals here.';
const forbiddenModules = [
  'buffer',
  'events',
  'stream',
  'zlib',
  'crypto',
  'net',
  'tls',
  'http',
  'https',
  'ws',
];
const forbiddenGlobals = [
  'Buffer',
  'process',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'queueMicrotask',
  'window',
  'document',
  'require',
];

export default defineConfig([
  globalIgnores([
    '**/dist/',
    '**/coverage/',
    '**/.turbo/',
    '**/node_modules/',
    'test-results/',
    'playwright-report/',
  ]),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    rules: {
      // `_name` marks a parameter or binding that is intentionally unused.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // Node 20's V8 calls a private getter through the runtime on every access
    // (Runtime_LoadPrivateGetter), never inlined: hot paths paid for it.
    files: ['packages/*/src/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'MethodDefinition[kind="get"] > PrivateIdentifier.key',
          message:
            'A private getter is a runtime call per access in Node 20: use a private method.',
        },
      ],
    },
  },
  {
    // globalThis.Buffer and globalThis.process are accessors in Node 20: a
    // getter call per use. Imported, they are plain bindings.
    files: ['packages/*/src/**'],
    ignores: ['packages/protocol/src/**'],
    rules: {
      'no-restricted-globals': [
        'error',
        {
          name: 'Buffer',
          message: "Import it: `import { Buffer } from 'node:buffer'` (the global is an accessor).",
        },
        {
          name: 'process',
          message: "Import it: `import process from 'node:process'` (the global is an accessor).",
        },
      ],
    },
  },
  {
    files: ['packages/protocol/src/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: forbiddenModules.map((name) => ({ name, message: SANS_IO })),
          patterns: [{ group: ['node:*'], message: SANS_IO }],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...forbiddenGlobals.map((name) => ({ name, message: SANS_IO })),
      ],
    },
  },
]);
