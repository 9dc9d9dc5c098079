/**
 * The limits that protect a server from too many or too quiet peers:
 * `maxConnections` (503 past it, pending handshakes included),
 * `maxHeaderCount` (431), `idleTimeout` (1001 after silence, then destroyed
 * after `closeTimeout`), and how both clocks treat a connection the
 * application paused.
 */
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { describe, expect, test, vi } from 'vitest';
import { type CloseCause, type ServerWebSocket, WebSocketServer } from '@proj/server';
import {
  Collector,
  Opcode,
  RawClient,
  connectWs,
  echo,
  handshakeRequest,
  nextEvent,
  onCleanup,
  quiet,
  startEchoServer,
  startServer,
  useCleanup,
} from './helpers.js';

useCleanup();

const SLACK = 3000;

describe('maxConnections', () => {
  test('upgrades past the limit get 503; a slot frees when a connection closes', async () => {
    const { server, url, port } = await startEchoServer({ maxConnections: 2 });
    const rejected = new Collector<[number, string]>();
    server.on('rejected', (status, reason) => rejected.push([status, reason]));
    const closes = new Collector<true>();
    server.on('connection', (socket) => socket.on('close', () => closes.push(true)));
    const a = await connectWs(url);
    const b = await connectWs(url);
    expect(server.clients.size).toBe(2);

    const refused = await RawClient.request(port, handshakeRequest().text);
    expect(refused.status).toBe(503);
    expect(refused.body).toBe('Too many connections');
    expect(await rejected.until(1)).toEqual([[503, 'Too many connections']]);
    // Those connected are unaffected.
    expect(await echo(a, 'a')).toBe('a');
    expect(await echo(b, 'b')).toBe('b');

    a.close();
    await closes.until(1);
    const c = await connectWs(url);
    expect(await echo(c, 'c')).toBe('c');
    expect(server.clients.size).toBe(2);
  });

  test('a handshake still in authenticate counts', async () => {
    let release!: () => void;
    const calls = new Collector<true>();
    const { server, port, url } = await startServer({
      maxConnections: 1,
      authenticate: () => {
        calls.push(true);
        return new Promise<undefined>((resolve) => (release = () => resolve(undefined)));
      },
    });
    const pending = await RawClient.connect(port);
    pending.write(handshakeRequest().text);
    await calls.until(1);
    expect((await RawClient.request(port, handshakeRequest().text)).status).toBe(503);
    release();
    expect((await pending.response()).status).toBe(101);
    expect(server.clients.size).toBe(1);
    await expect(connectWs(url)).rejects.toThrow(/503/);
  });
});

describe('maxHeaderCount', () => {
  const extra = (n: number): Record<string, string> =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-Extra-${i}`, 'x']));

  test('standalone: up to the limit connects, one more gets 431', async () => {
    // A handshakeRequest has 5 fields of its own.
    const { port } = await startServer({ maxHeaderCount: 10 });
    const ok = await RawClient.request(port, handshakeRequest({ headers: extra(5) }).text);
    expect(ok.status).toBe(101);
    const tooMany = await RawClient.request(port, handshakeRequest({ headers: extra(6) }).text);
    expect(tooMany.status).toBe(431);
    expect(tooMany.body).toBe('Too many header fields');
    const wayTooMany = await RawClient.request(
      port,
      handshakeRequest({ headers: extra(500) }).text,
    );
    expect(wayTooMany.status).toBe(431);
  });

  test('the default is 100', async () => {
    const { port } = await startServer();
    expect(
      (await RawClient.request(port, handshakeRequest({ headers: extra(95) }).text)).status,
    ).toBe(101);
    expect(
      (await RawClient.request(port, handshakeRequest({ headers: extra(96) }).text)).status,
    ).toBe(431);
  });

  test('attached mode applies it too', async () => {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, maxHeaderCount: 10 });
    onCleanup(async () => {
      await wss.close({ timeout: 100 });
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as { port: number };
    expect(
      (await RawClient.request(port, handshakeRequest({ headers: extra(5) }).text)).status,
    ).toBe(101);
    expect(
      (await RawClient.request(port, handshakeRequest({ headers: extra(6) }).text)).status,
    ).toBe(431);
  });
});

describe('idleTimeout', () => {
  test('a peer that sends nothing gets 1001 "Idle timeout", then is destroyed after closeTimeout', async () => {
    const { server, port } = await startServer({ idleTimeout: 200, closeTimeout: 300 });
    const closed = nextEvent<[ServerWebSocket]>(server, 'connection').then(([socket]) =>
      nextEvent<[number, string, boolean, CloseCause]>(socket, 'close'),
    );
    const raw = await RawClient.open(port);
    const start = performance.now();
    expect(await raw.closeFrame()).toEqual({ code: 1001, reason: 'Idle timeout' });
    const idle = performance.now() - start;
    // The server started counting before the client saw the 101.
    expect(idle).toBeGreaterThanOrEqual(180);
    expect(idle).toBeLessThan(250 + SLACK);
    // It never answers the close frame either.
    await raw.closed;
    expect(raw.closedAt - start - idle).toBeGreaterThanOrEqual(250);
    expect(await closed).toEqual([1006, '', false, 'idle-timeout']);
    expect(server.clients.size).toBe(0);
  });

  test('a peer that answers the close frame closes cleanly', async () => {
    const { server, port } = await startServer({ idleTimeout: 100 });
    const closed = nextEvent<[ServerWebSocket]>(server, 'connection').then(([socket]) =>
      nextEvent<[number, string, boolean, CloseCause]>(socket, 'close'),
    );
    const raw = await RawClient.open(port);
    expect((await raw.closeFrame()).code).toBe(1001);
    raw.sendClose(1001);
    expect(await closed).toEqual([1001, '', true, 'idle-timeout']);
  });

  test('any frame resets the clock: a peer pinging every 50 ms stays for many timeouts', async () => {
    const { server, port } = await startServer({ idleTimeout: 150 });
    const connected = nextEvent<[ServerWebSocket]>(server, 'connection');
    const raw = await RawClient.open(port);
    const [socket] = await connected;
    const start = performance.now();
    while (performance.now() - start < 750) {
      raw.sendFrame(Opcode.Ping, 'still here');
      const pong = await raw.nextFrame();
      expect(pong.opcode).toBe(Opcode.Pong);
      await quiet(50);
    }
    expect(socket.readyState).toBe(socket.OPEN);
    // Then silence: closed as idle.
    expect((await raw.closeFrame()).code).toBe(1001);
  });

  test('pongs count: a ws client answering the heartbeat is never idle', async () => {
    // Intervals wide enough that a loaded machine still answers each ping in time.
    const { server, url } = await startEchoServer({ idleTimeout: 500, heartbeatInterval: 120 });
    const connected = nextEvent<[ServerWebSocket]>(server, 'connection');
    const ws = await connectWs(url);
    const [socket] = await connected;
    const pongs = new Collector<true>();
    socket.on('pong', () => pongs.push(true));
    await pongs.until(17); // about 2 s, four idle timeouts
    expect(socket.readyState).toBe(socket.OPEN);
    expect(await echo(ws, 'alive')).toBe('alive');
  });

  test('time paused by the application does not count; after resume() it does', async () => {
    const { server, port } = await startServer({ idleTimeout: 100 });
    server.on('connection', (socket) => socket.pause());
    const connected = nextEvent<[ServerWebSocket]>(server, 'connection');
    const raw = await RawClient.open(port);
    const [socket] = await connected;
    await quiet(400);
    expect(socket.readyState).toBe(socket.OPEN);
    expect(raw.frames).toEqual([]);
    socket.resume();
    expect((await raw.closeFrame()).code).toBe(1001);
  });

  test('one sweep timer per server, none per connection; close() clears it', async () => {
    const intervals = vi.spyOn(globalThis, 'setInterval');
    const timeouts = vi.spyOn(globalThis, 'setTimeout');
    const cleared = vi.spyOn(globalThis, 'clearInterval');
    onCleanup(() => vi.restoreAllMocks());
    const { server, url } = await startEchoServer({ idleTimeout: 60_000 });
    expect(intervals).toHaveBeenCalledTimes(1);
    const sweep = intervals.mock.results[0]!.value as NodeJS.Timeout;
    // Each handshake arms (and clears) its handshake timer; nothing else.
    const perHandshake = timeouts.mock.calls.length;
    for (let i = 0; i < 5; i++) await echo(await connectWs(url), 'x');
    expect(server.clients.size).toBe(5);
    expect(intervals).toHaveBeenCalledTimes(1);
    expect(timeouts.mock.calls.length - perHandshake).toBeLessThanOrEqual(5);
    await server.close({ timeout: 100 });
    expect(cleared).toHaveBeenCalledWith(sweep);
  });
});

describe('heartbeat and pause()', () => {
  test('a connection the application paused is not terminated; after resume() a silent peer is', async () => {
    const { server, port } = await startServer({ heartbeatInterval: 50 });
    server.on('connection', (socket) => socket.pause());
    const connected = nextEvent<[ServerWebSocket]>(server, 'connection');
    const raw = await RawClient.open(port);
    const [socket] = await connected;
    const closed = nextEvent<[number]>(socket, 'close');
    await quiet(300);
    expect(socket.readyState).toBe(socket.OPEN);
    socket.resume();
    expect((await closed)[0]).toBe(1006);
    await raw.closed;
  });
});
