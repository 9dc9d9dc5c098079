/**
 * Plain TCP sockets read into the one shared buffer (lent-reads.ts, issue
 * 21): every message handed out is a copy that stays intact while later
 * reads reuse the buffer, and sockets the mechanism must not touch keep
 * their own reads.
 */
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { ServerConnection } from '@proj/protocol';
import { afterEach, describe, expect, test } from 'vitest';
import {
  MESSAGE_SLAB_SIZE,
  SocketTransport,
  allocateUnsafe,
  kOnClose,
  kOnError,
  kOnMessage,
} from '../src/index.js';
import { READ_BUFFER_SIZE, lendReads, readBuffer } from '../src/lent-reads.js';

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
  socket: net.Socket;
  transport: SocketTransport;
  kept: Buffer[];
  done: Promise<void>;
}

/** A TCP server whose connections are transports keeping every message they receive, uncopied. */
async function keepingServer(): Promise<{ port: number; accepted: Promise<Accepted> }> {
  let resolveAccepted!: (value: Accepted) => void;
  const accepted = new Promise<Accepted>((resolve) => (resolveAccepted = resolve));
  const server = net.createServer((socket) => {
    const kept: Buffer[] = [];
    let closed!: () => void;
    const done = new Promise<void>((resolve) => (closed = resolve));
    const transport = new SocketTransport({
      socket,
      connect: (handler) => new ServerConnection({ handler, allocate: allocateUnsafe }),
      events: {
        [kOnMessage]: (data) => void kept.push(data),
        [kOnError]: (error) => void kept.push(Buffer.from(`error: ${error.message}`)),
        [kOnClose]: () => closed(),
      },
      settings: { closeTimeout: 1000 },
    });
    resolveAccepted({ socket, transport, kept, done });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  return { port: (server.address() as net.AddressInfo).port, accepted };
}

/**
 * Every read of `socket` from now on: its length, and whether it went into
 * the shared buffer. `before` runs as each read arrives (told whether it went
 * into the shared buffer), before the transport sees it.
 */
function recordReads(
  socket: net.Socket,
  before?: (shared: boolean) => void,
): { length: number; shared: boolean }[] {
  const internals = socket as unknown as Record<symbol, unknown>;
  const key = Object.getOwnPropertySymbols(socket).find(
    (symbol) => symbol.description === 'kBufferCb',
  )!;
  const onRead = internals[key] as (length: number, buffer: Uint8Array) => unknown;
  const reads: { length: number; shared: boolean }[] = [];
  internals[key] = function (this: unknown, length: number, buffer: Uint8Array) {
    before?.(buffer === readBuffer);
    reads.push({ length, shared: buffer === readBuffer });
    if (buffer !== readBuffer) expect(length).toBeLessThanOrEqual(256 * 1024);
    return onRead.call(this, length, buffer);
  };
  expect(READ_BUFFER_SIZE).toBe(64 * 1024);
  return reads;
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
    }
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

  test('large messages are read straight into place, among small ones, every byte intact', async () => {
    const { port, accepted } = await keepingServer();
    const client = net.connect(port, '127.0.0.1');
    cleanups.push(() => client.destroy());
    const { socket, transport, kept, done } = await accepted;
    const reads = recordReads(socket);
    // Everything waits in the kernel first: reads then bring as much as they may.
    transport.pause();
    const payloads = [3 * 1024 * 1024 + 7, 10, 1024 * 1024, 200_000, 65_536, 1_000_003].map(
      (size, index) => {
        const payload = Buffer.alloc(size);
        for (let i = 0; i < size; i++) payload[i] = (index * 131 + i * 17 + (i >>> 11)) & 0xff;
        return payload;
      },
    );
    for (const payload of payloads) client.write(masked(payload));
    await new Promise((resolve) => setTimeout(resolve, 50));
    transport.resume();
    client.end(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
    await done;

    expect(kept).toHaveLength(payloads.length);
    kept.forEach((message, index) => expect(message.equals(payloads[index]!)).toBe(true));
    const inPlace = reads.filter((read) => !read.shared);
    expect(inPlace.length).toBeGreaterThan(0);
    // Only while more than a shared buffer's worth of a frame was still to come.
    const bytesInPlace = inPlace.reduce((sum, read) => sum + read.length, 0);
    expect(bytesInPlace).toBeGreaterThan(3 * 1024 * 1024);
    // Back to the shared buffer after each large message: the small ones and the close came there.
    expect(reads.at(-1)!.shared).toBe(true);
  });

  test('invalid UTF-8 read in place fails the connection (1007); what follows is discarded', async () => {
    const { port, accepted } = await keepingServer();
    const client = net.connect(port, '127.0.0.1');
    cleanups.push(() => client.destroy());
    const { socket, kept, done } = await accepted;
    const reads = recordReads(socket);
    const text = Buffer.alloc(1024 * 1024, 0x61);
    text[600_000] = 0xff;
    const frame = masked(text);
    frame[0] = 0x81;
    client.write(frame);
    client.write(masked(Buffer.from('after')));
    client.end();
    await done;
    expect(kept.map(String)).toEqual([expect.stringMatching(/^error: .*UTF-8/i)]);
    expect(reads.some((read) => !read.shared)).toBe(true);
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
