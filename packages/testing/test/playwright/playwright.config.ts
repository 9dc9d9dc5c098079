/**
 * The Playwright run of test/playwright-fixture.test.ts: the fixtures in
 * Playwright's own runner, with no browser (the specs drive the server with
 * @proj/client's Node WebSocket, so none is launched).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  forbidOnly: true,
  retries: 0,
  workers: 1,
  timeout: 30_000,
  // test/playwright-fixture.test.ts reads the JSON report from stdout; nothing is written.
  reporter: [['json']],
  outputDir: process.env['PROJ_TESTING_OUTPUT'] ?? join(tmpdir(), 'proj-testing-playwright'),
});
