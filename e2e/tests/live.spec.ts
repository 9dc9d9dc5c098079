import { expect, test } from '@playwright/test';
import {
  buildLivePage,
  collectErrors,
  positionOf,
  readLiveState as read,
  startLiveServer,
  stopLiveServers,
} from '../live-app.js';

// apps/live, the textbook's example made real, in a real browser: two pages
// (two browser contexts, so two separate players) on one server. Each page
// sends its position every 50 ms while bufferedAmount is 0; the server
// broadcasts the world 20 times a second. Self-contained: it builds the page,
// starts `node apps/live/server.mjs` on a free port and stops it at the end.

const POLL = { timeout: 15_000 };

test.afterEach(() => stopLiveServers(test.info()));

test('live demo: two players see each other move, and a page that closes disappears', async ({
  browser,
}) => {
  buildLivePage();
  const server = await startLiveServer();
  const contextA = await browser.newContext();
  const contextB = await browser.newContext();
  try {
    const [pageA, pageB] = await Promise.all([contextA.newPage(), contextB.newPage()]);
    const errors = collectErrors([pageA, pageB]);
    await Promise.all([pageA.goto(`${server.url}?auto=1`), pageB.goto(`${server.url}?auto=1`)]);

    await expect.poll(async () => (await read(pageA)).id, POLL).not.toBeNull();
    await expect.poll(async () => (await read(pageB)).id, POLL).not.toBeNull();
    const idA = (await read(pageA)).id!;
    const idB = (await read(pageB)).id!;
    expect(idA).not.toBe(idB);
    // Each page's connection carries a resumable session.
    expect((await read(pageA)).session).toBe(true);
    expect((await read(pageB)).session).toBe(true);

    for (const [page, other] of [
      [pageA, idB],
      [pageB, idA],
    ] as const) {
      // The other player appears, and two are connected...
      await expect.poll(async () => (await read(page)).count, POLL).toBe(2);
      await expect.poll(() => positionOf(page, other), POLL).toBeDefined();
      // ...and it moves: its position changes from one broadcast to a later one.
      const first = await positionOf(page, other);
      await expect.poll(() => positionOf(page, other), POLL).not.toBe(first);
      const second = await positionOf(page, other);
      await expect.poll(() => positionOf(page, other), POLL).not.toBe(second);

      // The round trip is measured, and the 50 ms loop sends (about 20/s, fewer
      // only when bufferedAmount was not 0).
      await expect
        .poll(async () => Number.isFinite((await read(page)).rtt ?? NaN), POLL)
        .toBe(true);
      await expect.poll(async () => (await read(page)).sentPerSecond, POLL).toBeGreaterThan(5);
      expect((await read(page)).received).toBeGreaterThan(0);

      // The numbers are on the page, labelled.
      await expect(page.locator('#count')).toHaveText('2', POLL);
      await expect(page.locator('#rtt')).toHaveText(/^\d+\.\d ms$/, POLL);
      await expect(page.locator('#status')).toHaveText('connected', POLL);
    }

    // B leaves (its session is suspended, not ended: the browser closed the
    // connection without a word): A sees it gone from the next world states.
    await contextB.close();
    await expect.poll(async () => (await read(pageA)).count, POLL).toBe(1);
    expect((await read(pageA)).players.map((p) => p.id)).toEqual([idA]);
    expect((await read(pageA)).status).toBe('open');
    await expect(pageA.locator('#count')).toHaveText('1', POLL);
    await expect.poll(server.log, POLL).toMatch(new RegExp(`#${idB} suspended \\d+`));

    expect(errors).toEqual([]);
  } finally {
    // The server is stopped by afterEach.
    await Promise.allSettled([contextA.close(), contextB.close()]);
  }
});
