/**
 * `bufferedAmount`: bytes of application data accepted by `send()` and not
 * yet handed to the kernel.
 * @packageDocumentation
 */

/**
 * Counts `bufferedAmount` as the spec defines it: UTF-8 bytes of text, bytes
 * of binary data (no framing), accepted by `send()` and not yet handed to the
 * network. It grows synchronously in `send()` and falls in a later macrotask
 * once the socket reports the write done, so a value read twice in one task
 * never changes in between.
 * @see https://websockets.spec.whatwg.org/#dom-websocket-bufferedamount
 */
export class BufferedAmount {
  #value = 0;
  #written = 0;
  #drainScheduled = false;

  /** Application bytes accepted and not yet handed to the kernel. */
  get value(): number {
    return this.#value;
  }

  /** `size` bytes were accepted by `send()` (sent, or discarded while CLOSING or CLOSED: those never drain). */
  add(size: number): void {
    this.#value += size;
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
    this.#value -= this.#written;
    this.#written = 0;
  };
}
