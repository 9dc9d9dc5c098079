/**
 * `bufferedAmount` accounting and the order of outgoing messages, Blobs
 * included.
 * @packageDocumentation
 */
import { utf8Length } from '@proj/protocol';

/** Where the queue hands messages, in order: the transport. */
export interface SendTarget {
  /** Sends a text message of `size` UTF-8 bytes, or discards it when no longer open. */
  sendText(text: string, size: number): void;
  /** Sends a binary message, or discards it when no longer open. */
  sendBinary(bytes: Uint8Array): void;
  /** Starts the closing handshake. */
  close(code: number | undefined, reason: string): void;
  /** Fails the connection (a Blob could not be read). */
  fail(error: Error): void;
}

/** One operation waiting behind a Blob that is still being read. */
interface Pending {
  /** `undefined` until the Blob's bytes are in. */
  run: (() => void) | undefined;
}

/**
 * Keeps outgoing messages in the order `send()` and `close()` were called,
 * although a `Blob` can only be read asynchronously: while one is being read,
 * every later operation waits behind it.
 *
 * Also owns `bufferedAmount`: bytes of application data (UTF-8 bytes of text,
 * bytes of binary data; no framing) accepted by `send()` and not yet handed
 * to the kernel. It grows synchronously in `send()` and falls in a later
 * macrotask once the socket reports the write done, so a value read twice in
 * one task never changes in between.
 * @see https://websockets.spec.whatwg.org/#dom-websocket-bufferedamount
 */
export class SendQueue {
  readonly #target: SendTarget;
  #bufferedAmount = 0;
  #written = 0;
  #drainScheduled = false;
  #pending: Pending[] = [];

  constructor(target: SendTarget) {
    this.#target = target;
  }

  /** Application bytes accepted and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.#bufferedAmount;
  }

  /** Counts data that `send()` discards (CLOSING or CLOSED): it is never written, so never drains. */
  discard(size: number): void {
    this.#bufferedAmount += size;
  }

  /** Queues a text message. */
  sendText(text: string): void {
    const size = utf8Length(text);
    this.#bufferedAmount += size;
    this.#enqueue(() => this.#target.sendText(text, size));
  }

  /** Queues a binary message; `bytes` is copied if it has to wait, so the caller may reuse it. */
  sendBinary(bytes: Uint8Array): void {
    this.#bufferedAmount += bytes.byteLength;
    if (this.#pending.length === 0) {
      this.#target.sendBinary(bytes);
    } else {
      const copy = bytes.slice();
      this.#pending.push({ run: () => this.#target.sendBinary(copy) });
    }
  }

  /** Queues a Blob: read asynchronously, sent in its turn. */
  sendBlob(blob: Blob): void {
    this.#bufferedAmount += blob.size;
    const pending: Pending = { run: undefined };
    this.#pending.push(pending);
    blob.arrayBuffer().then(
      (buffer) => {
        pending.run = () => this.#target.sendBinary(new Uint8Array(buffer));
        this.#flush();
      },
      (error: unknown) => {
        pending.run = () =>
          this.#target.fail(new Error('Failed to read a Blob passed to send()', { cause: error }));
        this.#flush();
      },
    );
  }

  /** Queues the start of the closing handshake behind every message sent before it. */
  close(code: number | undefined, reason: string): void {
    this.#enqueue(() => this.#target.close(code, reason));
  }

  /** The transport handed `size` bytes of application data to the kernel. */
  written(size: number): void {
    this.#written += size;
    if (!this.#drainScheduled) {
      this.#drainScheduled = true;
      setImmediate(this.#drain);
    }
  }

  readonly #drain = (): void => {
    this.#drainScheduled = false;
    this.#bufferedAmount -= this.#written;
    this.#written = 0;
  };

  #enqueue(run: () => void): void {
    if (this.#pending.length === 0) run();
    else this.#pending.push({ run });
  }

  #flush(): void {
    while (this.#pending.length > 0) {
      const run = this.#pending[0]!.run;
      if (run === undefined) return;
      this.#pending.shift();
      run();
    }
  }
}
