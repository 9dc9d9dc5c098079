import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type Page, expect, test } from '@playwright/test';
import { RedisServer } from '../../packages/redis/test/redis-server.js';

// apps/live as two processes sharing one world through Redis (REDIS_URL set):
// two pages, each on a different process, see each other appear and move.
// Self-contained: it starts its own redis-server on a free port (installing
// it as root on Debian when missing) and both servers, and stops them all.

const liveDir = fileURLToPath(new URL('../../apps/live/', import.meta.url));
const POLL = { timeout: 15_000 };
const children: ChildProcess[] = [];
let redis: RedisServer | undefined;

test.afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
  await redis?.stop();
  redis = undefined;
});

interface LiveView {
  id: number | null;
  count: number;
  players: Array<{ id: number; x: number; y: number }>;
}

function read(page: Page): Promise<LiveView> {
  return page.evaluate(() => {
    const state = (window as unknown as { liveState: LiveView & { players: Map<number, never> } })
      .liveState;
    return {
      id: state.id,
      count: state.count,
      players: [...state.players.values()].map(({ id, x, y }) => ({ id, x, y })),
    };
  });
}

async function positionOf(page: Page, id: number): Promise<string | undefined> {
  const player = (await read(page)).players.find((p) => p.id === id);
  return player && `${player.x},${player.y}`;
}

async function startServer(redisUrl: string): Promise<{ url: string; log: () => string }> {
  const child = spawn(process.execPath, ['server.mjs'], {
    cwd: liveDir,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', REDIS_URL: redisUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (log += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (log += text));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 10_000);
    child.stdout!.on('data', () => {
      // Listening, and sharing the world (subscribed in Redis).
      const match = /live demo: open (http:\/\/\S+)/.exec(log);
      if (match && log.includes('redis available')) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${log}`)));
  });
  return { url, log: () => log };
}

test('live demo on Redis: pages on two processes see each other move', async ({ browser }) => {
  execFileSync(process.execPath, ['build.mjs'], { cwd: liveDir, stdio: 'pipe' });
  redis = await RedisServer.start();
  const [one, two] = await Promise.all([startServer(redis.url), startServer(redis.url)]);
  expect(one.url).not.toBe(two.url);
  const contextA = await browser.newContext();
  const contextB = await browser.newContext();
  const errors: string[] = [];
  try {
    const [pageA, pageB] = await Promise.all([contextA.newPage(), contextB.newPage()]);
    for (const page of [pageA, pageB]) {
      page.on('pageerror', (error) => errors.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
    }
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
