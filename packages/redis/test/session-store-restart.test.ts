/**
 * RedisSessionStore across a Redis restart: while Redis is down every
 * method rejects at once (the server retries); after an empty restart
 * `commit` answers `missing` and `restore` writes the session again; after a
 * restart that kept its data (append-only file, fsync always) the holder
 * goes on as if nothing happened, the scripts being loaded again.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SessionStep, StoredMessage } from '@proj/server';
import { RedisSessionStore } from '@proj/redis';
import { useCleanup } from '@proj/test-utils';
import { until } from './helpers.js';
import { RedisServer } from './redis-server.js';
import { PersistentRedis, sessionId, testClient } from './session-store-helpers.js';

useCleanup({ failOnUncaught: false });

const TTL = 60_000;

function step(fields: Partial<SessionStep> = {}): SessionStep {
  return { received: 0, acked: 0, appended: [], ...fields };
}

function texts(from: number, to: number): StoredMessage[] {
  const list: StoredMessage[] = [];
  for (let seq = from; seq <= to; seq++) list.push({ seq, data: `m${seq}` });
  return list;
}

/**
 * A store whose calls would wait a minute for Redis: a call that rejects
 * within the test's time did so at once, not by timing out.
 */
function patientStore(url: string): { store: RedisSessionStore; client: Redis } {
  const client = testClient(url);
  return { store: new RedisSessionStore({ client, timeout: 60_000 }), client };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** Every method of `store` on session `id` rejects as unavailable. */
async function expectAllUnavailable(store: RedisSessionStore, id: string): Promise<void> {
  const calls: Array<Promise<unknown>> = [
    store.create(sessionId(), TTL),
    store.claim(id, TTL),
    store.commit(id, 2, step({ appended: texts(3, 3) }), TTL),
    store.restore(id, { epoch: 2, sent: 0, acked: 0, received: 0, log: [], topics: [] }, TTL),
    store.touch(id, 2, TTL),
    store.remove(id, 2),
  ];
  for (const call of calls) {
    const error = await rejection(call);
    expect(error).toMatchObject({
      code: 'WS_ERR_STORE_UNAVAILABLE',
      sessionId: expect.any(String),
    });
    expect((error as Error).message).toMatch(/Redis is unreachable|Connection is closed/);
  }
}

describe('an empty restart (no persistence)', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(() => server?.stop());

  test('down: every method rejects at once; back: commit says missing, restore writes it again', async () => {
    const holder = patientStore(server.url);
    const other = patientStore(server.url);
    const id = sessionId();
    await holder.store.create(id, TTL);
    const claimed = await holder.store.claim(id, TTL);
    const epoch = claimed!.epoch;
    const first = step({ received: 4, appended: texts(1, 2), topics: ['t'] });
    expect(await holder.store.commit(id, epoch, first, TTL)).toBe('committed');

    await server.stop();
    await until(() => holder.client.status !== 'ready', 'the client to notice');
    await expectAllUnavailable(holder.store, id);

    await server.restart();
    await until(() => holder.client.status === 'ready', 'the client to reconnect');
    // The holder's next step finds nothing, and writes the whole session again.
    expect(await holder.store.commit(id, epoch, step({ appended: texts(3, 3) }), TTL)).toBe(
      'missing',
    );
    // touch cannot tell "missing" from "taken".
    expect(await holder.store.touch(id, epoch, TTL)).toBe(false);
    const whole = { epoch, sent: 3, acked: 0, received: 4, log: texts(1, 3), topics: ['t'] };
    expect(await holder.store.restore(id, whole, TTL)).toBe(true);
    expect(
      await holder.store.commit(id, epoch, step({ acked: 1, appended: texts(4, 4) }), TTL),
    ).toBe('committed');
    // Another node resumes it where the holder left it.
    expect(await other.store.claim(id, TTL)).toEqual({
      ...whole,
      epoch: epoch + 1,
      sent: 4,
      acked: 1,
      log: texts(2, 4),
    });
  });

  test('a session whose holder is gone while Redis restarted empty is lost', async () => {
    const { store, client } = patientStore(server.url);
    const id = sessionId();
    await store.create(id, TTL);
    await store.claim(id, TTL);
    await server.restart();
    await until(() => client.status === 'ready', 'the client to reconnect');
    expect(await store.claim(id, TTL)).toBeNull();
  });
});

describe('a restart that kept the data (appendonly yes, appendfsync always)', () => {
  let server: PersistentRedis;
  beforeAll(async () => {
    server = await PersistentRedis.start();
  });
  afterAll(() => server?.dispose());

  test('the holder goes on under its epoch, and the scripts are loaded again', async () => {
    const holder = patientStore(server.url);
    const other = patientStore(server.url);
    const inspect = testClient(server.url);
    const id = sessionId();
    await holder.store.create(id, TTL);
    const { epoch } = (await holder.store.claim(id, TTL))!;
    const binary = Uint8Array.of(0, 1, 2, 255);
    const first = step({
      received: 2,
      appended: [...texts(1, 2), { seq: 3, data: binary }],
      topics: ['a'],
    });
    expect(await holder.store.commit(id, epoch, first, TTL)).toBe('committed');

    await server.stop();
    await until(() => holder.client.status !== 'ready', 'the client to notice');
    await expectAllUnavailable(holder.store, id);
    await server.restart();
    await until(() => holder.client.status === 'ready', 'the client to reconnect');

    expect(await cachedScripts(inspect)).toBe(0);
    expect(
      await holder.store.commit(id, epoch, step({ acked: 1, appended: texts(4, 4) }), TTL),
    ).toBe('committed');
    expect(await cachedScripts(inspect)).toBe(1);
    expect(await other.store.claim(id, TTL)).toEqual({
      epoch: epoch + 1,
      sent: 4,
      acked: 1,
      received: 2,
      log: [
        { seq: 2, data: 'm2' },
        { seq: 3, data: binary },
        { seq: 4, data: 'm4' },
      ],
      topics: ['a'],
    });
    // Fencing survived too: the old epoch is refused.
    expect(await holder.store.commit(id, epoch, step(), TTL)).toBe('taken');
  });
});

/** How many scripts Redis has cached (`INFO memory`). */
async function cachedScripts(client: Redis): Promise<number> {
  const info = await client.info('memory');
  const match = /^number_of_cached_scripts:(\d+)/m.exec(info);
  if (!match) throw new Error('INFO memory has no number_of_cached_scripts');
  return Number(match[1]);
}
