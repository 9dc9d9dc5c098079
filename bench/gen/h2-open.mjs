// Idle WebSockets for http2.bench.mjs, opened in one of the modes of
// gen/h2-shared.mjs and then held (nothing sent), driven one command per line
// on stdin, answering on stdout:
//
//   OPEN <mode> <n> → `OPEN <json>` once n WebSockets are open in `mode` (h2,
//                     tls or tcp; at most PARALLEL opening at a time, retried
//                     on failure): `open`, `failed`, `ms` from the first dial
//                     (for h2, the session's connect) to the last open, `cpu`
//                     this process's CPU seconds meanwhile
//   MEM             → `MEM <json>`: this process's memoryUsage() after full GCs
//   RESET           → `RESET` once every WebSocket (and the h2 session) is gone
//
//   node gen/h2-open.mjs <secure port> <plain port> <certificate directory>
import { answer, openUpTo, serveCommands } from './control.mjs';
import { connectSession, openWebSocket, readCertificate } from './h2-shared.mjs';

const [securePort, plainPort] = process.argv.slice(2, 4).map(Number);
const { cert } = readCertificate(process.argv[4]);
/** As gen/clients.mjs: handshakes in flight at once, in every mode alike. */
const PARALLEL = 256;

const open = new Set();
let session = null;
let failed = 0;
const ignore = () => {};

async function openAll(mode, count) {
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  let target;
  if (mode === 'h2') {
    session ??= await connectSession(securePort, cert);
    target = { session, port: securePort };
  } else {
    target = { port: mode === 'tls' ? securePort : plainPort, ca: cert };
  }
  failed = 0;
  await openUpTo(
    count,
    PARALLEL,
    () => open.size,
    async () => {
      const socket = await openWebSocket(mode, target, ignore);
      if (socket) open.add(socket);
      return socket !== null;
    },
  );
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const cpu = process.cpuUsage(cpuBefore);
  return { open: open.size, failed, ms, cpu: (cpu.user + cpu.system) / 1e6 };
}

const fullGc = async () => {
  if (!globalThis.gc) return false;
  globalThis.gc();
  await new Promise((resolve) => setImmediate(resolve));
  globalThis.gc();
  return true;
};

serveCommands({
  async OPEN(argument) {
    // serveCommands hands over one argument: "<mode>:<n>" keeps the line protocol's shape.
    const [mode, count] = argument.split(':');
    answer(`OPEN ${JSON.stringify(await openAll(mode, Number(count)))}`);
  },
  async MEM() {
    const gc = await fullGc();
    answer(`MEM ${JSON.stringify({ ...process.memoryUsage(), gc })}`);
  },
  RESET() {
    for (const socket of open) socket.destroy();
    open.clear();
    session?.destroy();
    session = null;
    answer('RESET');
  },
});
