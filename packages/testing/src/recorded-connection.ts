/**
 * What one connection did, recorded from the moment it opened: every message
 * as it arrived (copied: the server hands out views of a reused buffer), and
 * how it closed. The test takes the connection later, as a scripted peer, and
 * sees everything, even what arrived before it asked.
 */
import { Buffer } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { CloseCause, ServerWebSocket } from '@proj/server';
import type { RawMessage } from './raw-message.js';
import { ChangeSignal } from './waiting.js';

/** How a connection closed. */
export interface PeerClose {
  /** The close code the peer sent (1005 for none), or 1006 when the connection dropped without one. */
  readonly code: number;
  readonly reason: string;
  /** Whether the closing handshake completed. */
  readonly wasClean: boolean;
  /** Why, from the server's side: `peer-close`, `local-close`, `terminated`, `connection-lost`... */
  readonly cause: CloseCause;
}

/** One accepted connection and what it did. */
export class RecordedConnection {
  /** 1 for the server's first connection, then 2, 3...; restarts do not reset it. */
  readonly id: number;
  readonly socket: ServerWebSocket<unknown>;
  readonly request: IncomingMessage;
  /** Every message received, in order. */
  readonly received: RawMessage[] = [];
  /** A message arrived, or the connection closed. */
  readonly changes = new ChangeSignal();
  /** Whether a test took it (`waitForConnection` hands each connection out once). */
  taken = false;
  #closed: PeerClose | undefined;

  constructor(id: number, socket: ServerWebSocket<unknown>, request: IncomingMessage) {
    this.id = id;
    this.socket = socket;
    this.request = request;
    socket.on('message', (data, isBinary) => {
      this.received.push(
        typeof data === 'string'
          ? { isBinary: false, data }
          : isBinary
            ? { isBinary: true, data: Buffer.from(data) }
            : { isBinary: false, data: data.toString('utf8') },
      );
      this.changes.notify();
    });
    socket.once('close', (code, reason, wasClean, cause) => {
      this.#closed = { code, reason, wasClean, cause };
      this.changes.notify();
    });
  }

  /** How it closed; `undefined` while open (or closing). */
  get closed(): PeerClose | undefined {
    return this.#closed;
  }

  /** `connection #2 (GET /chat)`, as failures name it. */
  get label(): string {
    return `connection #${this.id} (GET ${this.request.url ?? '/'})`;
  }
}

/** `1006 (connection-lost)`, `4000 "bye" (peer-close)`: a close as failures show it. */
export function describeClose(close: PeerClose): string {
  return `${close.code}${close.reason ? ` ${JSON.stringify(close.reason)}` : ''} (${close.cause}${close.wasClean ? '' : ', not clean'})`;
}
