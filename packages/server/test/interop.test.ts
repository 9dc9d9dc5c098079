/**
 * A `ws` client (the reference peer) against our server: messages of every
 * size class both ways, fragmentation, ping/pong, each close path, subprotocols.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { nextEmit, useCleanup } from '@proj/test-utils';
import { Collector } from './collector.js';
import {
  closeOf,
  connectPair,
  connectWs,
  nextConnection,
  sendHandshake,
  serverErrors,
  startEchoServer,
  startServer,
  wsClient,
  wsClose,
  wsMessage,
} from './helpers.js';

useCleanup();

type Received = [data: string | Buffer, isBinary: boolean];

/** An echo server that also records what it received, and a connected `ws` client. */
async function echoPair() {
  const started = await startEchoServer();
  const received = new Collector<Received>();
  started.server.on('connection', (socket) =>
    socket.on('message', (data, isBinary) => received.push([data, isBinary])),
  );
  return { ...(await connectPair(started)), server: started.server, received };
}

describe('messages', () => {
  test.each([0, 125, 126, 65535, 65536])(
    'binary payload of %i bytes arrives byte-exact both ways',
    async (size) => {
      const { ws, received } = await echoPair();
      const payload = randomBytes(size);
      const reply = wsMessage(ws);
      ws.send(payload);
      const [[data, isBinary]] = (await received.until(1)) as [Received];
      expect(isBinary).toBe(true);
      expect(Buffer.isBuffer(data)).toBe(true);
      expect((data as Buffer).equals(payload)).toBe(true);
      const echoed = await reply;
      expect(echoed.isBinary).toBe(true);
      expect(echoed.data.equals(payload)).toBe(true);
    },
  );

  test.each([0, 125, 126, 65535, 65536])(
    'text payload of %i bytes arrives exact both ways',
    async (size) => {
      const { ws, received } = await echoPair();
      const text = 'é'.repeat(Math.floor(size / 2)) + 'x'.repeat(size % 2);
      expect(Buffer.byteLength(text)).toBe(size);
      const reply = wsMessage(ws);
      ws.send(text);
      const [[data, isBinary]] = (await received.until(1)) as [Received];
      expect(isBinary).toBe(false);
      expect(data).toBe(text);
      const echoed = await reply;
      expect(echoed.isBinary).toBe(false);
      expect(echoed.data.toString()).toBe(text);
    },
  );

  test(
    '16 MiB binary message (the default maxPayload) arrives byte-exact both ways',
    {
      timeout: 30_000,
    },
    async () => {
      const { ws, received } = await echoPair();
      const payload = randomBytes(16 * 1024 * 1024);
      const reply = wsMessage(ws);
      ws.send(payload);
      const [[data, isBinary]] = (await received.until(1)) as [Received];
      expect(isBinary).toBe(true);
      expect((data as Buffer).equals(payload)).toBe(true);
      const echoed = await reply;
      expect(echoed.data.length).toBe(payload.length);
      expect(echoed.data.equals(payload)).toBe(true);
    },
  );

  test('one byte over maxPayload is refused with 1009', async () => {
    const { url } = await startEchoServer({ maxPayload: 1000 });
    const ws = await connectWs(url);
    const closed = wsClose(ws);
    ws.send(Buffer.alloc(1001));
    expect((await closed).code).toBe(1009);
  });

  test('multi-byte UTF-8 text, 4-byte emoji included', async () => {
    const { ws, received } = await echoPair();
    const text = 'héllo wörld · 日本語 · 😀🎉 · 𝄞';
    const reply = wsMessage(ws);
    ws.send(text);
    expect(await received.until(1)).toEqual([[text, false]]);
    expect((await reply).data.toString('utf8')).toBe(text);
  });

  test('a 4-byte character split across fragments is reassembled', async () => {
    const { ws, received } = await echoPair();
    const bytes = Buffer.from('a😀b');
    ws.send(bytes.subarray(0, 3), { binary: false, fin: false });
    ws.send(bytes.subarray(3), { binary: false });
    expect(await received.until(1)).toEqual([['a😀b', false]]);
  });

  test('empty text and empty binary messages', async () => {
    const { ws, received } = await echoPair();
    const replies = new Collector<[Buffer, boolean]>();
    ws.on('message', (data: Buffer, isBinary: boolean) => replies.push([data, isBinary]));
    ws.send('');
    ws.send(Buffer.alloc(0));
    const got = await received.until(2);
    expect(got[0]).toEqual(['', false]);
    expect(got[1]![1]).toBe(true);
    expect((got[1]![0] as Buffer).length).toBe(0);
    const back = await replies.until(2);
    expect(back.map(([data, isBinary]) => [data.length, isBinary])).toEqual([
      [0, false],
      [0, true],
    ]);
  });

  test('fragmented text and binary messages sent by ws are reassembled', async () => {
    const { ws, received } = await echoPair();
    ws.send('ab', { fin: false });
    ws.send('', { fin: false });
    ws.send('cd', { fin: false });
    ws.send('e');
    ws.send(Buffer.from([1, 2]), { fin: false });
    ws.send(Buffer.from([3]));
    const got = await received.until(2);
    expect(got[0]).toEqual(['abcde', false]);
    expect(got[1]![1]).toBe(true);
    expect([...(got[1]![0] as Buffer)]).toEqual([1, 2, 3]);
  });

  test('a ping between fragments is answered and the message still assembles', async () => {
    const { ws, socket, received } = await echoPair();
    const order: string[] = [];
    socket.on('ping', (data) => order.push(`ping:${data.toString()}`));
    socket.on('message', (data) => order.push(`message:${String(data)}`));
    const pong = nextEmit<[Buffer]>(ws, 'pong');
    ws.send('a', { fin: false });
    ws.ping('p');
    ws.send('b');
    expect((await pong)[0].toString()).toBe('p');
    await received.until(1);
    expect(order).toEqual(['ping:p', 'message:ab']);
  });

  test('the server sends every data type, and fragments', async () => {
    const { socket, ws } = await echoPair();
    const got = new Collector<[string, boolean]>();
    ws.on('message', (data: Buffer, isBinary: boolean) =>
      got.push([isBinary ? data.toString('hex') : data.toString(), isBinary]),
    );
    socket.send('text');
    socket.send(new Uint8Array([1, 2]));
    socket.send(new Uint8Array([3, 4, 5]).buffer);
    socket.send(new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2));
    socket.send(Buffer.from('as text'), { binary: false });
    socket.send('as binary', { binary: true });
    socket.send('fr', { fin: false });
    socket.send('ag');
    expect(await got.until(7)).toEqual([
      ['text', false],
      ['0102', true],
      ['030405', true],
      ['0807', true],
      ['as text', false],
      [Buffer.from('as binary').toString('hex'), true],
      ['frag', false],
    ]);
  });
});

describe('ping and pong', () => {
  test.each([
    ["a ping from ws gets a pong with its payload, and fires our 'ping'", 'ws', 'hi'],
    ["our ping gets ws's pong, which fires our 'pong'", 'server', 'yo'],
  ] as const)('%s', async (_, pinger, payload) => {
    const { ws, socket } = await echoPair();
    const [from, to] = pinger === 'ws' ? [ws, socket] : [socket, ws];
    const ping = nextEmit<[Buffer]>(to, 'ping');
    const pong = nextEmit<[Buffer]>(from, 'pong');
    from.ping(payload);
    expect((await ping)[0].toString()).toBe(payload);
    expect((await pong)[0].toString()).toBe(payload);
  });

  test('an unsolicited pong reaches ws; control payloads over 125 bytes throw', async () => {
    const { ws, socket } = await echoPair();
    const pong = nextEmit<[Buffer]>(ws, 'pong');
    socket.pong(new Uint8Array([7]));
    expect([...(await pong)[0]]).toEqual([7]);
    expect(() => socket.ping(Buffer.alloc(126))).toThrow(RangeError);
    expect(() => socket.pong('x'.repeat(126))).toThrow(RangeError);
    socket.ping(Buffer.alloc(125));
    expect((await nextEmit<[Buffer]>(socket, 'pong'))[0].length).toBe(125);
  });
});

describe('close paths', () => {
  test('client closes with 1000 and a reason: the server sees it, cleanly', async () => {
    const { ws, socket } = await echoPair();
    const serverClosed = closeOf(socket);
    const clientClosed = wsClose(ws);
    ws.close(1000, 'bye');
    expect(await serverClosed).toEqual([1000, 'bye', true, 'peer-close']);
    expect((await clientClosed).code).toBe(1000);
    expect(socket.readyState).toBe(WebSocket.CLOSED);
  });

  test('client closes without a code: the server sees 1005', async () => {
    const { ws, socket } = await echoPair();
    const serverClosed = closeOf(socket);
    ws.close();
    expect(await serverClosed).toEqual([1005, '', true, 'peer-close']);
    expect((await wsClose(ws)).code).toBe(1005);
  });

  test("server closes with 4000 and a reason: ws sees both; our 'close' is clean", async () => {
    const { ws, socket } = await echoPair();
    const serverClosed = closeOf(socket);
    const clientClosed = wsClose(ws);
    socket.close(4000, 'reason');
    expect(socket.readyState).toBe(WebSocket.CLOSING);
    expect(await clientClosed).toEqual({ code: 4000, reason: 'reason' });
    const [code, , wasClean] = await serverClosed;
    expect(code).toBe(4000);
    expect(wasClean).toBe(true);
  });

  test('server.close() sends 1001 Going Away', async () => {
    const { ws, server } = await echoPair();
    const clientClosed = wsClose(ws);
    await server.close();
    expect((await clientClosed).code).toBe(1001);
    expect(server.clients.size).toBe(0);
  });

  test("the client's socket destroyed: our 'close' reports 1006, not clean", async () => {
    const { ws, socket } = await echoPair();
    const serverClosed = closeOf(socket);
    (ws as unknown as { _socket: { destroy(): void } })._socket.destroy();
    expect(await serverClosed).toEqual([1006, '', false, 'connection-lost']);
  });

  test('ws.terminate(): 1006 as well', async () => {
    const { ws, socket } = await echoPair();
    const serverClosed = closeOf(socket);
    ws.terminate();
    expect(await serverClosed).toEqual([1006, '', false, 'connection-lost']);
  });

  test('socket.terminate(): ws sees 1006, our close is not clean', async () => {
    const { ws, socket } = await echoPair();
    const serverClosed = closeOf(socket);
    const clientClosed = wsClose(ws);
    socket.terminate();
    expect((await clientClosed).code).toBe(1006);
    expect(await serverClosed).toEqual([1006, '', false, 'terminated']);
  });

  test('close() validates its code and reason; a second close() does nothing', async () => {
    const { ws, socket } = await echoPair();
    expect(() => socket.close(1005)).toThrow(RangeError);
    expect(() => socket.close(999)).toThrow(RangeError);
    expect(() => socket.close(1000, 'x'.repeat(124))).toThrow(RangeError);
    expect(socket.readyState).toBe(WebSocket.OPEN);
    const clientClosed = wsClose(ws);
    socket.close(1000, 'é'.repeat(61));
    socket.close(4001, 'ignored');
    expect(await clientClosed).toEqual({ code: 1000, reason: 'é'.repeat(61) });
  });
});

describe('subprotocols', () => {
  test('the first protocol in the client preference order that the server speaks wins', async () => {
    const { server, url } = await startServer({ protocols: ['chat', 'superchat'] });
    const connected = nextConnection(server);
    const ws = await connectWs(url, ['x', 'superchat', 'chat']);
    expect(ws.protocol).toBe('superchat');
    expect((await connected).protocol).toBe('superchat');
  });

  test('no protocol offered: none chosen on either side', async () => {
    const { server, url } = await startServer({ protocols: ['chat'] });
    const connected = nextConnection(server);
    const ws = await connectWs(url);
    expect(ws.protocol).toBe('');
    expect((await connected).protocol).toBe('');
  });

  test('no common protocol: the 101 names none (and ws, being strict, fails)', async () => {
    const { port, url } = await startServer({ protocols: ['chat'] });
    const raw = await sendHandshake(port, { headers: { 'Sec-WebSocket-Protocol': 'foo, bar' } });
    const response = await raw.response();
    expect(response.status).toBe(101);
    expect(response.headers['sec-websocket-protocol']).toBeUndefined();

    const ws = wsClient(url, ['foo']);
    const [error] = await nextEmit<[Error]>(ws, 'error');
    expect(error.message).toMatch(/no subprotocol/);
  });

  test('handleProtocols sees the offer and the request, and its choice is used', async () => {
    const calls: Array<[readonly string[], string | undefined]> = [];
    const { server, url } = await startServer({
      protocols: ['ignored'],
      handleProtocols: (offered, request) => {
        calls.push([[...offered], request.url]);
        return [...offered].at(-1);
      },
    });
    const connected = nextConnection(server);
    const ws = await connectWs(`${url}/room?x=1`, ['a', 'b', 'c']);
    expect(ws.protocol).toBe('c');
    expect((await connected).protocol).toBe('c');
    expect(calls).toEqual([[['a', 'b', 'c'], '/room?x=1']]);
  });

  test('handleProtocols returning undefined chooses none', async () => {
    const { port } = await startServer({ handleProtocols: () => undefined });
    const raw = await sendHandshake(port, { headers: { 'Sec-WebSocket-Protocol': 'a' } });
    const response = await raw.response();
    expect(response.status).toBe(101);
    expect(response.headers['sec-websocket-protocol']).toBeUndefined();
  });

  test('handleProtocols choosing a protocol never offered answers 500', async () => {
    const { server, url } = await startServer({ handleProtocols: () => 'other' });
    const errors = serverErrors(server);
    const ws = wsClient(url, ['a']);
    const [, response] = await nextEmit<[unknown, { statusCode: number }]>(
      ws,
      'unexpected-response',
    );
    expect(response.statusCode).toBe(500);
    const [error] = await errors.until(1);
    expect(error).toBeInstanceOf(TypeError);
    expect(error!.message).toMatch(/did not offer/);
  });
});
