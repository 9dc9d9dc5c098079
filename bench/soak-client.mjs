// The load side of the soak test (soak.mjs forks one or more of these): raw
// node:net WebSocket clients, as light as a correct client can be. Each
// connection sends binary messages numbered 0, 1, 2, ... (connection id,
// sequence number, then a padding pattern derived from both), keeps at most
// `inflight` of them unanswered, and checks every echo: the same connection
// id, the next sequence number (else it counts as reordered), the same
// length and bytes (else corrupted). What was sent and never echoed once the
// run drains is lost.
//
// Driven by its parent over IPC, one command at a time:
//   { cmd: 'open', port, count, idBase, concurrency } -> { type: 'opened', opened, failed }
//   { cmd: 'run', ms, interval, inflight }             -> { type: 'ran', sent, echoed, lost, reordered, corrupted }
//   { cmd: 'close' }                                   -> { type: 'closed', clean, unclean }
//   { cmd: 'exit' }
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { frameHeader, readFrameHeader } from './gen/raw.mjs';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Payload size of message `seq` on connection `id`: mostly small, now and then 1 KiB or 16 KiB. */
function sizeFor(id, seq) {
  const r = (Math.imul(id + 1, 2654435761) ^ Math.imul(seq + 1, 40503)) >>> 0;
  const pick = r % 1000;
  if (pick < 900) return 8 + (r % 57);
  if (pick < 995) return 1024;
  return 16 * 1024;
}

function patternByte(id, seq, i) {
  return (id * 31 + seq * 7 + i) & 0xff;
}

/** A masked binary frame carrying message `seq` of connection `id`. */
function encodeMessage(id, seq) {
  const size = sizeFor(id, seq);
  const headerSize = size < 126 ? 2 : 4;
  const frame = Buffer.allocUnsafe(headerSize + 4 + size);
  frame[0] = 0x82;
  if (size < 126) frame[1] = 0x80 | size;
  else {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(size, 2);
  }
  const mask = (Math.imul(seq + 17, 2246822519) ^ id) >>> 0;
  frame.writeUInt32BE(mask, headerSize);
  const m = [mask >>> 24, (mask >>> 16) & 0xff, (mask >>> 8) & 0xff, mask & 0xff];
  const start = headerSize + 4;
  const payload = Buffer.allocUnsafe(size);
  payload.writeUInt32BE(id, 0);
  payload.writeUInt32BE(seq, 4);
  for (let i = 8; i < size; i++) payload[i] = patternByte(id, seq, i);
  for (let i = 0; i < size; i++) frame[start + i] = payload[i] ^ m[i & 3];
  return frame;
}

function closeFrame(code) {
  const mask = randomBytes(4);
  const frame = Buffer.from([0x88, 0x82, ...mask, (code >>> 8) ^ mask[0], (code & 0xff) ^ mask[1]]);
  return frame;
}

const connections = [];
const totals = { sent: 0, echoed: 0, reordered: 0, corrupted: 0, protocolErrors: 0 };

class Connection {
  constructor(id) {
    this.id = id;
    this.socket = undefined;
    this.open = false;
    this.sent = 0;
    /** The sequence number the next echo must carry. */
    this.expected = 0;
    this.pending = Buffer.alloc(0);
    this.closeReceived = false;
    this.closed = false;
    this.onDrained = undefined;
    this.onClosed = undefined;
  }

  connect(port) {
    return new Promise((resolve) => {
      const key = randomBytes(16).toString('base64');
      const accept = createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      const socket = net.connect({ port, host: '127.0.0.1' });
      this.socket = socket;
      socket.setNoDelay(true);
      let head = Buffer.alloc(0);
      socket.on('connect', () => {
        socket.write(
          `GET /soak HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      socket.on('data', (chunk) => {
        if (this.open) return this.receive(chunk);
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        const text = head.subarray(0, end).toString('latin1');
        if (
          !text.startsWith('HTTP/1.1 101 ') ||
          !text.includes(`\r\nSec-WebSocket-Accept: ${accept}`)
        ) {
          socket.destroy();
          return;
        }
        this.open = true;
        resolve(true);
        if (head.length > end + 4) this.receive(head.subarray(end + 4));
      });
      socket.on('error', () => {});
      socket.on('close', () => {
        this.closed = true;
        this.open = false;
        resolve(false);
        this.onDrained?.();
        this.onClosed?.();
      });
    });
  }

  send() {
    this.socket.write(encodeMessage(this.id, this.sent));
    this.sent++;
    totals.sent++;
  }

  receive(chunk) {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    while (readFrameHeader(data, offset)) {
      const { first, masked, size, length } = frameHeader;
      if (masked || (first & 0x70) !== 0) totals.protocolErrors++;
      if (data.length - offset < size + length) break;
      const payload = data.subarray(offset + size, offset + size + length);
      offset += size + length;
      const opcode = first & 0x0f;
      if (opcode === 0x2) this.echo(payload);
      else if (opcode === 0x8) this.closeReceived = true;
      else totals.protocolErrors++;
    }
    this.pending = offset < data.length ? Buffer.from(data.subarray(offset)) : Buffer.alloc(0);
  }

  echo(payload) {
    totals.echoed++;
    const id = payload.length >= 8 ? payload.readUInt32BE(0) : -1;
    const seq = payload.length >= 8 ? payload.readUInt32BE(4) : -1;
    if (id !== this.id) {
      totals.corrupted++;
      return;
    }
    if (seq !== this.expected) totals.reordered++;
    this.expected = seq + 1;
    let intact = payload.length === sizeFor(id, seq);
    for (let i = 8; intact && i < payload.length; i++)
      intact = payload[i] === patternByte(id, seq, i);
    if (!intact) totals.corrupted++;
    if (this.expected >= this.sent) this.onDrained?.();
  }
}

async function open({ port, count, idBase, concurrency }) {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < count) {
      const connection = new Connection(idBase + next++);
      connections.push(connection);
      if (!(await connection.connect(port))) failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { type: 'opened', opened: connections.filter((c) => c.open).length, failed };
}

async function run({ ms, interval, inflight }) {
  for (const key of Object.keys(totals)) totals[key] = 0;
  const tick = () => {
    for (const connection of connections) {
      if (connection.open && connection.sent - connection.expected < inflight) connection.send();
    }
  };
  const timer = setInterval(tick, interval);
  tick();
  await new Promise((resolve) => setTimeout(resolve, ms));
  clearInterval(timer);
  // Drain: every message sent must come back (give up after 30 s).
  await Promise.race([
    Promise.all(
      connections.map(
        (c) =>
          new Promise((resolve) => {
            c.onDrained = () => {
              if (c.expected >= c.sent || c.closed) resolve();
            };
            c.onDrained();
          }),
      ),
    ),
    new Promise((resolve) => setTimeout(resolve, 30_000).unref()),
  ]);
  const lost = connections.reduce((sum, c) => sum + Math.max(0, c.sent - c.expected), 0);
  return { type: 'ran', ...totals, lost, stillOpen: connections.filter((c) => c.open).length };
}

async function close() {
  let clean = 0;
  await Promise.race([
    Promise.all(
      connections.map(
        (c) =>
          new Promise((resolve) => {
            if (c.closed) return resolve();
            c.onClosed = () => {
              if (c.closeReceived) clean++;
              resolve();
            };
            c.socket.write(closeFrame(1000));
          }),
      ),
    ),
    new Promise((resolve) => setTimeout(resolve, 30_000).unref()),
  ]);
  const unclean = connections.length - clean;
  for (const c of connections) c.socket?.destroy();
  connections.length = 0;
  return { type: 'closed', clean, unclean };
}

process.on('message', async (message) => {
  if (message.cmd === 'open') process.send(await open(message));
  else if (message.cmd === 'run') process.send(await run(message));
  else if (message.cmd === 'close') process.send(await close());
  else if (message.cmd === 'exit') process.disconnect();
});
