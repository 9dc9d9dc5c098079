/**
 * The test server: where it listens, handing out connections, the page it
 * serves, stopping, starting, restarting and resetting, and the words of
 * its failures. Clients are @proj/client's WebSocket over real sockets.
 */
import { describe, expect, test } from 'vitest';
import { ServerClosedError, WaitTimeoutError, servePages, startTestServer } from '../src/index.js';
import { connect, rejection, server, withoutPort } from './helpers.js';

describe('listening', () => {
  test('on 127.0.0.1 and a free port, with ws: and http: URLs', async () => {
    const wss = await server();
    expect(wss.port).toBeGreaterThan(0);
    expect(wss.url).toBe(`ws://127.0.0.1:${wss.port}/`);
    expect(wss.httpUrl).toBe(`http://127.0.0.1:${wss.port}/`);
    expect(wss.isRunning).toBe(true);
    expect(wss.webSocketServer.clients.size).toBe(0);
  });

  test("@proj/server's options reach it; unknown ones are refused by name", async () => {
    const wss = await server({ protocols: ['chat.v2'] });
    const client = connect(wss.url, { protocols: ['chat.v1', 'chat.v2'] });
    const peer = await wss.waitForConnection();
    await client.opened;
    expect(peer.socket.protocol).toBe('chat.v2');
    expect(client.ws.protocol).toBe('chat.v2');
    const error = await rejection(startTestServer({ maxPayLoad: 1 } as never));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(
      /^Unknown WebSocketServer option "maxPayLoad" \(did you mean "maxPayload"\?\)/,
    );
  });

  test("the kit's own options are checked", async () => {
    await expect(startTestServer({ port: -1 })).rejects.toThrow(
      new RangeError('The "port" option must be an integer from 0 to 65535, got -1'),
    );
    await expect(startTestServer({ timeout: 0 })).rejects.toThrow(RangeError);
    await expect(startTestServer({ parse: 'xml' as never })).rejects.toThrow(
      new TypeError(
        'The "parse" option must be "json", "text", "raw", a Standard Schema or a function, got "xml"',
      ),
    );
    await expect(startTestServer({ http: 'page' as never })).rejects.toThrow(TypeError);
  });
});

describe('waitForConnection', () => {
  test('hands out each connection once, in the order they opened, numbered from 1', async () => {
    const wss = await server();
    const first = connect(wss.url, { path: '/a?x=1' });
    await first.opened;
    const second = connect(wss.url, { path: '/b' });
    await second.opened;
    const a = await wss.waitForConnection();
    const b = await wss.waitForConnection();
    expect([a.id, a.request.url, b.id, b.request.url]).toEqual([1, '/a?x=1', 2, '/b']);
    expect(wss.connectionCount).toBe(2);
    const third = wss.waitForConnection();
    connect(wss.url, { path: '/c' });
    expect((await third).id).toBe(3);
  });

  test('times out saying nothing came', async () => {
    const wss = await server();
    const error = await rejection(wss.waitForConnection({ timeout: 20 }));
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(error).toMatchObject({
      code: 'WS_ERR_TESTING_TIMEOUT',
      expected: `a connection to ${wss.url}`,
      timeout: 20,
    });
    expect(withoutPort(error.message, wss.port)).toBe(
      [
        'Timed out after 20 ms waiting for a connection to ws://127.0.0.1:PORT/.',
        'No connection arrived.',
      ].join('\n'),
    );
  });

  test('times out listing the connections taken and the handshakes refused', async () => {
    const wss = await server({ allowedOrigins: ['http://good.example'] });
    const good = connect(wss.url, { path: '/chat', origin: 'http://good.example' });
    await good.opened;
    await wss.waitForConnection();
    const evil = connect(wss.url, { path: '/chat', origin: 'http://evil.example' });
    await evil.closed;
    good.ws.close(1000);
    await good.closed;

    const error = await rejection(wss.waitForConnection({ timeout: 20 }));
    expect(withoutPort(error.message, wss.port)).toBe(
      [
        'Timed out after 20 ms waiting for a connection to ws://127.0.0.1:PORT/.',
        '1 connection arrived, each taken by an earlier waitForConnection():',
        '  connection #1 (GET /chat), closed 1000 (peer-close)',
        '1 handshake refused:',
        '  403 Origin not allowed (GET /chat, Origin http://evil.example)',
      ].join('\n'),
    );
    expect(wss.refused).toEqual([
      { status: 403, reason: 'Origin not allowed', url: '/chat', origin: 'http://evil.example' },
    ]);
  });

  test('a peer can parse with its own parser', async () => {
    const wss = await server({ parse: 'text' });
    const client = connect(wss.url);
    const texts = await wss.waitForConnection();
    await client.opened;
    client.ws.send('{"n":1}');
    expect(await texts.nextMessage()).toBe('{"n":1}');
    const other = connect(wss.url);
    const json = await wss.waitForConnection({ parse: 'json' });
    await other.opened;
    other.ws.send('{"n":1}');
    expect(await json.nextMessage()).toEqual({ n: 1 });
  });

  test('a pending wait fails when the server is closed, and so does a later one', async () => {
    const wss = await startTestServer();
    const waiting = rejection(wss.waitForConnection());
    await wss.close();
    const error = await waiting;
    expect(error).toBeInstanceOf(ServerClosedError);
    expect(error).toMatchObject({ code: 'WS_ERR_TESTING_SERVER_CLOSED' });
    expect(withoutPort(error.message, wss.port)).toBe(
      'The test server at ws://127.0.0.1:PORT/ was closed while waiting for a connection to ws://127.0.0.1:PORT/.',
    );
    await expect(wss.waitForConnection()).rejects.toThrow(ServerClosedError);
    await expect(wss.start()).rejects.toThrow(ServerClosedError);
  });
});

describe('the page it serves', () => {
  test('plain HTTP requests go to the http option, on the same port', async () => {
    const wss = await server({ http: servePages({ '/': '<h1>chat</h1>' }) });
    const response = await fetch(wss.httpUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await response.text()).toBe('<h1>chat</h1>');
  });

  test('without one, every request is a 404', async () => {
    const wss = await server();
    const response = await fetch(wss.httpUrl);
    expect(response.status).toBe(404);
    expect(await response.text()).toBe(
      'Not found (give the test server an "http" option to serve pages)',
    );
  });
});

describe('stop, start, restart, reset', () => {
  test('restart(): clients get 1012, and reconnect to the same port', async () => {
    const wss = await server();
    const port = wss.port;
    const client = connect(wss.url);
    const before = wss.webSocketServer;
    await wss.waitForConnection();
    await client.opened;

    await wss.restart();
    expect(await client.closed).toEqual({ code: 1012, reason: '', wasClean: true });
    expect(wss.port).toBe(port);
    expect(wss.webSocketServer).not.toBe(before);
    const again = connect(wss.url);
    const peer = await wss.waitForConnection();
    await again.opened;
    expect(peer.id).toBe(2);
  });

  test('stop({ abrupt }): clients see 1006; while stopped nothing connects and waits say so', async () => {
    const wss = await server();
    const client = connect(wss.url);
    await wss.waitForConnection();
    await client.opened;

    await wss.stop({ abrupt: true });
    expect(await client.closed).toMatchObject({ code: 1006, wasClean: false });
    expect(wss.isRunning).toBe(false);
    expect(() => wss.webSocketServer).toThrow(
      /^The test server at ws:\S+ is stopped: start\(\) it first$/,
    );
    const refused = connect(wss.url);
    expect(await refused.closed).toMatchObject({ code: 1006 });
    const error = await rejection(wss.waitForConnection({ timeout: 20 }));
    expect(error.message.split('\n').at(-1)).toBe(
      'The server is stopped: start() or restart() it.',
    );

    await wss.start();
    const back = connect(wss.url);
    await back.opened;
    expect((await wss.waitForConnection()).id).toBe(2);
  });

  test('stop() with a code and reason; a stalled connection still closes cleanly', async () => {
    const wss = await server();
    const client = connect(wss.url);
    const peer = await wss.waitForConnection();
    await client.opened;
    void peer.stall();
    await wss.stop({ code: 4002, reason: 'maintenance' });
    expect(await client.closed).toEqual({ code: 4002, reason: 'maintenance', wasClean: true });
    expect(peer.isStalled).toBe(false);
  });

  test('reset(): drops every connection and forgets them; numbering starts again', async () => {
    const wss = await server({ allowedOrigins: ['http://good.example'] });
    const client = connect(wss.url);
    await client.opened;
    const refused = connect(wss.url, { origin: 'http://evil.example' });
    await refused.closed;
    await wss.stop();

    await wss.reset();
    expect(await client.closed).toMatchObject({ code: 1001 });
    expect(wss.isRunning).toBe(true);
    expect(wss.connectionCount).toBe(0);
    expect(wss.refused).toEqual([]);
    const next = connect(wss.url);
    await next.opened;
    const peer = await wss.waitForConnection();
    expect(peer.id).toBe(1);
    await wss.reset();
    expect(await next.closed).toMatchObject({ code: 1006 });
  });
});

describe('transcript', () => {
  test('every connection, what it received and how it closed, and the refusals', async () => {
    const wss = await server({ allowedOrigins: ['http://good.example'] });
    const client = connect(wss.url, { path: '/chat' });
    const peer = await wss.waitForConnection();
    await client.opened;
    client.ws.send('{"type":"hello"}');
    client.ws.send(new Uint8Array([1, 2]));
    await peer.nextMessage();
    await peer.close(1000);
    const second = connect(wss.url);
    await second.opened;
    await (await wss.waitForConnection()).drop();
    await connect(wss.url, { origin: 'http://evil.example' }).closed;

    expect(withoutPort(wss.transcript(), wss.port)).toBe(
      [
        'Test server ws://127.0.0.1:PORT/ (running): 2 connections',
        'connection #1 (GET /chat), closed 1000 (local-close), received 2 messages',
        '  #1 "{\\"type\\":\\"hello\\"}"',
        '  #2 <binary, 2 bytes: 01 02>',
        'connection #2 (GET /), closed 1006 (terminated, not clean), received 0 messages',
        'refused: 403 Origin not allowed (GET /, Origin http://evil.example)',
      ].join('\n'),
    );
  });
});
