// Every core: the 16 B echo of echo.bench.mjs against apps/cluster (the
// documented node:cluster pattern: one @proj/server per worker on a shared
// port, a ClusterAdapter each, the relay in the primary) with one worker and
// with two, and against ours in one plain process (no cluster), through the
// same load generator in the same run.
//
// On a 2-core machine this cannot show clean scaling, and the table says so:
// the generator (gen/echo.c, pinned to core 1) needs a core of its own, so
// the one-worker cluster runs on core 0 (as every server in echo.bench.mjs)
// while the two-worker cluster may use cores 0 and 1, its second worker
// competing with the generator for core 1. The per-process CPU columns show
// where the time went. Runs alternate (A B C, then C B A, ...); each cell is
// the median of the runs, with the spread as ±half the interquartile range.
//
//   pnpm bench:cluster          # from bench/, packages already built
//   BENCH_RUNS=7 BENCH_SECONDS=2 node cluster.bench.mjs
import {
  SERVERS,
  alternatedRuns,
  benchFile,
  cpuSeconds,
  hasTaskset,
  nativeGenerator,
  runGenerator,
  runsOr,
  secondsOr,
  spawnControlled,
  startServer,
} from './lib/harness.mjs';
import {
  echoPoint,
  formatRate,
  formatSize,
  formatSpread,
  mediansOf,
  publish,
  sectionHead,
} from './lib/results.mjs';

const RUNS = runsOr(5);
const SECONDS = secondsOr(1);

/** [size, connections, in flight]: the 16 B target point of issue 6, and many idle-ish connections. */
const POINTS = [
  [16, 100, 16],
  [16, 1000, 1],
];

const CLUSTER_APP = benchFile('../apps/cluster/server.mjs');
const ONE = '1 worker';
const TWO = '2 workers';
const PLAIN = 'no cluster';

const NATIVE = nativeGenerator('echo');
const GENERATOR = NATIVE ?? 'gen/echo.mjs';

/**
 * Starts apps/cluster with `workers` workers pinned to `cores`; resolves once every worker
 * listens, with the pids of the primary and the workers (for their CPU time).
 */
async function startCluster(name, workers, cores) {
  const primary = spawnControlled(cores, CLUSTER_APP, [], {
    env: { HOST: '127.0.0.1', PORT: '0', WORKERS: String(workers) },
  });
  const pids = [primary.child.pid];
  for (let i = 0; i < workers; i++) {
    // "worker <id> (pid <pid>) listening"
    pids.push(Number(/\(pid (\d+)\)/.exec(await primary.next('worker ', 30_000))[1]));
  }
  const listening = await primary.next('cluster listening on ', 30_000);
  const port = Number(/:(\d+) with/.exec(listening)[1]);
  return { name, workers, cores, port, pids, stop: primary.stop };
}

/** Ours in one process, as echo.bench.mjs runs it (echo/servers.mjs "ours", core 0). */
async function startPlain() {
  const server = await startServer(SERVERS.ours);
  return {
    name: PLAIN,
    workers: 0,
    cores: '0',
    port: server.port,
    pids: [server.child.pid],
    stop: server.stop,
  };
}

/**
 * One generator run against `server`: its result plus, per process of the server (the primary,
 * then each worker), the share of a core it used over the run, and the server's total CPU time
 * per echoed message.
 */
async function runLoad(server, [size, connections, inflight]) {
  const before = server.pids.map(cpuSeconds);
  const started = process.hrtime.bigint();
  const result = await runGenerator(GENERATOR, [server.port, connections, inflight, size, SECONDS]);
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const used = server.pids.map((pid, i) => cpuSeconds(pid) - before[i]);
  const total = used.reduce((sum, seconds) => sum + seconds, 0);
  const shares = used.map((seconds) => seconds / elapsed);
  return {
    ...result,
    serverMicros: (total / result.total) * 1e6,
    // The busiest process: the one that may have run out of core.
    serverCpu: Math.max(...shares),
    primaryCpu: server.workers === 0 ? 0 : shares[0],
    workerCpu: server.workers === 0 ? shares[0] : shares.slice(1).reduce((a, b) => a + b, 0),
  };
}

const began = Date.now();
const servers = [];
const results = [];
try {
  servers.push(await startPlain());
  servers.push(await startCluster(ONE, 1, '0'));
  servers.push(await startCluster(TWO, 2, hasTaskset ? '0,1' : '0'));
  for (const point of POINTS) {
    const samples = await alternatedRuns(servers, RUNS, (server) => runLoad(server, point));
    const by = {};
    for (const [name, runs] of samples) {
      by[name] = mediansOf(runs, [
        'rate',
        'mibps',
        'serverMicros',
        'serverCpu',
        'primaryCpu',
        'workerCpu',
        'cpu',
      ]);
    }
    results.push({ point, by });
    const [size, connections, inflight] = point;
    const line = servers.map((s) => `${s.name} ${formatRate(by[s.name].rate)}msg/s`).join(', ');
    console.log(`${formatSize(size)} × ${connections} conn × ${inflight} in flight: ${line}`);
  }
} finally {
  await Promise.all(servers.map((server) => server.stop()));
}

const names = servers.map((s) => s.name);
const percent = (share) => `${(share * 100).toFixed(0)}%`;
const header =
  `| payload | conns × in flight | ${names.map((n) => `${n} msg/s (spread)`).join(' | ')} ` +
  `| ${names.map((n) => `${n} µs CPU/msg`).join(' | ')} | workers' CPU (${names.join(' / ')}) ` +
  `| primary CPU (${ONE} / ${TWO}) | loadgen CPU (${names.join(' / ')}) | ${TWO}/${ONE} | ${ONE}/${PLAIN} |`;
const align = `|---|---|${names.map(() => '--:').join('|')}|${names.map(() => '--:').join('|')}|--:|--:|--:|--:|--:|`;
const rows = results.map(({ point: [size, connections, inflight], by }) => {
  const cells = names.map((n) => `${formatRate(by[n].rate)} (${formatSpread(by[n].rateSpread)})`);
  const cpu = names.map((n) => by[n].serverMicros.toFixed(2));
  const workers = names.map((n) => percent(by[n].workerCpu)).join(' / ');
  const primary = [ONE, TWO].map((n) => percent(by[n].primaryCpu)).join(' / ');
  const loadgen = names.map((n) => percent(by[n].cpu)).join(' / ');
  const scaling = `**${(by[TWO].rate / by[ONE].rate).toFixed(2)}×**`;
  const overhead = `${(by[ONE].rate / by[PLAIN].rate).toFixed(2)}×`;
  return `| ${formatSize(size)} | ${connections} × ${inflight} | ${cells.join(' | ')} | ${cpu.join(' | ')} | ${workers} | ${primary} | ${loadgen} | ${scaling} | ${overhead} |`;
});

const section = [
  ...sectionHead('Cluster', 'cluster.bench.mjs', (Date.now() - began) / 1000, [], {
    command: '`pnpm bench:cluster`',
  }),
  `- [apps/cluster](../apps/cluster) (node:cluster, one @proj/server per worker on one port, a ` +
    '`ClusterAdapter` each, the relay in the primary) with one worker and with two, and ours in one ' +
    'plain process (echo/servers.mjs, as in Echo); binary messages echoed as sent, through ' +
    `${NATIVE ? 'gen/echo.c' : 'gen/echo.mjs (no C compiler found for gen/echo.c)'}. ` +
    `${RUNS} alternated runs of ${SECONDS} s per server and point (after a 0.5 s warm-up); medians, ` +
    'spread ±half the interquartile range. µs CPU/msg is the CPU time of all the processes of a ' +
    "server (primary and workers) per echoed message; workers' CPU their summed share of one core, " +
    "primary CPU the primary's (it accepts connections and relays topics; echoes never cross it), " +
    "each over the generator's whole run (connecting and warm-up included, so a little below the " +
    'share within the measured window).',
  hasTaskset
    ? `- **Pinning, and why this machine cannot show clean scaling.** The load generator is pinned to ` +
      `core 1, ${PLAIN} and ${ONE} to core 0 (as in Echo), ${TWO} to cores 0 and 1: its second ` +
      'worker shares core 1 with the generator. With only two cores the generator and two workers ' +
      `compete for them, so ${TWO}/${ONE} is a floor of what a second core brings; loadgen CPU ` +
      'near 100% means the generator, not the server, set the pace. On a machine with a core per ' +
      'worker plus one for the load, expect close to linear scaling for echo (workers share nothing ' +
      'on that path).'
    : '- taskset unavailable: nothing is pinned, and the generator competes with the workers for ' +
      'the cores.',
  '',
  header,
  align,
  ...rows,
  '',
];

/** CPU shares as results.json records them: the busiest server process, and the generator. */
const cpuOf = (by, n) => ({ server: by[n].serverCpu, generator: by[n].cpu });
publish(
  'Cluster',
  section,
  results.flatMap(({ point: [size, connections, inflight], by }) => [
    {
      point: echoPoint(size, connections, inflight),
      metric: 'messages/s',
      unit: 'msg/s',
      better: 'higher',
      ours: by[TWO].rate,
      ws: by[ONE].rate,
      against: ONE,
      cpu: { ours: cpuOf(by, TWO), [ONE]: cpuOf(by, ONE) },
    },
    {
      point: echoPoint(size, connections, inflight),
      metric: 'messages/s, one worker',
      unit: 'msg/s',
      better: 'higher',
      ours: by[ONE].rate,
      ws: by[PLAIN].rate,
      against: PLAIN,
      cpu: { ours: cpuOf(by, ONE), [PLAIN]: cpuOf(by, PLAIN) },
    },
  ]),
  {
    seconds: Math.round((Date.now() - began) / 1000),
    runs: RUNS,
    roles: { measured: 'server', load: 'generator' },
    generator: NATIVE ? 'gen/echo.c (C)' : 'gen/echo.mjs (Node)',
  },
);
