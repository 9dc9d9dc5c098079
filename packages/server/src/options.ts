import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { UpgradeRequest } from './request.js';
import type { Http2SecureServer, Http2Server } from 'node:http2';
import type { Server as HttpsServer } from 'node:https';
import {
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_HEADER_COUNT,
  DEFAULT_MAX_HEAD_SIZE,
  DEFAULT_MAX_PAYLOAD,
  booleanOption,
  functionOption,
  integerOption,
  knownOptions,
  maxPayloadOption,
  oneOf,
  optionError,
  stringOption,
} from '@proj/protocol';
import {
  type DeflateOptions,
  type ResolvedDeflateOptions,
  resolveDeflateOptions,
} from '@proj/deflate';
import { originAllowList } from './origin.js';
import type { Rejection } from './rejection.js';
import type { PubSubAdapter } from './pubsub-adapter.js';
import {
  type ResolvedSessionOptions,
  type SessionOptions,
  resolveSessionOptions,
} from './session-options.js';

/** What the `authenticate` hook learns about a handshake before deciding. */
export interface HandshakeInfo {
  /** The `Origin` header, when the client sent one (browsers always do). */
  readonly origin: string | undefined;
  /** Subprotocols the client offered, in its order of preference. */
  readonly protocols: readonly string[];
  /** Whether the connection is TLS (`wss:`). */
  readonly secure: boolean;
}

/** `authenticate` itself: see {@link AuthenticateOption}. */
export type Authenticate<Data, Request extends UpgradeRequest = IncomingMessage> = (
  request: Request,
  info: HandshakeInfo,
) => Data | Rejection | Promise<Data | Rejection>;

/**
 * The `authenticate` option: optional while `Data` may be `undefined`, and
 * required once the server is typed with connection data
 * (`new WebSocketServer<{ user: string }>(...)`), since only it can give
 * `socket.data` a value.
 */
export type AuthenticateOption<
  Data,
  Request extends UpgradeRequest = IncomingMessage,
> = undefined extends Data
  ? {
      /**
       * Decides whether to accept a handshake that passed the RFC 6455 checks:
       * return (or resolve to) the connection's `data`, or a {@link reject}ion
       * with status, headers and body. A throw answers 500 and is reported
       * (the server's `error` event, else a process warning). Runs before the
       * 101 is written, within `handshakeTimeout`.
       */
      authenticate?: Authenticate<Data, Request> | undefined;
    }
  : {
      /** Required when the server is typed with connection data; see above. */
      authenticate: Authenticate<Data, Request>;
    };

/**
 * Options of a {@link WebSocketServer}. Give exactly one of `port`, `server`
 * or `noServer: true`. Unknown keys are refused with a `TypeError` naming
 * them (ws's names say what to use instead).
 *
 * @typeParam Data - what `authenticate` attaches to each connection as `socket.data`.
 * @typeParam Request - the handshake request the hooks and events see:
 *   `IncomingMessage` (HTTP/1.1), or {@link UpgradeRequest} for a server
 *   attached to a `node:http2` server, whose requests may also be
 *   `Http2ServerRequest`s.
 */
export type ServerOptions<
  Data = undefined,
  Request extends UpgradeRequest = IncomingMessage,
> = ServerSettings<Request> & AuthenticateOption<Data, Request>;

/** A server a WebSocketServer can attach to: `node:http`, `node:https` or `node:http2`. */
export type AttachableServer = HttpServer | HttpsServer | Http2SecureServer | Http2Server;

/**
 * The servers `server` accepts for a request type: `node:http(s)` ones for
 * `IncomingMessage`, `node:http2` ones too once the request type admits an
 * `Http2ServerRequest`.
 */
export type AttachableServerFor<Request extends UpgradeRequest> = [Request] extends [
  IncomingMessage,
]
  ? HttpServer | HttpsServer
  : AttachableServer;

/** Every option of {@link ServerOptions} but `authenticate`. */
export interface ServerSettings<Request extends UpgradeRequest = IncomingMessage> {
  /** Standalone mode: listen on this port (0 picks a free one). */
  port?: number;
  /** Standalone mode: the address to bind. Default: all interfaces, as `node:http`. */
  host?: string;
  /**
   * Standalone mode: the listen queue, connections the kernel has completed
   * that the server has not accepted yet (`listen(2)`'s backlog; Linux caps
   * it at `net.core.somaxconn`). Node accepts one connection per turn of its
   * event loop, so a busy server taking many reconnects at once (the node
   * another one drains to) can fill the default queue; past it the kernel
   * drops their SYNs and each client's TCP retries a second or more later,
   * in bunches. Default 511, as `node:http`. With `server` or `noServer`,
   * the server you listen with sets its own.
   */
  backlog?: number;
  /**
   * Attached mode: serve the WebSocket handshakes of this existing server.
   * A `node:http` or `node:https` server: its `upgrade` events. A `node:http2`
   * server: its RFC 8441 extended CONNECT streams (the WebSocketServer turns
   * on `SETTINGS_ENABLE_CONNECT_PROTOCOL` with `server.updateSettings`), and with `allowHTTP1: true` its
   * HTTP/1.1 upgrades too, on the same port and to the same handlers
   * (`isHttp2Request(request)` says which carried a connection). For a
   * `node:http2` server, type the server with the request union:
   * `new WebSocketServer<undefined, UpgradeRequest>({ server })`.
   */
  server?: AttachableServerFor<Request>;
  /** No-server mode: call {@link WebSocketServer.handleUpgrade} from your own `upgrade` handler. */
  noServer?: boolean;
  /**
   * Accept only upgrades whose path (without the query) equals this.
   * Others get 404 (standalone), or are left to other `upgrade` listeners
   * (attached). Default: any path.
   */
  path?: string;
  /**
   * Origins allowed to connect, checked against the `Origin` header: a list
   * of origins (e.g. `"https://app.example.com"`, `"https://*.example.com"`;
   * see {@link originAllowList}), or a predicate. Others get 403. Requests
   * without `Origin` (non-browser clients) pass the list form; a predicate
   * sees `undefined`. Default: every origin.
   */
  allowedOrigins?: readonly string[] | ((origin: string | undefined, request: Request) => boolean);
  /**
   * Subprotocols this server speaks. The first one the client offers (in the
   * client's order) that is listed here is chosen. Ignored when
   * `handleProtocols` is given. Default: none, so no subprotocol is chosen
   * (ws picks the client's first; a server should only agree to a protocol
   * it speaks, so here a client's offer that nothing answers is reported once
   * per server as a process warning).
   */
  protocols?: readonly string[];
  /**
   * Chooses the subprotocol from those offered, as ws calls it: a `Set` in
   * the client's order of preference. Return one of them, or `false` (or
   * `undefined`) for none. Returning a value that was not offered is an
   * error (500, reported).
   */
  handleProtocols?: (offered: ReadonlySet<string>, request: Request) => string | false | undefined;
  /** Adds or changes header fields of the 101 response (the 200, over HTTP/2). */
  headers?: (headers: Record<string, string | string[]>, request: Request) => void;
  /**
   * Largest message in bytes, summed over fragments; larger closes with 1009.
   * `Infinity` for no limit (not for a public server). `0` is refused: ws
   * reads it as "no limit", which it is not here. Default 16 MiB.
   */
  maxPayload?: number;
  /** Most frames in one message; more closes with 1008. Default 131,072. */
  maxFragments?: number;
  /**
   * Lend each message's bytes to the `message` listeners instead of giving
   * them a copy: a binary message's `Buffer` is then valid only until the
   * listeners return, after which its memory holds the next read. Saves a
   * copy and an allocation per message (measured in the README's "Lent
   * messages"). Copy what you keep past the listener (`Buffer.from(data)`);
   * passing it to `send`, `publish` or `broadcast` inside the listener is
   * safe, as they copy what they cannot send at once. Text arrives as a
   * string either way. Applies, over plain TCP, to unfragmented messages of
   * at least 64 bytes that arrive whole in one read, and to messages of at
   * least 16 KiB that are
   * gathered from several reads or frames (into buffers the server recycles;
   * up to 16 MiB of free ones are kept); others are copied as without it,
   * and so are sessions' messages. Default `false`.
   */
  lendMessages?: boolean;
  /**
   * Largest handshake head (request line and headers) in bytes; larger gets
   * 431. Applies in standalone mode, where this server owns the HTTP parser.
   * Default 16 KiB.
   */
  maxHeadSize?: number;
  /**
   * Most header fields in a handshake request; more gets 431. In standalone
   * mode Node's parser stops reading fields just past it; in the other modes
   * your HTTP server's own `maxHeadersCount` (2,000 by default) applies first.
   * Default 100.
   */
  maxHeaderCount?: number;
  /**
   * Most connections at once: open and closing ones (`clients`) plus
   * handshakes in progress. Further upgrades get 503. Default: unlimited.
   */
  maxConnections?: number;
  /**
   * Close a connection that received nothing (no frame, not even a pong) for
   * this many ms with 1001 `"Idle timeout"`; it is destroyed if it has not
   * answered within `closeTimeout`. Checked by one server-wide sweep, so it
   * fires between this and 1.25 times this (at most 1 s more) after the last
   * byte. Time spent paused (`socket.pause()`) does not count. 0 turns it off.
   * Default 0.
   */
  idleTimeout?: number;
  /**
   * Most bytes queued for one connection but not yet handed to the kernel
   * (its `bufferedAmount`). A `send` that would push the queue past it is
   * refused as `backlogPolicy` says. A message always fits an empty queue, so
   * one larger than the cap can still be sent. Automatic pongs are not queued
   * past it. Default 16 MiB.
   */
  maxBacklog?: number;
  /**
   * What a `send` over `maxBacklog` does. `'close'`: the message is dropped
   * and the connection closed with 1008 `"Backlog limit exceeded"` (destroyed
   * if it cannot drain within `closeTimeout`). `'reject'`: only that message
   * is dropped and the connection stays open. Either way `send` returns
   * `false` and its callback gets an error with code
   * `WS_ERR_BACKLOG_EXCEEDED`. Default `'close'`.
   */
  backlogPolicy?: BacklogPolicy;
  /**
   * Most bytes all of this server's connections may hold for later, together:
   * partly received messages, compressed messages being inflated, and sends
   * queued past a socket's 16 KiB high-water mark. Over it, until the bytes
   * fall to three quarters of it, the server stops reading from the
   * connections that hold the most unfinished input (TCP flow control pushes
   * back on their peers), applies `backlogPolicy` to the slowest consumers
   * first, and answers new handshakes 503 with `Retry-After`; connections
   * that hold little go on being served. `Infinity` turns the budget off
   * (nothing is counted); 0 is refused. At least `maxPayload`, or a message
   * of that size could never be received (with `maxPayload: Infinity`, a
   * message larger than the budget cannot be either). Reported by
   * `stats().memory` and the `memoryPressure` diagnostics channel. Default
   * 256 MiB, or `maxPayload` if that is larger.
   */
  memoryBudget?: number;
  /**
   * Milliseconds for a handshake to complete: receiving the head (standalone
   * mode) plus `authenticate`. A client that trickles its head is dropped.
   * Default 10,000.
   */
  handshakeTimeout?: number;
  /**
   * Milliseconds to wait for the peer to close after our close frame (or a
   * failure) before destroying the socket. Default 10,000.
   */
  closeTimeout?: number;
  /**
   * Ping every connection at this interval (ms) and terminate one that has
   * not answered the previous ping. 0 turns the heartbeat off. Default 0,
   * or the sessions' `keepAlive` when `sessions` is on.
   */
  heartbeatInterval?: number;
  /**
   * permessage-deflate (RFC 7692): `true` or options to accept browsers' and
   * clients' offers. Off by default: each compressing connection holds zlib
   * contexts (up to ~300 KiB with context takeover and 15-bit windows; see
   * the README's measurements), which a server with many connections must
   * budget for. `maxPayload` then counts inflated bytes. Default `false`.
   */
  perMessageDeflate?: boolean | DeflateOptions;
  /**
   * Carries `publish` to the subscribers on other nodes (processes or
   * machines), e.g. `RedisAdapter` from `@proj/redis`. Closed by `close()`.
   * Default: a `MemoryAdapter` (this process only).
   */
  adapter?: PubSubAdapter;
  /**
   * Resumable sessions (`docs/session-protocol.md`): `true` or settings. A
   * client that offers the `proj-session.v1` subprotocol gets a session,
   * emitted as `session` instead of `connection`, whose messages arrive
   * exactly once and in order across lost connections. Default: off.
   */
  sessions?: boolean | SessionOptions;
}

/** What a `send` over `maxBacklog` does; see {@link ServerOptions.backlogPolicy}. */
export type BacklogPolicy = 'close' | 'reject';

/** Options after defaults and validation. */
export interface ResolvedOptions<Data> extends Omit<ServerSettings<UpgradeRequest>, 'sessions'> {
  readonly authenticate?: Authenticate<Data, UpgradeRequest> | undefined;
  /** An array given is compiled with {@link originAllowList}. */
  readonly allowedOrigins?:
    ((origin: string | undefined, request: UpgradeRequest) => boolean) | undefined;
  readonly maxPayload: number;
  readonly maxFragments: number;
  readonly lendMessages: boolean;
  readonly maxHeadSize: number;
  readonly maxHeaderCount: number;
  readonly maxConnections: number;
  readonly idleTimeout: number;
  readonly maxBacklog: number;
  readonly backlogPolicy: BacklogPolicy;
  /** The listen queue of standalone mode (unused in the other modes). */
  readonly backlog: number;
  readonly memoryBudget: number;
  readonly handshakeTimeout: number;
  readonly closeTimeout: number;
  readonly heartbeatInterval: number;
  /** permessage-deflate settings, `null` when off. */
  readonly deflate: ResolvedDeflateOptions | null;
  /** Resumable sessions' settings, `null` when off. */
  readonly sessions: ResolvedSessionOptions | null;
}

/** Defaults, documented in the README's options table. */
export const DEFAULTS = {
  // node:http's own default (and ws's), so that standalone mode listens as before.
  backlog: 511,
  maxPayload: DEFAULT_MAX_PAYLOAD,
  maxFragments: DEFAULT_MAX_FRAGMENTS,
  maxHeadSize: DEFAULT_MAX_HEAD_SIZE,
  maxHeaderCount: DEFAULT_MAX_HEADER_COUNT,
  maxConnections: Infinity,
  idleTimeout: 0,
  //
  // A producer that respects backpressure (waits for `drain` or awaits
  // `sendAsync`) never queues more than the 16 KiB socket high-water mark plus
  // one message, so the cap only stops one that ignores it: typically a
  // broadcast loop feeding a client that stopped reading. 16 MiB matches the
  // default `maxPayload`, what the server already accepts to hold for one
  // peer's message; seconds of updates for a real-time app, yet a hard bound.
  //
  maxBacklog: 16 * 1024 * 1024,
  backlogPolicy: 'close' as BacklogPolicy,
  //
  // Buffers are outside V8's heap, so a fraction of the heap limit would
  // measure the wrong thing; a fixed figure is what an operator can reason
  // about. 256 MiB is 16 messages of the default `maxPayload` in flight at
  // once, and keeps the issue-17 attack (200 connections stalling halfway
  // through 16 MiB messages, 1.6 GB unbudgeted) under 512 MiB of RSS growth
  // with room for what the budget does not count (one socket read past it per
  // connection, zlib, V8). A server that expects more large messages at once
  // raises it; memory of a smaller container lowers it.
  //
  memoryBudget: 256 * 1024 * 1024,
  handshakeTimeout: 10_000,
  closeTimeout: 10_000,
  heartbeatInterval: 0,
} as const;

/**
 * Applies defaults and checks every option.
 * @throws {TypeError} for a wrong type or a missing/ambiguous mode.
 * @throws {RangeError} for a number out of range.
 */
export function resolveOptions<Data>(
  options: ServerOptions<Data, UpgradeRequest>,
): ResolvedOptions<Data> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('WebSocketServer options must be an object');
  }
  knownOptions('WebSocketServer', options, OPTION_NAMES, WS_SERVER_OPTIONS);
  const modes = [
    options.port !== undefined,
    options.server !== undefined,
    options.noServer === true,
  ];
  if (modes.filter(Boolean).length !== 1) {
    throw new TypeError('Exactly one of the "port", "server" or "noServer" options must be given');
  }
  if (options.port !== undefined) integerOption('port', options.port, { min: 0, max: 65535 });
  if (options.host !== undefined) stringOption('host', options.host);
  if (options.backlog !== undefined) {
    if (options.port === undefined) {
      throw new TypeError(
        'The "backlog" option applies only with "port": a server you listen with yourself ' +
          '(the "server" or "noServer" modes) sets its own in listen({ backlog })',
      );
    }
    integerOption('backlog', options.backlog, { min: 1, max: 2 ** 31 - 1 });
  }
  const path: unknown = options.path;
  if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/'))) {
    throw optionError(TypeError, 'path', 'a string starting with "/"', path);
  }
  for (const name of ['authenticate', 'handleProtocols', 'headers'] as const) {
    if (options[name] !== undefined) functionOption(name, options[name]);
  }
  const origins = options.allowedOrigins;
  if (origins !== undefined && typeof origins !== 'function' && !isStringArray(origins)) {
    throw optionError(TypeError, 'allowedOrigins', 'an array of strings or a function', origins);
  }
  let allowedOrigins: ResolvedOptions<Data>['allowedOrigins'];
  try {
    allowedOrigins = origins && typeof origins !== 'function' ? originAllowList(origins) : origins;
  } catch (error) {
    throw new TypeError(`The "allowedOrigins" option: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (options.protocols !== undefined && !isStringArray(options.protocols)) {
    throw optionError(TypeError, 'protocols', 'an array of strings', options.protocols);
  }
  const adapter = options.adapter as Partial<PubSubAdapter> | undefined;
  if (
    adapter !== undefined &&
    (typeof adapter !== 'object' ||
      adapter === null ||
      !(['publish', 'subscribe', 'unsubscribe', 'close', 'on', 'off'] as const).every(
        (name) => typeof adapter[name] === 'function',
      ))
  ) {
    throw optionError(
      TypeError,
      'adapter',
      'an object with publish, subscribe, unsubscribe, close, on and off methods',
      adapter,
    );
  }
  const sessions = resolveSessionOptions(options.sessions);
  const backlogPolicy = oneOf('backlogPolicy', options.backlogPolicy ?? DEFAULTS.backlogPolicy, [
    'close',
    'reject',
  ]);
  const maxPayload = maxPayloadOption(options.maxPayload ?? DEFAULTS.maxPayload);
  return {
    ...options,
    allowedOrigins,
    maxPayload,
    maxFragments: integer(options, 'maxFragments', 1),
    lendMessages:
      options.lendMessages === undefined
        ? false
        : booleanOption('lendMessages', options.lendMessages),
    maxHeadSize: integer(options, 'maxHeadSize', 1024, 1024 * 1024),
    handshakeTimeout: integer(options, 'handshakeTimeout', 1, MAX_TIMER),
    closeTimeout: integer(options, 'closeTimeout', 1, MAX_TIMER),
    // With sessions the pings find dead clients as often as the keep-alive
    // acks prove the server alive: both sides learn of a dead link alike.
    heartbeatInterval: integerOption(
      'heartbeatInterval',
      options.heartbeatInterval ?? sessions?.keepAlive ?? DEFAULTS.heartbeatInterval,
      { min: 0, max: MAX_TIMER },
    ),
    maxHeaderCount: integer(options, 'maxHeaderCount', 1, 100_000),
    maxConnections: integerOption(
      'maxConnections',
      options.maxConnections ?? DEFAULTS.maxConnections,
      { min: 1, orInfinity: true },
    ),
    idleTimeout: integer(options, 'idleTimeout', 0, MAX_TIMER),
    maxBacklog: integerOption('maxBacklog', options.maxBacklog ?? DEFAULTS.maxBacklog, {
      min: 0,
      orInfinity: true,
    }),
    deflate: resolveDeflateOptions(options.perMessageDeflate, false),
    backlogPolicy,
    backlog: options.backlog ?? DEFAULTS.backlog,
    // The default grows to a larger finite `maxPayload`; a budget given must cover it.
    memoryBudget:
      options.memoryBudget === undefined
        ? Math.max(DEFAULTS.memoryBudget, maxPayload === Infinity ? 0 : maxPayload)
        : memoryBudgetOption(options.memoryBudget, maxPayload),
    sessions,
  };
}

/**
 * Checks `memoryBudget`: an integer of at least `maxPayload` (and 1), or
 * `Infinity` for none. 0 is refused rather than read as "no limit".
 */
function memoryBudgetOption(value: unknown, maxPayload: number): number {
  if (value === 0) {
    throw new RangeError(
      'The "memoryBudget" option must be an integer of at least 1 or Infinity, got 0 ' +
        '(Infinity turns the budget off, not advised on a public endpoint)',
    );
  }
  const budget = integerOption('memoryBudget', value, { min: 1, orInfinity: true });
  if (budget < maxPayload && maxPayload !== Infinity) {
    throw new RangeError(
      `The "memoryBudget" option must be at least "maxPayload" (${maxPayload}), got ${budget}: ` +
        'a message of that size could never be received',
    );
  }
  return budget;
}

/** Every key {@link ServerOptions} has. */
const OPTION_NAMES = [
  'port',
  'host',
  'backlog',
  'server',
  'noServer',
  'path',
  'authenticate',
  'allowedOrigins',
  'protocols',
  'handleProtocols',
  'headers',
  'maxPayload',
  'maxFragments',
  'lendMessages',
  'maxHeadSize',
  'maxHeaderCount',
  'maxConnections',
  'idleTimeout',
  'maxBacklog',
  'backlogPolicy',
  'memoryBudget',
  'handshakeTimeout',
  'closeTimeout',
  'heartbeatInterval',
  'perMessageDeflate',
  'adapter',
  'sessions',
] as const satisfies readonly (keyof ServerOptions<unknown>)[];

/** ws's server options that have no key of the same name here, and what to do instead. */
const WS_SERVER_OPTIONS: Readonly<Record<string, string>> = {
  verifyClient:
    'use "authenticate" (return the connection\'s data to accept, or reject(401) to refuse)',
  clientTracking: '"clients" is always kept; remove it',
  skipUTF8Validation: 'text is always validated (RFC 6455 §8.1); remove it',
  autoPong: 'pings are always answered (RFC 6455 §5.5.2); remove it',
  allowSynchronousEvents: 'events are always emitted as soon as each message is parsed; remove it',
  WebSocket: 'a custom connection class is not supported; keep per-connection state in socket.data',
  maxBufferedChunks: 'a message is bounded by "maxPayload" and "maxFragments"; remove it',
  maxPendingAutoPongs: 'automatic pongs are never queued past "maxBacklog"; remove it',
};

/** The longest delay Node's timers take. */
const MAX_TIMER = 2 ** 31 - 1;

/** The options that are plain integers in a range, each with a default. */
type IntegerName =
  | 'maxFragments'
  | 'maxHeadSize'
  | 'maxHeaderCount'
  | 'idleTimeout'
  | 'handshakeTimeout'
  | 'closeTimeout';

/** Option `name` as given (its default when unset), checked to be an integer in min..max. */
function integer(
  options: { readonly [K in IntegerName]?: unknown },
  name: IntegerName,
  min: number,
  max?: number,
): number {
  return integerOption(name, options[name] ?? DEFAULTS[name], { min, max });
}

function isStringArray(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
