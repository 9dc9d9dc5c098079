// Client libraries: @proj/client (the WHATWG WebSocket for Node) against the
// ws client (plain, and with its native addons when installed) and undici's
// WebSocket (the WHATWG client behind Node's own global WebSocket), echoing
// 16 B and 1 KiB binary messages with 16 in flight on each of 100 connections.
//
// The server is the bare node:net echo of echo/servers.mjs ("raw net", the
// cheapest echo there is), in its own process pinned to core 0, so that the
// client process (gen/client-load.mjs, pinned to core 1) is the limit: its CPU
// share should be near 100% and the server's well below. Runs alternate
// between the libraries; each cell is the median of the runs.
//
// Then the memory each library holds per open, idle connection
// (gen/client-memory.mjs: MEMORY_CONNECTIONS opened to the same server, heap
// and RSS after full garbage collections, against a baseline taken with 100
// already open).
//
//   node client.bench.mjs                        # packages already built
//   BENCH_RUNS=9 BENCH_SECONDS=2 node client.bench.mjs
import {
  FULL,
  PLAIN_WS,
  SERVERS,
  addons,
  alternate,
  cpuSeconds,
  pinningNote,
  runGenerator,
  runsOr,
  startServer,
} from './lib/harness.mjs';
import {
  formatRate,
  formatSize,
  formatSpread,
  mediansOf,
  publish,
  sectionHead,
} from './lib/results.mjs';

const RUNS = runsOr(5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? (FULL ? 2 : 0.7));
const CONNECTIONS = 100;
const INFLIGHT = 16;
const SIZES = [16, 1024];
const MEMORY_CONNECTIONS = FULL ? 5000 : 2000;
const LIBRARIES = [
  { name: 'ours', library: 'ours', env: {} },
  { name: 'ws', library: 'ws', env: PLAIN_WS },
  ...(addons ? [{ name: 'ws+addons', library: 'ws', env: {} }] : []),
  { name: 'undici', library: 'undici', env: {} },
];

const began = Date.now();
const server = await startServer(SERVERS.raw);
const results = [];
const memory = {};
try {
  for (const size of SIZES) {
    const samples = new Map(LIBRARIES.map((l) => [l.name, []]));
    for (let run = 0; run < RUNS; run++) {
      for (const library of alternate(LIBRARIES, run)) {
        const before = cpuSeconds(server.child.pid);
        const result = await runGenerator(
          'gen/client-load.mjs',
          [library.library, server.port, CONNECTIONS, INFLIGHT, size, SECONDS],
          library.env,
        );
        const serverCpu = cpuSeconds(server.child.pid) - before;
        const serverMicros = (serverCpu / result.total) * 1e6;
        samples
          .get(library.name)
          .push({ ...result, serverShare: (serverMicros * result.rate) / 1e6 });
      }
    }
    const by = {};
    for (const [name, runs] of samples) {
      by[name] = mediansOf(runs, ['rate', 'mibps', 'cpu', 'serverShare']);
    }
    results.push({ size, by });
    console.log(
      `client ${formatSize(size)}: ` +
        LIBRARIES.map((l) => `${l.name} ${formatRate(by[l.name].rate)}msg/s`).join(', '),
    );
  }
  const memorySamples = new Map(LIBRARIES.map((l) => [l.name, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const library of alternate(LIBRARIES, run)) {
      memorySamples
        .get(library.name)
        .push(
          await runGenerator(
            'gen/client-memory.mjs',
            [library.library, server.port, MEMORY_CONNECTIONS],
            library.env,
          ),
        );
    }
  }
  for (const [name, runs] of memorySamples) memory[name] = mediansOf(runs, ['heap', 'rss']);
  console.log(
    'client memory per open connection: ' +
      LIBRARIES.map(
        (l) => `${l.name} heap ${kib(memory[l.name].heap)}, RSS ${kib(memory[l.name].rss)}`,
      ).join('; '),
  );
} finally {
  await server.stop();
}

/** Bytes as KiB, two decimals. */
function kib(bytes) {
  return `${(bytes / 1024).toFixed(2)} KiB`;
}

const names = LIBRARIES.map((l) => l.name);
const against = names.filter((n) => n !== 'ours');
const seconds = (Date.now() - began) / 1000;
const section = [
  ...sectionHead('Client', 'client.bench.mjs', seconds, against),
  `- ${pinningNote}. The server is the bare node:net echo (raw net); the client process ` +
    `(gen/client-load.mjs) opens ${CONNECTIONS} connections with one library and keeps ${INFLIGHT} ` +
    'binary messages in flight on each, answering every message received with a new one. Ours: ' +
    "`new WebSocket(url)` from @proj/client, `binaryType = 'arraybuffer'`, `onmessage`; ws: " +
    "`new WebSocket(url, { perMessageDeflate: false })`, Buffers, `on('message')`; ws is plain " +
    '(WS_NO_BUFFER_UTIL / WS_NO_UTF_8_VALIDATE) or with its native addons (ws+addons); undici: ' +
    "`new WebSocket(url)` from undici, `binaryType = 'arraybuffer'`, `onmessage`, as ours. " +
    `${RUNS} alternated runs of ${SECONDS} s per library and size (after a 0.3 s warm-up); medians, ` +
    "spread ±half the interquartile range. Client CPU is the client process's share of its core (the " +
    "library is the limit when it is near 100%); server CPU the raw server's. ws's client writes " +
    'every message in its own syscall and reads arrive one message at a time, so the raw server can ' +
    'saturate too: where its share nears 100%, the ws rate is a lower bound and ours/ws an upper bound.',
  '',
  `| payload | ${names.map((n) => `${n} msg/s (MiB/s, spread)`).join(' | ')} | client CPU (${names.join(' / ')}) | server CPU (${names.join(' / ')}) | ${against.map((n) => `ours/${n}`).join(' | ')} |`,
  `|---|${names.map(() => '--:').join('|')}|--:|--:|${against.map(() => '--:').join('|')}|`,
  ...results.map(
    ({ size, by }) =>
      `| ${formatSize(size)} ` +
      `| ${names.map((n) => `${formatRate(by[n].rate)} (${by[n].mibps.toFixed(1)}, ${formatSpread(by[n].rateSpread)})`).join(' | ')} ` +
      `| ${names.map((n) => `${(by[n].cpu * 100).toFixed(0)}%`).join(' / ')} ` +
      `| ${names.map((n) => `${(by[n].serverShare * 100).toFixed(0)}%`).join(' / ')} ` +
      `| ${against.map((n) => `**${(by.ours.rate / by[n].rate).toFixed(2)}×**`).join(' | ')} |`,
  ),
  '',
  `- Memory per open connection, idle: gen/client-memory.mjs opens ${MEMORY_CONNECTIONS.toLocaleString('en-US')} connections ` +
    'with one library (as above: ours and undici with `onopen`, ws with an `open` listener) to the ' +
    'same raw server, after 100 kept open for the baseline (what a library makes once); heap and RSS ' +
    `after two full GCs, after minus before, over ${MEMORY_CONNECTIONS.toLocaleString('en-US')}. A fresh process per run; ` +
    `${RUNS} alternated runs; medians, spread ±half the interquartile range. ours/x below 1× means ours holds less.`,
  '',
  `| per open connection | ${names.join(' | ')} | ${against.map((n) => `ours/${n}`).join(' | ')} |`,
  `|---|${names.map(() => '--:').join('|')}|${against.map(() => '--:').join('|')}|`,
  ...[
    ['heap', 'heap'],
    ['RSS', 'rss'],
  ].map(
    ([label, key]) =>
      `| ${label} ` +
      `| ${names.map((n) => `${kib(memory[n][key])} (${formatSpread(memory[n][`${key}Spread`])})`).join(' | ')} ` +
      `| ${against.map((n) => `**${(memory.ours[key] / memory[n][key]).toFixed(2)}×**`).join(' | ')} |`,
  ),
  '',
];
publish(
  'Client',
  section,
  [
    ...results.flatMap(({ size, by }) =>
      against.map((n) => ({
        point: `${formatSize(size)}, ${CONNECTIONS} conns × ${INFLIGHT} in flight`,
        metric: 'client messages/s',
        unit: 'msg/s',
        better: 'higher',
        ours: by.ours.rate,
        ws: by[n].rate,
        against: n,
        cpu: Object.fromEntries(
          ['ours', n].map((m) => [m, { client: by[m].cpu, 'echo server': by[m].serverShare }]),
        ),
      })),
    ),
    ...['heap', 'rss'].flatMap((key) =>
      against.map((n) => ({
        point: `${MEMORY_CONNECTIONS.toLocaleString('en-US')} open connections, idle`,
        metric: `client ${key === 'rss' ? 'RSS' : 'heap'} per open connection`,
        unit: 'bytes',
        better: 'lower',
        ours: memory.ours[key],
        ws: memory[n][key],
        against: n,
      })),
    ),
  ],
  {
    seconds: Math.round(seconds),
    runs: RUNS,
    roles: { measured: 'client', load: 'echo server' },
    generator: 'the raw node:net echo server (Node) answering gen/client-load.mjs',
  },
);
