/**
 * Where a {@link RedisAdapter}'s two Redis connections come from, and which of
 * them it owns. An adapter closes only the connections it created: a client
 * the application passed in is the application's to close.
 * @packageDocumentation
 */
import { Redis, type RedisOptions } from 'ioredis';

/** The connection options of a {@link RedisAdapter}: one of three forms. */
export interface RedisConnectionOptions {
  /**
   * `redis://[user:password@]host:port[/db]` (or `rediss://`) for the two
   * connections the adapter creates. Default `redis://127.0.0.1:6379`.
   */
  url?: string | undefined;
  /** More `ioredis` options for the two connections the adapter creates (e.g. `tls`, `retryStrategy`). */
  redisOptions?: RedisOptions | undefined;
  /**
   * An ioredis client of yours to publish on. The adapter subscribes on a
   * duplicate of it (`client.duplicate()`, same server and options), which
   * it creates and closes; `client` itself is never closed by the adapter.
   */
  client?: Redis | undefined;
  /**
   * Your own connection to publish on, with `subscriber`. Never closed by
   * the adapter.
   */
  publisher?: Redis | undefined;
  /**
   * Your own connection to subscribe on, with `publisher`, and not the same
   * connection. The adapter subscribes and unsubscribes its own channels on
   * it, and on close unsubscribes them; it never closes the connection. Your
   * own `message` listeners on it see the adapter's channels too.
   */
  subscriber?: Redis | undefined;
}

/** The adapter's two connections, and the ones it created. */
export interface Connections {
  readonly publisher: Redis;
  readonly subscriber: Redis;
  /** Created by the adapter, so closed by it; connections passed in are not here. */
  readonly owned: readonly Redis[];
}

// A publish that was in flight when the connection dropped is not resent: it
// may have been delivered already (at most once, never twice).
const PUBLISHER_OPTIONS: RedisOptions = { autoResendUnfulfilledCommands: false };

// The adapter restores the subscriptions itself on every (re)connection, so
// that `available` means "subscribed again", not merely "connected"; and it
// must connect without waiting for a first command (`lazyConnect`), since it
// sends none until the connection is ready.
const SUBSCRIBER_OPTIONS: RedisOptions = {
  autoResubscribe: false,
  autoResendUnfulfilledCommands: false,
  enableOfflineQueue: false,
  lazyConnect: false,
};

/**
 * Checks the connection options and creates the connections the adapter
 * owns. `nodeId` names them in `CLIENT LIST`.
 * @throws {TypeError} for connections that are not ioredis clients, a
 *   publisher in subscriber mode, one connection given as both, or options
 *   that do not go together (`client` with `publisher`, `url` with a client).
 */
export function openConnections(options: RedisConnectionOptions, nodeId: string): Connections {
  const { url, redisOptions, client, publisher, subscriber } = options;
  const given = (['client', 'publisher', 'subscriber'] as const).filter(
    (name) => options[name] !== undefined,
  );
  if (given.length > 0) {
    for (const name of ['url', 'redisOptions'] as const) {
      if (options[name] !== undefined) {
        throw new TypeError(
          `The "${name}" option is for connections the adapter creates; it cannot be combined with "${given[0]}"`,
        );
      }
    }
  }
  if (client !== undefined) {
    if (publisher !== undefined || subscriber !== undefined) {
      throw new TypeError(
        'The "client" option cannot be combined with "publisher" or "subscriber": pass a client to duplicate, or both connections',
      );
    }
    checkClient('client', client);
    checkCanPublish('client', client);
    const duplicate = client.duplicate(SUBSCRIBER_OPTIONS);
    return { publisher: client, subscriber: duplicate, owned: [duplicate] };
  }
  if (publisher !== undefined || subscriber !== undefined) {
    if (publisher === undefined || subscriber === undefined) {
      throw new TypeError(
        'The "publisher" and "subscriber" options go together: pass both, or "client" alone',
      );
    }
    checkClient('publisher', publisher);
    checkClient('subscriber', subscriber);
    if (publisher === subscriber) {
      throw new TypeError(
        'The "publisher" and "subscriber" options must be two connections: the adapter publishes on one and subscribes on the other',
      );
    }
    checkCanPublish('publisher', publisher);
    return { publisher, subscriber, owned: [] };
  }
  if (url !== undefined && typeof url !== 'string') {
    throw new TypeError(`The "url" option must be a string, got ${describe(url)}`);
  }
  const common: RedisOptions = { connectionName: `ws-${nodeId.slice(0, 8)}`, ...redisOptions };
  const create = (extra: RedisOptions): Redis =>
    url === undefined
      ? new Redis({ ...common, ...extra })
      : new Redis(url, { ...common, ...extra });
  const created = { publisher: create(PUBLISHER_OPTIONS), subscriber: create(SUBSCRIBER_OPTIONS) };
  return { ...created, owned: [created.publisher, created.subscriber] };
}

/** Duck-typed, so that a client from another copy of ioredis is accepted too. */
function checkClient(name: string, value: unknown): asserts value is Redis {
  const isClient =
    typeof value === 'object' &&
    value !== null &&
    ['publish', 'subscribe', 'duplicate', 'on'].every(
      (method) => typeof (value as Record<string, unknown>)[method] === 'function',
    );
  if (!isClient) {
    throw new TypeError(
      `The "${name}" option must be an ioredis client (new Redis(...)), got ${describe(value)}`,
    );
  }
}

/** With RESP2, a connection that subscribed to anything can only (un)subscribe. */
function checkCanPublish(name: string, connection: Redis): void {
  if (connection.mode === 'subscriber') {
    throw new TypeError(
      `The "${name}" connection is in subscriber mode and cannot publish: pass a connection that is not subscribed to anything`,
    );
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'no prototype'})`;
  return `${typeof value} ${String(value)}`;
}
