import { expect, test } from '../fixtures.js';

test.describe('closing', () => {
  test('page close(4000, "bye"): the server sees the code and reason', async ({ page, serve }) => {
    const env = await serve();
    await env.open();
    await page.evaluate((url) => window.harness.open(url), env.wsUrl);
    await page.evaluate(() => window.harness.waitFor('open'));
    const peer = await env.peer();

    await page.evaluate(() => window.harness.close(4000, 'bye'));
    expect(await peer.closed).toEqual({ code: 4000, reason: 'bye', wasClean: true });
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
    serve,
  }) => {
    const env = await serve();
    await env.open();
    await page.evaluate((url) => window.harness.open(url), env.wsUrl);
    await page.evaluate(() => window.harness.waitFor('open'));
    const peer = await env.peer();

    peer.socket.close(4001, 'reason');
    expect(await page.evaluate(() => window.harness.waitFor('close'))).toEqual({
      type: 'close',
      code: 4001,
      reason: 'reason',
      wasClean: true,
      readyState: 3,
    });
    expect(await peer.closed).toMatchObject({ code: 4001, wasClean: true });
    expect(await page.evaluate(() => window.harness.types())).toEqual(['open', 'close']);
  });

  test('the page sees 1001 when the server shuts down', async ({ page, serve }) => {
    const env = await serve();
    await env.open();
    await page.evaluate((url) => window.harness.open(url), env.wsUrl);
    await page.evaluate(() => window.harness.waitFor('open'));
    const peer = await env.peer();

    await env.server.close();
    expect(await page.evaluate(() => window.harness.waitFor('close'))).toEqual({
      type: 'close',
      code: 1001,
      reason: '',
      wasClean: true,
      readyState: 3,
    });
    expect(await peer.closed).toMatchObject({ code: 1001, wasClean: true });
    expect(env.server.clients.size).toBe(0);
  });
});
