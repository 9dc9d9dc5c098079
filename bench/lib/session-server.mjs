// The two echo servers session.bench.mjs compares, one per process: @proj/server
// as echo/servers.mjs runs it ("ours"), plain or with `sessions: true`, and
// nothing else different between them.
//
//   node lib/session-server.mjs <plain|session> [port]
//
// "plain" echoes every message with `socket.send`, as echo/servers.mjs's "ours"
// does; "session" echoes every data message of a session with `session.send`
// (the session protocol's numbering, replay log and acks, on their defaults).
// Both print `READY <port>` once listening, exit on SIGTERM, and answer the
// control commands of echo/servers.mjs that the session bench uses, one per
// line on stdin:
//
//   MEM      → `MEM <json>`: process.memoryUsage() after full GCs (run with
//              --expose-gc, else without GC and `"gc": false`)
//   CLIENTS  → `CLIENTS <n>`: connections the server tracks (session
//              connections included)
//   SESSIONS → `SESSIONS <n>`: sessions it holds (0 for "plain")
import { createInterface } from 'node:readline';
import { WebSocketServer } from '@proj/server';

const [kind = 'plain', portArg = '0'] = process.argv.slice(2);
if (kind !== 'plain' && kind !== 'session') {
  console.error(`unknown server kind "${kind}" (plain or session)`);
  process.exit(2);
}

// As echo/servers.mjs's "ours", so that "plain" is the Echo section's server.
const server = new WebSocketServer({
  port: Number(portArg),
  host: '127.0.0.1',
  maxPayload: 64 * 1024 * 1024,
  maxBacklog: Infinity,
  ...(kind === 'session' && { sessions: true }),
});
server.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
});
server.on('session', (session) => {
  // Binary in, binary out: session.send sends a Buffer as binary. A full replay
  // log would make it return false; the generator acknowledges every 64
  // messages, so it never fills, and a refusal would stall the run visibly.
  session.on('message', (data) => session.send(data));
});
await server.ready();
process.stdout.write(`READY ${server.address().port}\n`);

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
    answer(`CLIENTS ${server.clients.size}`);
  } else if (command === 'SESSIONS') {
    answer(`SESSIONS ${server.sessions.size}`);
  } else if (command) {
    answer(`ERROR unknown command ${command}`);
  }
});

process.on('SIGTERM', () => process.exit(0));
