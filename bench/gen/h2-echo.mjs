// Echo load for http2.bench.mjs, as gen/echo.mjs but in one of the modes of
// gen/h2-shared.mjs: `connections` WebSockets (for h2, streams of ONE
// session), each keeping `inflight` binary messages of `size` bytes
// outstanding, one pre-encoded masked frame written again for every echo
// received (batched per read), server frames read only as far as their lengths.
//
//   node gen/h2-echo.mjs <mode> <port> <certificate directory> <connections> <inflight> \
//     <size> <seconds>
//
// `port` is the server's for `mode` (h2, h2w, tls or tcp).
//
// Prints one JSON line: messages echoed per second in the measured window
// (after a warm-up), this process's CPU share of its core, and, where
// BENCH_SERVER_PID names the server process, the CPU seconds it used in the
// same window (read from /proc here, so that the handshakes before the window,
// a full TLS handshake each for "tls", are not counted per message).
import { readFileSync } from 'node:fs';
import { FrameScanner, maskedMessage, measureWindow } from './raw.mjs';
import { connectSession, openWebSocket, readCertificate } from './h2-shared.mjs';

const [mode, portArg, certDir, ...rest] = process.argv.slice(2);
const [connections, inflight, size, seconds] = rest.map(Number);
const port = Number(portArg);
const { cert } = readCertificate(certDir);
const WARMUP_MS = 500;

const frame = maskedMessage(size);
// Up to `inflight` copies back to back, so k replies cost one write.
const batch = Buffer.concat(Array.from({ length: inflight }, () => frame));

let received = 0;
let measuring = false;

/** CPU seconds of process `pid` (utime + stime, in 1/100 s ticks), NaN where unknown. */
function cpuOf(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}
const serverPid = process.env.BENCH_SERVER_PID;
let serverCpu = NaN;

const session = mode === 'h2' || mode === 'h2w' ? await connectSession(port, cert) : null;
const target = session ? { session, port } : { port, ca: cert };

async function connect() {
  let completed = 0;
  const scanner = new FrameScanner((opcode) => {
    if (opcode === 0x8) {
      // A close frame: the server gave up on this connection; say so rather than stall.
      console.error('the server closed a connection');
      process.exit(1);
    }
    completed++;
  });
  let socket = null;
  socket = await openWebSocket(mode, target, (data) => {
    completed = 0;
    scanner.push(data);
    if (completed === 0) return;
    if (measuring) received += completed;
    // Replace each echoed message with a new one.
    for (let left = completed; left > 0; left -= inflight) {
      const k = Math.min(left, inflight);
      socket.write(k === inflight ? batch : batch.subarray(0, k * frame.length));
    }
  });
  if (!socket) throw new Error(`a ${mode} WebSocket did not open`);
  return socket;
}

const open = await Promise.all(Array.from({ length: connections }, connect));
for (const socket of open) socket.write(batch);

const { elapsed, cpu } = await measureWindow(WARMUP_MS, seconds, (on) => {
  measuring = on;
  if (serverPid) serverCpu = on ? cpuOf(serverPid) : cpuOf(serverPid) - serverCpu;
});
for (const socket of open) socket.destroy();
session?.destroy();
process.stdout.write(
  `${JSON.stringify({
    mode,
    connections: open.length,
    messages: received,
    seconds: elapsed,
    rate: received / elapsed,
    cpu,
    serverSeconds: serverCpu,
  })}\n`,
);
process.exit(0);
