/**
 * Plain TCP sockets read into the one shared buffer (lent-reads.ts, issue
 * 21): every message handed out is a copy that stays intact while later
 * reads reuse the buffer, and sockets the mechanism must not touch keep
 * their own reads.
 */
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { ServerConnection, simdMaskArena } from '@proj/protocol';
import { afterEach, describe, expect, test } from 'vitest';
import {
  MESSAGE_SLAB_SIZE,
  SocketTransport,
  allocateUnsafe,
  kOnClose,
  kOnError,
  kOnMessage,
  lentBuffers,
} from '../src/index.js';
import { lendReads, readBuffer } from '../src/lent-reads.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A masked binary frame of `payload` (a fixed mask: the test is about reads, not masking). */
function masked(payload: Buffer): Buffer {
  const mask = [0x37, 0xfa, 0x21, 0x3d];
  const n = payload.length;
  const length =
    n < 126
      ? Buffer.from([0x80 | n])
      : n < 0x10000
        ? Buffer.from([0x80 | 126, n >>> 8, n & 0xff])
        : Buffer.from([
            0x80 | 127,
            0,
            0,
            0,
            0,
            n >>> 24,
            (n >>> 16) & 0xff,
            (n >>> 8) & 0xff,
            n & 0xff,
          ]);
  const body = Buffer.from(payload.map((byte, i) => byte ^ mask[i & 3]!));
  return Buffer.concat([Buffer.from([0x82]), length, Buffer.from(mask), body]);
}

/** Payload `index`: its own size and bytes, so a message overwritten by a later read shows. */
function payloadOf(index: number): Buffer {
  const sizes = [1, 7, 125, 126, 1000, 4096, 65_535, 65_536, 70_000, 200_000];
  const size = sizes[index % sizes.length]!;
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = (index * 31 + i * 7) & 0xff;
  return payload;
}

/** The server's side of one connection: its transport, every message it kept, and its close. */
interface Accepted {
  transport: SocketTransport;
  kept: Buffer[];
  /** For each message: whether it was a view of the shared read buffer (lent as it lay in one read). */
  inReadBuffer: boolean[];
  done: Promise<void>;
}

/**
 * A TCP server whose connections are transports keeping every message they
 * receive, uncopied; `lend` lends messages (the server's `lendMessages`), so
 * those kept are copies taken in the listener.
 */
async function keepingServer(lend = false): Promise<{ port: number; accepted: Promise<Accepted> }> {
  let resolveAccepted!: (value: Accepted) => void;
  const accepted = new Promise<Accepted>((resolve) => (resolveAccepted = resolve));
  const server = net.createServer((socket) => {
    const kept: Buffer[] = [];
    const inReadBuffer: boolean[] = [];
    let closed!: () => void;
    const done = new Promise<void>((resolve) => (closed = resolve));
    const transport = new SocketTransport({
      socket,
      connect: (handler) =>
        new ServerConnection({
          handler,
          allocate: allocateUnsafe,
          lendMessages: lend,
          lentBuffers: lend ? lentBuffers : undefined,
        }),
      events: {
        [kOnMessage]: (data) => {
          inReadBuffer.push(data.buffer === readBuffer.buffer);
          kept.push(lend ? Buffer.from(data) : data);
        },
        [kOnError]: (error) => void kept.push(Buffer.from(`error: ${error.message}`)),
        [kOnClose]: () => closed(),
      },
      settings: { closeTimeout: 1000 },
    });
    resolveAccepted({ transport, kept, inReadBuffer, done });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  return { port: (server.address() as net.AddressInfo).port, accepted };
}

describe('reads into the shared buffer', () => {
  test('every kept message is intact after later reads reused the buffer', async () => {
    const { port, accepted } = await keepingServer();
    const client = net.connect(port, '127.0.0.1');
    cleanups.push(() => client.destroy());
    await new Promise((resolve) => client.once('connect', resolve));
    const { transport, kept, done } = await accepted;
    expect(transport.lentReads).toBe(true);

    // Many messages per read, messages across reads, reads cut anywhere.
    const count = 60;
    const stream = Buffer.concat(Array.from({ length: count }, (_, i) => masked(payloadOf(i))));
    for (let offset = 0; offset < stream.length; offset += 50_001) {
      client.write(stream.subarray(offset, offset + 50_001));
    }
    client.end(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
    await done;

    expect(kept).toHaveLength(count);
    kept.forEach((message, index) => {
      expect(Buffer.isBuffer(message)).toBe(true);
      expect(message.equals(payloadOf(index))).toBe(true);
    });
    // The copies of 64 B to 4 KiB came from the message slab (message-slab.ts).
    expect(
      kept.filter((message) => message.length >= 64 && message.length <= 4096).length,
    ).toBeGreaterThan(0);
    for (const message of kept) {
      const fromSlab = message.length >= 64 && message.length <= 4096;
      expect(message.buffer.byteLength === MESSAGE_SLAB_SIZE).toBe(fromSlab);
      // Unmasked where they were read, but handed out as copies.
      expect(message.buffer).not.toBe(readBuffer.buffer);
    }
  });

  test("the shared buffer is the SIMD mask kernel's arena, where payloads are unmasked in place", () => {
    // Node 20 has WebAssembly SIMD: without the arena the test above would not cover that path.
    const arena = simdMaskArena();
    expect(arena).not.toBeNull();
    expect(readBuffer.buffer).toBe(arena!.memory);
    expect(readBuffer.byteOffset).toBe(arena!.bytes.byteOffset);
    expect(readBuffer.length).toBe(arena!.bytes.length);
    expect(Buffer.isBuffer(readBuffer)).toBe(true);
  });

  test('one read takes a 64 KiB message and its header whole: lent where it lies, not gathered from two reads', async () => {
    const { port, accepted } = await keepingServer(true);
    const client = net.connect(port, '127.0.0.1');
    cleanups.push(() => client.destroy());
    const { transport, kept, inReadBuffer, done } = await accepted;
    // Everything reaches the kernel's buffer before the server reads.
    transport.pause();
    const sizes = [65_536, 100_000];
    for (const [i, size] of sizes.entries()) client.write(masked(Buffer.alloc(size, i + 1)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    transport.resume();
    client.end(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
    await done;
    expect(kept.map((message) => message.length)).toEqual(sizes);
    kept.forEach((message, i) => expect(message.equals(Buffer.alloc(sizes[i]!, i + 1))).toBe(true));
    // The first frame (65,550 bytes) lay whole in the first read; the second
    // began in it and was gathered from the next.
    expect(inReadBuffer).toEqual([true, false]);
  });

  test('a socket paused between reads (backpressure) resumes and loses nothing', async () => {
    const { port, accepted } = await keepingServer();
    const client = net.connect(port, '127.0.0.1');
    cleanups.push(() => client.destroy());
    const { transport, kept, done } = await accepted;
    transport.pause();
    const count = 20;
    client.write(Buffer.concat(Array.from({ length: count }, (_, i) => masked(payloadOf(i)))));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(kept).toHaveLength(0);
    transport.resume();
    client.end(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
    await done;
    expect(kept.map((message, index) => message.equals(payloadOf(index)))).toEqual(
      Array.from({ length: count }, () => true),
    );
  });

  test('sockets it must not touch keep their own reads', () => {
    const onRead = () => {};
    // An HTTP/2 stream or any other Duplex.
    expect(lendReads(new Duplex(), onRead)).toBe(false);
    // TLS: cleartext can be delivered from inside a write.
    const secure = new tls.TLSSocket(new net.Socket());
    cleanups.push(() => secure.destroy());
    expect(lendReads(secure, onRead)).toBe(false);
    // A socket whose creator gave it a buffer of its own (`onread`).
    const own = new net.Socket({
      onread: { buffer: Buffer.alloc(16), callback: () => true },
    } as unknown as net.SocketConstructorOpts);
    cleanups.push(() => own.destroy());
    expect(lendReads(own, onRead)).toBe(false);
    // Not connected yet: no handle to give the buffer to.
    expect(lendReads(new net.Socket(), onRead)).toBe(false);
  });
});
