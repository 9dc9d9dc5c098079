/**
 * WebSocket over HTTP/2 (RFC 8441) on an attached `node:http2` server: the
 * extended CONNECT handshake, every server option over a stream, refusals
 * answered on the stream, both ways node reports such a stream (`connect`
 * with a request handler, `stream` without), and closing that ends only the
 * stream, never the HTTP/2 connection a page shares with it. Real TLS on
 * 127.0.0.1; the client side is node:http2 driven by hand (RawH2Session).
 */
import {
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
  constants,
  createSecureServer,
  createServer as createH2cServer,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { constants as zlibConstants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { describe, expect, test, vi } from 'vitest';
import WebSocket from 'ws';
import { SESSION_PROTOCOL, decodeSessionControl, encodeSessionControl } from '@proj/protocol';
import {
  type ServerOptions,
  type ServerSession,
  type ServerWebSocket,
  type UpgradeRequest,
  WebSocketServer,
  isHttp2Request,
  reject,
} from '@proj/server';
import {
  OP,
  RawH2Session,
  type RawH2WebSocket,
  nextEmit,
  onCleanup,
  testCertificate,
  useCleanup,
} from '@proj/test-utils';
import { closeOf } from './helpers.js';
import { isLent } from '@proj/transport';

useCleanup();

const { cert, key } = testCertificate();

/** A page handler, as an application serving its pages on the same port has. */
function pages(_request: Http2ServerRequest, response: Http2ServerResponse): void {
  response.end('page');
}

interface H2Setup<Data> {
  h2: Http2SecureServer;
  wss: WebSocketServer<Data, UpgradeRequest>;
  port: number;
  url: string;
  /** The server's HTTP/2 sessions so far. */
  sessions: Set<ServerHttp2Session>;
}

/**
 * An HTTP/2 secure server with HTTP/1.1 allowed on 127.0.0.1:0 and a
 * WebSocketServer attached. `handler: null` creates the server without a
 * request handler (node then reports extended CONNECTs as `stream` only).
 */
async function startH2<Data = undefined>(
  options: Omit<ServerOptions<Data, UpgradeRequest>, 'server' | 'port' | 'noServer'> = {} as never,
  handler: typeof pages | null = pages,
): Promise<H2Setup<Data>> {
  const h2 = handler
    ? createSecureServer({ cert, key, allowHTTP1: true }, handler)
    : createSecureServer({ cert, key, allowHTTP1: true });
  const sessions = new Set<ServerHttp2Session>();
  h2.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const wss = new WebSocketServer<Data, UpgradeRequest>({
    ...options,
    server: h2,
  } as ServerOptions<Data, UpgradeRequest>);
  onCleanup(async () => {
    await wss.close({ timeout: 100 });
    for (const session of sessions) session.destroy();
    await new Promise<void>((resolve) => h2.close(() => resolve()));
  });
  h2.listen(0, '127.0.0.1');
  await nextEmit(h2, 'listening');
  const port = (h2.address() as AddressInfo).port;
  return { h2, wss, port, url: `https://localhost:${port}`, sessions };
}

function echoOn<Data>(wss: WebSocketServer<Data, UpgradeRequest>): void {
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
}

function h2Session(url: string): Promise<RawH2Session> {
  return RawH2Session.connect(url, { ca: cert });
}

/** A `ws` client over HTTP/1.1 Upgrade (TLS, no ALPN h2) to the same port. */
function h1Client(url: string, protocols?: string | string[]): Promise<WebSocket> {
  const ws = new WebSocket(url.replace('https:', 'wss:'), protocols, { ca: cert });
  ws.on('error', () => {});
  onCleanup(() => ws.terminate());
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_q, response) =>
      reject(new Error(`unexpected response ${response.statusCode}`)),
    );
  });
}

async function echoText(socket: RawH2WebSocket, text: string): Promise<string> {
  socket.sendFrame(OP.Text, text);
  return socket.nextText();
}

describe('one port, both protocols', () => {
  test('HTTP/1.1 Upgrade and HTTP/2 extended CONNECT reach the same connection handler', async () => {
    const { wss, url } = await startH2();
    const seen: Array<{ major: number; h2: boolean; stream: boolean }> = [];
    wss.on('connection', (ws, request: UpgradeRequest) => {
      seen.push({
        major: request.httpVersionMajor,
        h2: isHttp2Request(request),
        stream: isHttp2Request(request) && request.stream !== undefined,
      });
      ws.on('message', (data, binary) => ws.send(data, { binary }));
    });
    const h1 = await h1Client(url);
    h1.send('over h1');
    const [h1Reply] = await nextEmit<[Buffer]>(h1, 'message');
    expect(h1Reply.toString()).toBe('over h1');

    const client = await h2Session(url);
    const socket = await client.openWebSocket();
    expect(await echoText(socket, 'over h2')).toBe('over h2');
    expect(seen).toEqual([
      { major: 1, h2: false, stream: false },
      { major: 2, h2: true, stream: true },
    ]);
  });

  test('the server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL though the application did not', async () => {
    const { url } = await startH2();
    const client = await h2Session(url);
    expect(client.enableConnectProtocol).toBe(true);
  });

  test('several WebSockets at once as streams of one HTTP/2 session, and pages between them', async () => {
    const { wss, url, sessions } = await startH2();
    echoOn(wss);
    const client = await h2Session(url);
    const sockets = await Promise.all([1, 2, 3, 4].map(() => client.openWebSocket()));
    const replies = await Promise.all(sockets.map((s, i) => echoText(s, `message ${i}`)));
    expect(replies).toEqual(['message 0', 'message 1', 'message 2', 'message 3']);
    expect(await client.get('/index.html')).toEqual({ status: 200, body: 'page' });
    expect(wss.clients.size).toBe(4);
    expect(sessions.size).toBe(1);
  });
});

describe('lendMessages over HTTP/2', () => {
  test('messages on a stream are not lent (streams are not read into the shared buffer), and stay intact', async () => {
    const { wss, url } = await startH2({ lendMessages: true });
    const seen: { lent: boolean; data: Buffer }[] = [];
    wss.on('connection', (ws) =>
      ws.on('message', (data) => seen.push({ lent: isLent(data as Buffer), data: data as Buffer })),
    );
    const client = await h2Session(url);
    const socket = await client.openWebSocket();
    const sent = Array.from({ length: 10 }, (_, i) => Buffer.alloc(2000 + i * 3000, i + 1));
    for (const payload of sent) socket.sendFrame(OP.Binary, payload);
    while (seen.length < sent.length) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen.map(({ lent }) => lent)).toEqual(sent.map(() => false));
    for (const [i, { data }] of seen.entries()) expect(data.equals(sent[i]!)).toBe(true);
  });
});

describe('closing', () => {
  test('a clean close ends the stream both ways without RST_STREAM; the session serves on', async () => {
    const { wss, url } = await startH2();
    echoOn(wss);
    const client = await h2Session(url);
    const socket = await client.openWebSocket();
    const [serverSide] = wss.clients;
    const serverClosed = closeOf(serverSide!);
    const aborted = vi.fn();
    socket.stream.on('aborted', aborted);
    const started = performance.now();
    const { code, rstCode } = await socket.close(1000, 'bye');
    expect(code).toBe(1000);
    expect(rstCode).toBe(constants.NGHTTP2_NO_ERROR);
    expect(socket.isEnded).toBe(true);
    // node reports an RST_STREAM that arrives before this side ended as `aborted`.
    expect(aborted).not.toHaveBeenCalled();
    expect((await serverClosed).slice(0, 3)).toEqual([1000, 'bye', true]);
    expect(performance.now() - started).toBeLessThan(2000);
    const next = await client.openWebSocket();
    expect(await echoText(next, 'again')).toBe('again');
    expect(await client.get('/')).toEqual({ status: 200, body: 'page' });
  });
});

/** A raw-deflated message body as RFC 7692 §7.2.1 sends it: no trailing 00 00 ff ff. */
function deflateMessage(text: string): Buffer {
  const out = deflateRawSync(Buffer.from(text), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

function inflateMessage(payload: Uint8Array): string {
  return inflateRawSync(Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]), {
    finishFlush: zlibConstants.Z_SYNC_FLUSH,
  }).toString();
}

/** The 2-byte header plus 4-byte mask of a masked frame with a 16-bit length: what a client sends. */
function maskedHeader16(opcode: number, length: number): Buffer {
  const header = Buffer.alloc(8);
  header[0] = 0x80 | opcode;
  header[1] = 0x80 | 126;
  header.writeUInt16BE(length, 2);
  header.set([1, 2, 3, 4], 4);
  return header;
}

async function until(check: () => boolean, timeout = 5000): Promise<void> {
  const deadline = performance.now() + timeout;
  while (!check()) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('every option over HTTP/2', () => {
  test('authenticate (sync): data on socket.data; a rejection is the stream status, body and headers', async () => {
    const { wss, url } = await startH2<{ user: string }>({
      authenticate: (request) =>
        request.headers['authorization'] === 'Bearer good'
          ? { user: 'ana' }
          : reject(401, { headers: { 'www-authenticate': 'Bearer' }, body: 'Who are you?' }),
    });
    const users: string[] = [];
    wss.on('connection', (ws) => users.push(ws.data.user));
    const rejected = nextEmit<[number, string, UpgradeRequest]>(wss, 'rejected');
    const client = await h2Session(url);
    const refused = client.open({ headers: { authorization: 'Bearer bad' } });
    const response = await refused.response;
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    await refused.closed;
    expect(refused.body).toBe('Who are you?');
    const [status, reason, request] = await rejected;
    expect([status, reason, isHttp2Request(request)]).toEqual([401, 'Who are you?', true]);
    await client.openWebSocket({ headers: { authorization: 'Bearer good' } });
    await until(() => users.length === 1);
    expect(users).toEqual(['ana']);
  });

  test('authenticate (async): resolves to data, or rejects with a status on the stream', async () => {
    const { wss, url } = await startH2<{ user: string }>({
      authenticate: async (request) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return request.url === '/ok' ? { user: 'bo' } : reject(403, { body: 'Not you' });
      },
    });
    const connected = nextEmit<[ServerWebSocket<{ user: string }>]>(wss, 'connection');
    const client = await h2Session(url);
    const refused = client.open({ path: '/no' });
    expect((await refused.response).status).toBe(403);
    await refused.closed;
    expect(refused.body).toBe('Not you');
    await client.openWebSocket({ path: '/ok' });
    expect((await connected)[0].data).toEqual({ user: 'bo' });
  });

  test('allowedOrigins: another origin gets 403 on its stream, a listed one opens', async () => {
    const { url } = await startH2({ allowedOrigins: ['https://app.example'] });
    const client = await h2Session(url);
    const refused = client.open({ headers: { origin: 'https://evil.example' } });
    expect((await refused.response).status).toBe(403);
    await client.openWebSocket({ headers: { origin: 'https://app.example' } });
  });

  test('protocols and handleProtocols: the choice is sec-websocket-protocol in the 200', async () => {
    const { url } = await startH2({ protocols: ['chat.v2', 'chat.v1'] });
    const client = await h2Session(url);
    const socket = client.open({ headers: { 'sec-websocket-protocol': 'chat.v1, chat.v2' } });
    const response = await socket.response;
    expect(response.status).toBe(200);
    // The client's order of preference decides among those the server supports.
    expect(response.headers['sec-websocket-protocol']).toBe('chat.v1');
    expect(response.headers['sec-websocket-accept']).toBeUndefined();

    const other = await startH2({
      handleProtocols: (offered, request) =>
        isHttp2Request(request) ? [...offered].reverse()[0]! : false,
    });
    const client2 = await h2Session(other.url);
    const chosen = await client2.open({ headers: { 'sec-websocket-protocol': 'a, b' } }).response;
    expect(chosen.headers['sec-websocket-protocol']).toBe('b');
  });

  test('permessage-deflate: negotiated in the 200, a compressed message each way', async () => {
    const { wss, url } = await startH2({ perMessageDeflate: { threshold: 0 } });
    echoOn(wss);
    const client = await h2Session(url);
    const socket = client.open({
      headers: { 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' },
      allowRsv1: true,
    });
    const response = await socket.response;
    expect(response.headers['sec-websocket-extensions']).toMatch(/^permessage-deflate/);
    const text = 'compressed over a stream '.repeat(20);
    socket.sendFrame(OP.Text, deflateMessage(text), { rsv1: true });
    const reply = await socket.nextFrame();
    expect(reply.rsv1).toBe(true);
    expect(reply.payload.length).toBeLessThan(text.length);
    const inflated = inflateMessage(reply.payload);
    expect(inflated.length).toBe(text.length);
    expect(inflated).toBe(text);
  });

  test('maxPayload: a longer message closes with 1009', async () => {
    const { url } = await startH2({ maxPayload: 100 });
    const client = await h2Session(url);
    const socket = await client.openWebSocket();
    socket.sendFrame(OP.Binary, Buffer.alloc(101));
    expect((await socket.closeFrame()).code).toBe(1009);
    socket.sendClose(1009);
    socket.stream.end();
    expect(await socket.closed).toBe(constants.NGHTTP2_NO_ERROR);
  });

  test('heartbeat: pings go over the stream; a peer that never answers is terminated, one that does stays', async () => {
    const { wss, url } = await startH2({ heartbeatInterval: 100 });
    echoOn(wss);
    const client = await h2Session(url);
    const alive = await client.openWebSocket();
    let answered = 0;
    alive.stream.on('data', () => {
      // Answer every ping the decoder has seen so far (a browser does so at once).
      for (const frame of alive.frames.slice(answered)) {
        if (frame.opcode === OP.Ping) alive.sendFrame(OP.Pong, frame.payload);
      }
      answered = alive.frames.length;
    });
    const dead = await client.openWebSocket();
    const [deadSide] = [...wss.clients].slice(1);
    const deadClosed = closeOf(deadSide!);
    expect((await dead.nextFrame()).opcode).toBe(OP.Ping);
    const [code, , wasClean, cause] = await deadClosed;
    expect([code, wasClean, cause]).toEqual([1006, false, 'heartbeat-timeout']);
    await dead.closed;
    expect(dead.frames.map((frame) => frame.opcode)).not.toContain(OP.Close);
    expect(alive.isClosed).toBe(false);
    // Its second ping may arrive after the other stream's reset: the pings
    // of one tick leave at its end, and streams are not ordered between them.
    await vi.waitFor(() => expect(answered).toBeGreaterThanOrEqual(2), { timeout: 2000 });
    expect(await echoText(alive, 'still here')).toBe('still here');
  });
});

describe('limits, shutdown and stats over HTTP/2', () => {
  test('maxConnections: one more is refused 503 on its stream', async () => {
    const { url } = await startH2({ maxConnections: 1 });
    const client = await h2Session(url);
    await client.openWebSocket();
    const refused = client.open();
    expect((await refused.response).status).toBe(503);
  });

  test('drain: 1012 with the retry-after hint; a CONNECT meanwhile is 503 with Retry-After', async () => {
    const { wss, url } = await startH2();
    const client = await h2Session(url);
    const socket = await client.openWebSocket();
    const drained = wss.drain({ window: 10, retryAfter: 3, timeout: 2000 });
    const frame = await socket.closeFrame();
    expect(frame).toEqual({ code: 1012, reason: 'retry-after=3' });
    const refused = client.open();
    const response = await refused.response;
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('3');
    socket.sendClose(1012);
    socket.stream.end();
    await drained;
  });

  test('close(): 1001 to every stream, prompt once the peer answers, and the session lives on', async () => {
    const { wss, url } = await startH2();
    const client = await h2Session(url);
    const socket = await client.openWebSocket();
    const started = performance.now();
    const closed = wss.close();
    expect((await socket.closeFrame()).code).toBe(1001);
    socket.sendClose(1001);
    socket.stream.end();
    await closed;
    expect(await socket.closed).toBe(constants.NGHTTP2_NO_ERROR);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(await client.get('/')).toEqual({ status: 200, body: 'page' });
  });

  test('memory budget: over it, a CONNECT is refused 503 with Retry-After', async () => {
    const KiB64 = 64 * 1024;
    const { wss, url } = await startH2({ memoryBudget: KiB64, maxPayload: KiB64 });
    const client = await h2Session(url);
    // Two peers each declare a 64 KiB message and stall a byte short of it.
    for (let i = 0; i < 2; i++) {
      const socket = await client.openWebSocket();
      socket.write(maskedHeader16(OP.Binary, KiB64 - 1));
      socket.write(Buffer.alloc(KiB64 - 2));
    }
    await until(() => wss.stats().memory.exceeded);
    const refused = client.open();
    const response = await refused.response;
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    await refused.closed;
    expect(refused.body).toBe('Server is over its memory budget');
  });

  test('stats(): handshakes accepted and rejected, wire bytes each way counted on streams', async () => {
    const { wss, url } = await startH2({ allowedOrigins: ['https://app.example'] });
    echoOn(wss);
    const client = await h2Session(url);
    expect((await client.open({ headers: { origin: 'https://x.example' } }).response).status).toBe(
      403,
    );
    const socket = await client.openWebSocket({ headers: { origin: 'https://app.example' } });
    expect(await echoText(socket, 'x'.repeat(200))).toBe('x'.repeat(200));
    const stats = wss.stats();
    expect(stats.handshakes).toEqual({ accepted: 1, rejected: 1 });
    expect(stats.messages).toEqual({ received: 1, sent: 1 });
    // 200 bytes with a 2-byte length, masked (client) and not (server).
    expect(stats.bytes.received).toBe(2 + 2 + 4 + 200);
    expect(stats.bytes.sent).toBe(2 + 2 + 200);
    await socket.close();
    const after = wss.stats();
    expect(after.bytes.received).toBe(208 + 2 + 4 + 2);
    expect(after.bytes.sent).toBe(204 + 2 + 2);
    expect(after.closes['peer-close']).toBe(1);
  });

  test('topics: publish reaches subscribers over HTTP/1.1 and HTTP/2 alike', async () => {
    const { wss, url } = await startH2();
    wss.on('connection', (ws) => ws.subscribe('news'));
    const h1 = await h1Client(url);
    const client = await h2Session(url);
    const socket = await client.openWebSocket();
    await until(() => wss.subscriberCount('news') === 2);
    const h1Message = nextEmit<[Buffer]>(h1, 'message');
    expect(wss.publish('news', 'extra')).toBe(2);
    expect(await socket.nextText()).toBe('extra');
    expect((await h1Message)[0].toString()).toBe('extra');
  });
});

describe('sessions over HTTP/2', () => {
  test('a session begun over HTTP/2 resumes over HTTP/1.1 and back', async () => {
    const { wss, url } = await startH2({ sessions: true });
    const sessions: ServerSession[] = [];
    const resumedOver: boolean[] = [];
    wss.on('session', (session, request) => {
      sessions.push(session);
      resumedOver.push(isHttp2Request(request));
      session.on('resume', (again) => resumedOver.push(isHttp2Request(again)));
    });
    const client = await h2Session(url);
    const first = await client.openWebSocket({
      headers: { 'sec-websocket-protocol': SESSION_PROTOCOL },
    });
    first.sendFrame(OP.Text, encodeSessionControl({ type: 'hello' }));
    const ready = decodeSessionControl(await first.nextText());
    expect(ready.type).toBe('ready');
    const id = (ready as { id: string }).id;
    await until(() => sessions.length === 1);
    sessions[0]!.send('one');
    expect(await first.nextText()).toBe('one');
    first.reset();

    // Over HTTP/1.1 with the same id: the second message arrives there.
    const h1 = new WebSocket(url.replace('https:', 'wss:'), [SESSION_PROTOCOL], { ca: cert });
    h1.on('error', () => {});
    onCleanup(() => h1.terminate());
    await nextEmit(h1, 'open');
    const h1Messages: string[] = [];
    h1.on('message', (data: Buffer) => h1Messages.push(data.toString()));
    h1.send(encodeSessionControl({ type: 'resume', id, received: 1, acked: 0 }));
    await until(() => h1Messages.length === 1);
    expect(decodeSessionControl(h1Messages[0]!).type).toBe('ready');
    sessions[0]!.send('two');
    await until(() => h1Messages.length === 2);
    expect(h1Messages[1]).toBe('two');
    h1.terminate();

    const back = await client.openWebSocket({
      headers: { 'sec-websocket-protocol': SESSION_PROTOCOL },
    });
    back.sendFrame(OP.Text, encodeSessionControl({ type: 'resume', id, received: 2, acked: 0 }));
    expect(decodeSessionControl(await back.nextText()).type).toBe('ready');
    sessions[0]!.send('three');
    expect(await back.nextText()).toBe('three');
    expect(sessions).toHaveLength(1);
    expect(resumedOver).toEqual([true, false, true]);
  });
});

describe('refusals on the stream', () => {
  test('another Sec-WebSocket-Version: 426 naming 13; none: 400', async () => {
    const { url } = await startH2();
    const client = await h2Session(url);
    const other = await client.open({ headers: { 'sec-websocket-version': '8' } }).response;
    expect(other.status).toBe(426);
    expect(other.headers['sec-websocket-version']).toBe('13');
    const none = await client.open({ headers: { 'sec-websocket-version': undefined } }).response;
    expect(none.status).toBe(400);
  });

  test('a CONNECT with another :protocol is not ours: 405 as node answers it', async () => {
    const { wss, url } = await startH2();
    const connections = vi.fn();
    wss.on('connection', connections);
    const client = await h2Session(url);
    const response = await client.open({ headers: { ':protocol': 'webtransport' } }).response;
    expect(response.status).toBe(405);
    expect(connections).not.toHaveBeenCalled();
  });

  test('a path no attached server serves is 404, answered once; each of two servers gets its own path', async () => {
    const { h2, wss, url } = await startH2({ path: '/a' });
    const b = new WebSocketServer<undefined, UpgradeRequest>({ server: h2, path: '/b' });
    onCleanup(() => b.close({ timeout: 100 }));
    const seen: string[] = [];
    wss.on('connection', () => seen.push('a'));
    b.on('connection', () => seen.push('b'));
    const client = await h2Session(url);
    await client.openWebSocket({ path: '/b' });
    await client.openWebSocket({ path: '/a?x=1' });
    const missing = client.open({ path: '/c' });
    expect((await missing.response).status).toBe(404);
    await missing.closed;
    expect(missing.body).toBe('No WebSocket endpoint at this path');
    expect(seen).toEqual(['b', 'a']);
  });

  test('a foreign connect listener keeps the streams no WebSocketServer serves', async () => {
    const { h2, url } = await startH2({ path: '/ws' });
    h2.on('connect', (request: Http2ServerRequest, response: Http2ServerResponse) => {
      if (request.url === '/tunnel') {
        response.writeHead(200);
        response.end('tunnel');
      }
    });
    const client = await h2Session(url);
    const tunnel = client.open({ path: '/tunnel' });
    let body = '';
    tunnel.stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
    expect((await tunnel.response).status).toBe(200);
    await tunnel.closed;
    expect(body).toBe('tunnel');
    await client.openWebSocket({ path: '/ws' });
  });
});

describe('both ways node reports an extended CONNECT', () => {
  test('without a request handler (stream events only), pages served by a stream listener', async () => {
    const { h2, wss, url } = await startH2({ path: '/ws' }, null);
    h2.on('stream', (stream, headers) => {
      // An application serving its pages leaves the WebSocket CONNECTs alone.
      if (headers[':method'] === 'CONNECT') return;
      stream.respond({ ':status': 200 });
      stream.end('page');
    });
    echoOn(wss);
    const requests: UpgradeRequest[] = [];
    wss.on('connection', (_ws, request) => requests.push(request));
    const client = await h2Session(url);
    const socket = await client.openWebSocket({ path: '/ws' });
    expect(await echoText(socket, 'no handler')).toBe('no handler');
    expect(await client.get('/')).toEqual({ status: 200, body: 'page' });
    expect(requests.map((r) => [r.httpVersionMajor, r.url, isHttp2Request(r)])).toEqual([
      [2, '/ws', true],
    ]);
    const missing = client.open({ path: '/elsewhere' });
    expect((await missing.response).status).toBe(404);
    const h1 = await h1Client(`${url}/ws`);
    expect(h1.readyState).toBe(WebSocket.OPEN);
  });
});

describe('closing, continued', () => {
  test('terminate() ends only that stream; the other WebSockets and pages go on', async () => {
    const { wss, url } = await startH2();
    echoOn(wss);
    const client = await h2Session(url);
    const first = await client.openWebSocket();
    const second = await client.openWebSocket();
    const [firstSide] = wss.clients;
    const closed = closeOf(firstSide!);
    firstSide!.terminate();
    const [code, , wasClean, cause] = await closed;
    expect([code, wasClean, cause]).toEqual([1006, false, 'terminated']);
    // The stream's abort, as a TCP reset is the connection's (RFC 8441 §5: CANCEL).
    expect(await first.closed).toBe(constants.NGHTTP2_CANCEL);
    expect(first.frames).toEqual([]);
    expect(await echoText(second, 'unharmed')).toBe('unharmed');
    expect(await client.get('/')).toEqual({ status: 200, body: 'page' });
  });

  test('the client resetting its stream: 1006 on the server and nothing else', async () => {
    const { wss, url } = await startH2();
    echoOn(wss);
    const errors = vi.fn();
    wss.on('error', errors);
    const client = await h2Session(url);
    const first = await client.openWebSocket();
    const second = await client.openWebSocket();
    const [firstSide] = wss.clients;
    firstSide!.on('error', errors);
    const closed = closeOf(firstSide!);
    first.reset();
    const [code, , wasClean, cause] = await closed;
    expect([code, wasClean, cause]).toEqual([1006, false, 'connection-lost']);
    expect(await echoText(second, 'unharmed')).toBe('unharmed');
    expect(await client.get('/')).toEqual({ status: 200, body: 'page' });
    expect(errors).not.toHaveBeenCalled();
  });

  test('a closed WebSocketServer no longer serves the HTTP/2 server', async () => {
    const { h2, wss, url } = await startH2();
    await wss.close();
    expect(h2.listenerCount('stream')).toBe(1); // node's compatibility layer only
    expect(h2.listenerCount('connect')).toBe(0);
    const client = await h2Session(url);
    // Unheard, node answers a CONNECT 405 itself.
    expect((await client.open().response).status).toBe(405);
  });
});

describe('h2c (HTTP/2 without TLS)', () => {
  test('a cleartext node:http2 server serves extended CONNECT to clients that speak h2c', async () => {
    const h2c = createH2cServer(pages);
    const wss = new WebSocketServer<undefined, UpgradeRequest>({ server: h2c });
    echoOn(wss);
    onCleanup(async () => {
      await wss.close({ timeout: 100 });
      await new Promise<void>((resolve) => h2c.close(() => resolve()));
    });
    h2c.listen(0, '127.0.0.1');
    await nextEmit(h2c, 'listening');
    const port = (h2c.address() as AddressInfo).port;
    const client = await RawH2Session.connect(`http://127.0.0.1:${port}`);
    expect(client.enableConnectProtocol).toBe(true);
    const socket = await client.openWebSocket();
    expect(await echoText(socket, 'cleartext')).toBe('cleartext');
    expect(await socket.close()).toEqual({ code: 1000, rstCode: constants.NGHTTP2_NO_ERROR });
  });
});
