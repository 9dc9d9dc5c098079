// Many idle WebSocket clients in one process, for the memory and broadcast
// benchmarks: raw sockets that complete the handshake (fixed key) and then
// only read, scanning server frames as far as their lengths. Reads go into
// one shared buffer (net's `onread`), so 10,000 sockets cost no buffer
// allocations. Driven by one command per line on stdin, answering on stdout:
//
//   OPEN <n>  → `OPEN <open> <failed>` once n connections are open (it opens
//               the missing ones, 256 handshakes at a time)
//   ARM       → `ARMED`; from now on, the first message each open connection
//               receives completes it, and once all have: `GOT <json>` with
//               `first` and `last` (process.hrtime.bigint() in ns, the same
//               CLOCK_MONOTONIC the server reads) and `cpu`, this process's CPU
//               seconds since ARM
//   RESET     → `RESET` after every connection was reset (RST: no TIME_WAIT)
//
//   node clients.mjs <port>
import net from 'node:net';
import { answer, openUpTo, serveCommands } from './control.mjs';
import { ACCEPT, FrameScanner, upgradeRequest } from './raw.mjs';

const port = Number(process.argv[2]);
const request = upgradeRequest(port);
const shared = Buffer.allocUnsafe(64 * 1024);
const PARALLEL = 256;

/** Open connections, each `{ socket, scanner, armed }`. */
const open = new Set();
let failed = 0;

// The round in progress: connections still waiting, and when it started.
let waiting = 0;
let first = 0n;
let cpuAtArm = null;

function onMessage(connection) {
  if (!connection.armed) return;
  connection.armed = false;
  const at = process.hrtime.bigint();
  if (first === 0n) first = at;
  if (--waiting === 0) {
    const cpu = process.cpuUsage(cpuAtArm);
    answer(
      `GOT ${JSON.stringify({ first: Number(first), last: Number(at), cpu: (cpu.user + cpu.system) / 1e6 })}`,
    );
  }
}

function connect() {
  return new Promise((resolve) => {
    const connection = { socket: null, armed: false, scanner: null };
    connection.scanner = new FrameScanner(() => onMessage(connection));
    let head = '';
    let opened = false;
    const socket = net.connect({
      port,
      host: '127.0.0.1',
      onread: {
        buffer: shared,
        callback(length, buffer) {
          let offset = 0;
          if (!opened) {
            head += buffer.toString('latin1', 0, length);
            const end = head.indexOf('\r\n\r\n');
            if (end === -1) return;
            if (!head.startsWith('HTTP/1.1 101') || !head.includes(ACCEPT)) {
              socket.destroy();
              return;
            }
            opened = true;
            offset = length - (head.length - end - 4);
            head = '';
            open.add(connection);
            resolve(true);
          }
          if (offset < length) connection.scanner.push(buffer, offset, length);
        },
      },
    });
    connection.socket = socket;
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(request));
    socket.on('error', () => {});
    socket.on('close', () => {
      open.delete(connection);
      if (!opened) {
        failed++;
        resolve(false);
      }
    });
  });
}

serveCommands({
  async OPEN(argument) {
    // Opens the missing connections, PARALLEL handshakes at a time; failures are retried.
    await openUpTo(Number(argument), PARALLEL, () => open.size, connect);
    answer(`OPEN ${open.size} ${failed}`);
  },
  ARM() {
    waiting = open.size;
    first = 0n;
    for (const connection of open) connection.armed = true;
    cpuAtArm = process.cpuUsage();
    answer('ARMED');
  },
  RESET() {
    for (const connection of open) connection.socket.resetAndDestroy();
    open.clear();
    answer('RESET');
  },
});
