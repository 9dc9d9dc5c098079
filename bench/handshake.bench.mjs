// Handshakes per second: connect, upgrade, one 16-byte message and its echo,
// closing handshake, TCP close, from many concurrent loops, against
// @proj/server and ws, plain and with its native addons when installed (the
// echo servers of echo/servers.mjs).
//
// Each server runs in its own process pinned to core 0; the generator runs
// pinned to core 1 with 200 concurrent loops: gen/handshakes.c (epoll, raw
// sockets, a fixed key, minimal parsing), compiled with the system's C compiler,
// or gen/handshakes.mjs where there is none. The Node generator costs about as
// much per cycle as the servers and caps both near the same rate; the C one
// leaves the server as the limit. Runs alternate between the servers; each cell
// is the median of the runs.
//
//   node handshake.bench.mjs                     # packages already built
//   BENCH_RUNS=9 BENCH_SECONDS=3 node handshake.bench.mjs
import {
  FULL,
  SERVERS,
  WS_SERVERS,
  alternatedRuns,
  nativeGenerator,
  pinningNote,
  runGenerator,
  runsOr,
  secondsOr,
  startServers,
  stopServers,
  withServerMicros,
} from './lib/harness.mjs';
import {
  formatRate,
  formatSpread,
  median,
  mediansOf,
  publish,
  sectionHead,
} from './lib/results.mjs';

const RUNS = runsOr(5);
const SECONDS = secondsOr(FULL ? 3 : 1);
const WARMUP_MS = 300;
// Enough loops that the server, not the round trips of each loop, sets the pace.
const CONCURRENCY = 200;
const NATIVE = nativeGenerator('handshakes');
const GENERATOR = NATIVE ?? 'gen/handshakes.mjs';
const GENERATOR_NOTE = NATIVE
  ? 'gen/handshakes.c, compiled with the system C compiler: one epoll loop, raw sockets, minimal parsing'
  : 'gen/handshakes.mjs, raw node:net sockets and minimal parsing (no C compiler found for gen/handshakes.c)';
const SIZE = 16;
const IMPLEMENTATIONS = [SERVERS.ours, ...WS_SERVERS];

const began = Date.now();
const servers = await startServers(IMPLEMENTATIONS);

const samples = await alternatedRuns(servers, RUNS, async (server) => {
  // The server's CPU over the generator's whole life (warm-up included), per cycle it completed.
  const result = await withServerMicros(server.child.pid, () =>
    runGenerator(GENERATOR, [server.port, CONCURRENCY, SIZE, SECONDS, WARMUP_MS]),
  );
  console.log(
    `handshakes ${server.name}: ${formatRate(result.rate)}/s (loadgen CPU ${(result.cpu * 100).toFixed(0)}%)`,
  );
  return result;
});
await stopServers(servers);

const by = {};
for (const [name, runs] of samples) {
  by[name] = {
    ...mediansOf(runs, ['rate', 'serverMicros', 'cpu']),
    serverShare: median(runs.map((r) => (r.serverMicros * r.rate) / 1e6)),
    failed: runs.reduce((sum, r) => sum + r.failed, 0),
  };
}
const names = servers.map((s) => s.name);
const against = names.filter((n) => n !== 'ours');
const percent = (share) => `${(share * 100).toFixed(0)}%`;
const seconds = (Date.now() - began) / 1000;
const section = [
  ...sectionHead('Handshakes', 'handshake.bench.mjs', seconds, against),
  `- ${pinningNote}. One cycle: TCP connect, upgrade request (fixed key), 101, one ${SIZE}-byte binary ` +
    "message and its echo, our close frame (1000), the server's close frame, TCP close. " +
    `${CONCURRENCY} concurrent loops in one generator process (${GENERATOR_NOTE}). ${RUNS} alternated runs of ${SECONDS} s per server (after a ${WARMUP_MS} ms warm-up); ` +
    "medians, spread ±half the interquartile range. µs CPU/cycle is the server process's CPU time per " +
    'completed cycle, server CPU its share of its core (µs/cycle × cycles/s); loadgen CPU the ' +
    "generator's share of its core. Both sides pay the kernel's loopback TCP work (connect, accept, " +
    'FIN), so the generator costs almost as much per cycle as a server: when its share nears 100% it ' +
    'caps both servers alike and the cycles/s ratio understates the difference, which the µs CPU/cycle ' +
    'ratio (ws/ours, above 1: ours is cheaper) still shows. ' +
    'Failures: cycles that ended before the closing handshake completed, over all runs.',
  '',
  `| ${names.map((n) => `${n} cycles/s (spread)`).join(' | ')} | ${names.map((n) => `${n} µs CPU/cycle`).join(' | ')} ` +
    `| server CPU (${names.join(' / ')}) | loadgen CPU (${names.join(' / ')}) | failures ` +
    `| ${against.map((n) => `ours/${n} cycles/s`).join(' | ')} | ${against.map((n) => `${n}/ours µs CPU/cycle`).join(' | ')} |`,
  `|${names.map(() => '--:').join('|')}|${names.map(() => '--:').join('|')}|--:|--:|--:|${against.map(() => '--:').join('|')}|${against.map(() => '--:').join('|')}|`,
  `| ${names.map((n) => `${formatRate(by[n].rate)} (${formatSpread(by[n].rateSpread)})`).join(' | ')} ` +
    `| ${names.map((n) => by[n].serverMicros.toFixed(1)).join(' | ')} ` +
    `| ${names.map((n) => percent(by[n].serverShare)).join(' / ')} ` +
    `| ${names.map((n) => percent(by[n].cpu)).join(' / ')} ` +
    `| ${names.map((n) => by[n].failed).join(' / ')} ` +
    `| ${against.map((n) => `**${(by.ours.rate / by[n].rate).toFixed(2)}×**`).join(' | ')} ` +
    `| ${against.map((n) => `${(by[n].serverMicros / by.ours.serverMicros).toFixed(2)}×`).join(' | ')} |`,
  '',
];
const point = `${CONCURRENCY} concurrent loops, ${SIZE} B message, clean close`;
publish(
  'Handshakes',
  section,
  against.flatMap((n) => {
    const cpu = Object.fromEntries(
      ['ours', n].map((m) => [m, { server: by[m].serverShare, generator: by[m].cpu }]),
    );
    return [
      { metric: 'handshakes/s', unit: 'cycles/s', better: 'higher', key: 'rate' },
      { metric: 'server CPU per handshake', unit: 'µs', better: 'lower', key: 'serverMicros' },
    ].map(({ key, ...entry }) => ({
      ...entry,
      point,
      ours: by.ours[key],
      ws: by[n][key],
      against: n,
      cpu,
    }));
  }),
  {
    seconds: Math.round(seconds),
    runs: RUNS,
    roles: { measured: 'server', load: 'generator' },
    generator: NATIVE ? 'gen/handshakes.c (C)' : 'gen/handshakes.mjs (Node)',
  },
);
console.log(`handshakes: ours/ws ${(by.ours.rate / by.ws.rate).toFixed(2)}×`);
