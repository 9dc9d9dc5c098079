// Compression (permessage-deflate) benchmark: @proj/server against ws, both
// with `perMessageDeflate: { threshold: 0 }` (echo/servers.mjs kinds
// "ours-deflate" and "ws-deflate"), in the same run.
//
// 1. Compressed echo: gen/deflate-load.mjs (raw sockets, pinned to core 1)
//    sends a sequence of distinct 1 KiB JSON messages compressed once up front
//    with context takeover, 50 connections × 8 in flight, and counts echoes
//    without inflating them, so the generator stays far from its limit;
//    messages/s and the generator's CPU share.
// 2. Memory per connection with compression negotiated: a fresh server per run
//    (core 0, --expose-gc); after a warm-up (connections opened, active, reset),
//    baseline MEM, then N idle connections (MEM), then every connection
//    exchanges one compressed message each way (MEM, "active"): per
//    connection = (MEM - baseline) / N. The clients are ws (gen/deflate-clients.mjs).
//
// Runs alternate ours/ws; cells are medians, spread ±half the interquartile range.
//
//   node deflate.bench.mjs
//   BENCH_RUNS=7 BENCH_MEMORY_RUNS=5 BENCH_SECONDS=2 BENCH_CONNECTIONS=2000 node deflate.bench.mjs
import {
  alternate,
  benchFile,
  cpuSeconds,
  pinningNote,
  runGenerator,
  runsOr,
  sleep,
  spawnControlled,
  startServer,
} from './lib/harness.mjs';
import {
  formatRate,
  formatSpread,
  machineLines,
  median,
  now,
  spread,
  writeEntries,
  writeSection,
} from './lib/results.mjs';

const RUNS = runsOr(5);
// A memory run at 10,000 connections takes about 15 s per implementation;
// memory figures vary far less between runs than throughput does.
const MEMORY_RUNS = Number(process.env.BENCH_MEMORY_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
/**
 * Our `idleRelease` in the memory runs (ms; the default is 10 s): long enough
 * that no context is released while 10,000 connections take turns to become
 * active, which can take longer than 10 s on a loaded machine.
 */
const IDLE_RELEASE = 60_000;
const WARMUP_CONNECTIONS = 200;
const LOAD = { connections: 50, inflight: 8 };
const IMPLEMENTATIONS = [
  {
    name: 'ours',
    kind: 'ours-deflate',
    env: {},
    memoryEnv: { BENCH_DEFLATE_IDLE_RELEASE: String(IDLE_RELEASE) },
  },
  // ws as the echo benchmark's plain ws: without its native addons.
  { name: 'ws', kind: 'ws-deflate', env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' } },
];
const names = IMPLEMENTATIONS.map((i) => i.name);
const LOAD_GENERATOR = 'gen/deflate-load.mjs';
const CLIENTS = 'gen/deflate-clients.mjs';

const began = Date.now();

// 1. Compressed echo, one long-lived server per implementation.
const echo = new Map(names.map((n) => [n, []]));
const servers = [];
for (const implementation of IMPLEMENTATIONS) servers.push(await startServer(implementation));
try {
  for (let run = 0; run < RUNS; run++) {
    for (const server of alternate(servers, run)) {
      const before = cpuSeconds(server.child.pid);
      const result = await runGenerator(LOAD_GENERATOR, [
        server.port,
        LOAD.connections,
        LOAD.inflight,
        SECONDS,
      ]);
      const serverCpu = (cpuSeconds(server.child.pid) - before) / (SECONDS + 0.3);
      echo.get(server.name).push({ ...result, serverCpu });
      console.log(
        `deflate echo ${server.name}: ${formatRate(result.rate)}msg/s, generator CPU ${(result.cpu * 100).toFixed(0)}%`,
      );
    }
  }
} finally {
  for (const server of servers) await server.stop();
}
const rate = {};
for (const [name, runs] of echo) {
  rate[name] = {
    rate: median(runs.map((r) => r.rate)),
    spread: spread(runs.map((r) => r.rate)),
    cpu: median(runs.map((r) => r.cpu)),
    serverCpu: median(runs.map((r) => r.serverCpu)),
  };
}

// 2. Memory per idle and per active connection.
async function until(server, count) {
  for (let waited = 0; waited < 30_000; waited += 20) {
    if (Number(await server.ask('CLIENTS')) === count) return;
    await sleep(20);
  }
  throw new Error(`${server.name} server never reached ${count} connections`);
}

async function measureMemory(implementation) {
  const server = await startServer(
    { ...implementation, env: { ...implementation.env, ...implementation.memoryEnv } },
    { gc: true },
  );
  const clients = spawnControlled('1', benchFile(CLIENTS), ['control', server.port]);
  const open = async (count) => {
    const [opened, failed] = (await clients.ask(`OPEN ${count}`)).split(' ').map(Number);
    if (opened !== count) throw new Error(`only ${opened} connections opened (${failed} failed)`);
    await until(server, count);
  };
  try {
    await open(WARMUP_CONNECTIONS);
    await clients.ask('ACTIVE');
    await clients.ask('RESET');
    await until(server, 0);
    const base = JSON.parse(await server.ask('MEM'));
    await open(CONNECTIONS);
    const idle = JSON.parse(await server.ask('MEM'));
    await clients.ask('ACTIVE', 'ACTIVE', 120_000);
    const active = JSON.parse(await server.ask('MEM'));
    if (!active.gc) throw new Error('the server runs without --expose-gc');
    const per = (after, key) => (after[key] - base[key]) / CONNECTIONS;
    return {
      idleRss: per(idle, 'rss'),
      idleHeap: per(idle, 'heapUsed'),
      activeRss: per(active, 'rss'),
      activeHeap: per(active, 'heapUsed'),
      activeExternal: per(active, 'external'),
    };
  } finally {
    await clients.ask('RESET').catch(() => {});
    await clients.stop();
    await server.stop();
  }
}

const memoryBegan = Date.now();
const memory = new Map(names.map((n) => [n, []]));
for (let run = 0; run < MEMORY_RUNS; run++) {
  for (const implementation of alternate(IMPLEMENTATIONS, run)) {
    const result = await measureMemory(implementation);
    memory.get(implementation.name).push(result);
    console.log(
      `deflate memory ${implementation.name}: idle ${(result.idleRss / 1024).toFixed(2)} KiB RSS, ` +
        `active ${(result.activeRss / 1024).toFixed(2)} KiB RSS per connection`,
    );
  }
}
const memorySeconds = (Date.now() - memoryBegan) / 1000;
const KEYS = ['idleRss', 'idleHeap', 'activeRss', 'activeHeap', 'activeExternal'];
const mem = {};
for (const [name, runs] of memory) {
  mem[name] = {};
  for (const key of KEYS) {
    mem[name][key] = median(runs.map((r) => r[key]));
    mem[name][`${key}Spread`] = spread(runs.map((r) => r[key]));
  }
}

const seconds = (Date.now() - began) / 1000;
const kib = (bytes) => (bytes / 1024).toFixed(2);
const count = CONNECTIONS.toLocaleString('en-US');
const cell = (name, key) =>
  `${kib(mem[name][key])} KiB (${formatSpread(mem[name][`${key}Spread`])})`;
const memRatio = (key) => `**${(mem.ours[key] / mem.ws[key]).toFixed(2)}×**`;
const echoRatio = rate.ours.rate / rate.ws.rate;

writeSection(
  'Compression',
  [
    '## Compression',
    '',
    '<!-- Written by bench/deflate.bench.mjs (`node deflate.bench.mjs`); edits here are overwritten. -->',
    '',
    `Measured ${now()} UTC in ${seconds.toFixed(0)} s (memory part ${memorySeconds.toFixed(0)} s).`,
    '',
    ...machineLines(),
    `- ${pinningNote}. Both servers are the echo servers of echo/servers.mjs with ` +
      '`perMessageDeflate: { threshold: 0 }` (kinds "ours-deflate" and "ws-deflate"; ws without its ' +
      'native addons) and otherwise their default deflate options: ours compresses at level 1 with an ' +
      "8 KiB window (`windowBits` 13) and memLevel 8, ws at zlib's default level 6 with the negotiated " +
      '32 KiB window and memLevel 8; both keep context takeover and run at most 10 zlib jobs at once. ' +
      `In the memory runs ours has \`idleRelease: ${IDLE_RELEASE}\` (default 10,000 ms), so that no ` +
      'context is released before it is measured. ' +
      `Echo: ${RUNS} alternated runs per server; memory: ${MEMORY_RUNS}. Medians, spread ±half the interquartile range.`,
    `- Echo: gen/deflate-load.mjs, raw sockets that negotiate permessage-deflate with context ` +
      'takeover and send a sequence of distinct 1 KiB JSON text messages (rows with repeated keys), ' +
      'compressed once up front as one 15-bit deflate stream (about 7× smaller), and count the echoes ' +
      'from their frame headers without inflating them. The server inflates, checks UTF-8 and deflates ' +
      `every message as for a browser. ${LOAD.connections} connections × ${LOAD.inflight} in flight, ` +
      `${SECONDS} s per run after a 0.3 s warm-up, one server process per implementation for all runs. ` +
      "Generator CPU is the load generator's share of its core (near 100%: the generator, not the server, " +
      "was the limit); server CPU likewise (zlib runs on the server's thread pool, on the same core).",
    `- Memory: ${count} connections from ws clients (gen/deflate-clients.mjs, \`perMessageDeflate: true\`) ` +
      'with permessage-deflate negotiated, a fresh server process (`--expose-gc`) per run. `MEM` ' +
      '(process.memoryUsage() after two full GCs) before the connections open, once they are open and ' +
      'idle, and once each has exchanged one compressed message each way ("active": zlib contexts exist); ' +
      `per connection = (MEM − before) / ${count}. Before the baseline, ${WARMUP_CONNECTIONS} connections are opened, made ` +
      "active and reset. zlib's memory is native: it shows in RSS, not in the V8 heap. Idle RSS is " +
      'mostly V8 heap the process committed while the handshakes ran (`heapTotal` grows by about 4.3 KiB ' +
      'per connection for both libraries, against 1.8 and 2.5 KiB of `heapUsed`), so it varies by ' +
      '±5% from run to run; the idle heap is what the connections themselves retain.',
    '',
    '| compressed echo, 1 KiB JSON, 50 × 8 | msg/s (spread) | server CPU | generator CPU |',
    '|---|--:|--:|--:|',
    ...names.map(
      (n) =>
        `| ${n} | ${formatRate(rate[n].rate)} (${formatSpread(rate[n].spread)}) ` +
        `| ${(rate[n].serverCpu * 100).toFixed(0)}% | ${(rate[n].cpu * 100).toFixed(0)}% |`,
    ),
    `| **ours/ws** (target ≥ 1.0×) | **${echoRatio.toFixed(2)}×** | | |`,
    '',
    `| ${count} connections | idle RSS / conn | idle heap / conn | active RSS / conn | active heap / conn | active external / conn |`,
    '|---|--:|--:|--:|--:|--:|',
    ...names.map(
      (n) =>
        `| ${n} | ${cell(n, 'idleRss')} | ${cell(n, 'idleHeap')} | ${cell(n, 'activeRss')} ` +
        `| ${cell(n, 'activeHeap')} | ${kib(mem[n].activeExternal)} KiB |`,
    ),
    `| **ours/ws** (target ≤ 0.8×) | ${memRatio('idleRss')} | ${memRatio('idleHeap')} ` +
      `| ${memRatio('activeRss')} | ${memRatio('activeHeap')} | |`,
    '',
  ].join('\n'),
);

const idlePoint = `${count} idle connections, deflate negotiated`;
const activePoint = `${count} active connections (one compressed message each way)`;
writeEntries(
  'Compression',
  [
    {
      point: `1 KiB JSON, ${LOAD.connections} conns × ${LOAD.inflight} in flight`,
      metric: 'compressed messages/s',
      unit: 'msg/s',
      better: 'higher',
      ours: rate.ours.rate,
      ws: rate.ws.rate,
    },
    ...[
      [idlePoint, 'RSS per idle connection', 'idleRss'],
      [idlePoint, 'heap per idle connection', 'idleHeap'],
      [activePoint, 'RSS per active connection', 'activeRss'],
      [activePoint, 'heap per active connection', 'activeHeap'],
    ].map(([point, metric, key]) => ({
      point,
      metric,
      unit: 'bytes',
      better: 'lower',
      ours: mem.ours[key],
      ws: mem.ws[key],
    })),
  ],
  { seconds: Math.round(seconds), runs: RUNS, memoryRuns: MEMORY_RUNS, connections: CONNECTIONS },
);
console.log(
  `deflate ours/ws: echo ${echoRatio.toFixed(2)}×; idle RSS ${(mem.ours.idleRss / mem.ws.idleRss).toFixed(2)}×, ` +
    `heap ${(mem.ours.idleHeap / mem.ws.idleHeap).toFixed(2)}×; active RSS ` +
    `${(mem.ours.activeRss / mem.ws.activeRss).toFixed(2)}×, heap ${(mem.ours.activeHeap / mem.ws.activeHeap).toFixed(2)}×`,
);
console.log('Wrote bench/RESULTS.md (## Compression) and bench/results.json');
