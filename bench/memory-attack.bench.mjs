// The memory attack of issue 17, point 1, against @proj/server and ws, each on
// default settings: ATTACKERS connections each declare a 16 MiB binary message
// (allowed by both defaults: ours 16 MiB, ws 100 MiB), send 8 MiB of it and
// stall. Reported: the server's RSS growth (peak, sampled every 10 ms, over the
// RSS after a full GC before the attack), and what it held when the attack
// settled. ws buffers all it is sent (1.6 GB at 200 connections); our
// `memoryBudget` (256 MiB by default) stops reading from the connections that
// hold the most, so TCP flow control holds the rest in the attackers' kernels.
//
// Every run starts a fresh server process (this script with `server <name>`,
// --expose-gc); the attackers run in this process and share one payload
// buffer. The attack has settled once the server's RSS grew by less than
// 1 MiB in a second (or after 60 s). Runs alternate between the servers; each
// cell is the median of the runs.
//
//   node memory-attack.bench.mjs                  # packages already built
//   BENCH_RUNS=3 BENCH_ATTACKERS=200 node memory-attack.bench.mjs
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

const MiB = 2 ** 20;
const DECLARED = 16 * MiB;
const SENT = 8 * MiB;
const SETTLED_GROWTH = MiB;
const SETTLE_WINDOW = 1000;
const SETTLE_LIMIT = 60_000;

if (process.argv[2] === 'server') await serve(process.argv[3]);
else await main();

/** The server process: a default server of `name` on port 0, answering `report` over IPC. */
async function serve(name) {
  let port;
  if (name === 'ours') {
    const { WebSocketServer } = await import('@proj/server');
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    server.on('connection', (socket) => socket.on('message', () => {}));
    await server.ready();
    port = server.address().port;
  } else {
    const { WebSocketServer } = await import('ws');
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    server.on('connection', (socket) => {
      socket.on('error', () => {});
      socket.on('message', () => {});
    });
    await once(server, 'listening');
    port = server.address().port;
  }
  globalThis.gc();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  process.on('message', () => {
    const rss = process.memoryUsage.rss();
    peak = Math.max(peak, rss);
    process.send({ rss, peak, baseline });
  });
  process.send({ port });
}

async function main() {
  const { alternatedRuns, runsOr } = await import('./lib/harness.mjs');
  const { formatSpread, mediansOf, publish, sectionHead } = await import('./lib/results.mjs');
  const RUNS = runsOr(3);
  const ATTACKERS = Number(process.env.BENCH_ATTACKERS ?? 200);
  const IMPLEMENTATIONS = [{ name: 'ours' }, { name: 'ws' }];
  const payload = Buffer.alloc(SENT, 0x61);
  const header = Buffer.alloc(14);
  header[0] = 0x82; // FIN, binary
  header[1] = 0x80 | 127; // masked, 64-bit length; mask key zero: the payload goes as is
  header.writeBigUInt64BE(BigInt(DECLARED), 2);

  async function measure({ name }) {
    const child = fork(fileURLToPath(import.meta.url), ['server', name], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const next = () => once(child, 'message').then(([message]) => message);
    const ask = () => {
      const reply = next();
      child.send('report');
      return reply;
    };
    const sockets = [];
    try {
      const { port } = await next();
      for (let i = 0; i < ATTACKERS; i++) sockets.push(await attacker(port));
      const began = Date.now();
      for (const socket of sockets) {
        socket.write(header);
        socket.write(payload);
      }
      let last = await ask();
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, SETTLE_WINDOW));
        const report = await ask();
        const settled = report.peak - last.peak < SETTLED_GROWTH;
        last = report;
        if (settled || Date.now() - began > SETTLE_LIMIT) break;
      }
      return { growth: last.peak - last.baseline, seconds: (Date.now() - began) / 1000 };
    } finally {
      for (const socket of sockets) socket.destroy();
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }

  const began = Date.now();
  const samples = await alternatedRuns(IMPLEMENTATIONS, RUNS, async (implementation) => {
    const result = await measure(implementation);
    console.log(
      `memory attack ${implementation.name}: RSS grew ${(result.growth / MiB).toFixed(0)} MiB ` +
        `(settled in ${result.seconds.toFixed(1)} s)`,
    );
    return result;
  });
  const by = {};
  for (const [name, runs] of samples) by[name] = mediansOf(runs, ['growth', 'seconds']);
  const mib = (bytes) => (bytes / MiB).toFixed(0);
  const seconds = (Date.now() - began) / 1000;
  const point = `${ATTACKERS} conns × 8 MiB of 16 MiB, stalled`;
  const section = [
    ...sectionHead('Memory attack', 'memory-attack.bench.mjs', seconds, ['ws'], {
      command: '`pnpm bench:memory-attack`',
    }),
    `- Issue 17, point 1: ${ATTACKERS} connections each declare a 16 MiB binary message, send 8 MiB ` +
      `of it (${mib(ATTACKERS * SENT)} MiB in all) and stall. Both servers on default settings (ours: ` +
      '`memoryBudget` 256 MiB, `maxPayload` 16 MiB; ws: `maxPayload` 100 MiB), in a fresh process per ' +
      'run; RSS growth = peak RSS (sampled every 10 ms) over the RSS after a full GC before the attack. ' +
      `The attack has settled once RSS grew by less than 1 MiB in a second. ${RUNS} alternated runs per ` +
      'server; medians, spread ±half the interquartile range. Target: ours under 512 MiB.',
    '',
    '| server | RSS growth (spread) | settled in |',
    '|---|--:|--:|',
    ...IMPLEMENTATIONS.map(
      ({ name }) =>
        `| ${name} | ${mib(by[name].growth)} MiB (${formatSpread(by[name].growthSpread)}) ` +
        `| ${by[name].seconds.toFixed(1)} s |`,
    ),
    `| **ours/ws** (at most 1: ours holds less) | **${(by.ours.growth / by.ws.growth).toFixed(2)}×** | |`,
    '',
  ];
  console.log(
    `memory attack: ours ${mib(by.ours.growth)} MiB, ws ${mib(by.ws.growth)} MiB ` +
      `(${by.ours.growth < 512 * MiB ? 'under' : 'OVER'} the 512 MiB target)`,
  );
  publish(
    'Memory attack',
    section,
    [
      {
        point,
        metric: 'RSS growth',
        unit: 'bytes',
        better: 'lower',
        ours: by.ours.growth,
        ws: by.ws.growth,
        limit: { by: 'n/a', note: 'peak RSS growth, not a rate' },
      },
    ],
    { seconds: Math.round(seconds), runs: RUNS, generator: 'raw sockets in the bench process' },
  );
}

/** A raw socket that completed the opening handshake (the 101 read off). */
async function attacker(port) {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  let head = '';
  while (!head.includes('\r\n\r\n')) head += (await once(socket, 'data'))[0].toString('latin1');
  if (!head.startsWith('HTTP/1.1 101'))
    throw new Error(`handshake refused: ${head.split('\r\n')[0]}`);
  return socket;
}
