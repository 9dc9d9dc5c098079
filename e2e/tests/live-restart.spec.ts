import { once } from 'node:events';
import { expect, test } from '@playwright/test';
import { RedisServer } from '../../packages/redis/test/redis-server.js';
import {
  type LiveServer,
  buildLivePage,
  collectErrors,
  positionOf,
  readLiveState as read,
  recordWorlds,
  recordedWorlds,
  startLiveServer,
  stopLiveServers,
} from '../live-app.js';

// apps/live on Redis (REDIS_URL set: sessions in a RedisSessionStore), its
// process killed with SIGKILL (no close frame, no last write) and started
// again on the same port: the page resumes its session on the new process and
// is the same player, at the same place. Self-contained: it starts its own
// redis-server on a free port and the servers, and stops them all.

const POLL = { timeout: 15_000 };
/**
 * The page's reconnect after the restart: its backoff grows to 0.5-10 s, and
 * Firefox adds a delay of its own after refused attempts.
 */
const RECONNECT = { timeout: 45_000 };
let redis: RedisServer | undefined;

test.afterEach(async () => {
  await stopLiveServers(test.info());
  await redis?.stop();
  redis = undefined;
});

/** A server on Redis on `port` (0: a free one), once it is listening and Redis is connected. */
function startServer(redisUrl: string, port = 0): Promise<LiveServer> {
  return startLiveServer({ REDIS_URL: redisUrl, PORT: String(port) }, (log) =>
    log.includes('redis available'),
  );
}

test('live demo on Redis: the server is SIGKILLed and restarted; the page keeps its id and its place', async ({
  browser,
}) => {
  test.setTimeout(120_000);
  buildLivePage();
  redis = await RedisServer.start();
  const first = await startServer(redis.url);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors = collectErrors([page]);
    await page.goto(first.url);
    await expect.poll(async () => (await read(page)).id, POLL).not.toBeNull();
    expect((await read(page)).session).toBe(true);

    // Hold still: the pointer rests on one point of the field, so "where it
    // was" is one place.
    const box = (await page.locator('#field').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.6);
    await expect.poll(async () => (await read(page)).mode, POLL).toBe('pointer');
    const { id, position } = await read(page);
    const place = `${position.x},${position.y}`;
    await expect.poll(() => positionOf(page, id!), POLL).toBe(place);
    expect(first.log()).toContain(`#${id} connected from 127.0.0.1`);

    // SIGKILL: the page sees its connection drop, and retries meanwhile.
    const exited = once(first.child, 'exit');
    first.child.kill('SIGKILL');
    await exited;
    await expect.poll(async () => (await read(page)).status, POLL).toBe('closed');
    await recordWorlds(page);

    const second = await startServer(redis.url, Number(new URL(first.url).port));
    expect(second.url).toBe(first.url);
    await expect.poll(async () => (await read(page)).connections, RECONNECT).toBe(2);
    // The new process took the session over from the store: the same player.
    await expect.poll(second.log, POLL).toContain(`#${id} moved here from 127.0.0.1`);
    await expect.poll(() => positionOf(page, id!), POLL).toBe(place);
    await expect.poll(async () => (await recordedWorlds(page)).length, POLL).toBeGreaterThan(10);

    // Every world state since the restart shows this page once, with its id,
    // where it was: never missing, twice, or under a new id.
    const worlds = await recordedWorlds(page);
    for (const world of worlds) {
      expect(world).toEqual({ count: 1, players: [{ id, x: position.x, y: position.y }] });
    }
    expect(await read(page)).toMatchObject({
      id,
      status: 'open',
      session: true,
      sessionsLost: 0,
      count: 1,
      connections: 2,
    });
    expect(second.log()).not.toContain(`#${id} connected`);
    // The browsers log each attempt refused while nothing listened (and
    // Firefox the connection the kill cut) as console errors naming the
    // WebSocket's URL: expected here. Nothing else may be logged.
    const endpoint = `${first.url.replace(/^http/, 'ws')}updates`;
    expect(errors.filter((error) => !error.includes(endpoint))).toEqual([]);
    test.info().annotations.push({
      type: 'restart',
      description: `#${id} at ${place}: ${worlds.length} world states after the restart, each showing it once there`,
    });
  } finally {
    await context.close();
  }
});
