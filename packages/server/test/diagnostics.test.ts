/**
 * What an operator sees: errors in the application's code never vanish,
 * every close says why (one taxonomy), and the server reports through
 * diagnostics channels, `NODE_DEBUG=proj-websocket` and `stats()`.
 */
import { execFile } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import type WebSocket from 'ws';
import {
  type BacklogExceededMessage,
  CHANNELS,
  CLOSE_CAUSES,
  type CloseCause,
  type CloseMessage,
  type HandshakeRejectedMessage,
  type OpenMessage,
  type ServerWebSocket,
  type UserErrorMessage,
  reject,
} from '@proj/server';
import { RawClient, onCleanup, useCleanup } from '@proj/test-utils';
import { Collector } from './collector.js';
import {
  connectWs,
  echo,
  handshakeResponse,
  serverErrors,
  startEchoServer,
  startServer,
  warningsWithCode,
  wsClient,
  wsClose,
} from './helpers.js';

useCleanup();

/** Messages published on one channel, until the test ends. */
function channelMessages<T>(name: string): Collector<T> {
  const messages = new Collector<T>();
  const listener = (message: unknown): void => messages.push(message as T);
  subscribe(name, listener);
  onCleanup(() => void unsubscribe(name, listener));
  return messages;
}

/** The close causes of every connection of `server`. */
function closeCauses(server: {
  on(event: 'connection', listener: (socket: ServerWebSocket) => void): unknown;
}): Collector<[number, CloseCause]> {
  const causes = new Collector<[number, CloseCause]>();
  server.on('connection', (socket) =>
    socket.on('close', (code, _reason, _clean, cause) => causes.push([code, cause])),
  );
  return causes;
}

describe('errors thrown by application code are reported, never lost', () => {
  test("a throwing 'connection' listener: 1011, and a warning with its stack when nobody listens", async () => {
    const warnings = warningsWithCode('WS_USER_CODE_ERROR');
    const { server, url } = await startServer();
    server.on('connection', function failingConnectionListener() {
      throw new Error('connection bug');
    });
    const victim = await connectWs(url);
    expect((await wsClose(victim)).code).toBe(1011);
    const [warning] = await warnings.until(1);
    expect(warning!.message).toContain("'connection' listener threw Error: connection bug");
    expect(warning!.detail).toContain('failingConnectionListener');
  });

  test('a throwing authenticate: 500, and a warning with its stack when nobody listens', async () => {
    const warnings = warningsWithCode('WS_USER_CODE_ERROR');
    const { port } = await startServer({
      authenticate: function failingAuthenticate() {
        throw new Error('auth bug');
      },
    });
    expect((await handshakeResponse(port)).status).toBe(500);
    const [warning] = await warnings.until(1);
    expect(warning!.message).toContain('"authenticate" hook threw Error: auth bug');
    expect(warning!.message).toContain('answered 500');
    expect(warning!.detail).toContain('failingAuthenticate');
  });

  test('an authenticate promise that rejects is reported the same way', async () => {
    const { server, port } = await startServer({
      authenticate: async () => {
        throw new Error('async auth bug');
      },
    });
    const errors = serverErrors(server);
    expect((await handshakeResponse(port)).status).toBe(500);
    expect((await errors.until(1))[0]!.message).toBe('async auth bug');
  });

  test("a throwing 'message' listener: the warning carries the stack", async () => {
    const warnings = warningsWithCode('WS_USER_CODE_ERROR');
    const { server, url } = await startServer();
    server.on('connection', (socket) =>
      socket.on('message', function failingMessageListener() {
        throw new Error('message bug');
      }),
    );
    const ws = await connectWs(url);
    const closed = wsClose(ws);
    ws.send('x');
    expect((await closed).code).toBe(1011);
    const [warning] = await warnings.until(1);
    expect(warning!.message).toContain('message bug');
    expect(warning!.detail).toContain('failingMessageListener');
  });

  test.each([
    [
      "a connection listener's error goes to the server's 'error' when the socket has none",
      'message',
      (ws: WebSocket) => ws.send('x'),
    ],
    [
      "a throwing 'close' listener, which can no longer fail the connection, is reported",
      'close',
      (ws: WebSocket) => ws.close(),
    ],
  ] as const)('%s', async (_, event, provoke) => {
    const { server, url } = await startServer();
    const thrown = new Error(`${event} listener bug`);
    const errors = serverErrors(server);
    server.on('connection', (socket) =>
      socket.on(event, () => {
        throw thrown;
      }),
    );
    provoke(await connectWs(url));
    expect(await errors.until(1)).toEqual([thrown]);
    expect(server.stats().userErrors).toBe(1);
  });

  test('every error in user code is published on the user-error channel with where it was thrown', async () => {
    const published = channelMessages<UserErrorMessage>(CHANNELS.userError);
    const { server, url } = await startServer({
      handleProtocols: () => {
        throw new Error('protocol hook bug');
      },
    });
    server.on('error', () => {});
    const ws = wsClient(url, ['x']);
    await new Promise((resolve) => ws.once('unexpected-response', resolve));
    const [message] = await published.until(1);
    expect(message!.site).toBe('handleProtocols');
    expect((message!.error as Error).message).toBe('protocol hook bug');
  });
});

describe('close causes', () => {
  test('a client killed by the heartbeat reads heartbeat-timeout, one that drops connection-lost', async () => {
    const { server, url } = await startServer({ heartbeatInterval: 50 });
    const causes = closeCauses(server);
    // ws answers pings automatically; autoPong: false makes it a silent peer.
    const silent = wsClient(url, undefined, { autoPong: false });
    await new Promise((resolve) => silent.once('open', resolve));
    const [[code, cause]] = (await causes.until(1)) as [[number, CloseCause]];
    expect(code).toBe(1006);
    expect(cause).toBe('heartbeat-timeout');

    const dropped = await connectWs(url);
    dropped.terminate();
    expect((await causes.until(2))[1]).toEqual([1006, 'connection-lost']);
  });

  test('peer close, local close, terminate, idle timeout, protocol error and shutdown each say so', async () => {
    const { server, url } = await startEchoServer({ idleTimeout: 100 });
    const causes = closeCauses(server);
    const sockets = new Collector<ServerWebSocket>();
    server.on('connection', (socket) => sockets.push(socket));

    (await connectWs(url)).close(1000);
    expect((await causes.until(1))[0]).toEqual([1000, 'peer-close']);

    await connectWs(url);
    (await sockets.until(2))[1]!.close(4000);
    expect((await causes.until(2))[1]![1]).toBe('local-close');

    await connectWs(url);
    (await sockets.until(3))[2]!.terminate();
    expect((await causes.until(3))[2]![1]).toBe('terminated');

    await connectWs(url); // and say nothing
    expect((await causes.until(4))[3]![1]).toBe('idle-timeout');

    const bad = await connectWs(url);
    // A reserved opcode: 1002 from the protocol.
    (bad as unknown as { _socket: { write(b: Buffer): void } })._socket.write(
      Buffer.from([0x83, 0x80, 0, 0, 0, 0]),
    );
    expect((await causes.until(5))[4]![1]).toBe('protocol-error');

    const last = await connectWs(url);
    await echo(last, 'x');
    await server.close({ timeout: 100 });
    expect((await causes.until(6))[5]![1]).toBe('server-shutdown');
  });
});

describe('diagnostics channels', () => {
  test('open, close (with cause) and handshake-rejected are published', async () => {
    const opens = channelMessages<OpenMessage>(CHANNELS.open);
    const closes = channelMessages<CloseMessage>(CHANNELS.close);
    const rejections = channelMessages<HandshakeRejectedMessage>(CHANNELS.handshakeRejected);
    const { server, url } = await startServer({
      authenticate: (request) =>
        request.url === '/denied' ? reject(401, { body: 'Who are you?' }) : undefined,
    });
    const sockets = new Collector<ServerWebSocket>();
    server.on('connection', (socket) => sockets.push(socket));
    const ws = await connectWs(url);
    const [socket] = await sockets.until(1);
    const [open] = await opens.until(1);
    expect(open!.socket).toBe(socket);
    expect(open!.server).toBe(server);
    expect(open!.request.url).toBe('/');
    ws.close(1000, 'bye');
    const [close] = await closes.until(1);
    expect(close).toMatchObject({ server, socket, code: 1000, reason: 'bye', cause: 'peer-close' });

    const denied = wsClient(`${url}/denied`);
    await new Promise((resolve) => denied.once('unexpected-response', resolve));
    const [rejection] = await rejections.until(1);
    expect(rejection).toMatchObject({ status: 401, reason: 'Who are you?' });
    expect(rejection!.request!.url).toBe('/denied');
  });

  test('refusals node:http makes itself (431, 400) are counted and published, with no request', async () => {
    const rejections = channelMessages<HandshakeRejectedMessage>(CHANNELS.handshakeRejected);
    const { server, port } = await startServer({ maxHeadSize: 1024 });
    const big = await handshakeResponse(port, { headers: { 'X-Pad': 'a'.repeat(2048) } });
    expect(big.status).toBe(431);
    const malformed = await RawClient.request(port, 'GET / HTTP/1.1\r\nHost x\r\n\r\n');
    expect(malformed.status).toBe(400);
    const messages = await rejections.until(2);
    expect(messages.map(({ status, request }) => [status, request])).toEqual([
      [431, undefined],
      [400, undefined],
    ]);
    expect(server.stats().handshakes.rejected).toBe(2);
  });

  test('backlog-exceeded is published with the backlog and the policy', async () => {
    const published = channelMessages<BacklogExceededMessage>(CHANNELS.backlogExceeded);
    const { server, url } = await startServer({ maxBacklog: 1024, backlogPolicy: 'reject' });
    const sockets = new Collector<ServerWebSocket>();
    server.on('connection', (socket) => sockets.push(socket));
    const ws = await connectWs(url);
    // Stop reading so that the server's writes queue up.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const [socket] = await sockets.until(1);
    const chunk = Buffer.alloc(64 * 1024);
    // The kernel takes writes until its buffers fill; then they queue here.
    while (socket!.bufferedAmount === 0) socket!.send(chunk);
    expect(socket!.send(chunk)).toBe(false);
    const [message] = await published.until(1);
    expect(message).toMatchObject({ server, socket, limit: 1024, policy: 'reject' });
    expect(message!.backlog).toBeGreaterThan(1024);
  });
});

describe('stats()', () => {
  test('counts connections, handshakes, messages, wire bytes and closes by cause', async () => {
    const { server, url, port } = await startEchoServer({ protocols: ['a'] });
    const empty = server.stats();
    expect(empty).toMatchObject({
      connections: 0,
      handshakes: { accepted: 0, rejected: 0 },
      messages: { received: 0, sent: 0 },
      bytes: { received: 0, sent: 0 },
      userErrors: 0,
    });
    expect(Object.keys(empty.closes)).toEqual(CLOSE_CAUSES);

    const ws = await connectWs(url);
    await echo(ws, 'hello');
    const afterFirst = server.stats().bytes;
    await echo(ws, 'again');
    let stats = server.stats();
    // Exactly the second frame each way: 2 + 4 (mask) + 5 in, 2 + 5 out.
    // (Reads into the shared buffer are counted as Node's own reads are.)
    expect(stats.bytes.received - afterFirst.received).toBe(11);
    expect(stats.bytes.sent - afterFirst.sent).toBe(7);
    expect(stats.connections).toBe(1);
    expect(stats.handshakes.accepted).toBe(1);
    expect(stats.messages).toEqual({ received: 2, sent: 2 });
    // Each way: the handshake plus two frames of 5 bytes (client frames are masked).
    expect(stats.bytes.received).toBeGreaterThan(2 * (6 + 5));
    expect(stats.bytes.sent).toBeGreaterThan(2 * (2 + 5));

    server.broadcast('to all');
    const refused = await handshakeResponse(port, { headers: { 'Sec-WebSocket-Key': undefined } });
    expect(refused.status).toBe(400);
    const closed = wsClose(ws);
    ws.close();
    await closed;
    await new Promise((resolve) => setTimeout(resolve, 20));
    stats = server.stats();
    expect(stats.connections).toBe(0);
    expect(stats.handshakes.rejected).toBe(1);
    expect(stats.messages.sent).toBe(3);
    expect(stats.closes['peer-close']).toBe(1);
    // Bytes of closed connections are kept.
    expect(stats.bytes.received).toBeGreaterThan(2 * (6 + 5));
  });
});

describe('NODE_DEBUG=proj-websocket', () => {
  test('logs opens, closes with their cause, and refused handshakes', async () => {
    const script = fileURLToPath(new URL('./fixtures/debug-log.mjs', import.meta.url));
    const { stderr } = await new Promise<{ stderr: string }>((resolve, reject) => {
      execFile(
        process.execPath,
        [script],
        { env: { ...process.env, NODE_DEBUG: 'proj-websocket' }, timeout: 20_000 },
        (error, _stdout, stderr) => (error ? reject(error) : resolve({ stderr })),
      );
    });
    expect(stderr).toMatch(/PROJ-WEBSOCKET \d+: open 127\.0\.0\.1 \//);
    expect(stderr).toMatch(/PROJ-WEBSOCKET \d+: close 1000 "bye" \(peer-close\)/);
    expect(stderr).toMatch(/PROJ-WEBSOCKET \d+: handshake rejected 400/);
  });

  test('is silent without NODE_DEBUG', async () => {
    const script = fileURLToPath(new URL('./fixtures/debug-log.mjs', import.meta.url));
    const env = { ...process.env };
    delete env['NODE_DEBUG'];
    const { stderr } = await new Promise<{ stderr: string }>((resolve, reject) => {
      execFile(process.execPath, [script], { env, timeout: 20_000 }, (error, _o, stderr) =>
        error ? reject(error) : resolve({ stderr }),
      );
    });
    expect(stderr).not.toContain('PROJ-WEBSOCKET');
  });
});
