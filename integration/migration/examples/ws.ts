/**
 * ws's README examples (ws 8.23.0: "Usage examples" and the FAQ's "How to
 * detect and close broken connections?"), as ws writes them, so that
 * `integration/migration.test.ts` can run them next to their ports in
 * `ours.ts`. Compare the two files side by side: every difference is one
 * that MIGRATING.md lists.
 *
 * What is not ws's, and is the same in both files: servers listen on
 * 127.0.0.1 port 0 instead of 8080; `console.log`/`console.error` became
 * `log(...)`, so that the test can read what each library handed over; the
 * README's `// ...` placeholders and its undefined `authenticate` are filled
 * in (`shared.ts`); the heartbeat interval is a parameter; the clients close
 * once they have their answer.
 */
import { type IncomingMessage, type Server, createServer } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
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
        if (client !== ws && client.readyState === WebSocket.OPEN) {
          client.send(data, { binary: isBinary });
        }
      });
    });
  });

  return wss;
}

// ---- (c) FAQ: "How to detect and close broken connections?" ------------------

function heartbeat(this: WebSocket): void {
  (this as Alive<WebSocket>).isAlive = true;
}

export function heartbeatServer(log: Log, every: number): WebSocketServer {
  const wss = new WebSocketServer({ ...LISTEN });

  wss.on('connection', function connection(ws) {
    (ws as Alive<WebSocket>).isAlive = true;
    ws.on('error', (error) => log('error', error));
    ws.on('pong', heartbeat);
    ws.on('close', function close(code) {
      log('close', code);
    });
  });

  const interval = setInterval(function ping() {
    wss.clients.forEach(function each(ws) {
      if ((ws as Alive<WebSocket>).isAlive === false) return ws.terminate();

      (ws as Alive<WebSocket>).isAlive = false;
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

  wss.on(
    'connection',
    function connection(ws: WebSocket, request: IncomingMessage, client: string) {
      ws.on('error', (error) => log('error', error));

      ws.on('message', function message(data) {
        log('message', `Received message ${data} from user ${client}`);
      });
    },
  );

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
        wss.emit('connection', ws, request, client);
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

  ws.on('error', (error) => log('error', error));

  ws.on('open', function open() {
    ws.send('something');
  });

  ws.on('message', function message(data) {
    log('message', data);
    ws.close();
  });

  ws.on('close', function close(code, reason) {
    log('close', code, reason);
  });

  return ws;
}

export function binaryClient(url: string, log: Log): WebSocket {
  const ws = new WebSocket(url);

  ws.on('error', (error) => log('error', error));

  ws.on('open', function open() {
    const array = new Float32Array(5);

    for (let i = 0; i < array.length; ++i) {
      array[i] = i / 2;
    }

    ws.send(array);
  });

  ws.on('message', function message(data, isBinary) {
    log('message', data);
    if (isBinary) ws.close();
  });

  ws.on('close', function close(code, reason) {
    log('close', code, reason);
  });

  return ws;
}
