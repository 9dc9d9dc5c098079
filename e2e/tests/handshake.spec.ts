import { expect, test } from '../fixtures.js';

test.describe('handshake', () => {
  test('an allowed Origin connects', async ({ page, serve }) => {
    const env = await serve(({ pageOrigin }) => ({ allowedOrigins: [pageOrigin] }));
    await env.open();
    await page.evaluate((url) => window.harness.open(url), env.wsUrl);

    const open = await page.evaluate(() => window.harness.waitFor('open'));
    expect(open).toMatchObject({ type: 'open', readyState: 1 });
    const peer = await env.peer();
    expect(peer.request.headers.origin).toBe(env.pageOrigin);
    expect(env.rejected).toEqual([]);
  });

  test('a refused Origin gets 403: the page sees error, then close 1006', async ({
    page,
    serve,
  }) => {
    const env = await serve({ allowedOrigins: ['https://elsewhere.example'] });
    await env.open();
    await page.evaluate((url) => window.harness.open(url), env.wsUrl);

    await page.evaluate(() => window.harness.waitFor('close'));
    const events = await page.evaluate(() => window.harness.events());
    expect(events).toEqual([
      { type: 'error', readyState: 3 },
      { type: 'close', code: 1006, reason: '', wasClean: false, readyState: 3 },
    ]);
    // The server refused it with 403 (its 'rejected' event), before any 101.
    expect(env.rejected).toEqual([expect.objectContaining({ status: 403 })]);
    expect(env.rejected[0]!.headers.origin).toBe(env.pageOrigin);
    expect(env.peers).toEqual([]);
  });

  test('the subprotocol the server picks is ws.protocol', async ({ page, serve }) => {
    const env = await serve({ protocols: ['chat.v2', 'chat.v1'] });
    await env.open();
    // The first protocol the client offers that the server speaks wins.
    await page.evaluate(
      (url) => window.harness.open(url, ['legacy', 'chat.v1', 'chat.v2']),
      env.wsUrl,
    );

    const open = await page.evaluate(() => window.harness.waitFor('open'));
    expect(open).toMatchObject({ type: 'open', protocol: 'chat.v1' });
    expect(await page.evaluate(() => window.harness.state().protocol)).toBe('chat.v1');
    const peer = await env.peer();
    expect(peer.socket.protocol).toBe('chat.v1');
    expect(peer.request.headers['sec-websocket-protocol']).toBe('legacy, chat.v1, chat.v2');
  });
});
