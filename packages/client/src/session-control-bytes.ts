/**
 * How many bytes of the session's own control messages (`ack`, `hello`,
 * `resume`, `end`) a socket's `bufferedAmount` still holds, so that
 * `ReconnectingWebSocket.bufferedAmount` counts only what the application
 * passed to `send()`. A page that sends only while `bufferedAmount === 0`
 * (the textbook's pattern) must not be held back by acknowledgements it
 * never sent.
 *
 * A WebSocket hands its queued bytes to the network in the order they were
 * sent, so the bytes already gone are the first `written - bufferedAmount`
 * of everything sent; the control messages past that point are the ones
 * still buffered.
 * @packageDocumentation
 */
export class ControlBytes {
  /** Bytes passed to the socket's `send()` so far, control and data. */
  #written = 0;
  /** Where each control message still counted ends, in `#written` terms, oldest first. */
  #ends: number[] = [];
  #sizes: number[] = [];
  #head = 0;

  /** A new socket: nothing of it is buffered yet. */
  reset(): void {
    this.#written = 0;
    this.#forgetAll();
  }

  /** `bytes` of application data were passed to the socket's `send()`. */
  data(bytes: number): void {
    this.#written += bytes;
  }

  /** A control message of `bytes` was passed to the socket's `send()`. */
  control(bytes: number): void {
    this.#written += bytes;
    this.#ends.push(this.#written);
    this.#sizes.push(bytes);
  }

  /** The control bytes among the socket's `bufferedAmount`. */
  buffered(bufferedAmount: number): number {
    const gone = this.#written - bufferedAmount;
    // Forget the control messages that are wholly gone.
    while (this.#head < this.#ends.length && this.#ends[this.#head]! <= gone) this.#head++;
    if (this.#head === this.#ends.length) {
      if (this.#head > 0) this.#forgetAll();
      return 0;
    }
    let total = 0;
    for (let i = this.#head; i < this.#ends.length; i++) {
      // The oldest may be partly gone.
      total += Math.min(this.#sizes[i]!, this.#ends[i]! - gone);
    }
    return total;
  }

  /** Empties the lists, keeping the count of bytes written. */
  #forgetAll(): void {
    this.#ends = [];
    this.#sizes = [];
    this.#head = 0;
  }
}
