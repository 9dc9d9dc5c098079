/**
 * A TCP proxy, written for the chaos test, that forwards bytes both ways and
 * breaks connections at random the three ways networks do:
 *
 * - **cut**: a FIN to both sides (`socket.end()`), what a peer or a middlebox
 *   closing politely looks like; bytes already forwarded are still delivered.
 * - **reset**: an RST to both sides (`socket.resetAndDestroy()`), what a
 *   crashed middlebox or a NAT table flush looks like; bytes in flight are lost.
 * - **stall**: nothing is forwarded either way for a while (0.2 to 3 s by
 *   default: long enough to trip a 1 s keep-alive's 2 s deadline sometimes,
 *   not always), then the connection either resumes as if nothing happened
 *   or is cut. A stall pauses reading, so TCP's own flow control pushes back
 *   on both peers, as a congested or half-dead path does.
 *
 * Faults on each connection arrive as a Poisson process (exponential gaps with
 * a configurable mean), drawn from a seeded PRNG (`random.ts`): the test
 * prints the seed, and `CHAOS_SEED` replays its decisions. Everything the
 * proxy did is counted ({@link FaultProxy.stats}) and reported as `fault`
 * events.
 *
 * Both sockets are half-open capable (`allowHalfOpen`): a FIN from one peer is
 * passed on as a FIN to the other, and a connection is gone only when both
 * directions are. A broken side (an error, an RST) destroys the other.
 */
import { EventEmitter, once } from 'node:events';
import * as net from 'node:net';
import { type Random, seededRandom } from './random.js';

/** The ways the proxy breaks a connection. */
export type FaultKind = 'cut' | 'reset' | 'stall';

/** What the proxy did to one connection, as reported by the `fault` event. */
export interface FaultEvent {
  /** The connection's number, from 1 in the order they were accepted. */
  readonly connection: number;
  /** A fault, or how a stall ended: `resume` (forwarding again) or `stall-cut`. */
  readonly action: FaultKind | 'resume' | 'stall-cut';
  /** For `stall`: how long it lasts, in ms. */
  readonly ms?: number;
}

/** Options of {@link FaultProxy.start}. */
export interface FaultProxyOptions {
  /** Where every accepted connection is forwarded. */
  readonly target: { readonly host: string; readonly port: number };
  /** The PRNG's seed (an unsigned 32-bit integer; see `chaosSeed`). */
  readonly seed: number;
  /**
   * The mean time between two faults on one connection, in ms (the rate is
   * its inverse). `Infinity`: no random faults (`inject` still works).
   */
  readonly meanTimeBetweenFaults: number;
  /** Relative weights of the fault kinds. Default one each. */
  readonly weights?: Readonly<Record<FaultKind, number>> | undefined;
  /** The shortest and longest stall, in ms. Default 200 and 3000. */
  readonly stallMs?: readonly [min: number, max: number] | undefined;
  /** The probability that a stall ends in a cut rather than resuming. Default 0.5. */
  readonly stallCutChance?: number | undefined;
  /** Whether random faults start at once. Default `true`; see {@link FaultProxy.startFaults}. */
  readonly faults?: boolean | undefined;
  /**
   * How long a cut connection may stay half-closed, waiting for a peer's own
   * FIN, before both sockets are destroyed, in ms. Default 5000.
   */
  readonly lingerMs?: number | undefined;
}

/** What the proxy did so far. */
export interface FaultProxyStats {
  /** Connections accepted. */
  readonly accepted: number;
  /** Connections open now (either socket not yet closed). */
  readonly open: number;
  /** Connections whose upstream could not be reached (the client's socket was then destroyed). */
  readonly upstreamFailures: number;
  /** Faults injected: `cuts + resets + stalls`. */
  readonly faults: number;
  readonly cuts: number;
  readonly resets: number;
  readonly stalls: number;
  /** Stalls that ended by forwarding again (including those ended by {@link FaultProxy.stopFaults}). */
  readonly stallsResumed: number;
  /** Stalls that ended in a cut. */
  readonly stallsCut: number;
  /** Bytes forwarded from clients to the target. */
  readonly bytesUp: number;
  /** Bytes forwarded from the target to clients. */
  readonly bytesDown: number;
}

/** Events of a {@link FaultProxy}. */
export interface FaultProxyEvents {
  fault: [event: FaultEvent];
}

type Counter = Exclude<keyof FaultProxyStats, 'open' | 'faults'>;

const DEFAULT_WEIGHTS: Readonly<Record<FaultKind, number>> = { cut: 1, reset: 1, stall: 1 };

/** A running fault-injecting proxy on 127.0.0.1. */
export class FaultProxy extends EventEmitter<FaultProxyEvents> {
  readonly #server: net.Server;
  readonly #options: Required<Omit<FaultProxyOptions, 'seed' | 'faults'>>;
  readonly #random: Random;
  readonly #connections = new Set<ProxiedConnection>();
  readonly #counts: Record<Counter, number> = {
    accepted: 0,
    upstreamFailures: 0,
    cuts: 0,
    resets: 0,
    stalls: 0,
    stallsResumed: 0,
    stallsCut: 0,
    bytesUp: 0,
    bytesDown: 0,
  };
  #faults: boolean;

  private constructor(options: FaultProxyOptions) {
    super();
    const [minStall, maxStall] = options.stallMs ?? [200, 3000];
    if (!(options.meanTimeBetweenFaults > 0)) {
      throw new RangeError('meanTimeBetweenFaults must be a positive number of ms, or Infinity');
    }
    if (!(minStall >= 0 && maxStall >= minStall)) {
      throw new RangeError(`stallMs must be [min, max] with 0 <= min <= max`);
    }
    this.#options = {
      target: options.target,
      meanTimeBetweenFaults: options.meanTimeBetweenFaults,
      weights: options.weights ?? DEFAULT_WEIGHTS,
      stallMs: [minStall, maxStall],
      stallCutChance: options.stallCutChance ?? 0.5,
      lingerMs: options.lingerMs ?? 5000,
    };
    this.#random = seededRandom(options.seed);
    this.#faults = options.faults ?? true;
    // pauseOnConnect: nothing is read from a client before its upstream is connected.
    this.#server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) =>
      this.#accept(socket),
    );
  }

  /** Starts a proxy listening on 127.0.0.1, on a free port. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    proxy.#server.listen(0, '127.0.0.1');
    await once(proxy.#server, 'listening');
    return proxy;
  }

  /** The port the proxy listens on (on 127.0.0.1). */
  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy is closed');
    return address.port;
  }

  /** The seed its PRNG started from. */
  get seed(): number {
    return this.#random.seed;
  }

  /** Whether random faults are being injected. */
  get faulting(): boolean {
    return this.#faults;
  }

  /** A snapshot of the counts. */
  stats(): FaultProxyStats {
    const counts = this.#counts;
    return {
      ...counts,
      open: this.#connections.size,
      faults: counts.cuts + counts.resets + counts.stalls,
    };
  }

  /** Starts (or restarts) random faults on every open connection and every new one. */
  startFaults(): void {
    this.#faults = true;
    for (const connection of this.#connections) connection.scheduleFault();
  }

  /**
   * Stops random faults: no new one is drawn, and every stalled connection
   * resumes now. Connections already cut or reset stay so.
   */
  stopFaults(): void {
    this.#faults = false;
    for (const connection of this.#connections) connection.calm();
  }

  /**
   * Injects `kind` into every open connection now, whether random faults are
   * on or not (a stall's length and outcome are drawn as usual). For tests of
   * the proxy itself.
   * @returns how many connections it was injected into.
   */
  inject(kind: FaultKind): number {
    let count = 0;
    for (const connection of this.#connections) if (connection.fault(kind)) count++;
    return count;
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    this.#faults = false;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const connection of this.#connections) connection.destroy();
    await closed;
  }

  #accept(client: net.Socket): void {
    this.#counts.accepted++;
    const connection = new ProxiedConnection(this.#counts.accepted, client, {
      options: this.#options,
      random: this.#random,
      count: (counter, by = 1) => void (this.#counts[counter] += by),
      faulting: () => this.#faults,
      report: (event) => this.emit('fault', event),
      closed: (done) => this.#connections.delete(done),
    });
    this.#connections.add(connection);
  }
}

/** What a {@link ProxiedConnection} needs from its proxy. */
interface ProxyContext {
  readonly options: Required<Omit<FaultProxyOptions, 'seed' | 'faults'>>;
  readonly random: Random;
  count(counter: Counter, by?: number): void;
  faulting(): boolean;
  report(event: FaultEvent): void;
  closed(connection: ProxiedConnection): void;
}

/**
 * One client connection and its upstream connection.
 *
 * States: `connecting` (the upstream is not connected yet; the client is
 * paused), `open`, `stalled` (both paused), `cut` (FIN sent both ways;
 * anything still arriving is read and dropped, so the peers' FINs arrive),
 * `closed`.
 */
class ProxiedConnection {
  readonly #id: number;
  readonly #client: net.Socket;
  readonly #upstream: net.Socket;
  readonly #context: ProxyContext;
  #state: 'connecting' | 'open' | 'stalled' | 'cut' | 'closed' = 'connecting';
  #faultTimer: NodeJS.Timeout | undefined;
  #stallTimer: NodeJS.Timeout | undefined;
  #lingerTimer: NodeJS.Timeout | undefined;

  constructor(id: number, client: net.Socket, context: ProxyContext) {
    this.#id = id;
    this.#client = client;
    this.#context = context;
    const { host, port } = context.options.target;
    this.#upstream = net.connect({ host, port, allowHalfOpen: true });
    this.#upstream.once('connect', () => {
      if (this.#state !== 'connecting') return;
      this.#state = 'open';
      this.#client.resume();
      this.scheduleFault();
    });
    this.#forward(this.#client, this.#upstream, 'bytesUp');
    this.#forward(this.#upstream, this.#client, 'bytesDown');
    for (const socket of [this.#client, this.#upstream]) {
      // An error (ECONNRESET, EPIPE, ECONNREFUSED) breaks the pair: `close` follows.
      socket.on('error', () => {
        if (socket === this.#upstream && this.#state === 'connecting') {
          context.count('upstreamFailures');
        }
      });
      socket.on('close', () => this.#onClose(socket));
    }
  }

  /** Draws the time to this connection's next fault, when faults are on and none is pending. */
  scheduleFault(): void {
    if (this.#state !== 'open' || this.#faultTimer || !this.#context.faulting()) return;
    const { random, options } = this.#context;
    const delay = random.exponential(options.meanTimeBetweenFaults);
    if (!Number.isFinite(delay)) return;
    this.#faultTimer = setTimeout(() => {
      this.#faultTimer = undefined;
      if (this.#context.faulting()) this.fault(random.pick(options.weights));
    }, delay);
  }

  /** Injects `kind` now. @returns `false` if the connection is not open (connecting, stalled, cut). */
  fault(kind: FaultKind): boolean {
    if (this.#state !== 'open') return false;
    clearTimeout(this.#faultTimer);
    this.#faultTimer = undefined;
    const { count, report } = this.#context;
    switch (kind) {
      case 'cut':
        count('cuts');
        report({ connection: this.#id, action: 'cut' });
        this.#cut();
        break;
      case 'reset':
        count('resets');
        report({ connection: this.#id, action: 'reset' });
        this.#reset();
        break;
      case 'stall':
        count('stalls');
        this.#stall();
        break;
    }
    return true;
  }

  /** Ends a stall now by resuming, and cancels the next fault (faults were stopped). */
  calm(): void {
    clearTimeout(this.#faultTimer);
    this.#faultTimer = undefined;
    if (this.#state === 'stalled') this.#resume();
  }

  /** Destroys both sockets (the proxy is closing). */
  destroy(): void {
    this.#client.destroy();
    this.#upstream.destroy();
  }

  /**
   * Forwards `from`'s bytes to `to`, with backpressure: `from` pauses while
   * `to`'s buffer is full and resumes on `drain`, unless stalled meanwhile.
   */
  #forward(from: net.Socket, to: net.Socket, counter: 'bytesUp' | 'bytesDown'): void {
    from.on('data', (chunk: Buffer) => {
      // After a cut, the peers' last bytes are read only so that their FIN arrives.
      if (this.#state === 'cut' || this.#state === 'closed') return;
      this.#context.count(counter, chunk.length);
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (this.#state === 'open' || this.#state === 'connecting') from.resume();
    });
    // A peer's FIN is passed on; the other direction keeps flowing.
    from.on('end', () => {
      if (this.#state !== 'cut') to.end();
      this.#startLinger();
    });
  }

  #cut(): void {
    this.#state = 'cut';
    this.#client.end();
    this.#upstream.end();
    this.#client.resume();
    this.#upstream.resume();
    this.#startLinger();
  }

  #reset(): void {
    this.#state = 'closed';
    this.#client.resetAndDestroy();
    this.#upstream.resetAndDestroy();
  }

  #stall(): void {
    const { random, options, report } = this.#context;
    const [min, max] = options.stallMs;
    const ms = Math.round(random.between(min, max));
    this.#state = 'stalled';
    this.#client.pause();
    this.#upstream.pause();
    report({ connection: this.#id, action: 'stall', ms });
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      if (this.#state !== 'stalled') return;
      if (random.chance(options.stallCutChance)) {
        this.#context.count('stallsCut');
        report({ connection: this.#id, action: 'stall-cut' });
        this.#cut();
      } else {
        this.#resume();
        this.scheduleFault();
      }
    }, ms);
  }

  #resume(): void {
    clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    this.#state = 'open';
    this.#context.count('stallsResumed');
    this.#context.report({ connection: this.#id, action: 'resume' });
    // Each side reads again unless its destination is still full (its `drain` resumes it).
    if (!this.#upstream.writableNeedDrain) this.#client.resume();
    if (!this.#client.writableNeedDrain) this.#upstream.resume();
  }

  /** Once a connection is ending, neither peer may keep it half-open forever. */
  #startLinger(): void {
    if (this.#lingerTimer || this.#state === 'closed') return;
    this.#lingerTimer = setTimeout(() => this.destroy(), this.#context.options.lingerMs);
  }

  #onClose(socket: net.Socket): void {
    const other = socket === this.#client ? this.#upstream : this.#client;
    if (!other.destroyed) {
      // A side closed in good order (both directions ended) lets the other
      // finish flushing; a broken one (error, RST) takes the other down now.
      if (socket.errored || !other.writableEnded) other.destroy();
      return;
    }
    this.#state = 'closed';
    clearTimeout(this.#faultTimer);
    clearTimeout(this.#stallTimer);
    clearTimeout(this.#lingerTimer);
    this.#context.closed(this);
  }
}
