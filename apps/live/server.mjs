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
// The message protocol is described in README.md. Pages connect with a
// resumable session (docs/session-protocol.md): a player keeps its id, colour
// and position across lost connections, and, with REDIS_URL, across a restart
// of this process or a move to another one. Plain WebSocket clients still get
// a player of their own per connection. Logs each player; shuts down
// gracefully on Ctrl-C / SIGTERM (server.drain(): the pages reconnect).
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { ServerSession, WebSocketServer } from '@proj/server';

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
/** Most players at once (suspended sessions included); more are closed with 1013. */
const MAX_PLAYERS = 100;
/**
 * A session whose client has not acknowledged this many messages (5 s of
 * world states) skips ticks: a world state is a snapshot, so piling stale ones
 * up in its replay log (to be replayed on a resume) would only delay the fresh
 * one, and a full log would end the session.
 */
const MAX_UNACKED = 100;
/**
 * Shutdown spreads the pages' reconnects over this long (`server.drain`): at
 * most 100 players, so at most 50 reconnects a second reach the next process.
 */
const DRAIN_WINDOW_MS = 2000;

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
 * @property {string} id six base-32 digits: of a hash of the session id, or random for a plain connection
 * @property {string} color
 * @property {number} x 0..1, left to right
 * @property {number} y 0..1, top to bottom
 * @property {number} seq the `seq` of the last move applied (0: none yet)
 * @property {number} t the `t` of that move: the page's clock, echoed back for its RTT
 * @property {number} receivedAt when that move arrived (performance.now() here)
 * @property {boolean} online a connection carries it (a suspended session's player is kept, and hidden)
 * @property {boolean} placed its position is known (a session that moved here: once its first move arrived)
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
/** @type {import('ioredis').Redis | undefined} */
let redis;
/** Where sessions are kept, so that they outlive this process (with REDIS_URL). */
/** @type {import('@proj/redis').RedisSessionStore | undefined} */
let store;
/** Other processes' players: node id → their latest shard and when it arrived. */
/** @type {Map<string, { players: WorldPlayer[], at: number }>} */
const shards = new Map();
if (redisUrl) {
  const [{ RedisAdapter, RedisSessionStore }, { Redis }] = await Promise.all([
    import('@proj/redis'),
    import('ioredis'),
  ]);
  // One connection for the session store and for publishing; the adapter
  // adds a duplicate of it to subscribe, and reports its errors.
  redis = new Redis(redisUrl);
  store = new RedisSessionStore({ client: redis, prefix: 'live:session:' });
  adapter = new RedisAdapter({ client: redis, prefix: 'live:' });
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
/**
 * @typedef {object} WorldPlayer
 * @property {string} id
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
  // The demo's subprotocol; pages offer it combined with the session's.
  protocols: ['live.v1'],
  // Pages offer a resumable session; with a store it survives this process.
  sessions: store ? { store } : true,
});

/** Every player of this process: by its connection (plain clients) or its session. */
/** @type {Map<import('@proj/server').ServerWebSocket | ServerSession, Player>} */
const players = new Map();

/** Crockford's base-32 digits: no i, l, o or u to misread. */
const DIGITS = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A player's id and colour from 30 bits of `bytes`: six base-32 digits
 * (about one chance in 200,000 that two of 100 players share one) and a hue.
 * @param {Buffer} bytes at least 4
 */
function identity(bytes) {
  const bits = bytes.readUInt32BE(0) >>> 2;
  let id = '';
  for (let shift = 25; shift >= 0; shift -= 5) id += DIGITS[(bits >>> shift) & 31];
  return { id, color: `hsl(${bits % 360} 70% 47%)` };
}

/**
 * A session's player is a function of the session id, so whichever process
 * holds the session (this one after a restart, or another one it moved to)
 * knows the player at once, without asking anyone. A hash, not the id itself:
 * the session id is what resumes the session, and every page sees player ids.
 * @param {string} sessionId
 */
const sessionIdentity = (sessionId) =>
  identity(createHash('sha256').update(`live-player:${sessionId}`).digest());

/** A plain connection's player: random, unique across processes without coordination. */
const connectionIdentity = () => identity(randomBytes(4));

/**
 * A new player at a random start (away from the others until its first move).
 * @param {{ id: string, color: string }} who
 * @returns {Player}
 */
function createPlayer({ id, color }) {
  return {
    id,
    color,
    x: 0.2 + 0.6 * Math.random(),
    y: 0.2 + 0.6 * Math.random(),
    seq: 0,
    t: 0,
    receivedAt: 0,
    online: true,
    placed: true,
  };
}

/** The players a world state shows: connected, with a known position. */
function online() {
  let count = 0;
  for (const player of players.values()) if (player.online && player.placed) count++;
  return count;
}

/** @param {Player} player */
function welcome(player) {
  return JSON.stringify({
    type: 'welcome',
    id: player.id,
    color: player.color,
    x: round(player.x),
    y: round(player.y),
  });
}

/** @type {(value: unknown) => value is number} */
const isNumber = (value) => typeof value === 'number' && Number.isFinite(value);
/** @param {number} value */
const clamp01 = (value) => Math.min(1, Math.max(0, value));

/**
 * A message from a player's page: a move updates its position; anything else
 * is ignored, or refused with `close(code, reason)`.
 * @param {Player} player
 * @param {string | Buffer} data
 * @param {boolean} isBinary
 * @param {(code: number, reason: string) => void} close
 */
function onMessage(player, data, isBinary, close) {
  if (isBinary) return close(1003, 'Text messages only');
  /** @type {unknown} */
  let message;
  try {
    message = JSON.parse(/** @type {string} */ (data));
  } catch {
    return close(1007, 'Messages are JSON');
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
  player.placed = true;
}

/** @param {string} reason */
const because = (reason) => (reason ? ` ${reason}` : '');

// A plain WebSocket (a client that offered no session): one player per
// connection, gone when it closes.
server.on('connection', (socket) => {
  if (players.size >= MAX_PLAYERS) {
    socket.close(1013, 'Too many players, try again later');
    return;
  }
  const player = createPlayer(connectionIdentity());
  const { id } = player;
  players.set(socket, player);
  console.log(`#${id} connected from ${socket.remoteAddress} (${online()} online)`);
  socket.send(welcome(player));
  socket.on('message', (data, isBinary) =>
    onMessage(player, data, isBinary, (code, reason) => socket.close(code, reason)),
  );
  socket.on('error', (error) => console.warn(`#${id} error: ${error.message}`));
  socket.on('close', (code, reason) => {
    players.delete(socket);
    console.log(`#${id} closed ${code}${because(reason)} (${online()} online)`);
  });
});

// A session: one player for the whole session, across its connections. New
// here, or moved here (from a process that was restarted, or another one).
server.on('session', (session) => {
  if (!session.moved && players.size >= MAX_PLAYERS) {
    session.close(1013, 'Too many players, try again later');
    return;
  }
  const player = createPlayer(sessionIdentity(session.id));
  const { id } = player;
  // Where a moved session's player was is not known here: it is shown from
  // its page's first move (sent at once on every connection, and replayed
  // with the resume if it was not acknowledged), never at a made-up place.
  player.placed = !session.moved;
  players.set(session, player);
  const how = session.moved ? 'moved here' : 'connected';
  console.log(`#${id} ${how} from ${session.socket?.remoteAddress} (${online()} online)`);
  // The welcome is the session's first message: a moved session has it
  // unless its first process died before recording it.
  if (session.sent === 0) session.send(welcome(player));
  session.on('message', (data, isBinary) =>
    onMessage(player, data, isBinary, (code, reason) => session.close(code, reason)),
  );
  session.on('suspend', (code, reason) => {
    player.online = false;
    console.log(`#${id} suspended ${code}${because(reason)} (${online()} online)`);
  });
  session.on('resume', () => {
    player.online = true;
    console.log(`#${id} resumed from ${session.socket?.remoteAddress} (${online()} online)`);
  });
  session.on('error', (error) => console.warn(`#${id} error: ${error.message}`));
  session.on('close', (code, reason, cause) => {
    players.delete(session);
    console.log(`#${id} closed ${code}${because(reason)}, ${cause} (${online()} online)`);
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
  const local = [...players.values()]
    .filter((p) => p.online && p.placed)
    .map((p) => ({
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
  const remote = [];
  if (adapter) {
    if (local.length > 0 || publishedPlayers) {
      const shard = JSON.stringify({ node: adapter.nodeId, players: local });
      adapter.publish(SHARDS, Buffer.from(shard), false);
      publishedPlayers = local.length > 0;
    }
    // A session that moved here from a live process is in that process's
    // last shard too, until its next one: each id is shown once, ours first.
    const shown = new Set(local.map((p) => p.id));
    for (const [node, shard] of shards) {
      if (now - shard.at > SHARD_TTL_MS || shard.players.length === 0) {
        shards.delete(node);
        continue;
      }
      for (const player of shard.players) {
        if (shown.has(player.id)) continue;
        shown.add(player.id);
        remote.push(player);
      }
    }
  }
  if (players.size === 0) return;
  const all = remote.length > 0 ? local.concat(remote) : local;
  const world = { type: 'world', count: all.length, players: all };
  // broadcast() frames the message once and writes the same bytes to every
  // socket. A page that is behind (its socket's backlog above MAX_BUFFERED)
  // skips this tick instead of delaying everyone else.
  server.broadcast(JSON.stringify(world), {
    filter: (recipient) => {
      if (recipient instanceof ServerSession) {
        // A snapshot is never logged for a client that is away (it gets the
        // current one when it is back), nor for one whose player is not in
        // it yet (a session that moved here, until its first move).
        if (!recipient.connected || players.get(recipient)?.placed !== true) return false;
        if (recipient.sent - recipient.acked >= MAX_UNACKED) {
          skipped++;
          return false;
        }
      }
      if (recipient.bufferedAmount <= MAX_BUFFERED) return true;
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
    // Each page is closed with 1012 and `retry-after=0`, in turn over the
    // window, and reconnects: its session is suspended here, not ended. With
    // REDIS_URL it is in the store, and the next process (or another one
    // sharing the world) resumes it; without, it dies with this process and
    // the page starts a new one (a new player).
    void server.drain({ window: DRAIN_WINDOW_MS }).then(() => {
      httpServer.closeAllConnections();
      redis?.disconnect();
      process.exit(0);
    });
  });
}
