/**
 * What a hostile client can learn or provoke: request values are never
 * reflected into a response (each field that can be wrong carries a marker,
 * and the marker never comes back), and an internal error closes with 1011
 * and the generic reason "Internal error", never the error's message or stack.
 */
import { describe, expect, test } from 'vitest';
import { type ServerOptions, type WebSocketError, reject } from '@proj/server';
import { Opcode } from '@proj/protocol';
import {
  RawClient,
  type RequestOptions,
  handshakeRequest,
  nextEmit,
  useCleanup,
} from '@proj/test-utils';
import { Collector } from './collector.js';
import { nextConnection, sendHandshake, serverErrors, startServer } from './helpers.js';

useCleanup();

const MARKER = 'Zq7Reflected';

/**
 * Connects, writes `request`, and returns every byte of the response (head
 * and body; until the server closes if it gives no length).
 */
async function exchange(port: number, request: string): Promise<string> {
  const raw = await RawClient.connect(port);
  raw.write(request);
  await raw.response();
  return raw.data.toString('latin1');
}

interface Case {
  name: string;
  request: RequestOptions | string;
  status: number;
  options?: Omit<ServerOptions, 'port' | 'server' | 'noServer'>;
}

const m = MARKER;
const cases: Case[] = [
  { name: 'method', request: { method: m.toUpperCase() }, status: 400 },
  { name: 'method (known, not GET)', request: { method: 'POST', path: `/${m}` }, status: 405 },
  { name: 'path', request: { path: `/${m}?${m}=${m}` }, status: 404, options: { path: '/ws' } },
  { name: 'Upgrade', request: { headers: { Upgrade: m } }, status: 400 },
  // Not an upgrade for node:http without "Connection: upgrade": the plain-request answer.
  { name: 'Connection', request: { headers: { Connection: m } }, status: 426 },
  {
    name: 'Connection (upgrade, plus)',
    request: { headers: { Connection: `upgrade, ${m}`, Upgrade: m } },
    status: 400,
  },
  {
    name: 'Host (missing, marker elsewhere)',
    request: { headers: { Host: undefined, 'X-A': m } },
    status: 400,
  },
  { name: 'Sec-WebSocket-Key', request: { headers: { 'Sec-WebSocket-Key': m } }, status: 400 },
  {
    name: 'Sec-WebSocket-Version',
    request: { headers: { 'Sec-WebSocket-Version': m } },
    status: 400,
  },
  {
    name: 'Sec-WebSocket-Version (number)',
    request: { headers: { 'Sec-WebSocket-Version': '8', 'X-A': m } },
    status: 426,
  },
  {
    name: 'Sec-WebSocket-Protocol',
    request: { headers: { 'Sec-WebSocket-Protocol': `${m}, ${m}` } },
    status: 400,
  },
  {
    name: 'Sec-WebSocket-Protocol (bad token)',
    request: { headers: { 'Sec-WebSocket-Protocol': `${m}@x` } },
    status: 400,
  },
  {
    name: 'Sec-WebSocket-Extensions',
    request: { headers: { 'Sec-WebSocket-Extensions': `${m};;=` } },
    status: 400,
  },
  {
    name: 'Origin',
    request: { headers: { Origin: `https://${m}.example` } },
    status: 403,
    options: { allowedOrigins: ['https://good.example'] },
  },
  {
    name: 'too many header fields',
    request: { headers: { [`X-${m}`]: m, 'X-B': m } },
    status: 431,
    options: { maxHeaderCount: 6 },
  },
  {
    name: 'head too large',
    request: { headers: { [`X-${m}`]: m.repeat(2000) } },
    status: 431,
  },
  {
    name: 'not an upgrade (plain GET)',
    request: `GET /${m} HTTP/1.1\r\nHost: ${m}\r\nX-A: ${m}\r\n\r\n`,
    status: 426,
  },
  { name: 'garbage request line', request: `${m} ${m}\r\n\r\n`, status: 400 },
  {
    name: 'authenticate rejects (no body)',
    request: { headers: { Authorization: `Bearer ${m}` } },
    status: 401,
    options: { authenticate: () => reject(401) },
  },
  {
    name: 'authenticate throws with the request in its message',
    request: { headers: { Authorization: `Bearer ${m}` } },
    status: 500,
    options: {
      authenticate: (request) => {
        throw new Error(`bad token ${String(request.headers.authorization)}`);
      },
    },
  },
];

describe('request values are never reflected into a response', () => {
  test.each(cases)('$name → $status without the marker', async ({ request, status, options }) => {
    const { server, port } = await startServer(options);
    server.on('error', () => {});
    const text = typeof request === 'string' ? request : handshakeRequest(request).text;
    expect(text.toLowerCase()).toContain(MARKER.toLowerCase());
    const response = await exchange(port, text);
    expect(response).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(response.toLowerCase()).not.toContain(MARKER.toLowerCase());
  });

  test('503 when full: not reflected either', async () => {
    const { port } = await startServer({ maxConnections: 1 });
    await RawClient.open(port);
    const response = await exchange(
      port,
      handshakeRequest({ path: `/${MARKER}`, headers: { 'X-A': MARKER } }).text,
    );
    expect(response).toMatch(/^HTTP\/1\.1 503 /);
    expect(response.toLowerCase()).not.toContain(MARKER.toLowerCase());
  });

  test('the 101 names no request value but the chosen subprotocol', async () => {
    const { port } = await startServer({ protocols: ['chat'] });
    const raw = await sendHandshake(port, {
      path: `/${MARKER}`,
      headers: {
        'Sec-WebSocket-Protocol': `${MARKER}, chat`,
        'Sec-WebSocket-Extensions': `${MARKER}; a=1`,
        Origin: `https://${MARKER}.example`,
        Cookie: `session=${MARKER}`,
        'User-Agent': MARKER,
      },
    });
    const response = await raw.response();
    expect(response.status).toBe(101);
    expect(response.headers['sec-websocket-protocol']).toBe('chat');
    expect(response.headers['sec-websocket-extensions']).toBeUndefined();
    expect(response.head.toLowerCase()).not.toContain(MARKER.toLowerCase());
  });
});

/** A raw client that records every byte the server sent, frames included. */
async function recordingClient(port: number) {
  const raw = await RawClient.open(port);
  const bytes: Buffer[] = [];
  raw.socket.on('data', (chunk: Buffer) => bytes.push(chunk));
  return { raw, wire: (): string => Buffer.concat(bytes).toString('latin1') };
}

describe('an internal error closes with 1011 "Internal error", never its message or stack', () => {
  test.each([
    ['message', (raw: RawClient) => raw.sendFrame(Opcode.Text, 'hello')],
    ['ping', (raw: RawClient) => raw.sendFrame(Opcode.Ping, 'hello')],
    ['pong', (raw: RawClient) => raw.sendFrame(Opcode.Pong, 'hello')],
  ] as const)('a throwing %s listener', async (event, provoke) => {
    const { server, port } = await startServer();
    const errors = new Collector<WebSocketError>();
    const secret = new Error('SECRET');
    server.on('connection', (socket) => {
      socket.on(event, () => {
        throw secret;
      });
      socket.on('error', (error) => errors.push(error));
    });
    const { raw, wire } = await recordingClient(port);
    provoke(raw);
    expect(await raw.closeFrame()).toEqual({ code: 1011, reason: 'Internal error' });
    raw.sendClose(1011);
    await raw.closed;
    expect(wire()).not.toContain('SECRET');
    expect(wire()).not.toContain('at ');
    // The application still learns what happened.
    const [error] = await errors.until(1);
    expect(error!.code).toBe('WS_ERR_INTERNAL');
    expect(error!.cause).toBe(secret);
  });

  test("a throwing 'connection' listener", async () => {
    const { server, port } = await startServer();
    const errors = serverErrors(server);
    server.on('connection', () => {
      throw new Error('SECRET');
    });
    const { raw, wire } = await recordingClient(port);
    expect(await raw.closeFrame()).toEqual({ code: 1011, reason: 'Internal error' });
    raw.sendClose(1011);
    await raw.closed;
    expect(wire()).not.toContain('SECRET');
    expect((await errors.until(1))[0]!.message).toBe('SECRET');
  });

  test('a throwing error listener does not put its message on the wire either', async () => {
    const { server, port } = await startServer();
    const connected = nextConnection(server);
    const { raw, wire } = await recordingClient(port);
    const socket = await connected;
    socket.on('message', () => {
      throw new Error('SECRET one');
    });
    socket.on('error', () => {
      throw new Error('SECRET two');
    });
    const closed = nextEmit(socket, 'close');
    raw.sendFrame(Opcode.Text, 'x');
    expect(await raw.closeFrame()).toEqual({ code: 1011, reason: 'Internal error' });
    raw.sendClose(1011);
    await closed;
    expect(wire()).not.toContain('SECRET');
  });
});
