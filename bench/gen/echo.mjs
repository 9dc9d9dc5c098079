// Echo load in Node, the fallback of gen/echo.c where there is no C compiler,
// with the same interface and output: raw node:net connections, one
// pre-encoded masked frame written again for every echo received (batched per
// read), server frames read only as far as their lengths.
//
//   node echo.mjs <port> <connections> <inflight> <size> <seconds>
//
// Prints one JSON line: messages echoed per second in the measured window
// (after a warm-up), payload MiB/s, and this process's CPU share.
import { FrameScanner, maskedMessage, measureWindow, openRaw } from './raw.mjs';

const [port, connections, inflight, size, seconds] = process.argv.slice(2).map(Number);
const WARMUP_MS = 500;

const frame = maskedMessage(size);
// Up to `inflight` copies back to back, so k replies cost one write.
const batch = Buffer.concat(Array.from({ length: inflight }, () => frame));

let received = 0;
let total = 0;
let measuring = false;

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
  const { socket } = await openRaw(port, (data, socket) => {
    completed = 0;
    scanner.push(data);
    if (completed === 0) return;
    total += completed;
    if (measuring) received += completed;
    // Replace each echoed message with a new one.
    for (let left = completed; left > 0; left -= inflight) {
      const k = Math.min(left, inflight);
      socket.write(k === inflight ? batch : batch.subarray(0, k * frame.length));
    }
  });
  return socket;
}

const open = await Promise.all(Array.from({ length: connections }, connect));
for (const socket of open) socket.write(batch);

const { elapsed, cpu } = await measureWindow(WARMUP_MS, seconds, (on) => {
  measuring = on;
});
const messages = received;
for (const socket of open) socket.destroy();
process.stdout.write(
  `${JSON.stringify({
    connections: open.length,
    messages,
    total,
    seconds: elapsed,
    rate: messages / elapsed,
    mibps: (messages * size) / elapsed / 1024 / 1024,
    cpu,
  })}\n`,
);
process.exit(0);
