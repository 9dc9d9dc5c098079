import type { Page } from '@playwright/test';
import type { ScriptedPeer, TestServer } from '@proj/testing/playwright';
import { expect, test } from '../kit-fixtures.js';

/** Loads the harness from the test server, opens its WebSocket; resolves with the server's end. */
async function connect(
  page: Page,
  openHarness: (server: TestServer) => Promise<void>,
  wsServer: TestServer,
): Promise<ScriptedPeer> {
  await openHarness(wsServer);
  await page.evaluate((url) => window.harness.open(url), wsServer.url);
  await page.evaluate(() => window.harness.waitFor('open'));
  return wsServer.waitForConnection();
}

test.describe('closing', () => {
  test('page close(4000, "bye"): the server sees the code and reason', async ({
    page,
    openHarness,
    wsServer,
  }) => {
    const peer = await connect(page, openHarness, wsServer);

    await page.evaluate(() => window.harness.close(4000, 'bye'));
    expect(await peer.waitForClose()).toEqual({
      code: 4000,
      reason: 'bye',
      wasClean: true,
      cause: 'peer-close',
    });
    // The server echoes the code; the page's closing handshake completes cleanly.
    expect(await page.evaluate(() => window.harness.waitFor('close'))).toEqual({
      type: 'close',
      code: 4000,
      reason: 'bye',
      wasClean: true,
      readyState: 3,
    });
    expect(await page.evaluate(() => window.harness.types())).toEqual(['open', 'close']);
  });

  test('server close(4001, "reason"): the page sees the code and reason', async ({
    page,
    openHarness,
    wsServer,
  }) => {
    const peer = await connect(page, openHarness, wsServer);

    expect(await peer.close(4001, 'reason')).toMatchObject({ code: 4001, wasClean: true });
    expect(await page.evaluate(() => window.harness.waitFor('close'))).toEqual({
      type: 'close',
      code: 4001,
      reason: 'reason',
      wasClean: true,
      readyState: 3,
    });
    expect(await page.evaluate(() => window.harness.types())).toEqual(['open', 'close']);
  });

  test('the page sees 1001 when the server shuts down', async ({ page, openHarness, wsServer }) => {
    const peer = await connect(page, openHarness, wsServer);
    const server = wsServer.webSocketServer;

    await wsServer.stop();
    expect(await page.evaluate(() => window.harness.waitFor('close'))).toEqual({
      type: 'close',
      code: 1001,
      reason: '',
      wasClean: true,
      readyState: 3,
    });
    expect(peer.closed).toMatchObject({ code: 1001, wasClean: true, cause: 'server-shutdown' });
    expect(server.clients.size).toBe(0);
  });
});
