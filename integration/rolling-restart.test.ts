/**
 * Issue 17, point 3: a rolling restart behind a real load balancer.
 *
 *   clients ──> HAProxy ──> node a ─┐   drain a, start a again;
 *   (Reconnecting  (Debian's,  node b ─┴─> redis-server   then drain b, start b again
 *    WebSocket,     health
 *    session)       checks)
 *
 * N clients (the chaos test's `ChaosClient`: Node `ReconnectingWebSocket`s
 * with `session: true`) stream both ways through HAProxy (`chaos/haproxy.ts`)
 * to two node processes (`chaos/node.mjs`, the built packages, sharing a
 * RedisSessionStore): each sends `c:<n>` every 50 ms, the node echoes it and
 * ticks every 50 ms. Node a is drained (`server.drain`: its listener closes,
 * so HAProxy's checks take it out and its retries go to b; its connections
 * close one by one with 1012) and started again; once HAProxy sees it up,
 * node b is drained and started again. Every message is judged as it
 * arrives (`chaos/stream-check.ts`), and at the end, with the streams at
 * rest, both ends are compared: no loss and no duplicate, either way, and no
 * session lost.
 *
 * Size, from the environment: `ROLLING_CLIENTS` (default 40) and
 * `ROLLING_WINDOW_MS`, each drain's window (default 2000).
 *
 * Needs the built packages (the nodes run `dist/`), `redis-server` and
 * `/usr/sbin/haproxy` (Debian's `redis-server` and `haproxy` packages).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { within } from '@proj/test-utils';
import { RedisServer, freePort } from '../packages/redis/test/redis-server.js';
import { ChaosClient } from './chaos/chaos-client.js';
import { Haproxy } from './chaos/haproxy.js';
import { type HeldSession, type NodeStats, ServerNode } from './chaos/server-node.js';
import { waitFor } from './chaos/wait-for.js';

const CLIENTS = positiveInteger('ROLLING_CLIENTS', 40);
const WINDOW_MS = positiveInteger('ROLLING_WINDOW_MS', 2000);
const SEND_MS = 50;
/** Upper bounds for a loaded 2-core machine, not measurements. */
const CONNECT_TIMEOUT = 60_000;
const SETTLE_TIMEOUT = 120_000;
const CLIENT_OPTIONS = { minDelay: 100, maxDelay: 1000, minUptime: 1000, openTimeout: 5000 };

function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got "${text}"`);
  }
  return value;
}

let redis: RedisServer | undefined;
let a: ServerNode | undefined;
let b: ServerNode | undefined;
let haproxy: Haproxy | undefined;
let clients: ChaosClient[] = [];
let sender: NodeJS.Timeout | undefined;

beforeAll(async () => {
  for (const name of ['server', 'redis']) {
    const built = fileURLToPath(new URL(`../packages/${name}/dist/index.js`, import.meta.url));
    if (!existsSync(built)) {
      throw new Error(`${built} is missing: the nodes run the BUILT packages (\`pnpm build\`).`);
    }
  }
  redis = await RedisServer.start();
  a = new ServerNode('a', await freePort(), redis.url);
  b = new ServerNode('b', await freePort(), redis.url);
  await Promise.all([a.start(), b.start()]);
  haproxy = await Haproxy.start([
    { name: 'a', host: '127.0.0.1', port: a.port },
    { name: 'b', host: '127.0.0.1', port: b.port },
  ]);
}, 120_000);

afterAll(async () => {
  clearInterval(sender);
  await Promise.allSettled(
    clients.map((client) => within(client.close(), `client ${client.index} to close`, 10_000)),
  );
  await haproxy?.stop();
  await Promise.allSettled([a?.stop(), b?.stop()]);
  await redis?.stop();
}, 120_000);

test(
  `${CLIENTS} clients streaming both ways through HAProxy while both nodes restart in turn ` +
    '(drain, start): no loss, no duplicate, no session lost',
  async () => {
    const nodes = [a!, b!];
    const balancer = haproxy!;
    const url = `ws://127.0.0.1:${balancer.port}/`;
    const up = (name: string): Promise<void> =>
      waitFor(
        async () => (await balancer.serverStates())[name] === 'UP',
        `HAProxy to see node ${name} up`,
        { timeout: CONNECT_TIMEOUT, interval: 100 },
      );
    try {
      await Promise.all([up('a'), up('b')]);
      clients = Array.from({ length: CLIENTS }, (_, i) => new ChaosClient(i, url, CLIENT_OPTIONS));
      await waitFor(() => clients.every((c) => c.open), 'every client to connect', {
        timeout: CONNECT_TIMEOUT,
      });
      sender = setInterval(() => {
        for (const client of clients) client.sendNext();
      }, SEND_MS);

      // The rolling restart: each node drained, then started again, in turn.
      const drainedHeld: number[] = [];
      for (const node of nodes) {
        drainedHeld.push((await node.stats()).app.open);
        await node.drain({ window: WINDOW_MS });
        await node.start();
        await up(node.name);
        await waitFor(() => clients.every((c) => c.open), 'every client to reconnect', {
          timeout: CONNECT_TIMEOUT,
        });
      }

      // Everything comes to rest, then both ends are compared.
      clearInterval(sender);
      for (const node of nodes) node.quiet();
      let copies = new Map<string, HeldSession>();
      let final: NodeStats[] = [];
      const broken = (): boolean =>
        final.some((s) => s.app.violations > 0) ||
        clients.some(
          (c) =>
            c.stream.counts.violations > 0 || c.counts.sessionLosses > 0 || c.counts.giveups > 0,
        );
      await waitFor(
        async () => {
          final = await Promise.all(nodes.map((node) => node.stats()));
          copies = newestCopies(final);
          return (
            broken() ||
            clients.every((c) => {
              const copy = copies.get(c.sessionId ?? '');
              return (
                c.open &&
                c.drained &&
                copy !== undefined &&
                copy.received === c.counts.sent &&
                c.stream.counts.lastSeq === copy.sent
              );
            })
          );
        },
        'every stream to come to rest',
        { timeout: SETTLE_TIMEOUT, interval: 250 },
      );

      const report = {
        clients: CLIENTS,
        windowMs: WINDOW_MS,
        sessionsHeldWhenDrained: { a: drainedHeld[0], b: drainedHeld[1] },
        clientToServer: {
          sent: sum(clients, (c) => c.counts.sent),
          echoed: sum(clients, (c) => c.stream.counts.echoes),
        },
        serverToClient: {
          sent: sum(clients, (c) => copies.get(c.sessionId ?? '')?.sent ?? 0),
          delivered: sum(clients, (c) => c.stream.counts.delivered),
        },
        reconnects: sum(clients, (c) => c.counts.reconnects),
        closeCodes: mergeCounts(clients.map((c) => c.counts.closeCodes)),
        sessionLosses: sum(clients, (c) => c.counts.sessionLosses),
        giveups: sum(clients, (c) => c.counts.giveups),
        violations: {
          clients: sum(clients, (c) => c.stream.counts.violations),
          servers: sum(final, (s) => s.app.violations),
        },
      };
      console.log(`rolling restart: ${JSON.stringify(report, null, 2)}`);

      // No duplicate and nothing out of order, either way...
      expect(clients.flatMap((c) => c.stream.samples)).toEqual([]);
      expect(final.flatMap((s) => s.app.violationSamples)).toEqual([]);
      expect(report.violations).toEqual({ clients: 0, servers: 0 });
      expect(clients.flatMap((c) => c.sendErrors)).toEqual([]);
      expect(final.flatMap((s) => s.app.errors)).toEqual([]);
      // ...and nothing missing.
      expect(report.clientToServer.echoed).toBe(report.clientToServer.sent);
      expect(report.serverToClient.delivered).toBe(report.serverToClient.sent);
      expect(report.sessionLosses).toBe(0);
      expect(report.giveups).toBe(0);
      // Both drains moved sessions: each node held some, and clients were told 1012.
      expect(drainedHeld.every((held) => held > 0)).toBe(true);
      expect(report.closeCodes[1012]).toBeGreaterThan(0);
      expect(report.clientToServer.sent).toBeGreaterThan(CLIENTS);
    } catch (error) {
      console.error(`rolling restart failed; logs:\n${a!.log}\n${b!.log}`);
      throw error;
    }
  },
  4 * CONNECT_TIMEOUT + SETTLE_TIMEOUT + 2 * WINDOW_MS + 60_000,
);

/** Every session's newest copy by id: the highest `sent` over the nodes holding one. */
function newestCopies(nodes: readonly NodeStats[]): Map<string, HeldSession> {
  const copies = new Map<string, HeldSession>();
  for (const node of nodes) {
    for (const session of node.sessions) {
      const known = copies.get(session.id);
      if (!known || session.sent > known.sent) copies.set(session.id, session);
    }
  }
  return copies;
}

function sum<T>(items: readonly T[], of: (item: T) => number): number {
  return items.reduce((total, item) => total + of(item), 0);
}

function mergeCounts(counts: readonly Record<number, number>[]): Record<number, number> {
  const merged: Record<number, number> = {};
  for (const count of counts) {
    for (const [code, n] of Object.entries(count)) {
      merged[Number(code)] = (merged[Number(code)] ?? 0) + n;
    }
  }
  return merged;
}
