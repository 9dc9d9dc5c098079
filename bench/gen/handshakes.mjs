// Handshake load: `concurrency` loops, each repeating connect → upgrade → one
// binary message and its echo → closing handshake (our close frame, the
// server's close frame) → TCP close, as fast as the server allows. A raw
// socket with a fixed key and minimal parsing, so that the generator stays
// cheaper than the server it measures.
//
//   node handshakes.mjs <port> <concurrency> <size> <seconds> <warm-up ms>
//
// Prints one JSON line: cycles completed per second in the measured window,
// failures, and this process's CPU share.
import net from 'node:net';
import {
  ACCEPT,
  FrameScanner,
  maskedClose,
  maskedMessage,
  measureWindow,
  serverFrameSize,
  upgradeRequest,
} from './raw.mjs';

const [port, concurrency, size, seconds, warmupMs] = process.argv.slice(2).map(Number);
const request = upgradeRequest(port);
const message = maskedMessage(size);
const close = maskedClose();
const CLOSE = 0x8;

let measuring = false;
let completed = 0;
let total = 0;
let failed = 0;
let stopped = false;

function cycle() {
  if (stopped) return;
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  let state = 'head';
  let head = '';
  let echoed = 0;
  const scanner = new FrameScanner((opcode) => {
    if (opcode === CLOSE && state === 'closing') {
      // The server answered our close: the WebSocket is closed, the TCP connection ends.
      state = 'closed';
      socket.end();
    }
  });
  socket.on('connect', () => socket.write(request));
  socket.on('data', (chunk) => {
    let offset = 0;
    if (state === 'head') {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (!head.startsWith('HTTP/1.1 101') || !head.includes(ACCEPT)) {
        socket.destroy(new Error(`handshake refused: ${head.slice(0, 60)}`));
        return;
      }
      offset = chunk.length - (head.length - end - 4);
      state = 'echo';
      socket.write(message);
    }
    if (state === 'echo') {
      echoed += chunk.length - offset;
      if (echoed < serverFrameSize(size)) return;
      offset += serverFrameSize(size) - (echoed - (chunk.length - offset));
      state = 'closing';
      socket.write(close);
    }
    if (offset < chunk.length) scanner.push(chunk, offset);
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    if (state === 'closed') {
      total++;
      if (measuring) completed++;
    } else if (!stopped) failed++;
    setImmediate(cycle);
  });
}

for (let i = 0; i < concurrency; i++) cycle();
const { elapsed, cpu, systemCpu } = await measureWindow(warmupMs, seconds, (on) => {
  measuring = on;
});
stopped = true;
process.stdout.write(
  JSON.stringify({
    completed,
    total,
    failed,
    seconds: elapsed,
    rate: completed / elapsed,
    cpu: cpu,
    systemCpu: systemCpu,
  }) + '\n',
);
process.exit(0);
