/**
 * Ours with ours: the `WebSocket` of @proj/client against the
 * `WebSocketServer` of @proj/server, on 127.0.0.1 port 0. Data both ways at
 * every length boundary of RFC 6455 §5.2, heartbeat, every close path,
 * subprotocols, refused handshakes, timeouts, bufferedAmount and ordering.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { beforeEach, describe, expect, test, vi } from 'vitest';
import { HandshakeError, MessageEvent, WebSocket } from '@proj/client';
import {
  type Rejection,
  type ServerOptions,
  type ServerWebSocket,
  WebSocketServer,
  reject,
} from '@proj/server';
import {
  connect,
  connectOpen,
  nextEvent,
  onCleanup,
  record,
  turns,
  until,
} from '../packages/client/test/helpers.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 30_000 });

// ---- uncaught exceptions and server-side errors fail the test ----------------

const uncaught: unknown[] = [];
const recordUncaught = (error: unknown): void => void uncaught.push(error);
/** `error` events of server connections: none is expected in this file. */
const serverErrors: unknown[] = [];

beforeEach(() => {
  process.on('uncaughtException', recordUncaught);
  process.on('unhandledRejection', recordUncaught);
  // Registered first, so it runs last: after every client and server is closed.
  onCleanup(() => {
    process.off('uncaughtException', recordUncaught);
    process.off('unhandledRejection', recordUncaught);
    expect(uncaught.splice(0), 'no uncaught exception or unhandled rejection').toEqual([]);
    expect(serverErrors.splice(0), 'no error on a server connection').toEqual([]);
  });
});

// ---- our server --------------------------------------------------------------

type StandaloneOptions = Omit<ServerOptions, 'port' | 'host' | 'server' | 'noServer'>;

interface Started {
  server: WebSocketServer;
  url: string;
  /** The next connection (or the oldest one not yet taken). */
  connection(): Promise<ServerWebSocket>;
}

/** Starts our server on 127.0.0.1, port 0; closed after the test. */
async function startServer(options: StandaloneOptions = {}): Promise<Started> {
  const server = new WebSocketServer({ ...options, port: 0, host: '127.0.0.1' });
  onCleanup(() => server.close({ timeout: 100 }));
  const waiting: ((socket: ServerWebSocket) => void)[] = [];
  const ready: ServerWebSocket[] = [];
  server.on('connection', (socket) => {
    socket.on('error', (error) => serverErrors.push(error));
    const waiter = waiting.shift();
    if (waiter) waiter(socket);
    else ready.push(socket);
  });
  await server.ready();
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    server,
    url: `ws://127.0.0.1:${address.port}`,
    connection: () => {
      const socket = ready.shift();
      return socket ? Promise.resolve(socket) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

async function openPair(
  options: Parameters<typeof connectOpen>[2] = {},
  serverOptions: StandaloneOptions = {},
): Promise<{ ws: WebSocket; peer: ServerWebSocket; started: Started }> {
  const started = await startServer(serverOptions);
  const ws = await connectOpen(started.url, [], options);
  return { ws, peer: await started.connection(), started };
}

/** The next `event` of a server connection, as its listener arguments. */
function serverEvent<Args extends unknown[]>(
  socket: ServerWebSocket,
  event: string,
): Promise<Args> {
  return new Promise((resolve) =>
    (socket as unknown as NodeJS.EventEmitter).once(event, (...args: unknown[]) =>
      resolve(args as Args),
    ),
  );
}

/** Sends from the client; resolves with what the server got. */
async function toServer(
  ws: WebSocket,
  peer: ServerWebSocket,
  data: Parameters<WebSocket['send']>[0],
): Promise<{ data: string | Buffer; isBinary: boolean }> {
  const received = serverEvent<[string | Buffer, boolean]>(peer, 'message');
  ws.send(data);
  const [payload, isBinary] = await received;
  return { data: payload, isBinary };
}

/** Sends from the server; resolves with the client's message event. */
async function fromServer(
  ws: WebSocket,
  peer: ServerWebSocket,
  data: string | Uint8Array,
): Promise<MessageEvent> {
  const received = nextEvent(ws, 'message');
  peer.send(data);
  return received;
}

/** The server's `close` event: code, reason, wasClean. */
async function serverClose(
  peer: ServerWebSocket,
): Promise<{ code: number; reason: string; wasClean: boolean }> {
  const [code, reason, wasClean] = await serverEvent<[number, string, boolean]>(peer, 'close');
  return { code, reason, wasClean };
}

function bytesOf(data: unknown): Buffer {
  expect(data).toBeInstanceOf(ArrayBuffer);
  return Buffer.from(data as ArrayBuffer);
}

// ---- data ---------------------------------------------------------------------

describe('text', () => {
  test('multi-byte UTF-8, emoji included, both ways', async () => {
    const { ws, peer } = await openPair();
    const text = 'héllo · ñ · € · 日本語 · 😀🎉👩‍👩‍👧 · \u{10FFFF}';
    expect(await toServer(ws, peer, text)).toEqual({ data: text, isBinary: false });
    const event = await fromServer(ws, peer, text);
    expect(event.data).toBe(text);
    expect(event.origin).toBe(new URL(ws.url).origin);
  });

  test('empty text both ways', async () => {
    const { ws, peer } = await openPair();
    expect(await toServer(ws, peer, '')).toEqual({ data: '', isBinary: false });
    expect((await fromServer(ws, peer, '')).data).toBe('');
  });
});

describe('binary', () => {
  const bytes = Uint8Array.from([0, 1, 2, 127, 128, 254, 255]);

  test('binaryType "arraybuffer" both ways', async () => {
    const { ws, peer } = await openPair();
    ws.binaryType = 'arraybuffer';
    const sent = await toServer(ws, peer, bytes.buffer);
    expect(sent.isBinary).toBe(true);
    expect([...(sent.data as Buffer)]).toEqual([...bytes]);
    // A view sends only the bytes it views.
    const view = await toServer(ws, peer, new Uint8Array(bytes.buffer, 2, 3));
    expect([...(view.data as Buffer)]).toEqual([2, 127, 128]);
    const event = await fromServer(ws, peer, bytes);
    expect([...bytesOf(event.data)]).toEqual([...bytes]);
  });

  test('binaryType "blob" (the default) both ways', async () => {
    const { ws, peer } = await openPair();
    expect(ws.binaryType).toBe('blob');
    const sent = await toServer(ws, peer, new Blob([bytes]));
    expect(sent.isBinary).toBe(true);
    expect([...(sent.data as Buffer)]).toEqual([...bytes]);
    const event = await fromServer(ws, peer, bytes);
    expect(event.data).toBeInstanceOf(Blob);
    const blob = event.data as Blob;
    expect(blob.size).toBe(bytes.length);
    expect([...new Uint8Array(await blob.arrayBuffer())]).toEqual([...bytes]);
  });

  test('empty binary both ways, as ArrayBuffer and as Blob', async () => {
    const { ws, peer } = await openPair();
    for (const data of [new ArrayBuffer(0), new Uint8Array(0), new Blob([])]) {
      const sent = await toServer(ws, peer, data);
      expect(sent.isBinary).toBe(true);
      expect((sent.data as Buffer).length).toBe(0);
    }
    ws.binaryType = 'arraybuffer';
    expect(bytesOf((await fromServer(ws, peer, new Uint8Array(0))).data).length).toBe(0);
    ws.binaryType = 'blob';
    const event = await fromServer(ws, peer, new Uint8Array(0));
    expect(event.data).toBeInstanceOf(Blob);
    expect((event.data as Blob).size).toBe(0);
  });
});

describe('payload lengths at every boundary, byte-exact both ways', () => {
  // 7-bit length up to 125, 16-bit from 126 to 65535, 64-bit from 65536; 16 MiB
  // is both sides' default maxPayload, which is inclusive.
  const sizes = [0, 125, 126, 65_535, 65_536, 16 * 1024 * 1024];

  for (const size of sizes) {
    test(`${size} bytes`, async () => {
      const { ws, peer } = await openPair();
      ws.binaryType = 'arraybuffer';
      const up = randomBytes(size);
      const sent = await toServer(ws, peer, up);
      expect(sent.isBinary).toBe(true);
      expect((sent.data as Buffer).length).toBe(size);
      expect((sent.data as Buffer).equals(up)).toBe(true);

      const down = randomBytes(size);
      const received = bytesOf((await fromServer(ws, peer, down)).data);
      expect(received.length).toBe(size);
      expect(received.equals(down)).toBe(true);
      expect(ws.readyState).toBe(WebSocket.OPEN);
    });

    test(`${size} bytes of text`, async () => {
      const { ws, peer } = await openPair();
      // ASCII plus a 4-byte character where it fits: the byte length is exact.
      const text = size >= 4 ? 'x'.repeat(size - 4) + '😀' : 'x'.repeat(size);
      expect(Buffer.byteLength(text)).toBe(size);
      const sent = await toServer(ws, peer, text);
      expect(sent.isBinary).toBe(false);
      expect(sent.data === text).toBe(true);
      const received = (await fromServer(ws, peer, text)).data;
      expect(received === text).toBe(true);
    });
  }
});

describe('server push', () => {
  test('a message sent in the connection listener arrives right after open', async () => {
    const started = await startServer();
    started.server.on('connection', (socket) => socket.send('welcome'));
    const ws = connect(started.url);
    const { events } = record(ws);
    const message = nextEvent(ws, 'message');
    await nextEvent(ws, 'open');
    expect((await message).data).toBe('welcome');
    expect(events.map((seen) => seen.type)).toEqual(['open', 'message']);
  });

  test('messages the client never asked for, at any time', async () => {
    const { ws, peer } = await openPair();
    const received: unknown[] = [];
    ws.addEventListener('message', (event) => received.push(event.data));
    peer.send('one');
    peer.send('two');
    await until(() => received.length === 2);
    peer.send('three');
    await until(() => received.length === 3);
    expect(received).toEqual(['one', 'two', 'three']);
  });
});

describe('ping', () => {
  test('the client answers a ping with a pong carrying the same data', async () => {
    const { peer } = await openPair();
    const pong = serverEvent<[Buffer]>(peer, 'pong');
    peer.ping('are you there');
    expect((await pong)[0].toString()).toBe('are you there');
  });

  test('the heartbeat keeps an idle client alive across many intervals', async () => {
    const { ws, peer } = await openPair({}, { heartbeatInterval: 100 });
    const { events } = record(ws);
    let pongs = 0;
    peer.on('pong', () => pongs++);
    // Each interval either pings or terminates a client that did not answer:
    // ten pongs mean ten intervals survived.
    await until(() => pongs >= 10);
    expect(peer.readyState).toBe(peer.OPEN);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(events).toEqual([]);
    // And it still carries messages.
    expect((await toServer(ws, peer, 'still here')).data).toBe('still here');
  });
});

// ---- closing ------------------------------------------------------------------

describe('close paths', () => {
  test("client close(1000, 'bye'): the server sees 1000 'bye', clean", async () => {
    const { ws, peer } = await openPair();
    const { events, closed } = record(ws);
    const atServer = serverClose(peer);
    ws.close(1000, 'bye');
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    expect(await atServer).toEqual({ code: 1000, reason: 'bye', wasClean: true });
    const event = await closed;
    expect(event.code).toBe(1000);
    expect(event.wasClean).toBe(true);
    expect(events.map((seen) => seen.type)).toEqual(['close']);
  });

  test("server close(4000, 'reason'): the client sees 4000 'reason', clean", async () => {
    const { ws, peer } = await openPair();
    const { events, closed } = record(ws);
    const atServer = serverClose(peer);
    peer.close(4000, 'reason');
    const event = await closed;
    expect(event.code).toBe(4000);
    expect(event.reason).toBe('reason');
    expect(event.wasClean).toBe(true);
    expect(events.map((seen) => seen.type)).toEqual(['close']);
    expect((await atServer).wasClean).toBe(true);
  });

  test('server.close(): the client sees 1001 Going Away, and close() resolves', async () => {
    const { ws, started } = await openPair();
    const { events, closed } = record(ws);
    const serverClosed = started.server.close();
    const event = await closed;
    expect(event.code).toBe(1001);
    expect(event.wasClean).toBe(true);
    expect(events.map((seen) => seen.type)).toEqual(['close']);
    await serverClosed;
    expect(started.server.clients.size).toBe(0);
  });

  test('server terminate(): the client sees 1006, not clean, and no error', async () => {
    const { ws, peer } = await openPair();
    const { events, closed } = record(ws);
    const atServer = serverClose(peer);
    peer.terminate();
    const event = await closed;
    expect(event.code).toBe(1006);
    expect(event.wasClean).toBe(false);
    expect(events.map((seen) => seen.type)).toEqual(['close']);
    expect(await atServer).toMatchObject({ code: 1006, wasClean: false });
  });
});

// ---- handshake ----------------------------------------------------------------

describe('subprotocols', () => {
  test("the server's protocols option chooses in the client's order of preference", async () => {
    const started = await startServer({ protocols: ['chat.v1', 'chat.v2'] });
    const ws = await connectOpen(started.url, ['chat.v2', 'chat.v1']);
    expect(ws.protocol).toBe('chat.v2');
    expect((await started.connection()).protocol).toBe('chat.v2');

    const other = await connectOpen(started.url, ['chat.v3', 'chat.v1']);
    expect(other.protocol).toBe('chat.v1');
    expect((await started.connection()).protocol).toBe('chat.v1');
  });

  test('none in common: the client fails the handshake (WHATWG); none offered: protocol is ""', async () => {
    const started = await startServer({ protocols: ['chat.v1'] });
    const ws = connect(started.url, ['other']);
    const { events, closed } = record(ws);
    const close = await closed;
    expect(events.map((seen) => seen.type)).toEqual(['error', 'close']);
    expect([close.code, close.wasClean]).toEqual([1006, false]);
    expect((events[0]!.event as unknown as { error: unknown }).error).toMatchObject({
      code: 'WS_ERR_HANDSHAKE_PROTOCOL',
      message: 'Server chose no subprotocol; offered: other',
    });
    // The server answered without one, as RFC 6455 lets it.
    expect((await started.connection()).protocol).toBe('');

    const bare = await connectOpen(started.url);
    expect(bare.protocol).toBe('');
    expect((await started.connection()).protocol).toBe('');
  });
});

describe('refused handshakes', () => {
  test('authenticate rejecting with 401: error (a HandshakeError, status 401), then close 1006', async () => {
    const started = await startServer({
      authenticate: () => reject(401, { body: 'nope' }),
    });
    const rejected = new Promise<[number, string]>((resolve) =>
      started.server.once('rejected', (status, reason) => resolve([status, reason])),
    );
    const ws = connect(started.url);
    const { events, closed } = record(ws);
    const error = nextEvent(ws, 'error');
    const event = await closed;
    expect(events.map((seen) => [seen.type, seen.readyState])).toEqual([
      ['error', WebSocket.CLOSED],
      ['close', WebSocket.CLOSED],
    ]);
    expect(event.code).toBe(1006);
    expect(event.wasClean).toBe(false);
    const cause = (await error).error as unknown;
    expect(cause).toBeInstanceOf(HandshakeError);
    expect((cause as HandshakeError).status).toBe(401);
    expect(await rejected).toEqual([401, 'nope']);
    expect(started.server.clients.size).toBe(0);
  });

  test('allowedOrigins: an allowed origin connects', async () => {
    let seen: string | undefined;
    const started = await startServer({
      allowedOrigins: ['https://app.example'],
      authenticate: (_request, info) => void (seen = info.origin),
    });
    const ws = await connectOpen(started.url, [], { origin: 'https://app.example' });
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(seen).toBe('https://app.example');
    const peer = await started.connection();
    expect((await toServer(ws, peer, 'hi')).data).toBe('hi');
  });

  test('allowedOrigins: another origin is refused with 403, error then close 1006', async () => {
    const started = await startServer({ allowedOrigins: ['https://app.example'] });
    let connected = false;
    started.server.on('connection', () => (connected = true));
    const ws = connect(started.url, [], { origin: 'https://evil.example' });
    const { events, closed } = record(ws);
    const error = nextEvent(ws, 'error');
    const event = await closed;
    expect(events.map((seen) => seen.type)).toEqual(['error', 'close']);
    expect(event.code).toBe(1006);
    expect(event.wasClean).toBe(false);
    const cause = (await error).error as unknown;
    expect(cause).toBeInstanceOf(HandshakeError);
    expect((cause as HandshakeError).status).toBe(403);
    expect(connected).toBe(false);
  });

  test('handshakeTimeout: a server whose authenticate never resolves', async () => {
    let release: (value: Rejection) => void = () => {};
    let requests = 0;
    const started = await startServer({
      authenticate: (_request: IncomingMessage) => {
        requests++;
        return new Promise<Rejection>((resolve) => (release = resolve));
      },
    });
    // Let the stuck hook finish once the test is over.
    onCleanup(() => release(reject(503)));
    const start = performance.now();
    const ws = connect(started.url, [], { handshakeTimeout: 200 });
    const { events, closed } = record(ws);
    const error = nextEvent(ws, 'error');
    const event = await closed;
    const elapsed = performance.now() - start;
    expect(requests).toBe(1);
    expect(events.map((seen) => seen.type)).toEqual(['error', 'close']);
    expect(event.code).toBe(1006);
    expect(event.wasClean).toBe(false);
    expect((await error).message).toMatch(/timed out/);
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(5_000);
  });
});

// ---- flow and order -----------------------------------------------------------

describe('bufferedAmount', () => {
  test('rises with a large send and falls back to 0 once it is handed to the kernel', async () => {
    const { ws, peer } = await openPair();
    // Stop reading on the server so the data cannot all fit in kernel buffers.
    peer.pause();
    const size = 16 * 1024 * 1024;
    const data = randomBytes(size);
    const received = serverEvent<[Buffer, boolean]>(peer, 'message');
    ws.send(data);
    ws.send('after');
    expect(ws.bufferedAmount).toBe(size + 5);
    await turns(20);
    expect(ws.bufferedAmount).toBeGreaterThan(0);
    peer.resume();
    const [payload] = await received;
    expect(payload.equals(data)).toBe(true);
    await until(() => ws.bufferedAmount === 0);
    expect(ws.bufferedAmount).toBe(0);
  });
});

describe('message order', () => {
  test('1,000 quick sends from the client arrive in order, text, binary and Blob mixed', async () => {
    const { ws, peer } = await openPair();
    const received: string[] = [];
    peer.on('message', (data, isBinary) =>
      received.push(`${isBinary ? 'b' : 't'}${data.toString()}`),
    );
    const expected: string[] = [];
    for (let i = 0; i < 1000; i++) {
      if (i % 10 === 3) ws.send(new Blob([String(i)]));
      else if (i % 2 === 0) ws.send(String(i));
      else ws.send(Buffer.from(String(i)));
      expected.push(`${i % 10 === 3 || i % 2 === 1 ? 'b' : 't'}${i}`);
    }
    await until(() => received.length === 1000);
    expect(received).toEqual(expected);
  });

  test('1,000 quick sends from the server arrive in order', async () => {
    const { ws, peer } = await openPair();
    ws.binaryType = 'arraybuffer';
    const received: string[] = [];
    ws.addEventListener('message', (event) =>
      received.push(
        typeof event.data === 'string' ? `t${event.data}` : `b${bytesOf(event.data).toString()}`,
      ),
    );
    const expected: string[] = [];
    for (let i = 0; i < 1000; i++) {
      if (i % 2 === 0) peer.send(String(i));
      else peer.send(Buffer.from(String(i)));
      expected.push(`${i % 2 === 0 ? 't' : 'b'}${i}`);
    }
    await until(() => received.length === 1000);
    expect(received).toEqual(expected);
  });

  test('the textbook loop: send every 50 ms while bufferedAmount is 0, for about 1 s', async () => {
    const { ws, peer } = await openPair();
    const received: number[] = [];
    peer.on('message', (data) => received.push((JSON.parse(String(data)) as { seq: number }).seq));
    let sent = 0;
    let ticks = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN || ++ticks > 20) {
          clearInterval(timer);
          resolve();
          return;
        }
        if (ws.bufferedAmount === 0) ws.send(JSON.stringify({ seq: sent++, at: Date.now() }));
      }, 50);
    });
    expect(ws.readyState).toBe(WebSocket.OPEN);
    // Small updates on loopback drain between ticks: most ticks sent.
    expect(sent).toBeGreaterThanOrEqual(10);
    await until(() => received.length === sent);
    expect(received).toEqual(Array.from({ length: sent }, (_, i) => i));
  });
});
