/**
 * ReconnectingWebSocket against a real @proj/server on 127.0.0.1, port 0:
 * connections are really dropped (terminate(), a server closed and started
 * again on the same port, close codes, a refused handshake) and really
 * reopened. Randomness, and where it matters the timers, are injected so the
 * delays are known; the waits themselves are real.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, test } from 'vitest';
import {
  type CloseEvent,
  type ErrorEvent,
  GiveUpEvent,
  HandshakeRejectedError,
  type MessageEvent,
  OfflineQueueFullError,
  ReconnectedEvent,
  ReconnectingEvent,
  ReconnectingWebSocket,
  type ReconnectingWebSocketOptions,
  UnsentEvent,
  type WebSocket,
} from '@proj/client';
import { type ServerOptions, type ServerWebSocket, WebSocketServer, reject } from '@proj/server';
import { onCleanup, quiet, startRawServer, until, useCleanup } from '@proj/test-utils';

useCleanup({ failOnUncaught: false });

// ---- peers ----

interface TestServer {
  readonly server: WebSocketServer;
  readonly port: number;
  readonly url: string;
  /** Every connection, in order. */
  readonly sockets: ServerWebSocket[];
  /** Every accepted upgrade request, in order. */
  readonly requests: IncomingMessage[];
  /** Every text message received (binary as `bin:<hex>`), in order. */
  readonly received: string[];
  /** The next connection (or the first not yet taken). */
  connection(): Promise<ServerWebSocket>;
}

/** A @proj/server on 127.0.0.1 (port 0 unless given), closed after the test. */
async function startServer(options: ServerOptions = {}, port = 0): Promise<TestServer> {
  const server = new WebSocketServer({ host: '127.0.0.1', port, ...options });
  await server.ready();
  const bound = (server.address() as AddressInfo).port;
  const sockets: ServerWebSocket[] = [];
  const requests: IncomingMessage[] = [];
  const received: string[] = [];
  const waiting: ((socket: ServerWebSocket) => void)[] = [];
  let taken = 0;
  server.on('connection', (socket, request) => {
    sockets.push(socket);
    // A standalone server speaks HTTP/1.1: the request is an IncomingMessage.
    requests.push(request as IncomingMessage);
    socket.on('message', (data, isBinary) => {
      received.push(isBinary ? `bin:${(data as Buffer).toString('hex')}` : (data as string));
    });
    const waiter = waiting.shift();
    if (waiter) {
      taken++;
      waiter(socket);
    }
  });
  onCleanup(() => server.close({ timeout: 100 }));
  return {
    server,
    port: bound,
    url: `ws://127.0.0.1:${bound}`,
    sockets,
    requests,
    received,
    connection: () => {
      if (taken < sockets.length) return Promise.resolve(sockets[taken++]!);
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const raw = await startRawServer(() => {});
  await new Promise<void>((resolve) => raw.server.close(() => resolve()));
  return raw.port;
}

// ---- the client under test ----

/** Quick delays, no jitter (random 0: every delay is exactly minDelay unless a hint says more). */
const FAST: ReconnectingWebSocketOptions = {
  minDelay: 20,
  maxDelay: 100,
  environment: { random: () => 0 },
};

/** A ReconnectingWebSocket, closed after the test. */
function open(
  url: ConstructorParameters<typeof ReconnectingWebSocket>[0],
  protocols?: ConstructorParameters<typeof ReconnectingWebSocket>[1],
  options: ReconnectingWebSocketOptions = FAST,
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

const EVENT_TYPES = [
  'open',
  'message',
  'error',
  'close',
  'reconnecting',
  'reconnected',
  'offline',
  'unsent',
  'giveup',
] as const;

interface Seen {
  readonly type: string;
  readonly readyState: number;
  readonly event: Event;
}

/** Every event `ws` dispatches, with the readyState its listeners saw. */
function record(ws: ReconnectingWebSocket): Seen[] {
  const seen: Seen[] = [];
  for (const type of EVENT_TYPES) {
    ws.addEventListener(type, (event: Event) =>
      seen.push({ type, readyState: ws.readyState, event }),
    );
  }
  return seen;
}

/** The events as short strings: `close 1006 @0` is a close with code 1006 seen at CONNECTING. */
function summary(seen: readonly Seen[]): string[] {
  return seen.map(({ type, readyState, event }) => {
    if (event instanceof ReconnectingEvent) return `reconnecting ${event.attempt} @${readyState}`;
    if (event instanceof GiveUpEvent) return `giveup ${event.reason} @${readyState}`;
    if (type === 'close') return `close ${(event as CloseEvent).code} @${readyState}`;
    return `${type} @${readyState}`;
  });
}

/** The next event of `type`. */
function next<K extends (typeof EVENT_TYPES)[number]>(
  ws: ReconnectingWebSocket,
  type: K,
): Promise<Event> {
  return new Promise((resolve) => ws.addEventListener(type, resolve, { once: true }));
}

/** The close event at which readyState is CLOSED: the last one. */
function finalClose(ws: ReconnectingWebSocket): Promise<CloseEvent> {
  return new Promise((resolve) => {
    const listener = (event: CloseEvent): void => {
      if (ws.readyState !== ws.CLOSED) return;
      ws.removeEventListener('close', listener);
      resolve(event);
    };
    ws.addEventListener('close', listener);
  });
}

/** Timers that keep count of what is pending, over the real ones. */
function trackedTimers(): {
  pending: Set<NodeJS.Timeout>;
  setTimeout: (callback: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
} {
  const pending = new Set<NodeJS.Timeout>();
  return {
    pending,
    setTimeout: (callback, ms) => {
      const timer = setTimeout(() => {
        pending.delete(timer);
        callback();
      }, ms);
      pending.add(timer);
      return timer;
    },
    clearTimeout: (handle) => {
      pending.delete(handle as NodeJS.Timeout);
      clearTimeout(handle as NodeJS.Timeout);
    },
  };
}

/** A network status to switch by hand, keeping track of its listeners. */
class FakeNetwork extends EventTarget {
  onLine: boolean;
  readonly #listeners = new Set<EventListenerOrEventListenerObject>();

  constructor(onLine: boolean) {
    super();
    this.onLine = onLine;
  }

  /** Listeners registered now. */
  get listeners(): number {
    return this.#listeners.size;
  }

  override addEventListener(type: string, listener: EventListenerOrEventListenerObject): void {
    this.#listeners.add(listener);
    super.addEventListener(type, listener);
  }

  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject): void {
    this.#listeners.delete(listener);
    super.removeEventListener(type, listener);
  }

  set(onLine: boolean): void {
    this.onLine = onLine;
    this.dispatchEvent(new Event(onLine ? 'online' : 'offline'));
  }
}

// ---- tests ----

describe('while connected, it is a WebSocket', () => {
  test('open, messages both ways, the attributes of the current connection', async () => {
    const peer = await startServer({ protocols: ['chat.v2'] });
    peer.server.on('connection', (socket) => {
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    const ws = open(peer.url, ['chat.v1', 'chat.v2']);
    const seen = record(ws);
    expect(ws.readyState).toBe(ReconnectingWebSocket.CONNECTING);
    expect(ws.url).toBe(`${peer.url}/`);
    expect(ws.protocol).toBe('');
    await next(ws, 'open');
    expect([ws.readyState, ws.protocol, ws.extensions]).toEqual([ws.OPEN, 'chat.v2', '']);
    ws.binaryType = 'arraybuffer';
    ws.send('hello');
    ws.send(new Uint8Array([1, 2, 3]));
    await until(() => seen.filter((s) => s.type === 'message').length === 2);
    const messages = seen.filter((s) => s.type === 'message').map((s) => s.event as MessageEvent);
    expect(messages[0]!.data).toBe('hello');
    expect(messages[0]!.origin).toBe(peer.url);
    expect(new Uint8Array(messages[1]!.data as ArrayBuffer)).toEqual(new Uint8Array([1, 2, 3]));
    expect(summary(seen)).toEqual(['open @1', 'message @1', 'message @1']);
    expect(Object.prototype.toString.call(ws)).toBe('[object ReconnectingWebSocket]');
  });
});

describe('reconnecting after a drop', () => {
  test('terminate(): close at CONNECTING, reconnecting, open, reconnected', async () => {
    const peer = await startServer();
    const ws = open(peer.url);
    const seen = record(ws);
    await next(ws, 'open');
    const reconnected = next(ws, 'reconnected');
    (await peer.connection()).terminate();
    const event = (await reconnected) as ReconnectedEvent;
    expect(summary(seen)).toEqual([
      'open @1',
      'close 1006 @0',
      'reconnecting 1 @0',
      'open @1',
      'reconnected @1',
    ]);
    const reconnecting = seen[2]!.event as ReconnectingEvent;
    expect([reconnecting.attempt, reconnecting.delay, reconnecting.retryAfter]).toEqual([
      1,
      20,
      null,
    ]);
    expect(event.attempts).toBe(1);
    expect(event.downtime).toBeGreaterThanOrEqual(15);
    expect(peer.sockets).toHaveLength(2);
    ws.send('after');
    await until(() => peer.received.includes('after'));
  });

  test('a server closed and started again on the same port: retries until it is back', async () => {
    const first = await startServer();
    const ws = open(first.url);
    const seen = record(ws);
    await next(ws, 'open');
    // Default close: 1001 Going Away to every client, then the port is free.
    await first.server.close();
    await until(() => seen.filter((s) => s.type === 'reconnecting').length >= 3);
    const second = await startServer({}, first.port);
    await next(ws, 'reconnected');
    const kinds = summary(seen);
    expect(kinds.slice(0, 3)).toEqual(['open @1', 'close 1001 @0', 'reconnecting 1 @0']);
    // Each refused attempt: error and close 1006 at CONNECTING, then the next retry.
    const attempts = seen.filter((s) => s.type === 'reconnecting').length;
    expect(kinds.slice(3, -2)).toEqual(
      Array.from({ length: attempts - 1 }, (_, i) => [
        'error @0',
        'close 1006 @0',
        `reconnecting ${i + 2} @0`,
      ]).flat(),
    );
    expect(kinds.slice(-2)).toEqual(['open @1', 'reconnected @1']);
    expect((seen.at(-1)!.event as ReconnectedEvent).attempts).toBe(attempts);
    expect(second.sockets).toHaveLength(1);
  });

  test('a drop after a connection that stayed up starts counting retries again at 1', async () => {
    const peer = await startServer();
    const ws = open(peer.url, undefined, { ...FAST, minUptime: 0 });
    const seen = record(ws);
    for (let i = 0; i < 3; i++) {
      await next(ws, 'open');
      (await peer.connection()).terminate();
    }
    await next(ws, 'open');
    const attempts = seen
      .filter((s) => s.type === 'reconnecting')
      .map((s) => (s.event as ReconnectingEvent).attempt);
    expect(attempts).toEqual([1, 1, 1]);
  });

  test('minUptime: connections dropped sooner keep the retry count growing', async () => {
    const peer = await startServer();
    peer.server.on('connection', (socket) => socket.close(1011, 'flapping'));
    const ws = open(peer.url, undefined, { ...FAST, minUptime: 60_000 });
    const seen = record(ws);
    await until(() => seen.filter((s) => s.type === 'reconnecting').length === 4);
    ws.close();
    const retries = seen.filter((s) => s.type === 'reconnecting');
    expect(retries.map((s) => (s.event as ReconnectingEvent).attempt)).toEqual([1, 2, 3, 4]);
    expect(summary(seen).slice(0, 3)).toEqual(['open @1', 'close 1011 @0', 'reconnecting 1 @0']);
  });

  test('delays are drawn over the whole window, growing by factor up to maxDelay', async () => {
    const port = await closedPort();
    const draws = [0.999, 0.5, 0.999, 0.999, 0.999];
    const ws = open(`ws://127.0.0.1:${port}`, undefined, {
      minDelay: 10,
      maxDelay: 50,
      factor: 2,
      maxRetries: 4,
      environment: { random: () => draws.shift()! },
    });
    const seen = record(ws);
    await next(ws, 'giveup');
    const delays = seen
      .filter((s) => s.type === 'reconnecting')
      .map((s) => (s.event as ReconnectingEvent).delay);
    // Windows [10, 20), [10, 40), [10, 50), [10, 50).
    expect(delays).toEqual([19, 25, 49, 49]);
  });

  test('binaryType reaches every new socket', async () => {
    const peer = await startServer();
    peer.server.on('connection', (socket) => socket.send(new Uint8Array([5]), { binary: true }));
    const ws = open(peer.url);
    ws.binaryType = 'arraybuffer';
    const data: unknown[] = [];
    ws.onmessage = (event) => data.push(event.data);
    await next(ws, 'message');
    (await peer.connection()).terminate();
    await next(ws, 'message');
    ws.binaryType = 'blob';
    (await peer.connection()).terminate();
    await next(ws, 'message');
    expect(data.map((d) => Object.prototype.toString.call(d))).toEqual([
      '[object ArrayBuffer]',
      '[object ArrayBuffer]',
      '[object Blob]',
    ]);
  });

  test('close() from a close listener: no retry is announced or made', async () => {
    const peer = await startServer();
    const timers = trackedTimers();
    const ws = open(peer.url, undefined, {
      ...FAST,
      environment: { setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout },
    });
    const seen = record(ws);
    await next(ws, 'open');
    ws.addEventListener('close', () => ws.close(), { once: true });
    (await peer.connection()).terminate();
    await finalClose(ws);
    // The listener recording it ran before the one calling close().
    expect(summary(seen)).toEqual(['open @1', 'close 1006 @0', 'close 1006 @3']);
    expect(timers.pending.size).toBe(0);
    await quiet(100);
    expect(peer.sockets).toHaveLength(1);
  });
});

describe('providers, called before every attempt', () => {
  test('async URL, protocols and token: a fresh value each attempt', async () => {
    const peer = await startServer({ protocols: ['p1', 'p2', 'p3'] });
    const calls = { url: 0, protocols: 0, token: 0 };
    const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));
    const ws = open(
      async () => {
        await tick();
        return `${peer.url}/feed/${++calls.url}?room=a`;
      },
      async () => {
        await tick();
        return [`p${++calls.protocols}`];
      },
      {
        ...FAST,
        token: async () => {
          await tick();
          return `secret-${++calls.token}`;
        },
      },
    );
    expect(ws.url).toBe('');
    await next(ws, 'open');
    expect([ws.protocol, ws.url]).toEqual(['p1', `${peer.url}/feed/1?room=a`]);
    for (let i = 0; i < 2; i++) {
      (await peer.connection()).terminate();
      await next(ws, 'open');
    }
    // The token goes in the query; `url` never shows it.
    expect(peer.requests.map((r) => r.url)).toEqual([
      '/feed/1?room=a&access_token=secret-1',
      '/feed/2?room=a&access_token=secret-2',
      '/feed/3?room=a&access_token=secret-3',
    ]);
    expect(peer.requests.map((r) => r.headers['sec-websocket-protocol'])).toEqual([
      'p1',
      'p2',
      'p3',
    ]);
    expect([ws.protocol, ws.url]).toEqual(['p3', `${peer.url}/feed/3?room=a`]);
  });

  test('tokenIn "header" (Node): Authorization: Bearer, with the socketOptions headers', async () => {
    const peer = await startServer();
    let n = 0;
    const ws = open(peer.url, undefined, {
      ...FAST,
      token: () => `t${++n}`,
      tokenIn: 'header',
      socketOptions: { headers: { 'x-client': 'test' } },
    });
    await next(ws, 'open');
    (await peer.connection()).terminate();
    await next(ws, 'reconnected');
    expect(
      peer.requests.map((r) => [r.headers.authorization, r.headers['x-client'], r.url]),
    ).toEqual([
      ['Bearer t1', 'test', '/'],
      ['Bearer t2', 'test', '/'],
    ]);
  });

  test('a provider that fails fails that attempt: error with the cause, then a retry', async () => {
    const peer = await startServer();
    const failure = new Error('token service down');
    let calls = 0;
    const ws = open(peer.url, undefined, {
      ...FAST,
      token: () => (++calls === 1 ? Promise.reject(failure) : 'ok'),
    });
    const seen = record(ws);
    await next(ws, 'open');
    expect(summary(seen)).toEqual(['error @0', 'reconnecting 1 @0', 'open @1']);
    const error = seen[0]!.event as ErrorEvent;
    expect([error.error, error.message]).toEqual([failure, 'token service down']);
    expect(peer.requests.map((r) => r.url)).toEqual(['/?access_token=ok']);
  });

  test('a provider giving what no WebSocket takes ends it: error, close 1006, giveup "invalid"', async () => {
    const ws = open(() => 'ftp://127.0.0.1/', undefined, FAST);
    const seen = record(ws);
    await next(ws, 'giveup');
    expect(summary(seen)).toEqual(['error @0', 'close 1006 @3', 'giveup invalid @3']);
    const cause = (seen[0]!.event as ErrorEvent).error;
    expect(cause).toBeInstanceOf(DOMException);
    expect((cause as DOMException).name).toBe('SyntaxError');
    expect((seen[2]!.event as GiveUpEvent).error).toBe(cause);
  });
});

describe('close codes', () => {
  test.each([1002, 1003, 1007, 1008, 1009, 1010])(
    'the server closing with %i: no retry, giveup "close-code"',
    async (code) => {
      const peer = await startServer();
      peer.server.on('connection', (socket) => socket.close(code, 'go away'));
      const ws = open(peer.url);
      const seen = record(ws);
      const giveup = (await next(ws, 'giveup')) as GiveUpEvent;
      expect(summary(seen)).toEqual(['open @1', `close ${code} @3`, 'giveup close-code @3']);
      expect([giveup.code, giveup.attempts]).toEqual([code, 0]);
      // Several backoff windows later, still one connection.
      await quiet(300);
      expect(peer.sockets).toHaveLength(1);
    },
  );

  test('finalCloseCodes: an application code listed there is final; others are retried', async () => {
    const peer = await startServer();
    const codes = [4002, 4001];
    peer.server.on('connection', (socket) => socket.close(codes.shift()!, ''));
    const ws = open(peer.url, undefined, { ...FAST, finalCloseCodes: [4001] });
    const seen = record(ws);
    await next(ws, 'giveup');
    expect(summary(seen)).toEqual([
      'open @1',
      'close 4002 @0',
      'reconnecting 1 @0',
      'open @1',
      'reconnected @1',
      'close 4001 @3',
      'giveup close-code @3',
    ]);
  });

  test.each([1012, 1013])(
    'a %i whose reason says retry-after=1: the next attempt waits one second',
    async (code) => {
      const peer = await startServer();
      const ws = open(peer.url);
      await next(ws, 'open');
      const reconnecting = next(ws, 'reconnecting');
      const closedAt = performance.now();
      (await peer.connection()).close(code, 'restarting; retry-after=1');
      const event = (await reconnecting) as ReconnectingEvent;
      // random 0: the hint exactly, no jitter on top.
      expect([event.attempt, event.delay, event.retryAfter]).toEqual([1, 1000, 1000]);
      await peer.connection();
      expect(performance.now() - closedAt).toBeGreaterThanOrEqual(990);
    },
  );

  test('a hint on another code, or a 1012 without one: the backoff alone', async () => {
    const peer = await startServer();
    const ws = open(peer.url);
    const seen = record(ws);
    await next(ws, 'open');
    (await peer.connection()).close(1011, 'retry-after=5');
    await next(ws, 'reconnected');
    (await peer.connection()).close(1012, 'restarting');
    await next(ws, 'reconnected');
    const delays = seen
      .filter((s) => s.type === 'reconnecting')
      .map((s) => [
        (s.event as ReconnectingEvent).delay,
        (s.event as ReconnectingEvent).retryAfter,
      ]);
    expect(delays).toEqual([
      [20, null],
      [20, null],
    ]);
  });

  test('a 503 with Retry-After: 1 (Node sees the status): the next attempt waits one second', async () => {
    let refusals = 1;
    const peer = await startServer({
      authenticate: () =>
        refusals-- > 0 ? reject(503, { headers: { 'retry-after': '1' } }) : undefined,
    });
    const ws = open(peer.url);
    const seen = record(ws);
    const started = performance.now();
    await next(ws, 'open');
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
    expect(summary(seen)).toEqual(['error @0', 'close 1006 @0', 'reconnecting 1 @0', 'open @1']);
    const cause = (seen[0]!.event as ErrorEvent).error as HandshakeRejectedError;
    expect(cause).toBeInstanceOf(HandshakeRejectedError);
    expect(cause.status).toBe(503);
    const event = seen[2]!.event as ReconnectingEvent;
    expect([event.delay, event.retryAfter]).toEqual([1000, 1000]);
  });
});

describe('the offline queue', () => {
  test('sends while disconnected go out in order when a connection opens, before open', async () => {
    const peer = await startServer();
    const ws = open(peer.url);
    // Before the first connection too.
    ws.send('early');
    expect(ws.bufferedAmount).toBe(5);
    await next(ws, 'open');
    await until(() => peer.received.length === 1);
    const dropped = next(ws, 'close');
    (await peer.connection()).terminate();
    await dropped;
    expect(ws.readyState).toBe(ws.CONNECTING);
    const bytes = new Uint8Array([1, 2, 3, 4]);
    ws.send('é');
    ws.send(bytes.subarray(1, 3));
    ws.send(new Blob([new Uint8Array([9])]));
    // The caller may reuse its buffer: the queue holds a copy.
    bytes.fill(0);
    expect(ws.bufferedAmount).toBe(2 + 2 + 1);
    ws.addEventListener('open', () => ws.send('from open'), { once: true });
    await next(ws, 'reconnected');
    await until(() => peer.received.length === 5);
    expect(peer.received).toEqual(['early', 'é', 'bin:0203', 'bin:09', 'from open']);
    await until(() => ws.bufferedAmount === 0);
  });

  test('a send that does not fit throws OfflineQueueFullError, and is neither queued nor sent', async () => {
    const peer = await startServer();
    const ws = open(peer.url, undefined, { ...FAST, maxQueuedMessages: 2, maxQueuedBytes: 5 });
    ws.send('ab');
    ws.send('cd');
    let error: unknown;
    try {
      ws.send('e');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(OfflineQueueFullError);
    const full = error as OfflineQueueFullError;
    expect([full.code, full.limit, full.size, full.queuedMessages, full.queuedBytes]).toEqual([
      'WS_ERR_OFFLINE_QUEUE_FULL',
      'maxQueuedMessages',
      1,
      2,
      4,
    ]);
    await next(ws, 'open');
    await until(() => peer.received.length === 2);
    const dropped = next(ws, 'close');
    (await peer.connection()).terminate();
    await dropped;
    ws.send('abc');
    expect(() => ws.send('def')).toThrow(
      expect.objectContaining({ limit: 'maxQueuedBytes', size: 3, queuedBytes: 3 }),
    );
    expect(ws.bufferedAmount).toBe(3);
    await next(ws, 'reconnected');
    await until(() => peer.received.length === 3);
    await quiet(50);
    expect(peer.received).toEqual(['ab', 'cd', 'abc']);
  });

  test('maxQueuedMessages 0: every send while disconnected throws', () => {
    const ws = open('ws://127.0.0.1:1', undefined, { ...FAST, maxQueuedMessages: 0 });
    expect(() => ws.send('x')).toThrow(OfflineQueueFullError);
    expect(ws.bufferedAmount).toBe(0);
  });

  test('closing with messages queued: unsent reports them, then the final close', async () => {
    const port = await closedPort();
    const ws = open(`ws://127.0.0.1:${port}`);
    const seen = record(ws);
    ws.send('one');
    ws.send(new Uint8Array([7, 8]));
    await next(ws, 'reconnecting');
    ws.close();
    await finalClose(ws);
    expect(summary(seen).slice(-2)).toEqual(['unsent @3', 'close 1006 @3']);
    const unsent = seen.at(-2)!.event as UnsentEvent;
    expect(unsent.messages[0]).toBe('one');
    expect(new Uint8Array(unsent.messages[1] as ArrayBuffer)).toEqual(new Uint8Array([7, 8]));
    expect(unsent.bytes).toBe(5);
    expect(ws.bufferedAmount).toBe(0);
  });

  test('send() once CLOSING or CLOSED throws InvalidStateError instead of dropping', async () => {
    const peer = await startServer();
    const ws = open(peer.url);
    await next(ws, 'open');
    ws.close();
    expect(ws.readyState).toBe(ws.CLOSING);
    expect(() => ws.send('late')).toThrow(expect.objectContaining({ name: 'InvalidStateError' }));
    await finalClose(ws);
    expect(() => ws.send('later')).toThrow(expect.objectContaining({ name: 'InvalidStateError' }));
  });
});

describe('giving up', () => {
  test('maxRetries: the last failed retry ends in the final close, then giveup', async () => {
    const port = await closedPort();
    const timers = trackedTimers();
    const ws = open(`ws://127.0.0.1:${port}`, undefined, {
      ...FAST,
      maxRetries: 2,
      environment: {
        random: () => 0,
        setTimeout: timers.setTimeout,
        clearTimeout: timers.clearTimeout,
      },
    });
    const seen = record(ws);
    const giveup = (await next(ws, 'giveup')) as GiveUpEvent;
    expect(summary(seen)).toEqual([
      'error @0',
      'close 1006 @0',
      'reconnecting 1 @0',
      'error @0',
      'close 1006 @0',
      'reconnecting 2 @0',
      'error @0',
      'close 1006 @3',
      'giveup max-retries @3',
    ]);
    expect([giveup.attempts, giveup.code]).toEqual([2, 1006]);
    expect(ws.readyState).toBe(ws.CLOSED);
    expect(timers.pending.size).toBe(0);
  });

  test('maxRetryTime: no attempt starts later than that into the outage', async () => {
    const port = await closedPort();
    const ws = open(`ws://127.0.0.1:${port}`, undefined, {
      minDelay: 200,
      maxDelay: 200,
      maxRetryTime: 500,
      environment: { random: () => 0 },
    });
    const seen = record(ws);
    const started = performance.now();
    const giveup = (await next(ws, 'giveup')) as GiveUpEvent;
    // Attempts at about 0, 200 and 400 ms; one at 600 would be past 500.
    expect(giveup.reason).toBe('max-retry-time');
    expect(giveup.attempts).toBe(2);
    expect(summary(seen).slice(-3)).toEqual([
      'error @0',
      'close 1006 @3',
      'giveup max-retry-time @3',
    ]);
    expect(performance.now() - started).toBeLessThan(600);
  });
});

describe('close()', () => {
  test('during a backoff wait: stops everything, no timer left, no more attempts', async () => {
    const peer = await startServer();
    const timers = trackedTimers();
    const network = new FakeNetwork(true);
    const ws = open(peer.url, undefined, {
      minDelay: 300,
      maxDelay: 300,
      environment: {
        random: () => 0,
        setTimeout: timers.setTimeout,
        clearTimeout: timers.clearTimeout,
        network,
      },
    });
    const seen = record(ws);
    await next(ws, 'open');
    expect(network.listeners).toBe(2);
    (await peer.connection()).terminate();
    await next(ws, 'reconnecting');
    expect(timers.pending.size).toBe(1);
    ws.close();
    expect(ws.readyState).toBe(ws.CLOSING);
    await finalClose(ws);
    expect(summary(seen)).toEqual([
      'open @1',
      'close 1006 @0',
      'reconnecting 1 @0',
      'close 1006 @3',
    ]);
    expect(timers.pending.size).toBe(0);
    expect(network.listeners).toBe(0);
    // Past the wait that was cancelled: no attempt was made.
    await quiet(500);
    expect(peer.sockets).toHaveLength(1);
  });

  test('while open: the closing handshake with the given code, no retry', async () => {
    const peer = await startServer();
    const ws = open(peer.url);
    const seen = record(ws);
    await next(ws, 'open');
    const server = await peer.connection();
    const serverClosed = new Promise<[number, string]>((resolve) =>
      server.on('close', (code, reason) => resolve([code, reason])),
    );
    // Either side may report its close first.
    const closed = finalClose(ws);
    ws.close(4000, 'bye');
    expect(await serverClosed).toEqual([4000, 'bye']);
    const close = await closed;
    expect([close.code, close.reason, close.wasClean]).toEqual([4000, 'bye', true]);
    expect(summary(seen)).toEqual(['open @1', 'close 4000 @3']);
    await quiet(100);
    expect(peer.sockets).toHaveLength(1);
  });

  test('while the socket is connecting: error and close 1006, as a WebSocket, and no retry', async () => {
    let dials = 0;
    // Takes the TCP connection and never answers the handshake.
    const raw = await startRawServer(() => dials++);
    const ws = open(raw.url);
    const seen = record(ws);
    await until(() => dials === 1);
    ws.close();
    await finalClose(ws);
    expect(summary(seen)).toEqual(['error @2', 'close 1006 @3']);
    await quiet(100);
    expect(dials).toBe(1);
  });

  test('validates its arguments as WebSocket.close() does', () => {
    const ws = open('ws://127.0.0.1:1');
    expect(() => ws.close(1001)).toThrow(expect.objectContaining({ name: 'InvalidAccessError' }));
    expect(() => ws.close(1000, 'x'.repeat(124))).toThrow(
      expect.objectContaining({ name: 'SyntaxError' }),
    );
    expect(ws.readyState).toBe(ws.CONNECTING);
  });
});

describe('openTimeout', () => {
  test('an attempt that never opens is abandoned, its socket dropped, and retried', async () => {
    const closed: number[] = [];
    let dials = 0;
    const raw = await startRawServer((socket) => {
      const n = ++dials;
      // Reading, so the client's FIN is seen.
      socket.resume();
      socket.on('close', () => closed.push(n));
    });
    const ws = open(raw.url, undefined, { ...FAST, openTimeout: 150 });
    const seen = record(ws);
    await next(ws, 'reconnecting');
    expect(summary(seen)).toEqual(['error @0', 'reconnecting 1 @0']);
    expect((seen[0]!.event as ErrorEvent).message).toBe(
      'No connection opened within openTimeout (150 ms)',
    );
    await until(() => dials >= 2 && closed.includes(1));
  });

  test('it covers the providers: one that never settles is abandoned and called again', async () => {
    const peer = await startServer();
    let calls = 0;
    const ws = open(peer.url, undefined, {
      ...FAST,
      openTimeout: 150,
      token: () => (++calls === 1 ? new Promise<string>(() => {}) : 'fresh'),
    });
    const seen = record(ws);
    await next(ws, 'open');
    expect(summary(seen)).toEqual(['error @0', 'reconnecting 1 @0', 'open @1']);
    expect(calls).toBe(2);
    expect(peer.requests.map((r) => r.url)).toEqual(['/?access_token=fresh']);
  });
});

describe('network status (injected)', () => {
  test('offline from the start: offline, no attempt until online, then one at once', async () => {
    const peer = await startServer();
    const network = new FakeNetwork(false);
    const ws = open(peer.url, undefined, { ...FAST, environment: { network } });
    const seen = record(ws);
    await next(ws, 'offline');
    await quiet(150);
    expect(peer.sockets).toHaveLength(0);
    network.set(true);
    await next(ws, 'open');
    // The first attempt is no retry: no reconnecting event.
    expect(summary(seen)).toEqual(['offline @0', 'open @1']);
  });

  test('offline during a backoff wait: the wait ends; online retries at once', async () => {
    const peer = await startServer();
    const network = new FakeNetwork(true);
    const ws = open(peer.url, undefined, {
      minDelay: 20_000,
      maxDelay: 20_000,
      environment: { random: () => 0, network },
    });
    const seen = record(ws);
    await next(ws, 'open');
    (await peer.connection()).terminate();
    await next(ws, 'reconnecting');
    network.set(false);
    network.set(true);
    const started = performance.now();
    await next(ws, 'reconnected');
    expect(performance.now() - started).toBeLessThan(5000);
    expect(summary(seen)).toEqual([
      'open @1',
      'close 1006 @0',
      'reconnecting 1 @0',
      'offline @0',
      'reconnecting 1 @0',
      'open @1',
      'reconnected @1',
    ]);
    expect((seen[4]!.event as ReconnectingEvent).delay).toBe(0);
  });

  test('a drop while offline: offline instead of reconnecting, and an open socket is left alone', async () => {
    const peer = await startServer();
    const network = new FakeNetwork(true);
    const ws = open(peer.url, undefined, { ...FAST, environment: { random: () => 0, network } });
    const seen = record(ws);
    await next(ws, 'open');
    network.set(false);
    ws.send('still open');
    await until(() => peer.received.length === 1);
    (await peer.connection()).terminate();
    await next(ws, 'offline');
    await quiet(150);
    expect(peer.sockets).toHaveLength(1);
    network.set(true);
    await next(ws, 'reconnected');
    expect(summary(seen)).toEqual([
      'open @1',
      'close 1006 @0',
      'offline @0',
      'reconnecting 1 @0',
      'open @1',
      'reconnected @1',
    ]);
  });

  test("online while a server's hint still runs: the attempt waits for the hint's end", async () => {
    const peer = await startServer();
    const network = new FakeNetwork(true);
    const ws = open(peer.url, undefined, { ...FAST, environment: { random: () => 0, network } });
    await next(ws, 'open');
    const closedAt = performance.now();
    (await peer.connection()).close(1013, 'retry-after=1');
    await next(ws, 'reconnecting');
    network.set(false);
    const reconnecting = next(ws, 'reconnecting');
    network.set(true);
    const event = (await reconnecting) as ReconnectingEvent;
    expect(event.attempt).toBe(1);
    expect(event.retryAfter).toBe(1000);
    expect(event.delay).toBeGreaterThan(800);
    expect(event.delay).toBeLessThanOrEqual(1000);
    await peer.connection();
    expect(performance.now() - closedAt).toBeGreaterThanOrEqual(990);
  });

  test('back online past maxRetryTime: no attempt; the final close, then giveup', async () => {
    const port = await closedPort();
    const network = new FakeNetwork(true);
    const clock = { now: 0 };
    const ws = open(`ws://127.0.0.1:${port}`, undefined, {
      ...FAST,
      maxRetryTime: 10_000,
      environment: { random: () => 0, network, now: () => clock.now },
    });
    const seen = record(ws);
    await next(ws, 'reconnecting');
    network.set(false);
    clock.now += 60_000;
    const giveup = next(ws, 'giveup');
    network.set(true);
    await giveup;
    expect(summary(seen)).toEqual([
      'error @0',
      'close 1006 @0',
      'reconnecting 1 @0',
      'offline @0',
      'close 1006 @3',
      'giveup max-retry-time @3',
    ]);
  });
});

describe('the seam for a session layer', () => {
  /** Greets every new socket from the hook, and records what the hook saw. */
  class Greeting extends ReconnectingWebSocket {
    readonly opened: [boolean, number][] = [];

    protected override socketOpened(socket: WebSocket, reconnected: boolean): void {
      this.opened.push([reconnected, this.bufferedAmount]);
      socket.send(`hello ${reconnected ? 'again' : 'first'}`);
    }
  }

  test('socketOpened sees each new socket before the queued sends and the open event', async () => {
    const peer = await startServer();
    const ws = new Greeting(peer.url, undefined, FAST);
    onCleanup(() => ws.close());
    ws.addEventListener('open', () => ws.send('from open'));
    ws.send('queued 1');
    await next(ws, 'open');
    // Read before the drop: what a dropped socket had not delivered is lost.
    await until(() => peer.received.length === 3);
    const dropped = next(ws, 'close');
    (await peer.connection()).terminate();
    await dropped;
    ws.send('queued 2');
    await next(ws, 'reconnected');
    await until(() => peer.received.length === 6);
    expect(peer.received).toEqual([
      'hello first',
      'queued 1',
      'from open',
      'hello again',
      'queued 2',
      'from open',
    ]);
    // The hook ran while the queue still held the message.
    expect(ws.opened).toEqual([
      [false, 8],
      [true, 8],
    ]);
  });

  /** Frames every send, offers its own protocol, and keeps the server's acks to itself. */
  class Framing extends ReconnectingWebSocket {
    readonly acks: string[] = [];

    protected override attemptProtocols(protocols: string[]): string[] {
      return [...protocols, 'session.v1'];
    }

    protected override socketSend(socket: WebSocket, data: string): void {
      socket.send(`<${data}>`);
    }

    protected override socketMessage(_socket: WebSocket, event: MessageEvent): boolean {
      if (typeof event.data === 'string' && event.data.startsWith('ack ')) {
        this.acks.push(event.data);
        return false;
      }
      return true;
    }
  }

  test('attemptProtocols, socketSend and socketMessage: what a session layer wraps', async () => {
    const peer = await startServer({ protocols: ['session.v1'] });
    peer.server.on('connection', (socket) => {
      socket.on('message', (data) => {
        socket.send(`ack ${data as string}`);
        socket.send(`echo ${data as string}`);
      });
    });
    const ws = new Framing(peer.url, ['app.v1'], FAST);
    onCleanup(() => ws.close());
    const delivered: unknown[] = [];
    ws.onmessage = (event) => delivered.push(event.data);
    ws.send('queued');
    await next(ws, 'open');
    ws.send('direct');
    await until(() => delivered.length === 2);
    expect(peer.requests[0]!.headers['sec-websocket-protocol']).toBe('app.v1, session.v1');
    expect(ws.protocol).toBe('session.v1');
    expect(peer.received).toEqual(['<queued>', '<direct>']);
    expect(ws.acks).toEqual(['ack <queued>', 'ack <direct>']);
    expect(delivered).toEqual(['echo <queued>', 'echo <direct>']);
  });
});
