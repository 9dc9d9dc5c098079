/**
 * The one ordered send path of a connection.
 * @packageDocumentation
 */
import process from 'node:process';
import type { PerMessageDeflate } from '@proj/deflate';

/** Called once a send's bytes were handed to the kernel, or with the error that prevented it. */
export type SendCallback = (error?: Error | null) => void;

/** Where the queue hands what is ready, in order: the transport. */
export interface SendSink {
  /** Writes one message or fragment now; `compressed`: the payload is deflated (RSV1). */
  writeMessage(
    payload: Uint8Array | string,
    binary: boolean,
    fin: boolean,
    compressed: boolean,
    callback: SendCallback | undefined,
  ): void;
  /** Writes a frame encoded once for many connections (a broadcast); returns whether it was written. */
  writeEncoded(chunks: readonly Uint8Array[]): boolean;
  /** Starts the closing handshake. */
  startClose(code: number | undefined, reason: string | undefined): void;
}

const MESSAGE = 0;
const ENCODED = 1;
const CLOSE = 2;

/** One operation in the queue. */
interface Entry {
  readonly kind: typeof MESSAGE | typeof ENCODED | typeof CLOSE;
  /** Whether its bytes are in: not while being deflated or read. */
  ready: boolean;
  payload: Uint8Array | string | readonly Uint8Array[];
  readonly binary: boolean;
  readonly fin: boolean;
  compressed: boolean;
  /** Why it cannot be sent (deflate failed, a Blob could not be read). */
  error: Error | null;
  readonly callback: SendCallback | undefined;
  readonly code: number | undefined;
  readonly reason: string | undefined;
}

/**
 * Keeps everything a connection sends in the order it was asked for, although
 * some of it cannot go at once: a message being deflated (zlib is
 * asynchronous), a `Blob` being read. While anything waits, every later
 * message, broadcast frame and the close wait behind it. With nothing waiting
 * a send goes straight to the sink, allocating nothing (`ws`'s `Sender` keeps
 * one such queue for plain sends, compression and Blob reads alike).
 */
export class SendQueue {
  readonly #sink: SendSink;
  #entries: Entry[] = [];

  constructor(sink: SendSink) {
    this.#sink = sink;
  }

  /** Whether something waits: a send now would queue behind it. */
  get busy(): boolean {
    return this.#entries.length > 0;
  }

  /** A message or fragment whose bytes are ready. */
  message(
    payload: Uint8Array | string,
    binary: boolean,
    fin: boolean,
    callback: SendCallback | undefined,
  ): void {
    if (this.#entries.length === 0) {
      this.#sink.writeMessage(payload, binary, fin, false, callback);
      return;
    }
    // It waits: copy what the caller may reuse once `send` returns (not with
    // slice(), which on a Buffer is a view).
    const bytes = typeof payload === 'string' ? payload : new Uint8Array(payload);
    this.#entries.push(entry(MESSAGE, true, bytes, binary, fin, callback));
  }

  /** A whole message deflated first: `deflate` compresses in call order. */
  deflated(
    payload: Uint8Array,
    binary: boolean,
    deflate: PerMessageDeflate,
    callback: SendCallback | undefined,
  ): void {
    const item = entry(MESSAGE, false, payload, binary, true, callback);
    this.#entries.push(item);
    this.#compress(item, payload, deflate);
  }

  /**
   * A whole binary message whose bytes are still being read (a `Blob`); it is
   * deflated once read when `deflate` is given. A failed read is reported to
   * `callback` in the message's turn, wrapped as the `cause` of `readError`.
   */
  pending(
    bytes: Promise<Uint8Array>,
    deflate: PerMessageDeflate | null,
    readError: string,
    callback: SendCallback | undefined,
  ): void {
    const item = entry(MESSAGE, false, EMPTY, true, true, callback);
    this.#entries.push(item);
    bytes.then(
      (payload) => {
        if (deflate !== null && payload.byteLength >= deflate.threshold) {
          this.#compress(item, payload, deflate);
          return;
        }
        item.payload = payload;
        item.ready = true;
        this.#flush();
      },
      (error: unknown) => {
        item.error = new Error(readError, { cause: error });
        item.ready = true;
        this.#flush();
      },
    );
  }

  /**
   * A frame encoded once for many connections, sent as it is. Returns whether
   * it was written, or queued to be: the sink may refuse it.
   */
  encoded(chunks: readonly Uint8Array[]): boolean {
    if (this.#entries.length === 0) return this.#sink.writeEncoded(chunks);
    this.#entries.push(entry(ENCODED, true, chunks, false, true, undefined));
    return true;
  }

  /** The start of the closing handshake, behind everything sent before it. */
  close(code: number | undefined, reason: string | undefined): void {
    if (this.#entries.length === 0) this.#sink.startClose(code, reason);
    else this.#entries.push({ ...entry(CLOSE, true, EMPTY, false, true, undefined), code, reason });
  }

  /**
   * The connection is closed: what still waits is dropped, each send's
   * callback told with `error` (in a later tick, as a write error would be).
   */
  abort(error: Error): void {
    const entries = this.#entries;
    this.#entries = [];
    for (const item of entries) if (item.callback) process.nextTick(item.callback, error);
  }

  #compress(item: Entry, payload: Uint8Array, deflate: PerMessageDeflate): void {
    deflate.compress(payload, (error, out) => {
      item.ready = true;
      item.error = error;
      item.payload = out ?? payload;
      item.compressed = out !== undefined;
      this.#flush();
    });
  }

  #flush(): void {
    const entries = this.#entries;
    const sink = this.#sink;
    while (entries.length > 0 && entries[0]!.ready) {
      const item = entries.shift()!;
      if (item.error !== null) {
        if (item.callback) item.callback(item.error);
      } else if (item.kind === MESSAGE) {
        sink.writeMessage(
          item.payload as Uint8Array | string,
          item.binary,
          item.fin,
          item.compressed,
          item.callback,
        );
      } else if (item.kind === ENCODED) {
        sink.writeEncoded(item.payload as readonly Uint8Array[]);
      } else {
        sink.startClose(item.code, item.reason);
      }
      // The sink may have closed the connection, which aborted the rest.
      if (this.#entries !== entries) return;
    }
  }
}

const EMPTY = new Uint8Array(0);

function entry(
  kind: Entry['kind'],
  ready: boolean,
  payload: Entry['payload'],
  binary: boolean,
  fin: boolean,
  callback: SendCallback | undefined,
): Entry {
  return {
    kind,
    ready,
    payload,
    binary,
    fin,
    compressed: false,
    error: null,
    callback,
    code: undefined,
    reason: undefined,
  };
}
