/**
 * Issue #18, point 2: a page served over HTTP/2 opens its WebSockets as RFC
 * 8441 extended CONNECT streams on that same HTTP/2 connection, in real
 * Chromium and Firefox, with the built `@proj/server` attached to a
 * `node:http2` secure server (http2-server.ts: page and WebSockets on one
 * port, a certificate for `localhost` made at run time, accepted through
 * `ignoreHTTPSErrors`).
 *
 * The proof is taken on the server side, not from the page: the WebSocket's
 * request is `:method CONNECT` with `:protocol websocket`, `httpVersionMajor`
 * 2, and came on the same `Http2Session` (the server numbers them as they
 * open) as the request for the page. Then messages both ways (text, binary,
 * 1 MiB), close codes each way, permessage-deflate as it crossed the stream
 * (RSV1 and the deflated bytes read by hand, inflated with node:zlib), and a
 * second WebSocket on the same session next to the first.
 *
 * Browser preferences: none. Both browsers do it with their default settings:
 * - Chromium 156: no preference involved (WebSockets over HTTP/2 are on by default).
 *   It puts a WebSocket on an HTTP/2 connection it already has to that host
 *   and port, one whose SETTINGS allowed extended CONNECT (RFC 8441 §3; the
 *   WebSocketServer turns SETTINGS_ENABLE_CONNECT_PROTOCOL on): loading the
 *   page from the same server first gives it that connection.
 * - Firefox ESR 153 follows `network.http.http2.websockets`, true by default
 *   (Playwright's profile leaves it alone). Set to false, the same page's
 *   WebSocket came as an HTTP/1.1 Upgrade on a connection of its own
 *   (`allowHTTP1` serves it on the same port): tried once by hand, not a test.
 * - Both: the same host name for the page and the WebSocket (`localhost` in
 *   both URLs), so that the WebSocket's host is the connection's own and no
 *   connection-coalescing rule (another name, same address and certificate)
 *   decides.
 *
 * Closing: when the page closes first, Firefox answers the close frame but
 * never ends its half of the stream (END_STREAM), which Chromium does; so the
 * server has to close the stream itself once the closing handshake is done
 * (RFC 6455 §7.1.1: the server closes first), not wait for the browser's end
 * until its close timer. `serverClose()` checks that the server's 'close'
 * follows the handshake promptly.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test as base, expect, type Page } from '@playwright/test';
import { inflateMessages, FrameReader, rawMessages } from '../../packages/client/test/wire.js';
import { isHttp2Request } from '@proj/server';
import { type Connection, type Http2TestServer, startHttp2Server } from '../http2-server.js';
import { pattern } from '../page/pattern.js';
import { sha256 } from '../fixtures.js';

declare global {
  interface Window {
    /** The page's second WebSocket, opened outside the harness. */
    second: WebSocket;
  }
}

const MiB = 1024 * 1024;

/**
 * The server's close timer here: long, so that a 'close' that came from it
 * (the stream destroyed for want of the peer's END_STREAM) cannot pass for
 * one that followed the closing handshake.
 */
const CLOSE_TIMEOUT_MS = 20_000;
/** How soon after the page's CloseEvent the server's 'close' must follow. */
const PROMPT_MS = 5_000;

const PAGE = `<!doctype html>
<html lang="en">
  <meta charset="utf-8" />
  <!-- No /favicon.ico request racing the ones the test counts. -->
  <link rel="icon" href="data:," />
  <title>@proj e2e over HTTP/2</title>
  <script type="module" src="/harness.js"></script>
</html>
`;

/** Repetitive JSON-like text of exactly `size` characters: deflates to a small fraction. */
function jsonOf(size: number): string {
  const record = (i: number): string =>
    JSON.stringify({ id: i, user: `user${i % 50}`, text: 'hello over h2', tags: ['a', 'b'] });
  let body = '';
  for (let i = 0; body.length < size; i++) body += (i ? ',' : '') + record(i);
  return '[' + body.slice(0, size - 2) + ']';
}

/** The data messages in the bytes one direction of a stream carried, read by hand. */
function wireMessages(chunks: readonly Buffer[]): ReturnType<typeof rawMessages> {
  const reader = new FrameReader();
  for (const chunk of chunks) reader.push(chunk);
  return rawMessages(reader.frames);
}

const test = base.extend<{ h2: Http2TestServer }>({
  // eslint-disable-next-line no-empty-pattern -- Playwright reads the fixture's dependencies from this pattern
  h2: async ({}, use) => {
    const dir = process.env['PROJ_E2E_BUNDLES'];
    if (!dir)
      throw new Error('PROJ_E2E_BUNDLES is not set: run the suite through playwright.config.ts');
    const server = await startHttp2Server(
      {
        '/': ['text/html; charset=utf-8', PAGE],
        '/harness.js': [
          'text/javascript; charset=utf-8',
          readFileSync(join(dir, 'harness.js'), 'utf8'),
        ],
      },
      (origin) => ({
        allowedOrigins: [origin],
        perMessageDeflate: true,
        closeTimeout: CLOSE_TIMEOUT_MS,
      }),
    );
    await use(server);
    await server.close();
  },
});

test.use({ ignoreHTTPSErrors: true });

/** Loads the page over HTTP/2; returns the id of the session it came on. */
async function openPage(page: Page, h2: Http2TestServer): Promise<number> {
  await page.goto(`${h2.origin}/`);
  await page.waitForFunction(() => window.harness !== undefined);
  const served = h2.records.filter((r) => r.kind === 'page');
  expect(served.map((r) => r.path).sort()).toEqual(['/', '/harness.js']);
  for (const record of served) expect(record).toMatchObject({ httpVersionMajor: 2, method: 'GET' });
  const session = served[0]!.session;
  expect(session).toBeGreaterThan(0);
  expect(served[1]!.session, 'the page and its script on one session').toBe(session);
  return session!;
}

/**
 * The server's 'close' of `connection`, which must come soon after the
 * closing handshake: a stream left half-closed waits for the close timer
 * instead (CLOSE_TIMEOUT_MS), and holds the connection until then.
 */
async function serverClose(connection: Connection): Promise<Awaited<Connection['closed']>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `the server's 'close' did not come within ${PROMPT_MS} ms of the closing handshake ` +
              `(its close timer is ${CLOSE_TIMEOUT_MS} ms): the stream waits for an END_STREAM ` +
              `the browser does not send`,
          ),
        ),
      PROMPT_MS,
    );
  });
  try {
    return await Promise.race([connection.closed, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The server's view of `connection`: an RFC 8441 stream on the page's session. */
function expectExtendedConnect(connection: Connection, session: number): void {
  expect(connection.record).toMatchObject({
    kind: 'websocket',
    path: '/ws',
    httpVersionMajor: 2,
    method: 'CONNECT',
    protocol: 'websocket',
    session,
  });
}

test.describe('WebSocket over HTTP/2 (RFC 8441)', () => {
  test("the WebSocket is an extended CONNECT stream on the page's session: messages both ways, deflated; the page's close code", async ({
    page,
    h2,
  }) => {
    const session = await openPage(page, h2);

    await page.evaluate((url) => window.harness.open(url, undefined, 'arraybuffer'), h2.wsUrl);
    expect(await page.evaluate(() => window.harness.waitFor('open'))).toMatchObject({
      type: 'open',
      extensions: expect.stringMatching(/^permessage-deflate/),
    });
    const connection = await h2.connection();
    expectExtendedConnect(connection, session);
    expect(connection.record.offeredExtensions).toMatch(/permessage-deflate/);
    expect(connection.record.extensions).toMatch(/^permessage-deflate/);
    expect(connection.socket.extensions).toBe(connection.record.extensions);
    expect(
      h2.records.filter((r) => r.httpVersionMajor !== 2),
      'nothing over HTTP/1.1',
    ).toEqual([]);

    // 1 MiB of repetitive JSON each way, first, so each direction's first
    // message inflates on its own whatever the context-takeover parameters.
    const json = jsonOf(MiB);
    await page.evaluate((text) => window.harness.sendText(text), json);
    expect((await connection.received(1))[0]!.text === json, 'the server got the JSON').toBe(true);
    connection.socket.send(json);
    expect(await page.evaluate(() => window.harness.messages(1))).toEqual([
      { kind: 'text', text: json, size: json.length },
    ]);
    const [up] = wireMessages(connection.wire.fromBrowser);
    const [down] = wireMessages(connection.wire.fromServer);
    for (const [message, who] of [
      [up, 'the browser'],
      [down, 'the server'],
    ] as const) {
      expect(message!.opcode, `what ${who} sent is text`).toBe(0x1);
      expect(message!.rsv1, `RSV1 on the first frame ${who} sent`).toBe(true);
      expect(message!.payload.length).toBeLessThan(json.length / 4);
      const [inflated] = inflateMessages([message!.payload]);
      expect(inflated!.toString('utf8') === json, `what ${who} sent inflates to the JSON`).toBe(
        true,
      );
    }
    expect(
      up!.frames.every((f) => f.masked),
      'the browser masks',
    ).toBe(true);
    expect(
      down!.frames.some((f) => f.masked),
      'the server does not mask',
    ).toBe(false);

    // Text and binary, small and 1 MiB, each way.
    await page.evaluate(() => window.harness.sendText('héllo over h2 ✓'));
    const sentUp = await page.evaluate((size) => window.harness.sendPattern(size, 1), MiB);
    expect(sentUp.sha256).toBe(sha256(pattern(MiB, 1)));
    expect((await connection.received(3)).slice(1)).toEqual([
      {
        isBinary: false,
        size: Buffer.byteLength('héllo over h2 ✓'),
        sha256: sha256('héllo over h2 ✓'),
        text: 'héllo over h2 ✓',
      },
      { isBinary: true, size: MiB, sha256: sentUp.sha256, text: undefined },
    ]);
    connection.socket.send('bonjour over h2 ✓');
    connection.socket.send(pattern(MiB, 2));
    expect((await page.evaluate(() => window.harness.messages(3))).slice(1)).toEqual([
      { kind: 'text', text: 'bonjour over h2 ✓', size: 'bonjour over h2 ✓'.length },
      { kind: 'arraybuffer', size: MiB, sha256: sha256(pattern(MiB, 2)) },
    ]);

    // The page closes with its own code and reason; the server hears both.
    await page.evaluate(() => window.harness.close(4001, 'page says bye'));
    expect(await page.evaluate(() => window.harness.waitFor('close'))).toMatchObject({
      code: 4001,
      reason: 'page says bye',
      wasClean: true,
    });
    expect(await serverClose(connection)).toEqual({
      code: 4001,
      reason: 'page says bye',
      wasClean: true,
    });

    // Closing the WebSocket ended its stream, not the page's connection.
    const before = h2.records.length;
    expect(await page.evaluate(() => fetch('/harness.js?again').then((r) => r.status))).toBe(200);
    expect(h2.records.slice(before)).toEqual([
      expect.objectContaining({ kind: 'page', path: '/harness.js', httpVersionMajor: 2, session }),
    ]);
  });

  test("a second WebSocket rides the same session; the server's close code reaches the page", async ({
    page,
    h2,
  }) => {
    const session = await openPage(page, h2);

    await page.evaluate((url) => window.harness.open(url), h2.wsUrl);
    await page.evaluate(() => window.harness.waitFor('open'));
    const first = await h2.connection(0);

    // The second, with the page's own WebSocket outside the harness (which
    // follows one socket at a time), while the first is open.
    const extensions = await page.evaluate(
      (url) =>
        new Promise<string>((resolve, reject) => {
          const ws = new WebSocket(url);
          window.second = ws;
          ws.onopen = () => resolve(ws.extensions);
          ws.onerror = () => reject(new Error('the second WebSocket failed to open'));
        }),
      h2.wsUrl,
    );
    expect(extensions).toMatch(/^permessage-deflate/);
    const second = await h2.connection(1);
    expectExtendedConnect(first, session);
    expectExtendedConnect(second, session);
    const streams = [first, second].map((c) =>
      isHttp2Request(c.request) ? c.request.stream.id : undefined,
    );
    expect(streams[0], 'two streams of one session').toBeGreaterThan(0);
    expect(streams[1], 'two streams of one session').toBeGreaterThan(streams[0]!);

    // The server closes the first with its code and reason.
    first.socket.close(4002, 'server says bye');
    expect(await page.evaluate(() => window.harness.waitFor('close'))).toMatchObject({
      type: 'close',
      code: 4002,
      reason: 'server says bye',
      wasClean: true,
    });
    expect(await serverClose(first)).toEqual({
      code: 4002,
      reason: 'server says bye',
      wasClean: true,
    });

    // The second goes on, on the same connection.
    await page.evaluate(() => window.second.send('still here'));
    expect((await second.received(1))[0]!.text).toBe('still here');
    const closed = page.evaluate(
      () =>
        new Promise<{ code: number; wasClean: boolean }>((resolve) => {
          const ws = window.second;
          ws.onclose = (event) => resolve({ code: event.code, wasClean: event.wasClean });
          ws.close(1000);
        }),
    );
    expect(await closed).toEqual({ code: 1000, wasClean: true });
    expect(await serverClose(second)).toEqual({ code: 1000, reason: '', wasClean: true });
  });
});
