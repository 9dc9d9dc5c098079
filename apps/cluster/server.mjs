// @ts-check
// @proj/server on every core: node:cluster forks one worker per core, each
// runs its own WebSocketServer on the same port (the primary hands out the
// connections), and topics reach every worker through the primary.
//
//   PORT=8080 WORKERS=4 pnpm --dir apps/cluster start
//
// Every message is echoed back to its sender, except text that starts with
// "lobby:", which is published to the topic "lobby" that every connection is
// subscribed to, whichever worker holds it. SIGTERM or Ctrl-C shuts down
// gracefully: each worker closes its server (every client gets 1001), then
// the primary exits.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { ClusterAdapter, WebSocketServer, installClusterRelay } from '@proj/server';

const host = process.env['HOST'] || '127.0.0.1';
const port = Number(process.env['PORT'] ?? 8080);
const workers = Number(process.env['WORKERS'] || availableParallelism());

if (cluster.isPrimary) {
  // Before forking: the relay carries each worker's publishes to the others.
  installClusterRelay();
  let stopping = false;
  let listening = 0;
  cluster.on('listening', (worker, address) => {
    // Port 0: every worker shares the one port the first listen picked.
    if (++listening === workers) {
      console.log(`cluster listening on ws://${host}:${address.port} with ${workers} workers`);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    // A worker that dies is replaced; its clients reconnect to the others.
    console.error(`worker ${worker.id} died (${signal ?? code}); forking another`);
    cluster.fork();
  });
  for (let i = 0; i < workers; i++) cluster.fork();

  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    process.once(signal, () => {
      stopping = true;
      console.log('shutting down');
      // Ctrl-C reaches the workers from the terminal too; a SIGTERM to the
      // primary alone is passed on. Each worker closes its own server; the
      // primary exits once they all have.
      const alive = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
      let left = alive.length;
      if (left === 0) process.exit(0);
      cluster.on('exit', () => {
        if (--left === 0) process.exit(0);
      });
      for (const worker of alive) worker.process.kill('SIGTERM');
    });
  }
} else {
  const id = cluster.worker?.id;
  const server = new WebSocketServer({
    host,
    port,
    maxPayload: 16 * 1024 * 1024,
    // Per worker: its own heartbeat for its own connections.
    heartbeatInterval: 30_000,
    adapter: new ClusterAdapter(),
    // Which worker took the connection: handy when trying it out.
    headers: (headers) => {
      headers['X-Worker'] = String(id);
    },
  });
  server.on('listening', () => console.log(`worker ${id} (pid ${process.pid}) listening`));
  server.on('error', (error) => {
    console.error(`worker ${id} failed: ${error.message}`);
    process.exitCode = 1;
  });
  server.on('connection', (socket) => {
    socket.subscribe('lobby');
    socket.on('message', (data, isBinary) => {
      if (!isBinary && data.toString().startsWith('lobby:')) {
        server.publish('lobby', data.toString().slice('lobby:'.length));
      } else {
        socket.send(data, { binary: isBinary });
      }
    });
  });

  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    process.once(signal, () => {
      // Stops accepting (the primary sends new connections to the other
      // workers), sends 1001 to every client of this worker and waits for
      // them (up to closeTimeout), then closes the adapter.
      void server.close().then(() => process.exit(0));
    });
  }
}
