/**
 * The suite's harness page (page/harness.ts, bundled by global-setup.ts)
 * under `@proj/testing`'s fixtures: the test server serves the page from its
 * own origin (`wsServer.httpUrl`), so a spec needs no second server, and
 * `openHarness()` loads it. The specs that use this file script the server's
 * side with the kit's peers instead of `fixtures.ts`'s `serve()`.
 */
import { readFileSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import { join } from 'node:path';
import { servePages, test as kit, type TestServer } from '@proj/testing/playwright';

export { expect } from '@proj/testing/playwright';

const PAGE = `<!doctype html>
<html lang="en">
  <meta charset="utf-8" />
  <title>@proj e2e</title>
  <script type="module" src="/harness.js"></script>
</html>
`;

/**
 * Serves the harness page at `/` and its bundle at `/harness.js`. The bundle
 * is read at the first request: test files are loaded (to list the tests)
 * before global-setup.ts has made it.
 */
export function harnessPages(): RequestListener {
  let pages: RequestListener | undefined;
  return (request, response) => {
    if (!pages) {
      const dir = process.env['PROJ_E2E_BUNDLES'];
      if (!dir) {
        throw new Error('PROJ_E2E_BUNDLES is not set: run the suite through playwright.config.ts');
      }
      pages = servePages({
        '/': PAGE,
        '/harness.js': readFileSync(join(dir, 'harness.js'), 'utf8'),
      });
    }
    pages(request, response);
  };
}

export interface HarnessFixtures {
  /** Loads the harness page from `server` (`wsServer` or `wsWorkerServer`) and waits for it. */
  openHarness(server: TestServer): Promise<void>;
}

export const test = kit.extend<HarnessFixtures>({
  // Still options: `test.use({ wsServerOptions })` replaces them (keep `http: harnessPages()`).
  wsServerOptions: { http: harnessPages() },
  wsWorkerServerOptions: [{ http: harnessPages() }, { scope: 'worker' }],
  openHarness: async ({ page }, use) => {
    await use(async (server) => {
      await page.goto(server.httpUrl);
      await page.waitForFunction(() => window.harness !== undefined);
    });
  },
});
