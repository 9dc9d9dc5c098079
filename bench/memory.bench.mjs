// Memory per idle connection at 10,000 connections: @proj/server against ws
// (plain, and with its native addons when installed), uWebSockets.js (issue
// 21; left out with a note where it does not load) and the bare node:net echo
// (the floor of issue 21's target: "within 10% of a bare net.Socket"), all the
// echo servers of echo/servers.mjs (a 'message' listener on every connection,
// as an application would have).
//
// Every run starts a fresh server process (pinned to core 0, --expose-gc) and
// a fresh client process (gen/clients.mjs, raw sockets that complete the
// handshake and then stay idle, pinned to core 1). The clients first open and
// reset 1,000 connections so that the handshake code is compiled and the
// server's tables have grown once; then the server reports its memory after
// full GCs (baseline), the clients open 10,000 connections, and the server
// reports again. Per connection = (after - baseline) / 10,000. Runs alternate
// between the servers; each cell is the median of the runs.
//
//   node memory.bench.mjs                        # packages already built
//   BENCH_RUNS=9 node memory.bench.mjs
import {
  SERVERS,
  WS_SERVERS,
  alternatedRuns,
  pinningNote,
  runsOr,
  startWithIdleClients,
  waitForClients,
  uwsNote,
  uwsServers,
} from './lib/harness.mjs';
import { formatSpread, mediansOf, publish, sectionHead } from './lib/results.mjs';
import { MEMORY_ROW } from './lib/limit.mjs';

const UWS_SERVERS = uwsServers();
const UWS_NOTE = uwsNote();

const RUNS = runsOr(5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
const WARMUP_CONNECTIONS = 1000;
const IMPLEMENTATIONS = [SERVERS.ours, ...WS_SERVERS, ...UWS_SERVERS, SERVERS.raw];
if (UWS_NOTE) console.warn(`${UWS_NOTE} Leaving it out.`);

async function measure(implementation) {
  const { server, clients } = await startWithIdleClients(implementation);
  try {
    await clients.ask(`OPEN ${WARMUP_CONNECTIONS}`);
    await waitForClients(server, WARMUP_CONNECTIONS);
    await clients.ask('RESET');
    await waitForClients(server, 0);
    const before = JSON.parse(await server.ask('MEM'));
    const [open, failed] = (await clients.ask(`OPEN ${CONNECTIONS}`)).split(' ').map(Number);
    if (open !== CONNECTIONS) throw new Error(`only ${open} connections opened (${failed} failed)`);
    await waitForClients(server, CONNECTIONS);
    const after = JSON.parse(await server.ask('MEM'));
    if (!after.gc) throw new Error('the server runs without --expose-gc');
    const per = (key) => (after[key] - before[key]) / CONNECTIONS;
    return {
      rss: per('rss'),
      heap: per('heapUsed'),
      external: per('external'),
      baseRss: before.rss,
      baseHeap: before.heapUsed,
    };
  } finally {
    await clients.ask('RESET').catch(() => {});
    await clients.stop();
    await server.stop();
  }
}

const began = Date.now();
const samples = await alternatedRuns(IMPLEMENTATIONS, RUNS, async (implementation) => {
  const result = await measure(implementation);
  console.log(
    `memory ${implementation.name}: ${(result.rss / 1024).toFixed(2)} KiB RSS, ` +
      `${(result.heap / 1024).toFixed(2)} KiB heap per connection`,
  );
  return result;
});

const by = {};
for (const [name, runs] of samples) {
  by[name] = mediansOf(runs, ['rss', 'heap', 'external', 'baseRss', 'baseHeap']);
}
const names = IMPLEMENTATIONS.map((i) => i.name);
const against = names.filter((n) => n !== 'ours');
const kib = (bytes) => (bytes / 1024).toFixed(2);
const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
const seconds = (Date.now() - began) / 1000;
const section = [
  ...sectionHead('Memory', 'memory.bench.mjs', seconds, against),
  ...(UWS_NOTE ? [`- ${UWS_NOTE}`] : []),
  `- ${pinningNote}. ${CONNECTIONS.toLocaleString('en-US')} idle connections (handshake done, nothing ` +
    'sent) held by a separate client process (gen/clients.mjs, raw sockets); each server is the echo ' +
    "server (a 'message' listener per connection). The server process answers `MEM` on its stdin with " +
    '`process.memoryUsage()` after two full GCs (`--expose-gc`): once before the connections open, once ' +
    `after; per connection = (after - before) / ${CONNECTIONS.toLocaleString('en-US')}. Before the ` +
    `baseline, ${WARMUP_CONNECTIONS} connections are opened and reset so that compiled code and grown ` +
    'tables are not counted per connection. A fresh server process per run; ' +
    `${RUNS} alternated runs per server; medians, spread ±half the interquartile range. ` +
    'RSS includes memory the allocators keep after the handshakes; the heap (V8 `heapUsed`) is what the ' +
    'connections retain; external is memory outside the V8 heap that JS objects own (Buffers). ' +
    "Kernel socket buffers are not in the process's memory. `raw net` is the floor of a Node " +
    'server: a bare `net.Socket` per connection with one `data` listener and the little state its ' +
    "minimal framing keeps. uWS keeps its connections in C++ (RSS, not V8's heap), without a " +
    '`net.Socket`: no Node server can reach it.',
  '',
  '| server | RSS / connection (spread) | heap / connection (spread) | external / connection | baseline RSS | baseline heap |',
  '|---|--:|--:|--:|--:|--:|',
  ...names.map(
    (n) =>
      `| ${n} | ${kib(by[n].rss)} KiB (${formatSpread(by[n].rssSpread)}) ` +
      `| ${kib(by[n].heap)} KiB (${formatSpread(by[n].heapSpread)}) | ${kib(by[n].external)} KiB ` +
      `| ${mib(by[n].baseRss)} MiB | ${mib(by[n].baseHeap)} MiB |`,
  ),
  ...against.map(
    (n) =>
      `| **ours/${n}** (at most 1: ours is smaller) | **${(by.ours.rss / by[n].rss).toFixed(2)}×** ` +
      `| **${(by.ours.heap / by[n].heap).toFixed(2)}×** | | | |`,
  ),
  '',
];
const point = `${CONNECTIONS.toLocaleString('en-US')} idle connections`;
console.log(
  `memory ours/ws: RSS ${(by.ours.rss / by.ws.rss).toFixed(2)}×, heap ${(by.ours.heap / by.ws.heap).toFixed(2)}×`,
);
publish(
  'Memory',
  section,
  against.flatMap((n) =>
    [
      { metric: 'RSS per connection', key: 'rss' },
      { metric: 'heap per connection', key: 'heap' },
    ].map(({ metric, key }) => ({
      point,
      metric,
      unit: 'bytes',
      better: 'lower',
      ours: by.ours[key],
      ws: by[n][key],
      against: n,
      limit: MEMORY_ROW,
    })),
  ),
  { seconds: Math.round(seconds), runs: RUNS, generator: 'gen/clients.mjs (Node, idle clients)' },
);
