import { defineConfig } from '@playwright/test';
import { CHROMIUM_PATH, FIREFOX_PATH } from './browsers.js';

/**
 * Real Chromium and Firefox ESR from Debian (see shared/TOOLCHAIN.md): Playwright
 * drives the system binaries; nothing is downloaded. Every spec runs once in
 * each project, with the page's own WebSocket. The bundled `@proj/client` is
 * that same class in a browser, so it is not run through the specs again:
 * bundle.spec.ts checks that its import resolves to the native class and works.
 */
export default defineConfig({
  testDir: 'tests',
  globalSetup: './global-setup.ts',
  fullyParallel: true,
  // A stray `.only` would shrink the run and still count `0 failed`: refused
  // whatever the environment, not only in CI.
  forbidOnly: true,
  retries: 0,
  // One browser per worker; two is all a 2-core machine runs well.
  workers: 2,
  // Generous for a loaded machine: the slowest test moves 16 MiB through a paused server.
  timeout: 45_000,
  expect: { timeout: 15_000 },
  // The root test command counts results from results.json.
  reporter: [['list'], ['json', { outputFile: 'test-results/results.json' }]],
  use: {
    actionTimeout: 15_000,
    navigationTimeout: 15_000,
    // Traces cost a third of the run time; CI cannot retrieve them anyway.
    trace: process.env['CI'] ? 'off' : 'retain-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        launchOptions: {
          executablePath: CHROMIUM_PATH,
          args: [
            // No DNS look-ups of Chromium's own (the suite only uses 127.0.0.1).
            '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-domain-reliability',
            '--disable-sync',
            '--no-first-run',
            '--no-default-browser-check',
            '--metrics-recording-only',
          ],
        },
      },
    },
    {
      name: 'firefox',
      use: {
        browserName: 'firefox',
        // WebDriver BiDi: drives a stock Firefox (Playwright 1.64.1 with ESR 153).
        channel: 'moz-firefox',
        launchOptions: { executablePath: FIREFOX_PATH },
      },
    },
  ],
});
