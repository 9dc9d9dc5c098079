// WebSockets over HTTP/2 (RFC 8441; issue 18, point 6): 1,000 WebSockets as
// streams of ONE HTTP/2 connection against 1,000 over their own TLS
// connections (HTTP/1.1 Upgrade, the same server and port: allowHTTP1), and,
// for reference, 1,000 over their own plain TCP connections; then echo
// throughput over HTTP/2 against HTTP/1.1.
//
// The server is gen/h2-server.mjs: `http2.createSecureServer({ allowHTTP1:
// true, cert, key })` with @proj/server attached, and a plain
// `WebSocketServer({ port })` in the same process, both echoing. The
// certificate is made with openssl at run time (gen/h2-shared.mjs). The load
// side is raw: a node:http2 session whose extended CONNECT streams carry
// frames masked once (buildConnectRequest's header fields), or raw TLS / TCP
// sockets with the fixed Upgrade of gen/raw.mjs.
//
// - Opening: a fresh server (--expose-gc) and a fresh gen/h2-open.mjs per
//   run. The opener first opens and drops WARMUP WebSockets in the same mode
//   (compiled code, grown tables); then the server reports its memory after
//   full GCs, the opener opens SOCKETS WebSockets (PARALLEL at a time, as
//   gen/clients.mjs does), timed from the first dial to the last open, and the
//   server reports again. Per WebSocket = (after - before) / SOCKETS; the
//   opener measures its own memory the same way.
// - Throughput: one server for every run; gen/h2-echo.mjs per run; each
//   WebSocket keeps "in flight" binary messages outstanding. The server's CPU
//   is read from /proc in the measured window only (handshakes excluded). A
//   fourth mode, "wide", is h2 to a second HTTP/2 server in the same process
//   whose receive windows are raised to 16 MiB: what node's 64 KiB default
//   windows cost. The load's own windows are Chromium's (gen/h2-shared.mjs).
//
// Servers run pinned to core 0, the load to core 1; the modes alternate run
// by run (h2 tls tcp, tcp tls h2, ...); each cell is the median of the runs,
// spread ±half the interquartile range.
//
//   pnpm --dir bench run bench:http2           # just this, packages already built
//   BENCH_RUNS=7 BENCH_SECONDS=2 BENCH_SOCKETS=2000 node http2.bench.mjs
import {
  alternatedRuns,
  benchFile,
  cpuSeconds,
  pinningNote,
  runGenerator,
  runsOr,
  secondsOr,
  sleep,
  spawnControlled,
  waitForClients,
} from './lib/harness.mjs';
import { MEMORY_ROW } from './lib/limit.mjs';
import {
  echoPoint,
  formatRate,
  formatSize,
  formatSpread,
  mediansOf,
  publish,
  sectionHead,
} from './lib/results.mjs';
import { MODES, WIDE, WIDE_WINDOW, makeCertificate } from './gen/h2-shared.mjs';

const RUNS = runsOr(5);
/** The echo rows alternate fewer runs: 12 cells of them fit the ~3 minutes of the whole script. */
const ECHO_RUNS = runsOr(3);
const SECONDS = secondsOr(1);
const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 1000);
/**
 * Opened and dropped before the baseline of each run. 200 compile the handshake paths as well as
 * more did in trials; every TLS one costs a full handshake, and the TLS runs set this script's length.
 */
const WARMUP = Math.min(200, SOCKETS);
const PARALLEL = 256;
/** The modes of gen/h2-shared.mjs, as tables name them; h2 is "ours", the others the references. */
const VARIANTS = Object.entries(MODES).map(([mode, name]) => ({ mode, name }));
const [H2, TLS, TCP] = VARIANTS.map((variant) => variant.name);
/** The echo rows add "h2" to a server with raised receive windows (gen/h2-shared.mjs's WIDE). */
const ECHO_VARIANTS = [
  ...VARIANTS,
  ...Object.entries(WIDE).map(([mode, name]) => ({ mode, name })),
];
const H2W = ECHO_VARIANTS[3].name;
/** [size, connections, in flight] */
const POINTS = [
  [16, 100, 16],
  [1024, 100, 16],
  [16, 1, 16],
  [1024, 1, 16],
];

const certificate = makeCertificate();

/** Starts gen/h2-server.mjs on core 0; resolves once both its servers listen. */
async function startServer({ gc = false } = {}) {
  const server = spawnControlled('0', benchFile('gen/h2-server.mjs'), [certificate.dir], {
    nodeArgs: gc ? ['--expose-gc'] : [],
  });
  const [securePort, plainPort, widePort] = (await server.next('READY', 30_000))
    .split(' ')
    .map(Number);
  return { ...server, name: 'h2-server', securePort, plainPort, widePort };
}

/** Polls `server` until it holds no HTTP/2 session (the opener's was destroyed). */
async function waitForNoSession(server, timeoutMs = 10_000) {
  for (let waited = 0; waited < timeoutMs; waited += 20) {
    if (Number(await server.ask('SESSIONS')) === 0) return;
    await sleep(20);
  }
  throw new Error('the HTTP/2 session was never closed on the server');
}

/** One opening run of `variant`: time to open SOCKETS, CPU, memory per WebSocket both sides. */
async function measureOpen({ mode }) {
  const server = await startServer({ gc: true });
  const opener = spawnControlled(
    '1',
    benchFile('gen/h2-open.mjs'),
    [server.securePort, server.plainPort, certificate.dir],
    { nodeArgs: ['--expose-gc'] },
  );
  try {
    const warm = JSON.parse(await opener.ask(`OPEN ${mode}:${WARMUP}`));
    if (warm.open !== WARMUP) throw new Error(`${mode}: only ${warm.open} of ${WARMUP} opened`);
    await waitForClients(server, WARMUP);
    await opener.ask('RESET');
    await waitForClients(server, 0);
    await waitForNoSession(server);
    const before = JSON.parse(await server.ask('MEM'));
    const openerBefore = JSON.parse(await opener.ask('MEM'));
    const cpuBefore = cpuSeconds(server.child.pid);
    const opened = JSON.parse(await opener.ask(`OPEN ${mode}:${SOCKETS}`));
    const serverSeconds = cpuSeconds(server.child.pid) - cpuBefore;
    if (opened.open !== SOCKETS) {
      throw new Error(
        `${mode}: only ${opened.open} of ${SOCKETS} opened (${opened.failed} failed)`,
      );
    }
    await waitForClients(server, SOCKETS);
    const after = JSON.parse(await server.ask('MEM'));
    const openerAfter = JSON.parse(await opener.ask('MEM'));
    if (!after.gc || !openerAfter.gc) throw new Error('a process runs without --expose-gc');
    const per = (a, b, key) => (b[key] - a[key]) / SOCKETS;
    const window = opened.ms / 1000;
    return {
      ms: opened.ms,
      failed: opened.failed,
      serverMicros: (serverSeconds / SOCKETS) * 1e6,
      loadMicros: (opened.cpu / SOCKETS) * 1e6,
      serverCpu: serverSeconds / window,
      loadCpu: opened.cpu / window,
      rss: per(before, after, 'rss'),
      heap: per(before, after, 'heapUsed'),
      external: per(before, after, 'external'),
      loadRss: per(openerBefore, openerAfter, 'rss'),
      loadHeap: per(openerBefore, openerAfter, 'heapUsed'),
    };
  } finally {
    await opener.ask('RESET').catch(() => {});
    await opener.stop();
    await server.stop();
  }
}

/** One echo run of `mode` at `point` against `server`. */
async function measureEcho(server, { mode }, [size, connections, inflight]) {
  const result = await runGenerator(
    'gen/h2-echo.mjs',
    [
      mode,
      {
        h2: server.securePort,
        tls: server.securePort,
        tcp: server.plainPort,
        h2w: server.widePort,
      }[mode],
      certificate.dir,
      connections,
      inflight,
      size,
      SECONDS,
    ],
    { BENCH_SERVER_PID: String(server.child.pid) },
  );
  return {
    rate: result.rate,
    cpu: result.cpu,
    serverCpu: result.serverSeconds / result.seconds,
    serverMicros: (result.serverSeconds / result.messages) * 1e6,
  };
}

const began = Date.now();
const opening = {};
const echoes = [];
try {
  // ---- opening SOCKETS WebSockets: time, CPU, memory ----
  const openSamples = await alternatedRuns(VARIANTS, RUNS, async (variant) => {
    const result = await measureOpen(variant);
    console.log(
      `open ${SOCKETS} × ${variant.name}: ${result.ms.toFixed(0)} ms (${result.failed} failed, ` +
        'retried), server ' +
        `${result.serverMicros.toFixed(0)} µs CPU, ${(result.rss / 1024).toFixed(2)} KiB RSS, ` +
        `${(result.heap / 1024).toFixed(2)} KiB heap per WebSocket`,
    );
    return result;
  });
  for (const [name, runs] of openSamples) {
    opening[name] = mediansOf(runs, [
      'ms',
      'serverMicros',
      'loadMicros',
      'serverCpu',
      'loadCpu',
      'rss',
      'heap',
      'external',
      'loadRss',
      'loadHeap',
    ]);
  }

  // ---- echo throughput ----
  const server = await startServer();
  try {
    for (const point of POINTS) {
      const samples = await alternatedRuns(ECHO_VARIANTS, ECHO_RUNS, (variant) =>
        measureEcho(server, variant, point),
      );
      const by = {};
      for (const [name, runs] of samples) {
        by[name] = mediansOf(runs, ['rate', 'cpu', 'serverCpu', 'serverMicros']);
      }
      echoes.push({ point, by });
      const [size, connections, inflight] = point;
      console.log(
        `${formatSize(size)} × ${connections} × ${inflight} in flight: ` +
          ECHO_VARIANTS.map(
            ({ name }) =>
              `${name} ${formatRate(by[name].rate)}msg/s (server ${by[name].serverMicros.toFixed(2)} µs/msg, ` +
              `load ${(by[name].cpu * 100).toFixed(0)}%)`,
          ).join('; '),
      );
    }
  } finally {
    await server.stop();
  }
} finally {
  certificate.remove();
}

// ---- RESULTS.md ----
const seconds = (Date.now() - began) / 1000;
const percent = (share) => `${(share * 100).toFixed(0)}%`;
const kib = (bytes) => (bytes / 1024).toFixed(2);
const count = SOCKETS.toLocaleString('en-US');
const cell = (stats, key, text) => `${text} (${formatSpread(stats[`${key}Spread`])})`;
const versus = (value, reference) => `${(value / reference).toFixed(2)}×`;

const openRows = [
  ['time to open all (ms)', 'ms', (x) => x.toFixed(0)],
  ['server CPU per open (µs)', 'serverMicros', (x) => x.toFixed(0)],
  ['load CPU per open (µs)', 'loadMicros', (x) => x.toFixed(0)],
  ['server RSS per WebSocket (KiB)', 'rss', kib],
  ['server heap per WebSocket (KiB)', 'heap', kib],
  ['server external per WebSocket (KiB)', 'external', kib],
  ['load-side RSS per WebSocket (KiB)', 'loadRss', kib],
  ['load-side heap per WebSocket (KiB)', 'loadHeap', kib],
].map(
  ([label, key, format]) =>
    `| ${label} | ${VARIANTS.map(({ name }) => cell(opening[name], key, format(opening[name][key]))).join(' | ')} ` +
    // Tens of bytes of Buffers per WebSocket: a ratio of those would say nothing.
    (key === 'external'
      ? '| | |'
      : `| ${versus(opening[H2][key], opening[TLS][key])} | ${versus(opening[H2][key], opening[TCP][key])} |`),
);
const shareRow =
  `| CPU share while opening: server / load | ` +
  VARIANTS.map(
    ({ name }) => `${percent(opening[name].serverCpu)} / ${percent(opening[name].loadCpu)}`,
  ).join(' | ') +
  ' | | |';

const echoRows = echoes.map(({ point: [size, connections, inflight], by }) => {
  const rate = (name) => cell(by[name], 'rate', formatRate(by[name].rate));
  return (
    `| ${formatSize(size)} | ${connections} × ${inflight} | ${ECHO_VARIANTS.map(({ name }) => rate(name)).join(' | ')} ` +
    `| **${versus(by[H2].rate, by[TLS].rate)}** | ${versus(by[H2].rate, by[TCP].rate)} ` +
    `| ${versus(by[H2W].rate, by[H2].rate)} ` +
    `| ${ECHO_VARIANTS.map(({ name }) => by[name].serverMicros.toFixed(2)).join(' / ')} ` +
    `| ${ECHO_VARIANTS.map(({ name }) => percent(by[name].serverCpu)).join(' / ')} ` +
    `| ${ECHO_VARIANTS.map(({ name }) => percent(by[name].cpu)).join(' / ')} |`
  );
});
/** Which process set the pace of the echo rows, in words. */
const generatorBound = echoes.flatMap(({ point: [size, connections, inflight], by }) =>
  ECHO_VARIANTS.filter(({ name }) => by[name].cpu >= 0.8).map(
    ({ name }) => `${name} at ${formatSize(size)}, ${connections} × ${inflight}`,
  ),
);

const section = [
  ...sectionHead('WebSocket over HTTP/2', 'http2.bench.mjs', seconds, [], {
    command: '`pnpm bench`, or alone: `pnpm --dir bench run bench:http2`',
  }),
  `- Issue 18, point 6. "${H2}": WebSockets as extended CONNECT streams (RFC 8441) of ONE ` +
    "HTTP/2 connection to `http2.createSecureServer({ allowHTTP1: true, cert, key })` (node's " +
    'defaults otherwise: 64 KiB flow-control windows) with @proj/server attached. ' +
    `"${TLS}": each WebSocket its own TLS connection (TLS 1.3, P-256 certificate made by openssl ` +
    'at run time, no session resumption: a full handshake each) with an HTTP/1.1 Upgrade, to the ' +
    `same server and port. "${TCP}": each its own plain TCP connection to a plain ` +
    '`WebSocketServer({ port })` in the same process, for reference. Both servers echo, with the ' +
    "Echo section's options (bench/gen/h2-server.mjs).",
  `- ${pinningNote}. The load is raw (bench/gen/h2-shared.mjs): a node:http2 client session ` +
    "sending @proj/protocol's `buildConnectRequest` header fields, or TLS / TCP sockets sending " +
    "gen/raw.mjs's fixed Upgrade; frames masked once, server frames read only as far as their " +
    'lengths. Node has no cheaper HTTP/2 client, so the HTTP/2 load costs its generator more per ' +
    "message than a raw TCP one. The load session's own receive windows are Chromium's (6 MiB per " +
    "stream, 15 MiB for the connection), so that node's client defaults do not throttle the echoes.",
  '',
  `### Opening ${count} WebSockets`,
  '',
  `- A fresh server (\`--expose-gc\`) and opener (bench/gen/h2-open.mjs) per run; ${WARMUP} ` +
    "WebSockets opened and dropped first in the same mode, then the server's `process.memoryUsage()` " +
    `after two full GCs, ${count} WebSockets opened (${PARALLEL} handshakes at a time, as ` +
    'gen/clients.mjs; for HTTP/2 the session is dialed first and its streams then opened the same ' +
    "way), and the memory again. Time: from the first dial (for HTTP/2, the session's) to the " +
    `last open, as the opener sees it. Per WebSocket = (after - before) / ${count}; the HTTP/2 ` +
    "connection's own cost is spread over its streams. CPU per open: the process's CPU time over " +
    `the opening, / ${count}. ${RUNS} alternated runs per mode; medians, spread ±half the ` +
    `interquartile range. At ${count} WebSockets RSS moves by allocator pages: read the heap for ` +
    'what each WebSocket retains.',
  '',
  `| measure | ${VARIANTS.map(({ name }) => name).join(' | ')} | h2 / TLS | h2 / TCP |`,
  '|---|--:|--:|--:|--:|--:|',
  ...openRows,
  shareRow,
  '',
  '### Echo throughput',
  '',
  `- One server process for every run; bench/gen/h2-echo.mjs per run: for "${H2}", every ` +
    `WebSocket a stream of one HTTP/2 session; "${H2W}" ("wide") is the same to a second ` +
    'HTTP/2 server in the same process whose receive windows are raised to ' +
    `${WIDE_WINDOW / 2 ** 20} MiB (\`settings: { initialWindowSize }\` and ` +
    "`session.setLocalWindowSize`), not what an application gets by default: what node's 64 KiB " +
    'windows cost. Binary messages; each WebSocket keeps its "in ' +
    `flight" messages outstanding. ${ECHO_RUNS} alternated runs of ${SECONDS} s per mode and point ` +
    '(after a 0.5 s warm-up); medians, spread ±half the interquartile range. Server µs/msg and ' +
    "server CPU: the server process's CPU time in the measured window only (read from /proc by " +
    'the generator, so handshakes are not counted), per echoed message and as a share of its ' +
    "core; load CPU: the generator's share of its core (80% or more: that row measures the " +
    'generator).' +
    (generatorBound.length > 0
      ? ` Generator-bound here: ${generatorBound.join('; ')}.`
      : ' No generator reached 80% of its core in these runs.'),
  '',
  `| payload | conns × in flight | ${ECHO_VARIANTS.map(({ name }) => `${name} msg/s (spread)`).join(' | ')} ` +
    '| h2 / TLS | h2 / TCP | wide / h2 | server µs/msg (h2 / TLS / TCP / wide) ' +
    '| server CPU (h2 / TLS / TCP / wide) | load CPU (h2 / TLS / TCP / wide) |',
  '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ...echoRows,
  '',
];

// ---- results.json: "ours" is the HTTP/2 mode; `against` names an HTTP/1.1 mode or "wide" ----
const point = `${count} WebSockets`;
const entries = [];
/** The opening rows of results.json against `against` (TLS or TCP). */
function openingEntries(against) {
  const cpuOf = (name) => ({ server: opening[name].serverCpu, generator: opening[name].loadCpu });
  const rows = [
    {
      point,
      metric: 'time to open all',
      unit: 'ms',
      better: 'lower',
      ours: opening[H2].ms,
      ws: opening[against].ms,
      against,
      runs: RUNS,
      cpu: { ours: cpuOf(H2), [against]: cpuOf(against) },
    },
  ];
  for (const [metric, key, unit, limit] of [
    ['server CPU per open', 'serverMicros', 'µs', undefined],
    ['server RSS per WebSocket', 'rss', 'bytes', MEMORY_ROW],
    ['server heap per WebSocket', 'heap', 'bytes', MEMORY_ROW],
    ['load-side heap per WebSocket', 'loadHeap', 'bytes', MEMORY_ROW],
  ]) {
    rows.push({
      point,
      metric,
      unit,
      better: 'lower',
      ours: opening[H2][key],
      ws: opening[against][key],
      against,
      runs: RUNS,
      limit: limit ?? { by: 'n/a', note: 'CPU time per open, not a rate' },
    });
  }
  return rows;
}
// The wide-window server appears in the echo entries only: against it, ours (default windows).
for (const against of [TLS, TCP, H2W]) {
  if (against !== H2W) entries.push(...openingEntries(against));
  for (const {
    point: [size, connections, inflight],
    by,
  } of echoes) {
    const cpuOf = (name) => ({ server: by[name].serverCpu, generator: by[name].cpu });
    const at = echoPoint(size, connections, inflight);
    entries.push({
      point: at,
      metric: 'messages/s',
      unit: 'msg/s',
      better: 'higher',
      ours: by[H2].rate,
      ws: by[against].rate,
      against,
      runs: ECHO_RUNS,
      cpu: { ours: cpuOf(H2), [against]: cpuOf(against) },
    });
    entries.push({
      point: at,
      metric: 'server CPU per message',
      unit: 'µs',
      better: 'lower',
      ours: by[H2].serverMicros,
      ws: by[against].serverMicros,
      against,
      runs: ECHO_RUNS,
      limit: { by: 'n/a', note: 'CPU time per message, not a rate' },
    });
  }
}

publish('WebSocket over HTTP/2', section, entries, {
  seconds: Math.round(seconds),
  runs: RUNS,
  echoRuns: ECHO_RUNS,
  roles: { measured: 'server', load: 'generator' },
  generator:
    'gen/h2-open.mjs (Node, idle WebSockets), gen/h2-echo.mjs (Node: node:http2, tls, net)',
  compared: {
    ours: `${H2}: @proj/server attached to http2.createSecureServer, one HTTP/2 session for all`,
    [TLS]: 'the same server and port, one TLS connection and HTTP/1.1 Upgrade per WebSocket',
    [TCP]: 'a plain WebSocketServer({ port }), one TCP connection per WebSocket',
  },
});
