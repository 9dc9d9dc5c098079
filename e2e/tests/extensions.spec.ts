import { describeVariants, expect, test } from '../fixtures.js';

describeVariants('extensions', () => {
  // Browsers always offer permessage-deflate; a server with it enabled accepts,
  // and a large JSON message compresses both ways (RSV1 set, RFC 7692).
  test('the permessage-deflate the browser offers is accepted; 1 MiB of JSON round trips', async ({
    page,
    serve,
  }) => {
    const env = await serve({ perMessageDeflate: true });
    await env.open();
    await page.evaluate((url) => window.harness.open(url), env.wsUrl);
    const open = await page.evaluate(() => window.harness.waitFor('open'));
    expect(open).toMatchObject({ type: 'open' });
    const peer = await env.peer();
    expect(peer.request.headers['sec-websocket-extensions']).toMatch(/permessage-deflate/);
    expect(peer.socket.extensions).toMatch(/^permessage-deflate/);
    expect(await page.evaluate(() => window.harness.state().extensions)).toMatch(
      /^permessage-deflate/,
    );

    // JSON-like text: an array of small records, cut to exactly 1 MiB.
    const record = (i: number): string =>
      JSON.stringify({ id: i, user: `user${i % 50}`, text: 'hello world', tags: ['a', 'b'] });
    let body = '';
    for (let i = 0; body.length < 1024 * 1024; i++) body += (i ? ',' : '') + record(i);
    const json = '[' + body.slice(0, 1024 * 1024 - 2) + ']';
    expect(json.length).toBe(1024 * 1024);
    await page.evaluate((t) => window.harness.sendText(t), json);
    expect((await peer.received(1))[0]!.text).toBe(json);
    peer.socket.send(json);
    expect(await page.evaluate(() => window.harness.messages(1))).toEqual([
      { kind: 'text', text: json, size: json.length },
    ]);
  });

  test('a server without it declines the offer cleanly', async ({ page, serve }) => {
    const env = await serve();
    await env.open();
    await page.evaluate((url) => window.harness.open(url), env.wsUrl);
    expect(await page.evaluate(() => window.harness.waitFor('open'))).toMatchObject({
      type: 'open',
      extensions: '',
    });
    const peer = await env.peer();
    expect(peer.socket.extensions).toBe('');
    const text = 'abc'.repeat(10_000);
    await page.evaluate((t) => window.harness.sendText(t), text);
    expect((await peer.received(1))[0]!.text).toBe(text);
  });
});
