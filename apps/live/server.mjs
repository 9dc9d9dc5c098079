// @ts-check
// The live demo: one node:http server on one port serves the page and upgrades
// /updates to WebSocket. Each page sends its position every 50 ms (only while
// its bufferedAmount is 0); this server keeps the latest position of every
// player and broadcasts the world 20 times a second to everyone.
//
//   pnpm --dir apps/live start                 # builds the page, then runs this
//   HOST=0.0.0.0 PORT=9000 node server.mjs     # other address; PORT=0 picks a free port
//   REDIS_URL=redis://127.0.0.1:6379 PORT=8081 node server.mjs   # one of N processes sharing the world
//
// The message protocol is described in README.md. Logs each connection; shuts
// down gracefully on Ctrl-C / SIGTERM (every page gets a 1001 close frame).
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { WebSocketServer } from '@proj/server';

const host = process.env['HOST'] || '127.0.0.1';
const port = Number(process.env['PORT'] ?? 8080);
/** Set: this process is one of several sharing one world through Redis (see README.md). */
const redisUrl = process.env['REDIS_URL'] || undefined;

/** Broadcast period: 20 world states a second. */
const TICK_MS = 50;
/**
 * A client with more than this many bytes still waiting to be handed to the
 * kernel skips this tick: a slow page never delays the others, and it gets a
 * fresh world state (not a backlog of stale ones) once it has caught up.
 */
const MAX_BUFFERED = 64 * 1024;
/** Moves are tiny JSON objects; anything bigger is refused with 1009. */
const MAX_PAYLOAD = 4 * 1024;
/** Most players at once; further connections are refused with 503. */
const MAX_PLAYERS = 100;

// ---------------------------------------------------------------------------
// HTTP: the page, its bundle and its stylesheet, from a fixed list.

/** @type {Record<string, { file: URL, type: string }>} */
const routes = {
  '/': { file: new URL('index.html', import.meta.url), type: 'text/html; charset=utf-8' },
  '/index.html': { file: new URL('index.html', import.meta.url), type: 'text/html; charset=utf-8' },
  '/style.css': { file: new URL('style.css', import.meta.url), type: 'text/css; charset=utf-8' },
  '/page.js': {
    file: new URL('dist/page.js', import.meta.url),
    type: 'text/javascript; charset=utf-8',
  },
  '/page.js.map': {
    file: new URL('dist/page.js.map', import.meta.url),
    type: 'application/json; charset=utf-8',
  },
};

const httpServer = createServer(async (request, response) => {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  const route = routes[path];
  /** @param {number} status @param {string} text @param {Record<string, string>} [headers] */
  const plain = (status, text, headers = {}) => {
    response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    response.end(request.method === 'HEAD' ? undefined : `${text}\n`);
  };
  if (path === '/updates')
    return plain(426, 'This is the WebSocket endpoint', {
      upgrade: 'websocket',
      connection: 'Upgrade',
    });
  if (!route) return plain(404, 'Not found');
  if (request.method !== 'GET' && request.method !== 'HEAD')
    return plain(405, 'Method not allowed', { allow: 'GET, HEAD' });
  let body;
  try {
    // Read on each request, so a rebuilt bundle is served without a restart.
    body = await readFile(route.file);
  } catch {
    return plain(503, `${path} is missing: run \`node build.mjs\` in apps/live first`);
  }
  response.writeHead(200, {
    'content-type': route.type,
    'content-length': body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  response.end(request.method === 'HEAD' ? undefined : body);
});

// ---------------------------------------------------------------------------
// WebSocket: /updates.

/**
 * @typedef {object} Player
 * @property {number} id
 * @property {string} color
 * @property {number} x 0..1, left to right
 * @property {number} y 0..1, top to bottom
 * @property {number} seq the `seq` of the last move applied (0: none yet)
 * @property {number} t the `t` of that move: the page's clock, echoed back for its RTT
 * @property {number} receivedAt when that move arrived (performance.now() here)
 */

// ---------------------------------------------------------------------------
// Several processes: each publishes its own players (its shard of the world)
// every tick on one topic through Redis, and builds the world from its own
// players plus the latest shard of every other process.

/** The Redis topic of the shards. */
const SHARDS = 'live:shards';
/** A process not heard from for this long is gone, and its players with it. */
const SHARD_TTL_MS = 1000;
/** @type {import('@proj/redis').RedisAdapter | undefined} */
let adapter;
/** Other processes' players: node id → their latest shard and when it arrived. */
/** @type {Map<string, { players: WorldPlayer[], at: number }>} */
const shards = new Map();
if (redisUrl) {
  const { RedisAdapter } = await import('@proj/redis');
  adapter = new RedisAdapter({ url: redisUrl, prefix: 'live:' });
  adapter.on('unavailable', (error) =>
    console.warn(
      `redis unavailable (${error?.message ?? 'disconnected'}): this process plays alone`,
    ),
  );
  adapter.on('available', () =>
    console.log(`redis available: sharing the world as ${adapter?.nodeId}`),
  );
  adapter.on('error', () => {});
  // The processes talk to each other on their own topic; pages never subscribe to it.
  adapter.subscribe(SHARDS);
  adapter.on('message', (topic, payload) => {
    if (topic !== SHARDS) return;
    try {
      const shard = JSON.parse(Buffer.from(payload).toString('utf8'));
      if (typeof shard?.node === 'string' && Array.isArray(shard.players))
        shards.set(shard.node, { players: shard.players, at: performance.now() });
    } catch {
      // Not from a live demo process: ignore.
    }
  });
}
/** Player ids are unique per process; across processes they start at a random base. */
const idBase = redisUrl ? (1 + Math.floor(Math.random() * 999_999)) * 1000 : 0;

/**
 * @typedef {object} WorldPlayer
 * @property {number} id
 * @property {string} color
 * @property {number} x
 * @property {number} y
 * @property {number} seq
 * @property {number} t
 * @property {number} held
 */

const server = new WebSocketServer({
  server: httpServer,
  path: '/updates',
  maxPayload: MAX_PAYLOAD,
  // Drop pages that vanished without closing (browsers answer pings themselves).
  heartbeatInterval: 30_000,
  // Same origin only: a page on another site may not join (or read) the world.
  // Clients that send no Origin (Node scripts, tests) are let in.
  allowedOrigins: (origin, request) => {
    if (!origin) return true;
    try {
      return new URL(origin).host === request.headers.host?.toLowerCase();
    } catch {
      return false;
    }
  },
});

/** @type {Map<import('@proj/server').ServerWebSocket, Player>} */
const players = new Map();
let nextId = 1;

/** A color per id, spread around the hue circle by the golden angle. */
function colorFor(/** @type {number} */ id) {
  const hue = Math.round((id * 137.508 + 200) % 360);
  return `hsl(${hue} 70% 47%)`;
}

/** @type {(value: unknown) => value is number} */
const isNumber = (value) => typeof value === 'number' && Number.isFinite(value);
/** @param {number} value */
const clamp01 = (value) => Math.min(1, Math.max(0, value));

server.on('connection', (socket) => {
  if (players.size >= MAX_PLAYERS) {
    socket.close(1013, 'Too many players, try again later');
    return;
  }
  const id = idBase + nextId++;
  /** @type {Player} */
  const player = {
    id,
    color: colorFor(id),
    // Start somewhere different from the others until the first move arrives.
    x: 0.2 + 0.6 * Math.random(),
    y: 0.2 + 0.6 * Math.random(),
    seq: 0,
    t: 0,
    receivedAt: 0,
  };
  players.set(socket, player);
  console.log(`#${id} connected from ${socket.remoteAddress} (${players.size} online)`);
  socket.send(
    JSON.stringify({
      type: 'welcome',
      id,
      color: player.color,
      x: round(player.x),
      y: round(player.y),
    }),
  );

  socket.on('message', (data, isBinary) => {
    if (isBinary) return socket.close(1003, 'Text messages only');
    /** @type {unknown} */
    let message;
    try {
      message = JSON.parse(/** @type {string} */ (data));
    } catch {
      return socket.close(1007, 'Messages are JSON');
    }
    if (typeof message !== 'object' || message === null) return;
    const move = /** @type {Record<string, unknown>} */ (message);
    // Unknown types are ignored, so pages and servers of other versions can mix.
    if (move['type'] !== 'move') return;
    const { x, y, seq, t } = move;
    if (!isNumber(x) || !isNumber(y) || !isNumber(seq) || !isNumber(t)) return;
    // Keep only the latest: a move that overtook this one is never replaced by it.
    if (seq <= player.seq) return;
    player.x = clamp01(x);
    player.y = clamp01(y);
    player.seq = seq;
    player.t = t;
    player.receivedAt = performance.now();
  });

  socket.on('error', (error) => console.warn(`#${id} error: ${error.message}`));
  socket.on('close', (code, reason) => {
    players.delete(socket);
    const why = reason ? ` ${reason}` : '';
    console.log(`#${id} closed ${code}${why} (${players.size} online)`);
  });
});

server.on('rejected', (status, reason, request) =>
  console.log(`refused ${request.socket.remoteAddress} ${request.url}: ${status} ${reason}`),
);

// ---------------------------------------------------------------------------
// The broadcast: one JSON encoding per tick, the same bytes to every client.

let skipped = 0;
/** Whether the last shard published had players (an empty one is sent once, then nothing). */
let publishedPlayers = false;
const ticker = setInterval(() => {
  const now = performance.now();
  /** @type {WorldPlayer[]} */
  const local = [...players.values()].map((p) => ({
    id: p.id,
    color: p.color,
    x: round(p.x),
    y: round(p.y),
    seq: p.seq,
    t: p.t,
    // How long this server held the move before this broadcast: the page
    // subtracts it, so its RTT is the network round trip, not tick phase.
    held: p.seq ? round(now - p.receivedAt) : 0,
  }));
  /** @type {WorldPlayer[]} */
  let remote = [];
  if (adapter) {
    if (local.length > 0 || publishedPlayers) {
      const shard = JSON.stringify({ node: adapter.nodeId, players: local });
      adapter.publish(SHARDS, Buffer.from(shard), false);
      publishedPlayers = local.length > 0;
    }
    for (const [node, shard] of shards) {
      if (now - shard.at > SHARD_TTL_MS || shard.players.length === 0) shards.delete(node);
      else remote = remote.concat(shard.players);
    }
  }
  if (players.size === 0) return;
  const all = remote.length > 0 ? local.concat(remote) : local;
  const world = { type: 'world', count: all.length, players: all };
  // broadcast() frames the message once and writes the same bytes to every
  // socket. A page that is behind (its socket's backlog above MAX_BUFFERED)
  // skips this tick instead of delaying everyone else.
  server.broadcast(JSON.stringify(world), {
    filter: (socket) => {
      if (socket.bufferedAmount <= MAX_BUFFERED) return true;
      skipped++;
      return false;
    },
  });
}, TICK_MS);

/** Three decimals are plenty for a position and keep the messages small. */
function round(/** @type {number} */ value) {
  return Math.round(value * 1000) / 1000;
}

// ---------------------------------------------------------------------------
// Start and stop.

httpServer.on('error', (error) => {
  console.error(`live demo failed: ${error.message}`);
  process.exit(1);
});

httpServer.listen(port, host, () => {
  const address = httpServer.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  console.log(`live demo: open http://${shownHost}:${actualPort}/`);
});

for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, () => {
    console.log(`shutting down${skipped ? ` (${skipped} slow-client ticks skipped)` : ''}`);
    clearInterval(ticker);
    // The other processes drop this one's players now, not after SHARD_TTL_MS.
    if (adapter && publishedPlayers)
      adapter.publish(
        SHARDS,
        Buffer.from(JSON.stringify({ node: adapter.nodeId, players: [] })),
        false,
      );
    httpServer.close();
    httpServer.closeIdleConnections();
    void server.close().then(() => {
      httpServer.closeAllConnections();
      process.exit(0);
    });
  });
}
