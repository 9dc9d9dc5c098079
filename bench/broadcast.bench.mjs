// Broadcast: one binary message (16 B, 1 KiB) to 1,000 and to 10,000
// connected clients; the time from the server's broadcast call until the last
// client has received the whole message. @proj/server's `server.broadcast(data)`
// (the frame encoded once, the same bytes written to every socket) against ws's
// documented way (`wss.clients.forEach(c => c.readyState === OPEN && c.send(data))`,
// framing per send), plain and with its native addons. "ours publish" is the
// same fan-out through topics: every client subscribed to one topic and
// `server.publish(topic, data)`, against the same ws loop (ws has no topics).
//
// Clock: the server process reads process.hrtime.bigint() just before the
// broadcast call (t0); the client process reads it when each connection has
// received the message. process.hrtime is libuv's uv_hrtime, CLOCK_MONOTONIC
// on Linux: one clock for every process on the machine (checked at start),
// so "last receipt - t0" needs no clock sync.
//
// Both servers (pinned to core 0) stay up with their own client process
// (gen/clients.mjs, raw sockets, pinned to core 1), so rounds alternate between
// them without reconnecting: first with 1,000 connections each, then with
// 10,000. Before each round the server runs a full GC (garbage of the previous
// round is not charged to the next). Each cell: the median of the rounds.
//
//   node broadcast.bench.mjs                     # packages already built
//   BENCH_RUNS=15 node broadcast.bench.mjs
import { spawnSync } from 'node:child_process';
import {
  FULL,
  SERVERS,
  WS_SERVERS,
  alternate,
  cFloor,
  pinningNote,
  runsOr,
  startWithIdleClients,
  waitForClients,
} from './lib/harness.mjs';
import { formatSize, formatSpread, mediansOf, publish, sectionHead } from './lib/results.mjs';

const ROUNDS = runsOr(FULL ? 15 : 7);
const WARMUP_ROUNDS = 2;
const COUNTS = [1000, 10_000];
const SIZES = [16, 1024];
// raw net: a bare node:net server (echo/servers.mjs "raw") writing one frame,
// built once, to every socket: the floor for a broadcast from Node, and so
// the most any Node implementation can gain over ws here.
// C floor: gen/broadcaster.c, one write(2) of prebuilt bytes per socket and
// nothing else: the most any implementation, in any language, could gain over
// ws. Left out where no C compiler is found.
const C_FLOOR = cFloor();
const OURS = [SERVERS.ours.name, SERVERS.oursPublish.name];
const REFERENCES = WS_SERVERS.map((s) => s.name);
const IMPLEMENTATIONS = [
  SERVERS.ours,
  SERVERS.oursPublish,
  ...WS_SERVERS,
  SERVERS.raw,
  ...(C_FLOOR ? [C_FLOOR] : []),
];
const RAW = SERVERS.raw.name;
const FLOORS = [RAW, ...(C_FLOOR ? [C_FLOOR.name] : [])];
/** The results.json metric of each of ours: the broadcast call, or publishing to a topic. */
const METRIC = { ours: 'time to last client', 'ours publish': 'time to last client, via publish' };

// The shared clock, checked: a child's reading falls between two of ours.
{
  const before = process.hrtime.bigint();
  const child = spawnSync(process.execPath, ['-p', 'process.hrtime.bigint().toString()'], {
    encoding: 'utf8',
  });
  const after = process.hrtime.bigint();
  const theirs = BigInt(child.stdout.trim());
  if (!(before <= theirs && theirs <= after)) {
    throw new Error(
      'process.hrtime is not one clock across processes here: cannot time broadcasts',
    );
  }
}

async function round(pair, size) {
  await pair.server.ask('GC');
  await pair.clients.ask('ARM', 'ARMED');
  const got = pair.clients.next('GOT', 30_000);
  const sent = JSON.parse(await pair.server.ask(`BROADCAST ${size}`));
  const received = JSON.parse(await got);
  return {
    last: (received.last - sent.t0) / 1e6,
    first: (received.first - sent.t0) / 1e6,
    loop: (sent.t1 - sent.t0) / 1e6,
    // The client process's CPU during the round, over the round's length.
    clientCpu: received.cpu / ((received.last - sent.t0) / 1e9),
    sent: sent.sent,
  };
}

const began = Date.now();
const pairs = [];
for (const implementation of IMPLEMENTATIONS) {
  const { server, clients } = await startWithIdleClients(implementation);
  pairs.push({ name: implementation.name, server, clients });
}

const results = [];
try {
  for (const count of COUNTS) {
    for (const pair of pairs) {
      const [open, failed] = (await pair.clients.ask(`OPEN ${count}`)).split(' ').map(Number);
      if (open !== count)
        throw new Error(`${pair.name}: ${open} connections open (${failed} failed)`);
      await waitForClients(pair.server, count);
    }
    for (const size of SIZES) {
      const samples = new Map(pairs.map((pair) => [pair.name, []]));
      for (let r = 0; r < WARMUP_ROUNDS + ROUNDS; r++) {
        for (const pair of alternate(pairs, r)) {
          const result = await round(pair, size);
          if (result.sent !== count)
            throw new Error(`${pair.name} sent to ${result.sent} of ${count}`);
          if (r >= WARMUP_ROUNDS) samples.get(pair.name).push(result);
        }
      }
      const by = {};
      for (const [name, rounds] of samples) {
        // busy: the share of the time to last the server spent in its send loop (its core was
        // busy at least that long), the server's CPU share in the terms of lib/limit.mjs.
        const busy = rounds.map((r) => ({ ...r, busy: r.loop / r.last }));
        by[name] = mediansOf(busy, ['last', 'first', 'loop', 'clientCpu', 'busy']);
      }
      results.push({ count, size, by });
      console.log(
        `broadcast ${formatSize(size)} to ${count}: ` +
          pairs.map((p) => `${p.name} ${by[p.name].last.toFixed(2)} ms`).join(', ') +
          ` (ws/ours ${(by.ws.last / by.ours.last).toFixed(2)}×` +
          FLOORS.map((n) => `, ws/${n} ${(by.ws.last / by[n].last).toFixed(2)}×`).join('') +
          ')',
      );
    }
  }
} finally {
  for (const pair of pairs) {
    await pair.clients.ask('RESET').catch(() => {});
    await pair.clients.stop();
    await pair.server.stop();
  }
}

const names = pairs.map((p) => p.name);
const ms = (value) => value.toFixed(2);
const percent = (share) => `${(share * 100).toFixed(0)}%`;
/** [reference, ours] pairs of the ratio columns: every ws against every one of ours. */
const RATIOS = OURS.flatMap((o) => REFERENCES.map((r) => [r, o]));
const seconds = (Date.now() - began) / 1000;
const section = [
  ...sectionHead('Broadcast', 'broadcast.bench.mjs', seconds, REFERENCES),
  `- ${pinningNote}. One binary message to every connected client. Ours: \`server.broadcast(data)\` ` +
    '(encodes the frame once, writes the same bytes to every socket); ours publish: every client ' +
    'subscribed to one topic on connection and `server.publish(topic, data)` (the fan-out through ' +
    'topics); ws: its documented broadcast, ' +
    '`wss.clients.forEach((client) => { if (client.readyState === WebSocket.OPEN) client.send(data, ' +
    '{ binary: true }) })` (frames the message again per send). ws has no topics, so both of ours are ' +
    'compared with the same ws loop.',
  '- Time to last = from just before the broadcast call in the server process to the moment the last ' +
    'client has the whole message, in the client process (gen/clients.mjs: raw sockets, one process ' +
    'holding all connections). Both processes read `process.hrtime` (CLOCK_MONOTONIC, one clock for ' +
    'the whole machine on Linux; checked at start). Send loop = the broadcast call alone, in the server; ' +
    'server busy = send loop / time to last (near 100%: the server was the limit). ' +
    "Client CPU = the client process's CPU share during the round (near 100%: receiving, not sending, " +
    'was the limit).',
  `- ${RAW}: a bare \`node:net\` server that builds the frame once and calls \`socket.write\` with it for ` +
    'every connection, with no WebSocket state at all: the floor for a broadcast from Node. ' +
    `ws/${RAW} is therefore the most any Node implementation could gain over ws at that point; where it ` +
    "is under 2×, the issue's 2× target is out of reach for a Node server on this machine.",
  ...(C_FLOOR
    ? [
        `- ${C_FLOOR.name}: gen/broadcaster.c, a native process that accepts the same clients and writes ` +
          'a frame built once to every socket, one `write(2)` each, with no runtime in between: what one ' +
          `write per socket costs here in any language. ws/${C_FLOOR.name} bounds what any implementation ` +
          'could gain over ws while writing to every socket.',
      ]
    : []),
  `- All servers stay up with their connections; rounds alternate between them, ${WARMUP_ROUNDS} ` +
    `warm-up rounds then ${ROUNDS} measured per point, a full GC in the server before each round; ` +
    'medians, spread ±half the interquartile range. Ratio: ws time / our time (above 1: ours is faster).',
  '',
  `| clients | payload | ${names.map((n) => `${n} time to last, ms (spread)`).join(' | ')} | ${names.map((n) => `${n} send loop, ms`).join(' | ')} ` +
    `| server busy (${names.join(' / ')}) | client CPU (${names.join(' / ')}) ` +
    `| ${RATIOS.map(([r, o]) => `${r}/${o} time to last`).join(' | ')} | ${FLOORS.map((n) => `ws/${n} time to last`).join(' | ')} |`,
  `|--:|---|${names.map(() => '--:').join('|')}|${names.map(() => '--:').join('|')}|--:|--:|${RATIOS.map(() => '--:').join('|')}|${FLOORS.map(() => '--:').join('|')}|`,
  ...results.map(
    ({ count, size, by }) =>
      `| ${count.toLocaleString('en-US')} | ${formatSize(size)} ` +
      `| ${names.map((n) => `${ms(by[n].last)} (${formatSpread(by[n].lastSpread)})`).join(' | ')} ` +
      `| ${names.map((n) => ms(by[n].loop)).join(' | ')} ` +
      `| ${names.map((n) => percent(by[n].busy)).join(' / ')} ` +
      `| ${names.map((n) => percent(by[n].clientCpu)).join(' / ')} ` +
      `| ${RATIOS.map(([r, o]) => `**${(by[r].last / by[o].last).toFixed(2)}×**`).join(' | ')} ` +
      `| ${FLOORS.map((n) => `${(by.ws.last / by[n].last).toFixed(2)}×`).join(' | ')} |`,
  ),
  '',
];

/** The CPU shares of one comparison, in the roles of lib/limit.mjs. */
const cpuOf = (by, o, r) =>
  Object.fromEntries([
    ['ours', { server: by[o].busy, clients: by[o].clientCpu }],
    [r, { server: by[r].busy, clients: by[r].clientCpu }],
  ]);
publish(
  'Broadcast',
  section,
  results.flatMap(({ count, size, by }) => {
    const point = `${formatSize(size)} to ${count.toLocaleString('en-US')} clients`;
    const entry = (metric, o, r, key = 'last') => ({
      point,
      metric,
      unit: 'ms',
      better: 'lower',
      ours: by[o][key],
      ws: by[r][key],
      against: r,
      cpu: cpuOf(by, o, r),
    });
    return [
      ...RATIOS.map(([r, o]) => entry(METRIC[o], o, r)),
      ...REFERENCES.map((r) => entry('server send loop', 'ours', r, 'loop')),
      // "ws" holds the floor's time: the ratio says how close ours is to it.
      ...FLOORS.map((floor) => entry('time to last client', 'ours', floor)),
    ];
  }),
  {
    seconds: Math.round(seconds),
    runs: ROUNDS,
    roles: { measured: 'server', load: 'clients' },
    generator: 'gen/clients.mjs (Node, receiving clients)',
  },
);
