/**
 * RedisAdapter on connections the application gives it (`client`, or
 * `publisher` and `subscriber`), against a real redis-server (started on a
 * free port by ./redis-server.ts): it delivers through them, and on close it
 * quits only the connections it created.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { RedisAdapter, type RedisAdapterOptions } from '@proj/redis';
import { onCleanup, useCleanup } from '@proj/test-utils';
import { numsub, until, useRedis } from './helpers.js';

const redis = useRedis();

useCleanup({ failOnUncaught: false });

const quick: RedisOptions = { retryStrategy: (times) => Math.min(times * 50, 250) };

/** A connection of the application's own, dropped after the test. */
function appConnection(options: RedisOptions = {}): Redis {
  const connection = new Redis(redis.server.url, { ...quick, ...options });
  connection.on('error', () => {});
  onCleanup(() => connection.disconnect());
  return connection;
}

/** An adapter that makes its own connections. */
function ownAdapter(): RedisAdapter {
  const created = new RedisAdapter({ url: redis.server.url, redisOptions: quick });
  created.on('error', () => {});
  onCleanup(() => created.close());
  return created;
}

/** How many connections Redis has open under `name` (CLIENT LIST). */
async function connectionsNamed(name: string): Promise<number> {
  const list = (await redis.ctl.call('CLIENT', 'LIST')) as string;
  return list.split('\n').filter((line) => line.includes(` name=${name} `)).length;
}

/** The text payloads `adapter` receives from other nodes. */
function received(adapter: RedisAdapter): string[] {
  const texts: string[] = [];
  adapter.on('message', (_topic, payload) => texts.push(Buffer.from(payload).toString()));
  return texts;
}

const text = (value: string): Uint8Array => new TextEncoder().encode(value);

/**
 * `adapter` and `other` each subscribe to a topic (`in`, `out`) and publish
 * one message to the other's: both arrive.
 */
async function exchange(adapter: RedisAdapter, other: RedisAdapter): Promise<void> {
  const atAdapter = received(adapter);
  const atOther = received(other);
  adapter.subscribe('in');
  other.subscribe('out');
  await until(
    async () => (await numsub(redis.ctl, 'ws:in', 'ws:out')).join() === '1,1',
    'both subscriptions',
  );
  other.publish('in', text('to the adapter'), false);
  adapter.publish('out', text('from the adapter'), false);
  await until(() => atAdapter.length === 1 && atOther.length === 1, 'both messages');
  expect([atAdapter, atOther]).toEqual([['to the adapter'], ['from the adapter']]);
}

describe('RedisAdapter on connections it is given', () => {
  test('{ client }: publishes on it, subscribes on a duplicate, and closes only the duplicate', async () => {
    const client = appConnection({ connectionName: 'app-main' });
    await client.ping(); // already up when handed over: no `ready` event will come
    const adapter = new RedisAdapter({ client });
    onCleanup(() => adapter.close());
    const other = ownAdapter();
    await Promise.all([adapter.ready(), other.ready()]);
    // The duplicate has the client's options, its name included.
    expect(await connectionsNamed('app-main')).toBe(2);

    await exchange(adapter, other);

    await adapter.close();
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
    await until(async () => (await connectionsNamed('app-main')) === 1, 'the duplicate closed');
    expect(await numsub(redis.ctl, 'ws:in')).toEqual([0]);
  });

  test('{ client } created with lazyConnect: the adapter connects it', async () => {
    const client = appConnection({ lazyConnect: true });
    const adapter = new RedisAdapter({ client });
    onCleanup(() => adapter.close());
    await adapter.ready();
    expect(client.status).toBe('ready');
  });

  test('{ publisher, subscriber }: uses both, unsubscribes only its channels on close, quits neither', async () => {
    const publisher = appConnection({ connectionName: 'app-pub' });
    const subscriber = appConnection({ connectionName: 'app-sub' });
    // The application's own subscription on the same connection (its
    // listener sees the adapter's channels too, and keeps to its own).
    const appMessages: string[] = [];
    subscriber.on('message', (channel: string, message: string) => {
      if (channel.startsWith('app:')) appMessages.push(`${channel} ${message}`);
    });
    await subscriber.subscribe('app:news');
    const listenersBefore = [publisher, subscriber].map((c) =>
      c.eventNames().map((name) => `${String(name)}:${c.listenerCount(name)}`),
    );

    const adapter = new RedisAdapter({ publisher, subscriber });
    onCleanup(() => adapter.close());
    const other = ownAdapter();
    await Promise.all([adapter.ready(), other.ready()]);
    await exchange(adapter, other);
    await redis.ctl.publish('app:news', 'for the application');
    await until(() => appMessages.length === 1, "the application's message");
    expect(appMessages).toEqual(['app:news for the application']);
    expect(await connectionsNamed('app-pub')).toBe(1);
    expect(await connectionsNamed('app-sub')).toBe(1);

    await adapter.close();
    expect([publisher.status, subscriber.status]).toEqual(['ready', 'ready']);
    expect(await publisher.ping()).toBe('PONG');
    // Its channel is gone from the shared connection; the application's stays.
    expect(await numsub(redis.ctl, 'ws:in', 'app:news')).toEqual([0, 1]);
    // And it no longer listens to either connection.
    expect(
      [publisher, subscriber].map((c) =>
        c.eventNames().map((name) => `${String(name)}:${c.listenerCount(name)}`),
      ),
    ).toEqual(listenersBefore);
  });

  test('closes both connections it created', async () => {
    const adapter = ownAdapter();
    await adapter.ready();
    const name = `ws-${adapter.nodeId.slice(0, 8)}`;
    expect(await connectionsNamed(name)).toBe(2);
    await adapter.close();
    await until(async () => (await connectionsNamed(name)) === 0, 'both connections closed');
  });

  test('refuses connection options that do not fit, naming them', async () => {
    const idle = (): Redis => {
      const connection = new Redis({ lazyConnect: true });
      onCleanup(() => connection.disconnect());
      return connection;
    };
    const [a, b] = [idle(), idle()];
    const refused = (options: object): unknown => {
      try {
        new RedisAdapter(options as RedisAdapterOptions);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const cases: Array<[object, RegExp]> = [
      [
        { client: {} },
        /^The "client" option must be an ioredis client \(new Redis\(\.\.\.\)\), got an object \(Object\)$/,
      ],
      [
        { client: 'redis://x' },
        /^The "client" option must be an ioredis client .*, got "redis:\/\/x"$/,
      ],
      [
        { client: a, url: redis.server.url },
        /^The "url" option is for connections the adapter creates; it cannot be combined with "client"$/,
      ],
      [
        { publisher: a, redisOptions: {} },
        /^The "redisOptions" option .* cannot be combined with "publisher"$/,
      ],
      [
        { client: a, subscriber: b },
        /^The "client" option cannot be combined with "publisher" or "subscriber"/,
      ],
      [{ publisher: a }, /^The "publisher" and "subscriber" options go together/],
      [{ subscriber: b }, /^The "publisher" and "subscriber" options go together/],
      [
        { publisher: a, subscriber: a },
        /^The "publisher" and "subscriber" options must be two connections/,
      ],
    ];
    for (const [options, message] of cases) {
      const error = refused(options);
      expect(error, JSON.stringify(Object.keys(options))).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(message);
    }

    // With RESP2, a connection that subscribed is in subscriber mode and cannot
    // publish (with RESP3, ioredis 6's default, it still can).
    const subscribed = appConnection({ protocol: 2 });
    await subscribed.subscribe('anything');
    expect(subscribed.mode).toBe('subscriber');
    for (const options of [{ client: subscribed }, { publisher: subscribed, subscriber: b }]) {
      const error = refused(options);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(
        /^The "(client|publisher)" connection is in subscriber mode and cannot publish/,
      );
    }
  });
});
