/**
 * MIGRATING.md, held to what it says. ws's README examples
 * (`migration/examples/ws.ts`), their ports with exactly the changes
 * MIGRATING.md lists (`ours.ts`) and the idiomatic versions
 * (`idiomatic.ts`) run against the same real clients, `ws`'s and ours, on
 * 127.0.0.1 port 0; each test asserts the same observable results (messages
 * received, close codes, who got terminated), or the difference the guide
 * documents (text as a `string`, no subprotocol chosen unasked). Then every
 * option and member of ws 8.23, read from ws itself, must be either the same
 * here or refused saying what to use, and must appear in MIGRATING.md.
 */
import { once } from 'node:events';
import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, test } from 'vitest';
import * as wsModule from 'ws';
import WsWebSocket, { type ClientOptions, WebSocketServer as WsServer } from 'ws';
import {
  type CloseEvent,
  type ErrorEvent,
  HandshakeRejectedError,
  WebSocket,
  type WebSocketInit,
  type WebSocketOptions,
} from '@proj/client';
import { type ServerOptions, type ServerWebSocket, WebSocketServer } from '@proj/server';
import { onCleanup, until, useCleanup } from '@proj/test-utils';
import * as idiomatic from './migration/examples/idiomatic.js';
import * as ours from './migration/examples/ours.js';
import { GOOD_TOKEN, LISTEN, type Log } from './migration/examples/shared.js';
import * as ws from './migration/examples/ws.js';

useCleanup();

// ---- what the examples log ---------------------------------------------------

/** Collects an example's `log(event, ...args)` calls. */
class Recorder {
  readonly entries: [string, ...unknown[]][] = [];
  readonly log: Log = (event, ...args) => void this.entries.push([event, ...args]);

  /** The arguments of every `event` logged so far. */
  of(event: string): unknown[][] {
    return this.entries.filter(([name]) => name === event).map(([, ...args]) => args);
  }

  /** Waits until `event` was logged `count` times. */
  async until(event: string, count = 1): Promise<unknown[][]> {
    await until(() => this.of(event).length >= count);
    return this.of(event);
  }

  /** Waits for the first `event`: its arguments. */
  async first(event: string): Promise<unknown[]> {
    await this.until(event);
    return this.of(event)[0] ?? [];
  }
}

/** What a value handed to a listener is, for the documented type differences. */
function kind(value: unknown): string {
  if (typeof value === 'string') return 'string';
  if (Buffer.isBuffer(value)) return 'Buffer';
  if (value instanceof ArrayBuffer) return 'ArrayBuffer';
  if (value instanceof Blob) return 'Blob';
  return typeof value;
}

// ---- servers: started by the examples, closed after each test ----------------

/** Ours, whatever its `Data`: what the cleanup needs of it. */
interface OurServer {
  close(options?: { timeout?: number }): Promise<void>;
  address(): AddressInfo | string | null;
}

type AnyServer = WsServer | OurServer;

/** Closes a ws server the way its README's users must: ws 8 leaves clients open. */
function closeWsServer(wss: WsServer): Promise<void> {
  for (const client of wss.clients) client.terminate();
  return new Promise((resolve) => wss.close(() => resolve()));
}

function closeAfterTest(...servers: AnyServer[]): void {
  for (const wss of servers) {
    onCleanup(() => (wss instanceof WsServer ? closeWsServer(wss) : wss.close({ timeout: 100 })));
  }
}

/** A standalone server's URL once it listens. */
async function standalone(wss: AnyServer): Promise<string> {
  closeAfterTest(wss);
  await once(wss as EventEmitter, 'listening');
  return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
}

/** The URL of an HTTP server the example made and listens on, with its WebSocket servers. */
async function onHttp(server: Server, ...servers: AnyServer[]): Promise<string> {
  onCleanup(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  closeAfterTest(...servers);
  if (!server.listening) await once(server, 'listening');
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

// ---- clients: ws's and ours, recording what they receive ---------------------

interface Peer<Socket, Message> {
  readonly socket: Socket;
  readonly messages: Message[];
  /** Resolves on open; rejects with what stopped it (`status` for an HTTP answer). */
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
}

/** A `ws` client: the reference peer. Its messages as `{ data, isBinary }`. */
function wsPeer(
  url: string,
  protocols: string[] = [],
  options: ClientOptions = {},
): Peer<WsWebSocket, { data: Buffer; isBinary: boolean }> {
  const socket = new WsWebSocket(url, protocols, options);
  const messages: { data: Buffer; isBinary: boolean }[] = [];
  socket.on('message', (data, isBinary) => messages.push({ data: data as Buffer, isBinary }));
  // A second error (after the one that rejects `opened`) must not be thrown.
  socket.on('error', () => {});
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) =>
      reject(
        Object.assign(new Error(`HTTP ${response.statusCode}`), { status: response.statusCode }),
      ),
    );
  });
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  onCleanup(() => {
    if (socket.readyState !== WsWebSocket.CLOSED) socket.terminate();
  });
  return { socket, messages, opened, closed };
}

/** Our client, binary as `ArrayBuffer`s. */
function ourPeer(url: string, init: WebSocketInit = {}): Peer<WebSocket, string | ArrayBuffer> {
  const socket = new WebSocket(url, init);
  socket.binaryType = 'arraybuffer';
  const messages: (string | ArrayBuffer)[] = [];
  socket.addEventListener('message', (event) => messages.push(event.data as string | ArrayBuffer));
  const opened = new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve());
    socket.addEventListener('error', (event: ErrorEvent) => reject(event.error));
  });
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.addEventListener('close', (event: CloseEvent) =>
      resolve({ code: event.code, reason: event.reason }),
    ),
  );
  onCleanup(() => socket.close());
  return { socket, messages, opened, closed };
}

/** A message as text, or `bytes <hex>`, whichever client received it. */
function show(message: { data: Buffer; isBinary: boolean } | string | ArrayBuffer): string {
  if (typeof message === 'string') return message;
  if (message instanceof ArrayBuffer) return `bytes ${Buffer.from(message).toString('hex')}`;
  return message.isBinary ? `bytes ${message.data.toString('hex')}` : message.data.toString();
}

/** Collects process warnings with `code` until the test ends. */
function warnings(code: string): Error[] {
  const seen: Error[] = [];
  const onWarning = (warning: Error & { code?: string }): void => {
    if (warning.code === code) seen.push(warning);
  };
  process.on('warning', onWarning);
  onCleanup(() => void process.off('warning', onWarning));
  return seen;
}

// ---- (a) echo ----------------------------------------------------------------

describe('(a) "Simple server", echoing', () => {
  test.each([
    ['ws', 'Buffer', ws.simpleServer],
    ['ours, ported', 'string', ours.simpleServer],
  ] as const)(
    '%s: greets, echoes text as text and binary as binary; text reaches the server as a %s',
    async (_library, textKind, simpleServer) => {
      const server = new Recorder();
      const url = await standalone(simpleServer(server.log));
      const theirs = wsPeer(url);
      const mine = ourPeer(url);
      await Promise.all([theirs.opened, mine.opened]);

      theirs.socket.send('hello');
      theirs.socket.send(Buffer.from([1, 2, 3]));
      mine.socket.send('hello');
      mine.socket.send(new Uint8Array([1, 2, 3]));
      await until(() => theirs.messages.length >= 3 && mine.messages.length >= 3);
      expect(theirs.messages.map(show)).toEqual(['something', 'hello', 'bytes 010203']);
      expect(mine.messages.map(show)).toEqual(['something', 'hello', 'bytes 010203']);

      // MIGRATING: text arrives as a string here, as a Buffer in ws; binary is a Buffer in both.
      const received = await server.until('received', 4);
      const kinds = received.map(([data, isBinary]) => `${kind(data)} ${String(isBinary)}`);
      expect(kinds.sort()).toEqual(
        [`${textKind} false`, `${textKind} false`, 'Buffer true', 'Buffer true'].sort(),
      );

      // MIGRATING: the close reason is a string here, a Buffer in ws.
      theirs.socket.close(1000, 'bye');
      expect(await theirs.closed).toEqual({ code: 1000, reason: 'bye' });
      const [code, reason] = await server.first('close');
      expect(code).toBe(1000);
      expect(String(reason)).toBe('bye');
      expect(kind(reason)).toBe(textKind);
      expect(server.of('error')).toEqual([]);
    },
  );

  test('ws chooses the first subprotocol offered; ours chooses none unless listed, and warns', async () => {
    const theirs = wsPeer(await standalone(ws.simpleServer(new Recorder().log)), ['chat']);
    await theirs.opened;
    expect(theirs.socket.protocol).toBe('chat');

    const warned = warnings('WS_SUBPROTOCOL_UNANSWERED');
    const url = await standalone(ours.simpleServer(new Recorder().log));
    // A ws client fails a handshake whose offer went unanswered, and so does
    // ours (the WHATWG rule, as in Chromium): the warning says why.
    await expect(wsPeer(url, ['chat']).opened).rejects.toThrow('Server sent no subprotocol');
    const mine = ourPeer(url, { protocols: ['chat'] });
    await expect(mine.opened).rejects.toThrow('Server chose no subprotocol; offered: chat');
    await until(() => warned.length === 1);

    // The port: list the subprotocols the server speaks.
    const listed = new WebSocketServer({ ...LISTEN, protocols: ['chat'] });
    const answered = wsPeer(await standalone(listed), ['chat']);
    await answered.opened;
    expect(answered.socket.protocol).toBe('chat');
  });
});

// ---- (b) broadcast to every other client -------------------------------------

describe('(b) "Server broadcast" to every other client', () => {
  test.each([
    ['ws', ws.broadcastServer],
    ['ours, ported', ours.broadcastServer],
    ['ours, broadcast({ filter })', idiomatic.broadcastServer],
    ['ours, publish(topic, { except })', idiomatic.topicServer],
  ] as const)('%s: each message reaches every client but its sender', async (_, start) => {
    const server = new Recorder();
    const url = await standalone(start(server.log));
    const [a, b, c] = [wsPeer(url), wsPeer(url), wsPeer(url)];
    await Promise.all([a.opened, b.opened, c.opened]);

    a.socket.send('hi');
    a.socket.send(Buffer.from([7]));
    await until(() => b.messages.length >= 2 && c.messages.length >= 2);
    // Each client's own message would have reached it before the next one.
    b.socket.send('from b');
    await until(() => a.messages.length >= 1 && c.messages.length >= 3);
    c.socket.send('from c');
    await until(() => a.messages.length >= 2 && b.messages.length >= 3);
    b.socket.send('end');
    await until(() => a.messages.length >= 3 && c.messages.length >= 4);

    expect(a.messages.map(show)).toEqual(['from b', 'from c', 'end']);
    expect(b.messages.map(show)).toEqual(['hi', 'bytes 07', 'from c']);
    expect(c.messages.map(show)).toEqual(['hi', 'bytes 07', 'from b', 'end']);
    expect(server.of('error')).toEqual([]);
  });
});

// ---- (c) heartbeat -------------------------------------------------------------

/** Long enough that a live peer's pong is never late on a loaded 2-core machine. */
const HEARTBEAT = 300;

describe('(c) heartbeat: ping every interval, terminate the peer that did not answer', () => {
  test.each([
    ['ws', ws.heartbeatServer, undefined],
    ['ours, ported', ours.heartbeatServer, undefined],
    ['ours, heartbeatInterval option', idiomatic.heartbeatServer, 'heartbeat-timeout'],
  ] as const)(
    '%s: the silent peer is terminated (1006), the live ones stay',
    async (_, start, cause) => {
      const server = new Recorder();
      const url = await standalone(start(server.log, HEARTBEAT));
      const live = wsPeer(url);
      const mine = ourPeer(url);
      // A peer that stopped answering: ws's client with its automatic pong off.
      const dead = wsPeer(url, [], { autoPong: false });
      let pings = 0;
      live.socket.on('ping', () => pings++);
      await Promise.all([live.opened, mine.opened, dead.opened]);

      expect((await dead.closed).code).toBe(1006);
      const [code, loggedCause] = await server.first('close');
      expect(code).toBe(1006);
      if (cause) expect(loggedCause).toBe(cause);

      // Two more rounds of pings: the live peers answered them and are still open.
      const seen = pings;
      await until(() => pings >= seen + 2);
      expect(live.socket.readyState).toBe(WsWebSocket.OPEN);
      expect(mine.socket.readyState).toBe(WebSocket.OPEN);
      expect(server.of('close')).toHaveLength(1);
      expect(server.of('error')).toEqual([]);
    },
  );
});

// ---- (d) authentication --------------------------------------------------------

describe('(d) "Client authentication" before the handshake completes', () => {
  test.each([
    ['ws', ws.clientAuthentication],
    ['ours, ported', ours.clientAuthentication],
    ['ours, authenticate option', idiomatic.clientAuthentication],
  ] as const)('%s: a good token connects as its user, others get 401', async (_, start) => {
    const server = new Recorder();
    const { server: http, wss } = start(server.log);
    const url = await onHttp(http, wss);

    const theirs = wsPeer(url, [], { headers: { authorization: GOOD_TOKEN } });
    const mine = ourPeer(url, { headers: { authorization: GOOD_TOKEN } });
    await Promise.all([theirs.opened, mine.opened]);
    theirs.socket.send('hi');
    mine.socket.send('hey');
    const messages = await server.until('message', 2);
    expect(messages.map(([text]) => text).sort()).toEqual([
      'Received message hey from user alice',
      'Received message hi from user alice',
    ]);

    await expect(wsPeer(url).opened).rejects.toMatchObject({ status: 401 });
    const refused = ourPeer(url, { headers: { authorization: 'Bearer wrong' } });
    const failure = await refused.opened.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(HandshakeRejectedError);
    expect(failure).toMatchObject({ status: 401 });
    expect((await refused.closed).code).toBe(1006);
    expect(server.of('error')).toEqual([]);
  });

  test("ws's untyped idiom still runs in JavaScript: a third 'connection' argument reaches the listener", async () => {
    const wss = new WebSocketServer({ noServer: true });
    const http = createServer();
    const url = await onHttp(http.listen(LISTEN.port, LISTEN.host), wss);
    const clients: unknown[] = [];
    const onConnection = (_ws: ServerWebSocket, _request: IncomingMessage, client: string): void =>
      void clients.push(client);
    // @ts-expect-error 'connection' listeners are typed (socket, request)
    wss.on('connection', onConnection);
    http.on('upgrade', (request, socket, head) => {
      wss.handleUpgrade(request, socket, head, (socketWs) => {
        // @ts-expect-error 'connection' is emitted with (socket, request)
        wss.emit('connection', socketWs, request, 'alice');
      });
    });
    await wsPeer(url).opened;
    await until(() => clients.length === 1);
    expect(clients).toEqual(['alice']);
  });
});

// ---- (e) two endpoints on one HTTP server --------------------------------------

describe('(e) "Multiple servers sharing a single HTTP/S server", by path', () => {
  test.each([
    ['ws', ws.sharedServer, /socket hang up|ECONNRESET/],
    ['ours, ported', ours.sharedServer, /socket hang up|ECONNRESET/],
    ['ours, attached with path', idiomatic.sharedServer, 'HTTP 404'],
  ] as const)(
    '%s: /foo and /bar reach their own server; another path is refused',
    async (_, start, refusal) => {
      const server = new Recorder();
      const { server: http, wss1, wss2 } = start(server.log);
      const url = await onHttp(http, wss1, wss2);

      const foo = wsPeer(`${url}/foo`);
      const bar = wsPeer(`${url}/bar?room=1`);
      const mine = ourPeer(`${url}/foo`);
      await until(() => foo.messages.length + bar.messages.length + mine.messages.length === 3);
      expect(foo.messages.map(show)).toEqual(['wss1']);
      expect(bar.messages.map(show)).toEqual(['wss2']);
      expect(mine.messages).toEqual(['wss1']);

      await expect(wsPeer(`${url}/baz`).opened).rejects.toThrow(refusal);
      expect(server.of('error')).toEqual([]);
    },
  );
});

// ---- (f) the Node client ---------------------------------------------------------

/** A server that greets with "something" and echoes: the client examples' peer. */
const PEERS = [
  ["ws's", ws.simpleServer],
  ['our', ours.simpleServer],
] as const;

/** Closes a client an example made, after the test. */
function closeClientAfterTest(socket: WsWebSocket | WebSocket): void {
  onCleanup(() => (socket instanceof WsWebSocket ? socket.terminate() : socket.close()));
}

/** Float32Array [0, 0.5, 1, 1.5, 2] as little-endian bytes: what the binary example sends. */
const FLOATS = Buffer.from(new Float32Array([0, 0.5, 1, 1.5, 2]).buffer).toString('hex');

describe('(f) the client: open, send, receive, close', () => {
  describe.each([
    ['ws', ws.textClient, ws.binaryClient, 'Buffer', 'Buffer'],
    ['@proj/client', ours.textClient, ours.binaryClient, 'string', 'ArrayBuffer'],
  ] as const)('%s', (_, textClient, binaryClient, textKind, binaryKind) => {
    test.each(PEERS)(
      `against %s server: text arrives as ${textKind}; closed with 1005 both ways`,
      async (_peer, peerServer) => {
        const server = new Recorder();
        const url = await standalone(peerServer(server.log));
        const client = new Recorder();
        closeClientAfterTest(textClient(url, client.log));

        const [code, reason] = await client.first('close');
        const [first] = await client.first('message');
        expect(String(first)).toBe('something');
        expect(kind(first)).toBe(textKind);
        expect(code).toBe(1005);
        expect(String(reason)).toBe('');
        expect((await server.first('close'))[0]).toBe(1005);
        expect(String((await server.first('received'))[0])).toBe('something');
        expect(client.of('error')).toEqual([]);
      },
    );

    test.each(PEERS)(
      `against %s server: a Float32Array goes out as binary, its echo arrives as ${binaryKind}`,
      async (_peer, peerServer) => {
        const server = new Recorder();
        const url = await standalone(peerServer(server.log));
        const client = new Recorder();
        closeClientAfterTest(binaryClient(url, client.log));

        await client.until('close');
        const [[greeting], [echo]] = (await client.until('message', 2)) as [unknown[], unknown[]];
        expect(kind(greeting)).toBe(textKind);
        expect(kind(echo)).toBe(binaryKind);
        expect(Buffer.from(echo as ArrayBuffer).toString('hex')).toBe(FLOATS);
        const [sent, isBinary] = await server.first('received');
        expect(isBinary).toBe(true);
        expect(Buffer.from(sent as Uint8Array).toString('hex')).toBe(FLOATS);
        expect(client.of('error')).toEqual([]);
      },
    );
  });
});

// ---- every ws option: the same here, or refused saying what to use -------------

/** ws 8.23's server options, read from ws itself: every key of its resolved options. */
const WS_SERVER_OPTIONS = Object.keys(new WsServer({ noServer: true }).options);

/** The modes: the same three options, exercised by every example above. */
const MODES = ['port', 'server', 'noServer'];

/** ws options that only standalone mode has here (elsewhere they throw, where ws ignores them). */
const STANDALONE_ONLY = ['backlog'];

/** A value of the right type for each ws server option whose ws default is null. */
const SERVER_SAMPLES: Record<string, unknown> = {
  handleProtocols: () => false,
  verifyClient: () => true,
  backlog: 511,
  host: '127.0.0.1',
  path: '/chat',
};

/**
 * ws 8.23's client options: those of `doc/ws.md` and `lib/websocket.js`
 * (`initAsClient`), those `@types/ws` declares, and the `http.request` and
 * `tls.connect` options ws passes on that a ws program is likely to hold.
 */
const WS_CLIENT_OPTIONS: Record<string, unknown> = {
  allowSynchronousEvents: false,
  autoPong: true,
  closeTimeout: 1000,
  finishRequest: () => {},
  followRedirects: true,
  generateMask: () => {},
  handshakeTimeout: 1000,
  maxBufferedChunks: 1024,
  maxFragments: 1024,
  maxPayload: 1024,
  maxPendingAutoPongs: 10,
  maxRedirects: 5,
  origin: 'https://example.com',
  perMessageDeflate: false,
  protocolVersion: 13,
  skipUTF8Validation: false,
  protocol: 'chat',
  headers: { 'x-request-id': '1' },
  agent: {},
  auth: 'user:pass',
  createConnection: () => {},
  family: 4,
  host: 'example.com',
  hostname: 'example.com',
  localAddress: '127.0.0.1',
  lookup: () => {},
  path: '/',
  port: 80,
  socketPath: '/tmp/socket',
  timeout: 1000,
  signal: new AbortController().signal,
  ca: 'PEM',
  cert: 'PEM',
  key: 'PEM',
  passphrase: 'secret',
  pfx: 'PFX',
  rejectUnauthorized: true,
  servername: 'example.com',
  checkServerIdentity: () => undefined,
  ciphers: 'HIGH',
  minVersion: 'TLSv1.2',
};

describe('options: every ws option is the same here, or refused saying what to use', () => {
  test.each(WS_SERVER_OPTIONS.filter((name) => !MODES.includes(name)))(
    'WebSocketServer option "%s"',
    (name) => {
      const defaults = new WsServer({ noServer: true }).options as Record<string, unknown>;
      const value = defaults[name] ?? SERVER_SAMPLES[name];
      expect(value, `a sample value for "${name}"`).not.toBeUndefined();
      let error: unknown;
      try {
        const mode = STANDALONE_ONLY.includes(name)
          ? { port: 0, host: '127.0.0.1' }
          : { noServer: true };
        const server = new WebSocketServer({ ...mode, [name]: value } as ServerOptions);
        onCleanup(() => server.close({ timeout: 100 }));
      } catch (thrown) {
        error = thrown;
      }
      if (error !== undefined) {
        expect(error).toBeInstanceOf(TypeError);
        expect((error as Error).message).toContain(
          `The WebSocketServer option "${name}" is ws's; here: `,
        );
      }
    },
  );

  test.each(Object.keys(WS_CLIENT_OPTIONS))('WebSocket (client) option "%s"', (name) => {
    let error: unknown;
    try {
      // Port 1: nothing listens; closed at once anyway.
      new WebSocket('ws://127.0.0.1:1/', [], {
        [name]: WS_CLIENT_OPTIONS[name],
      } as WebSocketOptions).close();
    } catch (thrown) {
      error = thrown;
    }
    if (error !== undefined) {
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toContain(`The WebSocket option "${name}" is ws's; here: `);
    }
  });

  test('maxPayload: 0, no limit in ws, is refused on both sides, naming Infinity', () => {
    expect(() => new WebSocketServer({ noServer: true, maxPayload: 0 })).toThrow(RangeError);
    expect(() => new WebSocketServer({ noServer: true, maxPayload: 0 })).toThrow(/Infinity/);
    expect(() => new WebSocket('ws://127.0.0.1:1/', [], { maxPayload: 0 })).toThrow(RangeError);
  });
});

// ---- MIGRATING.md names every ws option, member and event ----------------------

const GUIDE = readFileSync(new URL('../MIGRATING.md', import.meta.url), 'utf8');

/**
 * The names in the first column of the tables under the `###` heading that
 * starts with `heading`: every backticked name, without `new `, an object
 * prefix (`wss.`) or arguments.
 */
function tableNames(heading: string): Set<string> {
  const start = GUIDE.split('\n').findIndex((line) => line.startsWith(`### ${heading}`));
  expect(start, `a "### ${heading}" section in MIGRATING.md`).toBeGreaterThan(-1);
  const names = new Set<string>();
  for (const line of GUIDE.split('\n').slice(start + 1)) {
    if (line.startsWith('#')) break;
    if (!line.startsWith('|')) continue;
    const firstCell = line.split('|')[1] ?? '';
    for (const [, code] of firstCell.matchAll(/`([^`]+)`/g)) {
      const name = /^(?:new\s+)?(?:\w+\.)?([A-Za-z_$][\w$-]*)/.exec(code ?? '')?.[1];
      if (name) names.add(name);
    }
  }
  return names;
}

/** ws's public prototype members; `setSocket`, `emitClose`, `completeUpgrade` are its internals. */
function members(prototype: object): string[] {
  const internal = ['constructor', 'setSocket', 'emitClose', 'completeUpgrade'];
  return Object.getOwnPropertyNames(prototype).filter(
    (name) => !internal.includes(name) && !name.startsWith('_'),
  );
}

describe('MIGRATING.md covers all of ws 8.23', () => {
  test('every server option', () => {
    const listed = tableNames('Server options');
    expect(WS_SERVER_OPTIONS.filter((name) => !listed.has(name))).toEqual([]);
  });

  test('every WebSocketServer member and event', () => {
    const listed = tableNames('The server');
    const events = ['close', 'connection', 'error', 'headers', 'listening', 'wsClientError'];
    const wanted = [...members(WsServer.prototype), 'clients', ...events];
    expect(wanted.filter((name) => !listed.has(name))).toEqual([]);
  });

  test("every member and event of ws's WebSocket on the server", () => {
    const listed = tableNames('The connection on the server');
    const events = ['close', 'error', 'message', 'ping', 'pong'];
    const wanted = [...members(WsWebSocket.prototype), ...events];
    expect(wanted.filter((name) => !listed.has(name))).toEqual([]);
  });

  test('every client option', () => {
    const listed = tableNames('Client options');
    expect(Object.keys(WS_CLIENT_OPTIONS).filter((name) => !listed.has(name))).toEqual([]);
  });

  test("every member and event of ws's WebSocket as a client", () => {
    const listed = tableNames('The client');
    const events = ['close', 'error', 'message', 'open', 'ping', 'pong', 'redirect'];
    const wanted = [
      ...members(WsWebSocket.prototype),
      ...events,
      'unexpected-response',
      'upgrade',
      'on',
    ];
    expect(wanted.filter((name) => !listed.has(name))).toEqual([]);
  });

  test("every export of the ws module, and ws's environment variables", () => {
    const listed = tableNames('Everything else');
    const wanted = [
      ...Object.keys(wsModule).filter((name) => name !== 'default'),
      'WS_NO_BUFFER_UTIL',
      'WS_NO_UTF_8_VALIDATE',
    ];
    expect(wanted.filter((name) => !listed.has(name))).toEqual([]);
  });
});
