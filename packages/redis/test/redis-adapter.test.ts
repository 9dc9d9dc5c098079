/**
 * RedisAdapter against a real redis-server (started on a free port by
 * ./redis-server.ts): framing, origin tagging, interest-based subscriptions,
 * order, and what happens when Redis goes away and comes back.
 */
import { describe, expect, test } from 'vitest';
import { type ServerWebSocket, WebSocketServer } from '@proj/server';
import { RedisAdapter } from '@proj/redis';
import { onCleanup, useCleanup } from '@proj/test-utils';
import { Client, control, numsub, sleep, until, useRedis } from './helpers.js';
import { RedisServer, freePort } from './redis-server.js';

const redis = useRedis();

// Adapters, servers and clients made by a test are closed after it.
useCleanup({ failOnUncaught: false });

function adapter(options: { prefix?: string } = {}): RedisAdapter {
  const created = new RedisAdapter({
    url: redis.server.url,
    prefix: options.prefix,
    redisOptions: { retryStrategy: (times) => Math.min(times * 50, 250) },
  });
  created.on('error', () => {});
  onCleanup(() => created.close());
  return created;
}

interface Received {
  topic: string;
  payload: Buffer;
  binary: boolean;
}

function record(target: RedisAdapter): Received[] {
  const received: Received[] = [];
  target.on('message', (topic, payload, binary) =>
    received.push({ topic, payload: Buffer.from(payload), binary }),
  );
  return received;
}

describe('RedisAdapter', () => {
  test('carries binary payloads unchanged, with the binary flag, and skips its own publishes', async () => {
    const a = adapter();
    const b = adapter();
    await Promise.all([a.ready(), b.ready()]);
    expect(a.nodeId).not.toBe(b.nodeId);
    const fromA = record(a);
    const fromB = record(b);
    a.subscribe('t');
    b.subscribe('t');
    await until(async () => (await numsub(redis.ctl, 'ws:t'))[0] === 2, 'two subscriptions');

    const every = Uint8Array.from({ length: 256 * 4 }, (_, i) => i & 0xff);
    a.publish('t', every, true);
    a.publish('t', new TextEncoder().encode('text ✓'), false);
    a.publish('t', new Uint8Array(0), true);
    await until(() => fromB.length === 3, 'three messages at b');
    expect(fromB[0]).toEqual({ topic: 't', payload: Buffer.from(every), binary: true });
    expect(fromB[1]).toEqual({ topic: 't', payload: Buffer.from('text ✓'), binary: false });
    expect(fromB[2]).toEqual({ topic: 't', payload: Buffer.alloc(0), binary: true });
    // The origin never gets its own messages back (it delivered them directly).
    await sleep(100);
    expect(fromA).toEqual([]);
    expect(a.stats.published).toBe(3);
    expect(b.stats.received).toBe(3);
  });

  test('subscribes only to topics with local subscribers, and unsubscribes after the last', async () => {
    const a = adapter();
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', adapter: a });
    onCleanup(() => server.close({ timeout: 100 }));
    await server.ready();
    await a.ready();
    const sockets: ServerWebSocket[] = [];
    server.on('connection', (socket) => sockets.push(socket));
    const { port } = server.address() as { port: number };
    const clients = [
      await Client.open(`ws://127.0.0.1:${port}`),
      await Client.open(`ws://127.0.0.1:${port}`),
    ];
    onCleanup(() => clients.forEach((c) => c.close()));
    await until(() => sockets.length === 2, 'two connections');
    expect(await numsub(redis.ctl, 'ws:room')).toEqual([0]);
    sockets[0]!.subscribe('room');
    sockets[1]!.subscribe('room');
    await until(
      async () => (await numsub(redis.ctl, 'ws:room'))[0] === 1,
      'one Redis subscription',
    );
    expect([...a.topics]).toEqual(['room']);
    sockets[0]!.unsubscribe('room');
    await sleep(50);
    expect(await numsub(redis.ctl, 'ws:room')).toEqual([1]);
    clients[1]!.close(); // the last subscriber goes away
    await until(async () => (await numsub(redis.ctl, 'ws:room'))[0] === 0, 'no Redis subscription');
    expect([...a.topics]).toEqual([]);
  });

  test('keeps per-publisher order across nodes', async () => {
    const a = adapter();
    const b = adapter();
    await Promise.all([a.ready(), b.ready()]);
    const fromA = record(b);
    b.subscribe('seq');
    await until(async () => (await numsub(redis.ctl, 'ws:seq'))[0] === 1, 'subscription');
    const count = 5_000;
    for (let i = 0; i < count; i++) a.publish('seq', new TextEncoder().encode(String(i)), false);
    await until(() => fromA.length === count, `${count} messages`);
    expect(fromA.map((m) => m.payload.toString())).toEqual(
      Array.from({ length: count }, (_, i) => String(i)),
    );
  });

  test('nodes with different prefixes do not hear each other', async () => {
    const a = adapter({ prefix: 'app1:' });
    const b = adapter({ prefix: 'app2:' });
    await Promise.all([a.ready(), b.ready()]);
    const atB = record(b);
    b.subscribe('t');
    await until(async () => (await numsub(redis.ctl, 'app2:t'))[0] === 1, 'subscription');
    a.publish('t', new Uint8Array([1]), true);
    await sleep(150);
    expect(atB).toEqual([]);
  });

  test('reports a Redis that cannot be reached, and close() does not hang', async () => {
    const down = new RedisAdapter({
      url: `redis://127.0.0.1:${await freePort()}`,
      redisOptions: { retryStrategy: () => 100 },
    });
    const unavailable = new Promise<Error | undefined>((resolve) =>
      down.once('unavailable', resolve),
    );
    expect((await unavailable)?.message).toMatch(/ECONNREFUSED/);
    expect(down.available).toBe(false);
    // Publishing before the first connection is queued, not thrown.
    down.publish('t', new Uint8Array([1]), true);
    await down.close();
    await expect(down.ready()).rejects.toThrow(/closed/);
  });

  test('Redis restarted: unavailable, local delivery goes on, then subscriptions are restored', async () => {
    // A Redis of its own, so the restart does not disturb the other tests.
    const own = await RedisServer.start();
    onCleanup(() => own.stop());
    const make = (): RedisAdapter => {
      const created = new RedisAdapter({
        url: own.url,
        redisOptions: { retryStrategy: (times) => Math.min(times * 50, 250) },
      });
      onCleanup(() => created.close());
      return created;
    };
    const a = make();
    const b = make();
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', adapter: a });
    onCleanup(() => server.close({ timeout: 100 }));
    await server.ready();
    await Promise.all([a.ready(), b.ready()]);
    const events: string[] = [];
    a.on('unavailable', () => events.push('unavailable'));
    a.on('available', () => events.push('available'));
    const { port } = server.address() as { port: number };
    const local = await Client.open(`ws://127.0.0.1:${port}`);
    onCleanup(() => local.close());
    const [socket] = await until(() => server.clients.size === 1 && [...server.clients], 'socket');
    socket!.subscribe('news');
    const atA = record(a);
    b.subscribe('news');
    const ownCtl = control(own.url);
    onCleanup(() => ownCtl.disconnect());
    await until(async () => (await numsub(ownCtl, 'ws:news'))[0] === 2, 'two subscriptions');

    await own.stop();
    await until(() => events.includes('unavailable'), 'unavailable');
    expect(a.available).toBe(false);
    // Local subscribers still get what this node publishes.
    server.publish('news', 'during the outage');
    await until(() => local.messages.includes('during the outage'), 'local delivery');
    // It was not sent to Redis (lost for the other nodes: at most once). The
    // publisher may learn of the outage after the subscriber did: its publish
    // then fails in flight and is counted a moment later.
    await until(() => a.stats.dropped > 0, 'the publish counted as dropped');
    expect(a.stats.dropped).toBeGreaterThan(0);

    await own.restart();
    await until(() => events.at(-1) === 'available', 'available again');
    await b.ready();
    // Both nodes subscribed again without anyone asking.
    await until(async () => (await numsub(ownCtl, 'ws:news'))[0] === 2, 'resubscribed');
    b.publish('news', new TextEncoder().encode('after'), false);
    await until(() => local.messages.includes('after'), 'remote delivery resumed');
    expect(atA.map((m) => m.payload.toString())).toEqual(['after']);
  });
});
