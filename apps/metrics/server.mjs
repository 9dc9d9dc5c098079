// @ts-check
// An echo server that Prometheus can scrape: WebSocket on one port, and
// `GET /metrics` on a second one, so the metrics can stay on a private
// interface while the WebSocket port faces the world.
//
//   pnpm --dir apps/metrics start
//   HOST=0.0.0.0 PORT=9000 METRICS_HOST=10.0.0.5 METRICS_PORT=9464 node server.mjs
//
// PORT=0 / METRICS_PORT=0 pick free ports, printed at start. Shuts down
// gracefully on Ctrl-C / SIGTERM through `server.drain()`: it stops
// accepting and closes its clients one by one over DRAIN_MS (default
// 10 000) with 1012 and `retry-after=0` (close cause `drain` in
// websocket_closes_total), then closes the metrics server. A second signal
// exits at once.
import { createServer } from 'node:http';
import { WebSocketServer } from '@proj/server';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { registerWebSocketMetrics } from './websocket-metrics.mjs';

const host = process.env['HOST'] || '127.0.0.1';
const port = Number(process.env['PORT'] ?? 8080);
const metricsHost = process.env['METRICS_HOST'] || host;
const metricsPort = Number(process.env['METRICS_PORT'] ?? 9464);
const drainWindow = Number(process.env['DRAIN_MS'] ?? 10_000);

const server = new WebSocketServer({
  host,
  port,
  maxPayload: 1024 * 1024,
  // Drops clients that vanished without closing (heartbeat-timeout closes).
  heartbeatInterval: 30_000,
});
server.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
});

const registry = new Registry();
collectDefaultMetrics({ register: registry });
// In the same tick as the server's creation: no handshake can have happened
// yet, so the channel counters miss nothing that stats() counts.
const metrics = registerWebSocketMetrics(server, registry);

const metricsServer = createServer((request, response) => {
  /** @param {number} status @param {string} text @param {Record<string, string>} [headers] */
  const plain = (status, text, headers = {}) => {
    response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    response.end(request.method === 'HEAD' ? undefined : `${text}\n`);
  };
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (path !== '/metrics') return plain(404, 'Not found: the metrics are at /metrics');
  if (request.method !== 'GET' && request.method !== 'HEAD')
    return plain(405, 'Method not allowed', { allow: 'GET, HEAD' });
  registry.metrics().then(
    (body) => {
      response.writeHead(200, { 'content-type': registry.contentType });
      response.end(request.method === 'HEAD' ? undefined : body);
    },
    (/** @type {Error} */ error) => plain(500, `Collecting the metrics failed: ${error.message}`),
  );
});

try {
  await server.ready();
  await new Promise((resolve, reject) => {
    metricsServer.once('error', reject);
    metricsServer.listen(metricsPort, metricsHost, () => {
      metricsServer.off('error', reject);
      resolve(undefined);
    });
  });
} catch (error) {
  console.error(`metrics example failed to start: ${/** @type {Error} */ (error).message}`);
  process.exit(1);
}
console.log(`echo server listening on ws://${host}:${portOf(server.address())}`);
console.log(`metrics on http://${metricsHost}:${portOf(metricsServer.address())}/metrics`);

let draining = false;
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    if (draining) {
      console.log('exiting now');
      process.exit(1);
    }
    draining = true;
    console.log(`draining ${server.clients.size} connections over ${drainWindow} ms`);
    // The metrics stay up while draining, so the drain itself can be watched.
    void server
      .drain({ window: drainWindow })
      .then(() => new Promise((resolve) => metricsServer.close(resolve)))
      .then(() => {
        metrics.close();
        process.exit(0);
      });
  });
}

/** @param {import('node:net').AddressInfo | string | null} address */
function portOf(address) {
  return typeof address === 'object' && address ? address.port : address;
}
