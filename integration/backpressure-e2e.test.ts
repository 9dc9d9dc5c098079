/**
 * Backpressure end to end, against a peer that reads slowly (a raw socket,
 * paused and resumed one chunk at a time): a producer that waits for `drain`
 * (or awaits `sendAsync`) keeps the server's queue at the high-water mark
 * plus one message and gets every message through, in order. Then the
 * `maxBacklog` cap for producers that do not wait: `backlogPolicy: 'close'`
 * and `'reject'`, and automatic pongs to a peer that pings without reading.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { describe, expect, test } from 'vitest';
import {
  BacklogExceededError,
  type CloseCause,
  type ServerOptions,
  type ServerWebSocket,
} from '@proj/server';
import {
  Collector,
  Opcode,
  RawClient,
  type RawFrame,
  nextEvent,
  startServer,
  useCleanup,
} from '../packages/server/test/helpers.js';

useCleanup();

const SIZE = 1024;
/** A 1 KiB payload goes out with a 4-byte header (16-bit length). */
const FRAME = SIZE + 4;

/** A binary message carrying its sequence number, the rest filled with it too. */
function message(seq: number): Buffer {
  const payload = Buffer.alloc(SIZE, seq & 0xff);
  payload.writeUInt32BE(seq, 0);
  return payload;
}

/**
 * Asserts that `frames` are the messages `0 .. count - 1`, in order, each
 * whole and unchanged: one final (FIN) binary frame, no RSV bit, every byte of
 * its payload equal to what was sent. Checks every frame; reports the first
 * that differs, in full (payload as hex).
 */
function expectSequence(frames: readonly RawFrame[], count: number): void {
  expect(frames.length).toBe(count);
  const seq = frames.findIndex(
    (frame, i) =>
      frame.opcode !== Opcode.Binary ||
      !frame.fin ||
      frame.rsv !== 0 ||
      !frame.payload.equals(message(i)),
  );
  if (seq === -1) return;
  const frame = frames[seq]!;
  expect({
    seq,
    opcode: frame.opcode,
    fin: frame.fin,
    rsv: frame.rsv,
    payload: frame.payload.toString('hex'),
  }).toEqual({
    seq,
    opcode: Opcode.Binary,
    fin: true,
    rsv: 0,
    payload: message(seq).toString('hex'),
  });
}

/**
 * Reads a paused `socket` slowly: at most 4 KiB per macrotask, through
 * `read()`, which emits them as 'data' for the RawClient's parser. Node stops
 * reading from the kernel while 16 KiB wait unread, so TCP pushes back.
 * Returns a function that stops it.
 */
function readSlowly(socket: Socket): () => void {
  let stopped = false;
  const burst = (): void => {
    if (stopped || socket.destroyed) return;
    socket.read(Math.min(4096, socket.readableLength));
    setImmediate(burst);
  };
  socket.pause();
  setImmediate(burst);
  return () => {
    stopped = true;
  };
}

/** A server with one raw client connected, paused so that nothing is read yet. */
async function slowPeer(options: Omit<ServerOptions, 'port' | 'server' | 'noServer'> = {}) {
  const { server, port } = await startServer(options);
  const connected = nextEvent<[ServerWebSocket, IncomingMessage]>(server, 'connection');
  const raw = await RawClient.open(port);
  raw.socket.pause();
  const [socket, request] = await connected;
  return { server, raw, socket, highWaterMark: request.socket.writableHighWaterMark };
}

/** Records the largest `bufferedAmount` seen, on demand and every millisecond. */
function sampler(socket: ServerWebSocket) {
  let max = 0;
  const sample = (): void => void (max = Math.max(max, socket.bufferedAmount));
  const timer = setInterval(sample, 1);
  return {
    sample,
    stop: (): number => {
      clearInterval(timer);
      sample();
      return max;
    },
  };
}

describe('a producer that respects backpressure, to a peer that reads slowly', () => {
  test(
    'send() + drain: 20,000 messages of 1 KiB all arrive in order; the queue stays at the high-water mark plus one message',
    { timeout: 120_000 },
    async () => {
      const COUNT = 20_000;
      const { raw, socket, highWaterMark } = await slowPeer();
      const stopReading = readSlowly(raw.socket);
      const queue = sampler(socket);
      let waits = 0;
      for (let seq = 0; seq < COUNT; seq++) {
        const ok = socket.send(message(seq));
        // bufferedAmount only grows in send: sampling after each one sees every peak.
        queue.sample();
        if (!ok) {
          waits++;
          await nextEvent(socket, 'drain');
        }
      }
      await raw.until(() => (raw.frames.length >= COUNT ? true : undefined));
      stopReading();
      const max = queue.stop();

      expectSequence(raw.frames, COUNT);
      // The reader was the bottleneck: the producer had to wait. (Each wait
      // spans megabytes: the kernel's socket buffers fill before ours does.)
      expect(waits).toBeGreaterThan(0);
      expect(max).toBeGreaterThanOrEqual(highWaterMark);
      expect(max).toBeLessThanOrEqual(highWaterMark + FRAME);
      console.info(
        `backpressure: ${COUNT} messages, ${waits} waits for drain, ` +
          `max bufferedAmount ${max} B (high-water mark ${highWaterMark} B, frame ${FRAME} B)`,
      );
    },
  );

  test(
    'await sendAsync(): 5,000 messages all arrive in order; never more than one message queued',
    { timeout: 120_000 },
    async () => {
      const COUNT = 5_000;
      const { raw, socket } = await slowPeer();
      const stopReading = readSlowly(raw.socket);
      const queue = sampler(socket);
      for (let seq = 0; seq < COUNT; seq++) {
        const sent = socket.sendAsync(message(seq));
        queue.sample();
        await sent;
      }
      await raw.until(() => (raw.frames.length >= COUNT ? true : undefined));
      stopReading();
      const max = queue.stop();
      expectSequence(raw.frames, COUNT);
      expect(max).toBeLessThanOrEqual(FRAME);
    },
  );
});

/**
 * Sends to a peer that reads nothing, ignoring backpressure, until the
 * kernel's buffers are full and the server's own queue is within one message
 * of `maxBacklog`. Returns how many messages were accepted.
 */
async function fillBacklog(socket: ServerWebSocket, maxBacklog: number): Promise<number> {
  let seq = 0;
  for (;;) {
    while (socket.bufferedAmount + FRAME <= maxBacklog) {
      socket.send(message(seq++));
      expect(socket.bufferedAmount).toBeLessThanOrEqual(maxBacklog);
      if (seq > 200_000) throw new Error('the kernel accepted 200 MiB: no backpressure');
    }
    // Frames sent in one tick are gathered and leave at its end: what the
    // kernel does not take then is the backlog.
    await new Promise((resolve) => setImmediate(resolve));
    if (socket.bufferedAmount + FRAME > maxBacklog) return seq;
  }
}

describe('maxBacklog: a producer that ignores backpressure', () => {
  const MAX = 64 * 1024;

  test("backlogPolicy 'close': the message is refused, then everything accepted arrives, then 1008", async () => {
    const { raw, socket } = await slowPeer({ maxBacklog: MAX, backlogPolicy: 'close' });
    const closed = nextEvent<[number, string, boolean, CloseCause]>(socket, 'close');
    const accepted = await fillBacklog(socket, MAX);
    const queued = socket.bufferedAmount;
    expect(queued).toBeGreaterThan(MAX - FRAME);

    const errors = new Collector<Error | null | undefined>();
    expect(socket.send(message(accepted), (error) => errors.push(error))).toBe(false);
    const [error] = await errors.until(1);
    expect(error).toBeInstanceOf(BacklogExceededError);
    expect((error as BacklogExceededError).code).toBe('WS_ERR_BACKLOG_EXCEEDED');
    expect(socket.readyState).toBe(socket.CLOSING);
    // Only the close frame (2 + 2 + 22 bytes) joined the queue.
    expect(socket.bufferedAmount).toBe(queued + 2 + 2 + 'Backlog limit exceeded'.length);
    expect(socket.send(message(0))).toBe(false);

    raw.socket.resume();
    expect(await raw.closeFrame()).toEqual({ code: 1008, reason: 'Backlog limit exceeded' });
    expectSequence(
      raw.frames.filter((frame) => frame.opcode !== Opcode.Close),
      accepted,
    );
    raw.sendClose(1008);
    expect(await closed).toEqual([1008, '', true, 'backlog-exceeded']);
  });

  test("backlogPolicy 'close': a peer that still does not read is destroyed after closeTimeout", async () => {
    const { server, raw, socket } = await slowPeer({
      maxBacklog: MAX,
      backlogPolicy: 'close',
      closeTimeout: 300,
    });
    const closed = nextEvent<[number, string, boolean, CloseCause]>(socket, 'close');
    await fillBacklog(socket, MAX);
    const start = performance.now();
    expect(socket.send(message(0), () => {})).toBe(false);
    expect(await closed).toEqual([1006, '', false, 'backlog-exceeded']);
    expect(performance.now() - start).toBeGreaterThanOrEqual(250);
    expect(server.clients.size).toBe(0);
    // A paused socket notices the reset only once it reads again.
    raw.socket.resume();
    await raw.closed;
  });

  test("backlogPolicy 'reject': that send is refused, nothing queued, the connection stays open", async () => {
    const { raw, socket } = await slowPeer({ maxBacklog: MAX, backlogPolicy: 'reject' });
    const accepted = await fillBacklog(socket, MAX);
    const queued = socket.bufferedAmount;

    const errors = new Collector<Error | null | undefined>();
    expect(socket.send(message(accepted), (error) => errors.push(error))).toBe(false);
    expect(socket.bufferedAmount).toBe(queued);
    const [error] = await errors.until(1);
    expect(error).toBeInstanceOf(BacklogExceededError);
    expect(error).toMatchObject({ code: 'WS_ERR_BACKLOG_EXCEEDED', bufferedAmount: queued });
    await expect(socket.sendAsync(message(accepted))).rejects.toMatchObject({
      code: 'WS_ERR_BACKLOG_EXCEEDED',
    });
    expect(socket.bufferedAmount).toBe(queued);
    expect(socket.readyState).toBe(socket.OPEN);

    // Once the peer reads, drain follows and sending works again.
    const drained = nextEvent(socket, 'drain');
    raw.socket.resume();
    await drained;
    await socket.sendAsync(message(accepted));
    await raw.until(() => (raw.frames.length > accepted ? true : undefined));
    expectSequence(raw.frames, accepted + 1);
    expect(socket.readyState).toBe(socket.OPEN);
  });

  test("'reject' below the high-water mark: the refused send still gets a drain once the queue empties", async () => {
    const SMALL = 4 * 1024;
    const { raw, socket, highWaterMark } = await slowPeer({
      maxBacklog: SMALL,
      backlogPolicy: 'reject',
    });
    expect(SMALL).toBeLessThan(highWaterMark);
    await fillBacklog(socket, SMALL);
    const errors = new Collector<Error | null | undefined>();
    expect(socket.send(message(0), (error) => errors.push(error))).toBe(false);
    expect((await errors.until(1))[0]).toBeInstanceOf(BacklogExceededError);
    const drained = nextEvent(socket, 'drain');
    raw.socket.resume();
    await drained;
    expect(socket.bufferedAmount).toBe(0);
  });

  test('a message larger than maxBacklog still goes out on an empty queue', async () => {
    const { raw, socket } = await slowPeer({ maxBacklog: 1024, backlogPolicy: 'reject' });
    raw.socket.resume();
    const big = Buffer.alloc(10_000, 7);
    await socket.sendAsync(big);
    const frame = await raw.nextFrame();
    expect(frame.payload.equals(big)).toBe(true);
  });

  test('broadcast() is held to the cap too: a full client is skipped, the others still get it', async () => {
    const { server, raw, socket } = await slowPeer({ maxBacklog: MAX, backlogPolicy: 'reject' });
    const fast = await RawClient.open((server.address() as { port: number }).port);
    await fillBacklog(socket, MAX);
    const queued = socket.bufferedAmount;
    const drained = nextEvent(socket, 'drain');
    expect(server.broadcast(message(0))).toBe(1);
    expect(socket.bufferedAmount).toBe(queued);
    expect((await fast.nextFrame()).payload.equals(message(0))).toBe(true);
    expect(socket.readyState).toBe(socket.OPEN);
    raw.socket.resume();
    await drained;
    expect(server.broadcast(message(1))).toBe(2);
  });

  test('automatic pongs to a peer that pings without reading stop at the cap', async () => {
    const { raw, socket } = await slowPeer({ maxBacklog: MAX, backlogPolicy: 'reject' });
    await fillBacklog(socket, MAX);
    const PINGS = 2_000;
    const pings = new Collector<true>();
    socket.on('ping', () => pings.push(true));
    for (let i = 0; i < PINGS; i++) raw.sendFrame(Opcode.Ping, Buffer.alloc(125, i & 0xff));
    await pings.until(PINGS);
    // Without the cap: 2,000 pongs of 127 bytes, 254 KB on top.
    expect(socket.bufferedAmount).toBeLessThanOrEqual(MAX + 127);
    expect(socket.readyState).toBe(socket.OPEN);
  });
});
