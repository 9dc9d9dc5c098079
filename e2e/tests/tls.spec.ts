import { expect, test } from '../fixtures.js';

test.describe('wss://', () => {
  // A certificate generated for this run (openssl, self-signed, 127.0.0.1):
  // the page and the WebSocket server use it; the browser is told to accept it.
  test.use({ tls: true, ignoreHTTPSErrors: true });

  test('a self-signed certificate, accepted by the browser', async ({ page, serve }) => {
    const env = await serve(({ pageOrigin }) => ({ allowedOrigins: [pageOrigin] }));
    expect(env.pageOrigin).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(env.wsUrl).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/$/);
    await env.open();
    expect(await page.evaluate(() => window.isSecureContext)).toBe(true);

    await page.evaluate((url) => window.harness.open(url), env.wsUrl);
    expect(await page.evaluate(() => window.harness.waitFor('open'))).toMatchObject({
      type: 'open',
    });
    const peer = await env.peer();
    expect((peer.request.socket as { encrypted?: boolean }).encrypted).toBe(true);

    await page.evaluate(() => window.harness.sendText('over TLS'));
    expect((await peer.received(1))[0]!.text).toBe('over TLS');
    peer.socket.send('back over TLS');
    expect(await page.evaluate(() => window.harness.messages(1))).toEqual([
      { kind: 'text', text: 'back over TLS', size: 13 },
    ]);
    await page.evaluate(() => window.harness.close(1000));
    expect(await peer.closed).toEqual({ code: 1000, reason: '', wasClean: true });
  });
});
