/**
 * Issue 16, "Prove it with real parts": resumable sessions under chaos.
 *
 *   clients ──> fault proxy ──> HAProxy ──> node a ─┐
 *   (Reconnecting  (cuts, resets,  (Debian's,   node b ─┴─> redis-server
 *    WebSocket,     stalls at       health       (RedisSessionStore)
 *    session)       random)         checks)
 *
 * N clients (Node `ReconnectingWebSocket`s with `session: true`) each send
 * `c:<n>` every 50 ms through a fault-injecting TCP proxy (`chaos/fault-proxy.ts`)
 * that cuts, resets and stalls their connections at random, to a real load
 * balancer (`chaos/haproxy.ts`) in front of two server node processes
 * (`chaos/node.mjs`, the built packages) sharing a real Redis. Each node
 * echoes every client message as `echo:<n>` and sends `tick:<k>` every 50 ms,
 * k being the tick's own sequence number. A third of the way in, node a is
 * killed with SIGKILL; its sessions move to b; a little past the middle, a
 * is started again and sessions move back and forth between both.
 *
 * Every message is checked as it arrives (`chaos/stream-check.ts`), and at
 * the end, after the faults stop and every stream comes to rest, both ends
 * are compared: each client received every message its session's server
 * sent (its last sequence number is the server's `sent`), and every `c:<n>`
 * it sent was delivered to a server once and in order (the nodes check the
 * numbers; the client sees every echo once, in order). No session may be
 * lost. The counts are printed.
 *
 * Size, from the environment: `CHAOS_CLIENTS` (default 40), `CHAOS_SECONDS`
 * of chaos (default 15), `CHAOS_FAULT_MS`, the mean time between two faults
 * on one connection (default 4000), `CHAOS_SEED` (default random; printed,
 * and replays the proxy's decisions). `pnpm chaos` runs 200 clients for 60 s.
 *
 * Needs the built packages (the nodes run `dist/`), `redis-server` and
 * `/usr/sbin/haproxy` (Debian's `redis-server` and `haproxy` packages; `.ci/run`
 * installs both).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { within } from '@proj/test-utils';
import { RedisServer, freePort } from '../packages/redis/test/redis-server.js';
import { ChaosClient } from './chaos/chaos-client.js';
import { FaultProxy } from './chaos/fault-proxy.js';
import { Haproxy } from './chaos/haproxy.js';
import { chaosSeed } from './chaos/random.js';
import { type HeldSession, type NodeStats, ServerNode } from './chaos/server-node.js';
import { waitFor } from './chaos/wait-for.js';

const CLIENTS = positiveInteger('CHAOS_CLIENTS', 40);
const SECONDS = positiveInteger('CHAOS_SECONDS', 15);
const FAULT_MS = positiveInteger('CHAOS_FAULT_MS', 4000);
const SEED = chaosSeed();
/** Each client sends `c:<n>` this often. */
const SEND_MS = 50;
/** When node a is killed, and when it is started again, as fractions of the chaos. */
const KILL_AT = 1 / 3;
const RESTART_AT = 0.55;
/** Upper bounds for a loaded 2-core machine, not measurements. */
const CONNECT_TIMEOUT = 60_000;
const SETTLE_TIMEOUT = 120_000;
/**
 * The clients retry fast (the proxy breaks connections every few seconds),
 * and give up on an attempt the proxy stalls after 5 s.
 */
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
let proxy: FaultProxy | undefined;
let clients: ChaosClient[] = [];
let sender: NodeJS.Timeout | undefined;
/** Node a's stats just before it was killed. */
let killedA: NodeStats | undefined;

beforeAll(async () => {
  for (const name of ['server', 'redis']) {
    const built = fileURLToPath(new URL(`../packages/${name}/dist/index.js`, import.meta.url));
    if (!existsSync(built)) {
      throw new Error(
        `${built} is missing: the nodes run the BUILT packages. Build them first ` +
          '(`pnpm build`, or `pnpm chaos`, which builds).',
      );
    }
  }
  redis = await RedisServer.start();
  const [portA, portB] = [await freePort(), await freePort()];
  a = new ServerNode('a', portA, redis.url);
  b = new ServerNode('b', portB, redis.url);
  await Promise.all([a.start(), b.start()]);
  haproxy = await Haproxy.start([
    { name: 'a', host: '127.0.0.1', port: portA },
    { name: 'b', host: '127.0.0.1', port: portB },
  ]);
  proxy = await FaultProxy.start({
    target: { host: '127.0.0.1', port: haproxy.port },
    seed: SEED,
    meanTimeBetweenFaults: FAULT_MS,
    faults: false,
  });
}, 120_000);

afterAll(async () => {
  clearInterval(sender);
  // Bounded: a client that cannot close in time is dropped with the proxy.
  await Promise.allSettled(
    clients.map((client) => within(client.close(), `client ${client.index} to close`, 10_000)),
  );
  await proxy?.close();
  await haproxy?.stop();
  await Promise.allSettled([a?.stop(), b?.stop()]);
  await redis?.stop();
}, 120_000);

test(
  `${CLIENTS} clients, ${SECONDS} s of faults, a node killed and restarted: ` +
    'every message exactly once and in order, both ways, and no session lost',
  async () => {
    const nodeA = a!;
    const nodeB = b!;
    const faults = proxy!;
    console.log(
      `chaos: seed ${SEED} (CHAOS_SEED=${SEED} repeats the proxy's decisions), ${CLIENTS} clients, ` +
        `${SECONDS} s, a fault every ${FAULT_MS} ms per connection on average`,
    );
    try {
      // 1. Every client opens its session before the first fault.
      const url = `ws://127.0.0.1:${faults.port}/`;
      clients = Array.from({ length: CLIENTS }, (_, i) => new ChaosClient(i, url, CLIENT_OPTIONS));
      await waitFor(() => clients.every((client) => client.open), 'every client to connect', {
        timeout: CONNECT_TIMEOUT,
      });

      // 2. Chaos: messages both ways, faults, node a killed and started again.
      const start = Date.now();
      const at = (fraction: number): Promise<void> =>
        pause(start + fraction * SECONDS * 1000 - Date.now());
      faults.startFaults();
      sender = setInterval(() => {
        for (const client of clients) client.sendNext();
      }, SEND_MS);
      const progress = setInterval(() => console.log(`chaos: ${progressLine(start)}`), 10_000);
      try {
        await at(KILL_AT);
        const beforeKill = await nodeA.stats();
        // The kill must hit sessions: a held some (round robin gave it about half).
        expect(beforeKill.app.open, 'sessions on node a when it is killed').toBeGreaterThan(0);
        await nodeA.kill();
        const attached = sessionStat(beforeKill, 'attached');
        console.log(
          `chaos: node a killed holding ${beforeKill.app.open} sessions, ${attached} attached ` +
            `(${progressLine(start)})`,
        );
        killedA = beforeKill;
        await at(RESTART_AT);
        await nodeA.start();
        console.log(`chaos: node a started again (${progressLine(start)})`);
        await at(1);
      } finally {
        clearInterval(sender);
        clearInterval(progress);
        faults.stopFaults();
      }

      // 3. Everything comes to rest: no more ticks, every echo back, every
      // client's last sequence number equal to its session's `sent`. (Or
      // something broke the guarantee: then it never will, and the verdict
      // below says what, at once.)
      nodeA.quiet();
      nodeB.quiet();
      let copies = new Map<string, HeldSession>();
      let serverViolations = 0;
      const broken = (): boolean => serverViolations > 0 || clients.some(isBroken);
      await waitFor(
        async () => {
          const nodes = await Promise.all([nodeA.stats(), nodeB.stats()]);
          copies = newestCopies(nodes);
          serverViolations = sum(nodes, (stats) => stats.app.violations);
          return broken() || clients.every((client) => settled(client, copies));
        },
        () => `every stream to come to rest; not yet: ${unsettled(copies)}`,
        { timeout: SETTLE_TIMEOUT, interval: 250 },
      );

      // 4. Every session ends (`end`), on the node holding it.
      let final = await Promise.all([nodeA.stats(), nodeB.stats()]);
      if (!broken()) {
        await Promise.all(
          clients.map((client) =>
            within(client.close(), `client ${client.index} to close`, 30_000),
          ),
        );
        await waitFor(
          async () => {
            final = await Promise.all([nodeA.stats(), nodeB.stats()]);
            return sum(final, (stats) => stats.app.closed['session-ended'] ?? 0) === CLIENTS;
          },
          () => `every session to end on a node: ${JSON.stringify(final.map((s) => s.app.closed))}`,
        );
      }

      // 5. The counts, then the verdict.
      const [finalA, finalB] = final as [NodeStats, NodeStats];
      const servers = [killedA!, finalA, finalB];
      const report = {
        seed: SEED,
        clientToServer: {
          sent: sum(clients, (c) => c.counts.sent),
          delivered: sum(clients, (c) => c.stream.counts.echoes),
          duplicatesSuppressed: sum(servers, (s) => sessionStat(s, 'duplicatesDiscarded')),
          refusedWhileLogFull: sum(clients, (c) => c.counts.refused),
        },
        serverToClient: {
          sent: sum(clients, (c) => copies.get(c.sessionId ?? '')?.sent ?? 0),
          delivered: sum(clients, (c) => c.stream.counts.delivered),
          replayed: sum(servers, (s) => sessionStat(s, 'replayedMessages')),
          ticks: sum(clients, (c) => c.stream.counts.ticks),
          refusedWhileLogFull: sum(servers, (s) => s.app.echoesRefused + s.app.ticksRefused),
        },
        faults: faults.stats(),
        reconnects: sum(clients, (c) => c.counts.reconnects),
        closeCodes: mergeCounts(clients.map((c) => c.counts.closeCodes)),
        giveups: sum(clients, (c) => c.counts.giveups),
        sessionsMoved: { toA: finalA.app.moved + killedA!.app.moved, toB: finalB.app.moved },
        sessionsOnAWhenKilled: killedA!.app.open,
        sessionLosses: sum(clients, (c) => c.counts.sessionLosses),
        violations: {
          clients: sum(clients, (c) => c.stream.counts.violations),
          servers: sum(servers, (s) => s.app.violations),
        },
      };
      console.log(`chaos: ${JSON.stringify(report, null, 2)}`);
      // The sums above count a's stats up to its kill; what it did in its last moments is not seen.

      // Both ways, exactly once and in order: nothing out of place on either side...
      expect(
        clients.flatMap((c) => c.stream.samples.map((v) => ({ client: c.index, ...v }))),
      ).toEqual([]);
      expect(servers.flatMap((s) => s.app.violationSamples)).toEqual([]);
      expect(report.violations).toEqual({ clients: 0, servers: 0 });
      expect(clients.flatMap((c) => c.sendErrors)).toEqual([]);
      expect(servers.flatMap((s) => s.app.errors)).toEqual([]);
      // ...and nothing missing at the end, in either direction.
      for (const client of clients) {
        const copy = copies.get(client.sessionId ?? '');
        expect({ client: client.index, echoes: client.stream.counts.echoes }).toEqual({
          client: client.index,
          echoes: client.counts.sent,
        });
        expect({ client: client.index, lastSeq: client.stream.counts.lastSeq }).toEqual({
          client: client.index,
          lastSeq: copy?.sent,
        });
      }
      expect(report.serverToClient.delivered).toBe(report.serverToClient.sent);
      expect(report.clientToServer.delivered).toBe(report.clientToServer.sent);
      // No session lost: not on a client, not on a server.
      expect(report.sessionLosses).toBe(0);
      expect(report.giveups).toBe(0);
      expect(sum(servers, (s) => sessionStat(s, 'lost'))).toBe(0);
      // The chaos happened: faults, reconnects, sessions moved off the killed node.
      expect(report.faults.faults).toBeGreaterThan(0);
      expect(report.reconnects).toBeGreaterThan(0);
      expect(report.sessionsMoved.toB).toBeGreaterThan(0);
      expect(report.clientToServer.sent).toBeGreaterThan(CLIENTS * SECONDS);
    } catch (error) {
      console.error(`chaos failed with seed ${SEED}; logs:\n${logs()}`);
      throw error;
    }
  },
  SECONDS * 1000 + CONNECT_TIMEOUT + SETTLE_TIMEOUT + 120_000,
);

/** Every session's newest copy by id: the highest `sent` over the nodes holding one. */
function newestCopies(nodes: readonly NodeStats[]): Map<string, HeldSession> {
  const copies = new Map<string, HeldSession>();
  for (const node of nodes) {
    for (const session of node.sessions) {
      const known = copies.get(session.id);
      // A copy another node took over can only be behind: its node learns at
      // its next write and lets go. The newest is the one holding the session.
      if (!known || session.sent > known.sent) copies.set(session.id, session);
    }
  }
  return copies;
}

/** A client that saw the guarantee broken: it can never come to rest. */
function isBroken(client: ChaosClient): boolean {
  const { counts, stream, sendErrors } = client;
  return (
    stream.counts.violations > 0 ||
    counts.sessionLosses > 0 ||
    counts.giveups > 0 ||
    sendErrors.length > 0
  );
}

/** A client at rest: connected, every echo back, and its last message its session's last. */
function settled(client: ChaosClient, copies: ReadonlyMap<string, HeldSession>): boolean {
  const copy = copies.get(client.sessionId ?? '');
  return (
    client.open &&
    client.drained &&
    copy !== undefined &&
    copy.received === client.counts.sent &&
    client.stream.counts.lastSeq === copy.sent
  );
}

/** The first few clients not at rest, for the failure message. */
function unsettled(copies: ReadonlyMap<string, HeldSession>): string {
  const rows = clients
    .filter((client) => !settled(client, copies))
    .map((client) => ({
      client: client.index,
      open: client.open,
      sent: client.counts.sent,
      echoes: client.stream.counts.echoes,
      lastSeq: client.stream.counts.lastSeq,
      server: copies.get(client.sessionId ?? '') ?? null,
      giveups: client.counts.giveups,
      sessionLosses: client.counts.sessionLosses,
    }));
  return `${rows.length} clients, e.g. ${JSON.stringify(rows.slice(0, 5))}`;
}

function progressLine(start: number): string {
  const seconds = ((Date.now() - start) / 1000).toFixed(0);
  const { faults } = proxy!.stats();
  return (
    `${seconds} s, ${sum(clients, (c) => c.counts.sent)} sent, ` +
    `${sum(clients, (c) => c.stream.counts.delivered)} received, ${faults} faults, ` +
    `${sum(clients, (c) => c.counts.reconnects)} reconnects, ` +
    `${clients.filter((c) => c.open).length}/${clients.length} connected`
  );
}

function sessionStat(stats: NodeStats, name: string): number {
  const sessions = stats.server['sessions'] as Record<string, number> | undefined;
  return sessions?.[name] ?? 0;
}

function mergeCounts(
  counts: ReadonlyArray<Readonly<Record<number, number>>>,
): Record<number, number> {
  const merged: Record<number, number> = {};
  for (const each of counts) {
    for (const [key, value] of Object.entries(each))
      merged[Number(key)] = (merged[Number(key)] ?? 0) + value;
  }
  return merged;
}

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  return items.reduce((total, item) => total + value(item), 0);
}

function logs(): string {
  const tail = (text: string): string => text.split('\n').slice(-40).join('\n');
  return [
    `node a:\n${tail(a?.log ?? '')}`,
    `node b:\n${tail(b?.log ?? '')}`,
    `haproxy:\n${tail(haproxy?.log ?? '')}`,
  ].join('\n');
}

/** Resolves after `ms` (at once if not positive): the chaos's schedule, never a check. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
