// Pub/sub across nodes through Redis: two servers, each with its own
// RedisAdapter (two Redis connections each) on one redis-server started for
// the run; a client on node B subscribed to a topic; a 64 B message published
// on node A ("through Redis") or on node B itself ("same node"), waiting for
// it to arrive at the client before the next. The two paths alternate run by
// run; p50/p99 are the medians over the runs of each run's p50/p99.
//
// The fan-out of a publish to every subscriber on one node is measured with
// the broadcast benchmark (broadcast.bench.mjs, "ours publish"), alternating
// with ws in the same way.
//
//   node pubsub.bench.mjs                  # packages already built; needs redis-server
//   BENCH_RUNS=9 node pubsub.bench.mjs
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import { WebSocketServer } from '@proj/server';
import { RedisAdapter } from '@proj/redis';
import { WebSocket as ClientWebSocket } from '@proj/client';
import { alternate, runsOr, sleep } from './lib/harness.mjs';
import {
  formatSpread,
  machineLines,
  median,
  now,
  quantile,
  spread,
  writeEntries,
  writeSection,
} from './lib/results.mjs';

const RUNS = runsOr(5);
/** Messages per path and run, one at a time. */
const PER_RUN = 500;
const SIZE = 64;
/** Latency rows have no rate to limit. */
const LIMIT = { by: 'n/a', note: 'one message at a time: a latency, not a rate' };

const began = Date.now();
const redis = await startRedis();
let paths;
try {
  paths = await crossNode(redis.url);
} finally {
  redis.child.kill('SIGTERM');
  await once(redis.child, 'exit');
}
const seconds = (Date.now() - began) / 1000;

const PATHS = [
  ['remote', 'node A → Redis → node B → client'],
  ['local', 'node B → client (same node)'],
];
const lines = [
  '## Pub/sub',
  '',
  '<!-- Written by bench/pubsub.bench.mjs (`pnpm bench`); edits here are overwritten. -->',
  '',
  `Measured ${now()} UTC in ${seconds.toFixed(0)} s.`,
  '',
  ...machineLines([]),
  `- redis-server ${redis.version}; not pinned: both nodes, the client and this script share one process.`,
  `- Across nodes through Redis: ${PER_RUN} messages of ${SIZE} B per path and run, one at a time, ` +
    'published on node A and received by a client subscribed on node B (two servers with a ' +
    '`RedisAdapter` each, one local redis-server); the same published on node B itself for ' +
    `comparison. ${RUNS} runs, the two paths alternating; each cell is the median over the runs of ` +
    "that run's p50 / p99, spread ±half the interquartile range of the p50s.",
  '- Fan-out on one node (a publish to every subscriber of a topic, against ws looping over its ' +
    'clients): the "ours publish" columns of the Broadcast section.',
  '',
  '| path | p50 (spread) | p99 |',
  '| --- | ---: | ---: |',
  ...PATHS.map(
    ([key, label]) =>
      `| ${label} | ${paths[key].p50.toFixed(3)} ms (${formatSpread(paths[key].spread)}) | ${paths[key].p99.toFixed(3)} ms |`,
  ),
  '',
];
writeSection('Pub/sub', lines.join('\n'));
writeEntries(
  'Pub/sub',
  ['p50', 'p99'].map((metric) => ({
    point: `${SIZE} B, one message at a time, node A → Redis → node B → client`,
    metric: `latency ${metric}`,
    unit: 'ms',
    better: 'lower',
    against: 'same node',
    ours: paths.remote[metric],
    ws: paths.local[metric],
    limit: LIMIT,
  })),
  { seconds: Math.round(seconds), runs: RUNS, generator: 'none: one process, one client' },
);
console.log(lines.join('\n'));
process.exit(0);

async function crossNode(url) {
  const a = new WebSocketServer({ port: 0, host: '127.0.0.1', adapter: new RedisAdapter(url) });
  const b = new WebSocketServer({ port: 0, host: '127.0.0.1', adapter: new RedisAdapter(url) });
  await Promise.all([a.ready(), b.ready(), a.adapter.ready(), b.adapter.ready()]);
  b.on('connection', (socket) => socket.subscribe('latency'));
  const client = new ClientWebSocket(`ws://127.0.0.1:${b.address().port}`);
  client.binaryType = 'arraybuffer';
  await once(client, 'open');
  while (b.subscriberCount('latency') !== 1) await sleep(10);
  // Each message carries its number; a late one (e.g. from the probing below) is skipped.
  let seq = 0;
  const arrival = (wanted) =>
    new Promise((resolve) => {
      const onMessage = (event) => {
        if (new DataView(event.data).getUint32(0) !== wanted) return;
        client.removeEventListener('message', onMessage);
        resolve(true);
      };
      client.addEventListener('message', onMessage);
    });
  const message = (n) => {
    const bytes = Buffer.alloc(64);
    bytes.writeUInt32BE(n, 0);
    return bytes;
  };
  // The subscription must have reached Redis before measuring.
  for (;;) {
    const n = ++seq;
    const arrived = arrival(n);
    a.publish('latency', message(n));
    if (await Promise.race([arrived, sleep(200).then(() => false)])) break;
  }
  const measure = async (server) => {
    const times = [];
    for (let i = 0; i < PER_RUN; i++) {
      const n = ++seq;
      const arrived = arrival(n);
      const t0 = process.hrtime.bigint();
      server.publish('latency', message(n));
      await arrived;
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return { p50: quantile(times, 0.5), p99: quantile(times, 0.99) };
  };
  await measure(a); // warm-up
  const nodes = [
    ['remote', a],
    ['local', b],
  ];
  const runs = { remote: [], local: [] };
  for (let run = 0; run < RUNS; run++) {
    for (const [key, server] of alternate(nodes, run)) runs[key].push(await measure(server));
  }
  const summary = (list) => ({
    p50: median(list.map((r) => r.p50)),
    p99: median(list.map((r) => r.p99)),
    spread: spread(list.map((r) => r.p50)),
  });
  client.close();
  await Promise.all([a.close({ timeout: 500 }), b.close({ timeout: 500 })]);
  return { remote: summary(runs.remote), local: summary(runs.local) };
}

async function startRedis() {
  const binary = spawnSync('sh', ['-c', 'command -v redis-server'], {
    encoding: 'utf8',
  }).stdout.trim();
  if (!binary)
    throw new Error('redis-server is missing: `apt-get install -y redis-server` (Debian)');
  const version = /v=(\S+)/.exec(
    spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout,
  )?.[1];
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.on('error', () => resolve(false));
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
    });
    if (ok) return { child, url: `redis://127.0.0.1:${port}`, version };
    await sleep(50);
  }
  child.kill();
  throw new Error('redis-server did not start');
}
