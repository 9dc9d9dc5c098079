/**
 * Issue 21: the replies to one read leave in one `socket.write` (the
 * transport gathers small frames in one buffer), in order with large frames
 * written as chunks of their own, with send callbacks, bufferedAmount and
 * other connections' writes unchanged.
 */
import type { Socket } from 'node:net';
import { describe, expect, test } from 'vitest';
import type { ServerWebSocket } from '../src/index.js';
import {
  Collector,
  Opcode,
  RawClient,
  connectWs,
  startEchoServer,
  startServer,
  wsMessage,
  type Started,
} from './helpers.js';

/** What the server's side of a connection read and wrote. */
interface Spied {
  /** Sizes of the chunks passed to `socket.write`, one entry per call. */
  writes: number[];
  /** Sizes of the chunks the socket emitted as 'data'. */
  reads: number[];
}

/**
 * Records the size of every read of `socket`: its 'data' events, or, when
 * the transport made it read into the shared buffer (`lent-reads.ts`), the
 * calls of the read callback it installed.
 */
function countReads(socket: Socket, reads: number[]): void {
  const internals = socket as unknown as Record<symbol, unknown>;
  const key = Object.getOwnPropertySymbols(socket).find(
    (symbol) => symbol.description === 'kBufferCb',
  );
  const callback = key === undefined ? null : internals[key];
  if (typeof callback === 'function') {
    internals[key!] = function (this: Socket, length: number, ...rest: unknown[]) {
      reads.push(length);
      return callback.call(this, length, ...rest);
    };
  } else {
    socket.on('data', (chunk: Buffer) => reads.push(chunk.byteLength));
  }
}

/** Opens a raw client and spies on the server's net.Socket of it. */
async function openSpied<Data>(
  started: Started<Data>,
): Promise<{ raw: RawClient; socket: ServerWebSocket<Data>; spied: Spied }> {
  const spied: Spied = { writes: [], reads: [] };
  const connected = new Promise<ServerWebSocket<Data>>((resolve) => {
    started.server.once('connection', (socket, request) => {
      const net = request.socket as Socket;
      const write = net.write;
      net.write = function (this: Socket, chunk: Uint8Array, ...rest: unknown[]) {
        spied.writes.push(chunk.byteLength);
        return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      } as typeof net.write;
      countReads(net, spied.reads);
      resolve(socket);
    });
  });
  const raw = await RawClient.open(started.port);
  return { raw, socket: await connected, spied };
}

/** Masked binary frames of the given payloads, concatenated: one write of the client. */
function framesOf(payloads: readonly Uint8Array[]): Buffer {
  return Buffer.concat(payloads.map((payload) => maskedBinary(payload)));
}

function maskedBinary(payload: Uint8Array): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const n = payload.length;
  const head =
    n < 126
      ? Buffer.from([0x82, 0x80 | n])
      : n < 0x10000
        ? Buffer.from([0x82, 0x80 | 126, n >>> 8, n & 0xff])
        : Buffer.from([
            0x82,
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
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([head, mask, body]);
}

const payloadOf = (size: number, seed: number): Buffer => {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + seed) & 0xff;
  return out;
};

describe('one write per read', () => {
  test('the echoes of 16 messages that arrived in one read leave in one socket.write', async () => {
    const { raw, spied } = await openSpied(await startEchoServer());
    const payloads = Array.from({ length: 16 }, (_, i) => payloadOf(16 + i, i));
    raw.write(framesOf(payloads));
    await raw.until(() => (raw.frames.length >= 16 ? true : undefined));
    expect(raw.frames.map((frame) => Buffer.from(frame.payload))).toEqual(payloads);
    // Loopback delivers a 600-byte write in one read almost always; when it
    // is split, each read still answers with one write.
    expect(spied.writes.length).toBe(spied.reads.length);
    expect(spied.writes.reduce((a, b) => a + b, 0)).toBe(
      payloads.reduce((sum, p) => sum + 2 + p.length, 0),
    );
  });

  test('a large message between small ones keeps its place and is not copied', async () => {
    const { raw, spied } = await openSpied(await startEchoServer());
    const large = payloadOf(64 * 1024, 3);
    const payloads = [
      payloadOf(10, 1),
      payloadOf(20, 2),
      large,
      payloadOf(30, 4),
      payloadOf(40, 5),
    ];
    raw.write(framesOf(payloads));
    await raw.until(() => (raw.frames.length >= payloads.length ? true : undefined));
    expect(raw.frames.map((frame) => Buffer.from(frame.payload))).toEqual(payloads);
    // Its payload went to the socket as a chunk of its own (a view of the
    // message, not a copy in the gather buffer).
    expect(spied.writes).toContain(large.length);
  });

  test('send callbacks of gathered frames run once written, in order, without an error', async () => {
    const started = await startServer();
    const done = new Collector<[number, Error | null | undefined]>();
    started.server.on('connection', (socket) => {
      let n = 0;
      socket.on('message', (message) => {
        const data = message as Buffer;
        const index = n++;
        const before = socket.bufferedAmount;
        socket.send(data, (error) => done.push([index, error]));
        // Not yet handed to the kernel: the gathered frame counts.
        expect(socket.bufferedAmount).toBe(before + 2 + data.length);
      });
    });
    const { raw, spied } = await openSpied(started);
    raw.write(framesOf([payloadOf(5, 0), payloadOf(6, 1), payloadOf(7, 2)]));
    const results = await done.until(3);
    expect(results.map(([index]) => index)).toEqual([0, 1, 2]);
    for (const [, error] of results) expect(error).toBeFalsy();
    expect(spied.writes.length).toBe(spied.reads.length);
  });

  test('a pong, an echo and the close reply to one read go in order, and the close is clean', async () => {
    const { raw, socket, spied } = await openSpied(await startEchoServer());
    const closed = new Promise<[number, boolean]>((resolve) =>
      socket.once('close', (code: number, _reason: string, wasClean: boolean) =>
        resolve([code, wasClean]),
      ),
    );
    const ping = maskedBinary(Buffer.from('p'));
    ping[0] = 0x89;
    const close = maskedBinary(Buffer.from([0x03, 0xe8]));
    close[0] = 0x88;
    raw.write(Buffer.concat([ping, maskedBinary(Buffer.from('hello')), close]));
    expect(await closed).toEqual([1000, true]);
    await raw.closed;
    expect(raw.frames.map((frame) => frame.opcode)).toEqual([
      Opcode.Pong,
      Opcode.Binary,
      Opcode.Close,
    ]);
    expect(Buffer.from(raw.frames[1]!.payload).toString()).toBe('hello');
    expect(spied.writes.length).toBe(spied.reads.length);
  });

  test("a send to another connection during a read goes to that connection's socket at once", async () => {
    const started = await startServer();
    const sockets = new Collector<ServerWebSocket>();
    started.server.on('connection', (socket) => sockets.push(socket));
    const other = await connectWs(started.url);
    const [otherSocket] = await sockets.until(1);
    const { raw, socket } = await openSpied(started);
    socket.on('message', (data) => {
      otherSocket!.send(data);
      socket.send(data);
    });
    const relayed = wsMessage(other);
    raw.write(framesOf([Buffer.from('to both')]));
    expect((await relayed).data.toString()).toBe('to both');
    const echoed = await raw.nextFrame();
    expect(Buffer.from(echoed.payload).toString()).toBe('to both');
  });
});

describe('one write per tick outside a read', () => {
  test('sends made in one tick outside any read (a timer, a resolved promise) leave in one socket.write', async () => {
    const { raw, socket, spied } = await openSpied(await startEchoServer());
    const payloads = Array.from({ length: 5 }, (_, i) => payloadOf(10 + i, i));
    const before = spied.writes.length;
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        // As a session's sends after a store commit: a promise's callback.
        void Promise.resolve().then(() => {
          for (const payload of payloads) socket.send(payload);
          socket.ping(Buffer.from('p'));
          resolve();
        });
      }, 1),
    );
    await raw.until(() => (raw.frames.length >= 6 ? true : undefined));
    expect(raw.frames.map((frame) => frame.opcode)).toEqual([
      ...payloads.map(() => Opcode.Binary),
      Opcode.Ping,
    ]);
    expect(raw.frames.slice(0, 5).map((frame) => Buffer.from(frame.payload))).toEqual(payloads);
    expect(spied.writes.slice(before)).toEqual([
      payloads.reduce((sum, p) => sum + 2 + p.length, 0) + 3,
    ]);
  });

  test('sends to two connections in one tick go to each in order, one write each', async () => {
    const started = await startEchoServer();
    const first = await openSpied(started);
    const second = await openSpied(started);
    const beforeFirst = first.spied.writes.length;
    const beforeSecond = second.spied.writes.length;
    setTimeout(() => {
      first.socket.send(Buffer.from('a1'));
      second.socket.send(Buffer.from('b1'));
      first.socket.send(Buffer.from('a2'));
      second.socket.send(Buffer.from('b2'));
      second.socket.send(Buffer.from('b3'));
    }, 1);
    await first.raw.until(() => (first.raw.frames.length >= 2 ? true : undefined));
    await second.raw.until(() => (second.raw.frames.length >= 3 ? true : undefined));
    const text = (raw: RawClient): string[] =>
      raw.frames.map((frame) => Buffer.from(frame.payload).toString());
    expect(text(first.raw)).toEqual(['a1', 'a2']);
    expect(text(second.raw)).toEqual(['b1', 'b2', 'b3']);
    // Taking the buffer from another connection writes what it gathered:
    // a1 left when b1 came, and a2 gathered again.
    expect(first.spied.writes.slice(beforeFirst)).toEqual([4, 4]);
    expect(second.spied.writes.slice(beforeSecond)).toEqual([4, 8]);
  });

  test('a large send after small ones in the same tick keeps its place', async () => {
    const { raw, socket } = await openSpied(await startEchoServer());
    const large = payloadOf(64 * 1024, 9);
    const payloads = [payloadOf(10, 1), large, payloadOf(20, 2)];
    setTimeout(() => {
      for (const payload of payloads) socket.send(payload);
    }, 1);
    await raw.until(() => (raw.frames.length >= 3 ? true : undefined));
    expect(raw.frames.map((frame) => Buffer.from(frame.payload))).toEqual(payloads);
  });

  test('bufferedAmount counts a send gathered outside a read until the tick ends, and callbacks run', async () => {
    const { raw, socket } = await openSpied(await startEchoServer());
    const callbacks: (Error | null | undefined)[] = [];
    const seen = await new Promise<[number, number]>((resolve) =>
      setTimeout(() => {
        const before = socket.bufferedAmount;
        socket.send(Buffer.from('hello'), (error) => callbacks.push(error));
        resolve([before, socket.bufferedAmount]);
      }, 1),
    );
    expect(seen).toEqual([0, 7]);
    await raw.until(() => (raw.frames.length >= 1 ? true : undefined));
    await new Promise((resolve) => setImmediate(resolve));
    expect(callbacks).toHaveLength(1);
    expect(callbacks[0]).toBeFalsy();
    expect(socket.bufferedAmount).toBe(0);
  });

  test('close() after sends in the same tick: the sends, then the close frame, and a clean close', async () => {
    const { raw, socket } = await openSpied(await startEchoServer());
    const closed = new Promise<[number, boolean]>((resolve) =>
      socket.once('close', (code: number, _reason: string, wasClean: boolean) =>
        resolve([code, wasClean]),
      ),
    );
    setTimeout(() => {
      socket.send(Buffer.from('one'));
      socket.send(Buffer.from('two'));
      socket.close(4000, 'bye');
    }, 1);
    await raw.until(() => (raw.frames.length >= 3 ? true : undefined));
    expect(raw.frames.map((frame) => frame.opcode)).toEqual([
      Opcode.Binary,
      Opcode.Binary,
      Opcode.Close,
    ]);
    const reply = maskedBinary(Buffer.from([0x0f, 0xa0]));
    reply[0] = 0x88;
    raw.write(reply);
    expect(await closed).toEqual([4000, true]);
  });
});

describe('backpressure with gathered frames', () => {
  // Gathered frames are written as soon as they and the socket's backlog
  // reach the high-water mark, so send() says "wait" only for a backlog the
  // socket holds, and then 'drain' follows. (A net.Socket whose write the
  // kernel takes at once returns true and emits no 'drain', however large:
  // had gathered bytes alone made send() return false, no drain would come.)
  const REPLIES = 20;
  const SIZE = 1024;

  test('replies to one read past the high-water mark, to a peer that reads: every false is followed by drain', async () => {
    const started = await startServer();
    const results: boolean[] = [];
    const drained = new Collector<true>();
    started.server.on('connection', (socket) => {
      socket.on('drain', () => drained.push(true));
      socket.on('message', () => {
        for (let i = 0; i < REPLIES; i++) results.push(socket.send(payloadOf(SIZE, i)));
      });
    });
    const { raw, spied } = await openSpied(started);
    raw.write(framesOf([Buffer.from('go')]));
    await raw.until(() => (raw.frames.length >= REPLIES ? true : undefined));
    if (results.includes(false)) await drained.until(1);
    // 20 KiB left in more than one write: the first at the mark.
    expect(spied.writes.length).toBeGreaterThan(1);
  });

  test('sends outside a read past the high-water mark: every false is followed by drain, all in order', async () => {
    const { raw, socket } = await openSpied(await startEchoServer());
    const drained = nextDrain(socket);
    const results = await new Promise<boolean[]>((resolve) =>
      setTimeout(() => {
        const out: boolean[] = [];
        for (let i = 0; i < REPLIES; i++) out.push(socket.send(payloadOf(SIZE, i)));
        resolve(out);
      }, 1),
    );
    if (results.includes(false)) await drained;
    await raw.until(() => (raw.frames.length >= REPLIES ? true : undefined));
    expect(raw.frames.map((frame) => Buffer.from(frame.payload))).toEqual(
      Array.from({ length: REPLIES }, (_, i) => payloadOf(SIZE, i)),
    );
  });

  test('to a peer that does not read, sends outside a read end in false, and drain follows once it reads', async () => {
    const { raw, socket } = await openSpied(await startEchoServer());
    raw.socket.pause();
    let sent = 0;
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        while (socket.send(payloadOf(SIZE, sent))) sent++;
        sent++;
        resolve();
      }, 1),
    );
    expect(socket.bufferedAmount).toBeGreaterThan(0);
    const drained = nextDrain(socket);
    raw.socket.resume();
    await drained;
    await raw.until(() => (raw.frames.length >= sent ? true : undefined));
    // Thousands of frames (what the kernel's buffers hold): checked in a
    // loop, which reports the first that differs, rather than one deep equal.
    expect(raw.frames).toHaveLength(sent);
    const wrong = raw.frames.findIndex(
      (frame, i) => !Buffer.from(frame.payload).equals(payloadOf(SIZE, i)),
    );
    expect(wrong).toBe(-1);
  });
});

function nextDrain(socket: ServerWebSocket<unknown>): Promise<void> {
  return new Promise((resolve) => socket.once('drain', () => resolve()));
}
