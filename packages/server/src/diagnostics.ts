/**
 * What the server tells operators, with what Node ships: diagnostics
 * channels (for tracers and metrics), a `NODE_DEBUG=proj-websocket` debug
 * log, the counters behind `server.stats()`, and the report of an error
 * thrown by the application's own code. One module, so that every event is
 * described once and the four views agree.
 * @packageDocumentation
 */
import process from 'node:process';
import { channel } from 'node:diagnostics_channel';
import type { UpgradeRequest } from './request.js';
import { debuglog, inspect } from 'node:util';
import { type MemoryBudget, recycledBytesFree } from '@proj/transport';

/**
 * Why a connection closed, as the server saw it. One taxonomy for the
 * `close` event, `server.stats().closes`, the `close` channel and the debug
 * log:
 *
 * | cause | what happened |
 * | --- | --- |
 * | `peer-close` | the peer started the closing handshake |
 * | `local-close` | the application called `close()` |
 * | `terminated` | the application called `terminate()` |
 * | `connection-lost` | the TCP connection ended without a closing handshake (1006) |
 * | `protocol-error` | the peer broke RFC 6455 or a limit; the close code says which |
 * | `heartbeat-timeout` | no pong (or anything else) within a `heartbeatInterval` |
 * | `idle-timeout` | nothing received for `idleTimeout` |
 * | `backlog-exceeded` | a send would pass `maxBacklog` under `backlogPolicy: 'close'` |
 * | `memory-budget` | over the `memoryBudget`, it stayed unread for a whole eviction interval (1013) |
 * | `user-error` | a listener of this connection threw (1011) |
 * | `server-shutdown` | `server.close()` |
 * | `drain` | `server.drain()`: closed in its turn over the window (1012 with a `retry-after` hint) |
 * | `session-replaced` | a session connection: its session moved to a newer connection (1000) |
 * | `session-window-full` | a session connection: its session was forgotten, its replay log full (1011) |
 * | `session-store-unavailable` | a session connection: the session store failed a `hello` or `resume` (1013) |
 */
export type CloseCause =
  | 'peer-close'
  | 'local-close'
  | 'terminated'
  | 'connection-lost'
  | 'protocol-error'
  | 'heartbeat-timeout'
  | 'idle-timeout'
  | 'backlog-exceeded'
  | 'memory-budget'
  | 'user-error'
  | 'server-shutdown'
  | 'drain'
  | 'session-replaced'
  | 'session-window-full'
  | 'session-store-unavailable';

/** Every {@link CloseCause}, in the table's order. */
export const CLOSE_CAUSES: readonly CloseCause[] = [
  'peer-close',
  'local-close',
  'terminated',
  'connection-lost',
  'protocol-error',
  'heartbeat-timeout',
  'idle-timeout',
  'backlog-exceeded',
  'memory-budget',
  'user-error',
  'server-shutdown',
  'drain',
  'session-replaced',
  'session-window-full',
  'session-store-unavailable',
];

/**
 * Where the application's code threw: a hook of the handshake (500), a
 * listener of the server's `connection` (1011), a listener of one
 * connection (`message`, `ping`, `pong`, `drain`, `close`, `error`), a
 * listener of the server's `session` (the session ends with 1011), or a
 * listener of one session (`message`, `suspend`, `resume`, `drain`, `close`, `error`).
 */
export type UserCodeSite =
  | 'authenticate'
  | 'allowedOrigins'
  | 'handleProtocols'
  | 'headers'
  | 'connection'
  | 'socket-listener'
  | 'session'
  | 'session-listener';

/**
 * A snapshot of one server, from {@link WebSocketServer.stats}. Counts are
 * since the server was created; `connections` is now.
 */
export interface ServerStats {
  /** Open and closing connections now (`clients.size`). */
  readonly connections: number;
  /** Handshakes in progress now (waiting for an asynchronous `authenticate`). */
  readonly pendingHandshakes: number;
  readonly handshakes: {
    /** Answered 101. */
    readonly accepted: number;
    /** Refused with an HTTP status (bad request, origin, `authenticate`, limits, timeouts). */
    readonly rejected: number;
  };
  /** Whole messages: received by `message` listeners, and sent (a broadcast counts each recipient). */
  readonly messages: { readonly received: number; readonly sent: number };
  /**
   * Bytes on the wire, frame headers included, as Node's sockets count
   * them (`bytesRead`, `bytesWritten`), the 101 and closed connections too.
   */
  readonly bytes: { readonly received: number; readonly sent: number };
  /** Closed connections by {@link CloseCause}. */
  readonly closes: Readonly<Record<CloseCause, number>>;
  /** Errors thrown by the application's hooks and listeners. */
  readonly userErrors: number;
  /** Resumable sessions (all zero without the `sessions` option). */
  readonly sessions: SessionStats;
  /** The `memoryBudget` and what counts against it now. */
  readonly memory: MemoryStats;
}

/**
 * The `memory` block of {@link ServerStats}: the `memoryBudget` and the bytes
 * counted against it now (all zero, with `limit: Infinity`, without a budget).
 */
export interface MemoryStats {
  /** The `memoryBudget` option. */
  readonly limit: number;
  /** Bytes counted now: `input` plus `output`. */
  readonly used: number;
  /** Partly received messages, compressed messages being inflated, input waiting while parsing is paused. */
  readonly input: number;
  /** Sends queued past a socket's high-water mark (16 KiB). */
  readonly output: number;
  /** Whether the budget is exceeded now (until `used` falls to three quarters of `limit`). */
  readonly exceeded: boolean;
  /** Connections not being read now because they held the most unfinished input. */
  readonly pausedConnections: number;
  /**
   * Bytes of free buffers kept for the reuse of lent messages that span
   * reads (`lendMessages`), for the whole process: at most 16 MiB, and not
   * counted in `used`.
   */
  readonly recycled: number;
}

/** The `sessions` block of {@link ServerStats}. */
export interface SessionStats {
  /** Sessions this server holds now (`server.sessions.size`): attached plus suspended. */
  readonly held: number;
  /** Held sessions with a connection now. */
  readonly attached: number;
  /** Held sessions waiting for their client to resume. */
  readonly suspended: number;
  /** Sessions started here (`hello`). */
  readonly created: number;
  /** Resumes answered `ready` (on this server, or moved here from another node). */
  readonly resumed: number;
  /** Resumes answered `lost` (unknown, expired or not replayable). */
  readonly lost: number;
  /** Sessions forgotten after `timeout` without a connection. */
  readonly expired: number;
  /** Data messages sent again on a resume. */
  readonly replayedMessages: number;
  /** Data messages from clients that had been delivered already (replays), dropped. */
  readonly duplicatesDiscarded: number;
  /** Store operations that failed (rejected); each is retried or answered as the README says. */
  readonly storeErrors: number;
}

/** Mutable counters, one object per server shared by its connections. */
export class Counters {
  handshakesAccepted = 0;
  handshakesRejected = 0;
  messagesReceived = 0;
  messagesSent = 0;
  /** Bytes of connections already closed; open ones are read off their sockets. */
  closedBytesReceived = 0;
  closedBytesSent = 0;
  userErrors = 0;
  sessionsCreated = 0;
  sessionsResumed = 0;
  sessionsLost = 0;
  sessionsExpired = 0;
  replayedMessages = 0;
  duplicatesDiscarded = 0;
  storeErrors = 0;
  readonly closes: Record<CloseCause, number> = Object.fromEntries(
    CLOSE_CAUSES.map((cause) => [cause, 0]),
  ) as Record<CloseCause, number>;
}

/**
 * The channels, named `proj:websocket:server:<event>`. Subscribe with
 * `diagnostics_channel.subscribe(name, listener)`; a channel without
 * subscribers costs one property read per event.
 */
export const CHANNELS = {
  /** {@link OpenMessage}: a handshake completed. */
  open: 'proj:websocket:server:open',
  /** {@link CloseMessage}: a connection closed, with its cause. */
  close: 'proj:websocket:server:close',
  /** {@link HandshakeRejectedMessage}: a handshake was refused. */
  handshakeRejected: 'proj:websocket:server:handshake-rejected',
  /** {@link BacklogExceededMessage}: a send was refused over `maxBacklog`. */
  backlogExceeded: 'proj:websocket:server:backlog-exceeded',
  /** {@link UserErrorMessage}: the application's code threw. */
  userError: 'proj:websocket:server:user-error',
  /**
   * {@link MemoryPressureMessage}: the `memoryBudget` was exceeded, or the
   * bytes fell back to three quarters of it.
   */
  memoryPressure: 'proj:websocket:server:memory-pressure',
} as const;

/** What every channel message carries. */
interface ChannelMessage {
  /** The `WebSocketServer` it happened on (a process may run several). */
  readonly server: object | undefined;
}

/** Published on {@link CHANNELS}.open. */
export interface OpenMessage extends ChannelMessage {
  readonly socket: object;
  readonly request: UpgradeRequest;
  readonly protocol: string;
  readonly extensions: string;
}

/** Published on {@link CHANNELS}.close. */
export interface CloseMessage extends ChannelMessage {
  readonly socket: object;
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  readonly cause: CloseCause;
}

/** Published on {@link CHANNELS}.handshakeRejected. */
export interface HandshakeRejectedMessage extends ChannelMessage {
  /**
   * The request; `undefined` when node:http refused the head before there
   * was one (standalone mode: malformed 400, over `maxHeadSize` 431, too
   * slow 408).
   */
  readonly request: UpgradeRequest | undefined;
  readonly status: number;
  readonly reason: string;
}

/** Published on {@link CHANNELS}.backlogExceeded. */
export interface BacklogExceededMessage extends ChannelMessage {
  readonly socket: object;
  /** Bytes queued when the send was refused. */
  readonly backlog: number;
  readonly limit: number;
  /** What `backlogPolicy` did: close the connection, or refuse only that send. */
  readonly policy: 'close' | 'reject';
}

/** Published on {@link CHANNELS}.userError. */
export interface UserErrorMessage extends ChannelMessage {
  readonly error: unknown;
  readonly site: UserCodeSite;
  /** The connection, for a `connection` or connection listener (a session's, if it has one). */
  readonly socket: object | undefined;
  /** The session, for a `session` or session listener. */
  readonly session?: object | undefined;
}

/** Published on {@link CHANNELS}.memoryPressure. */
export interface MemoryPressureMessage extends ChannelMessage {
  /** `true` when the budget was just exceeded, `false` when the pressure just ended. */
  readonly exceeded: boolean;
  /** The budget and its counts at that moment. */
  readonly memory: MemoryStats;
}

export const openChannel = channel(CHANNELS.open);
export const closeChannel = channel(CHANNELS.close);
export const handshakeRejectedChannel = channel(CHANNELS.handshakeRejected);
export const backlogExceededChannel = channel(CHANNELS.backlogExceeded);
export const userErrorChannel = channel(CHANNELS.userError);
export const memoryPressureChannel = channel(CHANNELS.memoryPressure);

/** {@link MemoryStats} of a budget now; without one, a limit of `Infinity` and zeros. */
export function memoryStats(budget: MemoryBudget | undefined): MemoryStats {
  if (budget === undefined) {
    return {
      limit: Infinity,
      used: 0,
      input: 0,
      output: 0,
      exceeded: false,
      pausedConnections: 0,
      recycled: recycledBytesFree(),
    };
  }
  return {
    limit: budget.limit,
    used: budget.used,
    input: budget.input,
    output: budget.output,
    exceeded: budget.exceeded,
    pausedConnections: budget.pausedReaders,
    recycled: recycledBytesFree(),
  };
}

/** `NODE_DEBUG=proj-websocket` turns this on (Node's own convention, as `NODE_DEBUG=net`). */
export const debug = debuglog('proj-websocket');

/**
 * Whether the debug log is on (NODE_DEBUG is read once, at startup). Callers
 * test it before building arguments: some cost a syscall (`remoteAddress` is a
 * getpeername), which a handshake must not pay for a log nobody reads.
 */
export const debugging = debug.enabled;

/**
 * Says that the application's code threw, where nobody else will: a
 * process warning with the error's stack (its `detail`), code
 * `WS_USER_CODE_ERROR`. Used when neither the connection nor the server has
 * an `error` listener.
 */
export function warnUserError(error: unknown, site: UserCodeSite, consequence: string): void {
  const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.emitWarning(`A WebSocketServer ${describeSite(site)} threw ${what}; ${consequence}`, {
    code: 'WS_USER_CODE_ERROR',
    detail: inspect(error),
  });
}

function describeSite(site: UserCodeSite): string {
  switch (site) {
    case 'connection':
      return "'connection' listener";
    case 'socket-listener':
      return 'connection listener';
    case 'session':
      return "'session' listener";
    case 'session-listener':
      return 'session listener';
    default:
      return `"${site}" hook`;
  }
}
