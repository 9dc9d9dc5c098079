import { inflateMessages } from '../../packages/client/test/wire.js';
import { expect, test } from '../fixtures.js';

/** JSON-like text: an array of small records, cut to exactly `size` characters. */
function jsonOf(size: number): string {
  const record = (i: number): string =>
    JSON.stringify({ id: i, user: `user${i % 50}`, text: 'hello world', tags: ['a', 'b'] });
  let body = '';
  for (let i = 0; body.length < size; i++) body += (i ? ',' : '') + record(i);
  return '[' + body.slice(0, size - 2) + ']';
}

test.describe('extensions', () => {
  // Browsers always offer permessage-deflate; a server with it enabled accepts,
  // and a large JSON message goes compressed both ways (RFC 7692). The page
  // connects through a wire tap (wire-tap.ts) that reads the frames by hand,
  // so RSV1 and the deflated bytes are checked as they crossed the wire, not
  // as either end's decoder reports them.
  test('the permessage-deflate the browser offers is accepted; 1 MiB of JSON compresses both ways (RSV1 set)', async ({
    page,
    serve,
  }) => {
    const env = await serve({ perMessageDeflate: true });
    const tap = await env.tap();
    await env.open();
    await page.evaluate((url) => window.harness.open(url), tap.url);
    const open = await page.evaluate(() => window.harness.waitFor('open'));
    expect(open).toMatchObject({ type: 'open' });
    const peer = await env.peer();
    expect(peer.request.headers['sec-websocket-extensions']).toMatch(/permessage-deflate/);
    expect(peer.socket.extensions).toMatch(/^permessage-deflate/);
    expect(await page.evaluate(() => window.harness.state().extensions)).toMatch(
      /^permessage-deflate/,
    );
    // What the response on the wire agreed to (each message inflates on its own
    // when the sender resets its context; otherwise through one window).
    const agreed = /^sec-websocket-extensions:(.*)$/im.exec(tap.fromServer.head ?? '')?.[1] ?? '';
    expect(agreed).toMatch(/^\s*permessage-deflate/);

    const json = jsonOf(1024 * 1024);
    expect(json.length).toBe(1024 * 1024);

    // Browser → server.
    await page.evaluate((t) => window.harness.sendText(t), json);
    expect((await peer.received(1))[0]!.text).toBe(json);
    const [sent] = await tap.messages('fromBrowser', 1);
    expect(sent!.opcode).toBe(0x1);
    expect(sent!.rsv1, 'RSV1 on the first frame the browser sent').toBe(true);
    expect(sent!.frames.every((f) => f.masked && !f.rsv2 && !f.rsv3)).toBe(true);
    expect(sent!.frames.slice(1).every((f) => !f.rsv1)).toBe(true);
    expect(sent!.payload.length).toBeLessThan(json.length / 4);
    const [fromBrowser] = inflateMessages([sent!.payload], {
      noContextTakeover: /client_no_context_takeover/.test(agreed),
    });
    expect(
      fromBrowser!.toString('utf8') === json,
      'what the browser sent inflates to the JSON',
    ).toBe(true);

    // Server → browser.
    peer.socket.send(json);
    expect(await page.evaluate(() => window.harness.messages(1))).toEqual([
      { kind: 'text', text: json, size: json.length },
    ]);
    const [received] = await tap.messages('fromServer', 1);
    expect(received!.opcode).toBe(0x1);
    expect(received!.rsv1, 'RSV1 on the first frame the server sent').toBe(true);
    expect(received!.frames.every((f) => !f.masked && !f.rsv2 && !f.rsv3)).toBe(true);
    expect(received!.frames.slice(1).every((f) => !f.rsv1)).toBe(true);
    expect(received!.payload.length).toBeLessThan(json.length / 4);
    const [fromServer] = inflateMessages([received!.payload], {
      noContextTakeover: /server_no_context_takeover/.test(agreed),
    });
    expect(fromServer!.toString('utf8') === json, 'what the server sent inflates to the JSON').toBe(
      true,
    );
  });

  test('a server without it declines the offer cleanly; nothing is compressed', async ({
    page,
    serve,
  }) => {
    const env = await serve();
    const tap = await env.tap();
    await env.open();
    await page.evaluate((url) => window.harness.open(url), tap.url);
    expect(await page.evaluate(() => window.harness.waitFor('open'))).toMatchObject({
      type: 'open',
      extensions: '',
    });
    const peer = await env.peer();
    expect(peer.socket.extensions).toBe('');
    expect(tap.fromServer.head).not.toMatch(/sec-websocket-extensions/i);
    const text = 'abc'.repeat(10_000);
    await page.evaluate((t) => window.harness.sendText(t), text);
    expect((await peer.received(1))[0]!.text).toBe(text);
    peer.socket.send(text);
    await page.evaluate(() => window.harness.messages(1));
    const [sent] = await tap.messages('fromBrowser', 1);
    const [received] = await tap.messages('fromServer', 1);
    for (const message of [sent!, received!]) {
      expect(message.rsv1).toBe(false);
      expect(message.payload.toString('utf8') === text).toBe(true);
    }
  });
});
