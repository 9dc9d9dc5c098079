// ws clients that negotiate permessage-deflate (`perMessageDeflate: true`), for
// the memory part of deflate.bench.mjs. Every message is the same 1 KiB
// JSON-like text (an array of objects with repeated keys), which ws compresses
// (its client threshold is 1024 bytes, and the message is exactly 1024).
//
//   node deflate-clients.mjs control <port>
//     One command per line on stdin, one answer per line on stdout:
//     OPEN <n>  → `OPEN <open> <failed>` once n connections are open (idle)
//     ACTIVE    → `ACTIVE <n>` once every open connection has sent one message
//                 and received its echo (so zlib contexts exist on both sides)
//     RESET     → `RESET` after every connection was reset (RST: no TIME_WAIT)
import { WebSocket } from 'ws';
import { answer, openUpTo, serveCommands } from './control.mjs';

const [mode, portArg] = process.argv.slice(2);
const url = `ws://127.0.0.1:${portArg}/`;
const PARALLEL = 256;

/** 1,024 bytes of JSON: an array of objects with the same keys, padded to the exact size. */
function jsonMessage(size = 1024) {
  const rows = [];
  for (let i = 0; JSON.stringify(rows).length < size; i++) {
    rows.push({
      id: i,
      name: `user${i}`,
      active: i % 3 !== 0,
      score: (i * 37) % 100,
      tags: ['a', 'b'],
    });
  }
  rows.pop();
  const text = JSON.stringify(rows);
  return `${text.slice(0, -1)},${JSON.stringify('x'.repeat(Math.max(0, size - text.length - 3)))}]`;
}
const message = jsonMessage();
if (Buffer.byteLength(message) !== 1024) throw new Error(`message is ${message.length} bytes`);

const connect = (onMessage) =>
  new Promise((resolve) => {
    const socket = new WebSocket(url, { perMessageDeflate: true });
    socket.on('open', () => {
      if (!socket.extensions.includes('permessage-deflate')) {
        throw new Error(`permessage-deflate not negotiated (${socket.extensions || 'none'})`);
      }
      resolve(socket);
    });
    socket.on('error', () => resolve(null));
    if (onMessage) socket.on('message', () => onMessage(socket));
  });

if (mode === 'control') {
  const open = new Set();
  let failed = 0;
  let waiting = 0;
  const onMessage = (socket) => {
    if (!socket.armed) return;
    socket.armed = false;
    if (--waiting === 0) answer(`ACTIVE ${open.size}`);
  };
  serveCommands({
    async OPEN(argument) {
      failed += await openUpTo(
        Number(argument),
        PARALLEL,
        () => open.size,
        async () => {
          const socket = await connect(onMessage);
          if (socket) open.add(socket);
          return socket !== null;
        },
      );
      answer(`OPEN ${open.size} ${failed}`);
    },
    ACTIVE() {
      waiting = open.size;
      for (const socket of open) {
        socket.armed = true;
        socket.send(message);
      }
    },
    RESET() {
      for (const socket of open) socket._socket?.resetAndDestroy();
      open.clear();
      answer('RESET');
    },
  });
} else {
  console.error('usage: deflate-clients.mjs control <port>');
  process.exit(2);
}
