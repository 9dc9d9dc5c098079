// Client library load: `connections` WebSockets of one client library to an
// echo server, each keeping `inflight` binary messages outstanding (every
// message received is answered with a new one). Measures the library, so it
// uses each one the way its documentation does:
//
//   ours: `new WebSocket(url)` from @proj/client (WHATWG API), binaryType
//         "arraybuffer" (the default "blob" would add Blob reads), onmessage
//   undici: `new WebSocket(url)` from undici (the WHATWG client that Node's
//         global WebSocket is), binaryType "arraybuffer", onmessage
//   ws:   `new WebSocket(url, { perMessageDeflate: false })` from ws, messages
//         as Buffers (its default), `on('message')`; its native addons are
//         used unless WS_NO_BUFFER_UTIL / WS_NO_UTF_8_VALIDATE are set
//
//   node client-load.mjs <ours|undici|ws> <port> <connections> <inflight> <size> <seconds>
//
// Prints one JSON line: messages received per second in the measured window
// (after a warm-up), total messages, and this process's CPU share.
import { measureWindow } from './raw.mjs';

const [library, ...numbers] = process.argv.slice(2);
const [port, connections, inflight, size, seconds] = numbers.map(Number);
const WARMUP_MS = 300;
const url = `ws://127.0.0.1:${port}/`;
const payload = Buffer.alloc(size, 0x61);

let received = 0;
let total = 0;
let measuring = false;

/** A WHATWG WebSocket (ours, undici's): ArrayBuffers, onmessage. */
function openWhatwg(WebSocket) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => resolve(socket);
    socket.onerror = (event) => reject(event.error ?? new Error('connection failed'));
    socket.onmessage = () => {
      total++;
      if (measuring) received++;
      socket.send(payload);
    };
  });
}

function openWs(WebSocket) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    socket.on('open', () => resolve(socket));
    socket.on('error', reject);
    socket.on('message', () => {
      total++;
      if (measuring) received++;
      socket.send(payload);
    });
  });
}

const open =
  library === 'ours'
    ? openWhatwg.bind(null, (await import('@proj/client')).WebSocket)
    : library === 'undici'
      ? openWhatwg.bind(null, (await import('undici')).WebSocket)
      : openWs.bind(null, (await import('ws')).WebSocket);
const sockets = await Promise.all(Array.from({ length: connections }, open));
for (const socket of sockets) for (let i = 0; i < inflight; i++) socket.send(payload);

const { elapsed, cpu } = await measureWindow(WARMUP_MS, seconds, (on) => {
  measuring = on;
});
process.stdout.write(
  JSON.stringify({
    messages: received,
    total,
    seconds: elapsed,
    rate: received / elapsed,
    mibps: (received * size) / elapsed / 1024 / 1024,
    cpu: cpu,
  }) + '\n',
);
process.exit(0);
