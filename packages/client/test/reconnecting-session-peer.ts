/**
 * Peers for the session tests of `ReconnectingWebSocket`: a scripted session
 * server (a `ws` WebSocketServer that selects the session token, while the
 * test speaks the protocol by hand with @proj/protocol's codec; @proj/server
 * hides the session tokens from `handleProtocols`, as a server without
 * `sessions` must), and a TCP proxy that can stall a connection (both directions stop,
 * the TCP connection stays up: what a dead link looks like). Everything is
 * on 127.0.0.1, port 0, and closed after the test.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  type CloseEvent,
  type ReconnectingWebSocket,
  type ReconnectingWebSocketOptions,
} from '@proj/client';
import { type SessionControl, encodeSessionControl, isSessionToken } from '@proj/protocol';
import { onCleanup, until } from '@proj/test-utils';
import { type WebSocket as PeerSocket, WebSocketServer } from 'ws';

/** Builds a control message's wire form. */
export const control = encodeSessionControl;

/** `ready ID RECEIVED KEEPALIVE`. */
export function ready(id: string, received: number, keepAlive = 0): string {
  return encodeSessionControl({ type: 'ready', id, received, keepAlive });
}

/** `ack RECEIVED`. */
export function ack(received: number): string {
  return encodeSessionControl({ type: 'ack', received });
}

/** How the scripted server reads what it receives: control messages decoded for the assertions. */
export function show(message: string): string {
  return message.startsWith('\u0000') && !message.startsWith('\u0000\u0000')
    ? `<${message.slice(1)}>`
    : message;
}

/** One connection to the scripted server. */
export interface ScriptedConnection {
  readonly socket: PeerSocket;
  /** The subprotocol the server selected (`""` for none). */
  readonly protocol: string;
  /** The `Sec-WebSocket-Protocol` offered. */
  readonly offered: string;
  /**
   * Every message received, in order: control messages as `<name args>`,
   * text as is (a data message's NUL escape shows), binary as `bin:<hex>`.
   */
  readonly received: string[];
  /** The text messages received, as they came (binary as `bin:<hex>`). */
  readonly raw: string[];
  /** The close code and reason the server saw. */
  readonly closed: Promise<[number, string]>;
  /** Resolves with `received` once it holds at least `count` messages. */
  receive(count: number): Promise<string[]>;
  /** Sends a text message as is (a control message, or data). */
  send(text: string): void;
  /** Sends a control message. */
  control(message: SessionControl): void;
}

/** The scripted server. */
export interface ScriptedServer {
  readonly server: WebSocketServer;
  readonly port: number;
  readonly url: string;
  /** Every connection, in order. */
  readonly connections: ScriptedConnection[];
  /** The next connection not yet taken. */
  connection(): Promise<ScriptedConnection>;
  /** Closes it now (its clients see 1001 Going Away), freeing the port. */
  close(): Promise<void>;
}

/** What the scripted server selects among the offered subprotocols. */
export type Selection = 'session' | 'plain';

/**
 * Starts a scripted server. `session`: it selects the first session token
 * offered (`proj-session.v1` or `proj-session.v1+<app>`); `plain`: the first
 * other one, or none, as a server without sessions does.
 */
export async function startScripted(
  selection: Selection = 'session',
  port = 0,
): Promise<ScriptedServer> {
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port,
    handleProtocols: (offered) => {
      for (const token of offered) {
        if (isSessionToken(token) === (selection === 'session')) return token;
      }
      return false;
    },
  });
  await once(server, 'listening');
  const bound = (server.address() as AddressInfo).port;
  const connections: ScriptedConnection[] = [];
  const waiting: ((connection: ScriptedConnection) => void)[] = [];
  let taken = 0;
  server.on('connection', (socket, request) => {
    const received: string[] = [];
    const raw: string[] = [];
    const closed = new Promise<[number, string]>((resolve) =>
      socket.on('close', (code, reason) => resolve([code, reason.toString()])),
    );
    socket.on('message', (data, isBinary) => {
      const bytes = data as Buffer;
      const text = isBinary ? `bin:${bytes.toString('hex')}` : bytes.toString();
      raw.push(text);
      received.push(isBinary ? text : show(text));
    });
    const connection: ScriptedConnection = {
      socket,
      protocol: socket.protocol,
      offered: request.headers['sec-websocket-protocol'] ?? '',
      received,
      raw,
      closed,
      receive: async (count) => {
        await until(() => received.length >= count);
        return received;
      },
      send: (text) => socket.send(text),
      control: (message) => socket.send(encodeSessionControl(message)),
    };
    connections.push(connection);
    const waiter = waiting.shift();
    if (waiter) {
      taken++;
      waiter(connection);
    }
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= new Promise<void>((resolve) => {
      for (const client of server.clients) client.close(1001);
      server.close(() => resolve());
      // What does not close in a moment is cut.
      setTimeout(() => {
        for (const client of server.clients) client.terminate();
      }, 100).unref();
    }));
  onCleanup(close);
  return {
    server,
    port: bound,
    url: `ws://127.0.0.1:${bound}`,
    connections,
    connection: () => {
      if (taken < connections.length) return Promise.resolve(connections[taken++]!);
      return new Promise((resolve) => waiting.push(resolve));
    },
    close,
  };
}

/** A TCP proxy to `target`; `stall()` freezes the connections open now. */
export interface StallingProxy {
  readonly port: number;
  readonly url: string;
  /** Connections made through it so far. */
  readonly connections: number;
  /**
   * Freezes every connection open now: nothing more is forwarded either way
   * and nothing is closed, as when a link dies without a word. Connections
   * made later pass.
   */
  stall(): void;
}

/** Starts a TCP proxy on 127.0.0.1 to `targetPort`, closed (with all its sockets) after the test. */
export async function startProxy(targetPort: number): Promise<StallingProxy> {
  const sockets = new Set<net.Socket>();
  const pairs: [net.Socket, net.Socket][] = [];
  let connections = 0;
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  };
  const server = net.createServer((client) => {
    connections++;
    const upstream = net.connect(targetPort, '127.0.0.1');
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    pairs.push([client, upstream]);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  onCleanup(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    stall: () => {
      for (const [client, upstream] of pairs.splice(0)) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
  };
}

/** Quick retries, no jitter. */
export const FAST: ReconnectingWebSocketOptions = {
  minDelay: 20,
  maxDelay: 100,
  environment: { random: () => 0 },
};

const EVENT_TYPES = [
  'open',
  'message',
  'error',
  'close',
  'reconnecting',
  'reconnected',
  'unsent',
  'giveup',
  'sessionlost',
] as const;

/** One event a ReconnectingWebSocket dispatched, with its readyState and sessionId then. */
export interface Seen {
  readonly type: string;
  readonly readyState: number;
  readonly sessionId: string | null;
  readonly event: Event;
}

/** Every event `ws` dispatches. */
export function record(ws: ReconnectingWebSocket): Seen[] {
  const seen: Seen[] = [];
  for (const type of EVENT_TYPES) {
    ws.addEventListener(type, (event: Event) =>
      seen.push({ type, readyState: ws.readyState, sessionId: ws.sessionId, event }),
    );
  }
  return seen;
}

/** The event types as `type @readyState`, and close codes: `close 1006 @0`. */
export function summary(seen: readonly Seen[]): string[] {
  return seen.map(({ type, readyState, event }) =>
    type === 'close'
      ? `close ${(event as CloseEvent).code} @${readyState}`
      : `${type} @${readyState}`,
  );
}

/** The next event of `type`. */
export function next(ws: ReconnectingWebSocket, type: string): Promise<Event> {
  return new Promise((resolve) => ws.addEventListener(type, resolve, { once: true }));
}

/** The close event at which readyState is CLOSED: the last one. */
export function finalClose(ws: ReconnectingWebSocket): Promise<CloseEvent> {
  return new Promise((resolve) => {
    const listener = (event: CloseEvent): void => {
      if (ws.readyState !== ws.CLOSED) return;
      ws.removeEventListener('close', listener);
      resolve(event);
    };
    ws.addEventListener('close', listener);
  });
}
