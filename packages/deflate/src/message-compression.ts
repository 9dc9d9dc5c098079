import { type Connection, ConnectionState, toWebSocketError } from '@proj/protocol';
import type { PerMessageDeflate } from './per-message-deflate.js';

/** The transport under a connection, as far as compression needs it. */
export interface CompressionTransport {
  /** Stop reading (TCP pushes back on the peer) while a message inflates. */
  pause(): void;
  /** Read again, unless the application paused reading itself. */
  resume(): void;
  /** Runs around the delivery of an inflated message, e.g. to cork the socket. */
  deliver?(run: () => void): void;
}

/** Sends one message's payload as it is, or deflated with RSV1 when `compressed`. */
export type SendPayload = (payload: Uint8Array, compressed: boolean) => void;

interface Outgoing {
  payload: Uint8Array;
  compressed: boolean;
  ready: boolean;
  failed: Error | null;
  send: SendPayload;
  onError: ((error: Error) => void) | undefined;
}

/**
 * The glue between a sans-I/O {@link Connection} that negotiated
 * permessage-deflate and a {@link PerMessageDeflate}: the hooks an I/O layer
 * calls, the same for the server and the Node client.
 *
 * Receiving: a compressed message pauses parsing (and the transport) until it
 * is inflated, so no later message or close frame overtakes it; the inflated
 * message goes through `Connection.deliverMessage`, which checks UTF-8.
 *
 * Sending: a message at or above the threshold is deflated; while any is
 * being deflated, later messages (compressed or not) and the close wait
 * behind it, so everything leaves in the order it was sent.
 */
export class MessageCompression {
  readonly #deflate: PerMessageDeflate;
  readonly #connection: Connection;
  readonly #transport: CompressionTransport;
  readonly #queue: Outgoing[] = [];
  #afterSends: (() => void)[] = [];

  constructor(deflate: PerMessageDeflate, connection: Connection, transport: CompressionTransport) {
    this.#deflate = deflate;
    this.#connection = connection;
    this.#transport = transport;
  }

  /** Whether sends are waiting for a compression to finish. */
  get busy(): boolean {
    return this.#queue.length > 0;
  }

  /** For `onMessage(data, binary, compressed = true)`: inflate, deliver, resume. */
  receive(data: Uint8Array, binary: boolean): void {
    const connection = this.#connection;
    connection.pauseParsing();
    this.#transport.pause();
    this.#deflate.decompress(data, (error, result) => {
      if (connection.state === ConnectionState.Closed) return;
      const run = (): void => {
        if (error) connection.failWith(toWebSocketError(error));
        else connection.deliverMessage(result!, binary);
        connection.resumeParsing();
      };
      if (this.#transport.deliver) this.#transport.deliver(run);
      else run();
      if (!connection.parsingPaused) this.#transport.resume();
    });
  }

  /**
   * Sends one whole message through `send`: deflated when `compress` and it
   * is at least `threshold` bytes, and always after every earlier message.
   * `onError` hears of a compression that failed (the connection closed).
   */
  send(
    payload: Uint8Array,
    compress: boolean,
    send: SendPayload,
    onError?: (error: Error) => void,
  ): void {
    const compressed = compress && payload.byteLength >= this.#deflate.threshold;
    if (!compressed && this.#queue.length === 0) {
      send(payload, false);
      return;
    }
    const item: Outgoing = { payload, compressed, ready: !compressed, failed: null, send, onError };
    this.#queue.push(item);
    if (compressed) {
      this.#deflate.compress(payload, (error, out) => {
        item.ready = true;
        item.failed = error;
        if (out) item.payload = out;
        this.#flush();
      });
    }
  }

  /** Runs `callback` once every message sent so far has left (now, when none waits). */
  afterSends(callback: () => void): void {
    if (this.#queue.length === 0) callback();
    else this.#afterSends.push(callback);
  }

  /** Releases the zlib contexts; queued sends are dropped. Call when the transport closes. */
  close(): void {
    this.#deflate.close();
  }

  #flush(): void {
    const queue = this.#queue;
    while (queue.length > 0 && queue[0]!.ready) {
      const item = queue.shift()!;
      if (item.failed) item.onError?.(item.failed);
      else if (this.#connection.state === ConnectionState.Open)
        item.send(item.payload, item.compressed);
      else item.onError?.(new Error('WebSocket is not open'));
    }
    if (queue.length === 0 && this.#afterSends.length > 0) {
      const callbacks = this.#afterSends;
      this.#afterSends = [];
      for (const callback of callbacks) callback();
    }
  }
}
