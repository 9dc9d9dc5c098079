// Memory a client library holds per open connection, idle: `count` WebSockets
// of one library open to an echo server, the heap and RSS after full garbage
// collections, before they open and after.
//
//   node client-memory.mjs <ours|undici|ws> <port> <count>
//
// Each library is used as client-load.mjs uses it (ours and undici: the
// WHATWG `WebSocket` with an `onopen`; ws: `perMessageDeflate: false` and an
// 'open' listener). 100 connections are opened and kept first, so that what
// a library makes once (its modules, pools, compiled code) is in the baseline.
// Prints one JSON line: bytes of heap and of RSS per connection.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const [library, port, count] = [process.argv[2], ...process.argv.slice(3).map(Number)];
const url = `ws://127.0.0.1:${port}/`;
const BATCH = 50;

// A full collection on demand without the --expose-gc flag (spawned as `node script`).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

const WebSocket =
  library === 'ours'
    ? (await import('@proj/client')).WebSocket
    : library === 'undici'
      ? (await import('undici')).WebSocket
      : (await import('ws')).WebSocket;

function openOne() {
  return new Promise((resolve, reject) => {
    if (library === 'ws') {
      const socket = new WebSocket(url, { perMessageDeflate: false });
      socket.on('open', () => resolve(socket));
      socket.on('error', reject);
    } else {
      const socket = new WebSocket(url);
      socket.onopen = () => resolve(socket);
      socket.onerror = () => reject(new Error(`${library}: a connection failed`));
    }
  });
}

async function openMany(n) {
  const sockets = [];
  for (let i = 0; i < n; i += BATCH) {
    sockets.push(...(await Promise.all(Array.from({ length: Math.min(BATCH, n - i) }, openOne))));
  }
  return sockets;
}

function settledMemory() {
  gc();
  gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}

const kept = [await openMany(100)];
await new Promise((resolve) => setTimeout(resolve, 100));
const before = settledMemory();
kept.push(await openMany(count));
await new Promise((resolve) => setTimeout(resolve, 200));
const after = settledMemory();
process.stdout.write(
  JSON.stringify({
    heap: (after.heapUsed - before.heapUsed) / count,
    rss: (after.rss - before.rss) / count,
    open: kept.flat().length,
  }) + '\n',
);
process.exit(0);
