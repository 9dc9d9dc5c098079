/**
 * The opening handshake: the application hooks (authenticate, allowedOrigins,
 * headers) through `ws` and raw sockets, and malformed requests on a raw
 * socket → the right HTTP status, with the socket closed afterwards.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  type HandshakeError,
  Opcode,
  buildAcceptResponse,
  checkHeaderCount,
  encodeFrame,
  validateRequest,
} from '@proj/protocol';
import { describe, expect, expectTypeOf, test } from 'vitest';
import { type HandshakeInfo, reject } from '@proj/server';
import {
  RawClient,
  type RequestOptions,
  handshakeRequest,
  nextEmit,
  quiet,
  useCleanup,
} from '@proj/test-utils';
import { Collector } from './collector.js';
import {
  connectPair,
  connectWs,
  handshakeResponse,
  nextConnection,
  sendHandshake,
  serverErrors,
  startServer,
  wsClient,
} from './helpers.js';

useCleanup();

/** A masked text frame, as a client sends it. */
function mask(text: string): Uint8Array[] {
  return encodeFrame(Opcode.Text, Buffer.from(text), { mask: randomBytes(4) });
}

/** Waits for a `ws` client's non-101 answer and reads its body. */
async function unexpectedResponse(
  url: string,
  options?: { origin?: string; headers?: Record<string, string> },
): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  const ws = wsClient(url, undefined, options);
  const [, response] = await nextEmit<[unknown, IncomingMessage]>(ws, 'unexpected-response');
  let body = '';
  response.setEncoding('utf8');
  for await (const chunk of response) body += chunk as string;
  return { status: response.statusCode!, headers: response.headers, body };
}

describe('authenticate', () => {
  test('reject(401, { body, headers }) reaches the client, and emits rejected', async () => {
    const { server, url, port } = await startServer({
      authenticate: () =>
        reject(401, { body: 'Log in first', headers: { 'WWW-Authenticate': 'Bearer realm="x"' } }),
    });
    const rejected = new Collector<[number, string, string | undefined]>();
    server.on('rejected', (status, reason, request) =>
      rejected.push([status, reason, request.url]),
    );

    const answer = await unexpectedResponse(`${url}/private`);
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe('Bearer realm="x"');
    expect(answer.body).toBe('Log in first');

    const raw = await sendHandshake(port);
    const response = await raw.response();
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="x"');
    expect(response.body).toBe('Log in first');
    await raw.closed;

    expect(await rejected.until(2)).toEqual([
      [401, 'Log in first', '/private'],
      [401, 'Log in first', '/'],
    ]);
    expect(server.clients.size).toBe(0);
  });

  test('a rejection without a body answers the status text', async () => {
    const { port } = await startServer({ authenticate: () => reject(429) });
    const response = await handshakeResponse(port);
    expect(response.status).toBe(429);
    expect(response.body).toBe('Too Many Requests');
  });

  test('reject() refuses a status outside 400-599', () => {
    expect(() => reject(200)).toThrow(RangeError);
    expect(() => reject(600)).toThrow(RangeError);
    expect(() => reject(401.5)).toThrow(RangeError);
  });

  test('it sees the request and the handshake info', async () => {
    const seen: Array<[string | undefined, HandshakeInfo]> = [];
    const { url } = await startServer({
      protocols: ['b'],
      authenticate: (request, info) => {
        seen.push([request.headers['x-token'] as string | undefined, info]);
      },
    });
    await connectWs(`${url}/`, ['a', 'b'], {
      origin: 'https://app.example',
      headers: { 'x-token': 't0k' },
    });
    expect(seen).toEqual([
      ['t0k', { origin: 'https://app.example', protocols: ['a', 'b'], secure: false }],
    ]);
  });

  test('the data it returns (sync or async) becomes socket.data, typed', async () => {
    const { server, url } = await startServer({
      authenticate: async (request) => {
        const user = request.headers['x-user'];
        if (typeof user !== 'string') return reject(401);
        await Promise.resolve();
        return { user, admin: user === 'root' };
      },
    });
    const connected = nextConnection(server);
    server.on('connection', (socket) => {
      expectTypeOf(socket.data).toEqualTypeOf<{ user: string; admin: boolean }>();
    });
    await connectWs(url, undefined, { headers: { 'x-user': 'root' } });
    expect((await connected).data).toEqual({ user: 'root', admin: true });
    expect((await unexpectedResponse(url)).status).toBe(401);

    const plain = await startServer({ authenticate: () => 42 });
    const plainConnected = nextConnection(plain.server);
    plain.server.on('connection', (socket) => expectTypeOf(socket.data).toEqualTypeOf<number>());
    await connectWs(plain.url);
    expect((await plainConnected).data).toBe(42);
  });

  test('without authenticate, data is undefined', async () => {
    const { socket } = await connectPair(await startServer());
    expectTypeOf(socket.data).toEqualTypeOf<undefined>();
    expect(socket.data).toBeUndefined();
  });

  test.each([
    [
      'throws',
      (): never => {
        throw new Error('secret detail');
      },
    ],
    ['rejects', (): Promise<never> => Promise.reject(new Error('secret detail'))],
  ])(
    'when it %s, the client gets 500 without the message and the error is emitted',
    async (_, hook) => {
      const { server, url } = await startServer({ authenticate: hook });
      const errors = serverErrors(server);
      const answer = await unexpectedResponse(url);
      expect(answer.status).toBe(500);
      expect(answer.body).not.toContain('secret');
      const [error] = await errors.until(1);
      expect(error!.message).toBe('secret detail');
    },
  );

  test('when it throws and nobody listens for errors, nothing crashes', async () => {
    const { server, port, url } = await startServer({
      authenticate: () => {
        throw new Error('boom');
      },
    });
    const rejected = nextEmit<[number]>(server, 'rejected');
    const response = await handshakeResponse(port);
    expect(response.status).toBe(500);
    expect((await rejected)[0]).toBe(500);
    expect((await unexpectedResponse(url)).status).toBe(500);
  });
});

describe('allowedOrigins', () => {
  test('a listed origin connects; another gets 403; no Origin passes', async () => {
    const { url } = await startServer({ allowedOrigins: ['https://good.example'] });
    await connectWs(url, undefined, { origin: 'https://good.example' });
    await connectWs(url);
    const answer = await unexpectedResponse(url, { origin: 'https://evil.example' });
    expect(answer.status).toBe(403);
  });

  test('a predicate decides, and sees undefined for a missing Origin', async () => {
    const seen: Array<string | undefined> = [];
    const { url } = await startServer({
      allowedOrigins: (origin) => {
        seen.push(origin);
        return origin?.endsWith('.good.example') ?? false;
      },
    });
    await connectWs(url, undefined, { origin: 'https://a.good.example' });
    expect((await unexpectedResponse(url)).status).toBe(403);
    expect((await unexpectedResponse(url, { origin: 'https://bad.example' })).status).toBe(403);
    expect(seen).toEqual(['https://a.good.example', undefined, 'https://bad.example']);
  });
});

describe('pipelining', () => {
  test('frames sent right behind the request head are delivered after connection', async () => {
    const { server, port } = await startServer();
    server.on('connection', (socket) => {
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    const raw = await RawClient.connect(port);
    raw.write(
      Buffer.concat([
        Buffer.from(handshakeRequest().text),
        ...mask('early'),
        ...encodeFrame(Opcode.Ping, Buffer.from('p'), { mask: randomBytes(4) }),
      ]),
    );
    expect((await raw.response()).status).toBe(101);
    const frames = [await raw.nextFrame(), await raw.nextFrame()];
    expect(frames.map((frame) => [frame.opcode, frame.payload.toString()])).toEqual([
      [Opcode.Text, 'early'],
      [Opcode.Pong, 'p'],
    ]);
  });

  test('frames arriving while authenticate runs are delivered, in order, after connection', async () => {
    const calls = new Collector<() => void>();
    const { server, port } = await startServer({
      authenticate: () => new Promise<void>((resolve) => calls.push(resolve)),
    });
    server.on('connection', (socket) => {
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    const raw = await RawClient.connect(port);
    raw.write(Buffer.concat([Buffer.from(handshakeRequest().text), ...mask('first')]));
    const [release] = await calls.until(1);
    raw.write(Buffer.concat(mask('second')));
    // Give the second chunk time to reach the server while authenticate is pending;
    // the order must hold however the chunks are timed.
    await quiet(50);
    release!();
    expect((await raw.response()).status).toBe(101);
    const frames = [await raw.nextFrame(), await raw.nextFrame()];
    expect(frames.map((frame) => frame.payload.toString())).toEqual(['first', 'second']);
  });
});

describe('the 101 response', () => {
  // The server hashes the key with node:crypto's one-shot hash and passes the
  // result as `accept`; the response must stay what the protocol builds.
  test("without subprotocol, extension or headers hook: exactly the protocol's buildAcceptResponse", async () => {
    const { port } = await startServer();
    for (let i = 0; i < 3; i++) {
      const raw = await RawClient.connect(port);
      const { text, key } = handshakeRequest();
      raw.write(text);
      const response = await raw.response();
      expect(`${response.head}\r\n\r\n`).toBe(buildAcceptResponse({ key }));
      raw.socket.destroy();
    }
  });

  test("with a subprotocol: the protocol's buildAcceptResponse, which names it", async () => {
    const { port } = await startServer({ protocols: ['chat'] });
    const raw = await RawClient.connect(port);
    const { text, key } = handshakeRequest({ headers: { 'Sec-WebSocket-Protocol': 'chat' } });
    raw.write(text);
    const response = await raw.response();
    expect(`${response.head}\r\n\r\n`).toBe(buildAcceptResponse({ key, protocol: 'chat' }));
    raw.socket.destroy();
  });

  // "Offered" is the protocol's rule (acceptRequest): the server's hook is
  // checked by it, and a refused choice is a hook failure (500, 'error').
  test.each<[string, unknown]>([
    ['one never offered', 'other'],
    ['""', ''],
  ])("handleProtocols choosing %s: 500 and the protocol's TypeError", async (_, chosen) => {
    const { port, server } = await startServer({ handleProtocols: () => chosen as string });
    const errors = serverErrors(server);
    const raw = await sendHandshake(port, { headers: { 'Sec-WebSocket-Protocol': 'a' } });
    expect((await raw.response()).status).toBe(500);
    const [error] = await errors.until(1);
    expect(error).toEqual(
      new TypeError(`Subprotocol "${String(chosen)}" was chosen, but the client did not offer it`),
    );
  });
});

describe('headers hook', () => {
  test('adds header fields to the 101', async () => {
    const { url } = await startServer({
      headers: (headers, request) => {
        headers['X-Powered-By'] = 'proj';
        headers['Set-Cookie'] = ['a=1', `path=${request.url ?? ''}`];
      },
    });
    const ws = wsClient(`${url}/p`);
    const upgrade = nextEmit<[IncomingMessage]>(ws, 'upgrade');
    await nextEmit(ws, 'open');
    const [response] = await upgrade;
    expect(response.statusCode).toBe(101);
    expect(response.headers['x-powered-by']).toBe('proj');
    expect(response.headers['set-cookie']).toEqual(['a=1', 'path=/p']);
  });
});

describe('malformed requests on a raw socket', () => {
  interface Case {
    name: string;
    request: RequestOptions;
    status: number;
    headers?: Record<string, string>;
  }
  const key15 = Buffer.alloc(15).toString('base64');
  const cases: Case[] = [
    {
      name: 'missing Sec-WebSocket-Key',
      request: { headers: { 'Sec-WebSocket-Key': undefined } },
      status: 400,
    },
    {
      name: 'a key that is not base64',
      request: { headers: { 'Sec-WebSocket-Key': 'not a key!' } },
      status: 400,
    },
    {
      name: 'a key of 15 bytes',
      request: { headers: { 'Sec-WebSocket-Key': key15 } },
      status: 400,
    },
    {
      name: 'two keys',
      request: { headers: { 'Sec-WebSocket-Key': `${key15}AA==, ${key15}AA==` } },
      status: 400,
    },
    {
      name: 'version 8',
      request: { headers: { 'Sec-WebSocket-Version': '8' } },
      status: 426,
      headers: { 'sec-websocket-version': '13' },
    },
    {
      name: 'missing version',
      request: { headers: { 'Sec-WebSocket-Version': undefined } },
      status: 400,
    },
    { name: 'POST', request: { method: 'POST' }, status: 405, headers: { allow: 'GET' } },
    {
      name: 'CONNECT',
      request: { method: 'CONNECT', path: 'example.com:443' },
      status: 405,
      headers: { allow: 'GET' },
    },
    // node:http hands an HTTP/1.0 upgrade to us; the RFC 6455 check answers 400.
    { name: 'HTTP/1.0', request: { version: '1.0' }, status: 400 },
    { name: 'missing Host', request: { headers: { Host: undefined } }, status: 400 },
    { name: 'Upgrade: h2c', request: { headers: { Upgrade: 'h2c' } }, status: 400 },
    {
      name: 'a duplicated subprotocol',
      request: { headers: { 'Sec-WebSocket-Protocol': 'a, a' } },
      status: 400,
    },
    {
      name: 'a malformed subprotocol list',
      request: { headers: { 'Sec-WebSocket-Protocol': 'a b' } },
      status: 400,
    },
  ];

  test.each(cases)(
    '$name → $status, then the socket is closed',
    async ({ request, status, headers }) => {
      const { port, server } = await startServer();
      const rejected = nextEmit<[number]>(server, 'rejected');
      const raw = await sendHandshake(port, request);
      const response = await raw.response();
      expect(response.status).toBe(status);
      expect(response.headers).toMatchObject(headers ?? {});
      expect(response.headers['connection']).toBe('close');
      expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(response.body));
      expect((await rejected)[0]).toBe(status);
      await raw.closed;
      expect(server.clients.size).toBe(0);
    },
  );

  // The server decides none of these itself: it answers with the protocol's
  // refusal, word for word, for a CONNECT (node:http's 'connect' event) too.
  test.each<[string, RequestOptions, () => unknown, Record<string, unknown>]>([
    [
      'POST',
      { method: 'POST' },
      () => validateRequest({ method: 'POST', httpVersion: '1.1', headers: {} }),
      {},
    ],
    [
      'CONNECT',
      { method: 'CONNECT', path: 'example.com:443' },
      () => validateRequest({ method: 'CONNECT', httpVersion: '1.1', headers: {} }),
      {},
    ],
    [
      'too many header fields',
      { headers: { 'X-A': 'a', 'X-B': 'b' } },
      () => checkHeaderCount(7, { maxHeaderCount: 6 }),
      { maxHeaderCount: 6 },
    ],
  ])(
    "%s: the status, headers and body of the protocol's HandshakeError",
    async (_, request, rule, options) => {
      const expected = (() => {
        try {
          rule();
        } catch (error) {
          return error as HandshakeError;
        }
        throw new Error('the protocol accepted it');
      })();
      const { port, server } = await startServer(options);
      const rejected = nextEmit<[number, string]>(server, 'rejected');
      const response = await handshakeResponse(port, request);
      expect(response.status).toBe(expected.status);
      expect(response.headers).toMatchObject(expected.headers);
      expect(response.body).toBe(expected.message);
      expect(await rejected).toEqual([expected.status, expected.message, expect.anything()]);
    },
  );

  // Without both Upgrade and `Connection: Upgrade`, node:http does not see an
  // upgrade at all: the standalone server's request handler answers 426.
  test.each<[string, RequestOptions]>([
    ['missing Upgrade', { headers: { Upgrade: undefined } }],
    ['missing Connection', { headers: { Connection: undefined } }],
    [
      'a plain GET',
      { headers: { Upgrade: undefined, Connection: undefined, 'Sec-WebSocket-Key': undefined } },
    ],
  ])('%s → 426 Upgrade Required in standalone mode', async (_, options) => {
    const { port } = await startServer();
    const response = await handshakeResponse(port, options);
    expect(response.status).toBe(426);
    expect(response.headers['upgrade']).toBe('websocket');
    expect(response.body).toBe('Upgrade Required');
  });

  test('a plain HTTP/1.0 request → 426 as well', async () => {
    const { port } = await startServer();
    const response = await RawClient.request(port, 'GET / HTTP/1.0\r\n\r\n');
    expect(response.status).toBe(426);
  });

  test('with the path option, another path → 404 and the right path → 101', async () => {
    const { port } = await startServer({ path: '/ws' });
    const wrong = await sendHandshake(port, { path: '/other' });
    expect((await wrong.response()).status).toBe(404);
    await wrong.closed;
    await RawClient.open(port, { path: '/ws?token=1' });
  });

  test('a head over maxHeadSize → 431', async () => {
    const { port } = await startServer({ maxHeadSize: 1024 });
    const raw = await sendHandshake(port, { headers: { 'X-Big': 'a'.repeat(2000) } });
    expect((await raw.response()).status).toBe(431);
    await raw.closed;
    await RawClient.open(port, { headers: { 'X-Small': 'a'.repeat(500) } });
  });

  test('the default head limit (16 KiB) → 431', async () => {
    const { port } = await startServer();
    const response = await handshakeResponse(port, {
      headers: { 'X-Big': 'a'.repeat(17 * 1024) },
    });
    expect(response.status).toBe(431);
  });

  test('garbage instead of HTTP → 400 and closed', async () => {
    const { port } = await startServer();
    const raw = await RawClient.connect(port);
    raw.write('\x16\x03\x01\x00\xa5garbage\r\n\r\n');
    expect((await raw.response()).status).toBe(400);
    await raw.closed;
  });
});
