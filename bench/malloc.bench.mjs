// glibc's trim threshold and a long-running server (issue 21).
//
// Node allocates every socket read with malloc: a 64 KiB read buffer, then a
// backing store of the bytes read (zero-filled, then copied into), which V8
// frees only when a scavenge finds its Buffer dead. Once a server's young
// generation has grown (it does within seconds of steady traffic), thousands
// of reads' stores pile up between two scavenges and are freed together; glibc
// then gives the top of its heap back to the kernel (brk down, past
// M_TRIM_THRESHOLD_, 128 KiB by default), and the next reads fault fresh pages
// in again, one page fault per 4 KiB read. A process that has run for a while
// can spend a third of its CPU there; a new one often does not, which made
// the same build measure 480 k and 200 k msg/s in two passes of one process.
//
// Ours no longer reads that way over plain TCP (the transport's lent-reads.ts:
// one read buffer for every socket); ws and a bare net.Socket still do.
//
// This benchmark measures that state like for like: every server of
// echo/servers.mjs twice, once on glibc's defaults and once with
// MALLOC_TRIM_THRESHOLD_ raised, all started together and aged alike (passes
// of 16 B and 1 KiB echo) before the measured 1 KiB passes, which alternate
// between the servers. It reports each one's rate, CPU and page faults per
// message, and resident memory.
//
//   node malloc.bench.mjs                      # packages already built
//   BENCH_RUNS=7 BENCH_SECONDS=2 node malloc.bench.mjs
import { readFileSync } from 'node:fs';
import {
  SERVERS,
  alternatedRuns,
  cpuSeconds,
  hasTaskset,
  minorFaults,
  nativeGenerator,
  runGenerator,
  runsOr,
  secondsOr,
  startServers,
  stopServers,
  uwsNote,
  uwsServers,
} from './lib/harness.mjs';
import { formatRate, formatSpread, median, publish, sectionHead, spread } from './lib/results.mjs';

const UWS_NOTE = uwsNote();
const RUNS = runsOr(5);
const SECONDS = secondsOr(1);
/** The raised threshold: 256 MiB, far above what one scavenge's worth of reads frees. */
const THRESHOLD = 256 * 1024 * 1024;
const TUNED_ENV = { MALLOC_TRIM_THRESHOLD_: String(THRESHOLD) };
const POINT = { size: 1024, connections: 100, inflight: 16 };
/** Passes each server gets before measuring: what a server that has run for a while has seen. */
const AGEING = [...Array.from({ length: 5 }, () => 16), ...Array.from({ length: 2 }, () => 1024)];

const GENERATOR = nativeGenerator('echo');
if (!GENERATOR) {
  console.warn('malloc.bench.mjs needs gen/echo.c (no C compiler found): skipped.');
  process.exit(0);
}
if (process.env.MALLOC_TRIM_THRESHOLD_ || process.env.GLIBC_TUNABLES) {
  // Both of its columns would be tuned: skipped, so that a tuned `pnpm bench` still runs the rest.
  console.warn(
    'malloc.bench.mjs compares glibc defaults with a raised threshold, so it is skipped while ' +
      'MALLOC_TRIM_THRESHOLD_ / GLIBC_TUNABLES is set for the whole run.',
  );
  process.exit(0);
}
if (UWS_NOTE) console.warn(`${UWS_NOTE} Leaving it out.`);

const BASES = [SERVERS.ours, SERVERS.ws, SERVERS.raw, ...uwsServers()];
const IMPLEMENTATIONS = BASES.flatMap((base) => [
  { ...base, name: base.name, base: base.name, tuned: false },
  {
    ...base,
    name: `${base.name} (tuned)`,
    base: base.name,
    tuned: true,
    env: { ...base.env, ...TUNED_ENV },
  },
]);

const residentKiB = (pid) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

const load = (server, size) =>
  runGenerator(GENERATOR, [server.port, POINT.connections, POINT.inflight, size, SECONDS]);

const began = Date.now();
const servers = await startServers(IMPLEMENTATIONS);
let samples;
const resident = {};
try {
  for (const size of AGEING) {
    for (const server of servers) await load(server, size);
  }
  samples = await alternatedRuns(servers, RUNS, async (server) => {
    const pid = server.child.pid;
    const [cpuBefore, faultsBefore] = [cpuSeconds(pid), minorFaults(pid)];
    const result = await load(server, POINT.size);
    return {
      rate: result.rate,
      generatorCpu: result.cpu,
      micros: ((cpuSeconds(pid) - cpuBefore) / result.total) * 1e6,
      faults: ((minorFaults(pid) - faultsBefore) / result.total) * 1000,
    };
  });
  for (const server of servers) resident[server.name] = residentKiB(server.child.pid);
} finally {
  await stopServers(servers);
}

const by = {};
for (const [name, runs] of samples) {
  const of = (key) => median(runs.map((run) => run[key]));
  by[name] = {
    rate: of('rate'),
    spread: spread(runs.map((run) => run.rate)),
    micros: of('micros'),
    faults: of('faults'),
    generatorCpu: of('generatorCpu'),
    resident: resident[name],
  };
}

const rows = BASES.map(({ name }) => {
  const plain = by[name];
  const tuned = by[`${name} (tuned)`];
  return (
    `| ${name} | ${formatRate(plain.rate)} (${formatSpread(plain.spread)}) | ` +
    `${formatRate(tuned.rate)} (${formatSpread(tuned.spread)}) | **${(tuned.rate / plain.rate).toFixed(2)}×** | ` +
    `${plain.micros.toFixed(2)} / ${tuned.micros.toFixed(2)} | ` +
    `${plain.faults.toFixed(1)} / ${tuned.faults.toFixed(1)} | ` +
    `${(plain.resident / 1024).toFixed(0)} / ${(tuned.resident / 1024).toFixed(0)} | ` +
    `${(plain.generatorCpu * 100).toFixed(0)}% / ${(tuned.generatorCpu * 100).toFixed(0)}% |`
  );
});
const ratio = (a, b) => `${(by[a].rate / by[b].rate).toFixed(2)}×`;
const others = BASES.filter((base) => base.name !== 'ours').map((base) => base.name);

const section = [
  ...sectionHead("glibc's trim threshold", 'malloc.bench.mjs', (Date.now() - began) / 1000, [
    'ws',
    ...(others.includes('uWS') ? ['uWS'] : []),
  ]),
  ...(UWS_NOTE ? [`- ${UWS_NOTE}`] : []),
  `- Every server twice, in its own process: on glibc's defaults, and with \`MALLOC_TRIM_THRESHOLD_=${THRESHOLD}\` ("tuned"). ` +
    `Each was first aged alike (${AGEING.filter((s) => s === 16).length} passes of 16 B and ${AGEING.filter((s) => s === 1024).length} of 1 KiB echo, ` +
    `${POINT.connections} connections × ${POINT.inflight} in flight, new connections each pass), then ${RUNS} alternated measured runs of ${SECONDS} s ` +
    `at 1 KiB, ${POINT.connections} × ${POINT.inflight}; medians, spread ±half the interquartile range. ` +
    `${hasTaskset ? 'Servers pinned to core 0, gen/echo.c to core 1.' : 'Not pinned (taskset unavailable).'}`,
  '- Page faults: minor faults of the server process per 1,000 echoed messages. RSS: the resident memory of each server process after its runs. The `ws` server is plain ws (no native addons).',
  '',
  '| server | default msg/s | tuned msg/s | tuned/default | µs CPU/msg (default / tuned) | page faults per 1k msg (default / tuned) | RSS MiB (default / tuned) | loadgen CPU (default / tuned) |',
  '|---|--:|--:|--:|--:|--:|--:|--:|',
  ...rows,
  '',
  `Same run, both tuned: ours/${others.map((n) => `${n} ${ratio('ours (tuned)', `${n} (tuned)`)}`).join(', ours/')}; ` +
    `both on the defaults: ours/${others.map((n) => `${n} ${ratio('ours', n)}`).join(', ours/')}.`,
  '',
  "Why: Node's reads are malloc'd per read and freed in bulk by V8's scavenges; with the default " +
    'threshold glibc returns that memory to the kernel after each bulk free and faults it back in on the ' +
    'next reads. Raising the threshold keeps it mapped. Servers whose reads Node allocates (ws, raw net) ' +
    'are exposed alike; uWS reads into its own buffer, and so does ours over plain TCP (one buffer for ' +
    'every socket, since 2026-12-07), which leaves it the mallocs of its messages. Where the CPU per message is ' +
    "spent elsewhere (plain ws's JavaScript), the faults are a small share and the setting changes little. " +
    'The server README\'s "Throughput on Linux (glibc)" section gives the setting and its cost.',
  '',
];

publish(
  "glibc's trim threshold",
  section,
  BASES.filter((base) => base.name !== 'ours').flatMap((base) => [
    {
      point: '1 KiB, 100 conns × 16 in flight, aged process, glibc defaults',
      metric: 'messages/s',
      unit: 'msg/s',
      better: 'higher',
      ours: by.ours.rate,
      ws: by[base.name].rate,
      against: base.name,
    },
    {
      point: `1 KiB, 100 conns × 16 in flight, aged process, MALLOC_TRIM_THRESHOLD_=${THRESHOLD}`,
      metric: 'messages/s',
      unit: 'msg/s',
      better: 'higher',
      ours: by['ours (tuned)'].rate,
      ws: by[`${base.name} (tuned)`].rate,
      against: base.name,
    },
  ]),
  { seconds: Math.round((Date.now() - began) / 1000), runs: RUNS },
);
