// Echo benchmark: @proj/server against ws (plain, and with its native addons
// when they are installed) and a bare node:net server that parses frames
// minimally (the ceiling for any Node implementation), through the same load
// generator in the same run.
//
// Every server runs in its own process pinned to core 0; the load generator
// runs pinned to core 1: gen/echo.c (one epoll loop, raw sockets, one frame
// masked once and written with writev), compiled with the system's C compiler,
// or echo/loadgen.mjs (the same in Node) where there is none. The Node
// generator needs most of its core for 64 KiB and 1 MiB messages and would cap
// every server there alike. Runs alternate between the servers (A B C D, then
// D C B A, ...), and each table cell is the median of the runs, with the
// spread as ±half the interquartile range.
//
//   pnpm bench                 # everything (builds first)
//   node echo.bench.mjs        # just this, packages already built
//   BENCH_RUNS=7 BENCH_SECONDS=2 node echo.bench.mjs
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  FULL,
  SERVERS,
  addons,
  cpuSeconds,
  hasTaskset,
  nativeGenerator,
  pinned,
  runsOr,
} from './lib/harness.mjs';
import {
  echoPoint,
  formatRate,
  formatSize,
  formatSpread,
  machineLines,
  median,
  now,
  spread,
  writeEntries,
  writeSection,
} from './lib/results.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const RUNS = runsOr(5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);

const IMPLEMENTATIONS = [
  SERVERS.ours,
  SERVERS.ws,
  ...(addons ? [SERVERS.wsAddons] : []),
  SERVERS.raw,
];

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

function startServer(implementation) {
  const [command, args] = pinned('0', process.execPath, [
    here('./echo/servers.mjs'),
    implementation.kind,
    '0',
  ]);
  const child = spawn(command, args, {
    env: { ...process.env, ...implementation.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /READY (\d+)/.exec(output);
      if (match) resolve({ ...implementation, child, port: Number(match[1]) });
    });
    child.once('exit', (code) =>
      reject(new Error(`${implementation.name} server exited with ${code}`)),
    );
  });
}

const NATIVE = nativeGenerator('echo');
const GENERATOR_NOTE = NATIVE
  ? 'gen/echo.c, compiled with the system C compiler: one epoll loop, raw sockets, one pre-masked frame written again with writev'
  : 'echo/loadgen.mjs: raw node:net sockets, pre-encoded frames, pipelined writes (no C compiler found for gen/echo.c)';

function runLoad(server, [size, connections, inflight]) {
  // The server process may be the taskset wrapper's child; /proc of the wrapper pid is the node process
  // itself because taskset execs.
  const before = cpuSeconds(server.child.pid);
  const argv = [server.port, connections, inflight, size, SECONDS].map(String);
  const [command, args] = NATIVE
    ? pinned('1', NATIVE, argv)
    : pinned('1', process.execPath, [here('./echo/loadgen.mjs'), ...argv]);
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1024 * 1024 });
  if (result.status !== 0) throw new Error(`load generator failed: ${result.stderr}`);
  const measured = JSON.parse(result.stdout.trim().split('\n').pop());
  const serverCpu = cpuSeconds(server.child.pid) - before;
  return { ...measured, serverMicrosPerMessage: (serverCpu / measured.total) * 1e6 };
}

const began = Date.now();
const servers = [];
for (const implementation of IMPLEMENTATIONS) servers.push(await startServer(implementation));

const results = [];
for (const point of POINTS) {
  const samples = new Map(servers.map((server) => [server.name, []]));
  for (let run = 0; run < RUNS; run++) {
    const order = run % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) samples.get(server.name).push(runLoad(server, point));
  }
  const row = { point, by: {} };
  for (const [name, runs] of samples) {
    row.by[name] = {
      rate: median(runs.map((r) => r.rate)),
      mibps: median(runs.map((r) => r.mibps)),
      spread: spread(runs.map((r) => r.rate)),
      serverMicros: median(runs.map((r) => r.serverMicrosPerMessage)),
      loadgenCpu: median(runs.map((r) => r.cpu)),
    };
  }
  results.push(row);
  const [size, connections, inflight] = point;
  const line = servers.map((s) => `${s.name} ${formatRate(row.by[s.name].rate)}msg/s`).join(', ');
  console.log(`${formatSize(size)} × ${connections} conn × ${inflight} in flight: ${line}`);
}
for (const server of servers) server.child.kill('SIGTERM');

const names = servers.map((s) => s.name);
const ratioColumns = ['ws', ...(addons ? ['ws+addons'] : [])];
const header =
  `| payload | conns × in flight | ${names.map((n) => `${n} msg/s (MiB/s, spread)`).join(' | ')} ` +
  `| ${names.map((n) => `${n} µs CPU/msg`).join(' | ')} | loadgen CPU | ${ratioColumns.map((n) => `ours/${n}`).join(' | ')} |`;
const align = `|---|---|${names.map(() => '--:').join('|')}|${names.map(() => '--:').join('|')}|--:|${ratioColumns.map(() => '--:').join('|')}|`;
const rows = results.map(({ point: [size, connections, inflight], by }) => {
  const cells = names.map(
    (n) => `${formatRate(by[n].rate)} (${by[n].mibps.toFixed(1)}, ${formatSpread(by[n].spread)})`,
  );
  const cpu = names.map((n) => by[n].serverMicros.toFixed(2));
  const loadgen = `${(Math.max(...names.map((n) => by[n].loadgenCpu)) * 100).toFixed(0)}%`;
  const ratios = ratioColumns.map((n) => `**${(by.ours.rate / by[n].rate).toFixed(2)}×**`);
  return `| ${formatSize(size)} | ${connections} × ${inflight} | ${cells.join(' | ')} | ${cpu.join(' | ')} | ${loadgen} | ${ratios.join(' | ')} |`;
});

writeSection(
  'Echo',
  [
    '## Echo',
    '',
    '<!-- Written by bench/echo.bench.mjs (`pnpm bench`); edits here are overwritten. -->',
    '',
    `Measured ${now()} UTC in ${((Date.now() - began) / 1000).toFixed(0)} s.`,
    '',
    ...machineLines(),
    `- Servers pinned to core 0, the load generator (${GENERATOR_NOTE}) to core 1${hasTaskset ? '' : ' (taskset unavailable: not pinned)'}. ` +
      `Binary messages echoed as sent; each connection keeps its "in flight" messages outstanding. ` +
      `${RUNS} alternated runs of ${SECONDS} s per server and point (after a 0.5 s warm-up); medians, ` +
      "spread ±half the interquartile range. µs CPU/msg is the server process's CPU time per echoed message. " +
      "Loadgen CPU is the load generator's busiest share of its core: near 100% means it, not the server, was the limit.",
    `- First ${TARGET_POINTS.length} rows: the points issue 6 sets targets for.${FULL ? '' : ' Other rows: a sample of the matrix (`BENCH_FULL=1` for all).'}`,
    '',
    header,
    align,
    ...rows,
    '',
  ].join('\n'),
);
writeEntries(
  'Echo',
  results.flatMap(({ point: [size, connections, inflight], by }) =>
    names
      .filter((n) => n !== 'ours')
      .map((n) => ({
        point: echoPoint(size, connections, inflight),
        metric: 'messages/s',
        unit: 'msg/s',
        better: 'higher',
        ours: by.ours.rate,
        ws: by[n].rate,
        against: n,
      })),
  ),
  { seconds: Math.round((Date.now() - began) / 1000), runs: RUNS },
);
console.log('Wrote bench/RESULTS.md (## Echo) and bench/results.json');
