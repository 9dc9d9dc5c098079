/**
 * The server of tests/http2.spec.ts (issue #18): one `node:http2` secure
 * server, on 127.0.0.1 and a port from listen(0), that serves the test page
 * AND the built `@proj/server`'s WebSockets on the same port: RFC 8441
 * extended CONNECT streams, and HTTP/1.1 Upgrade through `allowHTTP1`. Its
 * certificate, for `localhost` and 127.0.0.1, is made now with openssl
 * (`@proj/test-utils/certificate`, plain JavaScript: e2e runs the built
 * packages, as an application would).
 *
 * It records, for every page request and every accepted WebSocket, what a
 * test needs to say "the WebSocket rode the page's HTTP/2 connection":
 * `httpVersionMajor`, `:method`, `:protocol`, and the id of the
 * `Http2Session` it came on (ids handed out on the server's `session` event,
 * 1, 2, ... in order). It runs in the test's process; the spec reads
 * `records` and `connections` directly.
 */
import { createHash } from 'node:crypto';
import {
  type Http2SecureServer,
  type Http2Session,
  type ServerHttp2Stream,
  createSecureServer,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import {
  type ServerOptions,
  type ServerWebSocket,
  type UpgradeRequest,
  WebSocketServer,
  isHttp2Request,
} from '@proj/server';
import { makeTestCertificate } from '@proj/test-utils/certificate';

/** What the server saw of one request. */
export interface RequestRecord {
  /** A request the page handler answered, or an accepted WebSocket. */
  kind: 'page' | 'websocket';
  path: string;
  /** 2 over HTTP/2, 1 over HTTP/1.1. */
  httpVersionMajor: number;
  /** The id of the `Http2Session` it came on; `null` over HTTP/1.1. */
  session: number | null;
  /** `:method` over HTTP/2, the request line's method over HTTP/1.1. */
  method: string | undefined;
  /** `:protocol` (RFC 8441 §4); HTTP/2 only. */
  protocol: string | undefined;
  /** The `sec-websocket-extensions` the client offered (WebSockets only). */
  offeredExtensions: string | undefined;
  /** What the server agreed to (WebSockets only). */
  extensions: string | undefined;
}

/** What the server received of one message: text in full, binary as size and checksum. */
export interface ReceivedMessage {
  isBinary: boolean;
  size: number;
  sha256: string;
  text: string | undefined;
}

/** One accepted WebSocket. */
export interface Connection {
  socket: ServerWebSocket<unknown>;
  request: UpgradeRequest;
  record: RequestRecord;
  messages: ReceivedMessage[];
  /** Resolves with the first `count` messages once they arrived. */
  received(count: number): Promise<ReceivedMessage[]>;
  closed: Promise<{ code: number; reason: string; wasClean: boolean }>;
  /**
   * Copies of the bytes the HTTP/2 stream carried each way after the
   * handshake: the WebSocket frames as they crossed (inside HTTP/2 DATA
   * frames, under TLS), for a test that reads RSV1 and the deflated payloads
   * by hand instead of trusting either end's decoder.
   */
  wire: { fromBrowser: Buffer[]; fromServer: Buffer[] };
}

export type Http2WsOptions = Omit<
  ServerOptions<unknown, UpgradeRequest>,
  'server' | 'port' | 'host' | 'noServer'
>;

export interface Http2TestServer {
  /** `https://localhost:PORT`: the page's origin. */
  origin: string;
  /** `wss://localhost:PORT/ws`: where the page's WebSockets connect. */
  wsUrl: string;
  h2: Http2SecureServer;
  wss: WebSocketServer<unknown, UpgradeRequest>;
  /** Every page request and accepted WebSocket, in order. */
  records: RequestRecord[];
  connections: Connection[];
  /** Resolves with the `index`-th accepted WebSocket. */
  connection(index?: number): Promise<Connection>;
  /** Terminates every WebSocket and HTTP/2 session and stops listening. */
  close(): Promise<void>;
}

const sha256 = (data: Uint8Array | string): string =>
  createHash('sha256').update(data).digest('hex');

/** Waiters woken whenever something was added to a list. */
class Waiters {
  readonly #waiters = new Set<() => void>();

  wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  async until(done: () => boolean): Promise<void> {
    while (!done()) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
      });
    }
  }
}

/**
 * Copies what `stream` carries each way from now on. The `data` listener is
 * prepended because the transport's own unmasks payloads in place: one that
 * ran after it would copy unmasked bytes under a header that says "masked".
 * Every frame the server sends goes through the stream's `write`.
 */
function tapStream(stream: ServerHttp2Stream): Connection['wire'] {
  const wire: Connection['wire'] = { fromBrowser: [], fromServer: [] };
  stream.prependListener('data', (chunk: Buffer) => wire.fromBrowser.push(Buffer.from(chunk)));
  const write = stream.write as (...args: unknown[]) => boolean;
  stream.write = function (chunk: Uint8Array, ...rest: unknown[]): boolean {
    wire.fromServer.push(Buffer.from(chunk));
    return write.call(stream, chunk, ...rest);
  } as typeof stream.write;
  return wire;
}

/**
 * Starts the server on 127.0.0.1, port 0.
 * @param files - the page's files: path → [content type, body].
 * @param wsOptions - for `new WebSocketServer`, given the page's origin (for `allowedOrigins`).
 */
export async function startHttp2Server(
  files: Record<string, [contentType: string, body: string]>,
  wsOptions: (origin: string) => Http2WsOptions = () => ({}),
): Promise<Http2TestServer> {
  const records: RequestRecord[] = [];
  const sessionIds = new WeakMap<Http2Session, number>();
  const sessions = new Set<Http2Session>();
  const sessionOf = (request: UpgradeRequest): number | null =>
    isHttp2Request(request) ? (sessionIds.get(request.stream.session!) ?? -1) : null;
  const pathOf = (request: UpgradeRequest): string =>
    new URL(request.url ?? '/', 'https://x').pathname;
  const header = (request: UpgradeRequest, name: string): string | undefined => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };

  const h2 = createSecureServer(
    { ...makeTestCertificate(), allowHTTP1: true },
    (request, response) => {
      const path = pathOf(request);
      records.push({
        kind: 'page',
        path,
        httpVersionMajor: request.httpVersionMajor,
        session: sessionOf(request),
        method: header(request, ':method') ?? request.method,
        protocol: header(request, ':protocol'),
        offeredExtensions: undefined,
        extensions: undefined,
      });
      const file = files[path];
      if (!file) {
        response.writeHead(404).end();
        return;
      }
      response
        .writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' })
        .end(file[1]);
    },
  );
  let lastSessionId = 0;
  h2.on('session', (session) => {
    sessionIds.set(session, ++lastSessionId);
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });

  await new Promise<void>((resolve, reject) => {
    h2.once('error', reject);
    h2.listen(0, '127.0.0.1', () => {
      h2.off('error', reject);
      resolve();
    });
  });
  const { port } = h2.address() as AddressInfo;
  // `localhost` in both URLs, never 127.0.0.1 in one of them: the page and its
  // WebSockets must share an origin and a host name for the browser to put
  // them on one connection.
  const origin = `https://localhost:${port}`;

  // Attached to an HTTP/2 server, it turns SETTINGS_ENABLE_CONNECT_PROTOCOL on itself.
  const wss = new WebSocketServer<unknown, UpgradeRequest>({ ...wsOptions(origin), server: h2 });

  const connections: Connection[] = [];
  const newConnection = new Waiters();
  wss.on('connection', (socket, request) => {
    const record: RequestRecord = {
      kind: 'websocket',
      path: pathOf(request),
      httpVersionMajor: request.httpVersionMajor,
      session: sessionOf(request),
      method: header(request, ':method') ?? request.method,
      protocol: header(request, ':protocol'),
      offeredExtensions: header(request, 'sec-websocket-extensions'),
      extensions: socket.extensions,
    };
    records.push(record);
    // The transport attached its listeners before this event and nothing has
    // been read since the 200, so the tap sees every frame.
    const wire = isHttp2Request(request)
      ? tapStream(request.stream)
      : { fromBrowser: [], fromServer: [] };

    const messages: ReceivedMessage[] = [];
    const newMessage = new Waiters();
    socket.on('message', (data, isBinary) => {
      // `data` may be a view into a reused buffer: summarize it now.
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      messages.push({
        isBinary,
        size: bytes.length,
        sha256: sha256(bytes),
        text: typeof data === 'string' ? data : undefined,
      });
      newMessage.wake();
    });
    const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) =>
      socket.once('close', (code, reason, wasClean) => resolve({ code, reason, wasClean })),
    );
    connections.push({
      socket,
      request,
      record,
      messages,
      closed,
      wire,
      async received(count) {
        await newMessage.until(() => messages.length >= count);
        return messages.slice(0, count);
      },
    });
    newConnection.wake();
  });

  return {
    origin,
    wsUrl: `wss://localhost:${port}/ws`,
    h2,
    wss,
    records,
    connections,
    async connection(index = 0) {
      await newConnection.until(() => connections.length > index);
      return connections[index]!;
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      await wss.close({ timeout: 0 });
      const stopped = new Promise<void>((resolve) => h2.close(() => resolve()));
      for (const session of sessions) session.destroy();
      await stopped;
    },
  };
}
