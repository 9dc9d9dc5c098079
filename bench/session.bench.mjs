// The session layer's cost (issue 16): @proj/server with `sessions: true`
// against the same server without, in the same run, through the same load.
//
// - Echo throughput at 16 B and 1 KiB (the load shape of the Echo section's
//   first rows: 100 connections × 16 in flight). Both servers are
//   lib/session-server.mjs, the Echo section's "ours" with or without
//   `sessions: true` ("session" echoes through `session.send`). Both are
//   driven by gen/echo.c, the Echo section's generator; for the session runs
//   it speaks the session protocol as a real client does (`hello`, waits for
//   `ready`, counts only data messages, `ack` every 64), and is otherwise the
//   same code.
// - Bytes per data message on the wire, each way: the generator's socket
//   bytes in the measured window over the data messages it sent or received.
//   The difference between the two servers is what the session's `ack`s cost.
// - Memory per idle session against per idle plain connection, measured as
//   memory.bench.mjs measures idle connections (lib/idle-clients.mjs holds
//   them; with sessions, each has sent `hello` and got `ready`).
//
// Servers run pinned to core 0, generators and clients to core 1; the two
// variants alternate run by run (plain session, session plain, ...); each cell
// is the median of the runs, with the spread as ±half the interquartile range.
//
//   pnpm --dir bench run bench:session     # just this, packages already built
//   BENCH_RUNS=9 BENCH_SECONDS=2 BENCH_CONNECTIONS=5000 node session.bench.mjs
import {
  alternatedRuns,
  benchFile,
  hasTaskset,
  nativeGenerator,
  pinningNote,
  runGenerator,
  runsOr,
  secondsOr,
  spawnControlled,
  stopServers,
  waitForClients,
  withServerMicros,
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

const RUNS = runsOr(7);
const SECONDS = secondsOr(1);
/**
 * Idle connections (and sessions) per memory run; memory.bench.mjs opens 10,000. At 2,000 the RSS
 * per connection varied by ±20% run to run (allocator noise over a 10 MiB difference).
 */
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 5000);
const WARMUP_CONNECTIONS = 1000;

/** The two servers of lib/session-server.mjs; `name` is how tables and results.json call them. */
const VARIANTS = [
  { name: 'plain', kind: 'plain' },
  { name: 'session', kind: 'session' },
];
/** [size, connections, in flight]: the Echo section's target points at 16 B and 1 KiB. */
const POINTS = [
  [16, 100, 16],
  [1024, 100, 16],
];
/** The reference of every entry: the same server without sessions. */
const AGAINST = 'plain';

const GENERATOR = nativeGenerator('echo', 'the session rows need it');
if (!GENERATOR) {
  // gen/echo.mjs does not speak the session protocol; measuring the plain
  // side with it and the session side with something else would not be like for like.
  throw new Error('session.bench.mjs needs a C compiler for gen/echo.c (set CC)');
}

/** Starts a lib/session-server.mjs server of `variant` on core 0; resolves once it listens. */
async function startVariant(variant, { gc = false } = {}) {
  const process_ = spawnControlled('0', benchFile('lib/session-server.mjs'), [variant.kind, '0'], {
    nodeArgs: gc ? ['--expose-gc'] : [],
  });
  const port = Number(await process_.next('READY', 30_000));
  return { ...variant, ...process_, port };
}

/**
 * One generator run against `server`: rate, CPU shares (server and generator), and the bytes per
 * data message each way.
 */
async function runLoad(server, [size, connections, inflight]) {
  const args = [server.port, connections, inflight, size, SECONDS];
  const measured = await withServerMicros(server.child.pid, () =>
    runGenerator(GENERATOR, server.kind === 'session' ? [...args, 'session'] : args),
  );
  return {
    ...measured,
    serverCpu: (measured.serverMicros * measured.rate) / 1e6,
    up: measured.bytesOut / measured.sent,
    down: measured.bytesIn / measured.messages,
    controlPerThousand: (measured.control / measured.messages) * 1000,
  };
}

/** Memory per idle connection (per idle session) of a fresh server of `variant`. */
async function measureIdle(variant) {
  const server = await startVariant(variant, { gc: true });
  const clients = spawnControlled('1', benchFile('lib/idle-clients.mjs'), [
    server.port,
    ...(variant.kind === 'session' ? ['session'] : []),
  ]);
  try {
    // Compiled code and grown tables are not per connection. (The warm-up
    // sessions stay suspended, within their 2-minute timeout, in both
    // measurements: they are part of the baseline.)
    await clients.ask(`OPEN ${WARMUP_CONNECTIONS}`);
    await waitForClients(server, WARMUP_CONNECTIONS);
    await clients.ask('RESET');
    await waitForClients(server, 0);
    const before = JSON.parse(await server.ask('MEM'));
    const [open, failed] = (await clients.ask(`OPEN ${CONNECTIONS}`)).split(' ').map(Number);
    if (open !== CONNECTIONS) throw new Error(`only ${open} connections opened (${failed} failed)`);
    await waitForClients(server, CONNECTIONS);
    const after = JSON.parse(await server.ask('MEM'));
    if (!after.gc) throw new Error('the server runs without --expose-gc');
    const sessions = Number(await server.ask('SESSIONS'));
    const expected = variant.kind === 'session' ? WARMUP_CONNECTIONS + CONNECTIONS : 0;
    if (sessions !== expected) throw new Error(`${sessions} sessions held, ${expected} expected`);
    const per = (key) => (after[key] - before[key]) / CONNECTIONS;
    return { rss: per('rss'), heap: per('heapUsed'), external: per('external') };
  } finally {
    await clients.ask('RESET').catch(() => {});
    await clients.stop();
    await server.stop();
  }
}

const began = Date.now();

// ---- throughput and bytes on the wire ----
const servers = [];
const echoes = [];
try {
  for (const variant of VARIANTS) servers.push(await startVariant(variant));
  for (const point of POINTS) {
    const samples = await alternatedRuns(servers, RUNS, (server) => runLoad(server, point));
    const by = {};
    for (const [name, runs] of samples) {
      by[name] = mediansOf(runs, [
        'rate',
        'serverMicros',
        'serverCpu',
        'cpu',
        'up',
        'down',
        'controlPerThousand',
      ]);
    }
    echoes.push({ point, by });
    const [size, connections, inflight] = point;
    console.log(
      `${formatSize(size)} × ${connections} conn × ${inflight} in flight: ` +
        VARIANTS.map(
          ({ name }) =>
            `${name} ${formatRate(by[name].rate)}msg/s, ${by[name].up.toFixed(2)} B/msg up, ` +
            `${by[name].down.toFixed(2)} B/msg down`,
        ).join('; ') +
        ` (session/plain ${(by.session.rate / by.plain.rate).toFixed(2)}×)`,
    );
  }
} finally {
  await stopServers(servers);
}

// ---- memory per idle connection ----
const idleSamples = await alternatedRuns(VARIANTS, RUNS, async (variant) => {
  const result = await measureIdle(variant);
  console.log(
    `idle ${variant.name}: ${(result.rss / 1024).toFixed(2)} KiB RSS, ` +
      `${(result.heap / 1024).toFixed(2)} KiB heap per connection`,
  );
  return result;
});
const idle = {};
for (const [name, runs] of idleSamples) idle[name] = mediansOf(runs, ['rss', 'heap', 'external']);

// ---- RESULTS.md ----
const seconds = (Date.now() - began) / 1000;
const percent = (share) => `${(share * 100).toFixed(0)}%`;
const times = (ratio) => `**${ratio.toFixed(2)}×**`;
const kib = (bytes) => (bytes / 1024).toFixed(2);
const idlePoint = `${CONNECTIONS.toLocaleString('en-US')} idle connections`;

const echoRows = echoes.map(({ point: [size, connections, inflight], by }) => {
  const cell = (name) => `${formatRate(by[name].rate)} (${formatSpread(by[name].rateSpread)})`;
  return (
    `| ${formatSize(size)} | ${connections} × ${inflight} | ${cell('plain')} | ${cell('session')} ` +
    `| ${times(by.session.rate / by.plain.rate)} | ${by.plain.serverMicros.toFixed(2)} ` +
    `| ${by.session.serverMicros.toFixed(2)} | ${percent(by.plain.serverCpu)} / ${percent(by.session.serverCpu)} ` +
    `| ${percent(by.plain.cpu)} / ${percent(by.session.cpu)} |`
  );
});
const wireRows = echoes.flatMap(({ point: [size], by }) =>
  [
    ['client → server', 'up'],
    ['server → client', 'down'],
  ].map(([direction, key]) => {
    const [plain, session] = [by.plain[key], by.session[key]];
    return (
      `| ${formatSize(size)} | ${direction} | ${plain.toFixed(2)} | ${session.toFixed(2)} ` +
      `| ${(session - plain).toFixed(2)} | **${(session / plain).toFixed(4)}×** ` +
      `| ${(plain - size).toFixed(2)} / ${(session - size).toFixed(2)} (${((session - size) / (plain - size)).toFixed(2)}×) |`
    );
  }),
);
const controlNote = echoes
  .map(
    ({ point: [size], by }) =>
      `${by.session.controlPerThousand.toFixed(1)} per 1,000 data messages at ${formatSize(size)}`,
  )
  .join(', ');
const memoryRows = [
  ['RSS', 'rss'],
  ['heap', 'heap'],
  ['external', 'external'],
].map(
  ([label, key]) =>
    `| ${label} / connection | ${kib(idle.plain[key])} KiB (${formatSpread(idle.plain[`${key}Spread`])}) ` +
    `| ${kib(idle.session[key])} KiB (${formatSpread(idle.session[`${key}Spread`])}) ` +
    `| ${key === 'external' ? '' : times(idle.session[key] / idle.plain[key])} |`,
);

const section = [
  ...sectionHead('Sessions', 'session.bench.mjs', seconds, [], {
    command: '`pnpm bench`, or alone: `pnpm --dir bench run bench:session`',
  }),
  `- What the session layer (issue 16; docs/session-protocol.md) costs: @proj/server with ` +
    '`sessions: true` ("session": every data message echoed through `session.send`, so numbered, ' +
    'kept in the replay log until acknowledged, and acknowledged) against the same server without ' +
    '("plain": `socket.send`, the Echo section\'s "ours"), in one process each (bench/lib/session-server.mjs, ' +
    'the same options otherwise). Ratios are session/plain: below 1× for a rate, above 1× for bytes, ' +
    'is what sessions cost.',
  `- ${hasTaskset ? 'Servers pinned to core 0, the load generator to core 1' : 'Not pinned (taskset unavailable or a single core)'}. ` +
    'The load generator is gen/echo.c (C, one epoll loop, raw sockets) for both variants, the ' +
    'same code but for the session steps: with `session` it offers `proj-session.v1`, sends ' +
    '`hello`, waits for `ready`, counts only data messages (binary frames; text frames are the ' +
    "server's `ack`s), and sends `ack <received>` every 64 data messages, as @proj/client does. " +
    `Binary messages; each connection keeps its "in flight" messages outstanding. ${RUNS} ` +
    `alternated runs of ${SECONDS} s per variant and point (after a 0.5 s warm-up); medians, ` +
    "spread ±half the interquartile range. µs CPU/msg is the server process's CPU time per echoed " +
    "message; server CPU its share of its core; loadgen CPU the generator's (near 100%: the row " +
    'measures the generator).',
  '',
  '| payload | conns × in flight | plain msg/s (spread) | session msg/s (spread) | session/plain | plain µs CPU/msg | session µs CPU/msg | server CPU (plain / session) | loadgen CPU (plain / session) |',
  '|---|---|--:|--:|--:|--:|--:|--:|--:|',
  ...echoRows,
  '',
  '- Bytes on the wire per data message, each way: the socket bytes the generator wrote (read) in ' +
    'the measured window over the data messages it wrote (read), frame headers and masks included. ' +
    `The session's extra bytes are its \`ack\`s: the client's, one per 64 messages; the server's ` +
    `(${controlNote}; it acknowledges after 64 messages or 50 ms).`,
  '',
  '| payload | direction | plain B/msg | session B/msg | session − plain | session/plain | beyond the payload: plain / session (session/plain) |',
  '|---|---|--:|--:|--:|--:|--:|',
  ...wireRows,
  '',
  `- Memory per idle connection. ${pinningNote}. ${CONNECTIONS.toLocaleString('en-US')} idle ` +
    'connections held by lib/idle-clients.mjs (raw sockets; for "session", each offered ' +
    '`proj-session.v1`, sent `hello` and got `ready`, so each is a session with an empty replay ' +
    'log). The server answers `MEM` with `process.memoryUsage()` after two full GCs, before the ' +
    `connections open and after; per connection = (after - before) / ${CONNECTIONS.toLocaleString('en-US')}. ` +
    `Before the baseline, ${WARMUP_CONNECTIONS.toLocaleString('en-US')} connections are opened and reset (their sessions ` +
    'stay suspended, part of the baseline). A fresh server process per run; ' +
    `${RUNS} alternated runs per variant; medians, spread ±half the interquartile range. The ` +
    'session server also runs its keep-alive (an `ack`) and heartbeat (a ping) every 15 s per ' +
    'connection, as it does on its defaults.',
  '',
  '| idle | plain | session | session/plain |',
  '|---|--:|--:|--:|',
  ...memoryRows,
  '',
];

/** session/plain for every entry, by "point: metric" (results.json's `ratio` is "times better"). */
const ratios = {};
/** Whole bytes per data message (payload included), by point and variant, for results.json. */
const wire = {};
const entries = [];
for (const {
  point: [size, connections, inflight],
  by,
} of echoes) {
  const point = echoPoint(size, connections, inflight);
  const cpu = { ours: { server: by.session.serverCpu, generator: by.session.cpu } };
  cpu[AGAINST] = { server: by.plain.serverCpu, generator: by.plain.cpu };
  entries.push({
    point,
    metric: 'messages/s',
    unit: 'msg/s',
    better: 'higher',
    ours: by.session.rate,
    ws: by.plain.rate,
    against: AGAINST,
    cpu,
  });
  // Beyond the payload (frame headers, masks, acks): results.json keeps 4 digits, which would
  // round the acks' fraction of a byte away from a whole 1 KiB message.
  for (const [metric, key] of [
    ['wire bytes per message beyond the payload, client to server', 'up'],
    ['wire bytes per message beyond the payload, server to client', 'down'],
  ]) {
    entries.push({
      point,
      metric,
      unit: 'B/msg',
      better: 'lower',
      ours: by.session[key] - size,
      ws: by.plain[key] - size,
      against: AGAINST,
      limit: { by: 'n/a', note: 'bytes counted at the generator, not a rate' },
    });
  }
  wire[point] = Object.fromEntries(
    VARIANTS.map(({ name }) => [
      name,
      { up: Number(by[name].up.toFixed(3)), down: Number(by[name].down.toFixed(3)) },
    ]),
  );
}
for (const [metric, key] of [
  ['RSS per connection', 'rss'],
  ['heap per connection', 'heap'],
]) {
  entries.push({
    point: idlePoint,
    metric,
    unit: 'bytes',
    better: 'lower',
    ours: idle.session[key],
    ws: idle.plain[key],
    against: AGAINST,
    limit: MEMORY_ROW,
  });
}
for (const entry of entries) {
  ratios[`${entry.point}: ${entry.metric}`] = Number((entry.ours / entry.ws).toPrecision(6));
}

publish('Sessions', section, entries, {
  seconds: Math.round(seconds),
  runs: RUNS,
  roles: { measured: 'server', load: 'generator' },
  generator: 'gen/echo.c (C; session mode for the session runs), lib/idle-clients.mjs (Node, idle)',
  compared: {
    ours: '@proj/server with `sessions: true`, echoing through session.send',
    [AGAINST]: '@proj/server without sessions, echoing through socket.send',
  },
  sessionOverPlain: ratios,
  wireBytesPerMessage: wire,
});
