/**
 * One client of the chaos test: a Node `ReconnectingWebSocket` with a
 * resumable session (`session: true`) that sends `c:<n>` (n = 1, 2, 3...)
 * whenever told to, and judges every message from the server as it arrives
 * (`stream-check.ts`). A `sessionlost` event, or a second session id, is
 * counted as a session loss.
 */
import {
  OfflineQueueFullError,
  ReconnectingWebSocket,
  type ReconnectingWebSocketOptions,
  type UrlSource,
} from '@proj/client';
import { StreamCheck } from './stream-check.js';

/** What one client counted, beside its stream's counts (`stream.counts`). */
export interface ClientCounts {
  /** `c:<n>` that `send()` took (the last n). */
  sent: number;
  /** Sends refused because the replay log was full (`OfflineQueueFullError`); the same n is tried again. */
  refused: number;
  /** `open` events: the first connection, and every connection after a loss. */
  opens: number;
  /** `reconnected` events. */
  reconnects: number;
  /** `sessionlost` events, plus session ids beyond the first: must stay 0. */
  sessionLosses: number;
  /** `giveup` events (no more retries): must stay 0. */
  giveups: number;
  /** `close` events by code: how its connections ended (1006 for a cut or reset). */
  closeCodes: Record<number, number>;
}

/** One checked client. */
export class ChaosClient {
  readonly index: number;
  readonly counts: ClientCounts = {
    sent: 0,
    refused: 0,
    opens: 0,
    reconnects: 0,
    sessionLosses: 0,
    giveups: 0,
    closeCodes: {},
  };
  /** The judge of what the server sent. */
  readonly stream = new StreamCheck();
  /** Errors `send()` threw other than a full log (there must be none). */
  readonly sendErrors: string[] = [];
  readonly #ws: ReconnectingWebSocket;
  #sessionId: string | null = null;

  /**
   * @param url - or a function called before each attempt (the drain test's moving target).
   * @param options - `session` is always on: `true` unless given as session options
   *   (the drain test lengthens `keepAliveTimeout`).
   */
  constructor(index: number, url: UrlSource, options: ReconnectingWebSocketOptions = {}) {
    this.index = index;
    const session = typeof options.session === 'object' ? options.session : true;
    this.#ws = new ReconnectingWebSocket(url, [], { ...options, session });
    const ws = this.#ws;
    ws.addEventListener('open', () => {
      this.counts.opens++;
      this.#noteSession();
    });
    ws.addEventListener('reconnected', () => void this.counts.reconnects++);
    ws.addEventListener('sessionlost', () => void this.counts.sessionLosses++);
    ws.addEventListener('giveup', () => void this.counts.giveups++);
    ws.addEventListener('close', ({ code }) => {
      this.counts.closeCodes[code] = (this.counts.closeCodes[code] ?? 0) + 1;
    });
    ws.addEventListener('message', (event) => this.stream.check(event.data, event.lastEventId));
  }

  /** The underlying socket. */
  get socket(): ReconnectingWebSocket {
    return this.#ws;
  }

  /** Its session's id, from the first `open` on; kept after the session ends. */
  get sessionId(): string | null {
    return this.#sessionId;
  }

  /** Whether a connection is open now. */
  get open(): boolean {
    return this.#ws.readyState === ReconnectingWebSocket.OPEN;
  }

  /** Every `c:<n>` sent came back. */
  get drained(): boolean {
    return this.stream.counts.echoes === this.counts.sent;
  }

  /** Sends the next `c:<n>`, connected or not (the session's replay log keeps it until acknowledged). */
  sendNext(): void {
    const n = this.counts.sent + 1;
    try {
      this.#ws.send(`c:${n}`);
    } catch (error) {
      if (error instanceof OfflineQueueFullError) this.counts.refused++;
      else this.sendErrors.push(String(error));
      return;
    }
    this.counts.sent = n;
  }

  /** Ends the session (`end`, then the closing handshake); resolves once closed for good. */
  async close(): Promise<void> {
    const ws = this.#ws;
    if (ws.readyState === ReconnectingWebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => {
      const onClose = (): void => {
        if (ws.readyState !== ReconnectingWebSocket.CLOSED) return;
        ws.removeEventListener('close', onClose);
        resolve();
      };
      ws.addEventListener('close', onClose);
    });
    ws.close(1000, 'done');
    await closed;
  }

  #noteSession(): void {
    const id = this.#ws.sessionId;
    if (id === null || id === this.#sessionId) return;
    // A second id without a `sessionlost` event would be a silent loss: count it too.
    if (this.#sessionId !== null) this.counts.sessionLosses++;
    this.#sessionId = id;
  }
}
