/**
 * The statement of `docs/session-protocol.md`, section 8, point 6, with a
 * real redis-server under a streaming session: while Redis is down,
 * delivery stalls and nothing is lost or repeated; when it comes back empty,
 * the node holding the session writes it again and the stream goes on,
 * exactly once and in order, both ways, without the client losing its
 * session.
 */
import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { type MessageEvent, ReconnectingWebSocket } from '@proj/client';
import { type ServerSession, WebSocketServer } from '@proj/server';
import { RedisSessionStore } from '@proj/redis';
import { onCleanup, useCleanup } from '@proj/test-utils';
import { sleep, until, useRedis } from './helpers.js';
import { QUICK } from './session-store-helpers.js';

const redis = useRedis();

useCleanup({ failOnUncaught: false });

describe('Redis restarts under a streaming session', () => {
  test('delivery stalls while it is down, then goes on exactly once and in order, both ways', async () => {
    const client = new Redis(redis.server.port, '127.0.0.1', QUICK);
    client.on('error', () => {});
    onCleanup(() => client.disconnect());
    const store = new RedisSessionStore({ client, timeout: 1_000 });
    const server = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      sessions: { store, keepAlive: 500, timeout: 30_000, ackDelay: 5 },
    });
    onCleanup(() => server.close({ timeout: 100 }));
    await server.ready();
    const atServer: string[] = [];
    const sessions: ServerSession[] = [];
    server.on('session', (session) => {
      sessions.push(session);
      session.on('message', (data, _isBinary, seq) => atServer.push(`${seq}:${String(data)}`));
      session.on('error', () => {});
    });
    const { port } = server.address() as { port: number };
    const ws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, undefined, {
      minDelay: 20,
      maxDelay: 100,
      session: true,
    });
    onCleanup(() => ws.close());
    const atClient: string[] = [];
    let lost = 0;
    ws.addEventListener('message', (event: MessageEvent) =>
      atClient.push(`${event.lastEventId}:${String(event.data)}`),
    );
    ws.addEventListener('sessionlost', () => lost++);
    ws.addEventListener('error', () => {});
    await until(() => sessions.length === 1, 'the session');
    const session = sessions[0]!;
    let clientSent = 0;
    const stream = (amount: number): void => {
      for (let i = 0; i < amount; i++) {
        ws.send(`c${++clientSent}`);
        expect(session.send(`s${session.sent + 1}`)).toBe(true);
      }
    };

    stream(10);
    await until(() => atClient.length === 10 && atServer.length === 10, 'the first 10 each way');
    const { state } = store.keysOf(session.id);
    await until(async () => (await redis.ctl.hget(state, 'sent')) === '10', 'the first step');

    await redis.server.stop();
    stream(10);
    // Down: what the server produced waits for the store; nothing reaches the client.
    await sleep(300);
    expect(atClient).toHaveLength(10);
    // How soon the client notices depends on the machine's load: wait for it.
    await until(() => server.stats().sessions.storeErrors > 0, 'a store error');
    expect(atClient).toHaveLength(10);

    // Back, empty.
    await redis.server.restart();
    stream(10);
    const expected = (prefix: string, n: number): string[] =>
      Array.from({ length: n }, (_, i) => `${i + 1}:${prefix}${i + 1}`);
    await until(
      () => atClient.length === 30 && atServer.length === 30,
      'every message after the restart',
    );
    expect(atClient).toEqual(expected('s', 30));
    expect(atServer).toEqual(expected('c', 30));
    expect(lost).toBe(0);
    expect(ws.sessionId).toBe(session.id);
    // The node wrote the session again.
    await until(
      async () => (await redis.ctl.hget(state, 'sent')) === '30',
      'the session rewritten',
    );
    expect(await redis.ctl.hget(state, 'received')).toBe('30');
  });
});
