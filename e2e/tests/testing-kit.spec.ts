/**
 * `@proj/testing/playwright` in real Chromium and Firefox: every helper of
 * the fixture against the browser's own WebSocket (the harness page, served
 * by the test server itself), and the words of its failures.
 */
import { createHash } from 'node:crypto';
import type { Page } from '@playwright/test';
import {
  MalformedMessageError,
  PeerClosedError,
  type StandardSchemaV1,
  type TestServer,
  WaitTimeoutError,
} from '@proj/testing/playwright';
import { expect, harnessPages, test } from '../kit-fixtures.js';
import { pattern } from '../page/pattern.js';

const MiB = 1024 * 1024;

/** Loads the harness from `server` and opens its WebSocket to `path` there; resolves once open. */
async function openSocket(
  page: Page,
  openHarness: (server: TestServer) => Promise<void>,
  server: TestServer,
  path = '',
): Promise<void> {
  await openHarness(server);
  await page.evaluate(
    (url) => window.harness.open(url, undefined, 'arraybuffer'),
    server.url + path,
  );
  await page.evaluate(() => window.harness.waitFor('open'));
}

/** What the promise rejected with; a failure of its own if it resolved. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject');
}

/** The value once it reads the same three times in a row, 100 ms apart. */
async function settled(read: () => Promise<number>): Promise<number> {
  const readings = [await read()];
  while (readings.length < 3 || new Set(readings.slice(-3)).size > 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    readings.push(await read());
  }
  return readings.at(-1)!;
}

function withoutPort(text: string, server: TestServer): string {
  return text.replaceAll(`:${server.port}`, ':PORT');
}

test.describe('the wsServer fixture', () => {
  test('its url; waitForConnection gives the page’s socket; nextMessage and messages read what the page sent', async ({
    page,
    openHarness,
    wsServer,
  }) => {
    expect(wsServer.url).toBe(`ws://127.0.0.1:${wsServer.port}/`);
    await openSocket(page, openHarness, wsServer, 'kit?room=1');
    const peer = await wsServer.waitForConnection();
    expect(peer.id).toBe(1);
    expect(peer.request.url).toBe('/kit?room=1');
    expect(peer.request.headers.origin).toBe(`http://127.0.0.1:${wsServer.port}`);

    await page.evaluate(() => window.harness.sendText('{"type":"hello","text":"héllo ✓"}'));
    await page.evaluate(() => window.harness.sendText('[1,2,3]'));
    expect(await peer.nextMessage()).toEqual({ type: 'hello', text: 'héllo ✓' });
    expect(await peer.nextMessage()).toEqual([1, 2, 3]);
    expect(peer.messages).toEqual([{ type: 'hello', text: 'héllo ✓' }, [1, 2, 3]]);
  });

  test('peer.send and sendJson: text and binary reach the page', async ({
    page,
    openHarness,
    wsServer,
  }) => {
    await openSocket(page, openHarness, wsServer);
    const peer = await wsServer.waitForConnection();
    await peer.send('plain');
    await peer.send(pattern(4096, 7));
    await peer.sendJson({ type: 'push', n: 1 });
    expect(await page.evaluate(() => window.harness.messages(3))).toEqual([
      { kind: 'text', text: 'plain', size: 5 },
      {
        kind: 'arraybuffer',
        size: 4096,
        sha256: createHash('sha256').update(pattern(4096, 7)).digest('hex'),
      },
      { kind: 'text', text: '{"type":"push","n":1}', size: 21 },
    ]);
  });

  test('nextMessage(predicate): takes the match, leaves the rest; a timeout lists what arrived', async ({
    page,
    openHarness,
    wsServer,
  }) => {
    await openSocket(page, openHarness, wsServer, 'chat');
    const peer = await wsServer.waitForConnection();
    for (const type of ['typing', 'say', 'typing']) {
      await page.evaluate((text) => window.harness.sendText(text), JSON.stringify({ type }));
    }
    expect(
      await peer.nextMessage((message) => (message as { type: string }).type === 'say'),
    ).toEqual({ type: 'say' });
    expect(await peer.nextMessage()).toEqual({ type: 'typing' });

    const error = await failure(
      peer.nextMessage(() => false, { timeout: 100, description: 'a "bye" message' }),
    );
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(error.message).toBe(
      [
        'Timed out after 100 ms waiting for a message matching a "bye" message from connection #1 (GET /chat).',
        '3 messages arrived:',
        '  #1 (taken) "{\\"type\\":\\"typing\\"}"',
        '  #2 (taken) "{\\"type\\":\\"say\\"}"',
        '  #3 (did not match) "{\\"type\\":\\"typing\\"}"',
        'The connection is open.',
      ].join('\n'),
    );
  });

  test('typed messages: a Standard Schema types them, and a malformed one fails showing its raw text', async ({
    page,
    openHarness,
    wsServer,
  }) => {
    const say: StandardSchemaV1<unknown, { text: string }> = {
      '~standard': {
        version: 1,
        vendor: 'e2e',
        validate: (value) =>
          typeof (value as { text?: unknown }).text === 'string'
            ? { value: { text: (value as { text: string }).text } }
            : { issues: [{ message: 'Expected a string', path: ['text'] }] },
      },
    };
    await openSocket(page, openHarness, wsServer);
    const peer = await wsServer.waitForConnection({ parse: say });
    await page.evaluate(() => window.harness.sendText('{"text":"hi","extra":true}'));
    const message = await peer.nextMessage();
    expect(message.text).toBe('hi');
    expect(message).toEqual({ text: 'hi' });

    await page.evaluate(() => window.harness.sendText('{"text":42}'));
    const wrong = await failure(peer.nextMessage());
    expect(wrong).toBeInstanceOf(MalformedMessageError);
    expect(wrong.message).toBe(
      [
        'Message #2 from connection #1 (GET /) is malformed:',
        '  - text: Expected a string',
        'Raw message: "{\\"text\\":42}"',
      ].join('\n'),
    );
  });

  test('peer.close(4001, "bye"): the page sees them, cleanly', async ({
    page,
    openHarness,
    wsServer,
  }) => {
    await openSocket(page, openHarness, wsServer);
    const peer = await wsServer.waitForConnection();
    expect(await peer.close(4001, 'bye')).toEqual({
      code: 4001,
      reason: 'bye',
      wasClean: true,
      cause: 'local-close',
    });
    expect(await page.evaluate(() => window.harness.waitFor('close'))).toEqual({
      type: 'close',
      code: 4001,
      reason: 'bye',
      wasClean: true,
      readyState: 3,
    });
  });

  test('the page closes: peer.waitForClose() has its code; a wait for a message fails saying so', async ({
    page,
    openHarness,
    wsServer,
  }) => {
    await openSocket(page, openHarness, wsServer);
    const peer = await wsServer.waitForConnection();
    const waiting = failure(peer.nextMessage());
    await page.evaluate(() => window.harness.close(4000, 'leaving'));
    expect(await peer.waitForClose()).toEqual({
      code: 4000,
      reason: 'leaving',
      wasClean: true,
      cause: 'peer-close',
    });
    const error = await waiting;
    expect(error).toBeInstanceOf(PeerClosedError);
    expect(error.message).toBe(
      [
        'Connection #1 (GET /) closed with 4000 "leaving" (peer-close) before the next message arrived.',
        'No message arrived.',
      ].join('\n'),
    );
  });

  test('peer.drop(): no close frame, the page sees 1006', async ({
    page,
    openHarness,
    wsServer,
  }) => {
    await openSocket(page, openHarness, wsServer);
    const peer = await wsServer.waitForConnection();
    expect(await peer.drop()).toMatchObject({ code: 1006, wasClean: false, cause: 'terminated' });
    expect(await page.evaluate(() => window.harness.waitFor('close'))).toMatchObject({
      code: 1006,
      wasClean: false,
    });
  });

  test.describe('stall', () => {
    test.use({ wsServerOptions: { http: harnessPages(), maxPayload: 64 * MiB } });

    test("peer.stall(): the page's bufferedAmount stays up until resume()", async ({
      page,
      openHarness,
      wsServer,
    }) => {
      await openSocket(page, openHarness, wsServer);
      const peer = await wsServer.waitForConnection({ parse: 'raw' });
      const stalled = peer.stall();
      // More than the socket buffers of both ends hold on loopback.
      const size = 32 * MiB;
      const sent = await page.evaluate((n) => window.harness.sendPattern(n, 4), size);
      expect(sent.bufferedAmount).toBeGreaterThanOrEqual(size);
      // The browser writes until the socket buffers are full, then its
      // bufferedAmount stops falling: above 0 while stalled (without the
      // stall it would fall to 0), and nothing arrived.
      expect(
        await settled(() => page.evaluate(() => window.harness.state().bufferedAmount)),
      ).toBeGreaterThan(0);
      expect(peer.received).toEqual([]);

      peer.resume();
      await stalled;
      const message = await peer.nextMessage();
      expect(message.isBinary).toBe(true);
      expect(createHash('sha256').update(message.data).digest('hex')).toBe(sent.sha256);
      await expect.poll(() => page.evaluate(() => window.harness.state().bufferedAmount)).toBe(0);
    });

    test('peer.stall(ms) resumes on its own', async ({ page, openHarness, wsServer }) => {
      await openSocket(page, openHarness, wsServer);
      const peer = await wsServer.waitForConnection();
      const stalled = peer.stall(300);
      await page.evaluate(() => window.harness.sendText('"during the stall"'));
      await stalled;
      expect(peer.isStalled).toBe(false);
      expect(await peer.nextMessage()).toBe('during the stall');
    });
  });

  test('wsServer.restart(): the page sees 1012 and connects again, as the next peer', async ({
    page,
    openHarness,
    wsServer,
  }) => {
    await openSocket(page, openHarness, wsServer);
    const first = await wsServer.waitForConnection();
    await wsServer.restart();
    expect(await page.evaluate(() => window.harness.waitFor('close'))).toMatchObject({
      code: 1012,
      wasClean: true,
    });
    expect(first.closed).toMatchObject({ code: 1012, cause: 'server-shutdown' });

    await page.evaluate((url) => window.harness.open(url), wsServer.url);
    await page.evaluate(() => window.harness.waitFor('open'));
    const second = await wsServer.waitForConnection();
    expect(second.id).toBe(2);
    await second.sendJson('welcome back');
    expect(await page.evaluate(() => window.harness.messages(1))).toEqual([
      { kind: 'text', text: '"welcome back"', size: 14 },
    ]);
  });

  test.describe('refused handshakes', () => {
    test.use({
      wsServerOptions: { http: harnessPages(), allowedOrigins: ['https://app.example'] },
    });

    test('waitForConnection times out listing them', async ({ page, openHarness, wsServer }) => {
      await openHarness(wsServer);
      await page.evaluate((url) => window.harness.open(url), `${wsServer.url}chat`);
      await page.evaluate(() => window.harness.waitFor('close'));
      const error = await failure(wsServer.waitForConnection({ timeout: 100 }));
      expect(error).toBeInstanceOf(WaitTimeoutError);
      expect(withoutPort(error.message, wsServer)).toBe(
        [
          'Timed out after 100 ms waiting for a connection to ws://127.0.0.1:PORT/.',
          'No connection arrived.',
          '1 handshake refused:',
          '  403 Origin not allowed (GET /chat, Origin http://127.0.0.1:PORT)',
        ].join('\n'),
      );
    });
  });
});

test.describe('the wsWorkerServer fixture', () => {
  // One worker, in order: the second test sees the server the first one used.
  test.describe.configure({ mode: 'serial' });
  let port = 0;

  test('a test leaves a connection open', async ({ page, openHarness, wsWorkerServer }) => {
    await openSocket(page, openHarness, wsWorkerServer);
    const peer = await wsWorkerServer.waitForConnection();
    await page.evaluate(() => window.harness.sendText('"from the first test"'));
    expect(await peer.nextMessage()).toBe('from the first test');
    port = wsWorkerServer.port;
  });

  test('the next test gets the same server, reset: nothing of the last test is left', async ({
    page,
    openHarness,
    wsWorkerServer,
  }) => {
    expect(wsWorkerServer.port).toBe(port);
    expect(wsWorkerServer.connectionCount).toBe(0);
    await openSocket(page, openHarness, wsWorkerServer);
    const peer = await wsWorkerServer.waitForConnection();
    expect(peer.id).toBe(1);
    expect(peer.received).toEqual([]);
  });
});
