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
const LIBRARIES = [
  { name: 'ours', library: 'ours', env: {} },
  { name: 'ws', library: 'ws', env: PLAIN_WS },
  ...(addons ? [{ name: 'ws+addons', library: 'ws', env: {} }] : []),
  { name: 'undici', library: 'undici', env: {} },
];

const began = Date.now();
const server = await startServer(SERVERS.raw);
const results = [];
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
} finally {
  await server.stop();
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
];
publish(
  'Client',
  section,
  results.flatMap(({ size, by }) =>
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
  {
    seconds: Math.round(seconds),
    runs: RUNS,
    roles: { measured: 'client', load: 'echo server' },
    generator: 'the raw node:net echo server (Node) answering gen/client-load.mjs',
  },
);
