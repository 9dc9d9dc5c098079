// Many idle clients in one process for session.bench.mjs's memory rows, plain
// or sessions, the same code for both but the session's own steps: raw sockets
// that complete the handshake and, with `session`, offer `proj-session.v1`,
// send `hello` and wait for `ready`; then they only read (answering the
// server's heartbeat pings, as browsers do, so that a slow run is not cut
// short). Driven like gen/clients.mjs, one command per line on stdin:
//
//   OPEN <n>  → `OPEN <open> <failed>` once n connections are open (with
//               `session`: once each got its `ready`), 256 at a time
//   RESET     → `RESET` after every connection was reset (RST: no TIME_WAIT)
//
//   node lib/idle-clients.mjs <port> [session]
import { answer, openUpTo, serveCommands } from '../gen/control.mjs';
import { FrameScanner, maskedFrame, openRaw } from '../gen/raw.mjs';

const [portArg, mode] = process.argv.slice(2);
const port = Number(portArg);
const session = mode === 'session';
const TOKEN = 'proj-session.v1';
const OFFER = session ? `Sec-WebSocket-Protocol: ${TOKEN}\r\n` : '';
const HELLO = maskedFrame(Buffer.from('\0hello'), 0x1);
const PONG = maskedFrame(Buffer.alloc(0), 0xa);
const PARALLEL = 256;

const open = new Set();

/** Opens one connection; resolves true once it is idle (after `ready` for a session). */
function connect() {
  return new Promise((resolve) => {
    let ready = !session;
    const scanner = new FrameScanner((opcode) => {
      if (opcode === 0x9) socket?.write(PONG);
      // The first text frame after `hello` is `ready`: the server sends nothing else before it.
      else if (!ready && opcode === 0x1) {
        ready = true;
        open.add(socket);
        resolve(true);
      }
    });
    let socket = null;
    openRaw(port, (bytes) => scanner.push(bytes), OFFER).then(
      ({ socket: opened, head }) => {
        socket = opened;
        socket.on('close', () => open.delete(socket));
        if (!session) {
          open.add(socket);
          resolve(true);
        } else if (!head.includes(TOKEN)) {
          socket.destroy();
          resolve(false);
        } else {
          socket.write(HELLO);
        }
      },
      () => resolve(false),
    );
  });
}

let failed = 0;
serveCommands({
  async OPEN(argument) {
    failed += await openUpTo(Number(argument), PARALLEL, () => open.size, connect);
    answer(`OPEN ${open.size} ${failed}`);
  },
  RESET() {
    for (const socket of open) socket.resetAndDestroy();
    open.clear();
    answer('RESET');
  },
});
