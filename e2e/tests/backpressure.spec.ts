import { pattern } from '../page/pattern.js';
import { expect, sha256, test } from '../fixtures.js';

const MiB = 1024 * 1024;

test.describe('bufferedAmount', () => {
  test('rises after a large send to a paused server and returns to 0', async ({ page, serve }) => {
    const env = await serve();
    // Stop reading at once: TCP pushes back, the kernel buffers fill, the
    // browser has to keep the rest.
    env.server.on('connection', (socket) => socket.pause());
    await env.open();
    await page.evaluate((url) => window.harness.open(url), env.wsUrl);
    await page.evaluate(() => window.harness.waitFor('open'));
    const peer = await env.peer();

    const size = 16 * MiB;
    const sent = await page.evaluate((n) => window.harness.sendPattern(n, 4), size);
    // Synchronously after send(): all of it is buffered.
    expect(sent.bufferedAmount).toBeGreaterThanOrEqual(size);
    // Still buffered a round trip later: 16 MiB is more than the socket
    // buffers of both ends hold while the server reads nothing.
    const waiting = await page.evaluate(() => window.harness.state().bufferedAmount);
    expect(waiting).toBeGreaterThan(0);
    expect(waiting).toBeLessThanOrEqual(size);
    expect(peer.messages).toEqual([]);

    peer.socket.resume();
    await expect.poll(() => page.evaluate(() => window.harness.state().bufferedAmount)).toBe(0);
    expect(await peer.received(1)).toEqual([
      { isBinary: true, size, sha256: sha256(pattern(size, 4)), text: undefined },
    ]);
  });

  test('send every 50 ms only while bufferedAmount === 0: updates arrive in order', async ({
    page,
    serve,
  }) => {
    const env = await serve();
    env.server.on('connection', (socket) => socket.pause());
    await env.open();
    await page.evaluate((url) => window.harness.open(url), env.wsUrl);
    await page.evaluate(() => window.harness.waitFor('open'));
    const peer = await env.peer();

    // Updates of 1 MiB against a server that does not read: the loop must
    // hold back (skip ticks) once the buffers are full instead of queueing.
    const total = 24;
    await page.evaluate((n) => window.harness.startUpdates(50, n, 1024 * 1024), total);
    await expect
      .poll(() => page.evaluate(() => window.updateStats!.skipped), { timeout: 20_000 })
      .toBeGreaterThan(2);
    const held = await page.evaluate(() => window.updateStats!);
    expect(held.sent).toBeLessThan(total);

    peer.socket.resume();
    await expect
      .poll(() => page.evaluate(() => window.updateStats!), { timeout: 30_000 })
      .toMatchObject({ sent: total, done: true });
    const messages = await peer.received(total);
    expect(messages.map((m) => (JSON.parse(m.text!) as { seq: number }).seq)).toEqual(
      Array.from({ length: total }, (_, i) => i),
    );
    expect(await page.evaluate(() => window.harness.state().bufferedAmount)).toBe(0);
  });
});
