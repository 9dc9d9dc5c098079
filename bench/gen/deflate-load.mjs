// A compressed-echo load generator light enough not to be the bottleneck, for
// deflate.bench.mjs: raw node:net connections that negotiate permessage-deflate
// (with context takeover, as browsers do) and send frames compressed once, up
// front. Every connection sends the same sequence of distinct 1 KiB JSON
// messages, compressed as one deflate stream with a 15-bit window, so each
// frame is valid only after the ones before it, exactly what a real client
// produces; the server must inflate, validate UTF-8, and deflate its echo like
// for any browser. Echoes are counted from their frame headers, never inflated.
//
//   node deflate-load.mjs <port> <connections> <inflight> <seconds>
//
// Prints one JSON line: messages echoed per second after a warm-up, the mean
// compressed size sent, and this process's CPU share.
import net from 'node:net';
import zlib from 'node:zlib';

const [port, connections, inflight, seconds] = process.argv.slice(2).map(Number);
const WARMUP_MS = 300;
const SEQUENCE = Number(process.env.BENCH_DEFLATE_SEQUENCE ?? 4096);
const MASK = Buffer.from([0x12, 0x34, 0x56, 0x78]);

/** 1,024 bytes of JSON: rows with the same keys and varying values, padded to the exact size. */
function jsonMessage(seed, size = 1024) {
  const rows = [];
  for (let i = 0; JSON.stringify(rows).length < size; i++) {
    const n = seed * 31 + i;
    rows.push({
      id: n,
      name: `user${(n * 7919) % 10007}`,
      active: n % 3 !== 0,
      score: (n * 37) % 1000,
      tags: ['a', 'b'],
    });
  }
  rows.pop();
  const text = JSON.stringify(rows);
  return Buffer.from(
    `${text.slice(0, -1)},${JSON.stringify('x'.repeat(Math.max(0, size - text.length - 3)))}]`,
  );
}

/** One masked text frame with RSV1 set (a compressed message, RFC 7692 §6). */
function compressedFrame(payload) {
  const length = payload.length;
  const headerSize = (length < 126 ? 2 : 4) + 4;
  const frame = Buffer.alloc(headerSize + length);
  frame[0] = 0xc1;
  if (length < 126) frame[1] = 0x80 | length;
  else {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  }
  MASK.copy(frame, headerSize - 4);
  for (let i = 0; i < length; i++) frame[headerSize + i] = payload[i] ^ MASK[i & 3];
  return frame;
}

// The sequence, as one buffer of back-to-back frames, so that sending frames
// i..i+k is one write of one subarray.
const deflate = zlib.createDeflateRaw({ windowBits: 15 });
const frames = [];
let plainBytes = 0;
let compressedBytes = 0;
for (let i = 0; i < SEQUENCE; i++) {
  const message = jsonMessage(i);
  plainBytes += message.length;
  deflate.write(message);
  const chunks = [];
  const onData = (chunk) => chunks.push(chunk);
  deflate.on('data', onData);
  await new Promise((resolve) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, resolve));
  deflate.off('data', onData);
  // The sync flush's 00 00 ff ff tail is left off on the wire (§7.2.1).
  const payload = Buffer.concat(chunks).subarray(0, -4);
  compressedBytes += payload.length;
  frames.push(compressedFrame(payload));
}
deflate.close();
const sequence = Buffer.concat(frames);
const offsets = [0];
for (const frame of frames) offsets.push(offsets.at(-1) + frame.length);

const request =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
  'Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n';

let received = 0;
let measuring = false;

function fail(message) {
  console.error(message);
  process.exit(1);
}

function connect() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let open = false;
    let head = '';
    let next = 0;
    let skip = 0;
    let partial = Buffer.alloc(0);
    const send = (count) => {
      if (next + count > SEQUENCE) {
        fail(`the ${SEQUENCE}-message sequence ran out: raise BENCH_DEFLATE_SEQUENCE`);
      }
      socket.write(sequence.subarray(offsets[next], offsets[next + count]));
      next += count;
    };
    socket.on('connect', () => socket.write(request));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      let data = chunk;
      if (!open) {
        head += data.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`refused: ${head}`));
        if (!/^sec-websocket-extensions: *permessage-deflate/im.test(head.slice(0, end))) {
          return reject(new Error(`permessage-deflate not accepted: ${head.slice(0, end)}`));
        }
        open = true;
        data = Buffer.from(head.slice(end + 4), 'latin1');
        resolve(send);
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
          fail(
            `the server closed a connection: ${data.subarray(offset, offset + 32).toString('hex')}`,
          );
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
        if (measuring) received += completed;
        send(completed);
      }
    });
  });
}

const senders = await Promise.all(Array.from({ length: connections }, connect));
for (const send of senders) send(inflight);

await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
measuring = true;
const cpuStart = process.cpuUsage();
const start = process.hrtime.bigint();
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
measuring = false;
const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
const cpu = process.cpuUsage(cpuStart);
process.stdout.write(
  `${JSON.stringify({
    messages: received,
    seconds: elapsed,
    rate: received / elapsed,
    ratio: plainBytes / compressedBytes,
    cpu: (cpu.user + cpu.system) / 1e6 / elapsed,
  })}\n`,
);
process.exit(0);
