/**
 * Establishing the connection, and every way it can fail: each failure looks
 * the same to the page (error, then close 1006, readyState CLOSED), with the
 * cause on the error event for debugging.
 * @see https://websockets.spec.whatwg.org/#concept-websocket-establish
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import { describe, expect, test, vi } from 'vitest';
import { type ErrorEvent, HandshakeError, HandshakeRejectedError, WebSocket } from '@proj/client';
import { AbnormalClosureError } from '@proj/protocol';
import {
  type RawServer,
  acceptFor,
  keyOf,
  onCleanup,
  readHead,
  response101,
  startRawServer,
} from '@proj/test-utils';
import {
  TLS_CERT,
  closedPort,
  connect,
  nextEvent,
  record,
  startAccepting,
  startPeer,
  startTlsPeer,
} from './helpers.js';

/** Connects and waits for the end; checks it looks like every other failure. */
async function expectFailure(
  ...args: Parameters<typeof connect>
): Promise<{ error: unknown; event: ErrorEvent; ws: WebSocket }> {
  const ws = connect(...args);
  const { events, closed } = record(ws);
  const close = await closed;
  expect(events.map((e) => [e.type, e.readyState])).toEqual([
    ['error', WebSocket.CLOSED],
    ['close', WebSocket.CLOSED],
  ]);
  expect([close.code, close.reason, close.wasClean]).toEqual([1006, '', false]);
  const event = events[0]!.event as ErrorEvent;
  expect(event.message).toBe((event.error as Error).message);
  return { error: event.error, event, ws };
}

/** A raw server that reads each request head, then answers it with `answer`. */
function answering(answer: (socket: Socket, head: string) => void): Promise<RawServer> {
  return startRawServer((socket) => {
    void readHead(socket).then(({ head }) => answer(socket, head));
  });
}

/** An HTTP server whose `upgrade` handler answers with `response`. */
async function answerUpgrade(response: string): Promise<string> {
  const server = http.createServer();
  server.on('upgrade', (_request, socket) => {
    socket.end(response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onCleanup(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('subprotocols', () => {
  test('the server chooses one of those offered', async () => {
    const server = await startPeer({ handleProtocols: () => 'b' });
    const ws = connect(server.url, ['a', 'b', 'c']);
    expect(ws.protocol).toBe('');
    await nextEvent(ws, 'open');
    expect(ws.protocol).toBe('b');
    expect(server.lastRequest()!.headers['sec-websocket-protocol']).toBe('a, b, c');
  });

  // WHATWG "establish a WebSocket connection": an offer the server leaves
  // unanswered fails the connection, in browsers and in ws alike (RFC 6455
  // alone would let it open).
  test('the server chooses none of those offered: the connection fails', async () => {
    const server = await startPeer({ handleProtocols: () => false });
    const { error } = await expectFailure(server.url, ['a', 'b']);
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error).toMatchObject({
      code: 'WS_ERR_HANDSHAKE_PROTOCOL',
      status: 101,
      message: 'Server chose no subprotocol; offered: a, b',
    });
  });

  test('none offered, none chosen: protocol stays ""', async () => {
    const server = await startPeer();
    const ws = connect(server.url);
    await nextEvent(ws, 'open');
    expect(ws.protocol).toBe('');
    expect(server.lastRequest()!.headers['sec-websocket-protocol']).toBeUndefined();
  });

  test('the server chooses one never offered: the connection fails', async () => {
    const server = await startPeer({ handleProtocols: () => 'other' });
    const { error } = await expectFailure(server.url, ['a']);
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error).toMatchObject({ code: 'WS_ERR_HANDSHAKE_PROTOCOL', status: 101 });
  });

  test('the server chooses one though none was offered: the connection fails', async () => {
    const raw = await startAccepting(undefined, ['Sec-WebSocket-Protocol: chat']);
    const { error } = await expectFailure(raw.url);
    expect(error).toMatchObject({ code: 'WS_ERR_HANDSHAKE_PROTOCOL' });
  });

  test('extensions stays "" without any negotiated', async () => {
    const server = await startPeer();
    const ws = connect(server.url);
    await nextEvent(ws, 'open');
    expect(ws.extensions).toBe('');
    expect(server.lastRequest()!.headers['sec-websocket-extensions']).toBeUndefined();
  });
});

describe('a refused handshake', () => {
  test('401 with a body: error (status and headers readable), then close 1006', async () => {
    const url = await answerUpgrade(
      'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="chat"\r\n' +
        'Content-Type: text/plain\r\nContent-Length: 12\r\n\r\nnot for you\n',
    );
    const { error, event } = await expectFailure(url);
    expect(error).toBeInstanceOf(HandshakeError);
    // A client's failure, with what was received: not a server's refusal to send.
    expect(error).toBeInstanceOf(HandshakeRejectedError);
    const refused = error as HandshakeError;
    expect(refused.code).toBe('WS_ERR_HANDSHAKE_STATUS');
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="chat"');
    expect(event.message).toContain('401');
  });

  test('a redirect is not followed', async () => {
    const url = await answerUpgrade(
      'HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n',
    );
    const { error } = await expectFailure(url);
    expect(error).toMatchObject({ status: 302 });
  });

  // A 101 that breaks one rule, made from the request head: its error code.
  test.each<[string, (head: string) => string, string]>([
    [
      'a 101 with the wrong Sec-WebSocket-Accept',
      () =>
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      'WS_ERR_HANDSHAKE_ACCEPT',
    ],
    [
      'a 101 without Upgrade: websocket',
      (head) =>
        'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptFor(head)}\r\n\r\n`,
      'WS_ERR_HANDSHAKE_UPGRADE',
    ],
    [
      'an extension that was never offered',
      (head) => response101(keyOf(head), ['Sec-WebSocket-Extensions: permessage-deflate']),
      'WS_ERR_HANDSHAKE_EXTENSIONS',
    ],
  ])('%s', async (_, answer, code) => {
    const raw = await answering((socket, head) => socket.write(answer(head)));
    const { error } = await expectFailure(raw.url);
    expect(error).toMatchObject({ code });
  });

  test('a 101 whose lines end in a bare LF fails at once, naming it (no wait for the timeout)', async () => {
    // The connection stays open: only the malformed head can end the wait.
    const raw = await answering((socket, head) =>
      socket.write(
        'HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\n' +
          `Sec-WebSocket-Accept: ${acceptFor(head)}\n\n`,
      ),
    );
    const { error, event } = await expectFailure(raw.url, [], { handshakeTimeout: 120_000 });
    expect(error).toBeInstanceOf(HandshakeRejectedError);
    // Nothing readable arrived: status 0, never the 400 a server would answer.
    expect(error).toMatchObject({ code: 'WS_ERR_HANDSHAKE_MALFORMED', status: 0 });
    expect((error as Error).message).toMatch(/bare LF at byte 32/);
    expect(event.message).toMatch(/bare LF/);
  });

  test('garbage instead of HTTP', async () => {
    const raw = await answering((socket) => socket.write('SSH-2.0-OpenSSH_9.6\r\n\r\n'));
    const { error } = await expectFailure(raw.url);
    expect(error).toBeInstanceOf(HandshakeError);
  });

  test('the server closes before answering', async () => {
    const raw = await answering((socket) => socket.end());
    const { error } = await expectFailure(raw.url);
    expect(error).toBeInstanceOf(AbnormalClosureError);
    expect(error).toMatchObject({ code: 'WS_ERR_HANDSHAKE_EOF', status: 0 });
  });
});

describe('network failures', () => {
  test('TCP connection refused', async () => {
    const port = await closedPort();
    const { error } = await expectFailure(`ws://127.0.0.1:${port}/`);
    expect(error).toMatchObject({ code: 'ECONNREFUSED' });
  });

  test('a host name that does not resolve', async () => {
    // `.invalid` never resolves (RFC 2606); offline, the lookup fails or times out.
    const { error } = await expectFailure('ws://does-not-exist.invalid/', [], {
      handshakeTimeout: 5000,
    });
    expect(error).toBeInstanceOf(Error);
  });

  test('handshake timeout: a server that never answers', async () => {
    let serverSawClose = false;
    const raw = await startRawServer((socket) => {
      socket.resume(); // read (and drop) the request, to notice the close
      socket.on('close', () => (serverSawClose = true));
    });
    const started = Date.now();
    const { error } = await expectFailure(raw.url, [], { handshakeTimeout: 200 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect((error as Error).message).toMatch(/timed out/);
    await vi.waitFor(() => expect(serverSawClose).toBe(true));
  });

  test('handshake timeout: a server that trickles its answer', async () => {
    const raw = await answering((socket) => socket.write('HTTP/1.1 101 Switching'));
    const { error } = await expectFailure(raw.url, [], { handshakeTimeout: 200 });
    expect((error as Error).message).toMatch(/timed out/);
  });
});

describe('wss: through node:tls', () => {
  test('connects to a server whose certificate the `ca` option trusts', async () => {
    const server = await startTlsPeer();
    server.wss.on('connection', (peer) => peer.on('message', (data) => peer.send(data.toString())));
    const ws = connect(server.url, [], { ca: TLS_CERT });
    await nextEvent(ws, 'open');
    const echoed = nextEvent(ws, 'message');
    ws.send('over tls');
    expect((await echoed).data).toBe('over tls');
    const closed = nextEvent(ws, 'close');
    ws.close(1000);
    expect((await closed).wasClean).toBe(true);
  });

  test('https: URLs become wss:', async () => {
    const server = await startTlsPeer();
    const ws = connect(server.url.replace('wss:', 'https:'), [], { ca: new Uint8Array(TLS_CERT) });
    expect(ws.url.startsWith('wss:')).toBe(true);
    await nextEvent(ws, 'open');
  });

  test('localhost is checked against the certificate by name (SNI)', async () => {
    const server = await startTlsPeer();
    const ws = connect(`wss://localhost:${server.port}/`, [], { ca: TLS_CERT });
    await nextEvent(ws, 'open');
  });

  test('an untrusted certificate fails like any other failure', async () => {
    const server = await startTlsPeer();
    const { error } = await expectFailure(server.url);
    expect(error).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  test('rejectUnauthorized: false accepts it', async () => {
    const server = await startTlsPeer();
    const ws = connect(server.url, [], { rejectUnauthorized: false });
    await nextEvent(ws, 'open');
  });

  test('a plain TCP server behind wss: fails', async () => {
    const raw = await startRawServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await expectFailure(raw.url.replace('ws:', 'wss:'), [], { ca: TLS_CERT });
  });
});

describe('Node-only request options', () => {
  test('headers and origin are sent with the opening handshake', async () => {
    const server = await startPeer();
    const ws = connect(server.url, [], {
      headers: { Authorization: 'Bearer t0k3n', 'X-Multi': ['a', 'b'] },
      origin: 'https://app.example',
    });
    await nextEvent(ws, 'open');
    const headers = server.lastRequest()!.headers;
    expect(headers.authorization).toBe('Bearer t0k3n');
    expect(headers['x-multi']).toBe('a, b');
    expect(headers.origin).toBe('https://app.example');
  });

  test('a server that checks the origin can refuse it (403)', async () => {
    const server = await startPeer({
      verifyClient: ({ origin }: { origin: string }) => origin === 'https://good.example',
    });
    const { error } = await expectFailure(server.url, [], { origin: 'https://evil.example' });
    expect(error).toMatchObject({ status: 401 });
    const ws = connect(server.url, [], { origin: 'https://good.example' });
    await nextEvent(ws, 'open');
  });
});
