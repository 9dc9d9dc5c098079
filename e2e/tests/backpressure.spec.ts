import { createHash } from 'node:crypto';
import { pattern } from '../page/pattern.js';
import { expect, test } from '../kit-fixtures.js';

const MiB = 1024 * 1024;

test.describe('bufferedAmount', () => {
  test('rises after a large send to a stalled server and returns to 0', async ({
    page,
    openHarness,
    wsServer,
  }) => {
    await openHarness(wsServer);
    await page.evaluate((url) => window.harness.open(url), wsServer.url);
    await page.evaluate(() => window.harness.waitFor('open'));
    const peer = await wsServer.waitForConnection({ parse: 'raw' });
    // Stop reading before anything is sent: TCP pushes back, the kernel
    // buffers fill, the browser has to keep the rest.
    void peer.stall();

    const size = 16 * MiB;
    const sent = await page.evaluate((n) => window.harness.sendPattern(n, 4), size);
    // Synchronously after send(): all of it is buffered.
    expect(sent.bufferedAmount).toBeGreaterThanOrEqual(size);
    // Still buffered a round trip later: 16 MiB is more than the socket
    // buffers of both ends hold while the server reads nothing.
    const waiting = await page.evaluate(() => window.harness.state().bufferedAmount);
    expect(waiting).toBeGreaterThan(0);
    expect(waiting).toBeLessThanOrEqual(size);
    expect(peer.received).toEqual([]);

    peer.resume();
    await expect.poll(() => page.evaluate(() => window.harness.state().bufferedAmount)).toBe(0);
    const message = await peer.nextMessage();
    expect(message.isBinary).toBe(true);
    expect(message.data.length).toBe(size);
    expect(createHash('sha256').update(message.data).digest('hex')).toBe(
      createHash('sha256').update(pattern(size, 4)).digest('hex'),
    );
  });

  test('send every 50 ms only while bufferedAmount === 0: updates arrive in order', async ({
    page,
    openHarness,
    wsServer,
  }) => {
    await openHarness(wsServer);
    await page.evaluate((url) => window.harness.open(url), wsServer.url);
    await page.evaluate(() => window.harness.waitFor('open'));
    const peer = await wsServer.waitForConnection();
    void peer.stall();

    // Updates of 1 MiB against a server that does not read: the loop must
    // hold back (skip ticks) once the buffers are full instead of queueing.
    const total = 24;
    await page.evaluate((n) => window.harness.startUpdates(50, n, 1024 * 1024), total);
    await expect
      .poll(() => page.evaluate(() => window.updateStats!.skipped), { timeout: 20_000 })
      .toBeGreaterThan(2);
    const held = await page.evaluate(() => window.updateStats!);
    expect(held.sent).toBeLessThan(total);

    peer.resume();
    await expect
      .poll(() => page.evaluate(() => window.updateStats!), { timeout: 30_000 })
      .toMatchObject({ sent: total, done: true });
    const seqs: number[] = [];
    for (let i = 0; i < total; i++) {
      seqs.push(((await peer.nextMessage()) as { seq: number }).seq);
    }
    expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(await page.evaluate(() => window.harness.state().bufferedAmount)).toBe(0);
  });
});
