/**
 * The CONNECT exchange byte by byte, against raw proxies that play their part
 * by hand: the request the client sends, and every way a proxy's answer can
 * go wrong (a refusal, garbage, an endless head, a close, silence). Each ends
 * as every failure to connect does: `error` with a {@link ProxyError}, then
 * `close` 1006; never a hang.
 */
import * as net from 'node:net';
import type { Socket } from 'node:net';
import { describe, expect, test } from 'vitest';
import { type ErrorEvent, HandshakeRejectedError } from '@proj/client';
import { acceptRaw, readHead, startRawServer, useCleanup } from '@proj/test-utils';
import { ProxyError } from '../src/proxy-error.js';
import {
  TLS_CERT,
  connect,
  connectOpen,
  nextEvent,
  record,
  startPeer,
  startTlsPeer,
} from './helpers.js';

// An error no listener took (a socket the tunnel let go of) fails the test.
useCleanup();

/** A raw proxy: `answer` gets each connection once its CONNECT head has arrived. */
async function startProxy(
  answer: (socket: Socket, head: string, rest: Buffer) => void,
): Promise<{ url: string; port: number; heads: string[] }> {
  const heads: string[] = [];
  const { port } = await startRawServer((socket) => {
    void readHead(socket, { pause: true }).then(
      ({ head, rest }) => {
        heads.push(head);
        answer(socket, head, rest);
      },
      () => {},
    );
  });
  return { url: `http://127.0.0.1:${port}`, port, heads };
}

/**
 * A raw proxy that relays every CONNECT to `port` on 127.0.0.1 after
 * answering 200; `tunnels` are its sockets to the client.
 */
async function startRelay(port: number): Promise<{ url: string; tunnels: Socket[] }> {
  const tunnels: Socket[] = [];
  const proxy = await startProxy((socket, _head, rest) => {
    const upstream = net.connect(port, '127.0.0.1', () => {
      tunnels.push(socket);
      socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (rest.length > 0) upstream.write(rest);
      socket.pipe(upstream).pipe(socket);
      socket.resume();
    });
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
  });
  return { url: proxy.url, tunnels };
}

/** Connects and waits for the end: error, then close 1006; returns the error. */
async function failure(...args: Parameters<typeof connect>): Promise<Error> {
  const ws = connect(...args);
  const { events, closed } = record(ws);
  const close = await closed;
  expect(events.map((e) => e.type)).toEqual(['error', 'close']);
  expect([close.code, close.wasClean]).toEqual([1006, false]);
  const event = events[0]!.event as ErrorEvent;
  expect(event.message).toBe((event.error as Error).message);
  return event.error as Error;
}

/** Resolves when `socket` closes. */
function closedSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

describe('the request (RFC 9110 §9.3.6)', () => {
  test('CONNECT host:port HTTP/1.1, the same in Host; the host name is the proxy’s to resolve', async () => {
    const proxy = await startProxy((socket) =>
      socket.end('HTTP/1.1 503 Service Unavailable\r\n\r\n'),
    );
    await failure('ws://feed.example.invalid:8080/path?q=1', [], { proxy: proxy.url });
    expect(proxy.heads).toEqual([
      'CONNECT feed.example.invalid:8080 HTTP/1.1\r\nHost: feed.example.invalid:8080',
    ]);
  });

  test.each([
    ['ws://feed.example.invalid/', 'feed.example.invalid:80'],
    ['wss://feed.example.invalid/', 'feed.example.invalid:443'],
    ['wss://feed.example.invalid:8443/', 'feed.example.invalid:8443'],
    ['ws://[::1]:9/', '[::1]:9'],
    ['wss://FEED.Example.invalid./', 'feed.example.invalid.:443'],
  ])('%s: CONNECT %s', async (url, authority) => {
    const proxy = await startProxy((socket) => socket.end('HTTP/1.1 403 Forbidden\r\n\r\n'));
    await failure(url, [], { proxy: proxy.url });
    expect(proxy.heads).toEqual([`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}`]);
  });

  test('Proxy-Authorization: Basic, with the URL’s credentials percent-decoded (UTF-8)', async () => {
    const proxy = await startProxy((socket) => socket.end('HTTP/1.1 403 Forbidden\r\n\r\n'));
    const url = `http://us%40er:p%3Ass%20w%C3%A9@127.0.0.1:${proxy.port}`;
    await failure('ws://feed.example.invalid/', [], { proxy: url });
    const expected = Buffer.from('us@er:p:ss wé', 'utf8').toString('base64');
    expect(proxy.heads).toEqual([
      'CONNECT feed.example.invalid:80 HTTP/1.1\r\n' +
        'Host: feed.example.invalid:80\r\n' +
        `Proxy-Authorization: Basic ${expected}`,
    ]);
  });

  test('a password alone is sent too (an empty user name)', async () => {
    const proxy = await startProxy((socket) => socket.end('HTTP/1.1 403 Forbidden\r\n\r\n'));
    await failure('ws://feed.example.invalid/', [], {
      proxy: `http://:token@127.0.0.1:${proxy.port}`,
    });
    expect(proxy.heads[0]).toContain(
      `Proxy-Authorization: Basic ${Buffer.from(':token').toString('base64')}`,
    );
  });
});

describe('the answer', () => {
  test('any 2xx opens the tunnel; the answer may come in pieces', async () => {
    const proxy = await startProxy((socket) => {
      socket.write('HTTP/1.0 200 Conn');
      setImmediate(() => {
        socket.write('ection established\r\nProxy-agent: test\r\n\r');
        setImmediate(() => {
          socket.write('\n');
          // Then this raw proxy plays the server too.
          socket.resume();
          void acceptRaw(socket).then(() => socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69])));
        });
      });
    });
    // A short close timeout: this raw server never answers the close at cleanup.
    const ws = connect('ws://feed.example.invalid/', [], { proxy: proxy.url, closeTimeout: 100 });
    const message = nextEvent(ws, 'message');
    await nextEvent(ws, 'open');
    expect((await message).data).toBe('hi');
  });

  test('ws: bytes after the proxy’s answer, in the same read, are the server’s', async () => {
    const proxy = await startProxy((socket) => {
      // One write: the proxy's 200 and, behind it, the server's first bytes.
      socket.write(
        'HTTP/1.1 200 Connection established\r\n\r\n' +
          'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n',
      );
    });
    const error = await failure('ws://feed.example.invalid/', [], {
      proxy: proxy.url,
      handshakeTimeout: 20_000,
    });
    // The server's answer, read from the tunnel: not lost, and not the proxy's.
    expect(error).toBeInstanceOf(HandshakeRejectedError);
    expect((error as HandshakeRejectedError).status).toBe(400);
  });

  test('wss: bytes after the proxy’s answer go to TLS', async () => {
    const proxy = await startProxy((socket) => {
      socket.write('HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 400 Bad Request\r\n\r\n');
    });
    const error = await failure('wss://feed.example.invalid/', [], {
      proxy: proxy.url,
      handshakeTimeout: 20_000,
    });
    // TLS read them as a (bad) record at once; had they been dropped, the
    // connection would have waited for the handshake timeout.
    expect(error).not.toBeInstanceOf(ProxyError);
    expect((error as NodeJS.ErrnoException).code).toMatch(/^ERR_SSL_/);
  });

  test('a status other than 2xx is named, with the target', async () => {
    const proxy = await startProxy((socket) =>
      socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\n\r\nbad'),
    );
    const error = await failure('wss://feed.example.invalid/', [], { proxy: proxy.url });
    expect(error).toBeInstanceOf(ProxyError);
    expect(error).toMatchObject({ code: 'WS_ERR_PROXY_STATUS', status: 502, proxy: proxy.url });
    expect(error.message).toBe(
      `The proxy ${proxy.url} refused CONNECT feed.example.invalid:443: 502 Bad Gateway`,
    );
  });

  test('a 1xx is not an answer that opens a tunnel either', async () => {
    const proxy = await startProxy((socket) => socket.write('HTTP/1.1 100 Continue\r\n\r\n'));
    const error = await failure('ws://feed.example.invalid/', [], { proxy: proxy.url });
    expect(error).toMatchObject({ code: 'WS_ERR_PROXY_STATUS', status: 100 });
  });

  test('407 with credentials sent: they were refused', async () => {
    const proxy = await startProxy((socket) =>
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n'),
    );
    const error = await failure('ws://feed.example.invalid/', [], {
      proxy: `http://bob:hunter2@127.0.0.1:${proxy.port}`,
    });
    expect(error).toMatchObject({ code: 'WS_ERR_PROXY_STATUS', status: 407 });
    expect(error.message).toBe(
      `The proxy ${proxy.url} refused the credentials sent for user "bob" ` +
        '(407 Proxy Authentication Required)',
    );
  });

  test('control characters of the reason phrase stay out of the message', async () => {
    const proxy = await startProxy((socket) => socket.end('HTTP/1.1 403 No\x1b[2Jpe\r\n\r\n'));
    const error = await failure('ws://feed.example.invalid/', [], { proxy: proxy.url });
    expect(error.message).toMatch(/: 403 No\[2Jpe$/);
  });

  test.each([
    [
      'not HTTP, and no blank line ever: refused by its first bytes',
      'SSH-2.0-OpenSSH_9.6\r\n',
      /its answer is not an HTTP\/1\.1 response \(it does not start with "HTTP\/"\)$/,
    ],
    ['a status line that is not one', 'HTTP/2 200\r\n\r\n', /Malformed status line/],
    ['a bare LF, at once rather than at the timeout', 'HTTP/1.1 200 OK\n\n', /bare LF/],
    ['a malformed header', 'HTTP/1.1 200 OK\r\nno colon\r\n\r\n', /Malformed header field/],
  ])('garbage (%s) is malformed', async (_label, answer, message) => {
    const proxy = await startProxy((socket) => socket.write(answer));
    const error = await failure('ws://feed.example.invalid/', [], {
      proxy: proxy.url,
      handshakeTimeout: 20_000,
    });
    expect(error).toBeInstanceOf(ProxyError);
    expect(error).toMatchObject({ code: 'WS_ERR_PROXY_MALFORMED', status: 0 });
    expect(error.message).toMatch(
      new RegExp(
        `^The proxy http://127\\.0\\.0\\.1:${proxy.port} failed CONNECT feed\\.example\\.invalid:80: `,
      ),
    );
    expect(error.message).toMatch(message);
  });

  test('a head that never ends is cut at 16 KiB', async () => {
    let written = 0;
    const proxy = await startProxy((socket) => {
      socket.write('HTTP/1.1 200 OK\r\n');
      // Header lines for ever (up to 1 MiB), never the blank line.
      const line = `X-Filler: ${'a'.repeat(1000)}\r\n`;
      const more = (): void => {
        while (written < 1024 * 1024 && !socket.destroyed) {
          written += line.length;
          if (!socket.write(line)) {
            socket.once('drain', more);
            return;
          }
        }
      };
      more();
    });
    const error = await failure('ws://feed.example.invalid/', [], {
      proxy: proxy.url,
      handshakeTimeout: 20_000,
    });
    expect(error).toMatchObject({ code: 'WS_ERR_PROXY_MALFORMED' });
    expect(error.message).toMatch(/its answer did not end within 16384 bytes$/);
  });

  test('a proxy that closes before answering', async () => {
    const proxy = await startProxy((socket) => socket.end());
    const error = await failure('ws://feed.example.invalid/', [], { proxy: proxy.url });
    expect(error).toBeInstanceOf(ProxyError);
    expect(error).toMatchObject({ code: 'WS_ERR_PROXY_CLOSED', status: 0 });
    expect(error.message).toBe(
      `The proxy ${proxy.url} closed the connection before answering CONNECT feed.example.invalid:80`,
    );
  });

  test('a proxy that closes halfway through its answer', async () => {
    const proxy = await startProxy((socket) => socket.end('HTTP/1.1 200 Connection est'));
    const error = await failure('ws://feed.example.invalid/', [], { proxy: proxy.url });
    expect(error).toMatchObject({ code: 'WS_ERR_PROXY_CLOSED' });
  });

  test('a proxy that resets the connection', async () => {
    const proxy = await startProxy((socket) => socket.resetAndDestroy());
    const error = await failure('ws://feed.example.invalid/', [], { proxy: proxy.url });
    expect(error).toMatchObject({ code: 'WS_ERR_PROXY_CLOSED' });
    expect(error.message).toMatch(
      /before answering CONNECT feed\.example\.invalid:80: .*ECONNRESET/,
    );
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNRESET');
  });
});

describe('once the tunnel is up', () => {
  test.each(['ws', 'wss'])(
    '%s: the proxy resetting it closes with 1006, and nothing goes uncaught',
    async (scheme) => {
      const peer = scheme === 'ws' ? await startPeer() : await startTlsPeer();
      const relay = await startRelay(peer.port);
      const ws = await connectOpen(peer.url, [], { proxy: relay.url, ca: TLS_CERT });
      const closed = nextEvent(ws, 'close');
      relay.tunnels[0]!.resetAndDestroy();
      const close = await closed;
      expect([close.code, close.wasClean]).toEqual([1006, false]);
    },
  );

  test('wss: TLS options that do not load fail the connection, and let go of the tunnel', async () => {
    let tunnel: Socket | undefined;
    const proxy = await startProxy((socket) => {
      tunnel = socket;
      socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
      socket.resume();
    });
    const error = await failure('wss://feed.example.invalid/', [], {
      proxy: proxy.url,
      cert: TLS_CERT,
      key: 'not a PEM key',
    });
    expect(error).not.toBeInstanceOf(ProxyError);
    expect((error as NodeJS.ErrnoException).code).toMatch(/^ERR_(OSSL|SSL)_/);
    await closedSocket(tunnel!);
  });

  test('wss: a tunnel that goes quiet after 200: the handshake timeout still applies', async () => {
    let tunnel: Socket | undefined;
    const proxy = await startProxy((socket) => {
      tunnel = socket;
      socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
      // Read (and drop) the ClientHello, so that the client's close is seen.
      socket.resume();
    });
    const error = await failure('wss://feed.example.invalid/', [], {
      proxy: proxy.url,
      handshakeTimeout: 300,
    });
    expect(error.message).toBe('Opening handshake timed out after 300 ms');
    // TLS over the tunnel let go of the proxy's socket too.
    await closedSocket(tunnel!);
  });
});

describe('a proxy that never answers', () => {
  test('the handshake timeout covers the CONNECT, and says so', async () => {
    let proxySocket: Socket | undefined;
    const proxy = await startProxy((socket) => {
      proxySocket = socket;
    });
    const error = await failure('ws://feed.example.invalid/', [], {
      proxy: proxy.url,
      handshakeTimeout: 300,
    });
    expect(error.message).toBe(
      `Opening handshake timed out after 300 ms, waiting for the proxy ${proxy.url} (CONNECT)`,
    );
    // The tunnel's socket is gone with it.
    await closedSocket(proxySocket!);
  });

  test('close() while it waits drops the socket to the proxy', async () => {
    let arrived: (socket: Socket) => void;
    const request = new Promise<Socket>((resolve) => (arrived = resolve));
    const proxy = await startProxy((socket) => arrived(socket));
    const ws = connect('ws://feed.example.invalid/', [], { proxy: proxy.url });
    const { events, closed } = record(ws);
    const socket = await request;
    ws.close();
    const close = await closed;
    expect(events.map((e) => e.type)).toEqual(['error', 'close']);
    expect(close.code).toBe(1006);
    await closedSocket(socket);
  });
});
