/**
 * The `http2` option (issue #18 point 3): WebSockets as RFC 8441 streams of
 * one shared HTTP/2 session, against @proj/server on node:http2 servers on
 * 127.0.0.1, and the fallback to HTTP/1.1 when the server does not offer it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, test } from 'vitest';
import {
  HandshakeRejectedError,
  type MessageEvent,
  ReconnectingWebSocket,
  WebSocket,
} from '@proj/client';
import {
  type ServerOptions,
  type ServerWebSocket,
  type UpgradeRequest,
  WebSocketServer,
  reject,
} from '@proj/server';
import { testCertificate } from '@proj/test-utils';
import { IDLE_SESSION_GRACE } from '../src/http2-session-pool.js';
import { nextEvent, onCleanup, until } from './helpers.js';

const { cert, key } = testCertificate();

interface H2Server {
  readonly h2: http2.Http2SecureServer | http2.Http2Server;
  readonly wss: WebSocketServer<unknown, UpgradeRequest>;
  readonly port: number;
  /** Every HTTP/2 session the server saw. */
  readonly sessions: http2.ServerHttp2Session[];
  /** The request of every WebSocket the server accepted, in order. */
  readonly requests: UpgradeRequest[];
  /** The next accepted WebSocket (or the one accepted and not yet taken). */
  connection(): Promise<ServerWebSocket<unknown>>;
}

/** An echo-less @proj/server attached to `h2`, both torn down after the test. */
async function attach(
  h2: http2.Http2SecureServer | http2.Http2Server | https.Server | http.Server,
  options: Partial<ServerOptions<unknown, UpgradeRequest>> = {},
): Promise<H2Server> {
  const wss = new WebSocketServer<unknown, UpgradeRequest>({
    server: h2,
    ...options,
  } as ServerOptions<unknown, UpgradeRequest>);
  const sessions: http2.ServerHttp2Session[] = [];
  const requests: UpgradeRequest[] = [];
  const ready: ServerWebSocket<unknown>[] = [];
  const waiting: ((ws: ServerWebSocket<unknown>) => void)[] = [];
  h2.on('session', (session: http2.ServerHttp2Session) => sessions.push(session));
  wss.on('connection', (ws: ServerWebSocket<unknown>, request: UpgradeRequest) => {
    requests.push(request);
    const waiter = waiting.shift();
    if (waiter) waiter(ws);
    else ready.push(ws);
  });
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
  onCleanup(async () => {
    // The client keeps an idle session for a while: end ours so close() returns now.
    for (const session of sessions) session.destroy();
    await wss.close();
    await new Promise((resolve) => h2.close(resolve));
  });
  return {
    h2: h2 as http2.Http2SecureServer,
    wss,
    port: (h2.address() as AddressInfo).port,
    sessions,
    requests,
    connection: () =>
      ready.length > 0
        ? Promise.resolve(ready.shift()!)
        : new Promise((resolve) => waiting.push(resolve)),
  };
}

function secureServer(
  options: http2.SecureServerOptions = {},
  handler?: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
): http2.Http2SecureServer {
  return http2.createSecureServer({ cert, key, allowHTTP1: true, ...options }, handler);
}

/** An open client over HTTP/2 to `server`. */
async function open(
  server: H2Server,
  options: ConstructorParameters<typeof WebSocket>[2] = {},
  path = '/',
  protocols: string[] = [],
): Promise<WebSocket> {
  const ws = new WebSocket(`wss://127.0.0.1:${server.port}${path}`, protocols, {
    ca: cert,
    http2: true,
    ...options,
  });
  ws.binaryType = 'arraybuffer';
  onCleanup(() => ws.close());
  await nextEvent(ws, 'open');
  return ws;
}

function echo(ws: ServerWebSocket<unknown>): void {
  ws.on('message', (data, binary) => ws.send(data, { binary }));
}

/** The data of the next `count` messages `ws` receives. */
function collect(ws: WebSocket, count: number): Promise<unknown[]> {
  const data: unknown[] = [];
  return new Promise((resolve) => {
    const listener = (event: MessageEvent): void => {
      data.push(event.data);
      if (data.length < count) return;
      ws.removeEventListener('message', listener);
      resolve(data);
    };
    ws.addEventListener('message', listener);
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string; wasClean: boolean }> {
  return new Promise((resolve) =>
    ws.addEventListener('close', (event) =>
      resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean }),
    ),
  );
}

describe('the option', () => {
  test('is a boolean, checked like every other option', () => {
    expect(() => new WebSocket('wss://127.0.0.1:1/', [], { http2: 'yes' as never })).toThrow(
      new TypeError('The "http2" option must be a boolean, got "yes"'),
    );
    expect(
      () =>
        new ReconnectingWebSocket('wss://127.0.0.1:1/', [], {
          socketOptions: { http2: 1 as never },
        }),
    ).toThrow('"http2"');
  });
});

describe('over HTTP/2 (RFC 8441)', () => {
  test('text, binary, large and fragmented messages both ways on an extended CONNECT stream', async () => {
    const server = await attach(secureServer());
    const ws = await open(server);
    const peer = await server.connection();
    expect(server.requests[0]!.httpVersionMajor).toBe(2);
    echo(peer);
    const large = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    const received = collect(ws, 3);
    ws.send('héllo');
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send(large);
    const [text, binary, big] = await received;
    expect(text).toBe('héllo');
    expect(new Uint8Array(binary as ArrayBuffer)).toEqual(new Uint8Array([1, 2, 3]));
    // Buffer.equals: a deep toEqual over 3 Mi elements takes minutes.
    expect(Buffer.from(big as ArrayBuffer).equals(large)).toBe(true);

    // The server sends one message in three fragments.
    const fragmented = collect(ws, 1);
    peer.send('one ', { fin: false });
    peer.send('two ', { fin: false });
    peer.send('three', { fin: true });
    expect(await fragmented).toEqual(['one two three']);
  });

  test('close codes and reasons, client first and server first', async () => {
    const server = await attach(secureServer());
    const ws = await open(server);
    const peer = await server.connection();
    const peerClosed = new Promise<[number, string]>((resolve) =>
      peer.on('close', (code: number, reason: string) => resolve([code, reason])),
    );
    const clientClosed = closed(ws);
    ws.close(4001, 'client bye');
    expect(await peerClosed).toEqual([4001, 'client bye']);
    expect(await clientClosed).toEqual({ code: 4001, reason: 'client bye', wasClean: true });

    const ws2 = await open(server);
    const peer2 = await server.connection();
    const client2Closed = closed(ws2);
    peer2.close(4002, 'server bye');
    expect(await client2Closed).toEqual({ code: 4002, reason: 'server bye', wasClean: true });
  });

  test('ten WebSockets to one origin share one HTTP/2 session', async () => {
    const server = await attach(secureServer());
    const sockets = await Promise.all(Array.from({ length: 10 }, () => open(server)));
    expect(server.sessions).toHaveLength(1);
    const streams = server.requests.map((r) => (r as http2.Http2ServerRequest).stream);
    expect(streams).toHaveLength(10);
    expect(new Set(streams.map((s) => s.session)).size).toBe(1);
    expect(streams[0]!.session).toBe(server.sessions[0]);
    for (let i = 0; i < 10; i++) echo(await server.connection());
    const replies = await Promise.all(
      sockets.map((ws, i) => {
        const got = collect(ws, 1);
        ws.send(`socket ${i}`);
        return got;
      }),
    );
    expect(replies.flat()).toEqual(sockets.map((_, i) => `socket ${i}`));
  });

  test("respects the server's SETTINGS_MAX_CONCURRENT_STREAMS: a second session past it", async () => {
    const server = await attach(secureServer({ settings: { maxConcurrentStreams: 3 } }));
    await Promise.all(Array.from({ length: 5 }, () => open(server)));
    expect(server.requests).toHaveLength(5);
    expect(server.sessions).toHaveLength(2);
    const perSession = server.sessions.map(
      (s) =>
        server.requests.filter((r) => (r as http2.Http2ServerRequest).stream.session === s).length,
    );
    expect(perSession).toEqual([3, 2]);
  });

  test('bufferedAmount counts a send and falls back to 0 once written', async () => {
    const server = await attach(secureServer());
    const ws = await open(server);
    const peer = await server.connection();
    const got = new Promise((resolve) => peer.once('message', resolve));
    ws.send(new Uint8Array(1024 * 1024));
    expect(ws.bufferedAmount).toBe(1024 * 1024);
    await got;
    await until(() => ws.bufferedAmount === 0);
  });

  test('permessage-deflate over HTTP/2', async () => {
    const server = await attach(secureServer(), { perMessageDeflate: { threshold: 0 } });
    const ws = await open(server, { perMessageDeflate: { threshold: 0 } });
    expect(ws.extensions).toMatch(/^permessage-deflate/);
    echo(await server.connection());
    const text = 'compress me '.repeat(1000);
    const got = collect(ws, 1);
    ws.send(text);
    expect(await got).toEqual([text]);
  });

  test('a refused stream (401) fails like a refused upgrade: error with the status, close 1006', async () => {
    const server = await attach(secureServer(), {
      authenticate: () => reject(401, { body: 'Log in first' }),
    });
    const ws = new WebSocket(`wss://127.0.0.1:${server.port}/`, [], { ca: cert, http2: true });
    const error = nextEvent(ws, 'error');
    const close = closed(ws);
    const cause = ((await error) as unknown as { error: unknown }).error;
    expect(cause).toBeInstanceOf(HandshakeRejectedError);
    expect((cause as HandshakeRejectedError).status).toBe(401);
    expect(await close).toMatchObject({ code: 1006, wasClean: false });
    expect(server.sessions).toHaveLength(1);
  });

  test('the server going away fails every WebSocket on the session with 1006', async () => {
    const server = await attach(secureServer());
    const sockets = await Promise.all(Array.from({ length: 3 }, () => open(server)));
    const results = sockets.map((ws) => {
      const errored = new Promise<boolean>((resolve) =>
        ws.addEventListener('error', () => resolve(true)),
      );
      return Promise.all([closed(ws), errored]);
    });
    server.sessions[0]!.destroy();
    for (const [close, errored] of await Promise.all(results)) {
      expect(close).toMatchObject({ code: 1006, wasClean: false });
      expect(errored).toBe(true);
    }
  });

  test('a graceful GOAWAY lets open WebSockets run on; new ones get a new session', async () => {
    const server = await attach(secureServer());
    const ws = await open(server);
    echo(await server.connection());
    server.sessions[0]!.close(); // GOAWAY with NO_ERROR; open streams finish
    await until(() => server.sessions[0]!.closed);
    // Node's server refuses the stream (REFUSED_STREAM) before its GOAWAY
    // arrives: the client retries on a new session.
    const ws2 = await open(server);
    expect(server.sessions).toHaveLength(2);
    echo(await server.connection());
    const got = collect(ws, 1);
    const got2 = collect(ws2, 1);
    ws.send('old session');
    ws2.send('new session');
    expect(await got).toEqual(['old session']);
    expect(await got2).toEqual(['new session']);
  });

  test('the server resetting an open stream fails that WebSocket only: error, then 1006', async () => {
    const server = await attach(secureServer());
    const ws = await open(server);
    const other = await open(server);
    const error = nextEvent(ws, 'error');
    const close = closed(ws);
    const stream = (server.requests[0] as http2.Http2ServerRequest).stream;
    // destroy(error) sends RST_STREAM INTERNAL_ERROR at once; close(code)
    // would end the stream first (END_STREAM), which reads as a clean end.
    stream.destroy(new Error('reset for the test'));
    // Node's own stream error, naming the code.
    expect(((await error) as unknown as { error: Error }).error.message).toMatch(
      /NGHTTP2_INTERNAL_ERROR/,
    );
    expect(await close).toMatchObject({ code: 1006, wasClean: false });
    // The session and the other WebSocket on it carry on.
    await server.connection();
    const otherPeer = await server.connection();
    echo(otherPeer);
    const got = collect(other, 1);
    other.send('still here');
    expect(await got).toEqual(['still here']);
  });

  test('a certificate that does not verify fails the WebSocket (error, 1006), no fallback', async () => {
    const server = await attach(secureServer());
    const ws = new WebSocket(`wss://127.0.0.1:${server.port}/`, [], { http2: true });
    const error = nextEvent(ws, 'error');
    expect(((await error) as unknown as { error: { code: string } }).error.code).toBe(
      'DEPTH_ZERO_SELF_SIGNED_CERT',
    );
    expect(await closed(ws)).toMatchObject({ code: 1006 });
    expect(server.requests).toHaveLength(0);
  });

  test('handshakeTimeout covers the session setup: a server that never sends SETTINGS', async () => {
    // A TLS server that speaks h2 by ALPN and then says nothing.
    const silent = (await import('node:tls')).createServer({ cert, key, ALPNProtocols: ['h2'] });
    const held: Duplex[] = [];
    silent.on('secureConnection', (socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    onCleanup(() => {
      for (const socket of held) socket.destroy();
      silent.close();
    });
    const port = (silent.address() as AddressInfo).port;
    const ws = new WebSocket(`wss://127.0.0.1:${port}/`, [], {
      ca: cert,
      http2: true,
      handshakeTimeout: 300,
    });
    const error = nextEvent(ws, 'error');
    expect(((await error) as unknown as { message: string }).message).toMatch(
      /timed out after 300 ms/,
    );
    expect(await closed(ws)).toMatchObject({ code: 1006 });
  });
});

describe('falling back to HTTP/1.1', () => {
  test('an https server (ALPN chooses http/1.1)', async () => {
    const server = await attach(https.createServer({ cert, key }));
    const ws = await open(server);
    expect(server.requests[0]!.httpVersionMajor).toBe(1);
    echo(await server.connection());
    const got = collect(ws, 1);
    ws.send('over 1.1');
    expect(await got).toEqual(['over 1.1']);
    // The answer is remembered: the next WebSocket makes no HTTP/2 attempt.
    let tcp = 0;
    server.h2.on('connection', () => tcp++);
    await open(server);
    expect(tcp).toBe(1);
  });

  test('an HTTP/2 server whose SETTINGS do not enable extended CONNECT', async () => {
    // node:http2 with allowHTTP1, without our server attached to it as an
    // HTTP/2 server: it serves HTTP/1.1 upgrades only (no-server mode).
    const h2 = secureServer();
    const wss = new WebSocketServer({ noServer: true });
    const h2Sessions: http2.ServerHttp2Session[] = [];
    h2.on('session', (s) => h2Sessions.push(s));
    h2.on('upgrade', (request, socket, head) => wss.handleUpgrade(request, socket, head));
    const accepted: ServerWebSocket<unknown>[] = [];
    const requests: UpgradeRequest[] = [];
    wss.on('connection', (ws: ServerWebSocket<unknown>, request: UpgradeRequest) => {
      accepted.push(ws);
      requests.push(request);
      echo(ws);
    });
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    onCleanup(async () => {
      for (const s of h2Sessions) s.destroy();
      await wss.close();
      await new Promise((resolve) => h2.close(resolve));
    });
    const port = (h2.address() as AddressInfo).port;
    const ws = new WebSocket(`wss://127.0.0.1:${port}/`, [], { ca: cert, http2: true });
    onCleanup(() => ws.close());
    await nextEvent(ws, 'open');
    // The probe was an HTTP/2 session whose SETTINGS said no; the WebSocket is HTTP/1.1.
    expect(h2Sessions).toHaveLength(1);
    expect(requests[0]!.httpVersionMajor).toBe(1);
    // Remembered: the next WebSocket makes no HTTP/2 session.
    const ws2 = new WebSocket(`wss://127.0.0.1:${port}/`, [], { ca: cert, http2: true });
    onCleanup(() => ws2.close());
    await nextEvent(ws2, 'open');
    expect(h2Sessions).toHaveLength(1);
    expect(requests).toHaveLength(2);
    const got = collect(ws, 1);
    ws.send('fell back');
    expect(await got).toEqual(['fell back']);
  });

  test('ws: against a server that does not speak h2c', async () => {
    const server = await attach(http.createServer());
    server.wss.on('connection', echo);
    let tcp = 0;
    server.h2.on('connection', () => tcp++);
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`, [], { http2: true });
    onCleanup(() => ws.close());
    await nextEvent(ws, 'open');
    // The h2c preface on one connection (answered 400), then the upgrade on another.
    expect(tcp).toBe(2);
    expect(server.requests[0]!.httpVersionMajor).toBe(1);
    const got = collect(ws, 1);
    ws.send('plain');
    expect(await got).toEqual(['plain']);
    // Remembered: the next WebSocket goes straight to HTTP/1.1.
    const ws2 = new WebSocket(`ws://127.0.0.1:${server.port}/`, [], { http2: true });
    onCleanup(() => ws2.close());
    await nextEvent(ws2, 'open');
    expect(tcp).toBe(3);
  });
});

describe('h2c (ws: URL, HTTP/2 by prior knowledge)', () => {
  test('against http2.createServer() with our server attached', async () => {
    const server = await attach(http2.createServer());
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/chat`, [], { http2: true });
    onCleanup(() => ws.close());
    await nextEvent(ws, 'open');
    expect(server.requests[0]!.httpVersionMajor).toBe(2);
    echo(await server.connection());
    const got = collect(ws, 1);
    ws.send('cleartext h2');
    expect(await got).toEqual(['cleartext h2']);
  });
});

describe('ReconnectingWebSocket', () => {
  test('socketOptions: { http2: true } reconnects over HTTP/2, on the same session', async () => {
    const server = await attach(secureServer());
    const rws = new ReconnectingWebSocket(`wss://127.0.0.1:${server.port}/`, [], {
      minDelay: 10,
      maxDelay: 20,
      socketOptions: { ca: cert, http2: true },
    });
    onCleanup(() => rws.close());
    await nextEvent(rws as unknown as WebSocket, 'open');
    (await server.connection()).close(4000, 'again');
    const second = await server.connection();
    expect(server.requests).toHaveLength(2);
    expect(server.requests.every((r) => r.httpVersionMajor === 2)).toBe(true);
    expect(server.sessions).toHaveLength(1);
    echo(second);
    await until(() => rws.readyState === 1);
    const got = new Promise((resolve) => rws.addEventListener('message', (e) => resolve(e.data)));
    rws.send('back');
    expect(await got).toBe('back');
  });
});

describe('process lifetime', () => {
  test('a process whose WebSockets closed exits at once: the idle shared session holds no ref', async () => {
    const server = await attach(secureServer());
    server.wss.on('connection', echo);
    // The client as a Node app would load it: bundled from the sources, run in a child.
    const dir = mkdtempSync(join(tmpdir(), 'proj-h2-'));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const bundle = join(dir, 'client.mjs');
    await build({
      entryPoints: [fileURLToPath(new URL('../src/node.ts', import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'esm',
      conditions: ['source'],
      outfile: bundle,
      logLevel: 'silent',
    });
    const script = `
      import { WebSocket } from ${JSON.stringify(pathToFileURL(bundle).href)};
      const ws = new WebSocket('wss://127.0.0.1:${server.port}/', [], { ca: process.env.CA, http2: true });
      ws.onopen = () => ws.send('hi');
      ws.onmessage = () => ws.close();
      ws.onclose = (event) => { console.log('closed ' + event.code + ' ' + Date.now()); };
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, CA: cert },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    onCleanup(() => child.kill());
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [exitCode] = (await once(child, 'exit')) as [number];
    const exitedAt = Date.now();
    expect(exitCode).toBe(0);
    const match = /closed (\d+) (\d+)/.exec(output);
    expect(match?.[1]).toBe('1005');
    expect(server.sessions).toHaveLength(1);
    // Well under the session's idle grace: nothing waited for it.
    expect(exitedAt - Number(match![2])).toBeLessThan(IDLE_SESSION_GRACE);
  });
});
