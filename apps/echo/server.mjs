// @ts-check
// An echo server: text comes back as text, binary as binary.
//
//   HOST=0.0.0.0 PORT=9000 pnpm --dir apps/echo start
//
// It picks the first subprotocol a client offers, accepts messages up to
// 16 MiB, logs each connection, and shuts down gracefully on Ctrl-C or
// SIGTERM through `server.drain()`: it stops accepting, and closes its
// clients one by one over DRAIN_MS (default 10 000) with 1012 and
// `retry-after=0`, so that they reconnect to another instance at an even
// rate. A second signal exits at once.
//
//   DRAIN_MS=30000 node server.mjs
import { WebSocketServer } from '@proj/server';

const host = process.env['HOST'] || '127.0.0.1';
const port = Number(process.env['PORT'] ?? 8080);
const drainWindow = Number(process.env['DRAIN_MS'] ?? 10_000);

const server = new WebSocketServer({
  host,
  port,
  maxPayload: 16 * 1024 * 1024,
  // An echo speaks whatever the client offers: its first choice (a Set, in its order).
  handleProtocols: (offered) => offered.values().next().value ?? false,
});

server.on('listening', () => {
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  console.log(`echo server listening on ws://${host}:${actualPort}`);
});

server.on('error', (error) => {
  console.error(`echo server failed: ${error.message}`);
  process.exitCode = 1;
});

let nextId = 1;
server.on('connection', (socket, request) => {
  const id = nextId++;
  const protocol = socket.protocol ? ` protocol=${socket.protocol}` : '';
  console.log(`#${id} connected from ${socket.remoteAddress} ${request.url}${protocol}`);
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on('close', (code, reason) =>
    console.log(`#${id} closed ${code}${reason ? ` ${reason}` : ''}`),
  );
});

let draining = false;
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    if (draining) {
      console.log('exiting now');
      process.exit(1);
    }
    draining = true;
    console.log(`draining ${server.clients.size} connections over ${drainWindow} ms`);
    void server.drain({ window: drainWindow }).then(() => process.exit(0));
  });
}
