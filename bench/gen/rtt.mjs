// Round-trip latency on one connection with one message in flight: send a
// pre-masked binary message, wait for its echo, send the next at once. Each
// send is stamped with process.hrtime.bigint(); the round trip is the time
// until the whole echo has arrived. Replies are counted in bytes (a server
// echoes one frame of known size per message), so nothing is parsed.
//
//   node rtt.mjs <port> <size> <seconds> <warm-up ms>
//
// Prints one JSON line: samples, percentiles and mean in µs, and this
// process's CPU share during the measured window.
import net from 'node:net';
import { maskedMessage, measureWindow, serverFrameSize, upgradeRequest } from './raw.mjs';

const [port, size, seconds, warmupMs] = process.argv.slice(2).map(Number);
const frame = maskedMessage(size);
const replySize = serverFrameSize(size);
const samples = new Float64Array(2_000_000);
let count = 0;
let measuring = false;
let sentAt = 0n;
let got = 0;

const socket = net.connect(port, '127.0.0.1');
socket.setNoDelay(true);
socket.on('error', (error) => {
  console.error(error);
  process.exit(1);
});
socket.on('connect', () => socket.write(upgradeRequest(port)));

const send = () => {
  sentAt = process.hrtime.bigint();
  socket.write(frame);
};

let head = '';
let open = false;
socket.on('data', (chunk) => {
  let bytes = chunk.length;
  if (!open) {
    head += chunk.toString('latin1');
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    if (!head.startsWith('HTTP/1.1 101')) throw new Error(`handshake refused: ${head}`);
    open = true;
    bytes = head.length - end - 4;
    send();
  }
  got += bytes;
  if (got >= replySize) {
    const rtt = process.hrtime.bigint() - sentAt;
    got -= replySize;
    if (measuring && count < samples.length) samples[count++] = Number(rtt) / 1000;
    send();
  }
});

const { cpu } = await measureWindow(warmupMs, seconds, (on) => {
  measuring = on;
});
socket.destroy();

const sorted = samples.subarray(0, count).sort();
const at = (q) => sorted[Math.min(count - 1, Math.floor(q * count))];
let sum = 0;
for (let i = 0; i < count; i++) sum += sorted[i];
process.stdout.write(
  JSON.stringify({
    count,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    p999: at(0.999),
    max: sorted[count - 1],
    mean: sum / count,
    cpu: cpu,
  }) + '\n',
);
process.exit(0);
