/**
 * Events: the classes, the spec's order, one task per event, the on*
 * attributes, and listeners that throw.
 * @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol
 */
import { describe, expect, test } from 'vitest';
import { CloseEvent, ErrorEvent, MessageEvent, WebSocket } from '@proj/client';
import { acceptRaw, startRawServer, turns, until } from '@proj/test-utils';
import {
  closedPort,
  connect,
  frame,
  nextEvent,
  openPair,
  record,
  startAccepting,
  startPeer,
} from './helpers.js';

/** Three messages, each followed by its listener's promise callbacks: one task per event. */
const EACH_MESSAGE_THEN_ITS_MICROTASKS = [1, 2, 3].flatMap((n) => [
  `message ${n}`,
  `microtask ${n}`,
]);

describe('event classes', () => {
  test('CloseEvent: wasClean, code, reason with their defaults', () => {
    const event = new CloseEvent('close', { wasClean: true, code: 4000, reason: 'bye' });
    expect(event).toBeInstanceOf(Event);
    expect([event.type, event.wasClean, event.code, event.reason]).toEqual([
      'close',
      true,
      4000,
      'bye',
    ]);
    const empty = new CloseEvent('close');
    expect([empty.wasClean, empty.code, empty.reason]).toEqual([false, 0, '']);
    expect(new CloseEvent('close', { code: 65537 }).code).toBe(1); // unsigned short
    expect(Object.prototype.toString.call(empty)).toBe('[object CloseEvent]');
  });

  test('ErrorEvent: message and error, for debugging', () => {
    const cause = new Error('boom');
    const event = new ErrorEvent('error', { error: cause, message: 'boom' });
    expect(event).toBeInstanceOf(Event);
    expect([event.message, event.error, event.filename, event.lineno, event.colno]).toEqual([
      'boom',
      cause,
      '',
      0,
      0,
    ]);
    expect(new ErrorEvent('error').error).toBeNull();
  });

  test('MessageEvent is the runtime class, with data and origin', () => {
    expect(MessageEvent).toBe(globalThis.MessageEvent);
    const event = new MessageEvent('message', { data: 'x', origin: 'ws://a' });
    expect([event.data, event.origin, event.lastEventId]).toEqual(['x', 'ws://a', '']);
  });
});

describe('order of events', () => {
  test('open, then messages, then close; readyState at each', async () => {
    const server = await startPeer();
    server.wss.on('connection', (peer) => {
      peer.send('one');
      peer.send('two');
      peer.close(1000);
    });
    const ws = connect(server.url);
    const { events, closed } = record(ws);
    await closed;
    expect(events.map((e) => [e.type, e.readyState])).toEqual([
      ['open', 1],
      ['message', 1],
      ['message', 1],
      ['close', 3],
    ]);
  });

  test('the handshake answer and messages in one chunk: open first, then each message', async () => {
    const raw = await startRawServer((socket) => {
      void readAndAnswerWith(socket, Buffer.concat([frame(0x1, 'a'), frame(0x1, 'b')]));
    });
    const ws = connect(raw.url);
    const { events } = record(ws);
    await nextEvent(ws, 'message');
    await nextEvent(ws, 'message');
    expect(events.map((e) => e.type)).toEqual(['open', 'message', 'message']);
  });

  test('one task per event: promise callbacks of one listener run before the next event', async () => {
    const server = await startPeer();
    server.wss.on('connection', (peer) => {
      const socket = (peer as unknown as { _socket: import('node:net').Socket })._socket;
      socket.cork(); // three messages in one TCP segment
      peer.send('1');
      peer.send('2');
      peer.send('3');
      socket.uncork();
    });
    const ws = connect(server.url);
    const log: string[] = [];
    ws.onmessage = (event) => {
      log.push(`message ${event.data as string}`);
      void Promise.resolve().then(() => log.push(`microtask ${event.data as string}`));
    };
    await new Promise<void>((resolve) => {
      ws.addEventListener('message', (event) => {
        if (event.data === '3') setImmediate(resolve);
      });
    });
    expect(log).toEqual(EACH_MESSAGE_THEN_ITS_MICROTASKS);
  });

  test('a failure: error before close, both with readyState CLOSED', async () => {
    const port = await closedPort();
    const ws = connect(`ws://127.0.0.1:${port}`);
    const { events, closed } = record(ws);
    await closed;
    expect(events.map((e) => [e.type, e.readyState])).toEqual([
      ['error', 3],
      ['close', 3],
    ]);
  });

  test('promise callbacks of error listeners run before the close event', async () => {
    const port = await closedPort();
    const ws = connect(`ws://127.0.0.1:${port}`);
    const log: string[] = [];
    ws.onerror = () => void Promise.resolve().then(() => log.push('after error'));
    ws.onclose = () => log.push('close');
    await nextEvent(ws, 'close');
    expect(log).toEqual(['after error', 'close']);
  });

  test('no events after close', async () => {
    const { ws, peer, events, closed } = await openRecorded();
    ws.send('echo me');
    ws.close();
    await closed;
    ws.send('after close');
    ws.close();
    peer.terminate();
    await turns(10);
    expect(events.map((e) => e.type)).toEqual(['close']);
  });

  test('messages that arrive after close() are not dispatched', async () => {
    const { ws, peer, events, closed } = await openRecorded();
    peer.send('in flight');
    ws.close();
    await closed;
    expect(events.map((e) => e.type)).toEqual(['close']);
  });

  test('nothing is dispatched synchronously inside a method call', async () => {
    const { ws, peer, events } = await openRecorded();
    peer.send('queued');
    await nextEvent(ws, 'message');
    events.length = 0;
    ws.send('x');
    ws.close();
    expect(events).toEqual([]);
    await nextEvent(ws, 'close');
  });
});

describe('message events', () => {
  test('origin is the serialization of the URL origin', async () => {
    const { ws, peer, url } = await openEcho();
    peer.send('x');
    const event = await nextEvent(ws, 'message');
    expect(event).toBeInstanceOf(MessageEvent);
    expect(event.origin).toBe(new URL(url).origin);
    expect(event.origin).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
  });

  test('binaryType is read when the message is dispatched', async () => {
    const { ws, peer } = await openEcho();
    expect(ws.binaryType).toBe('blob');
    peer.send(Buffer.from([1]));
    const first = await nextEvent(ws, 'message');
    expect(first.data).toBeInstanceOf(Blob);
    ws.binaryType = 'arraybuffer';
    peer.send(Buffer.from([2]));
    const second = await nextEvent(ws, 'message');
    expect(second.data).toBeInstanceOf(ArrayBuffer);
  });

  test('binaryType ignores values outside the enumeration', async () => {
    const { ws } = await openEcho();
    ws.binaryType = 'arraybuffer';
    ws.binaryType = 'nodebuffer' as never;
    ws.binaryType = 'Blob' as never;
    expect(ws.binaryType).toBe('arraybuffer');
    ws.binaryType = 'blob';
    expect(ws.binaryType).toBe('blob');
  });
});

describe('event handler attributes', () => {
  test('default to null, and read back what was set', async () => {
    const { ws } = await openEcho();
    for (const name of ['onopen', 'onmessage', 'onerror', 'onclose'] as const) {
      expect(ws[name]).toBeNull();
      const handler = (): void => {};
      ws[name] = handler;
      expect(ws[name]).toBe(handler);
    }
  });

  test('setting replaces the handler, which keeps its place among listeners', async () => {
    const { ws, peer } = await openEcho();
    const log: string[] = [];
    ws.onmessage = () => log.push('first handler');
    ws.addEventListener('message', () => log.push('listener'));
    ws.onmessage = () => log.push('second handler');
    peer.send('x');
    await nextEvent(ws, 'message');
    expect(log).toEqual(['second handler', 'listener']);
  });

  test('null removes the handler; a new one goes after existing listeners', async () => {
    const { ws, peer } = await openEcho();
    const log: string[] = [];
    ws.onmessage = () => log.push('handler');
    ws.addEventListener('message', () => log.push('listener'));
    ws.onmessage = null;
    peer.send('x');
    await nextEvent(ws, 'message');
    expect(log).toEqual(['listener']);
    ws.onmessage = () => log.push('new handler');
    peer.send('y');
    await nextEvent(ws, 'message');
    expect(log).toEqual(['listener', 'listener', 'new handler']);
  });

  test('non-objects are null; a non-callable object is kept and ignored', async () => {
    const { ws, peer } = await openEcho();
    ws.onmessage = 'alert(1)' as never;
    expect(ws.onmessage).toBeNull();
    const object = { handleEvent: () => {} };
    ws.onmessage = object as never;
    expect(ws.onmessage).toBe(object);
    peer.send('x');
    await nextEvent(ws, 'message'); // nothing throws
  });

  test('handlers run with this === the WebSocket', async () => {
    const port = await closedPort();
    const ws = connect(`ws://127.0.0.1:${port}`);
    const self = await new Promise<unknown>((resolve) => {
      ws.onclose = function () {
        resolve(this);
      };
    });
    expect(self).toBe(ws);
  });

  test('every kind of event reaches its handler', async () => {
    const server = await startPeer();
    server.wss.on('connection', (peer) => {
      peer.send('m');
      peer.close(4000);
    });
    const ws = connect(server.url);
    const log: string[] = [];
    ws.onopen = (event) => log.push(event.type);
    ws.onmessage = (event) => log.push(event.type);
    ws.onclose = (event) => log.push(`${event.type} ${event.code}`);
    await nextEvent(ws, 'close');
    expect(log).toEqual(['open', 'message', 'close 4000']);
    const port = await closedPort();
    const failing = connect(`ws://127.0.0.1:${port}`);
    const errors: string[] = [];
    failing.onerror = (event) => errors.push(event.type);
    await nextEvent(failing, 'close');
    expect(errors).toEqual(['error']);
  });
});

/**
 * Runs `body` with Node's 'uncaughtException' listeners replaced by one that
 * records: Node's EventTarget reports a listener's exception there.
 */
async function withUncaught(body: (reported: unknown[]) => Promise<void>): Promise<void> {
  const saved = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  const reported: unknown[] = [];
  process.on('uncaughtException', (error) => reported.push(error));
  try {
    await body(reported);
  } finally {
    process.removeAllListeners('uncaughtException');
    for (const listener of saved) process.on('uncaughtException', listener);
  }
}

describe('listeners that throw', () => {
  test('the error is reported, dispatch goes on, and the connection keeps working', async () => {
    // Node's EventTarget reports a listener's exception as 'uncaughtException'
    // (the browser reports it to window.onerror) and carries on.
    await withUncaught(async (reported) => {
      const { ws, peer } = await openEcho();
      const log: string[] = [];
      ws.onmessage = (event) => {
        log.push(`handler ${event.data as string}`);
        throw new Error(`thrown on ${event.data as string}`);
      };
      ws.addEventListener('message', (event) => log.push(`listener ${event.data as string}`));
      peer.send('1');
      peer.send('2');
      await nextEvent(ws, 'message');
      await nextEvent(ws, 'message');
      await turns();
      expect(log).toEqual(['handler 1', 'listener 1', 'handler 2', 'listener 2']);
      expect(reported.map((e) => (e as Error).message)).toEqual(['thrown on 1', 'thrown on 2']);
      expect(ws.readyState).toBe(WebSocket.OPEN);
      const echoed = nextEvent(ws, 'message');
      ws.send('still works');
      expect((await echoed).data).toBe('still works');
    });
  });

  test('a listener that throws: its promise callbacks still run before the next event', async () => {
    // The exception is rethrown from process.nextTick, between two immediates,
    // which makes Node skip a microtask checkpoint; three messages in one
    // chunk have their tasks queued together.
    await withUncaught(async (reported) => {
      const raw = await startAccepting((socket) =>
        socket.write(Buffer.concat([frame(0x1, '1'), frame(0x1, '2'), frame(0x1, '3')])),
      );
      const ws = connect(raw.url);
      const log: string[] = [];
      ws.onmessage = (event) => {
        const data = event.data as string;
        log.push(`message ${data}`);
        void Promise.resolve()
          .then(() => undefined)
          .then(() => log.push(`microtask ${data}`));
        throw new Error(`thrown on ${data}`);
      };
      await until(() => log.length === 6);
      expect(log).toEqual(EACH_MESSAGE_THEN_ITS_MICROTASKS);
      expect(reported.map((e) => (e as Error).message)).toEqual([
        'thrown on 1',
        'thrown on 2',
        'thrown on 3',
      ]);
    });
  });
});

/** A `ws` peer that echoes; the client open. */
async function openEcho(): Promise<{
  ws: WebSocket;
  peer: import('ws').WebSocket;
  url: string;
}> {
  const { ws, peer, server } = await openPair();
  peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary }));
  return { ws, peer, url: server.url };
}

/** {@link openEcho}, recording the client's events from then on. */
async function openRecorded() {
  const opened = await openEcho();
  return { ...opened, ...record(opened.ws) };
}

/** A raw server's answer: 101, with `after` in the same write. */
async function readAndAnswerWith(socket: import('node:net').Socket, after: Buffer): Promise<void> {
  const originalWrite = socket.write.bind(socket);
  socket.cork();
  await acceptRaw(socket);
  originalWrite(after);
  socket.uncork();
}
