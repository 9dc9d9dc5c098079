/**
 * ReconnectingWebSocket's `session` option against a scripted server on
 * 127.0.0.1 (reconnecting-session-peer.ts): a plain @proj/server
 * WebSocketServer that selects the session token, while each test speaks
 * the server's part of docs/session-protocol.md by hand. Drops are real
 * (terminate()); the protocol's edge cases are driven message by message.
 */
import { describe, expect, test } from 'vitest';
import {
  type CloseEvent,
  type ErrorEvent,
  GiveUpEvent,
  type MessageEvent,
  OfflineQueueFullError,
  ReconnectingWebSocket,
  type ReconnectingWebSocketOptions,
  SessionLostEvent,
  type UnsentEvent,
} from '@proj/client';
import { ProtocolError } from '@proj/protocol';
import { onCleanup, quiet, until, useCleanup } from '@proj/test-utils';
import {
  FAST,
  ack,
  control,
  finalClose,
  next,
  ready,
  record,
  type Seen,
  startScripted,
  summary,
} from './reconnecting-session-peer.js';

useCleanup({ failOnUncaught: false });

/** Sessions with the default settings, and quick retries. */
const SESSION: ReconnectingWebSocketOptions = { ...FAST, session: true };

/** A ReconnectingWebSocket, closed after the test. */
function open(
  url: string,
  protocols?: string | string[],
  options: ReconnectingWebSocketOptions = SESSION,
): ReconnectingWebSocket {
  const ws = new ReconnectingWebSocket(url, protocols, options);
  onCleanup(async () => {
    if (ws.readyState === ws.CLOSED) return;
    const closed = finalClose(ws);
    ws.close();
    await closed;
  });
  return ws;
}

/** The data and lastEventId of every message event. */
function messages(ws: ReconnectingWebSocket): [unknown, string][] {
  const seen: [unknown, string][] = [];
  ws.addEventListener('message', (event: MessageEvent) =>
    seen.push([event.data, event.lastEventId]),
  );
  return seen;
}

/**
 * Expects the events `seen` (recorded from the start) to end with a session
 * protocol breach: `error` with the ProtocolError, the final `close` (the
 * server echoing 4002) and `giveup`; and the server to have seen 4002 with
 * the error's message as the reason.
 */
async function expectBreach(
  ws: ReconnectingWebSocket,
  seen: readonly Seen[],
  closed: Promise<[number, string]>,
  message: RegExp,
): Promise<void> {
  const [code, reason] = await closed;
  expect(code).toBe(4002);
  expect(reason).toMatch(message);
  await until(() => ws.readyState === ws.CLOSED && seen.at(-1)?.type === 'giveup');
  const [error, close, giveup] = seen.slice(-3).map((s) => s.event);
  expect(summary(seen).slice(-3)).toEqual([
    expect.stringMatching(/^error/),
    'close 4002 @3',
    'giveup @3',
  ]);
  expect((error as ErrorEvent).error).toBeInstanceOf(ProtocolError);
  expect((error as ErrorEvent).error).toMatchObject({
    code: 'WS_ERR_SESSION_PROTOCOL',
    closeCode: 1002,
  });
  expect((error as ErrorEvent).message).toMatch(message);
  expect((close as CloseEvent).code).toBe(4002);
  expect(giveup).toBeInstanceOf(GiveUpEvent);
  expect([(giveup as GiveUpEvent).reason, (giveup as GiveUpEvent).code]).toEqual([
    'close-code',
    4002,
  ]);
}

describe('negotiation (section 1)', () => {
  test('no application protocol: proj-session.v1 alone; hello first; open waits for ready', async () => {
    const peer = await startScripted();
    const ws = open(peer.url);
    const seen = record(ws);
    const conn = await peer.connection();
    expect(conn.offered).toBe('proj-session.v1');
    expect(await conn.receive(1)).toEqual(['<hello>']);
    await quiet(50);
    // The socket is open, the session is not: still CONNECTING, no open event.
    expect([ws.readyState, ws.sessionId, seen.length]).toEqual([ws.CONNECTING, null, 0]);
    conn.send(ready('s-1', 0, 0));
    await next(ws, 'open');
    expect([ws.readyState, ws.sessionId, ws.protocol]).toEqual([ws.OPEN, 's-1', '']);
  });

  test('application protocols: each combined, then each alone; protocol is the application part', async () => {
    const peer = await startScripted();
    const ws = open(peer.url, ['chat.v2', 'chat.v1']);
    const conn = await peer.connection();
    expect(conn.offered).toBe('proj-session.v1+chat.v2, proj-session.v1+chat.v1, chat.v2, chat.v1');
    expect(conn.protocol).toBe('proj-session.v1+chat.v2');
    conn.send(ready('s-1', 0));
    await next(ws, 'open');
    expect(ws.protocol).toBe('chat.v2');
  });

  test('no application subprotocol, a server without sessions: every handshake fails, never open', async () => {
    const peer = await startScripted('plain');
    const ws = open(peer.url);
    const opened: string[] = [];
    ws.addEventListener('open', () => opened.push('open'));
    // Two attempts in a row: the server chose nothing of the session's lone
    // offer, and the WebSocket failed the handshake, as a browser does.
    for (let attempt = 0; attempt < 2; attempt++) {
      const conn = await peer.connection();
      expect([conn.offered, conn.protocol]).toEqual(['proj-session.v1', '']);
    }
    expect(opened).toEqual([]);
    expect(ws.readyState).not.toBe(ws.OPEN);
  });

  test('a server without sessions: a plain WebSocket, messages unnumbered and unescaped', async () => {
    const peer = await startScripted('plain');
    const ws = open(peer.url, ['chat.v1']);
    const seen = messages(ws);
    ws.send('\u0000early');
    await next(ws, 'open');
    const conn = await peer.connection();
    expect([conn.protocol, ws.protocol, ws.sessionId]).toEqual(['chat.v1', 'chat.v1', null]);
    ws.send('later');
    await conn.receive(2);
    expect(conn.raw).toEqual(['\u0000early', 'later']);
    conn.send('\u0000\u0000not unescaped');
    await until(() => seen.length === 1);
    expect(seen).toEqual([['\u0000\u0000not unescaped', '']]);
  });
});

describe('data messages (sections 2 and 3)', () => {
  test('both ways: numbered by lastEventId, text escaped and unescaped, binary unchanged', async () => {
    const peer = await startScripted();
    const ws = open(peer.url);
    ws.binaryType = 'arraybuffer';
    const seen = messages(ws);
    const conn = await peer.connection();
    conn.send(ready('s-1', 0));
    await next(ws, 'open');
    ws.send('plain');
    ws.send('\u0000starts with NUL');
    ws.send(new Uint8Array([1, 2]));
    expect(await conn.receive(4)).toEqual([
      '<hello>',
      'plain',
      '\u0000\u0000starts with NUL',
      'bin:0102',
    ]);
    conn.send('one');
    conn.send('\u0000\u0000two');
    conn.socket.send(new Uint8Array([3]), { binary: true });
    await until(() => seen.length === 3);
    expect(
      seen.map(([data, id]) => [
        data instanceof ArrayBuffer ? [...new Uint8Array(data)] : data,
        id,
      ]),
    ).toEqual([
      ['one', '1'],
      ['\u0000two', '2'],
      [[3], '3'],
    ]);
  });

  test('messages sent before ready wait for it (after hello), then go out before open', async () => {
    const peer = await startScripted();
    const ws = open(peer.url);
    ws.send('a');
    ws.send('bc');
    expect(ws.bufferedAmount).toBe(3);
    const conn = await peer.connection();
    await conn.receive(1);
    await quiet(50);
    expect(conn.received).toEqual(['<hello>']);
    expect(ws.bufferedAmount).toBe(3);
    const opened = next(ws, 'open');
    conn.send(ready('s-1', 0));
    await opened;
    expect(await conn.receive(3)).toEqual(['<hello>', 'a', 'bc']);
  });

  test('acknowledgements: after ackEvery messages, or ackDelay after the first', async () => {
    const peer = await startScripted();
    const ws = open(peer.url, undefined, { ...FAST, session: { ackEvery: 3, ackDelay: 150 } });
    const seen = messages(ws);
    const conn = await peer.connection();
    conn.send(ready('s-1', 0));
    await next(ws, 'open');
    for (const text of ['1', '2', '3', '4']) conn.send(text);
    // Three at once; the fourth after the delay.
    expect(await conn.receive(2)).toEqual(['<hello>', '<ack 3>']);
    expect(seen).toHaveLength(4);
    expect(await conn.receive(3)).toEqual(['<hello>', '<ack 3>', '<ack 4>']);
  });

  test('the replay log is bounded by maxQueuedMessages and maxQueuedBytes; acks free room', async () => {
    const peer = await startScripted();
    const ws = open(peer.url, undefined, { ...SESSION, maxQueuedMessages: 2 });
    const conn = await peer.connection();
    conn.send(ready('s-1', 0));
    await next(ws, 'open');
    ws.send('one');
    ws.send('two');
    expect(() => ws.send('three')).toThrow(OfflineQueueFullError);
    expect(() => ws.send('three')).toThrow(
      expect.objectContaining({ limit: 'maxQueuedMessages', queuedMessages: 2 }),
    );
    await conn.receive(3);
    conn.send(ack(1));
    await until(() => {
      try {
        ws.send('three');
        return true;
      } catch {
        return false;
      }
    });
    expect(await conn.receive(4)).toEqual(['<hello>', 'one', 'two', 'three']);
  });
});

describe('opening', () => {
  test('openTimeout covers the wait for ready: a server that never answers hello is left', async () => {
    const peer = await startScripted();
    const ws = open(peer.url, undefined, { ...SESSION, openTimeout: 200 });
    const seen = record(ws);
    const first = await peer.connection();
    await first.receive(1);
    const second = await peer.connection();
    expect(await second.receive(1)).toEqual(['<hello>']);
    expect(summary(seen).slice(0, 2)).toEqual(['error @0', 'reconnecting @0']);
    expect((seen[0]!.event as ErrorEvent).message).toBe(
      'No connection opened within openTimeout (200 ms)',
    );
    // The abandoned connection was closed.
    await first.closed;
  });
});

describe('resuming (section 4)', () => {
  test('after a drop: resume, the unacknowledged messages replayed at once, the server replay delivered', async () => {
    const peer = await startScripted();
    const ws = open(peer.url);
    const seen = messages(ws);
    const events = record(ws);
    const first = await peer.connection();
    first.send(ready('s-1', 0, 0));
    await next(ws, 'open');
    for (const text of ['a', 'b', 'c']) ws.send(text);
    first.send('x');
    first.send('y');
    await first.receive(4);
    first.send(ack(1));
    await until(() => seen.length === 2);
    // Let the ack of 1 arrive (the client acknowledges x and y after ackDelay).
    await first.receive(5);
    expect(first.received[4]).toBe('<ack 2>');
    const dropped = next(ws, 'close');
    first.socket.terminate();
    await dropped;
    // Sent while disconnected: logged, counted, sent on the next connection.
    ws.send('d');
    expect(ws.bufferedAmount).toBe(3);
    const second = await peer.connection();
    // resume ID RECEIVED ACKED, then the log: b, c, d, without waiting for ready.
    expect(await second.receive(4)).toEqual(['<resume s-1 2 1>', 'b', 'c', 'd']);
    expect(ws.readyState).toBe(ws.CONNECTING);
    second.send(ready('s-1', 2, 0));
    second.send('z');
    await until(() => seen.length === 3);
    expect(seen).toEqual([
      ['x', '1'],
      ['y', '2'],
      ['z', '3'],
    ]);
    expect(summary(events)).toEqual([
      'open @1',
      'message @1',
      'message @1',
      'close 1006 @0',
      'reconnecting @0',
      'open @1',
      'reconnected @1',
      'message @1',
    ]);
    expect(ws.sessionId).toBe('s-1');
  });

  test('lost: sessionlost with every unacknowledged message, then hello on the same connection', async () => {
    const peer = await startScripted();
    const ws = open(peer.url);
    const events = record(ws);
    const first = await peer.connection();
    first.send(ready('s-1', 0));
    await next(ws, 'open');
    ws.send('a');
    ws.send(new Uint8Array([9]));
    await first.receive(3);
    first.send(ack(1));
    await quiet(20);
    const dropped = next(ws, 'close');
    first.socket.terminate();
    await dropped;
    ws.send('c');
    const second = await peer.connection();
    await second.receive(3);
    const lost = next(ws, 'sessionlost');
    second.control({ type: 'lost' });
    const event = (await lost) as SessionLostEvent;
    expect(event).toBeInstanceOf(SessionLostEvent);
    expect(
      event.messages.map((m) =>
        typeof m === 'string' ? m : [...new Uint8Array(m as ArrayBuffer)],
      ),
    ).toEqual([[9], 'c']);
    expect(event.bytes).toBe(2);
    expect(ws.sessionId).toBeNull();
    // Sent from the listener or after it: the new session's first messages.
    ws.send('new');
    expect(await second.receive(4)).toEqual(['<resume s-1 0 1>', 'bin:09', 'c', '<hello>']);
    await quiet(30);
    expect(second.received).toHaveLength(4);
    second.send(ready('s-2', 0));
    await next(ws, 'open');
    expect(await second.receive(5)).toEqual(['<resume s-1 0 1>', 'bin:09', 'c', '<hello>', 'new']);
    expect(ws.sessionId).toBe('s-2');
    expect(summary(events).slice(-3)).toEqual(['sessionlost @0', 'open @1', 'reconnected @1']);
  });

  test('a restarted server without sessions: sessionlost, then a plain connection', async () => {
    const peer = await startScripted();
    // The application's own subprotocol is what a server without sessions
    // chooses: an offer of the session's alone it would leave unanswered, and
    // the WebSocket (a browser's, or ours) would fail the handshake.
    const ws = open(peer.url, ['chat.v1']);
    const seen = record(ws);
    const conn = await peer.connection();
    conn.send(ready('s-1', 0));
    await next(ws, 'open');
    ws.send('unacknowledged');
    await conn.receive(2);
    await peer.close();
    const plain = await startScripted('plain', peer.port);
    await until(() => seen.at(-1)?.type === 'reconnected');
    const lost = seen.find((s) => s.type === 'sessionlost')!;
    expect((lost.event as SessionLostEvent).messages).toEqual(['unacknowledged']);
    expect(lost.sessionId).toBeNull();
    expect(summary(seen).slice(-3)).toEqual(['sessionlost @0', 'open @1', 'reconnected @1']);
    expect([ws.sessionId, ws.protocol]).toEqual([null, 'chat.v1']);
    ws.send('plain now');
    const second = await plain.connection();
    expect(await second.receive(1)).toEqual(['plain now']);
  });
});

describe('protocol errors: the client closes with 4002, reports the error, and stops (section 2)', () => {
  test.each([
    ['a data message before ready', ['data'], /before "ready"/],
    ['an unknown control message', ['\u0000nope'], /unknown session control message/],
    ['a malformed ready', ['\u0000ready s-1 x 0'], /malformed number/],
    ['ready acknowledging messages of a new session', [ready('s-1', 1)], /not 0/],
    ['lost after hello', [control({ type: 'lost' })], /no session was resumed/],
    ['an ack before ready', [ack(0)], /"ack" arrived before "ready"/],
    ['hello from the server', [control({ type: 'hello' })], /a client's message/],
    [
      'an ack beyond what was sent',
      [ready('s-1', 0), ack(1)],
      /acknowledged 1 data messages, but only 0/,
    ],
    ['a second ready', [ready('s-1', 0), ready('s-1', 0)], /already attached/],
  ])('%s', async (_name, script, message) => {
    const peer = await startScripted();
    const ws = open(peer.url);
    const seen = record(ws);
    const conn = await peer.connection();
    await conn.receive(1);
    for (const text of script) conn.send(text);
    await expectBreach(ws, seen, conn.closed, message);
    await quiet(100);
    expect(peer.connections).toHaveLength(1);
  });

  test('ready naming another session than the one resumed', async () => {
    const peer = await startScripted();
    const ws = open(peer.url);
    const seen = record(ws);
    const first = await peer.connection();
    first.send(ready('s-1', 0));
    await next(ws, 'open');
    first.socket.terminate();
    const second = await peer.connection();
    await second.receive(1);
    second.send(ready('s-2', 0));
    await expectBreach(ws, seen, second.closed, /names session s-2, but s-1 was resumed/);
  });

  test('ready acknowledging less than was already acknowledged', async () => {
    const peer = await startScripted();
    const ws = open(peer.url);
    const seen = record(ws);
    const first = await peer.connection();
    first.send(ready('s-1', 0));
    await next(ws, 'open');
    ws.send('a');
    ws.send('b');
    await first.receive(3);
    first.send(ack(2));
    await quiet(30);
    first.socket.terminate();
    const second = await peer.connection();
    expect(await second.receive(1)).toEqual(['<resume s-1 0 2>']);
    second.send(ready('s-1', 1));
    await expectBreach(
      ws,
      seen,
      second.closed,
      /acknowledges 1 messages, outside the 2 acknowledged/,
    );
  });
});

describe('ending (section 7)', () => {
  test('close(code, reason): end, then the close with them; nothing unsent after a clean close', async () => {
    const peer = await startScripted();
    const ws = open(peer.url);
    const events = record(ws);
    const conn = await peer.connection();
    conn.send(ready('s-1', 0));
    await next(ws, 'open');
    ws.send('last words');
    const closed = finalClose(ws);
    ws.close(4000, 'bye');
    expect(await conn.closed).toEqual([4000, 'bye']);
    expect(conn.received).toEqual(['<hello>', 'last words', '<end>']);
    const close = await closed;
    expect([close.code, close.reason, close.wasClean]).toEqual([4000, 'bye', true]);
    expect(summary(events)).toEqual(['open @1', 'close 4000 @3']);
    expect(ws.sessionId).toBeNull();
  });

  test('close() acknowledges what was delivered before its end', async () => {
    const peer = await startScripted();
    const ws = open(peer.url, undefined, { ...FAST, session: { ackDelay: 60_000 } });
    const conn = await peer.connection();
    conn.send(ready('s-1', 0));
    await next(ws, 'open');
    conn.send('one');
    conn.send('two');
    await next(ws, 'message');
    await next(ws, 'message');
    ws.close();
    await conn.closed;
    expect(conn.received).toEqual(['<hello>', '<ack 2>', '<end>']);
  });

  test('close() while disconnected: no end can go out; unsent reports the unacknowledged', async () => {
    const peer = await startScripted();
    const ws = open(peer.url, undefined, { ...SESSION, minDelay: 5000, maxDelay: 5000 });
    const conn = await peer.connection();
    conn.send(ready('s-1', 0));
    await next(ws, 'open');
    ws.send('one');
    await conn.receive(2);
    conn.socket.terminate();
    await next(ws, 'reconnecting');
    ws.send('two');
    const unsent = next(ws, 'unsent');
    ws.close();
    expect(((await unsent) as UnsentEvent).messages).toEqual(['one', 'two']);
  });

  test("the server's end: CLOSING, then the final close with its code and reason, no retry", async () => {
    const peer = await startScripted();
    const ws = open(peer.url);
    const events = record(ws);
    const conn = await peer.connection();
    conn.send(ready('s-1', 0));
    await next(ws, 'open');
    conn.send('bye');
    conn.send(control({ type: 'end' }));
    await until(() => ws.readyState === ws.CLOSING);
    expect(() => ws.send('too late')).toThrow(
      expect.objectContaining({ name: 'InvalidStateError' }),
    );
    conn.socket.close(4100, 'session over');
    const close = await finalClose(ws);
    expect([close.code, close.reason]).toEqual([4100, 'session over']);
    expect(summary(events)).toEqual(['open @1', 'message @1', 'close 4100 @3']);
    await quiet(100);
    expect(peer.connections).toHaveLength(1);
  });
});

describe('timers', () => {
  test('close() leaves none: not the pending ack, not the liveness check', async () => {
    const pending = new Set<unknown>();
    const environment = {
      random: () => 0,
      setTimeout: (callback: () => void, ms: number): unknown => {
        const timer = setTimeout(() => {
          pending.delete(timer);
          callback();
        }, ms);
        pending.add(timer);
        return timer;
      },
      clearTimeout: (handle: unknown): void => {
        pending.delete(handle);
        clearTimeout(handle as NodeJS.Timeout);
      },
    };
    const peer = await startScripted();
    const ws = open(peer.url, undefined, {
      ...SESSION,
      environment,
      session: { ackDelay: 60_000 },
    });
    const conn = await peer.connection();
    conn.send(ready('s-1', 0, 60_000));
    await next(ws, 'open');
    conn.send('unacknowledged');
    await next(ws, 'message');
    // The ack timer and the liveness check.
    expect(pending.size).toBe(2);
    const closed = finalClose(ws);
    ws.close();
    await closed;
    expect(pending.size).toBe(0);
  });
});

describe('the option', () => {
  test.each([
    [{ session: 'yes' }, TypeError, /"session" option must be a boolean or an object/],
    [
      { session: { ackEvery: 0 } },
      RangeError,
      /"session.ackEvery" option must be an integer of at least 1/,
    ],
    [{ session: { ackDelay: -1 } }, RangeError, /"session.ackDelay"/],
    [{ session: { keepAliveTimeout: 1 } }, RangeError, /"session.keepAliveTimeout"/],
    [
      { session: { keepAlive: 10 } },
      TypeError,
      /Unknown ReconnectingWebSocket session option "keepAlive"/,
    ],
  ])('%j is refused', (options, ErrorClass, message) => {
    expect(
      () =>
        new ReconnectingWebSocket(
          'ws://127.0.0.1:1',
          undefined,
          options as ReconnectingWebSocketOptions,
        ),
    ).toThrow(ErrorClass);
    expect(
      () =>
        new ReconnectingWebSocket(
          'ws://127.0.0.1:1',
          undefined,
          options as ReconnectingWebSocketOptions,
        ),
    ).toThrow(message);
  });

  test('session: false is no session: no offer, no control messages', async () => {
    const peer = await startScripted('plain');
    const ws = open(peer.url, ['app.v1'], { ...FAST, session: false });
    await next(ws, 'open');
    const conn = await peer.connection();
    expect([conn.offered, conn.protocol, ws.protocol]).toEqual(['app.v1', 'app.v1', 'app.v1']);
    ws.send('hi');
    expect(await conn.receive(1)).toEqual(['hi']);
  });
});
