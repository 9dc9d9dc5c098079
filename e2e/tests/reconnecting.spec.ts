/**
 * `ReconnectingWebSocket` from `@proj/client`'s browser build, in real
 * Chromium and Firefox, against a real `@proj/server`: connections are really
 * dropped (terminated, the server closed and started again on the same port,
 * a 1012 close, the browser taken offline) and really reopened.
 *
 * The page (page/reconnecting.ts) imports `ReconnectingWebSocket` from
 * `@proj/client`; beforeAll bundles it with esbuild for platform "browser", so
 * the package's `browser` export condition picks dist/browser.js (checked on
 * the bundle's inputs), and each test adds the bundle to the fixture's page,
 * served from 127.0.0.1. Delays are short and drawn without jitter
 * (`noJitter`), so each wait is known.
 *
 * What the browsers do that these tests rest on, seen with Chromium 156 and
 * Firefox ESR 153 under Playwright 1.64.1:
 * - `context.setOffline(true)` (CDP network emulation in Chromium, WebDriver
 *   BiDi `emulation.setNetworkConditions` in Firefox) makes both report it:
 *   `navigator.onLine` turns false and the window fires `offline` (then
 *   `online`, with `navigator.onLine` true, on `setOffline(false)`). A
 *   WebSocket opened while offline fails (`error`, `close` 1006) without
 *   reaching the server; one already open stays open, and sees the server
 *   drop it. (Chromium holds back the messages an open one receives until
 *   the context is online again; Firefox delivers them.)
 * - Firefox delays a WebSocket to a host:port that just refused one, on its
 *   own, by a few hundred ms and more each time
 *   (`network.websocket.delay-failed-reconnects`, on by default), on top of
 *   our backoff: the server-restart test takes a few hundred ms longer
 *   there, and counts attempts, not their timing.
 */
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import { type ServerWebSocket, WebSocketServer } from '@proj/server';
import { build } from 'esbuild';
import { type Env, expect, test } from '../fixtures.js';
import type { PageOptions, Seen, SeenType } from '../page/reconnecting.js';

/** 50 ms before every retry. */
const FAST: PageOptions = { minDelay: 50, maxDelay: 100, noJitter: true };

let pageScript: string;

test.beforeAll(async () => {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../page/reconnecting.ts', import.meta.url))],
    // Input paths relative to e2e/, wherever the suite is run from.
    absWorkingDir: fileURLToPath(new URL('..', import.meta.url)),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'warning',
  });
  const client = Object.keys(result.metafile.inputs).filter((input) =>
    input.includes('packages/client/'),
  );
  // The browser build, and nothing of the Node one.
  expect(client).toContain('../packages/client/dist/browser.js');
  expect(
    client.filter((input) => !/^\.\.\/packages\/client\/dist\/[\w-]+\.js$/.test(input)),
  ).toEqual([]);
  expect(client).not.toContain('../packages/client/dist/node.js');
  pageScript = result.outputFiles[0]!.text;
});

/**
 * Opens the fixture's page, adds the bundled page script and opens the
 * ReconnectingWebSocket, to `url` (default the server's).
 */
async function start(page: Page, env: Env, options: PageOptions, url = env.wsUrl): Promise<void> {
  await env.open();
  await page.addScriptTag({ content: pageScript });
  await page.evaluate(({ url, options }) => window.reconnecting.open(url, options), {
    url,
    options,
  });
}

function waitFor(page: Page, type: SeenType, count = 1): Promise<Seen> {
  return page.evaluate(({ type, count }) => window.reconnecting.waitFor(type, count), {
    type,
    count,
  });
}

/** The page's events as short strings: `close 1006 @0` is a close seen at readyState CONNECTING. */
async function summary(page: Page): Promise<string[]> {
  const seen = await page.evaluate(() => window.reconnecting.events());
  return seen.map((event) => {
    switch (event.type) {
      case 'close':
        return `close ${event.code} @${event.readyState}`;
      case 'reconnecting':
        return `reconnecting ${event.attempt} in ${event.delay} @${event.readyState}`;
      case 'message':
        return `message ${event.data} @${event.readyState}`;
      case 'window-online':
      case 'window-offline':
        return `${event.type} onLine=${event.onLine}`;
      default:
        return `${event.type} @${event.readyState}`;
    }
  });
}

/** A @proj/server on a given port, its first connection, and how to stop it. */
async function listenOn(port: number): Promise<{
  connection: Promise<ServerWebSocket<unknown>>;
  close(): Promise<void>;
}> {
  const server = new WebSocketServer<unknown>({ host: '127.0.0.1', port });
  await server.ready();
  const connection = new Promise<ServerWebSocket<unknown>>((resolve) =>
    server.once('connection', (socket) => resolve(socket)),
  );
  return { connection, close: () => server.close({ timeout: 0 }) };
}

test.describe('ReconnectingWebSocket in the browser', () => {
  test('a dropped connection: close, reconnecting, then open and reconnected, and messages flow again', async ({
    page,
    serve,
  }) => {
    const env = await serve();
    // Relative to the page (http://127.0.0.1:<page port>/), as a browser
    // WebSocket takes it: it connects to ws://127.0.0.1:<server port>/.
    await start(page, env, FAST, env.wsUrl.replace(/^ws:/, ''));
    expect(await page.evaluate(() => window.reconnecting.state().url)).toBe(env.wsUrl);
    const first = await env.peer(0);
    first.socket.send('before');
    await waitFor(page, 'message');

    first.socket.terminate();
    const reconnected = await waitFor(page, 'reconnected');
    expect(reconnected).toMatchObject({ attempts: 1, readyState: 1 });
    const second = await env.peer(1);
    second.socket.send('after');
    await waitFor(page, 'message', 2);
    expect(await summary(page)).toEqual([
      'open @1',
      'message before @1',
      'close 1006 @0',
      'reconnecting 1 in 50 @0',
      'open @1',
      'reconnected @1',
      'message after @1',
    ]);
    await page.evaluate(() => window.reconnecting.send('from the page'));
    expect((await second.received(1)).map((message) => message.text)).toEqual(['from the page']);
    expect(env.peers).toHaveLength(2);
  });

  test('the server closed and started again on the same port: retries until it is back', async ({
    page,
    serve,
  }) => {
    const env = await serve();
    const port = Number(new URL(env.wsUrl).port);
    await start(page, env, FAST);
    await waitFor(page, 'open');

    // 1001 to the page, then the port is free: every attempt is refused.
    await env.server.close();
    await waitFor(page, 'reconnecting', 3);
    const again = await listenOn(port);
    try {
      await waitFor(page, 'reconnected');
      (await again.connection).send('from the new server');
      await waitFor(page, 'message');
      const kinds = await summary(page);
      expect(kinds.slice(0, 3)).toEqual(['open @1', 'close 1001 @0', 'reconnecting 1 in 50 @0']);
      expect(kinds.slice(-3)).toEqual([
        'open @1',
        'reconnected @1',
        'message from the new server @1',
      ]);
      // Between them, each refused attempt: error, close 1006, the next retry.
      const refused = kinds.slice(3, -3);
      expect(refused.length).toBeGreaterThanOrEqual(6);
      expect(refused).toEqual(
        refused.map(
          (_, i) =>
            ['error @0', 'close 1006 @0', `reconnecting ${2 + Math.floor(i / 3)} in 50 @0`][i % 3],
        ),
      );
    } finally {
      await again.close();
    }
  });

  test('sent while disconnected: queued, then sent in order on the next connection', async ({
    page,
    serve,
  }) => {
    const env = await serve();
    await start(page, env, { ...FAST, minDelay: 200, maxDelay: 400 });
    const first = await env.peer(0);
    await waitFor(page, 'open');

    // Sent as the close event is dispatched, while the retry waits.
    const queued = page.evaluate(() =>
      window.reconnecting.sendAfter('close', 1, ['one', 'two', 'three']),
    );
    first.socket.terminate();
    expect(await queued).toEqual({ readyState: 0, bufferedAmount: 11 });

    const second = await env.peer(1);
    await waitFor(page, 'reconnected');
    await page.evaluate(() => window.reconnecting.send('live'));
    expect((await second.received(4)).map((message) => message.text)).toEqual([
      'one',
      'two',
      'three',
      'live',
    ]);
    expect(first.messages).toEqual([]);
    // A browser lowers bufferedAmount in a task of its own after the bytes
    // left, which may come after the server has them (seen in Firefox).
    await expect
      .poll(() => page.evaluate(() => window.reconnecting.state().bufferedAmount))
      .toBe(0);
  });

  test('offline: no attempt while the browser is offline, one at once when it is back', async ({
    page,
    context,
    serve,
  }) => {
    const env = await serve();
    await start(page, env, FAST);
    const first = await env.peer(0);
    await waitFor(page, 'open');

    await context.setOffline(true);
    expect(await waitFor(page, 'window-offline')).toMatchObject({ onLine: false });
    // The open connection is left to find out by itself: here, at once.
    first.socket.terminate();
    await waitFor(page, 'offline');
    // Absence needs a wait: ten retry delays. An attempt would not reach the
    // server (the browser fails it while offline), but the page would see
    // its error and close events.
    await page.waitForTimeout(10 * 50);
    expect(env.peers).toHaveLength(1);
    expect(await summary(page)).toEqual([
      'open @1',
      'window-offline onLine=false',
      'close 1006 @0',
      'offline @0',
    ]);

    await context.setOffline(false);
    await waitFor(page, 'reconnected');
    expect(env.peers).toHaveLength(2);
    expect((await summary(page)).slice(4)).toEqual([
      'window-online onLine=true',
      'reconnecting 1 in 0 @0',
      'open @1',
      'reconnected @1',
    ]);
  });

  test('a 1012 close with retry-after=1: no attempt before a second has passed', async ({
    page,
    serve,
  }) => {
    const env = await serve();
    await start(page, env, FAST);
    const first = await env.peer(0);
    await waitFor(page, 'open');

    const closedAt = Date.now();
    first.socket.close(1012, 'restarting; retry-after=1');
    await env.peer(1);
    // Without the hint the retry would come after 50 ms.
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(1000);
    await waitFor(page, 'reconnected');
    const seen = await page.evaluate(() => window.reconnecting.events());
    expect(seen.map((event) => event.type)).toEqual([
      'open',
      'close',
      'reconnecting',
      'open',
      'reconnected',
    ]);
    expect(seen[1]).toMatchObject({ code: 1012, reason: 'restarting; retry-after=1' });
    expect(seen[2]).toMatchObject({ attempt: 1, delay: 1000, retryAfter: 1000 });
    expect(seen[3]!.at - seen[1]!.at).toBeGreaterThanOrEqual(1000);
  });
});
