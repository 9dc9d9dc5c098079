// Raw-socket WebSocket client pieces the load generators share: a fixed
// handshake (fixed key, so the expected accept value is a constant), frames
// masked once and written many times, and a frame scanner that reads server
// frames only as far as their lengths. Nothing here validates: the servers
// under test are trusted, and the generators must stay cheaper than them.

import net from 'node:net';

/** Key of RFC 6455's example handshake, and the Sec-WebSocket-Accept it must get. */
export const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const MASK = Buffer.from([0x12, 0x34, 0x56, 0x78]);
/** The RSV1 bit of a frame's first byte, for `maskedFrame(payload, opcode | RSV1)`. */
export const RSV1 = 0x40;

/** The upgrade request, with `extraHeaders` (whole `Name: value\r\n` lines) before the blank line. */
export const upgradeRequest = (port, extraHeaders = '') =>
  `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`;

/**
 * Opens a raw connection to `port` and sends the upgrade request (with `extraHeaders`); resolves
 * with the socket and the response head (without its blank line) once a 101 arrives, and from
 * then on hands every byte read, those after the head included, to `onData(bytes, socket)`.
 */
export function openRaw(port, onData, extraHeaders = '') {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let head = '';
    const onHead = (chunk) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`handshake refused: ${head}`));
      socket.off('data', onHead);
      socket.on('data', (bytes) => onData(bytes, socket));
      resolve({ socket, head: head.slice(0, end) });
      const rest = Buffer.from(head.slice(end + 4), 'latin1');
      if (rest.length > 0) onData(rest, socket);
    };
    socket.on('connect', () => socket.write(upgradeRequest(port, extraHeaders)));
    socket.on('error', reject);
    socket.on('data', onHead);
  });
}

/**
 * A masked client frame with `payload` (bytes) and opcode `opcode` (binary by
 * default); `opcode | RSV1` marks a compressed message (RFC 7692).
 */
export function maskedFrame(payload, opcode = 0x2) {
  const length = payload.length;
  const headerSize = (length < 126 ? 2 : length < 65536 ? 4 : 10) + 4;
  const frame = Buffer.alloc(headerSize + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) frame[1] = 0x80 | length;
  else if (length < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  MASK.copy(frame, headerSize - 4);
  for (let i = 0; i < length; i++) frame[headerSize + i] = payload[i] ^ MASK[i & 3];
  return frame;
}

/** A binary message of `size` bytes (0, 1, 2... mod 256), masked. */
export const maskedMessage = (size) =>
  maskedFrame(Uint8Array.from({ length: size }, (_, i) => i & 0xff));

/** A masked close frame with status 1000. */
export const maskedClose = () => maskedFrame(Uint8Array.of(0x03, 0xe8), 0x8);

/** Bytes of an unmasked server frame carrying `size` bytes. */
export const serverFrameSize = (size) => (size < 126 ? 2 : size < 65536 ? 4 : 10) + size;

/** What {@link readFrameHeader} read last (one object, so that parsing allocates nothing). */
export const frameHeader = { first: 0, masked: false, size: 0, length: 0 };

/**
 * Reads the header of the frame at `offset` into {@link frameHeader}: its
 * first byte, whether it is masked, its size (with the masking key) and its
 * payload length. Returns false while `bytes` holds less than the whole header.
 */
export function readFrameHeader(bytes, offset = 0) {
  const available = bytes.length - offset;
  if (available < 2) return false;
  const second = bytes[offset + 1];
  let length = second & 0x7f;
  let size = 2;
  if (length === 126) {
    if (available < 4) return false;
    length = bytes.readUInt16BE(offset + 2);
    size = 4;
  } else if (length === 127) {
    if (available < 10) return false;
    length = Number(bytes.readBigUInt64BE(offset + 2));
    size = 10;
  }
  const masked = (second & 0x80) !== 0;
  if (masked) size += 4;
  if (available < size) return false;
  frameHeader.first = bytes[offset];
  frameHeader.masked = masked;
  frameHeader.size = size;
  frameHeader.length = length;
  return true;
}

/**
 * Counts the server frames in a byte stream, reading headers only: `push(bytes, start, end)`
 * calls `onFrame(opcode, length)` for every frame completed by those bytes (length: its payload's).
 */
export class FrameScanner {
  #skip = 0;
  #header = Buffer.alloc(14);
  #have = 0;
  #opcode = 0;
  #length = 0;

  constructor(onFrame) {
    this.onFrame = onFrame;
  }

  push(bytes, start = 0, end = bytes.length) {
    let offset = start;
    while (offset < end) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, end - offset);
        this.#skip -= take;
        offset += take;
        if (this.#skip === 0) this.onFrame(this.#opcode, this.#length);
        continue;
      }
      // Gather the header (2, 4 or 10 bytes) even when a read splits it.
      this.#header[this.#have++] = bytes[offset++];
      if (this.#have < 2) continue;
      const second = this.#header[1] & 0x7f;
      const size = second === 126 ? 4 : second === 127 ? 10 : 2;
      if (this.#have < size) continue;
      this.#opcode = this.#header[0] & 0x0f;
      const length =
        second === 126
          ? this.#header.readUInt16BE(2)
          : second === 127
            ? Number(this.#header.readBigUInt64BE(2))
            : second;
      this.#have = 0;
      this.#length = length;
      if (length === 0) this.onFrame(this.#opcode, 0);
      else this.#skip = length;
    }
  }
}

/**
 * The measured window of every generator: waits `warmupMs`, calls
 * `onMeasuring(true)`, waits `seconds`, calls `onMeasuring(false)`.
 * @returns the window's length in seconds, and this process's CPU share in it
 *   (all, and the kernel's part).
 */
export async function measureWindow(warmupMs, seconds, onMeasuring) {
  await new Promise((resolve) => setTimeout(resolve, warmupMs));
  onMeasuring(true);
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  onMeasuring(false);
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  return {
    elapsed,
    cpu: (cpu.user + cpu.system) / 1e6 / elapsed,
    systemCpu: cpu.system / 1e6 / elapsed,
  };
}
