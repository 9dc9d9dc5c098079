import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { PubSubAdapter, PubSubAdapterEvents } from '@proj/server';
import { type RedisConnectionOptions, openConnections } from './connections.js';

/**
 * Options of a {@link RedisAdapter}: the connections in one of three forms
 * (`url` and `redisOptions` for two the adapter creates, `client` for one of
 * yours plus a duplicate, or `publisher` and `subscriber`), and the prefix.
 */
export interface RedisAdapterOptions extends RedisConnectionOptions {
  /**
   * Prefix of the Redis channel of each topic (`prefix + topic`). Apps that
   * share one Redis must use different prefixes. Default `"ws:"`.
   */
  prefix?: string;
}

/** Counters of a {@link RedisAdapter}, for monitoring and tests. */
export interface RedisAdapterStats {
  /** Messages handed to Redis. */
  published: number;
  /** Publishes not sent to Redis because it was unreachable (local subscribers still got them). */
  dropped: number;
  /** Messages from other nodes delivered to this node. */
  received: number;
}

/** A listener of a connection's events, as ioredis types it. */
type Listener = Parameters<Redis['on']>[1];

/** Format version, the first byte of every message. */
const VERSION = 1;
const FLAG_BINARY = 1;
const NODE_ID_BYTES = 16;
/** [version][flags][origin node id: 16 bytes][payload] */
const HEADER_BYTES = 2 + NODE_ID_BYTES;

/**
 * A {@link PubSubAdapter} over Redis pub/sub: `server.publish` on one node
 * reaches the subscribers of every node connected to the same Redis.
 *
 * Two connections: one publishes, one subscribes (they reconnect
 * differently, and with RESP2 a connection in subscriber mode can do nothing
 * else). The adapter creates them, or takes
 * yours (`client`, or `publisher` and `subscriber`), and closes only those it
 * created. A node subscribes only to the channels of topics it has local
 * subscribers for. Each message carries the origin node's id, so a node
 * ignores its own (it delivered them already, directly and in order), and a
 * binary flag; the payload is carried unchanged.
 *
 * Delivery is Redis pub/sub's: at most once. Messages published while Redis
 * is unreachable, or in flight when it goes down, are lost for the other
 * nodes; local delivery never stops. After Redis comes back both connections
 * reconnect and every subscription is restored; then `available` is emitted.
 * Messages one node publishes to a topic reach every other node in order (one
 * publishing connection, and Redis keeps the order of one connection).
 *
 * @example
 * const server = new WebSocketServer({ port: 8080, adapter: new RedisAdapter(process.env.REDIS_URL) });
 * @example
 * // An ioredis client the application already has: published on, and
 * // duplicated for subscribing; the adapter closes only the duplicate.
 * const adapter = new RedisAdapter({ client: redis });
 */
export class RedisAdapter extends EventEmitter<PubSubAdapterEvents> implements PubSubAdapter {
  /** This node's id (hex), carried in every message it publishes. */
  readonly nodeId: string;
  /** Channel prefix. */
  readonly prefix: string;
  readonly stats: RedisAdapterStats = { published: 0, dropped: 0, received: 0 };

  readonly #header: Buffer;
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  /** The connections this adapter created: the only ones it closes. */
  readonly #owned: readonly Redis[];
  /** Every listener added to a connection, removed on close from those not owned. */
  readonly #listeners: Array<[Redis, string, Listener]> = [];
  readonly #topics = new Set<string>();
  /** Every subscription is in place on the current subscriber connection. */
  #synced = false;
  /** Bumped on each subscriber connection, so a stale resubscription is ignored. */
  #generation = 0;
  #everReady = false;
  #available: boolean | undefined;
  #lastError: Error | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  /**
   * @param options - a Redis URL, or {@link RedisAdapterOptions}.
   * @throws {TypeError} for an invalid prefix or connection options (see
   *   {@link RedisAdapterOptions}), e.g. a `publisher` in subscriber mode.
   */
  constructor(options: string | RedisAdapterOptions = {}) {
    super();
    const resolved = typeof options === 'string' ? { url: options } : options;
    const { prefix = 'ws:' } = resolved;
    if (typeof prefix !== 'string') throw new TypeError('The "prefix" option must be a string');
    this.prefix = prefix;
    const id = randomBytes(NODE_ID_BYTES);
    this.nodeId = id.toString('hex');
    this.#header = Buffer.alloc(HEADER_BYTES);
    this.#header[0] = VERSION;
    id.copy(this.#header, 2);

    const connections = openConnections(resolved, this.nodeId);
    this.#publisher = connections.publisher;
    this.#subscriber = connections.subscriber;
    this.#owned = connections.owned;

    for (const connection of [this.#publisher, this.#subscriber]) {
      this.#listen(connection, 'error', (error: Error) => this.#onError(error));
      this.#listen(connection, 'close', () => this.#update());
    }
    this.#listen(this.#publisher, 'ready', () => this.#onPublisherReady());
    this.#listen(this.#subscriber, 'ready', () => this.#resubscribe());
    this.#listen(this.#subscriber, 'close', () => {
      this.#synced = false;
      this.#generation++;
      this.#update();
    });
    this.#listen(this.#subscriber, 'messageBuffer', (channel: Buffer, message: Buffer) =>
      this.#onMessage(channel, message),
    );
    // Connections passed in may be up already (no `ready` to wait for), or
    // created with `lazyConnect` and waiting for a first command.
    if (this.#publisher.status === 'ready') this.#onPublisherReady();
    if (this.#subscriber.status === 'ready') this.#resubscribe();
    for (const connection of [this.#publisher, this.#subscriber]) {
      if (connection.status === 'wait') connection.connect().catch(() => {}); // reported by 'error'
    }
  }

  /** Whether Redis is reachable and every subscription is in place. */
  get available(): boolean {
    return this.#available === true;
  }

  /** Topics this node is subscribed to in Redis (those with local subscribers). */
  get topics(): ReadonlySet<string> {
    return this.#topics;
  }

  /** Resolves once Redis is reachable and every subscription is in place. */
  ready(): Promise<void> {
    if (this.available) return Promise.resolve();
    if (this.#closed) return Promise.reject(new Error('RedisAdapter is closed'));
    return new Promise((resolve) => this.once('available', resolve));
  }

  publish(topic: string, payload: Uint8Array, binary: boolean): void {
    if (this.#closed) return;
    // Before the first connection ioredis queues the command; after it, a
    // publish while Redis is unreachable is dropped rather than queued
    // without bound and delivered late.
    if (this.#everReady && this.#publisher.status !== 'ready') {
      this.stats.dropped++;
      return;
    }
    const message = Buffer.allocUnsafe(HEADER_BYTES + payload.byteLength);
    this.#header.copy(message, 0);
    message[1] = binary ? FLAG_BINARY : 0;
    message.set(payload, HEADER_BYTES);
    this.stats.published++;
    this.#publisher.publish(this.prefix + topic, message).catch((error: Error) => {
      this.stats.dropped++;
      this.#onError(error);
    });
  }

  subscribe(topic: string): void {
    if (this.#closed || this.#topics.has(topic)) return;
    this.#topics.add(topic);
    if (this.#subscriber.status === 'ready') {
      this.#subscriber.subscribe(this.prefix + topic).catch((error: Error) => this.#onError(error));
    }
  }

  unsubscribe(topic: string): void {
    if (this.#closed || !this.#topics.delete(topic)) return;
    if (this.#subscriber.status === 'ready') {
      this.#subscriber
        .unsubscribe(this.prefix + topic)
        .catch((error: Error) => this.#onError(error));
    }
  }

  /**
   * Closes the connections this adapter created (publishes already handed to
   * Redis are sent first). Connections passed in stay open: the adapter
   * unsubscribes its channels from your `subscriber` and stops listening to
   * both.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    const channels = [...this.#topics].map((topic) => this.prefix + topic);
    this.#topics.clear();
    await Promise.all(
      [this.#publisher, this.#subscriber].map(async (connection) => {
        if (this.#owned.includes(connection)) {
          await quit(connection);
          return;
        }
        if (
          connection === this.#subscriber &&
          channels.length > 0 &&
          connection.status === 'ready'
        ) {
          try {
            await connection.unsubscribe(...channels);
          } catch {
            // Lost meanwhile: a new connection has none of our subscriptions.
          }
        }
        for (const [emitter, event, listener] of this.#listeners) {
          if (emitter === connection) emitter.off(event, listener);
        }
      }),
    );
  }

  #resubscribe(): void {
    const generation = ++this.#generation;
    const channels = [...this.#topics].map((topic) => this.prefix + topic);
    const done = (): void => {
      if (generation !== this.#generation) return;
      this.#synced = true;
      this.#update();
    };
    if (channels.length === 0) {
      done();
      return;
    }
    this.#subscriber.subscribe(...channels).then(done, (error: Error) => this.#onError(error));
  }

  #onPublisherReady(): void {
    this.#everReady = true;
    this.#update();
  }

  /** Adds a listener to a connection and remembers it, to remove it on close. */
  #listen(connection: Redis, event: string, listener: Listener): void {
    connection.on(event, listener);
    this.#listeners.push([connection, event, listener]);
  }

  #onMessage(channel: Buffer, message: Buffer): void {
    if (message.length < HEADER_BYTES || message[0] !== VERSION) return;
    // Our own publish: delivered locally already.
    if (message.compare(this.#header, 2, HEADER_BYTES, 2, HEADER_BYTES) === 0) return;
    const name = channel.toString('utf8');
    if (!name.startsWith(this.prefix)) return;
    const topic = name.slice(this.prefix.length);
    // Still in flight after an unsubscribe.
    if (!this.#topics.has(topic)) return;
    this.stats.received++;
    this.emit('message', topic, message.subarray(HEADER_BYTES), (message[1]! & FLAG_BINARY) !== 0);
  }

  #onError(error: Error): void {
    this.#lastError = error;
    if (this.#closed) return;
    if (this.listenerCount('error') > 0) this.emit('error', error);
    this.#update();
  }

  /** Emits `available` / `unavailable` when the state changes. */
  #update(): void {
    if (this.#closed) return;
    const available =
      this.#publisher.status === 'ready' && this.#subscriber.status === 'ready' && this.#synced;
    if (available === this.#available) return;
    // Before the first connection, only a failure is news.
    if (!available && this.#available === undefined && this.#lastError === undefined) return;
    this.#available = available;
    if (available) {
      this.#lastError = undefined;
      this.emit('available');
    } else {
      this.emit('unavailable', this.#lastError);
    }
  }
}

/** Quits a connection the adapter owns, or drops it when quitting is not possible. */
async function quit(connection: Redis): Promise<void> {
  if (connection.status === 'ready') {
    try {
      await connection.quit();
    } catch {
      // Lost while quitting: disconnect below.
    }
  }
  connection.disconnect();
}
