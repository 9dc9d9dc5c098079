// A compressed-echo load generator light enough not to be the bottleneck, for
// deflate.bench.mjs: raw node:net connections that negotiate permessage-deflate
// (with context takeover, as browsers do) and send frames compressed once, up
// front. Every connection sends the same sequence of distinct 1 KiB JSON
// messages, compressed as one deflate stream with a 15-bit window, so each
// frame is valid only after the ones before it, exactly what a real client
// produces; the server must inflate, validate UTF-8, and deflate its echo like
// for any browser. Echoes are counted from their frame headers, never inflated;
// their payload sizes give the compression ratio the server reached.
//
//   node deflate-load.mjs <port> <connections> <inflight> <seconds>
//
// Prints one JSON line: messages echoed per second after a warm-up, the
// compression ratio of what was sent (`ratio`) and of the server's echoes
// (`echoRatio`, 1 KiB over the mean echoed payload), and this process's CPU share.
import zlib from 'node:zlib';
import { FrameScanner, RSV1, maskedFrame, measureWindow, openRaw } from './raw.mjs';

const [port, connections, inflight, seconds] = process.argv.slice(2).map(Number);
const WARMUP_MS = 300;
const SEQUENCE = Number(process.env.BENCH_DEFLATE_SEQUENCE ?? 4096);

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
  frames.push(maskedFrame(payload, 0x1 | RSV1));
}
deflate.close();
const sequence = Buffer.concat(frames);
const offsets = [0];
for (const frame of frames) offsets.push(offsets.at(-1) + frame.length);

let received = 0;
let echoedBytes = 0;
let measuring = false;

function fail(message) {
  console.error(message);
  process.exit(1);
}

async function connect() {
  let next = 0;
  let completed = 0;
  const scanner = new FrameScanner((opcode, length) => {
    // A close frame: the server gave up on this connection; say so rather than stall.
    if (opcode === 0x8) fail('the server closed a connection');
    completed++;
    if (measuring) echoedBytes += length;
  });
  const send = (socket, count) => {
    if (next + count > SEQUENCE) {
      fail(`the ${SEQUENCE}-message sequence ran out: raise BENCH_DEFLATE_SEQUENCE`);
    }
    socket.write(sequence.subarray(offsets[next], offsets[next + count]));
    next += count;
  };
  const { socket, head } = await openRaw(
    port,
    (data, socket) => {
      completed = 0;
      scanner.push(data);
      if (completed > 0) {
        if (measuring) received += completed;
        send(socket, completed);
      }
    },
    'Sec-WebSocket-Extensions: permessage-deflate\r\n',
  );
  if (!/^sec-websocket-extensions: *permessage-deflate/im.test(head)) {
    throw new Error(`permessage-deflate not accepted: ${head}`);
  }
  return (count) => send(socket, count);
}

const senders = await Promise.all(Array.from({ length: connections }, connect));
for (const send of senders) send(inflight);

const { elapsed, cpu } = await measureWindow(WARMUP_MS, seconds, (on) => {
  measuring = on;
});
process.stdout.write(
  `${JSON.stringify({
    messages: received,
    seconds: elapsed,
    rate: received / elapsed,
    ratio: plainBytes / compressedBytes,
    echoRatio: (plainBytes / SEQUENCE) * (received / echoedBytes),
    cpu: cpu,
  })}\n`,
);
process.exit(0);
