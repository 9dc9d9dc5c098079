// @ts-check
// One server node of the chaos test, in a process of its own so the test can
// SIGKILL it and start it again on the same port. It runs the BUILT packages
// (dist), as an application would:
//
//   new WebSocketServer({ port, sessions: { store: new RedisSessionStore({ client }),
//                                           keepAlive: 1000, timeout: 60_000 } })
//
// Started by the test with `fork` (an IPC channel), environment:
//   NODE_NAME   its name in reports ("a", "b")
//   PORT        the port to listen on, on 127.0.0.1 (the load balancer's config names it)
//   REDIS_URL   the session store's Redis
//   TICK_MS     how often a session ticks (default 50; the drain test ticks slower)
//   BACKLOG     the listen queue (the server's `backlog`; default the library's)
//
// The app, on every session it holds (new, or moved here: `session.moved`):
// - echoes each client message `c:<n>` as `echo:<n>`, after checking that n
//   is its sequence number and one more than the last it delivered (a moved
//   session starts after the stored `received`);
// - sends `tick:<k>` every 50 ms, k = session.sent + 1, so that a tick's text
//   is its own sequence number and the client can check one against the other.
//
// Over IPC it sends `{ type: 'listening', port }` once, and answers
// `{ type: 'stats', id }` with `{ type: 'stats', id, stats }` (see `snapshot`).
// `{ type: 'quiet' }` stops the ticks (echoes go on), so the test can wait
// for every stream to come to rest before it compares both ends.
// `{ type: 'drain', window, retryAfter }` drains it (`server.drain`: its
// connections closed over the window with 1012, sessions suspended for
// other nodes to resume), then it exits; SIGTERM and SIGINT do the same with
// the default window. `movedAt` in the stats holds when each session moved
// here (ms since the epoch), for the drain test's reconnect rate, and
// `loopDelayMaxMs` its longest event-loop stall (also printed once drained).
// `{ type: 'close' }` closes it gracefully; so does losing the IPC channel
// (the test runner died), so no node outlives its test.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { RedisSessionStore } from '@proj/redis';
import { WebSocketServer } from '@proj/server';
import { Redis } from 'ioredis';

const name = process.env['NODE_NAME'] ?? 'node';
const port = Number(process.env['PORT']);
const redisUrl = process.env['REDIS_URL'];
if (!Number.isInteger(port) || port <= 0) throw new Error('PORT must be a port number');
if (!redisUrl) throw new Error('REDIS_URL is required');

/**
 * The session keep-alive: a dead link is noticed in about 2 s. The drain
 * test's full size sets it longer (`KEEP_ALIVE_MS`): its client processes
 * stall for seconds while 5,000 sessions open, and are not dead.
 */
const KEEP_ALIVE_MS = Number(process.env['KEEP_ALIVE_MS'] || 1000);
/** How long a suspended session is kept: longer than any outage the test makes. */
const SESSION_TIMEOUT_MS = 60_000;
/** A tick every 50 ms. */
const TICK_MS = Number(process.env['TICK_MS'] || 50);
/** The server's `backlog`, when given. */
const BACKLOG = process.env['BACKLOG'] ? Number(process.env['BACKLOG']) : undefined;
/** Tries of `listen` on a port a killed process just freed. */
const LISTEN_TRIES = 50;
/** Violations kept in full for the report; the rest are only counted. */
const MAX_VIOLATIONS = 20;

/** What the app saw; sent to the test on request. */
const app = {
  /** Sessions announced by `session`: new ones, and ones moved here from another node. */
  sessions: 0,
  moved: 0,
  /** Sessions held now (announced, not yet closed). */
  open: 0,
  /** Client messages delivered to the app. */
  received: 0,
  echoes: 0,
  ticks: 0,
  /** `send` returned false (the replay log was full): an echo that waited, or a tick skipped. */
  echoesRefused: 0,
  ticksRefused: 0,
  /** `close` events by cause. */
  closed: /** @type {Record<string, number>} */ ({}),
  /** Client messages out of order, repeated, or not `c:<seq>`: must stay 0. */
  violations: 0,
  violationSamples: /** @type {unknown[]} */ ([]),
  /** `error` events of sessions and of the server, with their messages. */
  errors: /** @type {string[]} */ ([]),
};

/** @param {Record<string, unknown>} violation */
function violation(violation) {
  app.violations++;
  if (app.violationSamples.length < MAX_VIOLATIONS) app.violationSamples.push(violation);
}

const client = new Redis(redisUrl, { lazyConnect: false, enableAutoPipelining: true });
// ioredis reconnects by itself; an unhandled `error` event would crash the node.
client.on('error', () => {});
const store = new RedisSessionStore({ client });

/** @returns {Promise<WebSocketServer>} */
async function listen() {
  for (let attempt = 1; ; attempt++) {
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port,
      ...(BACKLOG === undefined ? {} : { backlog: BACKLOG }),
      sessions: { store, keepAlive: KEEP_ALIVE_MS, timeout: SESSION_TIMEOUT_MS },
    });
    try {
      return await server.ready();
    } catch (error) {
      await server.close({ timeout: 0 }).catch(() => {});
      const code = /** @type {NodeJS.ErrnoException} */ (error).code;
      if (code !== 'EADDRINUSE' || attempt === LISTEN_TRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

const server = await listen();
/** How late this process ran its timers, from listening on (the drain test's bucket width). */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

/** The sessions this node holds, by id (a moved-away copy stays until its node learns it lost it). */
const held = new Map();
/** Set by the test before it drains: no more ticks, so the streams can come to rest. */
let quiet = false;

/** When each session that moved here arrived (ms since the epoch). */
const movedAt = /** @type {number[]} */ ([]);

server.on('session', (session) => {
  app.sessions++;
  app.open++;
  if (session.moved) {
    app.moved++;
    movedAt.push(Date.now());
  }
  const { id } = session;
  held.set(id, session);

  // Echoes `send` refused (the replay log was full) wait here and go first,
  // in order, on `drain` or the next tick: the app's own backpressure, so
  // that a full log delays an echo instead of losing it. (They live in this
  // process only: were it killed with some waiting, the test would report
  // those echoes missing. Filling a 4096-message log takes over a minute of
  // outage here, so `echoesRefused` stays 0 and the report says so.)
  /** @type {string[]} */
  const pending = [];
  const flush = () => {
    while (pending.length > 0 && session.send(/** @type {string} */ (pending[0]))) {
      pending.shift();
      app.echoes++;
    }
    return pending.length === 0;
  };

  let expected = session.received + 1;
  session.on('message', (data, isBinary, seq) => {
    app.received++;
    const text = isBinary ? undefined : String(data);
    if (seq !== expected || text !== `c:${seq}`) {
      violation({ node: name, id, expected, seq, data: text ?? `<${data.length} bytes>` });
    }
    expected = seq + 1;
    pending.push(`echo:${seq}`);
    if (!flush()) app.echoesRefused++;
  });

  const ticker = setInterval(() => {
    if (!flush() || quiet) return;
    // false: the replay log is full; nothing was numbered, the next tick tries again.
    if (session.send(`tick:${session.sent + 1}`)) app.ticks++;
    else app.ticksRefused++;
  }, TICK_MS);

  session.on('drain', flush);
  session.on('error', (error) => app.errors.push(`session ${id}: ${String(error)}`));
  session.on('close', (_code, _reason, cause) => {
    clearInterval(ticker);
    if (held.get(id) === session) held.delete(id);
    app.open--;
    const key = String(cause ?? 'unknown');
    app.closed[key] = (app.closed[key] ?? 0) + 1;
  });
});
server.on('error', (error) => app.errors.push(`server: ${String(error)}`));

/**
 * The event loop's utilization since the previous stats request. Why: Node
 * accepts one connection per loop iteration (libuv pull request 3696), so a loop
 * busy near 100% (long iterations) starves the listen queue, whatever the
 * library does; the drain test prints it beside the node's counts.
 */
let lastUtilization = performance.eventLoopUtilization();

/** The app's counts, the numbers of every session held, and the server's own `stats()`. */
function snapshot() {
  const utilization = performance.eventLoopUtilization(lastUtilization).utilization;
  lastUtilization = performance.eventLoopUtilization();
  const sessions = [...held.values()].map(({ id, sent, received, connected }) => ({
    id,
    sent,
    received,
    connected,
  }));
  const loopDelayMaxMs = loopDelay.max / 1e6;
  return {
    name,
    pid: process.pid,
    app,
    sessions,
    movedAt,
    loopDelayMaxMs,
    loopUtilization: Math.round(utilization * 100) / 100,
    server: server.stats(),
  };
}

let closing = false;
async function close() {
  if (closing) return;
  closing = true;
  await server.close({ timeout: 1000 }).catch(() => {});
  client.disconnect();
  process.exit(0);
}

/** @param {{ window?: number, retryAfter?: number }} options */
async function drain(options) {
  if (closing) return;
  closing = true;
  await server.drain(options).catch((error) => app.errors.push(`drain: ${String(error)}`));
  // The test reads it from the log: the process is gone once drained.
  console.log(`drained; event loop delay max ${loopDelay.max / 1e6} ms`);
  client.disconnect();
  process.exit(0);
}

process.on(
  'message',
  (/** @type {{ type: string, id?: number, window?: number, retryAfter?: number }} */ message) => {
    if (message.type === 'drain')
      void drain({ window: message.window, retryAfter: message.retryAfter });
    else if (message.type === 'stats')
      process.send?.({ type: 'stats', id: message.id, stats: snapshot() });
    else if (message.type === 'quiet') quiet = true;
    else if (message.type === 'close') void close();
  },
);
process.on('disconnect', () => void close());
process.once('SIGTERM', () => void drain({}));
process.once('SIGINT', () => void drain({}));

process.send?.({ type: 'listening', port });
