// Soak test: many connections to one @proj/server echo server exchanging
// numbered messages for a while, then closing; reports whether any message
// was lost or reordered, and whether memory, sockets, timers and listeners
// returned to where they were before.
//
//   pnpm soak                                   # 10,000 connections, 60 s (builds first)
//   pnpm soak --connections 20000 --seconds 300
//   SOAK_CONNECTIONS=2000 SOAK_SECONDS=20 node --expose-gc bench/soak.mjs --source
//
// This process is the server (run it with --expose-gc, so heap figures are
// taken after full collections); the clients run in forked processes
// (soak-client.mjs: raw node:net clients), `--processes` of them. Phases:
// a warm-up round (the same connections, 5 s of traffic, then closed, so
// that code V8 compiles for the hot paths and node:http's parser pool land in
// the baseline), the baseline, the main round, the measurement once every
// connection closed. Each message carries its connection id and number: the
// clients check the order of their echoes, the server the order of what it
// receives, per connection.
//
// Options (flags, or the environment variable in parentheses):
//   --connections N   (SOAK_CONNECTIONS, default 10000)
//   --seconds S       (SOAK_SECONDS, default 60) of message exchange
//   --processes P     (SOAK_PROCESSES, default one per 2,500 connections)
//   --interval MS     (SOAK_INTERVAL, default 100) each connection sends at most one message per tick
//   --inflight K      (SOAK_INFLIGHT, default 2) unanswered messages allowed per connection
//   --source          run @proj/server from its TypeScript sources (the soak test does)
//   --json            print the result as one JSON line last
//
// Every connection needs a file descriptor: when `ulimit -n` (the hard
// limit: Node raises the soft one to it) is too low for `--connections`, the
// script stops with status 2. It never runs fewer connections than asked.
//
// Exit status: 0 when nothing was lost, reordered or corrupted, every
// connection closed cleanly, and nothing leaked; 1 otherwise; 2 when it
// could not run as asked.
import { fork, spawnSync } from 'node:child_process';
import { createRequire, register } from 'node:module';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';

const { values } = parseArgs({
  options: {
    connections: { type: 'string' },
    seconds: { type: 'string' },
    processes: { type: 'string' },
    interval: { type: 'string' },
    inflight: { type: 'string' },
    source: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const env = process.env;
const number = (flag, variable, fallback) => Number(values[flag] ?? env[variable] ?? fallback);
const connections = number('connections', 'SOAK_CONNECTIONS', 10_000);
const seconds = number('seconds', 'SOAK_SECONDS', 60);
const interval = number('interval', 'SOAK_INTERVAL', 100);
const inflight = number('inflight', 'SOAK_INFLIGHT', 2);
/** Length of the warm-up round. */
const WARMUP_SECONDS = 5;
/** Handshakes in progress at once per client process (node:http listens with a backlog of 511). */
const OPEN_CONCURRENCY = 64;
/** Heap may end this much above its baseline (fragmentation, caches, code): see the check below. */
const HEAP_TOLERANCE = 1024 * 1024;

if (typeof globalThis.gc !== 'function') {
  console.error('soak.mjs needs --expose-gc: node --expose-gc bench/soak.mjs');
  process.exit(2);
}
const gc = globalThis.gc;
const log = values.json ? (...args) => console.error(...args) : (...args) => console.log(...args);

// Every connection costs a descriptor here and one in a client process: the
// open-file limit must hold the connections plus some 200 (stdio, the
// listener, libuv's and V8's own). Node raises its soft RLIMIT_NOFILE to the
// hard limit at startup, so the limit a child shell reports is all there is:
// below what is needed the run stops, rather than run fewer connections
// than asked.
const needed = connections + 200;
const fdLimit = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim();
if (!((fdLimit === 'unlimited' ? Infinity : Number(fdLimit)) >= needed)) {
  console.error(
    `soak.mjs: ${connections} connections need ${needed} file descriptors, but ulimit -n is ${fdLimit}: ` +
      `raise the hard limit (ulimit -n ${needed} as root, or nofile in limits.conf) or ask for fewer (--connections)`,
  );
  process.exit(2);
}
const processes = number('processes', 'SOAK_PROCESSES', Math.max(1, Math.ceil(connections / 2500)));

if (values.source) register('./lib/source-hooks.mjs', import.meta.url);
const { WebSocketServer } = await import('@proj/server');

// ---- the server ----------------------------------------------------------------

const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
const counters = { received: 0, reordered: 0, corrupted: 0, errors: 0, connections: 0, peak: 0 };
/** Weak references to every connection's objects, to prove they can all be collected. */
let weak = [];

server.on('connection', (socket, request) => {
  counters.connections++;
  counters.peak = Math.max(counters.peak, server.clients.size);
  weak.push(new WeakRef(socket), new WeakRef(request), new WeakRef(request.socket));
  // Each connection numbers its messages from 0, and carries one id throughout.
  let expected = 0;
  let id = -1;
  socket.on('message', (data, isBinary) => {
    counters.received++;
    if (!isBinary || data.length < 8) {
      counters.corrupted++;
      return;
    }
    const messageId = data.readUInt32BE(0);
    const seq = data.readUInt32BE(4);
    if (id === -1) id = messageId;
    if (messageId !== id) counters.corrupted++;
    else if (seq !== expected) counters.reordered++;
    expected = seq + 1;
    socket.send(data, { binary: true });
  });
  socket.on('error', () => counters.errors++);
});
await server.ready();
const port = server.address().port;

// ---- the client processes ---------------------------------------------------------

const children = Array.from({ length: processes }, () =>
  fork(fileURLToPath(new URL('./soak-client.mjs', import.meta.url)), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [],
  }),
);

/** Sends `command` to every client process (with its share of `count`) and gathers the replies. */
function broadcast(command, count = 0) {
  let idBase = 0;
  return Promise.all(
    children.map((child, i) => {
      const share = Math.floor(count / processes) + (i < count % processes ? 1 : 0);
      const message = { ...command, count: share, idBase, port };
      idBase += share;
      return new Promise((resolve) => {
        child.once('message', resolve);
        child.send(message);
      });
    }),
  );
}

const sum = (replies, key) => replies.reduce((total, reply) => total + (reply[key] ?? 0), 0);

async function waitForNoClients(ms) {
  const deadline = Date.now() + ms;
  while (server.clients.size > 0 && Date.now() < deadline) await sleep(20);
  return server.clients.size;
}

/** Lets pending callbacks run, then collects garbage until the heap stops shrinking. */
async function settle() {
  let last = Infinity;
  for (let i = 0; i < 10; i++) {
    await nextTurn();
    await sleep(50);
    gc();
    const used = process.memoryUsage().heapUsed;
    if (used >= last - 16 * 1024 && i >= 3) break;
    last = used;
  }
}

function countResources() {
  const counts = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

function listenerCounts() {
  const counts = {};
  for (const [name, emitter] of [
    ['server', server],
    ['httpServer', server.httpServer],
    ['process', process],
  ]) {
    for (const event of emitter.eventNames()) {
      counts[`${name}.${String(event)}`] = emitter.listenerCount(event);
    }
  }
  return counts;
}

/** node:http keeps up to 1,000 parsers for reuse: a bounded cache, reported apart. */
function pooledParsers() {
  try {
    return createRequire(import.meta.url)('_http_common').parsers.list.length;
  } catch {
    return undefined;
  }
}

function snapshot() {
  const memory = process.memoryUsage();
  const spaces = {};
  for (const space of v8.getHeapSpaceStatistics()) spaces[space.space_name] = space.space_used_size;
  return {
    heapUsed: memory.heapUsed,
    spaces,
    rss: memory.rss,
    external: memory.external,
    parsers: pooledParsers(),
    resources: countResources(),
    listeners: listenerCounts(),
  };
}

const started = performance.now();
// stdout and stderr get their handles on first use: before the baseline.
log(`soak: ${connections} connections from ${processes} process(es), ${seconds} s`);
process.stdout.write('');
process.stderr.write('');

// Warm-up: the same round, shorter, before the baseline. Until V8 has
// optimised the hot paths, every round compiles more code (hundreds of KiB of
// it and its metadata), and node:http's pool of parsers (up to 1,000) grows
// with the handshakes in progress at once: both belong to the baseline.
await broadcast({ cmd: 'open', concurrency: OPEN_CONCURRENCY }, connections);
await broadcast({ cmd: 'run', ms: WARMUP_SECONDS * 1000, interval, inflight });
await broadcast({ cmd: 'close' });
await waitForNoClients(10_000);
weak = [];
Object.assign(counters, {
  received: 0,
  reordered: 0,
  corrupted: 0,
  errors: 0,
  connections: 0,
  peak: 0,
});
await settle();
const before = snapshot();

// The main round.
const openStarted = performance.now();
const opened = await broadcast({ cmd: 'open', concurrency: OPEN_CONCURRENCY }, connections);
const openMs = performance.now() - openStarted;
log(
  `  opened ${sum(opened, 'opened')} in ${(openMs / 1000).toFixed(1)} s (${sum(opened, 'failed')} failed)`,
);
let peakHeap = 0;
let peakRss = 0;
const sampler = setInterval(() => {
  const memory = process.memoryUsage();
  peakHeap = Math.max(peakHeap, memory.heapUsed);
  peakRss = Math.max(peakRss, memory.rss);
}, 250);
const ran = await broadcast({ cmd: 'run', ms: seconds * 1000, interval, inflight });
clearInterval(sampler);
const closed = await broadcast({ cmd: 'close' });
const remaining = await waitForNoClients(30_000);
const serverSeen = { ...counters };
await settle();
const alive = weak.filter((ref) => ref.deref() !== undefined).length;
weak = [];
await settle();
const after = snapshot();

// Done: the client processes leave, then the server.
await Promise.all(
  children.map(
    (child) =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.send({ cmd: 'exit' });
      }),
  ),
);
await server.close();

const diff = (a, b) => {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const out = {};
  for (const key of keys)
    if ((a[key] ?? 0) !== (b[key] ?? 0)) out[key] = [a[key] ?? 0, b[key] ?? 0];
  return out;
};
const result = {
  connections: {
    requested: connections,
    opened: sum(opened, 'opened'),
    failed: sum(opened, 'failed'),
    peak: serverSeen.peak,
  },
  processes,
  seconds,
  openSeconds: openMs / 1000,
  messages: {
    sent: sum(ran, 'sent'),
    echoed: sum(ran, 'echoed'),
    serverReceived: serverSeen.received,
    perSecond: Math.round(sum(ran, 'echoed') / seconds),
    lost: sum(ran, 'lost'),
    reordered: sum(ran, 'reordered'),
    serverReordered: serverSeen.reordered,
    corrupted: sum(ran, 'corrupted') + serverSeen.corrupted,
    protocolErrors: sum(ran, 'protocolErrors') + serverSeen.errors,
  },
  close: {
    clean: sum(closed, 'clean'),
    unclean: sum(closed, 'unclean'),
    serverClientsLeft: remaining,
  },
  memory: {
    heapBefore: before.heapUsed,
    heapPeak: peakHeap,
    heapAfter: after.heapUsed,
    heapGrowth: after.heapUsed - before.heapUsed,
    heapTolerance: HEAP_TOLERANCE,
    rssBefore: before.rss,
    rssPeak: peakRss,
    rssAfter: after.rss,
    externalBefore: before.external,
    externalAfter: after.external,
    parsersBefore: before.parsers,
    parsersAfter: after.parsers,
    /** Growth per V8 heap space (code, old, new, ...), in bytes. */
    spaceGrowth: Object.fromEntries(
      Object.keys(after.spaces).map((name) => [
        name,
        after.spaces[name] - (before.spaces[name] ?? 0),
      ]),
    ),
  },
  leaks: {
    objectsAlive: alive,
    resources: diff(before.resources, after.resources),
    listeners: diff(before.listeners, after.listeners),
    timersBefore: before.resources.Timeout ?? 0,
    timersAfter: after.resources.Timeout ?? 0,
    socketsAfter: after.resources.TCPSocketWrap ?? 0,
  },
  totalSeconds: (performance.now() - started) / 1000,
};

const m = result.messages;
const ok =
  result.connections.opened === connections &&
  m.lost === 0 &&
  m.reordered === 0 &&
  m.serverReordered === 0 &&
  m.corrupted === 0 &&
  m.protocolErrors === 0 &&
  m.echoed === m.sent &&
  m.serverReceived === m.sent &&
  result.close.clean === connections &&
  remaining === 0 &&
  alive === 0 &&
  Object.keys(result.leaks.resources).length === 0 &&
  Object.keys(result.leaks.listeners).length === 0 &&
  result.memory.heapGrowth <= HEAP_TOLERANCE;
result.ok = ok;

const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
log(
  `  messages: ${m.sent} sent, ${m.echoed} echoed (${m.perSecond}/s), server received ${m.serverReceived}`,
);
log(
  `  lost ${m.lost}, reordered ${m.reordered} (client) / ${m.serverReordered} (server), corrupted ${m.corrupted}, protocol errors ${m.protocolErrors}`,
);
log(`  closed cleanly: ${result.close.clean}/${connections}; server clients left: ${remaining}`);
log(
  `  heap: ${mib(before.heapUsed)} before, ${mib(peakHeap)} peak, ${mib(after.heapUsed)} after (growth ${(result.memory.heapGrowth / 1024).toFixed(0)} KiB)`,
);
log(
  `  heap growth by space: ${Object.entries(result.memory.spaceGrowth)
    .map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(0)} KiB`)
    .join(', ')}`,
);
log(`  node:http parser pool: ${before.parsers} before, ${after.parsers} after`);
log(`  rss: ${mib(before.rss)} before, ${mib(peakRss)} peak, ${mib(after.rss)} after`);
log(
  `  leaks: ${alive} connection objects alive, resources ${JSON.stringify(result.leaks.resources)}, listeners ${JSON.stringify(result.leaks.listeners)}, timers ${result.leaks.timersBefore} -> ${result.leaks.timersAfter}`,
);
log(`  ${ok ? 'OK' : 'FAILED'} in ${result.totalSeconds.toFixed(1)} s`);
if (values.json) console.log(JSON.stringify(result));
process.exitCode = ok ? 0 : 1;
