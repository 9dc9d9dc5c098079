// Pub/sub: topics on one node, and across nodes through Redis.
//
// 1. Fan-out on one node: one 1 KiB binary message to 1,000 and to 10,000
//    subscribers; the time from the publish call until the last subscriber
//    has received the whole message. @proj/server's `server.publish(topic,
//    data)` (framed once, the same bytes written to every subscriber) against
//    ws looping over its clients (`for (const c of wss.clients) c.send(data)`,
//    framing per send). The subscribers are raw TCP sockets in a child
//    process (no WebSocket parsing on their side: they count bytes), so the
//    time is the server's work plus the kernel's. Clock: process.hrtime in
//    both processes (CLOCK_MONOTONIC, one clock per machine).
// 2. Across nodes: two servers, each with its own RedisAdapter (two Redis
//    connections each) on one redis-server started for the run; a client on
//    node B subscribed to a topic; node A publishes a 64 B message, waits for
//    it to arrive at the client, and publishes the next. p50/p99 of the
//    latency, next to the same through one node (publish on B).
//
//   node pubsub.bench.mjs                  # packages already built; needs redis-server
//   BENCH_RUNS=15 node pubsub.bench.mjs
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocketServer } from '@proj/server';
import { RedisAdapter } from '@proj/redis';
import { WebSocket as ClientWebSocket } from '@proj/client';
import { WebSocketServer as WsServer } from 'ws';
import {
  formatSpread,
  machineLines,
  median,
  now,
  quantile,
  spread,
  writeSection,
} from './lib/results.mjs';

// ---------------------------------------------------------------------------
// The subscribers' process: `node pubsub.bench.mjs clients PORT COUNT FRAME`.

if (process.argv[2] === 'clients') {
  const [port, count, frameBytes] = process.argv.slice(3).map(Number);
  let received = 0;
  let rounds = 0;
  /** Bytes still expected this round, per connection. */
  const sockets = [];
  const connectOne = () =>
    new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' });
      let head = '';
      let upgraded = false;
      let pending = 0;
      socket.on('error', reject);
      socket.on('connect', () =>
        socket.write(
          `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        ),
      );
      socket.on('data', (chunk) => {
        if (!upgraded) {
          head += chunk.toString('latin1');
          const end = head.indexOf('\r\n\r\n');
          if (end === -1) return;
          upgraded = true;
          resolve(socket);
          chunk = Buffer.from(head.slice(end + 4), 'latin1');
        }
        pending += chunk.length;
        // A connection is done for the round once it has one whole frame.
        while (pending >= frameBytes) {
          pending -= frameBytes;
          if (++received === count) {
            const t = process.hrtime.bigint();
            received = 0;
            rounds++;
            process.send({ round: rounds, t: t.toString() });
          }
        }
      });
    });
  for (let i = 0; i < count; i += 200) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 200); j++) batch.push(connectOne());
    sockets.push(...(await Promise.all(batch)));
  }
  process.send({ ready: true });
  process.on('message', (message) => {
    if (message === 'exit') {
      for (const socket of sockets) socket.destroy();
      process.exit(0);
    }
  });
} else {
  await main();
}

async function main() {
  const ROUNDS = Number(process.env['BENCH_RUNS']) || 9;
  const WARMUP = 2;
  const COUNTS = [1000, 10_000];
  const SIZE = 1024;
  const payload = randomBytes(SIZE);
  const frameBytes = 2 + 2 + SIZE; // header with a 16-bit length: 126 <= SIZE < 65536

  /** Publish implementations: start on a port, then `send()` the message to all. */
  const implementations = {
    'ours: server.publish': async () => {
      const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
      server.on('connection', (socket) => socket.subscribe('bench'));
      await server.ready();
      return {
        port: server.address().port,
        ready: (count) => server.subscriberCount('bench') === count,
        send: () => server.publish('bench', payload),
        close: () => server.close({ timeout: 1000 }),
      };
    },
    'ws: loop over clients': async () => {
      const wss = new WsServer({ port: 0, host: '127.0.0.1' });
      await once(wss, 'listening');
      return {
        port: wss.address().port,
        ready: (count) => wss.clients.size === count,
        send: () => {
          for (const client of wss.clients) if (client.readyState === 1) client.send(payload);
        },
        close: () => {
          for (const client of wss.clients) client.terminate();
          return new Promise((resolve) => wss.close(resolve));
        },
      };
    },
  };

  /** @type {Record<number, Record<string, number[]>>} */
  const fanout = {};
  for (const count of COUNTS) {
    fanout[count] = {};
    // One implementation at a time: both up at once would need two times
    // 10,000 sockets in this process, past a usual limit of open files.
    for (const [name, start] of Object.entries(implementations)) {
      const server = await start();
      const child = spawn(
        process.execPath,
        [new URL(import.meta.url).pathname, 'clients', server.port, count, frameBytes],
        { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
      );
      const messages = [];
      let wake = () => {};
      child.on('message', (message) => {
        messages.push(message);
        wake();
      });
      child.on('exit', (code) => {
        if (code !== 0) throw new Error(`the subscribers' process failed (${code})`);
      });
      const next = async () => {
        while (messages.length === 0) await new Promise((resolve) => (wake = resolve));
        return messages.shift();
      };
      await next(); // ready
      while (!server.ready(count)) await sleep(10);
      const times = [];
      for (let round = 0; round < WARMUP + ROUNDS; round++) {
        global.gc?.();
        await sleep(50);
        const t0 = process.hrtime.bigint();
        server.send();
        const done = await next();
        if (round >= WARMUP) times.push(Number(BigInt(done.t) - t0) / 1e6);
      }
      child.send('exit');
      await once(child, 'exit');
      await server.close();
      fanout[count][name] = times;
      console.log(`${count} subscribers, ${name}: median ${median(times).toFixed(2)} ms`);
    }
  }

  // -------------------------------------------------------------------------
  // Across nodes, through Redis.
  const redis = await startRedis();
  let latency;
  try {
    latency = await crossNode(redis.url);
  } finally {
    redis.child.kill('SIGTERM');
    await once(redis.child, 'exit');
  }

  const names = Object.keys(implementations);
  const lines = [
    '## Pub/sub',
    '',
    `Measured ${now()} by \`bench/pubsub.bench.mjs\`.`,
    '',
    ...machineLines(),
    `- redis-server ${redis.version}`,
    '',
    `**Fan-out on one node**: one ${SIZE} B binary message to every subscriber of a topic; time from`,
    'the publish call until the last subscriber (raw sockets in another process) has the whole',
    `message. Median of ${ROUNDS} rounds each (after ${WARMUP} warm-up),`,
    '± half the interquartile range. One implementation at a time (first ours, then ws).',
    '',
    `| subscribers | ${names.join(' | ')} | ws / ours |`,
    `| ---: | ${names.map(() => '---:').join(' | ')} | ---: |`,
    ...COUNTS.map((count) => {
      const cells = names.map(
        (name) =>
          `${median(fanout[count][name]).toFixed(2)} ms ${formatSpread(spread(fanout[count][name]))}`,
      );
      const ratio = median(fanout[count][names[1]]) / median(fanout[count][names[0]]);
      return `| ${count.toLocaleString('en-US')} | ${cells.join(' | ')} | ${ratio.toFixed(2)}× |`;
    }),
    '',
    `**Across nodes through Redis**: ${latency.count} messages of 64 B, one at a time, published on`,
    'node A and received by a client subscribed on node B (two servers with a `RedisAdapter` each,',
    'one process, one local redis-server); the same published on node B itself for comparison.',
    '',
    '| path | p50 | p99 |',
    '| --- | ---: | ---: |',
    `| node A → Redis → node B → client | ${latency.remote.p50.toFixed(3)} ms | ${latency.remote.p99.toFixed(3)} ms |`,
    `| node B → client (same node) | ${latency.local.p50.toFixed(3)} ms | ${latency.local.p99.toFixed(3)} ms |`,
    '',
  ];
  writeSection('Pub/sub', lines.join('\n'));
  console.log(lines.join('\n'));
  process.exit(0);
}

async function crossNode(url) {
  const count = 2000;
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
    for (let i = 0; i < count; i++) {
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
  const remote = await measure(a);
  const local = await measure(b);
  client.close();
  await Promise.all([a.close({ timeout: 500 }), b.close({ timeout: 500 })]);
  return { count, remote, local };
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

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
