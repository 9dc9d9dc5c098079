/**
 * A real `@proj/server` on 127.0.0.1 and a free port, run for one test (or a
 * worker of tests): it hands each connection to the test as a scripted peer,
 * serves the page under test if asked, and stops, starts and restarts on the
 * same port so that a client's reconnection can be tested.
 */
import {
  type IncomingMessage,
  type RequestListener,
  type Server as HttpServer,
  createServer,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ServerOptions, WebSocketServer } from '@proj/server';
import { ServerClosedError, WaitTimeoutError } from './errors.js';
import { type Parse, type ParseOption, type Parsed, parserFor } from './parsers.js';
import { count, listMessages } from './raw-message.js';
import { RecordedConnection, describeClose } from './recorded-connection.js';
import { Peer, type ScriptedPeer, type WaitOptions } from './scripted-peer.js';
import { ChangeSignal, timeoutOption, waitUntil } from './waiting.js';

/** How long a wait lasts unless told otherwise: generous, for loaded CI machines. */
export const DEFAULT_TIMEOUT = 10_000;

/** The options of `@proj/server` that the test server passes on (it chooses the address itself). */
export type WebSocketServerOptions = Omit<
  ServerOptions<unknown>,
  'port' | 'host' | 'server' | 'noServer'
>;

/** Options of {@link startTestServer}: the kit's own, and any of `@proj/server`'s. */
export type TestServerOptions<P extends ParseOption = ParseOption> = WebSocketServerOptions & {
  /**
   * How peers parse messages (see {@link ParseOption}); `waitForConnection`
   * can choose another per peer. Default `'json'`.
   */
  parse?: P;
  /** Default timeout of every wait, in ms. Default 10,000. */
  timeout?: number;
  /**
   * Answers plain HTTP requests to the same port, e.g. the page under test
   * ({@link servePages}). Default: 404 for everything.
   */
  http?: RequestListener;
  /** The port to listen on. Default 0: a free one, kept across restarts. */
  port?: number;
};

/** Options of {@link TestServer.stop} and {@link TestServer.restart}. */
export interface StopOptions {
  /** The close code sent to every client. Default 1001 (going away); `restart()`'s is 1012 (service restart). */
  code?: number;
  /** The close reason. Default none. */
  reason?: string;
  /** Destroy the connections without a close frame, as a crash would (clients see 1006). Default `false`. */
  abrupt?: boolean;
  /** Milliseconds to wait for clients to answer the close frame before destroying them. Default 5,000. */
  timeout?: number;
}

/** Options of {@link TestServer.waitForConnection}. */
export interface WaitForConnectionOptions<P extends ParseOption = ParseOption> extends WaitOptions {
  /** How this peer parses its messages, instead of the server's `parse` option. */
  parse?: P;
}

/** A handshake the server refused (wrong origin, `authenticate` said no, ...). */
export interface RefusedHandshake {
  readonly status: number;
  readonly reason: string;
  /** The request's path and query. */
  readonly url: string;
  /** The request's `Origin`, if any. */
  readonly origin: string | undefined;
}

/**
 * A running test server. `T` is the type of the messages its peers give by
 * default (`unknown` for JSON).
 */
export interface TestServer<T = unknown> {
  /** Where clients connect: `ws://127.0.0.1:PORT/`. */
  readonly url: string;
  /** The same port over HTTP, where the `http` option answers: `http://127.0.0.1:PORT/`. */
  readonly httpUrl: string;
  readonly port: number;
  /** Whether it is listening (not stopped, not closed). */
  readonly isRunning: boolean;
  /**
   * The `@proj/server` of the current run (a new one after each start).
   * @throws {Error} while stopped.
   */
  readonly webSocketServer: WebSocketServer<unknown>;
  /** Connections accepted since the start (or the last {@link reset}), taken or not. */
  readonly connectionCount: number;
  /** Handshakes refused since the start (or the last {@link reset}). */
  readonly refused: readonly RefusedHandshake[];

  /**
   * The next connection not yet taken, as a scripted peer: one that opened
   * before the call counts, so a test never misses one. Each connection is
   * handed out once, in the order they opened.
   * @throws {WaitTimeoutError} (rejects) when none comes in time: the
   *   message says which arrived and which handshakes were refused.
   * @throws {ServerClosedError} (rejects) once the server is closed.
   */
  waitForConnection<P extends ParseOption>(
    options: WaitForConnectionOptions<P> & { parse: P },
  ): Promise<ScriptedPeer<Parsed<P>>>;
  waitForConnection(options?: WaitOptions): Promise<ScriptedPeer<T>>;

  /**
   * Stops: closes every connection (a close frame with `code`, or none with
   * `abrupt`) and stops listening; the port stays reserved for {@link start}
   * only by convention, so start again soon. Does nothing when stopped.
   */
  stop(options?: StopOptions): Promise<void>;
  /**
   * Listens again on the same port, with the same options.
   * @throws {ServerClosedError} (rejects) after {@link close}.
   * @throws {Error} (rejects) when the port was taken meanwhile.
   */
  start(): Promise<void>;
  /** {@link stop} (with 1012, service restart, unless `code` says otherwise), then {@link start}. */
  restart(options?: StopOptions): Promise<void>;
  /**
   * Destroys every connection at once and forgets every connection and
   * refusal, so the next test starts clean; starts the server if stopped.
   */
  reset(): Promise<void>;
  /** Stops for good; pending and later `waitForConnection` calls reject. */
  close(options?: StopOptions): Promise<void>;
  /** Every connection since the start (or reset), with what it received and how it closed: for failure reports. */
  transcript(): string;
}

/**
 * Starts a test server on 127.0.0.1.
 * @throws {TypeError|RangeError} (rejects) for invalid options, the kit's or
 *   `@proj/server`'s (which names them).
 * @example
 * const server = await startTestServer();
 * const ws = new WebSocket(server.url);
 * const peer = await server.waitForConnection();
 * ws.send(JSON.stringify({ hello: 'world' }));
 * expect(await peer.nextMessage()).toEqual({ hello: 'world' });
 * await server.close();
 */
export async function startTestServer<P extends ParseOption = 'json'>(
  options: TestServerOptions<P> = {},
): Promise<TestServer<Parsed<P>>> {
  // The rest goes to `@proj/server`, which refuses (and names) unknown keys.
  const { parse = 'json', timeout, http, port = 0, ...serverOptions } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(
      `The "port" option must be an integer from 0 to 65535, got ${String(port)}`,
    );
  }
  if (http !== undefined && typeof http !== 'function') {
    throw new TypeError(
      `The "http" option must be a request listener function, got ${String(http)}`,
    );
  }
  const server = new TestServerImpl<Parsed<P>>(
    parserFor(parse) as Parse<Parsed<P>>,
    timeoutOption(timeout, DEFAULT_TIMEOUT),
    http ?? notFound,
    serverOptions,
  );
  await server.listen(port);
  return server;
}

const notFound: RequestListener = (_request, response) => {
  response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  response.end('Not found (give the test server an "http" option to serve pages)');
};

/** One run between a start and a stop. */
interface Run {
  readonly http: HttpServer;
  readonly ws: WebSocketServer<unknown>;
}

class TestServerImpl<T> implements TestServer<T> {
  readonly #parse: Parse<T>;
  readonly #timeout: number;
  readonly #http: RequestListener;
  readonly #options: WebSocketServerOptions;
  readonly #changes = new ChangeSignal();
  #records: RecordedConnection[] = [];
  #refused: RefusedHandshake[] = [];
  #nextId = 1;
  #port = 0;
  #run: Run | undefined;
  #closed = false;

  constructor(
    parse: Parse<T>,
    timeout: number,
    http: RequestListener,
    options: WebSocketServerOptions,
  ) {
    this.#parse = parse;
    this.#timeout = timeout;
    this.#http = http;
    this.#options = options;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.#port}/`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.#port}/`;
  }

  get port(): number {
    return this.#port;
  }

  get isRunning(): boolean {
    return this.#run !== undefined;
  }

  get webSocketServer(): WebSocketServer<unknown> {
    if (!this.#run) {
      throw new Error(
        `The test server at ${this.url} is ${this.#closed ? 'closed' : 'stopped: start() it first'}`,
      );
    }
    return this.#run.ws;
  }

  get connectionCount(): number {
    return this.#records.length;
  }

  get refused(): readonly RefusedHandshake[] {
    return this.#refused.slice();
  }

  /** Starts a run on `port` (0 the first time: a free one). */
  async listen(port: number): Promise<void> {
    const http = createServer(this.#http);
    // Throws for invalid options, before anything listens.
    const ws = new WebSocketServer<unknown>({ ...this.#options, server: http });
    ws.on('connection', (socket, request) => {
      // Attached to node:http: every request is an HTTP/1.1 IncomingMessage.
      this.#records.push(
        new RecordedConnection(this.#nextId++, socket, request as IncomingMessage),
      );
      this.#changes.notify();
    });
    ws.on('rejected', (status, reason, request) => {
      this.#refused.push({
        status,
        reason,
        url: request.url ?? '/',
        origin: request.headers.origin,
      });
      this.#changes.notify();
    });
    try {
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, '127.0.0.1', () => {
          http.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      await ws.close({ timeout: 0 });
      throw new Error(
        `The test server could not listen on 127.0.0.1:${port}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    this.#port = (http.address() as AddressInfo).port;
    this.#run = { http, ws };
    this.#changes.notify();
  }

  waitForConnection<P extends ParseOption>(
    options: WaitForConnectionOptions<P> & { parse: P },
  ): Promise<ScriptedPeer<Parsed<P>>>;
  waitForConnection(options?: WaitOptions): Promise<ScriptedPeer<T>>;
  waitForConnection(options: WaitForConnectionOptions = {}): Promise<ScriptedPeer<unknown>> {
    let timeout: number;
    let parse: Parse<unknown>;
    try {
      timeout = timeoutOption(options.timeout, this.#timeout);
      parse = options.parse === undefined ? this.#parse : parserFor(options.parse);
    } catch (error) {
      return Promise.reject(error);
    }
    const expected = `a connection to ${this.url}`;
    return waitUntil<ScriptedPeer<unknown>>({
      signals: [this.#changes],
      timeout,
      check: () => {
        const record = this.#records.find((candidate) => !candidate.taken);
        if (record) {
          record.taken = true;
          return { value: new Peer(record, parse, this.#timeout) };
        }
        if (this.#closed) {
          throw new ServerClosedError(
            `The test server at ${this.url} was closed while waiting for ${expected}.`,
          );
        }
        return undefined;
      },
      timedOut: () =>
        new WaitTimeoutError(
          expected,
          timeout,
          `Timed out after ${timeout} ms waiting for ${expected}.\n${this.#summary()}`,
        ),
    });
  }

  async stop(options: StopOptions = {}): Promise<void> {
    const run = this.#run;
    if (!run) return;
    this.#run = undefined;
    const { code = 1001, reason = '', abrupt = false, timeout = 5_000 } = options;
    // No new TCP connection from here on; the callback waits for every socket.
    const httpClosed = new Promise<void>((resolve) => run.http.close(() => resolve()));
    run.http.closeIdleConnections();
    for (const socket of run.ws.clients) {
      if (abrupt) socket.terminate();
      // A stalled connection could not read the client's answer to our close frame.
      else if (socket.isPaused) socket.resume();
    }
    await run.ws.close({ code, reason, timeout });
    run.http.closeAllConnections();
    await httpClosed;
    this.#changes.notify();
  }

  async start(): Promise<void> {
    if (this.#closed) {
      throw new ServerClosedError(
        `The test server at ${this.url} is closed: it cannot start again.`,
      );
    }
    if (this.#run) return;
    await this.listen(this.#port);
  }

  async restart(options: StopOptions = {}): Promise<void> {
    await this.stop({ code: 1012, ...options });
    await this.start();
  }

  async reset(): Promise<void> {
    const run = this.#run;
    if (run) {
      const open = [...run.ws.clients];
      const closed = open.map(
        (socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())),
      );
      for (const socket of open) socket.terminate();
      await Promise.all(closed);
    }
    this.#records = [];
    this.#refused = [];
    this.#nextId = 1;
    if (!this.#closed) await this.start();
  }

  async close(options: StopOptions = {}): Promise<void> {
    this.#closed = true;
    await this.stop(options);
    this.#changes.notify();
  }

  transcript(): string {
    const lines = [
      `Test server ${this.url} (${this.#closed ? 'closed' : this.#run ? 'running' : 'stopped'}): ${count(this.#records.length, 'connection')}`,
    ];
    for (const record of this.#records) {
      const state = record.closed ? `closed ${describeClose(record.closed)}` : 'open';
      lines.push(`${record.label}, ${state}, received ${count(record.received.length, 'message')}`);
      if (record.received.length > 0) {
        lines.push(
          listMessages(record.received.map((message, index) => ({ number: index + 1, message }))),
        );
      }
    }
    for (const refusal of this.#refused) lines.push(`refused: ${describeRefusal(refusal)}`);
    return lines.join('\n');
  }

  /** What came so far, for a failed waitForConnection. */
  #summary(): string {
    const lines: string[] = [];
    if (this.#records.length === 0) lines.push('No connection arrived.');
    else {
      lines.push(
        `${count(this.#records.length, 'connection')} arrived, each taken by an earlier waitForConnection():`,
        ...this.#records.map(
          (record) =>
            `  ${record.label}, ${record.closed ? `closed ${describeClose(record.closed)}` : 'open'}`,
        ),
      );
    }
    if (this.#refused.length > 0) {
      lines.push(
        `${count(this.#refused.length, 'handshake')} refused:`,
        ...this.#refused.map((refusal) => `  ${describeRefusal(refusal)}`),
      );
    }
    if (this.#closed) lines.push('The server is closed.');
    else if (!this.#run) lines.push('The server is stopped: start() or restart() it.');
    return lines.join('\n');
  }
}

/** `403 Origin not allowed (GET /chat, Origin http://evil.example)`. */
function describeRefusal(refusal: RefusedHandshake): string {
  const origin = refusal.origin === undefined ? '' : `, Origin ${refusal.origin}`;
  return `${refusal.status} ${refusal.reason} (GET ${refusal.url}${origin})`;
}
