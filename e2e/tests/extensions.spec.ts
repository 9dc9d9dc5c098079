import { describeVariants, expect, test } from '../fixtures.js';

describeVariants('extensions', () => {
  // The server implements no extension yet: it must answer the browser's
  // offer without Sec-WebSocket-Extensions, and the connection works uncompressed.
  test('the permessage-deflate the browser offers is declined cleanly', async ({ page, serve }) => {
    const env = await serve();
    await env.open();
    await page.evaluate((url) => window.harness.open(url), env.wsUrl);
    expect(await page.evaluate(() => window.harness.waitFor('open'))).toMatchObject({
      type: 'open',
      extensions: '',
    });
    const peer = await env.peer();
    expect(peer.request.headers['sec-websocket-extensions']).toMatch(/permessage-deflate/);
    expect(peer.socket.extensions).toBe('');
    expect(await page.evaluate(() => window.harness.state().extensions)).toBe('');

    // Repetitive text is where compression would show (RSV1 set): it must not be.
    const text = 'abc'.repeat(10_000);
    await page.evaluate((t) => window.harness.sendText(t), text);
    expect((await peer.received(1))[0]!.text).toBe(text);
    peer.socket.send(text);
    expect(await page.evaluate(() => window.harness.messages(1))).toEqual([
      { kind: 'text', text, size: text.length },
    ]);
  });
});
