/**
 * The three modes: standalone `{ port }`, attached `{ server }` to node:http
 * and node:https, and `{ noServer: true }` with handleUpgrade.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type Server as HttpServer, createServer, request as httpRequest } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type HandshakeInfo, type ServerWebSocket, WebSocketServer } from '@proj/server';
import { RawClient, nextEmit, onCleanup, useCleanup } from '@proj/test-utils';
import { isLent } from '@proj/transport';
import { Collector } from './collector.js';
import {
  connectWs,
  echo,
  handshakeResponse,
  listen,
  sendHandshake,
  startServer,
} from './helpers.js';

useCleanup();

/** Attaches a WebSocketServer that echoes; closed after the test. */
function attach<Data = undefined>(
  options: ConstructorParameters<typeof WebSocketServer<Data>>[0],
): WebSocketServer<Data> {
  const wss = new WebSocketServer<Data>(options);
  onCleanup(() => wss.close({ timeout: 100 }));
  wss.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  return wss;
}

/** A plain HTTP GET through node:http. */
async function get(port: number, path = '/'): Promise<{ status: number; body: string }> {
  const request = httpRequest({ host: '127.0.0.1', port, path, agent: false });
  request.end();
  const [response] = await nextEmit<[import('node:http').IncomingMessage]>(request, 'response');
  let body = '';
  response.setEncoding('utf8');
  for await (const chunk of response) body += chunk as string;
  return { status: response.statusCode!, body };
}

function app(): HttpServer {
  return createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end(`app ${request.url ?? ''}`);
  });
}

describe('standalone', () => {
  test('listens on its own HTTP server, announced by listening and the callback', async () => {
    const onListening = new Collector<true>();
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' }, () => onListening.push(true));
    onCleanup(() => wss.close({ timeout: 100 }));
    const listening = nextEmit(wss, 'listening');
    expect(await wss.ready()).toBe(wss);
    await listening;
    await onListening.until(1);
    expect(wss.httpServer?.listening).toBe(true);
    const port = (wss.address() as AddressInfo).port;
    expect(port).toBeGreaterThan(0);
    // ready() once listening resolves at once.
    await wss.ready();
    const plain = await get(port);
    expect(plain.status).toBe(426);
  });

  test('a port in use: error event, and ready() rejects', async () => {
    const { port } = await startServer();
    const wss = new WebSocketServer({ port, host: '127.0.0.1' });
    onCleanup(() => wss.close({ timeout: 100 }));
    const error = nextEmit<[NodeJS.ErrnoException]>(wss, 'error');
    await expect(wss.ready()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect((await error)[0].code).toBe('EADDRINUSE');
  });

  test('backlog sets the listen queue: connections past it wait for TCP to retry', async () => {
    // While this process's event loop is blocked nothing is accepted, so the
    // kernel completes as many connections as the listen queue holds
    // (Linux: backlog + 1) and drops the SYNs of the rest, whose clients
    // retry a second later. A child process counts the connections that
    // complete in 600 ms of 12 attempts.
    const completed = (port: number): number =>
      Number(
        execFileSync(process.execPath, [
          '-e',
          `const net = require('node:net');
           let open = 0;
           for (let i = 0; i < 12; i++) net.connect(${port}, '127.0.0.1', () => open++).on('error', () => {});
           setTimeout(() => { console.log(open); process.exit(0); }, 600);`,
        ]),
      );
    const short = new WebSocketServer({ port: 0, host: '127.0.0.1', backlog: 2 });
    onCleanup(() => short.close({ timeout: 100 }));
    await short.ready();
    const usual = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    onCleanup(() => usual.close({ timeout: 100 }));
    await usual.ready();
    expect(completed((short.address() as AddressInfo).port)).toBe(3);
    expect(completed((usual.address() as AddressInfo).port)).toBe(12);
  });

  test('close() stops listening and emits close', async () => {
    const { server, port } = await startServer();
    const closed = nextEmit(server, 'close');
    await server.close();
    await closed;
    expect(server.httpServer?.listening).toBe(false);
    await expect(RawClient.connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('attached to node:http', () => {
  test('plain requests are still served by the app; upgrades by us', async () => {
    const http = app();
    const wss = attach({ server: http });
    const port = await listen(http);
    expect(wss.httpServer).toBe(http);
    expect((wss.address() as AddressInfo).port).toBe(port);
    await wss.ready();
    expect(await get(port, '/page')).toEqual({ status: 200, body: 'app /page' });
    const ws = await connectWs(`ws://127.0.0.1:${port}/anything`);
    expect(await echo(ws, 'attached')).toBe('attached');
    expect(await get(port, '/again')).toEqual({ status: 200, body: 'app /again' });
  });

  test('two servers on one http server, told apart by path', async () => {
    const http = app();
    const a = attach({ server: http, path: '/a' });
    const b = attach({ server: http, path: '/b' });
    const port = await listen(http);
    const seen = new Collector<string>();
    a.on('connection', (_socket, request) => seen.push(`a ${request.url ?? ''}`));
    b.on('connection', (_socket, request) => seen.push(`b ${request.url ?? ''}`));
    const wsA = await connectWs(`ws://127.0.0.1:${port}/a?x=1`);
    const wsB = await connectWs(`ws://127.0.0.1:${port}/b`);
    expect(await seen.until(2)).toEqual(['a /a?x=1', 'b /b']);
    expect(a.clients.size).toBe(1);
    expect(b.clients.size).toBe(1);
    expect(await echo(wsA, 'to a')).toBe('to a');
    expect(await echo(wsB, 'to b')).toBe('to b');
    expect(await get(port, '/a')).toEqual({ status: 200, body: 'app /a' });
  });

  test.each([
    ['two servers on different paths: a path neither serves gets one 404', ['/a', '/b'], '/c'],
    ['alone with a path: another path gets 404', ['/ws'], '/elsewhere'],
  ])('%s', async (_, paths, path) => {
    const http = app();
    for (const served of paths) attach({ server: http, path: served });
    const port = await listen(http);
    const raw = await sendHandshake(port, { path });
    expect((await raw.response()).status).toBe(404);
    await raw.closed;
  });

  test('a foreign upgrade listener keeps unmatched paths for itself', async () => {
    const http = app();
    attach({ server: http, path: '/a' });
    http.on('upgrade', (request, socket) => {
      if (request.url === '/mine')
        socket.end('HTTP/1.1 418 I am a teapot\r\nContent-Length: 0\r\n\r\n');
    });
    const port = await listen(http);
    const raw = await sendHandshake(port, { path: '/mine' });
    expect((await raw.response()).status).toBe(418);
  });

  test('close() closes the clients with 1001 but leaves the http server to the app', async () => {
    const http = app();
    const wss = attach({ server: http });
    const port = await listen(http);
    const ws = await connectWs(`ws://127.0.0.1:${port}`);
    const closed = nextEmit<[number]>(ws, 'close');
    await wss.close();
    expect((await closed)[0]).toBe(1001);
    expect(http.listening).toBe(true);
    expect(http.listenerCount('upgrade')).toBe(0);
    expect(await get(port)).toEqual({ status: 200, body: 'app /' });
  });
});

describe('attached to node:https', () => {
  let dir: string;
  let key: Buffer;
  let cert: Buffer;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'proj-server-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-days',
        '1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    key = readFileSync(join(dir, 'key.pem'));
    cert = readFileSync(join(dir, 'cert.pem'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a wss: client verified with the cert as CA connects and echoes; info.secure is true', async () => {
    const https = createHttpsServer({ key, cert }, (_request, response) => response.end('tls app'));
    const infos = new Collector<HandshakeInfo>();
    attach<string>({
      server: https,
      authenticate: (_request, info) => {
        infos.push(info);
        return 'secure user';
      },
    });
    const port = await listen(https);
    const ws = await connectWs(`wss://127.0.0.1:${port}`, undefined, { ca: cert });
    expect(await echo(ws, 'over tls 🔒')).toBe('over tls 🔒');
    expect((await infos.until(1))[0]!.secure).toBe(true);
  });

  test("lendMessages over TLS: messages are not lent (TLS sockets read Node's way), kept ones stay intact", async () => {
    const https = createHttpsServer({ key, cert });
    const wss = attach({ server: https, lendMessages: true });
    const seen: { lent: boolean; data: Buffer }[] = [];
    wss.on('connection', (socket) =>
      socket.on('message', (data) =>
        seen.push({ lent: isLent(data as Buffer), data: data as Buffer }),
      ),
    );
    const port = await listen(https);
    const ws = await connectWs(`wss://127.0.0.1:${port}`, undefined, { ca: cert });
    const sent = Array.from({ length: 20 }, (_, i) => Buffer.alloc(1000 + i, i));
    for (const payload of sent) ws.send(payload);
    while (seen.length < sent.length) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen.map(({ lent }) => lent)).toEqual(sent.map(() => false));
    for (const [i, { data }] of seen.entries()) expect(data.equals(sent[i]!)).toBe(true);
  });

  test('rejectUnauthorized: false works as well; a 100 kB message spans many TLS records', async () => {
    const https = createHttpsServer({ key, cert });
    attach({ server: https });
    const port = await listen(https);
    const ws = await connectWs(`wss://127.0.0.1:${port}`, undefined, {
      rejectUnauthorized: false,
    });
    const text = 'x'.repeat(100_000);
    expect(await echo(ws, text)).toBe(text);
  });
});

describe('noServer', () => {
  test('handleUpgrade from a custom upgrade handler', async () => {
    const wss = new WebSocketServer({ noServer: true });
    onCleanup(() => wss.close({ timeout: 100 }));
    expect(wss.address()).toBeNull();
    expect(wss.httpServer).toBeUndefined();
    expect(await wss.ready()).toBe(wss);
    const viaCallback = new Collector<ServerWebSocket>();
    const viaEvent = new Collector<ServerWebSocket>();
    // With a callback the connection goes to it alone, as in ws.
    wss.on('connection', (socket) => viaEvent.push(socket));
    const http = app();
    http.on('upgrade', (request, socket, head) => {
      if (request.url === '/ws') {
        wss.handleUpgrade(request, socket, head, (client) => {
          viaCallback.push(client);
          client.on('message', (data) => client.send(`echo: ${String(data)}`));
        });
      } else {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      }
    });
    const port = await listen(http);
    const ws = await connectWs(`ws://127.0.0.1:${port}/ws`);
    expect(await echo(ws, 'hi')).toBe('echo: hi');
    const [fromCallback] = await viaCallback.until(1);
    expect(viaEvent.items).toEqual([]);
    expect(wss.clients.has(fromCallback!)).toBe(true);

    const other = await handshakeResponse(port, { path: '/other' });
    expect(other.status).toBe(400);
    expect(await get(port)).toEqual({ status: 200, body: 'app /' });
  });

  test('handleUpgrade after close() answers 503', async () => {
    const wss = new WebSocketServer({ noServer: true });
    const rejected = new Collector<number>();
    wss.on('rejected', (status) => rejected.push(status));
    await wss.close();
    const http = app();
    http.on('upgrade', (request, socket, head) => wss.handleUpgrade(request, socket, head));
    const port = await listen(http);
    const response = await handshakeResponse(port);
    expect(response.status).toBe(503);
    expect(await rejected.until(1)).toEqual([503]);
  });
});
