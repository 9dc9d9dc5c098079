/**
 * Topics across the workers of one `node:cluster`: a {@link PubSubAdapter}
 * for each worker, and the relay the primary runs between them.
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import process from 'node:process';
import cluster, { type Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import type { PubSubAdapter, PubSubAdapterEvents } from './pubsub-adapter.js';

/** Options of a {@link ClusterAdapter}. */
export interface ClusterAdapterOptions {
  /**
   * Name of the relay channel. Servers in one worker that must not share
   * topics use different channels; the relay keeps them apart. One adapter
   * per channel per worker. Default `"default"`.
   */
  channel?: string;
}

/** Counters of a {@link ClusterAdapter}, for monitoring and tests. */
export interface ClusterAdapterStats {
  /** Messages handed to the primary. */
  published: number;
  /** Publishes not sent because the IPC channel to the primary was closed. */
  dropped: number;
  /** Messages from other workers delivered to this worker. */
  received: number;
}

/** Counters of a {@link ClusterRelay}. */
export interface ClusterRelayStats {
  /** Publishes received from workers. */
  published: number;
  /** Copies handed to the IPC channels of subscribed workers. */
  relayed: number;
  /** Copies not delivered because the worker's IPC channel had closed (it was exiting). */
  dropped: number;
}

/** The primary's side of the cluster pub/sub: see {@link installClusterRelay}. */
export interface ClusterRelay {
  /** Topics with a subscribed worker, per channel (`channel` → `topic` → worker ids). */
  readonly subscriptions: ReadonlyMap<string, ReadonlyMap<string, ReadonlySet<number>>>;
  readonly stats: ClusterRelayStats;
  /** Stops relaying: removes the relay's listeners from `node:cluster`. Workers keep running. */
  close(): void;
}

/**
 * The marker of every IPC message of this adapter, so that it shares the
 * worker's channel with the application's own `process.send` messages.
 */
const TAG = 'proj:pubsub';

/**
 * One IPC message, either way. Payloads travel as base64 text: the channel's
 * serialization is chosen by the primary (`'json'` unless `cluster.setupPrimary`
 * says `'advanced'`), and base64 survives both.
 */
type RelayMessage =
  | { tag: typeof TAG; channel: string; op: 'hello' | 'welcome' | 'bye' }
  | { tag: typeof TAG; channel: string; op: 'subscribe' | 'unsubscribe'; topic: string }
  | {
      tag: typeof TAG;
      channel: string;
      op: 'publish' | 'message';
      topic: string;
      data: string;
      binary: boolean;
    };

function isRelayMessage(message: unknown): message is RelayMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { tag?: unknown }).tag === TAG &&
    typeof (message as { channel?: unknown }).channel === 'string'
  );
}

/** Channels with an open adapter in this worker. */
const openChannels = new Set<string>();

/**
 * A {@link PubSubAdapter} over `node:cluster` IPC: `server.publish` in one
 * worker reaches the subscribers in every worker of the cluster, with no
 * broker. The primary relays (see {@link installClusterRelay}); it forwards a
 * publish only to the workers with a subscriber for its topic.
 *
 * Delivery: every message one worker publishes to a topic reaches every other
 * subscribed worker, in publish order (one IPC channel each way, and the
 * primary relays in arrival order). A worker subscribed while a message was on
 * its way to the primary may miss it; one that unsubscribed drops what is
 * still in flight. Messages from a worker that exits are delivered up to its
 * last `process.send`; a worker that exits is forgotten by the primary, and
 * the others go on. Each message crosses two IPC hops (JSON, base64 payload):
 * for heavy fan-out across machines use `@proj/redis`.
 *
 * `ready()` resolves once the primary's relay has answered; `available` is
 * emitted then, `unavailable` when the IPC channel closes (the primary is
 * gone, or this worker is disconnecting).
 *
 * @example
 * // In each worker (the primary ran installClusterRelay()):
 * const server = new WebSocketServer({ port: 8080, adapter: new ClusterAdapter() });
 */
export class ClusterAdapter extends EventEmitter<PubSubAdapterEvents> implements PubSubAdapter {
  /** The relay channel (see {@link ClusterAdapterOptions.channel}). */
  readonly channel: string;
  readonly stats: ClusterAdapterStats = { published: 0, dropped: 0, received: 0 };

  readonly #topics = new Set<string>();
  readonly #ready: Promise<void>;
  #resolveReady!: () => void;
  #rejectReady!: (error: Error) => void;
  #available = false;
  #closed = false;

  readonly #onMessage = (message: unknown): void => {
    if (!isRelayMessage(message) || message.channel !== this.channel || this.#closed) return;
    if (message.op === 'welcome') {
      this.#available = true;
      this.#resolveReady();
      this.emit('available');
    } else if (message.op === 'message') {
      // Still in flight after an unsubscribe.
      if (!this.#topics.has(message.topic)) return;
      this.stats.received++;
      this.emit('message', message.topic, Buffer.from(message.data, 'base64'), message.binary);
    }
  };

  readonly #onDisconnect = (): void => {
    if (this.#closed) return;
    const error = new Error('The IPC channel to the cluster primary closed');
    this.#rejectReady(error);
    // Emitted once, even if the relay never answered: a failure is news.
    this.#available = false;
    this.emit('unavailable', error);
  };

  /**
   * @param options - see {@link ClusterAdapterOptions}.
   * @throws {Error} outside a `node:cluster` worker (or one whose IPC channel
   *   is closed), or when this worker already has an open adapter on the
   *   channel.
   * @throws {TypeError} for a channel that is not a string.
   */
  constructor(options: ClusterAdapterOptions = {}) {
    super();
    const { channel = 'default' } = options;
    if (typeof channel !== 'string') throw new TypeError('The "channel" option must be a string');
    if (!cluster.isWorker || !process.send || !process.connected) {
      throw new Error('ClusterAdapter runs in a node:cluster worker with its IPC channel open');
    }
    if (openChannels.has(channel)) {
      throw new Error(`This worker already has a ClusterAdapter on channel "${channel}"`);
    }
    openChannels.add(channel);
    this.channel = channel;
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // Nobody may await it; a rejection is also reported as `unavailable`.
    this.#ready.catch(() => {});
    // A `message` listener keeps the IPC channel referenced (the worker alive)
    // until close() removes it.
    process.on('message', this.#onMessage);
    process.on('disconnect', this.#onDisconnect);
    this.#send({ tag: TAG, channel, op: 'hello' });
  }

  /** Whether the primary's relay has answered and the IPC channel is open. */
  get available(): boolean {
    return this.#available;
  }

  /** Topics this worker has local subscribers for (those the primary sends it). */
  get topics(): ReadonlySet<string> {
    return this.#topics;
  }

  /**
   * Resolves once the primary's relay has answered this adapter; rejects when
   * the IPC channel closes first or the adapter is closed. It never settles
   * when the primary runs no relay.
   */
  ready(): Promise<void> {
    return this.#ready;
  }

  publish(topic: string, payload: Uint8Array, binary: boolean): void {
    if (this.#closed) return;
    const data = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    if (
      this.#send({
        tag: TAG,
        channel: this.channel,
        op: 'publish',
        topic,
        data: data.toString('base64'),
        binary,
      })
    ) {
      this.stats.published++;
    } else {
      this.stats.dropped++;
    }
  }

  subscribe(topic: string): void {
    if (this.#closed || this.#topics.has(topic)) return;
    this.#topics.add(topic);
    this.#send({ tag: TAG, channel: this.channel, op: 'subscribe', topic });
  }

  unsubscribe(topic: string): void {
    if (this.#closed || !this.#topics.delete(topic)) return;
    this.#send({ tag: TAG, channel: this.channel, op: 'unsubscribe', topic });
  }

  /**
   * Tells the primary to forget this worker's subscriptions on the channel,
   * and stops listening to the IPC channel (which no longer keeps the worker
   * alive). Called by `WebSocketServer#close`.
   */
  close(): void {
    if (this.#closed) return;
    this.#send({ tag: TAG, channel: this.channel, op: 'bye' });
    this.#closed = true;
    this.#available = false;
    this.#topics.clear();
    openChannels.delete(this.channel);
    process.off('message', this.#onMessage);
    process.off('disconnect', this.#onDisconnect);
    this.#rejectReady(new Error('ClusterAdapter is closed'));
  }

  /** Sends to the primary; `false` when the IPC channel is closed. */
  #send(message: RelayMessage): boolean {
    if (!process.send || !process.connected) return false;
    // With a callback, a channel that closes meanwhile is not an `error` event on process.
    process.send(message, undefined, {}, (error) => {
      if (error && this.listenerCount('error') > 0) this.emit('error', error);
    });
    return true;
  }
}

/**
 * Installs, in the primary of a `node:cluster`, the relay that carries
 * {@link ClusterAdapter} publishes between workers: a publish from one
 * worker goes to every other worker subscribed to its topic on the same
 * channel, in arrival order. A worker that exits (or whose adapter closes) is
 * forgotten; a copy for a worker whose channel has just closed is dropped and
 * counted. Call it once, before forking; workers forked later are served too.
 *
 * @throws {Error} when called outside the cluster primary, or a second time
 *   before the first relay is closed.
 *
 * @example
 * if (cluster.isPrimary) {
 *   installClusterRelay();
 *   for (let i = 0; i < availableParallelism(); i++) cluster.fork();
 * } else {
 *   new WebSocketServer({ port: 8080, adapter: new ClusterAdapter() });
 * }
 */
export function installClusterRelay(): ClusterRelay {
  if (!cluster.isPrimary) throw new Error('installClusterRelay runs in the cluster primary');
  if (relayInstalled) throw new Error('A cluster relay is installed already');
  relayInstalled = true;

  /** channel → topic → ids of subscribed workers. */
  const subscriptions = new Map<string, Map<string, Set<number>>>();
  const stats: ClusterRelayStats = { published: 0, relayed: 0, dropped: 0 };

  const sendTo = (worker: Worker, message: RelayMessage): void => {
    if (!worker.isConnected()) {
      stats.dropped++;
      return;
    }
    // With a callback, a channel that closes meanwhile is not an `error` event on the worker.
    worker.send(message, undefined, (error) => {
      if (error) stats.dropped++;
    });
    stats.relayed++;
  };

  const forget = (workerId: number, channel: string | undefined): void => {
    for (const [name, topics] of subscriptions) {
      if (channel !== undefined && name !== channel) continue;
      for (const [topic, workers] of topics) {
        if (workers.delete(workerId) && workers.size === 0) topics.delete(topic);
      }
      if (topics.size === 0) subscriptions.delete(name);
    }
  };

  const onMessage = (worker: Worker, message: unknown): void => {
    if (!isRelayMessage(message)) return;
    // Only our adapter sends these; anything malformed is not ours to relay.
    if ('topic' in message && typeof message.topic !== 'string') return;
    if (
      'data' in message &&
      (typeof message.data !== 'string' || typeof message.binary !== 'boolean')
    ) {
      return;
    }
    const { channel } = message;
    switch (message.op) {
      case 'hello':
        worker.send(
          { tag: TAG, channel, op: 'welcome' } satisfies RelayMessage,
          undefined,
          () => {},
        );
        break;
      case 'subscribe': {
        let topics = subscriptions.get(channel);
        if (!topics) subscriptions.set(channel, (topics = new Map()));
        let workers = topics.get(message.topic);
        if (!workers) topics.set(message.topic, (workers = new Set()));
        workers.add(worker.id);
        break;
      }
      case 'unsubscribe': {
        const topics = subscriptions.get(channel);
        const workers = topics?.get(message.topic);
        if (workers?.delete(worker.id) && workers.size === 0) {
          topics!.delete(message.topic);
          if (topics!.size === 0) subscriptions.delete(channel);
        }
        break;
      }
      case 'bye':
        forget(worker.id, channel);
        break;
      case 'publish': {
        stats.published++;
        const workers = subscriptions.get(channel)?.get(message.topic);
        if (!workers) break;
        const relayed: RelayMessage = {
          tag: TAG,
          channel,
          op: 'message',
          topic: message.topic,
          data: message.data,
          binary: message.binary,
        };
        for (const id of workers) {
          if (id === worker.id) continue; // its own: delivered locally already
          const target = cluster.workers?.[id];
          if (target) sendTo(target, relayed);
          else stats.dropped++;
        }
        break;
      }
      default:
        break;
    }
  };
  const onExit = (worker: Worker): void => forget(worker.id, undefined);

  cluster.on('message', onMessage);
  cluster.on('exit', onExit);
  let closed = false;
  return {
    subscriptions,
    stats,
    close() {
      if (closed) return;
      closed = true;
      relayInstalled = false;
      cluster.off('message', onMessage);
      cluster.off('exit', onExit);
      subscriptions.clear();
    },
  };
}

let relayInstalled = false;
