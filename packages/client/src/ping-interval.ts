/**
 * The `pingInterval` option: finds a half-open connection, one whose peer
 * vanished without a FIN (a laptop closed, a NAT entry dropped, a cable
 * pulled). TCP alone notices only when a write times out, which takes
 * minutes, or never when we have nothing to send.
 * @packageDocumentation
 */
import { ConnectionState } from '@proj/protocol';
import { ReadMark, type SocketTransport } from '@proj/transport';

/** Nothing arrived during a whole interval after a ping. */
export function pingTimeoutError(interval: number): Error {
  return new Error(
    `No pong within pingInterval: nothing was received for ${interval} ms after a ping, ` +
      'so the connection is taken as half-open',
  );
}

/**
 * Pings every `interval` ms while the connection is open. At each tick, if
 * the previous tick pinged and the socket has not been read since, the peer
 * is gone: `onSilent` hears of it, once (a tick that comes late, because
 * this process was blocked, leaves the verdict to the next). Any read counts
 * (a pong, a message, a fragment of one), so a busy connection is never
 * failed for a pong stuck behind a large message. The transport's read
 * mark ({@link ReadMark}) makes that check free: no timer per pong, no work
 * per message.
 */
export class PingInterval {
  readonly #transport: SocketTransport;
  readonly #interval: number;
  readonly #onSilent: (error: Error) => void;
  readonly #timer: NodeJS.Timeout;
  /** Whether a tick has pinged yet: the first always does. */
  #pinged = false;
  /** When the next tick is due, on `performance.now()`'s clock. */
  #due: number;

  constructor(transport: SocketTransport, interval: number, onSilent: (error: Error) => void) {
    this.#transport = transport;
    this.#interval = interval;
    this.#onSilent = onSilent;
    this.#due = performance.now() + interval;
    // Unref'd: a heartbeat must not keep the process alive on its own.
    this.#timer = setInterval(this.#tick, interval).unref();
  }

  /** Stops pinging; called when the connection closes. */
  stop(): void {
    clearInterval(this.#timer);
  }

  readonly #tick = (): void => {
    const transport = this.#transport;
    // Once closing, the close timeout bounds the wait instead.
    if (transport.connection.state !== ConnectionState.Open) return;
    const now = performance.now();
    const late = now - this.#due;
    this.#due = now + this.#interval;
    const read = transport.takeReadMark(ReadMark.Heartbeat);
    // While reading is paused (a message inflating) an answer could not be
    // read: that is not the peer's silence.
    if (read || !this.#pinged || transport.readingPaused) {
      this.#pinged = true;
      transport.ping();
      return;
    }
    // A tick this late means our own process was blocked (a long synchronous
    // job, a debugger): the ping may have left late (writes wait for queued
    // event tasks) and its pong may sit unread in the socket, since timers
    // run before the event loop polls. The peer gets the next interval.
    if (late > this.#interval / 2) return;
    this.stop();
    this.#onSilent(pingTimeoutError(this.#interval));
  };
}
