// Round-trip latency: one connection, one message in flight, 16 B and 1 KiB
// binary messages, against @proj/server, ws (plain) and ws with its native
// addons, uWebSockets.js (issue 21; left out with a note where it does not
// load) and the bare node:net echo, the echo servers of echo/servers.mjs.
//
// Each server runs in its own process pinned to core 0; gen/rtt.mjs (a raw
// socket that stamps every send with process.hrtime and records the time
// until the echo is back) runs pinned to core 1. Runs alternate between the
// servers (A B C, C B A, ...); each cell is the median over the runs of that
// run's percentile.
//
//   node latency.bench.mjs                       # packages already built
//   BENCH_RUNS=9 BENCH_SECONDS=2 node latency.bench.mjs
import {
  FULL,
  SERVERS,
  WS_SERVERS,
  alternatedRuns,
  pinningNote,
  runGenerator,
  runsOr,
  secondsOr,
  startServers,
  stopServers,
  withServerCpu,
  uwsNote,
  uwsServers,
} from './lib/harness.mjs';
import { formatSize, formatSpread, median, spread, publish, sectionHead } from './lib/results.mjs';

const UWS_SERVERS = uwsServers();
const UWS_NOTE = uwsNote();

const RUNS = runsOr(5);
const SECONDS = secondsOr(FULL ? 2 : 0.6);
const WARMUP_MS = 200;
const SIZES = [16, 1024];
const IMPLEMENTATIONS = [SERVERS.ours, ...WS_SERVERS, ...UWS_SERVERS, SERVERS.raw];
if (UWS_NOTE) console.warn(`${UWS_NOTE} Leaving it out.`);

const began = Date.now();
const servers = await startServers(IMPLEMENTATIONS);

const results = [];
for (const size of SIZES) {
  const samples = await alternatedRuns(servers, RUNS, (server) =>
    withServerCpu(server.child.pid, SECONDS + WARMUP_MS / 1000, () =>
      runGenerator('gen/rtt.mjs', [server.port, size, SECONDS, WARMUP_MS]),
    ),
  );
  const by = {};
  for (const [name, runs] of samples) {
    by[name] = {
      p50: median(runs.map((r) => r.p50)),
      p99: median(runs.map((r) => r.p99)),
      mean: median(runs.map((r) => r.mean)),
      spread: spread(runs.map((r) => r.p50)),
      count: median(runs.map((r) => r.count)),
      cpu: median(runs.map((r) => r.cpu)),
      serverCpu: median(runs.map((r) => r.serverCpu)),
    };
  }
  results.push({ size, by });
  console.log(
    `latency ${formatSize(size)}: ` +
      servers
        .map(
          (s) =>
            `${s.name} p50 ${by[s.name].p50.toFixed(1)} µs p99 ${by[s.name].p99.toFixed(1)} µs`,
        )
        .join(', '),
  );
}
await stopServers(servers);

const names = servers.map((s) => s.name);
const against = names.filter((n) => n !== 'ours');
const us = (value) => value.toFixed(1);
const rows = results.map(({ size, by }) => {
  const cells = names.map(
    (n) => `${us(by[n].p50)} / ${us(by[n].p99)} (${formatSpread(by[n].spread)})`,
  );
  const ratios = against.map(
    (n) =>
      `**${(by[n].p50 / by.ours.p50).toFixed(2)}×** / ${(by[n].p99 / by.ours.p99).toFixed(2)}×`,
  );
  const percent = (share) => `${(share * 100).toFixed(0)}%`;
  const server = names.map((n) => percent(by[n].serverCpu)).join(' / ');
  const loadgen = names.map((n) => percent(by[n].cpu)).join(' / ');
  const counts = Math.min(...names.map((n) => by[n].count));
  return `| ${formatSize(size)} | ${cells.join(' | ')} | ${ratios.join(' | ')} | ${server} | ${loadgen} | ${counts} |`;
});

const seconds = (Date.now() - began) / 1000;
const section = [
  ...sectionHead('Latency', 'latency.bench.mjs', seconds, against),
  ...(UWS_NOTE ? [`- ${UWS_NOTE}`] : []),
  `- ${pinningNote}. One connection, one binary message in flight: the generator (gen/rtt.mjs, a raw ` +
    'socket) stamps each send with `process.hrtime` and records the time until the whole echo is back, ' +
    `then sends the next. ${RUNS} alternated runs of ${SECONDS} s per server and size (after a ` +
    `${WARMUP_MS} ms warm-up); each cell is the median over the runs of that run's p50 / p99 in µs, ` +
    'spread ±half the interquartile range of the p50s. Ratios are their time / our time (above 1: ours is faster). ' +
    "Server CPU is the server process's share of its core over the run (warm-up included), loadgen CPU " +
    "the generator's, in the runs against each server.",
  '- Loopback round trips on a 2-core machine are dominated by the kernel and by waking the two ' +
    'processes; the library share is a few µs of it, so expect ratios near 1 here.',
  '',
  `| payload | ${names.map((n) => `${n} p50 / p99 µs (spread)`).join(' | ')} | ${against.map((n) => `${n}/ours p50 / p99`).join(' | ')} | server CPU (${names.join(' / ')}) | loadgen CPU (${names.join(' / ')}) | samples/run |`,
  `|---|${names.map(() => '--:').join('|')}|${against.map(() => '--:').join('|')}|--:|--:|--:|`,
  ...rows,
  '',
];
publish(
  'Latency',
  section,
  results.flatMap(({ size, by }) =>
    against.flatMap((n) =>
      ['p50', 'p99'].map((metric) => ({
        point: `${formatSize(size)}, 1 conn × 1 in flight`,
        metric: `round trip ${metric}`,
        unit: 'µs',
        better: 'lower',
        ours: by.ours[metric],
        ws: by[n][metric],
        against: n,
        cpu: Object.fromEntries(
          ['ours', n].map((m) => [m, { server: by[m].serverCpu, generator: by[m].cpu }]),
        ),
      })),
    ),
  ),
  {
    seconds: Math.round(seconds),
    runs: RUNS,
    roles: { measured: 'server', load: 'generator' },
    generator: 'gen/rtt.mjs (Node)',
  },
);
