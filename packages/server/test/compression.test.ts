/**
 * permessage-deflate on @proj/server, with `ws` as the reference client:
 * every parameter combination, order under concurrency, per-message
 * `compress: false`, and a decompression bomb.
 */
import type { AddressInfo } from 'node:net';
import { describe, expect, test } from 'vitest';
import WebSocket, { type PerMessageDeflateOptions } from 'ws';
import { sharedIdleSweeper } from '@proj/deflate';
import { type ServerOptions, type ServerWebSocket, WebSocketServer } from '@proj/server';
import { onCleanup, sampleMessages, useCleanup } from '@proj/test-utils';
import { DEFLATE_COMBOS } from './deflate-combos.js';

// Servers started by a test are closed after it.
useCleanup({ failOnUncaught: false });

async function echoServer(
  options: Partial<ServerOptions> = {},
): Promise<{ server: WebSocketServer; url: string; sockets: ServerWebSocket[] }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  onCleanup(() => server.close());
  const sockets: ServerWebSocket[] = [];
  server.on('connection', (socket) => {
    sockets.push(socket);
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  await server.ready();
  return { server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, sockets };
}

function open(
  url: string,
  perMessageDeflate: PerMessageDeflateOptions | boolean,
): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function collect(ws: WebSocket, count: number): Promise<(string | Buffer)[]> {
  const received: (string | Buffer)[] = [];
  return new Promise((resolve) => {
    ws.on('message', (data: Buffer, isBinary) => {
      received.push(isBinary ? data : data.toString());
      if (received.length === count) resolve(received);
    });
  });
}

const messages = (): (string | Buffer)[] => sampleMessages('alice');

describe('our server, ws client', () => {
  // Each combination as a ws client's offer.
  test.each(DEFLATE_COMBOS.map((c) => [JSON.stringify(c), c] as const))(
    'offer %s: accepted, every message round trips',
    async (_, combo) => {
      const { url, sockets } = await echoServer({ perMessageDeflate: { threshold: 0 } });
      const ws = await open(url, { ...combo, threshold: 0 });
      // ws reports only the names; our side the whole accepted element.
      expect(ws.extensions).toBe('permessage-deflate');
      const accepted = sockets[0]!.extensions;
      if (combo.serverNoContextTakeover) expect(accepted).toContain('server_no_context_takeover');
      if (combo.serverMaxWindowBits)
        expect(accepted).toContain(`server_max_window_bits=${combo.serverMaxWindowBits}`);
      const sent = messages();
      const received = collect(ws, sent.length * 2);
      for (const m of [...sent, ...sent]) ws.send(m);
      expect(await received).toEqual([...sent, ...sent]);
      ws.close();
    },
  );

  test.each([
    [{ serverNoContextTakeover: true }, 'server_no_context_takeover'],
    [{ clientNoContextTakeover: true }, 'client_no_context_takeover'],
    [{ serverMaxWindowBits: 10 }, 'server_max_window_bits=10'],
    [{ clientMaxWindowBits: 9 }, 'client_max_window_bits=9'],
  ] as const)(
    'server preference %j is in the response (%s) and ws honours it',
    async (pref, text) => {
      const { url, sockets } = await echoServer({ perMessageDeflate: { threshold: 0, ...pref } });
      const ws = await open(url, { threshold: 0 });
      expect(sockets[0]!.extensions).toContain(text);
      const sent = messages();
      const received = collect(ws, sent.length);
      for (const m of sent) ws.send(m);
      expect(await received).toEqual(sent);
      ws.close();
    },
  );

  test('one server, different offers: each connection gets its own negotiation (shared per offer)', async () => {
    const { url, sockets } = await echoServer({ perMessageDeflate: { threshold: 0 } });
    const offers: PerMessageDeflateOptions[] = [
      { serverMaxWindowBits: 10 },
      {},
      { serverMaxWindowBits: 10 },
      { serverNoContextTakeover: true },
    ];
    const clients = [];
    for (const offer of offers) clients.push(await open(url, { ...offer, threshold: 0 }));
    expect(sockets.map((s) => s.extensions)).toEqual([
      expect.stringContaining('server_max_window_bits=10'),
      expect.not.stringContaining('server_max_window_bits'),
      sockets[0]!.extensions,
      expect.stringContaining('server_no_context_takeover'),
    ]);
    for (const ws of clients) {
      const received = collect(ws, 1);
      ws.send('x'.repeat(2000));
      expect(await received).toEqual(['x'.repeat(2000)]);
      ws.close();
    }
  });

  test('off by default: the offer is declined', async () => {
    const { url } = await echoServer();
    const ws = await open(url, true);
    expect(ws.extensions).toBe('');
    ws.close();
  });

  test('order: compressed and uncompressed messages interleaved with pings arrive in order', async () => {
    const { url } = await echoServer({ perMessageDeflate: { threshold: 512 } });
    const ws = await open(url, { threshold: 512 });
    const count = 600;
    const sent: string[] = [];
    for (let i = 0; i < count; i++) {
      sent.push(i % 3 === 0 ? `${i}:` + 'y'.repeat(2000 + i) : `${i}`);
    }
    let pongs = 0;
    ws.on('pong', () => pongs++);
    const received = collect(ws, count);
    for (let i = 0; i < count; i++) {
      ws.send(sent[i]!);
      if (i % 10 === 0) ws.ping(String(i));
    }
    expect(await received).toEqual(sent);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pongs).toBe(count / 10);
    ws.close();
  });

  test('the close waits for messages still being compressed', async () => {
    const { url, sockets } = await echoServer({ perMessageDeflate: { threshold: 0 } });
    const ws = await open(url, true);
    const big = 'z'.repeat(512 * 1024);
    const received = collect(ws, 3);
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    await new Promise((resolve) => setTimeout(resolve, 10));
    sockets[0]!.send(big);
    sockets[0]!.send('after', { compress: false });
    sockets[0]!.send(big);
    sockets[0]!.close(1000);
    expect(await received).toEqual([big, 'after', big]);
    expect(await closed).toBe(1000);
  });

  test('a broadcast waits behind a message still being compressed', async () => {
    const { server, url } = await echoServer({ perMessageDeflate: { threshold: 0 } });
    const connected = new Promise<ServerWebSocket>((resolve) => server.once('connection', resolve));
    const ws = await open(url, true);
    const socket = await connected;
    const big = 'y'.repeat(512 * 1024);
    const received = collect(ws, 2);
    socket.send(big);
    expect(server.broadcast('news')).toBe(1);
    expect(await received).toEqual([big, 'news']);
  });

  test('compress: false and the threshold send uncompressed frames', async () => {
    const { url, sockets } = await echoServer({ perMessageDeflate: { threshold: 100 } });
    const ws = await open(url, true);
    // Spy on the raw bytes: RSV1 is bit 0x40 of the first header byte.
    const firstBytes: number[] = [];
    (ws as unknown as { _socket: import('node:net').Socket })._socket.prependListener(
      'data',
      (chunk: Buffer) => firstBytes.push(chunk[0]!),
    );
    const received = collect(ws, 3);
    await new Promise((resolve) => setTimeout(resolve, 10));
    sockets[0]!.send('a'.repeat(50)); // below the threshold
    await new Promise((resolve) => setTimeout(resolve, 20));
    sockets[0]!.send('b'.repeat(500), { compress: false });
    await new Promise((resolve) => setTimeout(resolve, 20));
    sockets[0]!.send('c'.repeat(500));
    expect(await received).toEqual(['a'.repeat(50), 'b'.repeat(500), 'c'.repeat(500)]);
    expect(firstBytes.map((b) => (b & 0x40) !== 0)).toEqual([false, false, true]);
    ws.close();
  });

  test('a decompression bomb (10 MiB in ~10 KiB) closes with 1009', async () => {
    const { url, sockets } = await echoServer({
      perMessageDeflate: true,
      maxPayload: 1024 * 1024,
    });
    const ws = await open(url, { threshold: 0, zlibDeflateOptions: { level: 9 } });
    const errors: string[] = [];
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    await new Promise((resolve) => setTimeout(resolve, 10));
    sockets[0]!.on('error', (error) => errors.push(error.code));
    const socket = (ws as unknown as { _socket: import('node:net').Socket })._socket;
    const written = socket.bytesWritten;
    ws.send(Buffer.alloc(10 * 1024 * 1024));
    expect(await closed).toBe(1009);
    const wire = socket.bytesWritten - written;
    expect(wire).toBeLessThan(64 * 1024);
    expect(errors).toEqual(['WS_ERR_UNSUPPORTED_MESSAGE_LENGTH']);
  });

  test('`idleRelease`: after the server drops an idle compressor, ws (with context takeover) still reads every message', async () => {
    // A value no other test uses, so the shared sweeper's size is this connection's state.
    const idleRelease = 23;
    const { url } = await echoServer({ perMessageDeflate: { threshold: 0, idleRelease } });
    const ws = await open(url, { threshold: 0 });
    const sweeper = sharedIdleSweeper(idleRelease);
    for (let round = 0; round < 3; round++) {
      const sent = messages();
      const received = collect(ws, sent.length);
      for (const m of sent) ws.send(m);
      expect(await received).toEqual(sent);
      ws.removeAllListeners('message');
      expect(sweeper.size).toBe(1);
      while (sweeper.size > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    ws.close();
  });

  test('invalid UTF-8 inside a compressed text message closes with 1007', async () => {
    const { url } = await echoServer({ perMessageDeflate: true });
    const ws = await open(url, { threshold: 0 });
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    ws.send(Buffer.from([0x61, 0xff, 0x62]), { binary: false });
    expect(await closed).toBe(1007);
  });
});
