/**
 * A session client for the server's tests, written by hand over a `ws`
 * client and the protocol's codec (`@proj/client`'s session layer is written
 * apart and is not used here). {@link SessionPeer} plays one connection
 * message by message; {@link ResumingClient} plays the whole client role:
 * its own replay log, `resume` with its numbers, the replay, duplicate
 * discarding, across as many connections as the test opens.
 */
import { expect } from 'vitest';
import type WebSocket from 'ws';
import {
  SESSION_PROTOCOL,
  type SessionControl,
  SessionLog,
  encodeSessionControl,
  escapeSessionText,
  readSessionText,
} from '@proj/protocol';
import type {
  ServerSession,
  ServerSettings,
  SessionCloseCause,
  SessionOptions,
} from '@proj/server';
import { nextEmit } from '@proj/test-utils';
import { Collector } from './collector.js';
import { type Started, connectWs, startServer, wsClient } from './helpers.js';

/** What a session connection received, in order. */
export type Received =
  | { readonly kind: 'data'; readonly data: string | Buffer; readonly binary: boolean }
  | { readonly kind: 'control'; readonly control: SessionControl };

/** One session connection, driven message by message. */
export class SessionPeer {
  readonly ws: WebSocket;
  /** Everything received, in order. */
  readonly received = new Collector<Received>();
  #read = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        this.received.push({ kind: 'data', data, binary: true });
        return;
      }
      const read = readSessionText(data.toString());
      this.received.push(
        read.kind === 'data'
          ? { kind: 'data', data: read.text, binary: false }
          : { kind: 'control', control: read.control },
      );
    });
  }

  /** Opens a connection offering `protocols` (the bare session token by default). */
  static async open(url: string, protocols: string[] = [SESSION_PROTOCOL]): Promise<SessionPeer> {
    return new SessionPeer(await connectWs(url, protocols));
  }

  /** Opens a connection and sends `hello`; resolves with its `ready`. */
  static async hello(url: string): Promise<{ peer: SessionPeer; id: string; keepAlive: number }> {
    const peer = await SessionPeer.open(url);
    peer.control({ type: 'hello' });
    const ready = await peer.nextControl('ready');
    return { peer, id: ready.id, keepAlive: ready.keepAlive };
  }

  control(control: SessionControl): void {
    this.ws.send(encodeSessionControl(control));
  }

  /** Sends application text (escaped) or bytes. */
  data(data: string | Buffer): void {
    this.ws.send(typeof data === 'string' ? escapeSessionText(data) : data);
  }

  /** The next thing received (after those already read). */
  async next(): Promise<Received> {
    const items = await this.received.until(this.#read + 1);
    return items[this.#read++]!;
  }

  /** The next control message, which must be of `type`. */
  async nextControl<T extends SessionControl['type']>(
    type: T,
  ): Promise<Extract<SessionControl, { type: T }>> {
    const item = await this.next();
    expect(item.kind === 'control' ? item.control.type : item, 'the next message').toBe(type);
    return (item as unknown as { control: Extract<SessionControl, { type: T }> }).control;
  }

  /** The next data message (text unescaped), which must be data. */
  async nextData(): Promise<string | Buffer> {
    const item = await this.next();
    expect(item.kind, 'the next message').toBe('data');
    return (item as { data: string | Buffer }).data;
  }

  /** Data messages received so far (text unescaped). */
  get dataReceived(): (string | Buffer)[] {
    return this.received.items.flatMap((item) => (item.kind === 'data' ? [item.data] : []));
  }

  /** Resolves with the close code and reason. */
  async closed(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === this.ws.CLOSED) throw new Error('already closed');
    const [code, reason] = await nextEmit<[number, Buffer]>(this.ws, 'close');
    return { code, reason: reason.toString() };
  }

  /** Drops the TCP connection at once (no close frame, no `end`). */
  drop(): void {
    (this.ws as unknown as { _socket: { destroy(): void } })._socket.destroy();
  }
}

/** Options of {@link ResumingClient}. */
export interface ResumingClientOptions {
  /** Acknowledge after this many delivered messages (default 1: every one). */
  ackEvery?: number;
}

/**
 * The client role of the protocol over as many connections as the test
 * opens: numbers and a replay log of its own (the protocol's SessionLog),
 * `hello` or `resume` at each open followed by its whole replay, duplicates
 * discarded. What the server sent is in {@link delivered}, exactly as the
 * application would have seen it.
 */
export class ResumingClient {
  readonly log = new SessionLog<string | Buffer>({ maxMessages: Infinity, maxBytes: Infinity });
  /** Messages delivered, in order. */
  readonly delivered = new Collector<string | Buffer>();
  /** Everything the current connection received, in order. */
  controls = new Collector<SessionControl>();
  duplicates = 0;
  id: string | undefined;
  ws: WebSocket | undefined;
  readonly #url: string;
  readonly #ackEvery: number;
  #lastAck = 0;

  constructor(url: string, options: ResumingClientOptions = {}) {
    this.#url = url;
    this.#ackEvery = options.ackEvery ?? 1;
  }

  /**
   * Opens a new connection: `hello`, or `resume` and the replay log right
   * behind it, without waiting for `ready` (pipelined, as the document
   * allows). Resolves once it is open; `ready` arrives later.
   */
  async connect(url = this.#url): Promise<WebSocket> {
    const ws = wsClient(url, [SESSION_PROTOCOL]);
    this.ws = ws;
    this.controls = new Collector();
    const controls = this.controls;
    ws.on('message', (data: Buffer, isBinary: boolean) =>
      this.#onMessage(ws, controls, data, isBinary),
    );
    await nextEmit(ws, 'open');
    const log = this.log;
    if (this.id === undefined) {
      ws.send(encodeSessionControl({ type: 'hello' }));
    } else {
      ws.send(
        encodeSessionControl({
          type: 'resume',
          id: this.id,
          received: log.received,
          acked: log.acked,
        }),
      );
      for (const entry of log.logged()) ws.send(wire(entry.message));
    }
    this.#lastAck = log.received;
    return ws;
  }

  /** Connects and waits for `ready` (or `lost`). */
  async resume(url = this.#url): Promise<SessionControl> {
    await this.connect(url);
    const [answer] = await this.controls.until(1);
    return answer!;
  }

  /** Sends (and logs) an application message; written now if connected. */
  send(data: string | Buffer): void {
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    this.log.record(data, bytes);
    if (this.ws?.readyState === this.ws?.OPEN) this.ws!.send(wire(data));
  }

  /** Drops the current TCP connection at once. */
  drop(): void {
    (this.ws as unknown as { _socket: { destroy(): void } } | undefined)?._socket.destroy();
  }

  /** Resolves once the current connection closed. */
  async closed(): Promise<void> {
    const ws = this.ws!;
    if (ws.readyState === ws.CLOSED) return;
    await nextEmit(ws, 'close');
  }

  #onMessage(
    ws: WebSocket,
    controls: Collector<SessionControl>,
    data: Buffer,
    isBinary: boolean,
  ): void {
    if (ws !== this.ws) return;
    if (!isBinary) {
      const read = readSessionText(data.toString());
      if (read.kind === 'control') {
        const control = read.control;
        if (control.type === 'ready') {
          this.id = control.id;
          this.log.acknowledge(control.received);
          this.log.startInbound(this.log.received + 1);
        } else if (control.type === 'ack') {
          this.log.acknowledge(control.received);
        }
        controls.push(control);
        return;
      }
      this.#deliver(ws, read.text);
      return;
    }
    this.#deliver(ws, data);
  }

  #deliver(ws: WebSocket, data: string | Buffer): void {
    const seq = this.log.inbound();
    if (seq === 0) {
      this.duplicates++;
      return;
    }
    this.delivered.push(data);
    if (seq - this.#lastAck >= this.#ackEvery) {
      this.#lastAck = seq;
      ws.send(encodeSessionControl({ type: 'ack', received: seq }));
    }
  }
}

function wire(data: string | Buffer): string | Buffer {
  return typeof data === 'string' ? escapeSessionText(data) : data;
}

/** A standalone server with sessions, and every session it emits, in order. */
export async function startSessionServer(
  sessions: SessionOptions | true = true,
  options: Omit<ServerSettings, 'port' | 'server' | 'noServer' | 'sessions'> = {},
): Promise<Started<undefined> & { sessions: Collector<ServerSession> }> {
  const started = await startServer<undefined>({ ...options, sessions });
  const emitted = new Collector<ServerSession>();
  started.server.on('session', (session) => emitted.push(session));
  return { ...started, sessions: emitted };
}

/** The arguments of a session's `close`. */
export type SessionCloseArgs = [code: number, reason: string, cause: SessionCloseCause];

/** The `close` of `session`. */
export function sessionClose(session: ServerSession): Promise<SessionCloseArgs> {
  return nextEmit<SessionCloseArgs>(session, 'close');
}

/** Every message `session` delivers: data, isBinary, seq. */
export function sessionMessages(
  session: ServerSession,
): Collector<[data: string | Buffer, isBinary: boolean, seq: number]> {
  const messages = new Collector<[string | Buffer, boolean, number]>();
  session.on('message', (data, isBinary, seq) => messages.push([data, isBinary, seq]));
  return messages;
}
