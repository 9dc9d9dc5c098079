/**
 * Message buffers of 64 B to 4 KiB are carved from a shared 32 KiB slab
 * (message-slab.ts, issue 21): every message keeps its own bytes however many
 * follow it, and sizes outside that range come from Node as before.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, test } from 'vitest';
import {
  MESSAGE_SLAB_SIZE,
  SLAB_MESSAGE_LIMIT,
  SLAB_MESSAGE_MIN,
  allocateUnsafe,
} from '../src/index.js';

describe('message slab', () => {
  test('messages in range are distinct, 8-byte aligned views of a 32 KiB slab', () => {
    const sizes = [SLAB_MESSAGE_MIN, 65, 100, 1000, 1024, 3000, SLAB_MESSAGE_LIMIT];
    const kept: Buffer[] = [];
    // Enough to fill several slabs, with every size at every alignment.
    for (let i = 0; i < 400; i++) {
      const size = sizes[i % sizes.length]!;
      const message = allocateUnsafe(size);
      expect(Buffer.isBuffer(message)).toBe(true);
      // A Buffer like Node's own: what ws and application code may check.
      expect(Object.getPrototypeOf(message)).toBe(Buffer.prototype);
      expect(message.constructor).toBe(Buffer);
      expect(message.subarray(1, 3)).toBeInstanceOf(Buffer);
      expect(message.length).toBe(size);
      expect(message.buffer.byteLength).toBe(MESSAGE_SLAB_SIZE);
      expect(message.byteOffset % 8).toBe(0);
      message.fill(i & 0xff);
      kept.push(message);
    }
    // No region was handed out twice: each still holds what was written to it.
    kept.forEach((message, i) => {
      expect(message.every((byte) => byte === (i & 0xff))).toBe(true);
    });
  });

  test('sizes outside the range come from Node: its pool below, a buffer of their own above', () => {
    const small = allocateUnsafe(SLAB_MESSAGE_MIN - 1);
    expect(small.length).toBe(SLAB_MESSAGE_MIN - 1);
    expect(small.buffer.byteLength).toBe(Buffer.poolSize);
    const large = allocateUnsafe(SLAB_MESSAGE_LIMIT + 1);
    expect(large.length).toBe(SLAB_MESSAGE_LIMIT + 1);
    expect(large.buffer.byteLength).toBe(SLAB_MESSAGE_LIMIT + 1);
    expect(allocateUnsafe(0).length).toBe(0);
  });
});
