// The server of http2.bench.mjs, one process: two @proj/server echoes, as
// echo/servers.mjs's "ours" (maxPayload 64 MiB, maxBacklog lifted).
//
// - `http2.createSecureServer({ allowHTTP1: true, cert, key })` with a
//   WebSocketServer attached: WebSockets as extended CONNECT streams (RFC
//   8441) and as HTTP/1.1 Upgrades over TLS, on the same port.
// - A plain `WebSocketServer({ port })`: HTTP/1.1 Upgrades over plain TCP.
// - The first again with its receive windows raised to WIDE_WINDOW (the
//   stream's by SETTINGS, the connection's by `session.setLocalWindowSize`):
//   what node's default windows cost.
//
//   node gen/h2-server.mjs <certificate directory>
//
// Prints `READY <secure port> <plain port> <wide port>` once all listen, exits on
// SIGTERM, and answers on stdout one line per command line on stdin:
//
//   MEM      → `MEM <json>`: process.memoryUsage() after full GCs (run with
//              --expose-gc, else without GC and `"gc": false`)
//   CLIENTS  → `CLIENTS <n>`: WebSockets the servers track
//   SESSIONS → `SESSIONS <n>`: HTTP/2 sessions open
import http2 from 'node:http2';
import { createInterface } from 'node:readline';
import { WebSocketServer } from '@proj/server';
import { WIDE_WINDOW, readCertificate } from './h2-shared.mjs';

const { cert, key } = readCertificate(process.argv[2]);
const OPTIONS = { maxPayload: 64 * 1024 * 1024, maxBacklog: Infinity };
const echo = (socket) =>
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));

let sessions = 0;
/** An HTTP/2 server with a WebSocketServer attached; `window` raises its receive windows. */
async function secureServer(window) {
  const h2 = http2.createSecureServer({
    allowHTTP1: true,
    cert,
    key,
    ...(window && { settings: { initialWindowSize: window } }),
  });
  const wss = new WebSocketServer({ server: h2, ...OPTIONS });
  wss.on('connection', echo);
  h2.on('session', (session) => {
    sessions++;
    session.once('close', () => sessions--);
    // The connection's window: no SETTINGS for it, only WINDOW_UPDATE (RFC 9113 §6.9.2).
    if (window) session.setLocalWindowSize(window);
  });
  await new Promise((resolve) => h2.listen(0, '127.0.0.1', resolve));
  return { h2, wss };
}

// Node's defaults otherwise, as an application that writes this line gets them
// (flow-control windows of 64 KiB, 10 MiB of session memory).
const secure = await secureServer();
const wide = await secureServer(WIDE_WINDOW);

const plain = new WebSocketServer({ port: 0, host: '127.0.0.1', ...OPTIONS });
plain.on('connection', echo);
await plain.ready();

process.stdout.write(
  `READY ${secure.h2.address().port} ${plain.address().port} ${wide.h2.address().port}\n`,
);

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
  const command = line.trim();
  if (command === 'MEM') {
    const gc = await fullGc();
    answer(`MEM ${JSON.stringify({ ...process.memoryUsage(), gc })}`);
  } else if (command === 'CLIENTS') {
    answer(`CLIENTS ${secure.wss.clients.size + plain.clients.size + wide.wss.clients.size}`);
  } else if (command === 'SESSIONS') {
    answer(`SESSIONS ${sessions}`);
  } else if (command) {
    answer(`ERROR unknown command ${command}`);
  }
});

process.on('SIGTERM', () => process.exit(0));
