// Echo benchmark: @proj/server (on its defaults, and with `lendMessages: true`,
// "ours lent") against ws (plain, and with its native addons
// when they are installed), uWebSockets.js (issue 21; left out with a note
// where its binary does not load) and a bare node:net server that parses
// frames minimally (the ceiling for any Node implementation), through the same
// load generator in the same run.
//
// Every server runs in its own process pinned to core 0; the load generator
// runs pinned to core 1: gen/echo.c (one epoll loop, raw sockets, one frame
// masked once and written with writev), compiled with the system's C compiler,
// or gen/echo.mjs (the same in Node) where there is none. The Node
// generator needs most of its core for 64 KiB and 1 MiB messages and would cap
// every server there alike. Runs alternate between the servers (A B C D, then
// D C B A, ...), and each table cell is the median of the runs, with the
// spread as ±half the interquartile range. Every run starts a new process of
// its server: a process's allocator state (RESULTS.md, "A server that has run
// for a while": glibc trimming its heap and faulting it in again) can double
// its CPU per message at 64 KiB and 1 MiB for as long as it lives, so one
// process per server would draw that lottery once for all its runs; a new
// one per run draws it every run, and the median is the typical process.
//
//   pnpm bench                 # everything (builds first)
//   node echo.bench.mjs        # just this, packages already built
//   BENCH_RUNS=7 BENCH_SECONDS=2 node echo.bench.mjs
import {
  FULL,
  SERVERS,
  WS_SERVERS,
  alternatedRuns,
  hasTaskset,
  nativeGenerator,
  runGenerator,
  runsOr,
  secondsOr,
  startServer,
  withWindowMicros,
  uwsNote,
  uwsServers,
} from './lib/harness.mjs';
import { SATURATED } from './lib/limit.mjs';
import {
  echoPoint,
  formatRate,
  formatSize,
  formatSpread,
  mediansOf,
  publish,
  sectionHead,
} from './lib/results.mjs';

const UWS_SERVERS = uwsServers();
const UWS_NOTE = uwsNote();

const RUNS = runsOr(5);
const SECONDS = secondsOr(1);

const IMPLEMENTATIONS = [
  SERVERS.ours,
  SERVERS.oursLent,
  ...WS_SERVERS,
  ...UWS_SERVERS,
  SERVERS.raw,
];
/** The comparisons of ours lent: against uWS (which lends its messages too), and against ours. */
const LENT_AGAINST = [...UWS_SERVERS.map((s) => s.name), 'ours'];
/** The metric of ours lent's entries in results.json, apart from the defaults' `messages/s`. */
const LENT_METRIC = 'messages/s, lendMessages';
if (UWS_NOTE) console.warn(`${UWS_NOTE} Leaving it out.`);

/** [size, connections, in flight]; the first ones are the targets of issue 6. */
const TARGET_POINTS = [
  [16, 100, 16],
  [1024, 100, 16],
  [64 * 1024, 100, 1],
  [1024 * 1024, 1, 16],
];
const MATRIX = [];
for (const size of [16, 1024, 64 * 1024, 1024 * 1024]) {
  for (const connections of [1, 100, 1000]) {
    for (const inflight of [1, 16]) {
      // Skip points that would keep more than 64 MiB in flight.
      if (size * connections * inflight > 64 * 1024 * 1024) continue;
      if (TARGET_POINTS.some(([s, c, i]) => s === size && c === connections && i === inflight))
        continue;
      MATRIX.push([size, connections, inflight]);
    }
  }
}
// The default run measures the targets plus a sample across the matrix; BENCH_FULL=1 takes it all.
const POINTS = [...TARGET_POINTS, ...(FULL ? MATRIX : MATRIX.filter((_, i) => i % 3 === 0))];

const NATIVE = nativeGenerator('echo');
const GENERATOR = NATIVE ?? 'gen/echo.mjs';
const GENERATOR_NOTE = NATIVE
  ? 'gen/echo.c, compiled with the system C compiler: one epoll loop, raw sockets, one pre-masked frame written again with writev'
  : 'gen/echo.mjs: raw node:net sockets, pre-encoded frames, pipelined writes (no C compiler found for gen/echo.c)';

/**
 * One generator run against `server`: the generator's result plus the server's CPU time per
 * echoed message and its share of its core (µs/msg × msg/s, the rate of the measured window).
 */
async function runLoad(server, [size, connections, inflight]) {
  const measured = await withWindowMicros(server.child.pid, () =>
    runGenerator(GENERATOR, [server.port, connections, inflight, size, SECONDS]),
  );
  return { ...measured, serverCpu: (measured.serverMicros * measured.rate) / 1e6 };
}

/** One run at `point` against a new process of `implementation`, stopped after it. */
async function runFresh(implementation, point) {
  const server = await startServer(implementation);
  try {
    return await runLoad(server, point);
  } finally {
    await server.stop();
  }
}

const began = Date.now();
const results = [];
for (const point of POINTS) {
  const samples = await alternatedRuns(IMPLEMENTATIONS, RUNS, (implementation) =>
    runFresh(implementation, point),
  );
  const by = {};
  for (const [name, runs] of samples) {
    by[name] = mediansOf(runs, [
      'rate',
      'mibps',
      'serverMicros',
      'serverCpu',
      'serverFaults',
      'cpu',
    ]);
  }
  results.push({ point, by });
  const [size, connections, inflight] = point;
  const line = IMPLEMENTATIONS.map((s) => `${s.name} ${formatRate(by[s.name].rate)}msg/s`).join(
    ', ',
  );
  console.log(`${formatSize(size)} × ${connections} conn × ${inflight} in flight: ${line}`);
}

const names = IMPLEMENTATIONS.map((s) => s.name);

/**
 * ours/`n` at one point, in bold; where the generator passed SATURATED of its core in the runs
 * against ours or against `n`, the row measures the generator (issue 21), so the cell gives the
 * bound that is left instead: "≥" where ours was capped, "≤" where `n` was, nothing where both.
 */
function ratioCell(by, n, mine = 'ours') {
  const ratio = `${(by[mine].rate / by[n].rate).toFixed(2)}×`;
  const oursCapped = by[mine].cpu >= SATURATED;
  const theirsCapped = by[n].cpu >= SATURATED;
  if (oursCapped && theirsCapped) return `generator-bound (${ratio} measured)`;
  if (oursCapped) return `≥ ${ratio} (generator-bound)`;
  if (theirsCapped) return `≤ ${ratio} (generator-bound)`;
  return `**${ratio}**`;
}
const ratioColumns = [...WS_SERVERS, ...UWS_SERVERS].map((s) => s.name);
const lentColumns = LENT_AGAINST.map((n) => `ours lent/${n}`);
const percent = (share) => `${(share * 100).toFixed(0)}%`;
const header =
  `| payload | conns × in flight | ${names.map((n) => `${n} msg/s (MiB/s, spread)`).join(' | ')} ` +
  `| ${names.map((n) => `${n} µs CPU/msg`).join(' | ')} | server CPU (${names.join(' / ')}) ` +
  `| server page faults per 1,000 msg (${names.join(' / ')}) ` +
  `| loadgen CPU (${names.join(' / ')}) | ${ratioColumns.map((n) => `ours/${n}`).join(' | ')} ` +
  `| ${lentColumns.join(' | ')} |`;
const align = `|---|---|${names.map(() => '--:').join('|')}|${names.map(() => '--:').join('|')}|--:|--:|--:|${[...ratioColumns, ...lentColumns].map(() => '--:').join('|')}|`;
const rows = results.map(({ point: [size, connections, inflight], by }) => {
  const cells = names.map(
    (n) =>
      `${formatRate(by[n].rate)} (${by[n].mibps.toFixed(1)}, ${formatSpread(by[n].rateSpread)})`,
  );
  const cpu = names.map((n) => by[n].serverMicros.toFixed(2));
  const server = names.map((n) => percent(by[n].serverCpu)).join(' / ');
  const faults = names.map((n) => Math.round(by[n].serverFaults * 1000)).join(' / ');
  const loadgen = names.map((n) => percent(by[n].cpu)).join(' / ');
  const ratios = [
    ...ratioColumns.map((n) => ratioCell(by, n)),
    ...LENT_AGAINST.map((n) => ratioCell(by, n, 'ours lent')),
  ];
  return `| ${formatSize(size)} | ${connections} × ${inflight} | ${cells.join(' | ')} | ${cpu.join(' | ')} | ${server} | ${faults} | ${loadgen} | ${ratios.join(' | ')} |`;
});

const section = [
  ...sectionHead('Echo', 'echo.bench.mjs', (Date.now() - began) / 1000, ratioColumns),
  ...(UWS_NOTE ? [`- ${UWS_NOTE}`] : []),
  `- Servers pinned to core 0, the load generator (${GENERATOR_NOTE}) to core 1${hasTaskset ? '' : ' (taskset unavailable: not pinned)'}. ` +
    `Binary messages echoed as sent; each connection keeps its "in flight" messages outstanding. ` +
    `${RUNS} alternated runs of ${SECONDS} s per server and point (after a 0.5 s warm-up), each against a new process of its server; medians, ` +
    "spread ±half the interquartile range. µs CPU/msg is the server process's CPU time per echoed message in the generator's measured window; " +
    "server CPU its share of its core (µs/msg × msg/s); page faults are the server's minor faults in the same window " +
    '(a 64 KiB message is 16 pages: a process whose allocator returns memory to the kernel and faults it in again, ' +
    'RESULTS.md\'s "A server that has run for a while", shows thousands per 1,000 messages there). ' +
    "Loadgen CPU is the load generator's share of its " +
    'core in the runs against each server: near 100% means it, not that server, was the limit (the ' +
    'Summary names the limit of every row). Where it passed ' +
    `${percent(SATURATED)} of its core against ours or the reference, the ratio cell gives the bound ` +
    'that is left ("≥": ours was capped; "≤": the reference was) instead of a ratio, or none.',
  '- "ours lent" is ours with `lendMessages: true` (each message lent to the listener as it lies in ' +
    'the read buffer, not copied; uWS hands its messages to JavaScript the same way). It lends ' +
    'messages of 64 B or more that arrive whole in one 128 KiB read, and of 16 KiB or more that ' +
    'span reads (gathered into buffers it recycles); at 16 B it does what ours does.',
  `- First ${TARGET_POINTS.length} rows: the points issue 6 sets targets for.${FULL ? '' : ' Other rows: a sample of the matrix (`BENCH_FULL=1` for all).'}`,
  '',
  header,
  align,
  ...rows,
  '',
];
publish(
  'Echo',
  section,
  results.flatMap(({ point: [size, connections, inflight], by }) => [
    ...names
      .filter((n) => n !== 'ours' && n !== 'ours lent')
      .map((n) => ({
        point: echoPoint(size, connections, inflight),
        metric: 'messages/s',
        unit: 'msg/s',
        better: 'higher',
        ours: by.ours.rate,
        ws: by[n].rate,
        against: n,
        cpu: Object.fromEntries(
          ['ours', n].map((m) => [m, { server: by[m].serverCpu, generator: by[m].cpu }]),
        ),
        faults: { ours: by.ours.serverFaults, [n]: by[n].serverFaults },
        messagePages: Math.ceil(size / 4096),
      })),
    ...LENT_AGAINST.map((n) => {
      // "ours" in an entry is the side measured (here ours lent); the defaults go by another name.
      const against = n === 'ours' ? 'ours on its defaults' : n;
      return {
        point: echoPoint(size, connections, inflight),
        metric: LENT_METRIC,
        unit: 'msg/s',
        better: 'higher',
        ours: by['ours lent'].rate,
        ws: by[n].rate,
        against,
        cpu: {
          ours: { server: by['ours lent'].serverCpu, generator: by['ours lent'].cpu },
          [against]: { server: by[n].serverCpu, generator: by[n].cpu },
        },
        faults: { ours: by['ours lent'].serverFaults, [against]: by[n].serverFaults },
        messagePages: Math.ceil(size / 4096),
      };
    }),
  ]),
  {
    seconds: Math.round((Date.now() - began) / 1000),
    runs: RUNS,
    roles: { measured: 'server', load: 'generator' },
    generator: NATIVE ? 'gen/echo.c (C)' : 'gen/echo.mjs (Node)',
  },
);
