/**
 * Issue 21: `lendMessages` lends each message's bytes to the listeners (a
 * view of the read buffer every plain TCP socket shares) instead of copying
 * them. What a user relies on: a lent message is right during the listener;
 * whatever the library keeps past it (a write the kernel has not taken, a
 * queued send, a published or broadcast frame) is a copy, so every byte
 * arrives intact however far behind the reader is; messages it cannot lend
 * are copies as before.
 */
import { constants, inflateRawSync } from 'node:zlib';
import { buildFrame } from '@proj/test-utils';
import { isLent, recycledBytesFree } from '@proj/transport';
import { describe, expect, test } from 'vitest';
import { MemoryAdapter, type ServerWebSocket } from '../src/index.js';
import { Opcode, RawClient, connectWs, openRaw, startServer, wsMessage } from './helpers.js';
import { SessionPeer, startSessionServer } from './session-peer.js';

/** Payload `index` of `size` bytes: its own bytes, so one overwritten by a later read shows. */
function payloadOf(index: number, size: number): Buffer {
  const payload = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) payload[i] = (index * 131 + i * 7 + (i >>> 8)) & 0xff;
  return payload;
}

/** Every one of `sent` arrived byte-exact, in order. */
function expectIntact(
  received: readonly Uint8Array[],
  sent: readonly Buffer[],
  label = 'message',
): void {
  expect(received).toHaveLength(sent.length);
  for (let i = 0; i < sent.length; i++) {
    expect(Buffer.from(received[i]!).equals(sent[i]!), `${label} ${i}`).toBe(true);
  }
}

/** Reads `count` binary frames from `raw`, in order. */
async function framesOf(raw: RawClient, count: number): Promise<Buffer[]> {
  const frames: Buffer[] = [];
  while (frames.length < count) {
    const frame = await raw.nextFrame();
    expect(frame.opcode).toBe(Opcode.Binary);
    frames.push(Buffer.from(frame.payload));
  }
  return frames;
}

/** Sends `count` binary messages of 9 KiB to 40 KiB (past the write gathering's 8 KiB). */
function sendLarge(raw: RawClient, count: number): Buffer[] {
  const sent: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const payload = payloadOf(i, 9 * 1024 + ((i * 7919) % (31 * 1024)));
    sent.push(payload);
    raw.sendFrame(Opcode.Binary, payload);
  }
  return sent;
}

describe('lendMessages', () => {
  test('a message is lent to the listeners as it lies in the read; without the option it is a copy', async () => {
    for (const lendMessages of [true, false]) {
      const started = await startServer({ lendMessages });
      const { raw, socket } = await openRaw(started);
      const seen: { lent: boolean; bytes: Buffer; isBuffer: boolean }[] = [];
      socket.on('message', (data) => {
        const bytes = data as Buffer;
        seen.push({
          lent: isLent(bytes),
          bytes: Buffer.from(bytes),
          isBuffer: Buffer.isBuffer(bytes),
        });
      });
      const sizes = [16, 63, 64, 1000, 4096];
      for (const [i, size] of sizes.entries()) {
        raw.sendFrame(Opcode.Binary, payloadOf(i, size));
        // One message per read.
        while (seen.length <= i) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      expect(seen.map((message) => message.isBuffer)).toEqual(sizes.map(() => true));
      expect(seen.map((message) => message.lent)).toEqual(
        lendMessages ? [false, false, true, true, true] : sizes.map(() => false),
      );
      for (const [i, size] of sizes.entries())
        expect(seen[i]!.bytes.equals(payloadOf(i, size))).toBe(true);
      raw.socket.destroy();
    }
  });

  test('echoing lent messages to a client that stopped reading: every byte arrives intact', async () => {
    const started = await startServer({ lendMessages: true, maxBacklog: Infinity });
    const { raw, socket } = await openRaw(started);
    let lent = 0;
    let queued = false;
    socket.on('message', (data) => {
      if (isLent(data as Buffer)) lent++;
      socket.send(data);
      // The kernel did not take it all: the socket holds what is left.
      if (socket.bufferedAmount > 0) queued = true;
    });
    raw.socket.pause();
    const count = 600;
    const sent = sendLarge(raw, count);
    // Let the server read all of it while its writes back up.
    await new Promise((resolve) => setTimeout(resolve, 300));
    raw.socket.resume();
    const echoed = await framesOf(raw, count);
    expect(queued).toBe(true);
    expect(lent).toBeGreaterThan(0);
    expectIntact(echoed, sent);
  });

  test('messages that span reads are lent from recycled buffers: echoed to a client that stopped reading, then to one that reads, every byte intact', async () => {
    const started = await startServer({ lendMessages: true, maxBacklog: Infinity });
    const { raw, socket } = await openRaw(started);
    let lent = 0;
    socket.on('message', (data) => {
      if (isLent(data as Buffer)) lent++;
      socket.send(data);
    });
    const sizes = Array.from({ length: 60 }, (_, i) => 70_000 + ((i * 40_009) % 230_000));
    const sent = sizes.map((size, i) => payloadOf(i, size));
    raw.socket.pause();
    for (const payload of sent) raw.sendFrame(Opcode.Binary, payload);
    await new Promise((resolve) => setTimeout(resolve, 300));
    raw.socket.resume();
    const echoed = await framesOf(raw, sent.length);
    expectIntact(echoed, sent);
    expect(lent).toBe(sent.length);
    // A client that reads: the buffers go back for reuse, and what they carry stays right.
    for (let i = 0; i < 20; i++) {
      const payload = payloadOf(100 + i, 100_000 + i * 1000);
      raw.sendFrame(Opcode.Binary, payload);
      const [frame] = await framesOf(raw, 1);
      expect(frame!.equals(payload), `message ${100 + i}`).toBe(true);
    }
    expect(recycledBytesFree()).toBeGreaterThan(0);
    expect(started.server.stats().memory.recycled).toBe(recycledBytesFree());
    raw.socket.destroy();
  });

  test('many connections, messages of 1 B to 300 KB in flight at once: every echo byte-exact', async () => {
    const started = await startServer({ lendMessages: true, maxBacklog: Infinity });
    let lent = 0;
    started.server.on('connection', (socket: ServerWebSocket) => {
      socket.on('message', (data) => {
        if (isLent(data as Buffer)) lent++;
        socket.send(data);
      });
    });
    const clients = await Promise.all(
      Array.from({ length: 12 }, () => RawClient.open(started.port)),
    );
    const sizes = [1, 63, 64, 1000, 9000, 16_383, 16_384, 65_000, 65_536, 70_000, 150_000, 300_000];
    await Promise.all(
      clients.map(async (raw, c) => {
        const sent: Buffer[] = [];
        for (let i = 0; i < 60; i++) {
          const payload = payloadOf(c * 1000 + i, sizes[(c * 7 + i * 5) % sizes.length]!);
          sent.push(payload);
          raw.sendFrame(Opcode.Binary, payload);
        }
        const echoed = await framesOf(raw, sent.length);
        expectIntact(echoed, sent, `client ${c}, message`);
        raw.socket.destroy();
      }),
    );
    expect(lent).toBeGreaterThan(0);
  });

  test('a message that spans reads is lent at 16 KiB or more, copied below', async () => {
    const started = await startServer({ lendMessages: true });
    const { raw, socket } = await openRaw(started);
    const seen: { lent: boolean; bytes: Buffer }[] = [];
    socket.on('message', (data) =>
      seen.push({ lent: isLent(data as Buffer), bytes: Buffer.from(data as Buffer) }),
    );
    const sizes = [5000, 16_383, 16_384, 40_000];
    for (const [i, size] of sizes.entries()) {
      const payload = payloadOf(i, size);
      const frame = buildFrame(Opcode.Binary, payload, { mask: Buffer.from([1, 2, 3, 4]) });
      // In two reads: the second half waits until the server has read the first.
      raw.write(frame.subarray(0, 1000));
      await new Promise((resolve) => setTimeout(resolve, 20));
      raw.write(frame.subarray(1000));
      while (seen.length <= i) await new Promise((resolve) => setTimeout(resolve, 1));
      expect(seen[i]!.bytes.equals(payload), `message ${i}`).toBe(true);
    }
    expect(seen.map(({ lent }) => lent)).toEqual([false, false, true, true]);
    raw.socket.destroy();
  });

  test('a broadcast of a lent message to a connection whose sends wait behind a deflate: intact', async () => {
    const started = await startServer({ lendMessages: true, perMessageDeflate: true });
    const sender = await openRaw(started);
    const deflating = await openRaw(started, {
      headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' },
    });
    const big = 'x'.repeat(200_000);
    sender.socket.on('message', (data) => {
      // A message deflated first: the broadcast frame waits in the queue behind it.
      deflating.socket.send(big);
      started.server.broadcast(data, { filter: (client) => client === deflating.socket });
    });
    // 1,025 B to 8 KiB: framed with the payload as a chunk of its own, not copied.
    const sent = Array.from({ length: 100 }, (_, i) => payloadOf(i, 1025 + ((i * 997) % 7000)));
    for (const payload of sent) sender.raw.sendFrame(Opcode.Binary, payload);
    const received: Buffer[] = [];
    while (received.length < sent.length) {
      const frame = await deflating.raw.nextFrame();
      if (frame.opcode === Opcode.Binary) received.push(Buffer.from(frame.payload));
    }
    expectIntact(received, sent);
  });

  test('a recycled lent message sent on to another connection that stopped reading: intact', async () => {
    const started = await startServer({ lendMessages: true, maxBacklog: Infinity });
    const sender = await openRaw(started);
    const reader = await openRaw(started);
    sender.socket.on('message', (data) => {
      reader.socket.send(data);
    });
    reader.raw.socket.pause();
    const sent = Array.from({ length: 60 }, (_, i) =>
      payloadOf(i, 80_000 + ((i * 7_919) % 100_000)),
    );
    for (const payload of sent) sender.raw.sendFrame(Opcode.Binary, payload);
    await new Promise((resolve) => setTimeout(resolve, 300));
    reader.raw.socket.resume();
    const received = await framesOf(reader.raw, sent.length);
    expectIntact(received, sent);
  });

  test('publish and broadcast of lent messages to subscribers that stopped reading: intact', async () => {
    const started = await startServer({ lendMessages: true, maxBacklog: Infinity });
    const sender = await openRaw(started);
    const subscriber = await openRaw(started);
    const watcher = await openRaw(started);
    subscriber.socket.subscribe('room');
    let lent = 0;
    sender.socket.on('message', (data) => {
      if (isLent(data as Buffer)) lent++;
      started.server.publish('room', data);
      started.server.broadcast(data, { filter: (client) => client === watcher.socket });
    });
    subscriber.raw.socket.pause();
    watcher.raw.socket.pause();
    const count = 300;
    const sent = sendLarge(sender.raw, count);
    await new Promise((resolve) => setTimeout(resolve, 300));
    subscriber.raw.socket.resume();
    watcher.raw.socket.resume();
    const [published, broadcast] = await Promise.all([
      framesOf(subscriber.raw, count),
      framesOf(watcher.raw, count),
    ]);
    expect(lent).toBeGreaterThan(0);
    expectIntact(published, sent, 'published');
    expectIntact(broadcast, sent, 'broadcast');
  });

  test('an adapter that keeps what is published (as one that sends it later does) keeps a copy', async () => {
    const kept: Uint8Array[] = [];
    class KeepingAdapter extends MemoryAdapter {
      override publish(_topic: string, payload: Uint8Array): void {
        kept.push(payload);
      }
    }
    const started = await startServer({ lendMessages: true, adapter: new KeepingAdapter() });
    const { raw, socket } = await openRaw(started);
    let lent = 0;
    socket.on('message', (data) => {
      if (isLent(data as Buffer)) lent++;
      started.server.publish('room', data);
    });
    for (let i = 0; i < 20; i++) {
      raw.sendFrame(Opcode.Binary, payloadOf(i, 2000));
      while (kept.length <= i) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(lent).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++)
      expect(Buffer.from(kept[i]!).equals(payloadOf(i, 2000))).toBe(true);
    raw.socket.destroy();
  });

  test('lent messages echoed compressed (deflated later, queued behind it meanwhile): intact', async () => {
    const started = await startServer({ lendMessages: true, perMessageDeflate: true });
    // Each message deflated on its own, so that the client can inflate any one.
    const { raw, socket } = await openRaw(started, {
      headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_no_context_takeover' },
    });
    let lent = 0;
    socket.on('message', (data) => {
      if (isLent(data as Buffer)) lent++;
      socket.send(data);
    });
    // Sent uncompressed (RSV1 clear), each frame in one write: the reads are lent.
    const count = 300;
    // Every other one below the deflate threshold: it waits in the queue behind the deflating ones.
    const sent = Array.from({ length: count }, (_, i) =>
      payloadOf(i, i % 2 === 1 ? 100 + ((i * 37) % 800) : 2000 + ((i * 997) % 20_000)),
    );
    for (const payload of sent) raw.sendFrame(Opcode.Binary, payload);
    const echoed: Buffer[] = [];
    let compressed = 0;
    while (echoed.length < count) {
      const frame = await raw.nextFrame();
      // Below the server's threshold a message goes out as it is.
      if (frame.rsv1) compressed++;
      echoed.push(
        frame.rsv1
          ? inflateRawSync(Buffer.concat([frame.payload, Buffer.from([0x00, 0x00, 0xff, 0xff])]), {
              finishFlush: constants.Z_SYNC_FLUSH,
            })
          : frame.payload,
      );
    }
    expect(lent).toBeGreaterThan(0);
    expect(compressed).toBeGreaterThan(count / 3);
    expectIntact(echoed, sent);
    raw.socket.destroy();
  });

  test('text arrives as a string; a compressed message is inflated into a buffer of its own', async () => {
    const started = await startServer({ lendMessages: true, perMessageDeflate: true });
    const received: { data: unknown; lent: boolean }[] = [];
    started.server.on('connection', (socket: ServerWebSocket) => {
      socket.on('message', (data, isBinary) => {
        received.push({ data, lent: typeof data !== 'string' && isLent(data) });
        socket.send(data, { binary: isBinary });
      });
    });
    const ws = await connectWs(started.url, undefined, { perMessageDeflate: { threshold: 0 } });
    const text = 'é'.repeat(500);
    ws.send(text);
    expect((await wsMessage(ws)).data.toString()).toBe(text);
    const binary = payloadOf(1, 5000);
    ws.send(binary);
    expect((await wsMessage(ws)).data.equals(binary)).toBe(true);
    expect(received).toEqual([
      { data: text, lent: false },
      { data: binary, lent: false },
    ]);
    ws.close();
  });

  test("a session's messages are copies (they may wait for the store); plain connections of the same server are lent", async () => {
    const started = await startSessionServer(true, { lendMessages: true });
    const lent: boolean[] = [];
    started.server.on('session', (session) => {
      session.on('message', (data) => lent.push(isLent(data as Buffer)));
    });
    started.server.on('connection', (socket) => {
      socket.on('message', (data) => lent.push(isLent(data as Buffer)));
    });
    const { peer } = await SessionPeer.hello(started.url);
    peer.data(payloadOf(1, 1000));
    while (lent.length < 1) await new Promise((resolve) => setTimeout(resolve, 1));
    const { raw } = await openRaw(started);
    raw.sendFrame(Opcode.Binary, payloadOf(2, 1000));
    while (lent.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(lent).toEqual([false, true]);
    raw.socket.destroy();
  });

  test('a kept copy stays intact while the lent bytes are reused by later reads', async () => {
    const started = await startServer({ lendMessages: true });
    const { raw, socket } = await openRaw(started);
    const kept: Buffer[] = [];
    const lent: Buffer[] = [];
    socket.on('message', (data) => {
      lent.push(data as Buffer);
      kept.push(Buffer.from(data as Buffer));
    });
    for (let i = 0; i < 20; i++) {
      raw.sendFrame(Opcode.Binary, payloadOf(i, 2000));
      while (kept.length <= i) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    for (let i = 0; i < 20; i++) expect(kept[i]!.equals(payloadOf(i, 2000))).toBe(true);
    // What the contract warns of: the lent views now show later reads.
    expect(lent.filter((data, i) => !data.equals(payloadOf(i, 2000))).length).toBeGreaterThan(0);
    raw.socket.destroy();
  });
});
