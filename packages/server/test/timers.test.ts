/**
 * The server's clocks: handshake timeout (slow heads, slow authenticate),
 * close timeout (a peer that never answers our close), heartbeat (a silent
 * peer is terminated, a `ws` client that answers pings is not).
 *
 * Timeouts are short (100-300 ms); upper bounds are generous because the
 * machine may be busy.
 */
import { performance } from 'node:perf_hooks';
import { describe, expect, test } from 'vitest';
import type { CloseCause, ServerWebSocket } from '@proj/server';
import {
  Collector,
  Opcode,
  RawClient,
  connectWs,
  echo,
  handshakeRequest,
  nextEvent,
  startEchoServer,
  startServer,
  useCleanup,
} from './helpers.js';

useCleanup();

const SLACK = 3000;

describe('handshake timeout', () => {
  test('a client trickling its request head is dropped after about handshakeTimeout', async () => {
    const { port, url } = await startEchoServer({ handshakeTimeout: 300 });
    const raw = await RawClient.connect(port);
    const start = performance.now();
    raw.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let n = 0;
    const trickle = setInterval(() => raw.write(`X-Slow-${n++}: a\r\n`), 40);
    await raw.closed;
    clearInterval(trickle);
    const elapsed = raw.closedAt - start;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(300 + SLACK);
    expect(n).toBeGreaterThan(3);
    // node:http enforces it (headersTimeout) and may answer 408 first.
    if (raw.data.length > 0) expect(raw.data.toString()).toMatch(/^HTTP\/1\.1 408 /);
    // Healthy clients are unaffected.
    expect(await echo(await connectWs(url), 'ok')).toBe('ok');
  });

  test('a complete but silent connection (no request at all) is dropped too', async () => {
    const { port } = await startServer({ handshakeTimeout: 300 });
    const raw = await RawClient.connect(port);
    const start = performance.now();
    raw.write('G');
    await raw.closed;
    expect(raw.closedAt - start).toBeLessThan(300 + SLACK);
  });

  test('an authenticate that never settles: the socket is dropped after handshakeTimeout', async () => {
    const calls = new Collector<true>();
    const { server, port } = await startServer({
      handshakeTimeout: 300,
      authenticate: () => {
        calls.push(true);
        return new Promise<never>(() => {});
      },
    });
    const rejected = nextEvent<[number, string]>(server, 'rejected');
    const raw = await RawClient.connect(port);
    raw.write(handshakeRequest().text);
    await calls.until(1);
    const start = performance.now();
    await raw.closed;
    const elapsed = raw.closedAt - start;
    expect(elapsed).toBeGreaterThanOrEqual(200);
    expect(elapsed).toBeLessThan(300 + SLACK);
    expect(raw.data.length).toBe(0);
    expect((await rejected)[0]).toBe(408);
    expect(server.clients.size).toBe(0);
  });

  test('an authenticate that finishes in time is not affected', async () => {
    const { url } = await startEchoServer({
      handshakeTimeout: 300,
      authenticate: () => new Promise<void>((resolve) => setTimeout(resolve, 20)),
    });
    expect(await echo(await connectWs(url), 'in time')).toBe('in time');
  });
});

describe('close timeout', () => {
  test('a peer that never answers our close frame is destroyed after closeTimeout: 1006', async () => {
    const { server, port } = await startServer({ closeTimeout: 200 });
    const closed = new Collector<[number, string, boolean, CloseCause]>();
    server.on('connection', (socket) => {
      socket.on('close', (...args) => closed.push(args));
      socket.close(1000, 'bye');
    });
    const raw = await RawClient.open(port);
    expect(await raw.closeFrame()).toEqual({ code: 1000, reason: 'bye' });
    const start = performance.now();
    await raw.closed;
    const elapsed = raw.closedAt - start;
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(200 + SLACK);
    expect(await closed.until(1)).toEqual([[1006, '', false, 'local-close']]);
  });

  test('a peer that answers in time closes cleanly, well before closeTimeout', async () => {
    const { server, port } = await startServer({ closeTimeout: 5000 });
    const closed = new Collector<[number, string, boolean, CloseCause]>();
    server.on('connection', (socket) => {
      socket.on('close', (...args) => closed.push(args));
      socket.close(4000, 'done');
    });
    const raw = await RawClient.open(port);
    expect((await raw.closeFrame()).code).toBe(4000);
    raw.sendClose(4000);
    await raw.closed;
    expect(await closed.until(1)).toEqual([[4000, '', true, 'local-close']]);
  });

  // RFC 6455 §7.1.1: once both close frames are exchanged, the server closes
  // the TCP connection itself. A peer that never ends its side must not hold
  // the connection (and its 'close' event) for closeTimeout.
  test('after a client-initiated closing handshake, the server closes TCP without waiting for the peer', async () => {
    const { server, port } = await startServer({ closeTimeout: 60_000 });
    const closed = nextEvent<[ServerWebSocket]>(server, 'connection').then(([socket]) =>
      nextEvent<[number, string, boolean, CloseCause]>(socket, 'close'),
    );
    const raw = await RawClient.open(port, { allowHalfOpen: true });
    raw.sendClose(1000, 'bye');
    expect(await raw.closeFrame()).toEqual({ code: 1000, reason: 'bye' });
    await raw.ended;
    expect(await closed).toEqual([1000, 'bye', true, 'peer-close']);
  });

  test('after a server-initiated closing handshake, the server closes TCP without waiting for the peer', async () => {
    const { server, port } = await startServer({ closeTimeout: 60_000 });
    const closed = new Collector<[number, string, boolean, CloseCause]>();
    server.on('connection', (socket) => {
      socket.on('close', (...args) => closed.push(args));
      socket.close(4001, 'done');
    });
    const raw = await RawClient.open(port, { allowHalfOpen: true });
    expect(await raw.closeFrame()).toEqual({ code: 4001, reason: 'done' });
    raw.sendClose(4001);
    await raw.ended;
    expect(await closed.until(1)).toEqual([[4001, '', true, 'local-close']]);
  });

  test('after a protocol failure, a peer keeping its half open is destroyed after closeTimeout', async () => {
    const { server, port } = await startServer({ closeTimeout: 200 });
    const closed = nextEvent<[ServerWebSocket]>(server, 'connection').then(([socket]) =>
      nextEvent<[number, string, boolean, CloseCause]>(socket, 'close'),
    );
    const raw = await RawClient.open(port, { allowHalfOpen: true });
    raw.sendFrame(Opcode.Text, 'x', { rsv3: true });
    expect((await raw.closeFrame()).code).toBe(1002);
    // The server half-closed; this peer never ends its side.
    await raw.ended;
    const start = performance.now();
    await closed;
    expect(performance.now() - start).toBeGreaterThanOrEqual(150);
    expect(await closed).toEqual([1006, '', false, 'protocol-error']);
  });
});

describe('heartbeat', () => {
  test('a peer that never answers pings is terminated', async () => {
    const { server, port } = await startServer({ heartbeatInterval: 100 });
    const closed = nextEvent<[ServerWebSocket]>(server, 'connection').then(([socket]) =>
      nextEvent<[number, string, boolean, CloseCause]>(socket, 'close'),
    );
    const raw = await RawClient.open(port);
    const start = performance.now();
    const ping = await raw.nextFrame();
    expect(ping.opcode).toBe(Opcode.Ping);
    await raw.closed;
    const elapsed = raw.closedAt - start;
    expect(elapsed).toBeGreaterThanOrEqual(100);
    expect(elapsed).toBeLessThan(200 + SLACK);
    expect(await closed).toEqual([1006, '', false, 'heartbeat-timeout']);
    expect(server.clients.size).toBe(0);
  });

  test('a ws client, which answers pings, stays connected across several intervals', async () => {
    const { server, url } = await startEchoServer({ heartbeatInterval: 100 });
    const pongs = new Collector<true>();
    const connected = nextEvent<[ServerWebSocket]>(server, 'connection');
    const ws = await connectWs(url);
    const pings = new Collector<true>();
    ws.on('ping', () => pings.push(true));
    const [socket] = await connected;
    socket.on('pong', () => pongs.push(true));
    await pongs.until(5);
    expect(pings.items.length).toBeGreaterThanOrEqual(5);
    expect(socket.readyState).toBe(socket.OPEN);
    expect(ws.readyState).toBe(ws.OPEN);
    expect(await echo(ws, 'alive')).toBe('alive');
  });

  test('a raw client that answers each ping with a pong stays connected', async () => {
    const { server, port } = await startServer({ heartbeatInterval: 100 });
    const connected = nextEvent<[ServerWebSocket]>(server, 'connection');
    const raw = await RawClient.open(port);
    const [socket] = await connected;
    for (let i = 0; i < 4; i++) {
      const ping = await raw.nextFrame();
      expect(ping.opcode).toBe(Opcode.Ping);
      raw.sendFrame(Opcode.Pong, ping.payload);
    }
    expect(raw.isClosed).toBe(false);
    expect(socket.readyState).toBe(socket.OPEN);
  });
});
