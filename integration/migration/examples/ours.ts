/**
 * ws's README examples of `ws.ts`, ported with exactly the changes that
 * MIGRATING.md lists (each one marked `// MIGRATING:`), and nothing else:
 * `diff ws.ts ours.ts` shows the whole migration.
 * `integration/migration.test.ts` runs both against the same clients.
 */
import { type IncomingMessage, type Server, createServer } from 'node:http';
// MIGRATING: the server and the client are two packages.
import { ServerWebSocket, WebSocketServer } from '@proj/server';
import { WebSocket } from '@proj/client';
import { type Alive, LISTEN, type Log, authenticate } from './shared.js';

// ---- (a) "Simple server", echoing what it receives -----------------------------

export function simpleServer(log: Log): WebSocketServer {
  const wss = new WebSocketServer({ ...LISTEN });

  wss.on('connection', function connection(ws) {
    ws.on('error', (error) => log('error', error));

    ws.on('message', function message(data, isBinary) {
      log('received', data, isBinary);
      ws.send(data, { binary: isBinary });
    });

    ws.on('close', function close(code, reason) {
      log('close', code, reason);
    });

    ws.send('something');
  });

  return wss;
}

// ---- (b) "Server broadcast": to every other client, excluding itself ---------

export function broadcastServer(log: Log): WebSocketServer {
  const wss = new WebSocketServer({ ...LISTEN });

  wss.on('connection', function connection(ws) {
    ws.on('error', (error) => log('error', error));

    ws.on('message', function message(data, isBinary) {
      wss.clients.forEach(function each(client) {
        // MIGRATING: the server's connection class is ServerWebSocket.
        if (client !== ws && client.readyState === ServerWebSocket.OPEN) {
          client.send(data, { binary: isBinary });
        }
      });
    });
  });

  return wss;
}

// ---- (c) FAQ: "How to detect and close broken connections?" ------------------

// MIGRATING: (TypeScript) the server's connection class is ServerWebSocket.
function heartbeat(this: ServerWebSocket): void {
  (this as Alive<ServerWebSocket>).isAlive = true;
}

export function heartbeatServer(log: Log, every: number): WebSocketServer {
  const wss = new WebSocketServer({ ...LISTEN });

  wss.on('connection', function connection(ws) {
    (ws as Alive<ServerWebSocket>).isAlive = true;
    ws.on('error', (error) => log('error', error));
    ws.on('pong', heartbeat);
    ws.on('close', function close(code) {
      log('close', code);
    });
  });

  const interval = setInterval(function ping() {
    wss.clients.forEach(function each(ws) {
      if ((ws as Alive<ServerWebSocket>).isAlive === false) return ws.terminate();

      (ws as Alive<ServerWebSocket>).isAlive = false;
      ws.ping();
    });
  }, every);

  wss.on('close', function close() {
    clearInterval(interval);
  });

  return wss;
}

// ---- (d) "Client authentication" in the HTTP server's upgrade handler --------

export function clientAuthentication(log: Log): { server: Server; wss: WebSocketServer } {
  function onSocketError(err: Error): void {
    log('socket error', err);
  }

  const server = createServer();
  const wss = new WebSocketServer({ noServer: true });

  // MIGRATING: (TypeScript) 'connection' is typed (socket, request): rather
  // than emitting it with a third argument, call the handler from the
  // handleUpgrade callback. (Or let the `authenticate` option do it all.)
  function connection(ws: ServerWebSocket, request: IncomingMessage, client: string): void {
    ws.on('error', (error) => log('error', error));

    ws.on('message', function message(data) {
      log('message', `Received message ${data} from user ${client}`);
    });
  }

  server.on('upgrade', function upgrade(request, socket, head) {
    socket.on('error', onSocketError);

    authenticate(request, function next(err, client) {
      if (err || !client) {
        socket.write('HTTP/1.1 401 Unauthorized\r\n\r\n');
        socket.destroy();
        return;
      }

      socket.removeListener('error', onSocketError);

      wss.handleUpgrade(request, socket, head, function done(ws) {
        connection(ws, request, client);
      });
    });
  });

  server.listen(LISTEN.port, LISTEN.host);
  return { server, wss };
}

// ---- (e) "Multiple servers sharing a single HTTP/S server" -------------------

export function sharedServer(log: Log): {
  server: Server;
  wss1: WebSocketServer;
  wss2: WebSocketServer;
} {
  const server = createServer();
  const wss1 = new WebSocketServer({ noServer: true });
  const wss2 = new WebSocketServer({ noServer: true });

  wss1.on('connection', function connection(ws) {
    ws.on('error', (error) => log('error', error));

    ws.send('wss1');
  });

  wss2.on('connection', function connection(ws) {
    ws.on('error', (error) => log('error', error));

    ws.send('wss2');
  });

  server.on('upgrade', function upgrade(request, socket, head) {
    const { pathname } = new URL(request.url ?? '/', 'wss://base.url');

    if (pathname === '/foo') {
      wss1.handleUpgrade(request, socket, head, function done(ws) {
        wss1.emit('connection', ws, request);
      });
    } else if (pathname === '/bar') {
      wss2.handleUpgrade(request, socket, head, function done(ws) {
        wss2.emit('connection', ws, request);
      });
    } else {
      socket.destroy();
    }
  });

  server.listen(LISTEN.port, LISTEN.host);
  return { server, wss1, wss2 };
}

// ---- (f) The client: "Sending and receiving text data", "Sending binary data" --

export function textClient(url: string, log: Log): WebSocket {
  const ws = new WebSocket(url);

  // MIGRATING: an EventTarget: addEventListener, and each listener gets an event.
  ws.addEventListener('error', (event) => log('error', event.error));

  ws.addEventListener('open', function open() {
    ws.send('something');
  });

  ws.addEventListener('message', function message(event) {
    log('message', event.data);
    ws.close();
  });

  ws.addEventListener('close', function close(event) {
    log('close', event.code, event.reason);
  });

  return ws;
}

export function binaryClient(url: string, log: Log): WebSocket {
  const ws = new WebSocket(url);
  // MIGRATING: binary messages are Blobs by default; ws's default is Buffers.
  ws.binaryType = 'arraybuffer';

  // MIGRATING: an EventTarget: addEventListener, and each listener gets an event.
  ws.addEventListener('error', (event) => log('error', event.error));

  ws.addEventListener('open', function open() {
    const array = new Float32Array(5);

    for (let i = 0; i < array.length; ++i) {
      array[i] = i / 2;
    }

    ws.send(array);
  });

  // MIGRATING: no isBinary argument: text is a string, binary is not.
  ws.addEventListener('message', function message(event) {
    log('message', event.data);
    if (typeof event.data !== 'string') ws.close();
  });

  ws.addEventListener('close', function close(event) {
    log('close', event.code, event.reason);
  });

  return ws;
}
