/**
 * The same examples once more, written the way this library would have you
 * write them (MIGRATING.md shows each next to ws's code): `broadcast` and
 * topics instead of looping over `clients`, the `heartbeatInterval` option
 * instead of a hand-made `isAlive` timer, the `authenticate` option instead
 * of authenticating in the `upgrade` handler, and `path` on attached servers
 * instead of dispatching `upgrade` by hand. `integration/migration.test.ts`
 * holds them to the same observable results as ws's versions.
 */
import { type Server, createServer } from 'node:http';
import { WebSocketServer, reject } from '@proj/server';
import { LISTEN, type Log, authenticate as checkToken } from './shared.js';

/** (b) Everyone but the sender: one frame encoded once, written to each. */
export function broadcastServer(log: Log): WebSocketServer {
  const wss = new WebSocketServer({ ...LISTEN });
  wss.on('connection', (ws) => {
    ws.on('error', (error) => log('error', error));
    ws.on('message', (data, isBinary) => {
      wss.broadcast(data, { binary: isBinary, filter: (client) => client !== ws });
    });
  });
  return wss;
}

/** (b) With a topic, socket.io's `socket.to(room).emit(...)`: every subscriber but the sender. */
export function topicServer(log: Log): WebSocketServer {
  const wss = new WebSocketServer({ ...LISTEN });
  wss.on('connection', (ws) => {
    ws.on('error', (error) => log('error', error));
    ws.subscribe('everyone');
    ws.on('message', (data, isBinary) => {
      wss.publish('everyone', data, { binary: isBinary, except: ws });
    });
  });
  return wss;
}

/** (c) The server pings and terminates the silent: one timer for all connections. */
export function heartbeatServer(log: Log, every: number): WebSocketServer {
  const wss = new WebSocketServer({ ...LISTEN, heartbeatInterval: every });
  wss.on('connection', (ws) => {
    ws.on('error', (error) => log('error', error));
    ws.on('close', (code, _reason, _wasClean, cause) => log('close', code, cause));
  });
  return wss;
}

/**
 * (d) Authentication before the 101, in the handshake: `authenticate`
 * returns the connection's data (typed: `ws.data.user`) or a rejection.
 */
export function clientAuthentication(log: Log): {
  server: Server;
  wss: WebSocketServer<{ user: string }>;
} {
  const server = createServer();
  const wss = new WebSocketServer<{ user: string }>({
    noServer: true,
    authenticate: (request) =>
      new Promise((resolve) => {
        checkToken(request, (err, client) =>
          resolve(err || !client ? reject(401) : { user: client }),
        );
      }),
  });
  wss.on('connection', (ws) => {
    ws.on('error', (error) => log('error', error));
    ws.on('message', (data) => {
      log('message', `Received message ${data} from user ${ws.data.user}`);
    });
  });
  server.on('upgrade', (request, socket, head) => wss.handleUpgrade(request, socket, head));
  server.listen(LISTEN.port, LISTEN.host);
  return { server, wss };
}

/**
 * (e) Two endpoints on one HTTP server by `path`: each server takes its own
 * upgrades, and one for neither path is answered 404.
 */
export function sharedServer(log: Log): {
  server: Server;
  wss1: WebSocketServer;
  wss2: WebSocketServer;
} {
  const server = createServer();
  const wss1 = new WebSocketServer({ server, path: '/foo' });
  const wss2 = new WebSocketServer({ server, path: '/bar' });
  wss1.on('connection', (ws) => {
    ws.on('error', (error) => log('error', error));
    ws.send('wss1');
  });
  wss2.on('connection', (ws) => {
    ws.on('error', (error) => log('error', error));
    ws.send('wss2');
  });
  server.listen(LISTEN.port, LISTEN.host);
  return { server, wss1, wss2 };
}
