/**
 * The memory of lent messages (lent-messages.ts, issue 21): recycled buffers
 * come in powers of two from 16 KiB, are reused only after the microtask
 * checkpoint and only when no socket they were written to still holds bytes,
 * and at most RECYCLE_KEEP bytes of them are kept; lent bytes are copied
 * wherever they could be kept.
 */
import { collectedAfter } from '@proj/test-utils';
import { describe, expect, test } from 'vitest';
import {
  RECYCLE_KEEP,
  RECYCLE_MIN,
  isLent,
  lentBuffers,
  ownIfLent,
  recycledBytesFree,
} from '../src/index.js';
import { outgoing, outgoingBuffer } from '../src/lent-messages.js';
import { readBuffer } from '../src/lent-reads.js';

/** The microtask checkpoint, where given-back buffers are released. */
const checkpoint = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('recycled buffers', () => {
  test('sizes are powers of two from RECYCLE_MIN', () => {
    expect(RECYCLE_MIN).toBe(16 * 1024);
    expect(lentBuffers.min).toBe(RECYCLE_MIN);
    for (const [size, length] of [
      [1, 16_384],
      [16_384, 16_384],
      [16_385, 32_768],
      [100_000, 131_072],
      [1 << 20, 1 << 20],
    ] as const) {
      const buffer = lentBuffers.take(size);
      expect(buffer.length, `take(${size})`).toBe(length);
      expect(isLent(buffer)).toBe(true);
    }
  });

  test('a buffer given back is reused only after the microtask checkpoint', async () => {
    const first = lentBuffers.take(40_000);
    lentBuffers.give(first);
    const before = lentBuffers.take(40_000);
    expect(before.buffer).not.toBe(first.buffer);
    await checkpoint();
    expect(recycledBytesFree()).toBeGreaterThanOrEqual(first.length);
    const after = lentBuffers.take(40_000);
    expect(after.buffer).toBe(first.buffer);
  });

  test('one written uncopied to a socket that still holds bytes is never reused; one whose socket holds none is', async () => {
    const holding = { writableLength: 10 };
    const done = { writableLength: 0 };
    const kept = lentBuffers.take(300_000);
    const reused = lentBuffers.take(300_000);
    // Plain TCP: written as they are.
    expect(outgoing(kept.subarray(0, 1000), holding, true).buffer).toBe(kept.buffer);
    expect(outgoing(reused.subarray(0, 1000), done, true).buffer).toBe(reused.buffer);
    lentBuffers.give(kept);
    lentBuffers.give(reused);
    await checkpoint();
    const next = [lentBuffers.take(300_000), lentBuffers.take(300_000)].map((b) => b.buffer);
    expect(next).toContain(reused.buffer);
    expect(next).not.toContain(kept.buffer);
  });

  test('to a socket that is not plain TCP, recycled bytes go as a copy', () => {
    const buffer = lentBuffers.take(20_000);
    buffer.fill(7);
    const chunk = buffer.subarray(100, 5100);
    const written = outgoing(chunk, { writableLength: 0 }, false);
    expect(written.buffer).not.toBe(buffer.buffer);
    expect(isLent(written)).toBe(false);
    expect(Buffer.from(written).equals(Buffer.from(chunk))).toBe(true);
  });

  test('a buffer reused for a message that never ends (its peer left mid-message) is garbage with it', async () => {
    const collected = await collectedAfter(async () => {
      // 4 MiB: a size class no other test here gives back.
      const first = lentBuffers.take(3_000_000);
      const memory = first.buffer;
      // Echoed uncopied to a plain TCP socket: the buffer's sockets are recorded.
      outgoing(first.subarray(0, 1000), { writableLength: 0 }, true);
      lentBuffers.give(first);
      await checkpoint();
      // The next message of that size gets it again, and is never finished:
      // the buffer is never given back.
      expect(lentBuffers.take(3_000_000).buffer).toBe(memory);
      return memory;
    });
    expect(collected).toBe(true);
  });

  test('a socket a recycled buffer was written to is not kept once the buffer is released', async () => {
    const buffer = lentBuffers.take(20_000);
    const collected = await collectedAfter(async () => {
      const socket = { writableLength: 0 };
      outgoing(buffer.subarray(0, 100), socket, true);
      lentBuffers.give(buffer);
      await checkpoint();
      return socket;
    });
    expect(collected).toBe(true);
  });

  test('at most RECYCLE_KEEP bytes of free buffers are kept', async () => {
    const buffers = Array.from({ length: RECYCLE_KEEP / (1 << 20) + 4 }, () =>
      lentBuffers.take(1 << 20),
    );
    for (const buffer of buffers) lentBuffers.give(buffer);
    await checkpoint();
    expect(recycledBytesFree()).toBeLessThanOrEqual(RECYCLE_KEEP);
    expect(recycledBytesFree()).toBeGreaterThan(RECYCLE_KEEP - (1 << 20));
  });
});

describe('bytes of the shared read buffer', () => {
  test('are lent: ownIfLent copies them, and leaves other bytes alone', () => {
    const view = readBuffer.subarray(10, 110);
    view.fill(3);
    expect(isLent(view)).toBe(true);
    const own = ownIfLent(view);
    expect(own.buffer).not.toBe(view.buffer);
    expect(Buffer.from(own).equals(Buffer.from(view))).toBe(true);
    const other = new Uint8Array(100);
    expect(isLent(other)).toBe(false);
    expect(ownIfLent(other)).toBe(other);
  });

  test('a socket write copies them: small ones to new memory, 16 KiB or more (plain TCP) into a recycled buffer that waits for the socket', async () => {
    const small = readBuffer.subarray(0, 1000);
    small.fill(5);
    const smallCopy = outgoing(small, { writableLength: 0 }, true);
    expect(isLent(smallCopy)).toBe(false);
    expect(Buffer.from(smallCopy).equals(Buffer.from(small))).toBe(true);

    const large = readBuffer.subarray(0, 30_000);
    large.fill(9);
    const holding = { writableLength: 1 };
    const largeCopy = outgoing(large, holding, true);
    expect(largeCopy.buffer).not.toBe(readBuffer.buffer);
    expect(isLent(largeCopy)).toBe(true);
    expect(Buffer.from(largeCopy).equals(Buffer.from(large))).toBe(true);
    await checkpoint();
    // The socket still holds bytes: that buffer is not handed out again.
    const taken = Array.from({ length: 4 }, () => lentBuffers.take(30_000).buffer);
    expect(taken).not.toContain(largeCopy.buffer);
    // Not plain TCP: new memory.
    expect(isLent(outgoing(large, { writableLength: 0 }, false))).toBe(false);
  });

  test('memory for a frame made of such bytes: recycled from 16 KiB (plain TCP), and not handed out again while its socket holds it', async () => {
    const holding = { writableLength: 1 };
    const frame = outgoingBuffer(65_546, holding, true);
    expect(frame.length).toBe(65_546);
    expect(isLent(frame)).toBe(true);
    await checkpoint();
    const taken = Array.from({ length: 4 }, () => lentBuffers.take(65_546).buffer);
    expect(taken).not.toContain(frame.buffer);
    // Below 16 KiB, or not plain TCP: new memory.
    expect(isLent(outgoingBuffer(9000, holding, true))).toBe(false);
    expect(isLent(outgoingBuffer(65_546, holding, false))).toBe(false);
  });
});
