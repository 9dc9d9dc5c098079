import { pattern } from '../page/pattern.js';
import { expect, sha256, test } from '../fixtures.js';

const MiB = 1024 * 1024;

test.describe('messages', () => {
  test('text both ways, UTF-8 intact', async ({ page, serve }) => {
    const env = await serve();
    await env.open();
    await page.evaluate((url) => window.harness.open(url), env.wsUrl);
    await page.evaluate(() => window.harness.waitFor('open'));
    const peer = await env.peer();

    const text = 'héllo ✓ 🚀 — 世界';
    await page.evaluate((t) => window.harness.sendText(t), text);
    const [received] = await peer.received(1);
    expect(received).toMatchObject({ isBinary: false, text });

    peer.socket.send(`echo: ${received!.text}`);
    expect(await page.evaluate(() => window.harness.messages(1))).toEqual([
      { kind: 'text', text: `echo: ${text}`, size: `echo: ${text}`.length },
    ]);
  });

  for (const binaryType of ['arraybuffer', 'blob'] as const) {
    test(`binary with binaryType "${binaryType}"`, async ({ page, serve }) => {
      const env = await serve();
      await env.open();
      await page.evaluate(([url, type]) => window.harness.open(url, undefined, type), [
        env.wsUrl,
        binaryType,
      ] as const);
      await page.evaluate(() => window.harness.waitFor('open'));
      expect(await page.evaluate(() => window.harness.state().binaryType)).toBe(binaryType);
      const peer = await env.peer();

      // Page → server: the same bytes as an ArrayBuffer, a view and a Blob.
      const sent = [];
      for (const as of ['arraybuffer', 'view', 'blob'] as const) {
        sent.push(await page.evaluate((kind) => window.harness.sendPattern(1000, 3, kind), as));
      }
      const expected = sha256(pattern(1000, 3));
      expect(sent.map((s) => s.sha256)).toEqual([expected, expected, expected]);
      expect(await peer.received(3)).toEqual(
        Array(3).fill({ isBinary: true, size: 1000, sha256: expected, text: undefined }),
      );

      // Server → page: delivered as the binaryType asks.
      peer.socket.send(pattern(4096, 9));
      peer.socket.send(Buffer.alloc(0));
      expect(await page.evaluate(() => window.harness.messages(2))).toEqual([
        { kind: binaryType, size: 4096, sha256: sha256(pattern(4096, 9)) },
        { kind: binaryType, size: 0, sha256: sha256(new Uint8Array(0)) },
      ]);
    });
  }

  test('a 1 MiB message both ways, byte-exact', async ({ page, serve }) => {
    const env = await serve();
    await env.open();
    await page.evaluate((url) => window.harness.open(url, undefined, 'arraybuffer'), env.wsUrl);
    await page.evaluate(() => window.harness.waitFor('open'));
    const peer = await env.peer();

    const up = await page.evaluate((size) => window.harness.sendPattern(size, 1), MiB);
    expect(up.sha256).toBe(sha256(pattern(MiB, 1)));
    expect(await peer.received(1)).toEqual([
      { isBinary: true, size: MiB, sha256: up.sha256, text: undefined },
    ]);

    const down = pattern(MiB, 2);
    peer.socket.send(down);
    expect(await page.evaluate(() => window.harness.messages(1))).toEqual([
      { kind: 'arraybuffer', size: MiB, sha256: sha256(down) },
    ]);
  });

  test('server push with no request from the page', async ({ page, serve }) => {
    const env = await serve();
    env.server.on('connection', (socket) => {
      socket.send('welcome');
      socket.send(pattern(64, 5));
    });
    await env.open();
    await page.evaluate((url) => window.harness.open(url, undefined, 'arraybuffer'), env.wsUrl);

    const peer = await env.peer();
    let tick = 0;
    const timer = setInterval(() => peer.socket.send(`tick ${++tick}`), 20);
    try {
      expect(await page.evaluate(() => window.harness.messages(5))).toEqual([
        { kind: 'text', text: 'welcome', size: 7 },
        { kind: 'arraybuffer', size: 64, sha256: sha256(pattern(64, 5)) },
        { kind: 'text', text: 'tick 1', size: 6 },
        { kind: 'text', text: 'tick 2', size: 6 },
        { kind: 'text', text: 'tick 3', size: 6 },
      ]);
    } finally {
      clearInterval(timer);
    }
    expect(await page.evaluate(() => window.harness.types().slice(0, 2))).toEqual([
      'open',
      'message',
    ]);
    expect(peer.messages).toEqual([]);
  });
});
