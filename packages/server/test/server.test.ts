/**
 * The server object: its `clients`, graceful `close()`, and what happens when
 * application listeners throw.
 */
import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { describe, expect, test } from 'vitest';
import type { ServerWebSocket, WebSocketError } from '@proj/server';
import { RawClient, nextEmit, useCleanup } from '@proj/test-utils';
import { Collector } from './collector.js';
import {
  type CloseArgs,
  connectPair,
  connectWs,
  echo,
  sendHandshake,
  serverErrors,
  startEchoServer,
  startServer,
  wsClose,
} from './helpers.js';

useCleanup();

describe('clients', () => {
  test('grows with each connection and shrinks as they close', async () => {
    const { server, url } = await startEchoServer();
    const closes = new Collector<true>();
    server.on('connection', (socket) => socket.on('close', () => closes.push(true)));
    expect(server.clients.size).toBe(0);
    const first = await connectWs(url);
    await echo(first, 'x');
    expect(server.clients.size).toBe(1);
    const second = await connectWs(url);
    await echo(second, 'x');
    expect(server.clients.size).toBe(2);
    first.close();
    await closes.until(1);
    expect(server.clients.size).toBe(1);
    second.terminate();
    await closes.until(2);
    expect(server.clients.size).toBe(0);
  });

  test('holds the sockets given to connection, still open', async () => {
    const started = await startServer();
    const { socket } = await connectPair(started);
    expect([...started.server.clients]).toEqual([socket]);
    expect(socket.readyState).toBe(socket.OPEN);
    expect(socket.remoteAddress).toBe('127.0.0.1');
  });
});

describe("a socket's listeners", () => {
  // Its listener table is a fast object, not EventEmitter's dictionary
  // (memory per idle connection): events named like Object.prototype's
  // members must still be plain events.
  test('events named toString, constructor, __proto__ and hasOwnProperty are ordinary events', async () => {
    const started = await startServer();
    const { socket } = await connectPair(started);
    // Not events of its typed map: as a plain EventEmitter.
    const emitter = socket as unknown as EventEmitter;
    const names = ['toString', 'constructor', '__proto__', 'hasOwnProperty'] as const;
    for (const name of names) expect(emitter.listenerCount(name)).toBe(0);
    const heard: string[] = [];
    const listeners = names.map((name) => () => heard.push(name));
    names.forEach((name, i) => emitter.on(name, listeners[i]!));
    for (const name of names) expect(emitter.emit(name)).toBe(true);
    expect(heard).toEqual([...names]);
    expect(emitter.eventNames()).toEqual(expect.arrayContaining([...names]));
    names.forEach((name, i) => emitter.off(name, listeners[i]!));
    for (const name of names) expect(emitter.emit(name)).toBe(false);
    expect(emitter.eventNames().filter((name) => names.includes(name as never))).toEqual([]);
    // The real events still work after all that.
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    socket.close(4000);
    expect(await closed).toBe(4000);
  });

  // A lone 'message' listener is called without `emit` (no argument array per
  // message): it must behave exactly as `emit` would call it.
  test("a lone 'message' listener gets the socket as this; once-listeners hear one message; more listeners all hear", async () => {
    const started = await startServer();
    const { ws, socket } = await connectPair(started);
    const heard = new Collector<[unknown, string, boolean]>();
    socket.once('message', function (this: unknown, data, isBinary) {
      heard.push([this, String(data), isBinary]);
    });
    ws.send('é1');
    expect((await heard.until(1))[0]).toEqual([socket, 'é1', false]);
    expect(socket.listenerCount('message')).toBe(0);
    const all = new Collector<string>();
    socket.on('message', (data, isBinary) => all.push(`a:${String(data)}:${isBinary}`));
    socket.on('message', (data) => all.push(`b:${String(data)}`));
    ws.send(Buffer.from('2'));
    expect(await all.until(2)).toEqual(['a:2:true', 'b:2']);
    // The once-listener did not hear the second message.
    expect(heard.items).toHaveLength(1);
  });

  test("with EventEmitter.captureRejections, an async 'message' listener's rejection is the socket's 'error'", async () => {
    const { EventEmitter } = await import('node:events');
    EventEmitter.captureRejections = true;
    try {
      const started = await startServer();
      const { ws, socket } = await connectPair(started);
      const errors = new Collector<Error>();
      socket.on('error', (error) => errors.push(error));
      const failure = new Error('listener failed');
      socket.on('message', async () => {
        throw failure;
      });
      ws.send('x');
      expect((await errors.until(1))[0]).toBe(failure);
    } finally {
      EventEmitter.captureRejections = false;
    }
  });
});

describe('graceful close()', () => {
  test('sends 1001 to every client, waits for them, terminates a silent one after the timeout', async () => {
    const { server, url, port } = await startEchoServer();
    const serverCloses = new Collector<CloseArgs>();
    server.on('connection', (socket) => socket.on('close', (...args) => serverCloses.push(args)));
    const a = await connectWs(url);
    const b = await connectWs(url);
    const silent = await RawClient.open(port);
    await echo(a, 'x');
    await echo(b, 'x');
    expect(server.clients.size).toBe(3);
    const aClosed = wsClose(a);
    const bClosed = wsClose(b);
    const serverClose = nextEmit(server, 'close');

    const start = performance.now();
    const closing = server.close({ timeout: 300 });
    expect(server.close()).toBe(closing);
    expect((await aClosed).code).toBe(1001);
    expect((await bClosed).code).toBe(1001);
    expect(await silent.closeFrame()).toEqual({ code: 1001, reason: '' });
    await closing;
    expect(performance.now() - start).toBeGreaterThanOrEqual(250);
    await serverClose;
    await silent.closed;
    expect(server.clients.size).toBe(0);
    const codes = (await serverCloses.until(3)).map(([code, , wasClean]) => [code, wasClean]);
    expect(codes.sort()).toEqual([
      [1001, true],
      [1001, true],
      [1006, false],
    ]);
  });

  test('resolves as soon as every client answered, well before the timeout', async () => {
    const { server, url } = await startEchoServer({ closeTimeout: 10_000 });
    await connectWs(url);
    await connectWs(url);
    const start = performance.now();
    await server.close();
    expect(performance.now() - start).toBeLessThan(5000);
    expect(server.clients.size).toBe(0);
  });

  test('the closeTimeout option is the default wait', async () => {
    const { server, port } = await startServer({ closeTimeout: 200 });
    const silent = await RawClient.open(port);
    const start = performance.now();
    const closing = server.close();
    expect((await silent.closeFrame()).code).toBe(1001);
    await closing;
    await silent.closed;
    expect(performance.now() - start).toBeGreaterThanOrEqual(150);
  });

  test('a custom code and reason', async () => {
    const { server, url } = await startServer();
    const ws = await connectWs(url);
    const closed = wsClose(ws);
    await server.close({ code: 4001, reason: 'maintenance' });
    expect(await closed).toEqual({ code: 4001, reason: 'maintenance' });
  });

  test('a handshake still in authenticate gets 503 and never becomes a connection', async () => {
    let release!: (data: string) => void;
    const calls = new Collector<true>();
    const { server, port } = await startServer<string>({
      authenticate: () => {
        calls.push(true);
        return new Promise<string>((resolve) => (release = resolve));
      },
    });
    const connections = new Collector<ServerWebSocket<string>>();
    server.on('connection', (socket) => connections.push(socket));
    const raw = await sendHandshake(port);
    await calls.until(1);
    const closing = server.close({ timeout: 200 });
    expect((await raw.response()).status).toBe(503);
    await raw.closed;
    release('late');
    await closing;
    expect(connections.items).toEqual([]);
    expect(server.clients.size).toBe(0);
  });
});

describe('listener exceptions', () => {
  test("a throwing 'message' listener closes that connection with 1011; others are unaffected", async () => {
    const { server, url } = await startServer();
    const thrown = new Error('listener bug');
    const errors = new Collector<WebSocketError>();
    const closes = new Collector<CloseArgs>();
    server.on('connection', (socket) => {
      socket.on('error', (error) => errors.push(error));
      socket.on('close', (...args) => closes.push(args));
      socket.on('message', (data) => {
        if (data === 'throw') throw thrown;
        socket.send(data);
      });
    });
    const healthy = await connectWs(url);
    const victim = await connectWs(url);
    const victimClosed = wsClose(victim);
    victim.send('throw');
    const closed = await victimClosed;
    expect(closed.code).toBe(1011);
    expect(closed.reason).not.toContain('listener bug');

    const [error] = await errors.until(1);
    expect(error!.code).toBe('WS_ERR_INTERNAL');
    expect(error!.closeCode).toBe(1011);
    expect(error!.cause).toBe(thrown);
    // Input after the failure is discarded, ws's answering close frame too.
    expect(await closes.until(1)).toEqual([[1006, '', false, 'user-error']]);
    expect(await echo(healthy, 'fine')).toBe('fine');
    expect(server.clients.size).toBe(1);
  });

  test('without an error listener, a warning is emitted instead and nothing crashes', async () => {
    const { server, url } = await startServer();
    server.on('connection', (socket) => {
      socket.on('message', () => {
        throw new Error('unobserved');
      });
    });
    const warnings = new Collector<Error>();
    const onWarning = (warning: Error): void => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const ws = await connectWs(url);
      const closed = wsClose(ws);
      ws.send('x');
      expect((await closed).code).toBe(1011);
      const [warning] = await warnings.until(1);
      expect(warning!.message).toMatch(/1011/);
      expect(warning!.message).toContain('unobserved');
    } finally {
      process.off('warning', onWarning);
    }
  });

  test("a throwing 'connection' listener fails that connection with 1011, not an HTTP answer", async () => {
    const { server, url } = await startEchoServer();
    const thrown = new Error('connection bug');
    const errors = serverErrors(server);
    let first = true;
    server.on('connection', () => {
      if (first) {
        first = false;
        throw thrown;
      }
    });
    const victim = await connectWs(url);
    expect((await wsClose(victim)).code).toBe(1011);
    expect(await errors.until(1)).toEqual([thrown]);
    expect(await echo(await connectWs(url), 'next')).toBe('next');
  });
});
