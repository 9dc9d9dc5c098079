import { expect, test } from '@playwright/test';
import { RedisServer } from '../../packages/redis/test/redis-server.js';
import {
  type LiveServer,
  buildLivePage,
  collectErrors,
  positionOf,
  readLiveState as read,
  startLiveServer,
  stopLiveServers,
} from '../live-app.js';

// apps/live as two processes sharing one world through Redis (REDIS_URL set):
// two pages, each on a different process, see each other appear and move.
// Self-contained: it starts its own redis-server on a free port (installing
// it as root on Debian when missing) and both servers, and stops them all.

const POLL = { timeout: 15_000 };
let redis: RedisServer | undefined;

test.afterEach(async () => {
  await stopLiveServers(test.info());
  await redis?.stop();
  redis = undefined;
});

/** A server on Redis, once it is listening and sharing the world (subscribed in Redis). */
function startServer(redisUrl: string): Promise<LiveServer> {
  return startLiveServer({ REDIS_URL: redisUrl }, (log) => log.includes('redis available'));
}

test('live demo on Redis: pages on two processes see each other move', async ({ browser }) => {
  buildLivePage();
  redis = await RedisServer.start();
  const [one, two] = await Promise.all([startServer(redis.url), startServer(redis.url)]);
  expect(one.url).not.toBe(two.url);
  const contextA = await browser.newContext();
  const contextB = await browser.newContext();
  try {
    const [pageA, pageB] = await Promise.all([contextA.newPage(), contextB.newPage()]);
    const errors = collectErrors([pageA, pageB]);
    await Promise.all([pageA.goto(`${one.url}?auto=1`), pageB.goto(`${two.url}?auto=1`)]);
    await expect.poll(async () => (await read(pageA)).id, POLL).not.toBeNull();
    await expect.poll(async () => (await read(pageB)).id, POLL).not.toBeNull();
    const idA = (await read(pageA)).id!;
    const idB = (await read(pageB)).id!;
    expect(idA).not.toBe(idB);

    for (const [page, other] of [
      [pageA, idB],
      [pageB, idA],
    ] as const) {
      // The player on the other process appears, two are counted...
      await expect.poll(async () => (await read(page)).count, POLL).toBe(2);
      await expect.poll(() => positionOf(page, other), POLL).toBeDefined();
      // ...and its moves arrive through Redis.
      const first = await positionOf(page, other);
      await expect.poll(() => positionOf(page, other), POLL).not.toBe(first);
      const second = await positionOf(page, other);
      await expect.poll(() => positionOf(page, other), POLL).not.toBe(second);
      await expect(page.locator('#count')).toHaveText('2', POLL);
    }

    // B leaves its process: A, on the other one, sees it gone.
    await contextB.close();
    await expect.poll(async () => (await read(pageA)).count, POLL).toBe(1);
    expect((await read(pageA)).players.map((p) => p.id)).toEqual([idA]);
    expect(errors).toEqual([]);
  } finally {
    await Promise.allSettled([contextA.close(), contextB.close()]);
  }
});
