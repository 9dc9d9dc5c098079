// Compression (permessage-deflate) benchmark: @proj/server against ws (plain,
// and with its native addons when installed), all with `perMessageDeflate: {
// threshold: 0 }` (echo/servers.mjs kinds "ours-deflate" and "ws-deflate"), in
// the same run, at two settings:
//
// - each on its defaults: ours compresses at level 1 with an 8 KiB window, ws
//   at zlib's level 6 with the 32 KiB window it negotiates. What a user gets
//   without tuning; most of the memory gap is the window.
// - like for like: ws configured to ours' defaults (`serverMaxWindowBits` and
//   `zlibDeflateOptions: { level, memLevel }`), so both run zlib with the same
//   level, window and memLevel and only the libraries differ.
// Ours runs once for both: its defaults are the like-for-like settings.
//
// 1. Compressed echo: gen/deflate-load.mjs (raw sockets, pinned to core 1)
//    sends a sequence of distinct 1 KiB JSON messages compressed once up front
//    with context takeover, 50 connections × 8 in flight, and counts echoes
//    without inflating them, so the generator stays far from its limit;
//    messages/s, the compression ratio of the echoes, and CPU shares.
// 2. Memory per connection with compression negotiated: a fresh server per run
//    (core 0, --expose-gc); after a warm-up (connections opened, active, reset),
//    baseline MEM, then N idle connections (MEM), then every connection
//    exchanges one compressed message each way (MEM, "active"): per
//    connection = (MEM - baseline) / N. The clients are ws (gen/deflate-clients.mjs).
//
// Runs alternate between the servers; cells are medians, spread ±half the
// interquartile range.
//
//   node deflate.bench.mjs
//   BENCH_RUNS=7 BENCH_MEMORY_RUNS=5 BENCH_SECONDS=2 BENCH_CONNECTIONS=2000 node deflate.bench.mjs
import { createRequire } from 'node:module';
import {
  PLAIN_WS,
  addons,
  alternate,
  pinningNote,
  runGenerator,
  runsOr,
  spawnClients,
  startServer,
  waitForClients,
  withServerCpu,
} from './lib/harness.mjs';
import { MEMORY_ROW } from './lib/limit.mjs';
import { formatRate, formatSpread, mediansOf, publish, sectionHead } from './lib/results.mjs';

const RUNS = runsOr(5);
// A memory run at 10,000 connections takes about 10 s per server; five runs
// per server keep every row a median of at least 5.
const MEMORY_RUNS = Number(process.env.BENCH_MEMORY_RUNS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const WARMUP_SECONDS = 0.3;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
/**
 * Our `idleRelease` in the memory runs (ms; the default is 10 s): long enough
 * that no context is released while 10,000 connections take turns to become
 * active, which can take longer than 10 s on a loaded machine.
 */
const IDLE_RELEASE = 60_000;
const WARMUP_CONNECTIONS = 200;
const LOAD = { connections: 50, inflight: 8 };
const LOAD_GENERATOR = 'gen/deflate-load.mjs';
const CLIENTS = 'gen/deflate-clients.mjs';

/**
 * Ours' deflate defaults, from @proj/deflate's DEFLATE_DEFAULTS (reached through @proj/server,
 * which depends on it), so that the like-for-like settings follow them.
 */
const OURS = createRequire(import.meta.resolve('@proj/server'))('@proj/deflate').DEFLATE_DEFAULTS;
/** zlib's defaults, which ws uses: level 6 (Z_DEFAULT_COMPRESSION), windowBits 15, memLevel 8. */
const ZLIB = { level: 6, windowBits: 15, memLevel: 8 };

const zlibSettings = ({ level, windowBits, memLevel }) =>
  `level ${level}, windowBits ${windowBits} (${2 ** windowBits / 1024} KiB window), memLevel ${memLevel}`;

/**
 * The two settings, by the key results.json's `settings` uses (the label says what each side ran
 * with); `ws` holds ws's extra options.
 */
const SETTINGS = {
  'each on its defaults': {
    label: `ours ${zlibSettings(OURS)}; ws ${zlibSettings(ZLIB)}`,
    ws: {},
  },
  'like for like': {
    label:
      `both ${zlibSettings(OURS)}; ws configured with \`serverMaxWindowBits: ${OURS.windowBits}\`, ` +
      `\`zlibDeflateOptions: { level: ${OURS.level}, memLevel: ${OURS.memLevel} }\``,
    ws: {
      serverMaxWindowBits: OURS.windowBits,
      zlibDeflateOptions: { level: OURS.level, memLevel: OURS.memLevel },
    },
  },
};
const REFERENCES = [
  { name: 'ws', env: PLAIN_WS },
  ...(addons ? [{ name: 'ws+addons', env: {} }] : []),
];

/** ws's servers, one per reference and settings; `id` tells them apart in the samples. */
const wsServers = Object.entries(SETTINGS).flatMap(([settings, { ws }]) =>
  REFERENCES.map(({ name, env }) => ({
    id: `${name} (${settings})`,
    name,
    settings,
    kind: 'ws-deflate',
    env: { ...env, BENCH_DEFLATE_OPTIONS: JSON.stringify(ws) },
  })),
);
const IMPLEMENTATIONS = [
  {
    id: 'ours',
    name: 'ours',
    kind: 'ours-deflate',
    env: {},
    memoryEnv: { BENCH_DEFLATE_OPTIONS: JSON.stringify({ idleRelease: IDLE_RELEASE }) },
  },
  ...wsServers,
];
const ids = IMPLEMENTATIONS.map((i) => i.id);

const began = Date.now();

// 1. Compressed echo, one long-lived server per implementation.
async function echoRun(server) {
  const args = [server.port, LOAD.connections, LOAD.inflight, SECONDS];
  // zlib runs on the server's thread pool, on the same pinned core: its CPU counts.
  return withServerCpu(server.child.pid, SECONDS + WARMUP_SECONDS, () =>
    runGenerator(LOAD_GENERATOR, args),
  );
}

const echoSamples = new Map(ids.map((id) => [id, []]));
const servers = [];
for (const implementation of IMPLEMENTATIONS) servers.push(await startServer(implementation));
try {
  for (let run = 0; run < RUNS; run++) {
    for (const server of alternate(servers, run)) {
      const result = await echoRun(server);
      echoSamples.get(server.id).push(result);
      console.log(
        `deflate echo ${server.id}: ${formatRate(result.rate)}msg/s, ${result.echoRatio.toFixed(2)}× ` +
          `compressed, generator CPU ${(result.cpu * 100).toFixed(0)}%`,
      );
    }
  }
} finally {
  await Promise.all(servers.map((server) => server.stop()));
}
const echo = {};
for (const [id, runs] of echoSamples) {
  echo[id] = mediansOf(runs, ['rate', 'echoRatio', 'cpu', 'serverCpu']);
}

// 2. Memory per idle and per active connection.
async function measureMemory(implementation) {
  const server = await startServer(
    { ...implementation, env: { ...implementation.env, ...implementation.memoryEnv } },
    { gc: true },
  );
  const clients = spawnClients(CLIENTS, ['control', server.port]);
  const open = async (count) => {
    const [opened, failed] = (await clients.ask(`OPEN ${count}`)).split(' ').map(Number);
    if (opened !== count) throw new Error(`only ${opened} connections opened (${failed} failed)`);
    await waitForClients(server, count);
  };
  try {
    await open(WARMUP_CONNECTIONS);
    await clients.ask('ACTIVE');
    await clients.ask('RESET');
    await waitForClients(server, 0);
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
const memorySamples = new Map(ids.map((id) => [id, []]));
for (let run = 0; run < MEMORY_RUNS; run++) {
  for (const implementation of alternate(IMPLEMENTATIONS, run)) {
    const result = await measureMemory(implementation);
    memorySamples.get(implementation.id).push(result);
    console.log(
      `deflate memory ${implementation.id}: idle ${(result.idleRss / 1024).toFixed(2)} KiB RSS, ` +
        `active ${(result.activeRss / 1024).toFixed(2)} KiB RSS per connection`,
    );
  }
}
const memorySeconds = (Date.now() - memoryBegan) / 1000;
const MEMORY_KEYS = ['idleRss', 'idleHeap', 'activeRss', 'activeHeap', 'activeExternal'];
const mem = {};
for (const [id, runs] of memorySamples) mem[id] = mediansOf(runs, MEMORY_KEYS);

// 3. RESULTS.md and results.json.
const seconds = (Date.now() - began) / 1000;
const kib = (bytes) => (bytes / 1024).toFixed(2);
const count = CONNECTIONS.toLocaleString('en-US');
const percent = (share) => `${(share * 100).toFixed(0)}%`;
const memCell = (id, key) => `${kib(mem[id][key])} KiB (${formatSpread(mem[id][`${key}Spread`])})`;
/** ws's servers at one settings key, each with ours/it ratio rows. */
const at = (settings) => wsServers.filter((w) => w.settings === settings);

function echoTable() {
  const row = (id, label = id) =>
    `| ${label} | ${formatRate(echo[id].rate)} (${formatSpread(echo[id].rateSpread)}) ` +
    `| ${echo[id].echoRatio.toFixed(2)}× | ${percent(echo[id].serverCpu)} | ${percent(echo[id].cpu)} |`;
  return [
    `| compressed echo, 1 KiB JSON, ${LOAD.connections} × ${LOAD.inflight} | msg/s (spread) | compression of the echoes | server CPU | generator CPU |`,
    '|---|--:|--:|--:|--:|',
    row('ours', `ours (${zlibSettings(OURS)})`),
    ...Object.keys(SETTINGS).flatMap((settings) => [
      ...at(settings).map((w) => row(w.id)),
      ...at(settings).map(
        (w) =>
          `| **ours/${w.id}** (target ≥ 1.0×) | **${(echo.ours.rate / echo[w.id].rate).toFixed(2)}×** | | | |`,
      ),
    ]),
  ];
}

function memoryTable() {
  const cells = (id) =>
    `${memCell(id, 'idleRss')} | ${memCell(id, 'idleHeap')} | ${memCell(id, 'activeRss')} ` +
    `| ${memCell(id, 'activeHeap')} | ${kib(mem[id].activeExternal)} KiB`;
  const ratio = (id, key) => `**${(mem.ours[key] / mem[id][key]).toFixed(2)}×**`;
  return [
    `| ${count} connections | idle RSS / conn | idle heap / conn | active RSS / conn | active heap / conn | active external / conn |`,
    '|---|--:|--:|--:|--:|--:|',
    `| ours | ${cells('ours')} |`,
    ...Object.keys(SETTINGS).flatMap((settings) => [
      ...at(settings).map((w) => `| ${w.id} | ${cells(w.id)} |`),
      ...at(settings).map(
        (w) =>
          `| **ours/${w.id}** (target ≤ 0.8×) | ${ratio(w.id, 'idleRss')} | ${ratio(w.id, 'idleHeap')} ` +
          `| ${ratio(w.id, 'activeRss')} | ${ratio(w.id, 'activeHeap')} | |`,
      ),
    ]),
  ];
}

const section = [
  ...sectionHead(
    'Compression',
    'deflate.bench.mjs',
    seconds,
    REFERENCES.map((r) => r.name),
    { command: '`node deflate.bench.mjs`', took: ` (memory part ${memorySeconds.toFixed(0)} s)` },
  ),
  `- ${pinningNote}. All servers are the echo servers of echo/servers.mjs with ` +
    '`perMessageDeflate: { threshold: 0 }` (kinds "ours-deflate" and "ws-deflate"), both keeping ' +
    'context takeover and running at most 10 zlib jobs at once, at two settings:',
  ...Object.entries(SETTINGS).map(([key, { label }]) => `  - **${key}**: ${label}.`),
  '  Ours runs once for both: its defaults are the like-for-like settings. ' +
    `In the memory runs ours has \`idleRelease: ${IDLE_RELEASE}\` (default 10,000 ms), so that no ` +
    'context is released before it is measured. ' +
    `Echo: ${RUNS} alternated runs per server; memory: ${MEMORY_RUNS}. Medians, spread ±half the interquartile range.`,
  `- Echo: gen/deflate-load.mjs, raw sockets that negotiate permessage-deflate with context ` +
    'takeover and send a sequence of distinct 1 KiB JSON text messages (rows with repeated keys), ' +
    'compressed once up front as one 15-bit deflate stream, and count the echoes from their frame ' +
    'headers without inflating them; compression of the echoes = 1 KiB over the mean echoed payload, ' +
    "the ratio the server's settings reached. The server inflates, checks UTF-8 and deflates " +
    `every message as for a browser. ${LOAD.connections} connections × ${LOAD.inflight} in flight, ` +
    `${SECONDS} s per run after a ${WARMUP_SECONDS} s warm-up, one server process per implementation for all runs. ` +
    "Generator CPU is the load generator's share of its core (near 100%: the generator, not the server, " +
    "was the limit); server CPU likewise (zlib runs on the server's thread pool, on the same core).",
  `- Memory: ${count} connections from ws clients (gen/deflate-clients.mjs, \`perMessageDeflate: true\`) ` +
    'with permessage-deflate negotiated, a fresh server process (`--expose-gc`) per run. `MEM` ' +
    '(process.memoryUsage() after two full GCs) before the connections open, once they are open and ' +
    'idle, and once each has exchanged one compressed message each way ("active": zlib contexts exist); ' +
    `per connection = (MEM − before) / ${count}. Before the baseline, ${WARMUP_CONNECTIONS} connections are opened, made ` +
    "active and reset. zlib's memory is native: it shows in RSS, not in the V8 heap. Idle RSS is " +
    'mostly V8 heap the process committed while the handshakes ran, so it varies more from run to ' +
    'run than the idle heap, which is what the connections themselves retain.',
  '',
  ...echoTable(),
  '',
  ...memoryTable(),
  '',
];

const idlePoint = `${count} idle connections, deflate negotiated`;
const activePoint = `${count} active connections (one compressed message each way)`;
const echoPoint = `1 KiB JSON, ${LOAD.connections} conns × ${LOAD.inflight} in flight`;
const MEMORY_METRICS = [
  [idlePoint, 'RSS per idle connection', 'idleRss'],
  [idlePoint, 'heap per idle connection', 'idleHeap'],
  [activePoint, 'RSS per active connection', 'activeRss'],
  [activePoint, 'heap per active connection', 'activeHeap'],
];
/** The entries comparing ours with one of ws's servers. */
const entriesAgainst = (w) => {
  const common = { against: w.name, settings: w.settings };
  const cpu = Object.fromEntries(
    [
      ['ours', 'ours'],
      [w.name, w.id],
    ].map(([name, id]) => [name, { server: echo[id].serverCpu, generator: echo[id].cpu }]),
  );
  return [
    {
      ...common,
      point: echoPoint,
      metric: 'compressed messages/s',
      unit: 'msg/s',
      ours: echo.ours.rate,
      ws: echo[w.id].rate,
      cpu,
    },
    {
      ...common,
      point: echoPoint,
      metric: 'compression of the echoes',
      unit: '×',
      ours: echo.ours.echoRatio,
      ws: echo[w.id].echoRatio,
      cpu,
    },
    ...MEMORY_METRICS.map(([point, metric, key]) => ({
      ...common,
      point,
      metric,
      unit: 'bytes',
      better: 'lower',
      ours: mem.ours[key],
      ws: mem[w.id][key],
      runs: MEMORY_RUNS,
      limit: MEMORY_ROW,
    })),
  ];
};
for (const w of wsServers) {
  console.log(
    `deflate ours/${w.id}: echo ${(echo.ours.rate / echo[w.id].rate).toFixed(2)}×; active RSS ` +
      `${(mem.ours.activeRss / mem[w.id].activeRss).toFixed(2)}×`,
  );
}
publish('Compression', section, wsServers.flatMap(entriesAgainst), {
  seconds: Math.round(seconds),
  runs: RUNS,
  memoryRuns: MEMORY_RUNS,
  connections: CONNECTIONS,
  roles: { measured: 'server', load: 'generator' },
  generator: 'gen/deflate-load.mjs (Node); memory: gen/deflate-clients.mjs (Node, ws clients)',
  settings: Object.fromEntries(Object.entries(SETTINGS).map(([key, { label }]) => [key, label])),
});
