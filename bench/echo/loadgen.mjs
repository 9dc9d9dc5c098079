// A load generator for echo benchmarks, light enough not to be the
// bottleneck: raw node:net connections, one pre-encoded masked frame written
// again for every echo received (batched per read), server frames parsed
// only as far as their lengths.
//
//   node loadgen.mjs <port> <connections> <inflight> <size> <seconds>
//
// Prints one JSON line: messages echoed per second in the measured window
// (after a warm-up), payload MiB/s, and this process's CPU share.
import net from 'node:net';

const [port, connections, inflight, size, seconds] = process.argv.slice(2).map(Number);
const WARMUP_MS = 500;
const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);

function maskedFrame(length) {
  const headerSize = (length < 126 ? 2 : length < 65536 ? 4 : 10) + 4;
  const frame = Buffer.alloc(headerSize + length);
  frame[0] = 0x82;
  if (length < 126) frame[1] = 0x80 | length;
  else if (length < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  mask.copy(frame, headerSize - 4);
  for (let i = 0; i < length; i++) frame[headerSize + i] = (i & 0xff) ^ mask[i & 3];
  return frame;
}

const frame = maskedFrame(size);
// Up to `inflight` copies back to back, so k replies cost one write.
const batch = Buffer.concat(Array.from({ length: inflight }, () => frame));
const request =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

let received = 0;
let total = 0;
let measuring = false;
let opened = 0;

function connect() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let open = false;
    let head = '';
    // Frame parsing state: bytes of the current frame still to skip, and a partial header.
    let skip = 0;
    let partial = Buffer.alloc(0);
    socket.on('connect', () => socket.write(request));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      let data = chunk;
      if (!open) {
        head += data.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        if (!head.startsWith('HTTP/1.1 101'))
          return reject(new Error(`handshake refused: ${head}`));
        open = true;
        data = Buffer.from(head.slice(end + 4), 'latin1');
        opened++;
        resolve(socket);
      }
      if (partial.length > 0) {
        data = Buffer.concat([partial, data]);
        partial = Buffer.alloc(0);
      }
      let offset = 0;
      let completed = 0;
      while (offset < data.length) {
        if (skip > 0) {
          const take = Math.min(skip, data.length - offset);
          skip -= take;
          offset += take;
          if (skip === 0) completed++;
          continue;
        }
        if (data.length - offset < 2) break;
        if ((data[offset] & 0x0f) === 0x8) {
          // A close frame: the server gave up on this connection; say so rather than stall.
          console.error(
            `the server closed a connection: ${data.subarray(offset, offset + 32).toString('hex')}`,
          );
          process.exit(1);
        }
        const second = data[offset + 1] & 0x7f;
        let headerSize = 2;
        let length = second;
        if (second === 126) {
          if (data.length - offset < 4) break;
          length = data.readUInt16BE(offset + 2);
          headerSize = 4;
        } else if (second === 127) {
          if (data.length - offset < 10) break;
          length = Number(data.readBigUInt64BE(offset + 2));
          headerSize = 10;
        }
        offset += headerSize;
        if (length === 0) completed++;
        else skip = length;
      }
      if (offset < data.length) partial = Buffer.from(data.subarray(offset));
      if (completed > 0) {
        total += completed;
        if (measuring) received += completed;
        // Replace each echoed message with a new one.
        let left = completed;
        while (left > 0) {
          const k = Math.min(left, inflight);
          socket.write(k === inflight ? batch : batch.subarray(0, k * frame.length));
          left -= k;
        }
      }
    });
  });
}

const sockets = [];
for (let i = 0; i < connections; i++) sockets.push(connect());
const open = await Promise.all(sockets);
for (const socket of open) socket.write(batch);

await new Promise((r) => setTimeout(r, WARMUP_MS));
measuring = true;
const cpuStart = process.cpuUsage();
const start = process.hrtime.bigint();
await new Promise((r) => setTimeout(r, seconds * 1000));
const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
const cpu = process.cpuUsage(cpuStart);
measuring = false;
const messages = received;
for (const socket of open) socket.destroy();
process.stdout.write(
  JSON.stringify({
    connections: opened,
    messages,
    total,
    seconds: elapsed,
    rate: messages / elapsed,
    mibps: (messages * size) / elapsed / 1024 / 1024,
    cpu: (cpu.user + cpu.system) / 1e6 / elapsed,
  }) + '\n',
);
process.exit(0);
