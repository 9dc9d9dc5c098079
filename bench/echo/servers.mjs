// The echo servers the benchmark compares, one per process:
//
//   node servers.mjs <kind> [port]
//
// kind: "ours" (@proj/server), "ws" (ws; its optional native addons are used
// when installed unless WS_NO_BUFFER_UTIL / WS_NO_UTF_8_VALIDATE are set), or
// "raw" (a bare node:net server that parses frames minimally, with no
// validation, limits or events: the ceiling any Node implementation can reach).
// "uws" is uWebSockets.js 20.30 (lib/uws.mjs: its native binary, never the
// package's JavaScript fallback), its documented echo with compression off;
// it exits with status 3 where the binary does not load.
// "ours-deflate" and "ws-deflate" are "ours" and "ws" with permessage-deflate
// accepted (`perMessageDeflate: { threshold: 0 }`: every message compressed,
// plus the JSON object in BENCH_DEFLATE_OPTIONS, e.g. a level or window), for
// deflate.bench.mjs. "ours-pubsub" is "ours" with every connection subscribed
// to one topic and BROADCAST publishing to it, for the fan-out through topics.
// "ours-lent" is "ours" with `lendMessages: true`: each message lent to the
// listener as it lies in the read buffer instead of copied (uWS's way).
// Each echoes every message back as it came, prints `READY <port>` once
// listening, and exits on SIGTERM.
//
// A control channel serves the memory and broadcast benchmarks: one command
// per line on stdin, one answer per line on stdout.
//
//   MEM              → `MEM <json>`: process.memoryUsage() after full GCs (run
//                      with --expose-gc, else without GC and `"gc": false`)
//   GC               → `GC` once a full GC ran
//   CLIENTS          → `CLIENTS <n>`: connections the server tracks
//   BROADCAST <size> → `BROADCAST <json>`: one binary message of <size> bytes
//                      sent to every client the library's way (raw: one
//                      socket.write per client of a frame built once); `t0` and `t1` are
//                      process.hrtime.bigint() (ns, CLOCK_MONOTONIC: one clock
//                      for every process on a Linux machine) just before and
//                      just after the send loop, `sent` how many it went to.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { frameHeader, readFrameHeader } from '../gen/raw.mjs';
import { loadUws } from '../lib/uws.mjs';

const [kind = 'ours', portArg = '0'] = process.argv.slice(2);
const port = Number(portArg);
const MAX_PAYLOAD = 64 * 1024 * 1024;

function ready(address) {
  process.stdout.write(`READY ${address.port}\n`);
}

/** Set per kind: how many connections the server tracks, and one broadcast of `data`. */
let countClients = () => NaN;
let broadcast = () => {
  throw new Error(`no broadcast in the ${kind} server`);
};

/** The perMessageDeflate option of the "-deflate" kinds. */
const deflate = kind.endsWith('-deflate')
  ? { threshold: 0, ...JSON.parse(process.env.BENCH_DEFLATE_OPTIONS ?? '{}') }
  : undefined;
const TOPIC = 'bench';

if (kind === 'ours' || kind === 'ours-lent' || kind === 'ours-deflate' || kind === 'ours-pubsub') {
  const { WebSocketServer } = await import('@proj/server');
  // The 1 MiB × 16-in-flight echo queues up to 16 MiB per connection, right at the
  // default send-backlog cap (16 MiB, 'close' policy), which would close the
  // connection mid-run; ws has no such cap, so it is lifted here.
  const server = new WebSocketServer({
    port,
    host: '127.0.0.1',
    maxPayload: MAX_PAYLOAD,
    maxBacklog: Infinity,
    ...(deflate && { perMessageDeflate: deflate }),
    ...(kind === 'ours-lent' && { lendMessages: true }),
  });
  const pubsub = kind === 'ours-pubsub';
  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    if (pubsub) socket.subscribe(TOPIC);
  });
  countClients = () => server.clients.size;
  // Ours: encode the frame once, write the same bytes to every open socket
  // (or to every subscriber of the topic).
  broadcast = pubsub ? (data) => server.publish(TOPIC, data) : (data) => server.broadcast(data);
  await server.ready();
  ready(server.address());
} else if (kind === 'ws' || kind === 'ws-deflate') {
  const { WebSocket, WebSocketServer } = await import('ws');
  const server = new WebSocketServer({
    port,
    host: '127.0.0.1',
    maxPayload: MAX_PAYLOAD,
    perMessageDeflate: deflate ?? false,
  });
  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  countClients = () => server.clients.size;
  // ws's documented broadcast (its README, "Server broadcast"): send() frames
  // the message again for every client.
  broadcast = (data) => {
    let sent = 0;
    server.clients.forEach(function each(client) {
      if (client.readyState === WebSocket.OPEN) {
        client.send(data, { binary: true });
        sent++;
      }
    });
    return sent;
  };
  server.on('listening', () => ready(server.address()));
} else if (kind === 'raw') {
  // Unmasking is the one shared part: a byte loop here would make the
  // "ceiling" slower than the libraries it bounds.
  const { Opcode, applyMask, encodeFrame } = await import('@proj/protocol');
  const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
  const opened = new Set();
  countClients = () => opened.size;
  // The floor for a broadcast from Node: the frame built once, in one piece,
  // then one socket.write of the same bytes per connection.
  broadcast = (data) => {
    const frame = Buffer.concat(encodeFrame(Opcode.Binary, data));
    for (const socket of opened) socket.write(frame);
    return opened.size;
  };
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('close', () => opened.delete(socket));
    let buffered = Buffer.alloc(0);
    let open = false;
    socket.on('data', (chunk) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (!open) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const key = /sec-websocket-key:\s*(\S+)/i.exec(
          buffered.subarray(0, end).toString('latin1'),
        )[1];
        const accept = createHash('sha1')
          .update(key + GUID)
          .digest('base64');
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        buffered = buffered.subarray(end + 4);
        open = true;
        opened.add(socket);
      }
      // Parse complete frames only; unmask and echo each unmasked.
      let offset = 0;
      socket.cork();
      while (readFrameHeader(buffered, offset)) {
        const { size, length } = frameHeader;
        const total = size + length;
        if (buffered.length - offset < total) break;
        const mask = buffered.subarray(offset + size - 4, offset + size);
        const payload = buffered.subarray(offset + size, offset + total);
        applyMask(payload, mask);
        const header = Buffer.from(buffered.subarray(offset, offset + size - 4));
        header[1] &= 0x7f;
        socket.write(header);
        socket.write(payload);
        offset += total;
      }
      socket.uncork();
      buffered = buffered.subarray(offset);
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(port, '127.0.0.1', () => ready(server.address()));
} else if (kind === 'uws') {
  const { uws, reason } = loadUws();
  if (!uws) {
    console.error(`uWebSockets.js does not load: ${reason}`);
    process.exit(3);
  }
  let open = 0;
  countClients = () => open;
  uws
    .App()
    .ws('/*', {
      compression: uws.DISABLED,
      maxPayloadLength: MAX_PAYLOAD,
      // uWS drops a send once a socket's unsent bytes pass maxBackpressure (64 KiB by default):
      // the 1 MiB × 16-in-flight echo would lose messages and stall the generator. Lifted, like
      // ours' maxBacklog, so that every server echoes everything.
      maxBackpressure: 2 ** 31 - 1,
      // No idle timeout (default 120 s): the memory benchmark's connections stay silent.
      idleTimeout: 0,
      open: () => open++,
      close: () => open--,
      message: (ws, message, isBinary) => ws.send(message, isBinary),
    })
    .listen('127.0.0.1', port, (listenSocket) => {
      if (!listenSocket) {
        console.error(`uWebSockets.js could not listen on 127.0.0.1:${port}`);
        process.exit(1);
      }
      ready({ port: uws.us_socket_local_port(listenSocket) });
    });
} else {
  console.error(`unknown server kind "${kind}"`);
  process.exit(2);
}

const payloads = new Map();
const fullGc = async () => {
  if (!globalThis.gc) return false;
  globalThis.gc();
  // Let weak callbacks and finalizers run, then collect what they freed.
  await new Promise((resolve) => setImmediate(resolve));
  globalThis.gc();
  return true;
};
const answer = (line) => process.stdout.write(`${line}\n`);
createInterface({ input: process.stdin }).on('line', async (line) => {
  const [command, argument] = line.trim().split(/\s+/);
  if (command === 'MEM') {
    const gc = await fullGc();
    answer(`MEM ${JSON.stringify({ ...process.memoryUsage(), gc })}`);
  } else if (command === 'GC') {
    await fullGc();
    answer('GC');
  } else if (command === 'CLIENTS') {
    answer(`CLIENTS ${countClients()}`);
  } else if (command === 'BROADCAST') {
    const size = Number(argument);
    if (!payloads.has(size)) payloads.set(size, Buffer.alloc(size, 0x61));
    const data = payloads.get(size);
    const t0 = process.hrtime.bigint();
    const sent = broadcast(data);
    const t1 = process.hrtime.bigint();
    answer(`BROADCAST ${JSON.stringify({ t0: Number(t0), t1: Number(t1), sent })}`);
  } else if (command) {
    answer(`ERROR unknown command ${command}`);
  }
});

process.on('SIGTERM', () => process.exit(0));
