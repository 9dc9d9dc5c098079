/**
 * close(code, reason), one test per rule, and every way a connection ends.
 * @see https://websockets.spec.whatwg.org/#dom-websocket-close
 */
import { once } from 'node:events';
import { describe, expect, test, vi } from 'vitest';
import type { WebSocket as PeerSocket } from 'ws';
import { WebSocket } from '@proj/client';
import {
  type Collected,
  expectDomException as domException,
  onCleanup,
  startRawServer,
  turns,
  until,
} from '@proj/test-utils';
import {
  connect,
  connectOpen,
  frame,
  nextEvent,
  openPair,
  parseClientFrames,
  record,
  startAccepting,
  startPeer,
} from './helpers.js';

/** What the `ws` peer saw in our close frame. */
async function peerClose(peer: PeerSocket): Promise<{ code: number; reason: string }> {
  const [code, reason] = (await once(peer, 'close')) as [number, Buffer];
  return { code, reason: reason.toString() };
}

describe('close(code, reason)', () => {
  test('1. a code other than 1000 or 3000-4999 is an InvalidAccessError', async () => {
    const { ws } = await openPair();
    for (const code of [0, 999, 1001, 1002, 1005, 1006, 1015, 2999, 5000, 65535, NaN, -1]) {
      domException(() => ws.close(code), 'InvalidAccessError');
    }
    // [Clamp] unsigned short: 70000 clamps to 65535, still invalid.
    domException(() => ws.close(70_000), 'InvalidAccessError');
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  test('1. the code is a [Clamp] unsigned short: 3000.4 is 3000, "4000" is 4000', async () => {
    const a = await openPair();
    const seenA = peerClose(a.peer);
    a.ws.close(3000.4);
    expect((await seenA).code).toBe(3000);
    const b = await openPair();
    const seenB = peerClose(b.peer);
    b.ws.close('4000' as unknown as number);
    expect((await seenB).code).toBe(4000);
  });

  test('1-2. the arguments are checked in every state, CLOSED included', async () => {
    const { ws } = await openPair();
    ws.close();
    await nextEvent(ws, 'close');
    domException(() => ws.close(1001), 'InvalidAccessError');
    domException(() => ws.close(1000, 'x'.repeat(124)), 'SyntaxError');
  });

  test('2. a reason over 123 UTF-8 bytes is a SyntaxError', async () => {
    const { ws } = await openPair();
    domException(() => ws.close(1000, 'a'.repeat(124)), 'SyntaxError');
    domException(() => ws.close(1000, 'é'.repeat(62)), 'SyntaxError'); // 124 bytes, 62 chars
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  test('2. a reason of exactly 123 bytes is sent', async () => {
    const { ws, peer } = await openPair();
    const reason = 'é'.repeat(61) + 'a'; // 123 bytes
    const seen = peerClose(peer);
    ws.close(4000, reason);
    expect(await seen).toEqual({ code: 4000, reason });
  });

  test('3. while CONNECTING it fails the connection: CLOSING, then error, then close 1006', async () => {
    const server = await startPeer();
    const ws = connect(server.url);
    const { events, closed } = record(ws);
    ws.close();
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    expect(events).toEqual([]); // nothing is dispatched during the call
    const close = await closed;
    expect(events.map((e) => [e.type, e.readyState])).toEqual([
      ['error', 3],
      ['close', 3],
    ]);
    expect([close.code, close.wasClean, close.reason]).toEqual([1006, false, '']);
  });

  test('3. while CONNECTING, even once the server answered, no open event follows', async () => {
    const server = await startPeer();
    const ws = connect(server.url);
    const { events, closed } = record(ws);
    await server.connection(); // the server accepted; our open task may be queued
    ws.close(1000);
    await closed;
    expect(events.map((e) => e.type)).toEqual(['error', 'close']);
  });

  test('3. while OPEN it starts the closing handshake and sets CLOSING', async () => {
    const { ws, peer } = await openPair();
    const seen = peerClose(peer);
    const { closed } = record(ws);
    ws.close(1000, 'bye');
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    expect(await seen).toEqual({ code: 1000, reason: 'bye' });
    const close = await closed;
    expect([close.code, close.reason, close.wasClean]).toEqual([1000, 'bye', true]);
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  test('3. with neither code nor reason the close frame has no body', async () => {
    let fromClient: Collected | undefined;
    const raw = await startAccepting((socket, received) => {
      fromClient = received;
      void received
        .until((bytes) => parseClientFrames(bytes).length > 0)
        .then(() => socket.end(frame(0x8)));
    });
    const ws = await connectOpen(raw.url);
    const { closed } = record(ws);
    ws.close();
    const close = await closed;
    expect(parseClientFrames(fromClient!.bytes)).toEqual([
      { opcode: 0x8, payload: Buffer.alloc(0) },
    ]);
    // The server's empty close frame reads as 1005 (no status received).
    expect([close.code, close.reason, close.wasClean]).toEqual([1005, '', true]);
  });

  test('3. with a reason but no code, the code is 1000', async () => {
    const { ws, peer } = await openPair();
    const seen = peerClose(peer);
    ws.close(undefined, 'just a reason');
    expect(await seen).toEqual({ code: 1000, reason: 'just a reason' });
  });

  test('3. while CLOSING or CLOSED it does nothing', async () => {
    const { ws, peer } = await openPair();
    const frames: number[] = [];
    peer.on('close', (code) => frames.push(code));
    const { events, closed } = record(ws);
    ws.close(4000);
    ws.close(4001, 'ignored');
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    await closed;
    ws.close(4002);
    expect(ws.readyState).toBe(WebSocket.CLOSED);
    await turns();
    expect(frames).toEqual([4000]);
    expect(events.map((e) => e.type)).toEqual(['close']);
  });
});

describe('close paths', () => {
  test('normal closure by the client: 1000, clean', async () => {
    const { ws, peer } = await openPair();
    const { closed } = record(ws);
    ws.close(1000);
    expect((await peerClose(peer)).code).toBe(1000);
    expect((await closed).wasClean).toBe(true);
  });

  test('the server closes with 1001: CLOSING, then close 1001, clean', async () => {
    const { ws, peer } = await openPair();
    const { events, closed } = record(ws);
    peer.close(1001, 'going away');
    await until(() => ws.readyState !== WebSocket.OPEN);
    const close = await closed;
    expect([close.code, close.reason, close.wasClean]).toEqual([1001, 'going away', true]);
    expect(events.map((e) => [e.type, e.readyState])).toEqual([['close', 3]]);
  });

  test('4000-range codes and reasons from the client reach the server', async () => {
    const { ws, peer } = await openPair();
    const seen = peerClose(peer);
    ws.close(4321, 'client réason');
    expect(await seen).toEqual({ code: 4321, reason: 'client réason' });
  });

  test('4000-range codes and reasons from the server reach the client', async () => {
    const { ws, peer } = await openPair();
    const { closed } = record(ws);
    peer.close(4999, 'server réason ✓');
    const close = await closed;
    expect([close.code, close.reason, close.wasClean]).toEqual([4999, 'server réason ✓', true]);
  });

  test('the socket destroyed under an open connection: close 1006, not clean, no error', async () => {
    const { ws, peer } = await openPair();
    const { events, closed } = record(ws);
    peer.terminate();
    const close = await closed;
    expect([close.code, close.reason, close.wasClean]).toEqual([1006, '', false]);
    // As browsers do, a transport lost after the opening handshake is not a failure.
    expect(events.map((e) => e.type)).toEqual(['close']);
  });

  test('close timeout: a server that never answers our close is dropped', async () => {
    const raw = await startAccepting(); // then ignores everything
    const ws = await connectOpen(raw.url, [], { closeTimeout: 200 });
    const { events, closed } = record(ws);
    const started = Date.now();
    ws.close(1000);
    const close = await closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect([close.code, close.wasClean]).toEqual([1006, false]);
    expect(events.map((e) => e.type)).toEqual(['close']);
  });

  test('close timeout: a server that answers our close but keeps TCP open is dropped', async () => {
    const raw = await startAccepting((socket, received) => {
      void received
        .until((bytes) => parseClientFrames(bytes).length > 0)
        .then(() => socket.write(frame(0x8, Buffer.from([0x0f, 0xa0, 0x68, 0x69]))));
    });
    const ws = await connectOpen(raw.url, [], { closeTimeout: 200 });
    const { closed } = record(ws);
    ws.close(4000);
    const close = await closed;
    // Both close frames were exchanged: clean, with the server's code.
    expect([close.code, close.reason, close.wasClean]).toEqual([4000, 'hi', true]);
  });

  test('close timeout: a server that started closing and never closes TCP is dropped', async () => {
    const raw = await startAccepting((socket) =>
      socket.write(frame(0x8, Buffer.from([0x03, 0xe9]))),
    );
    const ws = connect(raw.url, [], { closeTimeout: 200 });
    const close = await nextEvent(ws, 'close');
    expect([close.code, close.wasClean]).toEqual([1001, true]);
  });
});

describe('timers', () => {
  /** Our timers, recognised by their delays; checks each is unref'd and cleared at the end. */
  function spyTimers(delays: number[]): { timers: NodeJS.Timeout[] } {
    const timers: NodeJS.Timeout[] = [];
    const original = globalThis.setTimeout;
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
      callback: (...args: unknown[]) => void,
      delay?: number,
      ...args: unknown[]
    ) => {
      const timer = original(callback, delay, ...args);
      if (delay !== undefined && delays.includes(delay)) timers.push(timer);
      return timer;
    }) as typeof setTimeout);
    onCleanup(() => spy.mockRestore());
    return { timers };
  }

  const destroyed = (timer: NodeJS.Timeout): boolean =>
    (timer as unknown as { _destroyed: boolean })._destroyed;

  test('the handshake and close timers are unref’d and cleared once closed', async () => {
    const { timers } = spyTimers([12_345, 23_456]);
    const server = await startPeer();
    const ws = await connectOpen(server.url, [], {
      handshakeTimeout: 12_345,
      closeTimeout: 23_456,
    });
    const { closed } = record(ws);
    ws.close();
    await closed;
    expect(timers).toHaveLength(2);
    for (const timer of timers) {
      expect(timer.hasRef()).toBe(false);
      expect(destroyed(timer)).toBe(true);
    }
  });

  test('a failed connection leaves no timer behind', async () => {
    const { timers } = spyTimers([12_345]);
    const raw = await startRawServer((socket) => socket.destroy());
    const ws = connect(raw.url, [], { handshakeTimeout: 12_345 });
    await nextEvent(ws, 'close');
    expect(timers).toHaveLength(1);
    expect(destroyed(timers[0]!)).toBe(true);
  });
});
