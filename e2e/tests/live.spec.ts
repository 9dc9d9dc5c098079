import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type Page, expect, test } from '@playwright/test';

// apps/live, the textbook's example made real, in a real browser: two pages
// (two browser contexts, so two separate players) on one server. Each page
// sends its position every 50 ms while bufferedAmount is 0; the server
// broadcasts the world 20 times a second. Self-contained: it builds the page,
// starts `node apps/live/server.mjs` on a free port and stops it at the end.

const liveDir = fileURLToPath(new URL('../../apps/live/', import.meta.url));
const POLL = { timeout: 15_000 };
/** Servers this file started: stopped after each test, even one that failed or timed out. */
const children: ChildProcess[] = [];

test.afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
});

/** What the test reads of window.liveState (the page's documented test hooks). */
interface LiveView {
  status: string;
  id: number | null;
  count: number;
  rtt: number | null;
  received: number;
  sentPerSecond: number;
  players: Array<{ id: number; x: number; y: number }>;
}

function read(page: Page): Promise<LiveView> {
  return page.evaluate(() => {
    const state = (window as unknown as { liveState: LiveView & { players: Map<number, never> } })
      .liveState;
    return {
      status: state.status,
      id: state.id,
      count: state.count,
      rtt: state.rtt,
      received: state.received,
      sentPerSecond: state.sentPerSecond,
      // A Map does not cross page.evaluate: hand over plain objects.
      players: [...state.players.values()].map(({ id, x, y }) => ({ id, x, y })),
    };
  });
}

/** Where `page` sees player `id`, or undefined when it does not see it. */
async function positionOf(page: Page, id: number): Promise<string | undefined> {
  const player = (await read(page)).players.find((p) => p.id === id);
  return player && `${player.x},${player.y}`;
}

async function startServer(): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const child = spawn(process.execPath, ['server.mjs'], {
    cwd: liveDir,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (log += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (log += text));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 10_000);
    child.stdout!.on('data', () => {
      const match = /live demo: open (http:\/\/\S+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${log}`)));
  });
  return { child, url, log: () => log };
}

test('live demo: two players see each other move, and a page that closes disappears', async ({
  browser,
}) => {
  // The bundle the server serves (what `pnpm --dir apps/live start` builds first).
  execFileSync(process.execPath, ['build.mjs'], { cwd: liveDir, stdio: 'pipe' });
  const server = await startServer();
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
    await Promise.all([pageA.goto(`${server.url}?auto=1`), pageB.goto(`${server.url}?auto=1`)]);

    await expect.poll(async () => (await read(pageA)).id, POLL).not.toBeNull();
    await expect.poll(async () => (await read(pageB)).id, POLL).not.toBeNull();
    const idA = (await read(pageA)).id!;
    const idB = (await read(pageB)).id!;
    expect(idA).not.toBe(idB);

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

    // B leaves: A sees it gone from the next world states.
    await contextB.close();
    await expect.poll(async () => (await read(pageA)).count, POLL).toBe(1);
    expect((await read(pageA)).players.map((p) => p.id)).toEqual([idA]);
    expect((await read(pageA)).status).toBe('open');
    await expect(pageA.locator('#count')).toHaveText('1', POLL);
    await expect.poll(server.log, POLL).toMatch(new RegExp(`#${idB} closed \\d+`));

    expect(errors).toEqual([]);
  } finally {
    // The server is stopped by afterEach.
    await Promise.allSettled([contextA.close(), contextB.close()]);
  }
});
