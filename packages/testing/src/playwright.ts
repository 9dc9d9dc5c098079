/**
 * @proj/testing/playwright: the test server as Playwright fixtures. A test
 * that names `wsServer` gets a real `@proj/server` of its own on a free port,
 * closed after it; one that names `wsWorkerServer` shares one server with the
 * other tests of its worker, reset before each. When a test fails, the
 * server's transcript (every connection, what it received, how it closed) is
 * attached to the report.
 *
 * This entry imports `@playwright/test` (an optional peer dependency); the
 * main entry `@proj/testing` never does, so other runners never load it.
 * @packageDocumentation
 */
import { type TestInfo, test as base } from '@playwright/test';
import { type TestServer, type TestServerOptions, startTestServer } from './test-server.js';

export { expect } from '@playwright/test';
export * from './index.js';

/** The fixtures each test can ask for. */
export interface TestingFixtures {
  /**
   * Options of `wsServer`: the test server's and `@proj/server`'s
   * ({@link TestServerOptions}). Set with `test.use({ wsServerOptions: {...} })`.
   */
  wsServerOptions: TestServerOptions;
  /** A test server started for this test alone, closed after it. */
  wsServer: TestServer;
  /**
   * The worker's shared test server ({@link TestingWorkerFixtures.wsWorkerServerOptions}),
   * reset before this test: no connection or refusal of an earlier test is left.
   */
  wsWorkerServer: TestServer;
}

/** The fixtures that live as long as a worker. */
export interface TestingWorkerFixtures {
  /**
   * Options of the worker's shared server; a worker option, so set it in the
   * config or at the top of a file: tests with other options get another worker.
   */
  wsWorkerServerOptions: TestServerOptions;
  /** The worker's shared server itself; tests use `wsWorkerServer`, which resets it. */
  wsWorkerServerInstance: TestServer;
}

/** Closing at the end of a test: whoever is still connected gets 1001, and at most this long to answer. */
const TEARDOWN_CLOSE_TIMEOUT = 2_000;

/**
 * Playwright's `test` with the test server fixtures. Combine it with your
 * own fixtures with `mergeTests(yourTest, test)` or extend it.
 * @example
 * import { expect, test } from '@proj/testing/playwright';
 *
 * test('the page says hello', async ({ page, wsServer }) => {
 *   await page.goto(pageUrl(wsServer.url));
 *   const peer = await wsServer.waitForConnection();
 *   expect(await peer.nextMessage()).toEqual({ type: 'hello' });
 * });
 */
export const test = base.extend<TestingFixtures, TestingWorkerFixtures>({
  wsServerOptions: [{}, { option: true }],
  wsWorkerServerOptions: [{}, { option: true, scope: 'worker' }],

  wsServer: async ({ wsServerOptions }, use, testInfo) => {
    const server = await startTestServer(wsServerOptions);
    await use(server);
    await attachTranscriptOnFailure(server, testInfo);
    await server.close({ timeout: TEARDOWN_CLOSE_TIMEOUT });
  },

  wsWorkerServerInstance: [
    async ({ wsWorkerServerOptions }, use) => {
      const server = await startTestServer(wsWorkerServerOptions);
      await use(server);
      await server.close({ timeout: TEARDOWN_CLOSE_TIMEOUT });
    },
    { scope: 'worker' },
  ],

  wsWorkerServer: async ({ wsWorkerServerInstance: server }, use, testInfo) => {
    // Reset before the test, not only after: a page of the previous test that
    // reconnected while being torn down must not reach this one.
    await server.reset();
    await use(server);
    await attachTranscriptOnFailure(server, testInfo);
    await server.reset();
  },
});

/** A failed test's report gets the server's transcript. */
async function attachTranscriptOnFailure(server: TestServer, testInfo: TestInfo): Promise<void> {
  if (testInfo.status === testInfo.expectedStatus) return;
  await testInfo.attach('websocket transcript', {
    body: server.transcript(),
    contentType: 'text/plain',
  });
}
