/**
 * The server's clocks: handshake timeout (slow heads, slow authenticate),
 * close timeout (a peer that never answers our close), heartbeat (a silent
 * peer is terminated, a `ws` client that answers pings is not), idle timeout
 * (1001 after silence, then destroyed after `closeTimeout`), and how the
 * heartbeat and the idle clock treat a connection the application paused.
 *
 * Timeouts are short (100-300 ms); upper bounds are generous because the
 * machine may be busy.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { describe, expect, test, vi } from 'vitest';
import { Opcode } from '@proj/protocol';
import type { ServerWebSocket } from '@proj/server';
import { CLOSE_LINGER_MS } from '@proj/transport';
import {
  RawClient,
  buildFrame,
  densest,
  closeBody,
  nextEmit,
  onCleanup,
  quiet,
  until,
  useCleanup,
} from '@proj/test-utils';
import { Collector } from './collector.js';
import {
  type CloseArgs,
  closeOf,
  connectPair,
  connectWs,
  echo,
  expectElapsed,
  nextConnectionClose,
  openRaw,
  sendHandshake,
  serverWithClients,
  startEchoServer,
  startServer,
} from './helpers.js';

useCleanup();

/** A raw client of a server with `closeTimeout`: the server's side of it, and its `close` to come. */
async function rawConnection(
  closeTimeout: number,
  options?: { allowHalfOpen?: boolean },
): Promise<{ raw: RawClient; socket: ServerWebSocket; closed: Promise<CloseArgs> }> {
  const { raw, socket } = await openRaw(await startServer({ closeTimeout }), options);
  return { raw, socket, closed: closeOf(socket) };
}

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
    expectElapsed(raw.closedAt - start, 250, 300);
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
    expectElapsed(raw.closedAt - start, 0, 300);
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
    const rejected = nextEmit<[number, string]>(server, 'rejected');
    const raw = await sendHandshake(port);
    await calls.until(1);
    const start = performance.now();
    await raw.closed;
    expectElapsed(raw.closedAt - start, 200, 300);
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
    const { raw, socket, closed } = await rawConnection(200);
    socket.close(1000, 'bye');
    expect(await raw.closeFrame()).toEqual({ code: 1000, reason: 'bye' });
    const start = performance.now();
    await raw.closed;
    expectElapsed(raw.closedAt - start, 150, 200);
    expect(await closed).toEqual([1006, '', false, 'local-close']);
  });

  test('a peer that answers in time closes cleanly, well before closeTimeout', async () => {
    const { raw, socket, closed } = await rawConnection(5000);
    socket.close(4000, 'done');
    expect((await raw.closeFrame()).code).toBe(4000);
    raw.sendClose(4000);
    await raw.closed;
    expect(await closed).toEqual([4000, '', true, 'local-close']);
  });

  // RFC 6455 §7.1.1: once both close frames are exchanged, the server closes
  // the TCP connection first: it half-closes at once. A peer that never ends
  // its side must not hold the connection (and its 'close' event) for
  // closeTimeout: the server closes after CLOSE_LINGER_MS.
  test('after a client-initiated closing handshake, the server half-closes TCP at once and closes it after the linger', async () => {
    const { raw, closed } = await rawConnection(60_000, { allowHalfOpen: true });
    raw.sendClose(1000, 'bye');
    expect(await raw.closeFrame()).toEqual({ code: 1000, reason: 'bye' });
    await raw.ended;
    const start = performance.now();
    expect(await closed).toEqual([1000, 'bye', true, 'peer-close']);
    expectElapsed(performance.now() - start, CLOSE_LINGER_MS / 2, CLOSE_LINGER_MS);
  });

  test('after a server-initiated closing handshake, the server half-closes TCP at once and closes it after the linger', async () => {
    const { raw, socket, closed } = await rawConnection(60_000, { allowHalfOpen: true });
    socket.close(4001, 'done');
    expect(await raw.closeFrame()).toEqual({ code: 4001, reason: 'done' });
    raw.sendClose(4001);
    await raw.ended;
    const start = performance.now();
    expect(await closed).toEqual([4001, '', true, 'local-close']);
    expectElapsed(performance.now() - start, CLOSE_LINGER_MS / 2, CLOSE_LINGER_MS);
  });

  test('a peer that ends its side after the closing handshake closes the connection at once', async () => {
    const { raw, closed } = await rawConnection(60_000, { allowHalfOpen: true });
    raw.sendClose(1000);
    expect((await raw.closeFrame()).code).toBe(1000);
    await raw.ended;
    const start = performance.now();
    raw.socket.end();
    expect(await closed).toEqual([1000, '', true, 'peer-close']);
    expect(performance.now() - start).toBeLessThan(CLOSE_LINGER_MS / 2);
    await raw.closed;
  });

  // A peer that breaks RFC 6455 §5.5.1 by sending bytes after its close
  // frame. If they sit unread in the kernel when the server closes its
  // socket, Linux answers with a reset and throws away whatever the server
  // had sent that the peer has not taken yet: here 256 KiB of messages (the
  // paused peer's window is full, so they wait in the server's kernel, not
  // in bufferedAmount) and the close reply. The stray byte is written from
  // inside the server's message handler, so it arrives after the read that
  // holds the close frame and before that read's close reply: the worst
  // case, every time.
  test('a peer that sends bytes after its close frame still receives every message and our close frame', async () => {
    const { raw, socket, closed } = await rawConnection(60_000);
    raw.socket.pause();
    const COUNT = 64;
    for (let n = 0; n < COUNT; n++) socket.send(Buffer.alloc(4096, n));
    await until(() => socket.bufferedAmount === 0);
    socket.on('message', () => raw.write(Buffer.from([0x42])));
    raw.write(
      Buffer.concat([
        buildFrame(Opcode.Text, Buffer.from('last'), { mask: randomBytes(4) }),
        buildFrame(Opcode.Close, closeBody(1000, 'bye'), { mask: randomBytes(4) }),
      ]),
    );
    // The peer reads nothing yet, so it cannot end its side: the server
    // closes after the linger, and the kernel still delivers what it holds.
    expect(await closed).toEqual([1000, 'bye', true, 'peer-close']);
    raw.socket.resume();
    expect(await raw.closeFrame()).toEqual({ code: 1000, reason: 'bye' });
    const messages = raw.frames.filter((frame) => frame.opcode === Opcode.Binary);
    expect(messages.map((frame) => Buffer.from(frame.payload))).toEqual(
      Array.from({ length: COUNT }, (_, n) => Buffer.alloc(4096, n)),
    );
    await raw.closed;
  });

  test('after a protocol failure, a peer keeping its half open is destroyed after closeTimeout', async () => {
    const { raw, closed } = await rawConnection(200, { allowHalfOpen: true });
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
    const closed = nextConnectionClose(server);
    const raw = await RawClient.open(port);
    const start = performance.now();
    const ping = await raw.nextFrame();
    expect(ping.opcode).toBe(Opcode.Ping);
    await raw.closed;
    expectElapsed(raw.closedAt - start, 100, 200);
    expect(await closed).toEqual([1006, '', false, 'heartbeat-timeout']);
    expect(server.clients.size).toBe(0);
  });

  test('a ws client, which answers pings, stays connected across several intervals', async () => {
    const { ws, socket } = await connectPair(await startEchoServer({ heartbeatInterval: 100 }));
    const pongs = new Collector<true>();
    const pings = new Collector<true>();
    ws.on('ping', () => pings.push(true));
    socket.on('pong', () => pongs.push(true));
    await pongs.until(5);
    expect(pings.items.length).toBeGreaterThanOrEqual(5);
    expect(socket.readyState).toBe(socket.OPEN);
    expect(ws.readyState).toBe(ws.OPEN);
    expect(await echo(ws, 'alive')).toBe('alive');
  });

  test('the pings of one interval are spread over it, a slice of the connections at a time', async () => {
    // 1,000 ms: ten slices, one every 100 ms. Pinged all at once, the 100
    // connections would get their pings in one turn of the server's loop.
    const count = 100;
    const { clients } = await serverWithClients(count, { heartbeatInterval: 1000 });
    const pings: number[][] = clients.map(() => []);
    clients.forEach((ws, i) => ws.on('ping', () => pings[i]!.push(performance.now())));
    await until(() => pings.every((times) => times.length >= 2), 10_000);
    // Each connection is pinged once per interval, an interval apart.
    for (const [first, second] of pings) expectElapsed(second! - first!, 850, 1000);
    // No 50 ms holds more than a slice or two of the first pings (10 each).
    const firsts = pings.map((times) => times[0]!).sort((x, y) => x - y);
    expect(densest(firsts, 50)).toBeLessThanOrEqual(20);
    expect(firsts.at(-1)! - firsts[0]!).toBeGreaterThanOrEqual(700);
  });

  test('a raw client that answers each ping with a pong stays connected', async () => {
    const { raw, socket } = await openRaw(await startServer({ heartbeatInterval: 100 }));
    for (let i = 0; i < 4; i++) {
      const ping = await raw.nextFrame();
      expect(ping.opcode).toBe(Opcode.Ping);
      raw.sendFrame(Opcode.Pong, ping.payload);
    }
    expect(raw.isClosed).toBe(false);
    expect(socket.readyState).toBe(socket.OPEN);
  });
});

describe('idleTimeout', () => {
  test('a peer that sends nothing gets 1001 "Idle timeout", then is destroyed after closeTimeout', async () => {
    const { server, port } = await startServer({ idleTimeout: 200, closeTimeout: 300 });
    const closed = nextConnectionClose(server);
    const raw = await RawClient.open(port);
    const start = performance.now();
    expect(await raw.closeFrame()).toEqual({ code: 1001, reason: 'Idle timeout' });
    const idle = performance.now() - start;
    // The server started counting before the client saw the 101.
    expectElapsed(idle, 180, 250);
    // It never answers the close frame either.
    await raw.closed;
    expect(raw.closedAt - start - idle).toBeGreaterThanOrEqual(250);
    expect(await closed).toEqual([1006, '', false, 'idle-timeout']);
    expect(server.clients.size).toBe(0);
  });

  test('a peer that answers the close frame closes cleanly', async () => {
    const { server, port } = await startServer({ idleTimeout: 100 });
    const closed = nextConnectionClose(server);
    const raw = await RawClient.open(port);
    expect((await raw.closeFrame()).code).toBe(1001);
    raw.sendClose(1001);
    expect(await closed).toEqual([1001, '', true, 'idle-timeout']);
  });

  test('any frame resets the clock: a peer pinging every 50 ms stays for many timeouts', async () => {
    const { raw, socket } = await openRaw(await startServer({ idleTimeout: 150 }));
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
    const started = await startEchoServer({ idleTimeout: 500, heartbeatInterval: 120 });
    const { ws, socket } = await connectPair(started);
    const pongs = new Collector<true>();
    socket.on('pong', () => pongs.push(true));
    await pongs.until(17); // about 2 s, four idle timeouts
    expect(socket.readyState).toBe(socket.OPEN);
    expect(await echo(ws, 'alive')).toBe('alive');
  });

  test('time paused by the application does not count; after resume() it does', async () => {
    const started = await startServer({ idleTimeout: 100 });
    started.server.on('connection', (socket) => socket.pause());
    const { raw, socket } = await openRaw(started);
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
    const started = await startServer({ heartbeatInterval: 50 });
    started.server.on('connection', (socket) => socket.pause());
    const { raw, socket } = await openRaw(started);
    const closed = closeOf(socket);
    await quiet(300);
    expect(socket.readyState).toBe(socket.OPEN);
    socket.resume();
    expect((await closed)[0]).toBe(1006);
    await raw.closed;
  });
});
