/**
 * Resumable sessions in real Chromium and Firefox: a page streams a counter
 * both ways while the server process is killed and restarted, and while the
 * browser goes offline and back; nothing is lost or repeated
 * (docs/session-protocol.md, section 8).
 *
 * The page (page/sessions.ts, bundled here for platform "browser") opens
 * `@proj/client`'s `ReconnectingWebSocket` with `session: true` and sends
 * `c:<n>` every 50 ms; the server, a separate Node process running the built
 * packages (session-server.mjs) with a `RedisSessionStore` on a real
 * redis-server started by the test, echoes each as `echo:<n>` and sends
 * `tick:<k>` every 50 ms, k being the tick's own sequence number. The page
 * checks every message as it arrives (sequence numbers contiguous, echoes
 * in order, ticks equal to their sequence number) and the server checks
 * every `c:<n>` (n is its sequence number, one more than the last); both
 * report violations, which must be none.
 *
 * What the browsers do with `context.setOffline(true)` (Chromium 156 and
 * Firefox ESR 153, Playwright 1.64.1): both report it (`navigator.onLine`
 * false, the window's `offline` event) and fail new WebSockets, but an open
 * one is treated differently. Chromium holds back what it would receive
 * and send (the server's pings go unanswered) until the context is online
 * again; Firefox keeps it working, both ways, as if nothing happened. A real
 * outage stops both directions in both, so the offline test also stalls the
 * TCP relay the page connects through (`StallingRelay`): nothing crosses it,
 * not even a close, until the test restores it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import { build } from 'esbuild';
import { RedisServer } from '../../packages/redis/test/redis-server.js';
import { type Env, expect, test } from '../fixtures.js';
import type {
  Counter,
  SessionSeen,
  SessionSeenType,
  SessionsPageOptions,
  SessionsState,
} from '../page/sessions.js';

/** Retries 50 to 200 ms apart. */
const OPTIONS: SessionsPageOptions = { minDelay: 50, maxDelay: 200 };
/** The page's send period (the server ticks at the same rate). */
const SEND_MS = 50;
/** Messages of each kind to see before and after each fault: about a second of streaming. */
const STREAM = 20;
/** The server's keep-alive (session-server.mjs): the page judges a link dead after 2 x this of silence. */
const KEEP_ALIVE_MS = 500;

const serverScript = fileURLToPath(new URL('../session-server.mjs', import.meta.url));

let pageScript: string;

test.beforeAll(async () => {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../page/sessions.ts', import.meta.url))],
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
  expect(client).not.toContain('../packages/client/dist/node.js');
  pageScript = result.outputFiles[0]!.text;
});

// ---------------------------------------------------------------------------
// The server process.

/** One line session-server.mjs reported. */
interface ServerLine {
  event: 'listening' | 'session' | 'resume' | 'suspend' | 'violation' | 'error' | 'close';
  id?: string;
  port?: number;
  moved?: boolean;
  sent?: number;
  received?: number;
  cause?: string;
  [key: string]: unknown;
}

/** A running session-server.mjs. */
class SessionServer {
  readonly lines: ServerLine[] = [];
  #output = '';
  #waiters = new Set<() => void>();

  private constructor(readonly child: ChildProcess) {
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      this.#output += text;
      pending += text;
      const complete = pending.split('\n');
      pending = complete.pop()!;
      // Anything but a report (none is expected) stays in `output` only.
      for (const line of complete)
        if (line.startsWith('{')) this.lines.push(JSON.parse(line) as ServerLine);
      for (const wake of [...this.#waiters]) wake();
    });
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.#output += text));
  }

  /** Starts one on `port` (0: a free one) and resolves once it listens. */
  static async start(port: number, redisUrl: string): Promise<SessionServer> {
    const child = spawn(process.execPath, [serverScript], {
      env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new SessionServer(child);
    running.add(server);
    await server.waitFor((line) => line.event === 'listening');
    return server;
  }

  get port(): number {
    return this.lines.find((line) => line.event === 'listening')!.port!;
  }

  /** Everything it printed, for failure messages. */
  get output(): string {
    return this.#output;
  }

  /** Resolves with the first line `match` accepts; rejects if the process exits first or after `timeout` ms. */
  waitFor(match: (line: ServerLine) => boolean, timeout = 15_000): Promise<ServerLine> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        this.child.off('exit', exited);
      };
      const fail = (why: string): void => {
        done();
        reject(new Error(`session-server.mjs ${why}; output:\n${this.#output}`));
      };
      const timer = setTimeout(() => fail(`printed no such line within ${timeout} ms`), timeout);
      const exited = (code: number | null, signal: string | null): void =>
        fail(`exited (${signal ?? code})`);
      const check = (): void => {
        const line = this.lines.find(match);
        if (!line) return;
        done();
        resolve(line);
      };
      this.#waiters.add(check);
      this.child.once('exit', exited);
      check();
    });
  }

  /** Sends `signal` and resolves once the process exited. */
  async stop(signal: NodeJS.Signals): Promise<void> {
    running.delete(this);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    await exited;
  }
}

/** Server processes not yet stopped: afterEach kills them, so a failed test cleans up too. */
const running = new Set<SessionServer>();

// ---------------------------------------------------------------------------
// A relay whose traffic can be stopped, as a network outage stops it.

/**
 * A TCP relay on 127.0.0.1, port 0, to `port`. `stall()` stops every byte
 * and every close on the connections open at that moment, both ways (a real
 * outage); `restore()` then cuts them, as both ends have given up on them by
 * then, and relays new connections normally again.
 */
class StallingRelay {
  #server: Server;
  #pairs = new Set<{ browser: Socket; upstream: Socket; stalled: boolean }>();

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(port: number): Promise<StallingRelay> {
    const server = createServer();
    const relay = new StallingRelay(server);
    server.on('connection', (browser) => relay.#relay(browser, port));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return relay;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.#server.address() as AddressInfo).port}/`;
  }

  #relay(browser: Socket, port: number): void {
    const upstream = connect(port, '127.0.0.1');
    const pair = { browser, upstream, stalled: false };
    this.#pairs.add(pair);
    const forward = (to: Socket) => (chunk: Buffer) => {
      if (!pair.stalled) to.write(chunk);
    };
    browser.on('data', forward(upstream));
    upstream.on('data', forward(browser));
    const cut = (): void => {
      if (pair.stalled) return;
      this.#pairs.delete(pair);
      browser.destroy();
      upstream.destroy();
    };
    for (const socket of [browser, upstream]) {
      socket.setNoDelay(true);
      socket.on('close', cut);
      // A reset on one side ends the other; the test judges what arrived.
      socket.on('error', () => {});
    }
  }

  stall(): void {
    for (const pair of this.#pairs) {
      pair.stalled = true;
      pair.browser.pause();
      pair.upstream.pause();
    }
  }

  restore(): void {
    for (const pair of this.#pairs) {
      if (!pair.stalled) continue;
      this.#pairs.delete(pair);
      pair.browser.destroy();
      pair.upstream.destroy();
    }
  }

  async close(): Promise<void> {
    for (const { browser, upstream } of this.#pairs) {
      browser.destroy();
      upstream.destroy();
    }
    this.#pairs.clear();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

// ---------------------------------------------------------------------------
// The page.

async function openPage(page: Page, env: Env, url: string): Promise<void> {
  await env.open();
  await page.addScriptTag({ content: pageScript });
  await page.evaluate(({ url, options }) => window.sessions.open(url, options), {
    url,
    options: OPTIONS,
  });
}

function state(page: Page): Promise<SessionsState> {
  return page.evaluate(() => window.sessions.state());
}

/** Resolves with the page's `count`-th event of `type`. */
async function waitFor<T extends SessionSeenType>(
  page: Page,
  type: T,
  count = 1,
): Promise<SessionSeen & { type: T }> {
  const seen = await page.evaluate(({ type, count }) => window.sessions.waitFor(type, count), {
    type,
    count,
  });
  return seen as SessionSeen & { type: T };
}

function waitUntil(page: Page, counter: Counter, atLeast: number): Promise<SessionsState> {
  return page.evaluate(({ counter, atLeast }) => window.sessions.waitUntil(counter, atLeast), {
    counter,
    atLeast,
  });
}

/** Waits until STREAM more ticks and echoes arrived than in `from`. */
async function streamOn(page: Page, from: SessionsState): Promise<SessionsState> {
  await waitUntil(page, 'ticks', from.ticks + STREAM);
  return waitUntil(page, 'echoes', from.echoes + STREAM);
}

/**
 * Stops sending, waits for the echo of every `c:<n>`, ends the session from
 * the page and checks, on both sides, that every message arrived exactly
 * once and in order, in the one session the page started with.
 */
async function finish(
  page: Page,
  server: SessionServer,
  sessionId: string,
): Promise<SessionsState> {
  const sent = await page.evaluate(() => window.sessions.stopSending());
  const final = await waitUntil(page, 'echoes', sent);

  expect(final.violations).toEqual([]);
  expect(final.sendErrors).toEqual([]);
  expect(final.pageErrors).toEqual([]);
  expect(final.echoes).toBe(sent);
  // Every message up to the last sequence number arrived, each once: ticks and echoes.
  expect(final.ticks + final.echoes).toBe(final.lastSeq);
  expect(final.events.filter((event) => event.type === 'sessionlost')).toEqual([]);
  expect(final.sessionIds).toEqual([sessionId]);

  // `end`: the server's session closes, having delivered each `c:<n>` once.
  await page.evaluate(() => window.sessions.close(1000, 'done'));
  const closed = await server.waitFor((line) => line.event === 'close' && line.id === sessionId);
  expect(closed).toMatchObject({ cause: 'session-ended', code: 1000, received: sent });
  expect(closed.sent).toBeGreaterThanOrEqual(final.lastSeq);

  const closes = final.events.filter((event) => event.type === 'close').length;
  test.info().annotations.push({
    type: 'streamed',
    description:
      `${sent} c:<n> sent (${final.sentWhileDown} while disconnected), each echoed once; ` +
      `${final.ticks} ticks; ${final.lastSeq} messages from the server; ${closes} close events (refused attempts included)`,
  });
  return final;
}

/** Lines that must never be printed. */
const problems = (server: SessionServer): ServerLine[] =>
  server.lines.filter((line) => line.event === 'violation' || line.event === 'error');

// ---------------------------------------------------------------------------

test.describe('resumable sessions in the browser', () => {
  let redis: RedisServer | undefined;
  let relay: StallingRelay | undefined;

  test.beforeEach(async () => {
    redis = await RedisServer.start();
  });

  test.afterEach(async () => {
    await Promise.all([...running].map((server) => server.stop('SIGKILL')));
    await relay?.close();
    relay = undefined;
    await redis?.stop();
    redis = undefined;
  });

  test('the server process is killed and another takes the session over from Redis: nothing lost or repeated', async ({
    page,
    serve,
  }) => {
    const env = await serve();
    const first = await SessionServer.start(0, redis!.url);
    await openPage(page, env, `ws://127.0.0.1:${first.port}/`);
    await page.evaluate((ms) => window.sessions.startSending(ms), SEND_MS);

    const before = await streamOn(page, await state(page));
    const sessionId = before.sessionIds[0]!;
    expect(before.sessionIds).toEqual([sessionId]);
    const created = await first.waitFor((line) => line.event === 'session');
    expect(created).toMatchObject({ id: sessionId, moved: false });

    // SIGKILL: no close frame, no last write to Redis; the page sees its
    // connection drop and keeps every `c:<n>` in its log meanwhile.
    await first.stop('SIGKILL');
    await waitFor(page, 'close');
    const down = await state(page);
    // About a second of sends while nothing listens on the port.
    await waitUntil(page, 'sentWhileDown', down.sentWhileDown + STREAM);

    const second = await SessionServer.start(first.port, redis!.url);
    await waitFor(page, 'reconnected');
    // The new process took the session from the store: the `session` event, moved.
    const moved = await second.waitFor((line) => line.event === 'session');
    expect(moved).toMatchObject({ id: sessionId, moved: true });

    await streamOn(page, await state(page));
    const final = await finish(page, second, sessionId);
    expect(final.sentWhileDown).toBeGreaterThanOrEqual(STREAM);
    expect(problems(first)).toEqual([]);
    expect(problems(second)).toEqual([]);
  });

  test('the browser offline for longer than the keep-alive timeout: liveness drops the link, the session resumes', async ({
    page,
    context,
    serve,
  }) => {
    const env = await serve();
    const server = await SessionServer.start(0, redis!.url);
    relay = await StallingRelay.start(server.port);
    await openPage(page, env, relay.url);
    await page.evaluate((ms) => window.sessions.startSending(ms), SEND_MS);

    const before = await streamOn(page, await state(page));
    const sessionId = before.sessionIds[0]!;
    expect(before.events.filter((event) => event.type === 'close')).toEqual([]);

    // The outage: nothing reaches the page any more, not even a close, so
    // the connection can only be dropped by the page's own liveness check.
    relay.stall();
    await context.setOffline(true);
    const offline = await waitFor(page, 'window-offline');
    const dropped = await waitFor(page, 'close');
    expect(dropped.at).toBeGreaterThan(offline.at);
    // The liveness check's error, then close 1006: judged dead after
    // 2 x KEEP_ALIVE_MS of silence, not before.
    const { events } = await state(page);
    expect(events[events.findIndex((event) => event.type === 'close') - 1]).toMatchObject({
      type: 'error',
      message: expect.stringMatching(/keepAliveTimeout/),
    });
    expect(dropped.code).toBe(1006);
    expect(dropped.silence).toBeGreaterThanOrEqual(2 * KEEP_ALIVE_MS);
    // No attempt while offline: the socket waits for the network.
    await waitFor(page, 'offline');
    const down = await state(page);
    await waitUntil(page, 'sentWhileDown', down.sentWhileDown + STREAM);
    expect((await state(page)).events.filter((event) => event.type === 'open')).toHaveLength(1);

    relay.restore();
    await context.setOffline(false);
    await waitFor(page, 'reconnected');
    await server.waitFor((line) => line.event === 'resume' && line.id === sessionId);

    await streamOn(page, await state(page));
    const final = await finish(page, server, sessionId);
    expect(final.sentWhileDown).toBeGreaterThanOrEqual(STREAM);
    expect(problems(server)).toEqual([]);
  });
});
