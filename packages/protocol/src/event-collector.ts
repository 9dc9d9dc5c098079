import { concatBytes } from './bytes.js';
import type { ConnectionHandler, OpenInfo } from './connection.js';
import type { WebSocketError } from './errors.js';

/** One thing a connection reported, as a plain value. */
export type ConnectionEvent =
  | { readonly type: 'open'; readonly info: OpenInfo }
  | {
      readonly type: 'message';
      readonly data: Uint8Array;
      readonly binary: boolean;
      /** Present (`true`) only for a message still deflated (permessage-deflate). */
      readonly compressed?: true;
    }
  | { readonly type: 'ping'; readonly data: Uint8Array }
  | { readonly type: 'pong'; readonly data: Uint8Array }
  | { readonly type: 'closing'; readonly code: number; readonly reason: string }
  | { readonly type: 'error'; readonly error: WebSocketError }
  | {
      readonly type: 'close';
      readonly code: number;
      readonly reason: string;
      readonly wasClean: boolean;
    };

/**
 * A {@link ConnectionHandler} that records everything, for the pull style of
 * python-websockets: after each call into the connection, take
 * {@link eventsReceived} and {@link dataToSend}. Handy in tests, docs and
 * simple integrations; the push handler is faster for servers.
 */
export class EventCollector implements ConnectionHandler {
  #events: ConnectionEvent[] = [];
  #chunks: Uint8Array[] = [];
  #ended = false;

  /** Whether the connection asked for the transport to be closed. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Events since the last call, oldest first. */
  eventsReceived(): ConnectionEvent[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }

  /** Bytes to send since the last call, as one array (copied: message data may be views). */
  dataToSend(): Uint8Array {
    const chunks = this.#chunks;
    this.#chunks = [];
    return chunks.length === 1 ? chunks[0]!.slice() : concatBytes(chunks);
  }

  write(chunks: readonly Uint8Array[]): void {
    for (const chunk of chunks) this.#chunks.push(chunk);
  }
  end(): void {
    this.#ended = true;
  }
  onOpen(info: OpenInfo): void {
    this.#events.push({ type: 'open', info });
  }
  onMessage(data: Uint8Array, binary: boolean, compressed?: boolean): void {
    this.#events.push(
      compressed
        ? { type: 'message', data: data.slice(), binary, compressed: true }
        : { type: 'message', data: data.slice(), binary },
    );
  }
  onPing(data: Uint8Array): void {
    this.#events.push({ type: 'ping', data });
  }
  onPong(data: Uint8Array): void {
    this.#events.push({ type: 'pong', data });
  }
  onClosing(code: number, reason: string): void {
    this.#events.push({ type: 'closing', code, reason });
  }
  onError(error: WebSocketError): void {
    this.#events.push({ type: 'error', error });
  }
  onClose(code: number, reason: string, wasClean: boolean): void {
    this.#events.push({ type: 'close', code, reason, wasClean });
  }
}
