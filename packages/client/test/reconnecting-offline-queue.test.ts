/**
 * The offline queue (src/offline-queue.ts): two limits, bytes counted as
 * `bufferedAmount` counts them, copies of what the caller may reuse, and a
 * refusal that says which limit and leaves the queue as it was.
 */
import { describe, expect, test } from 'vitest';
import {
  OfflineQueue,
  OfflineQueueFullError,
  queuedSize,
  toQueuedData,
} from '../src/offline-queue.js';

describe('limits', () => {
  test('maxQueuedMessages: the message past it is refused, the queue untouched', () => {
    const queue = new OfflineQueue(2, Infinity);
    queue.push('a');
    queue.push('bc');
    let error: unknown;
    try {
      queue.push('d');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(OfflineQueueFullError);
    expect(error).toMatchObject({
      name: 'OfflineQueueFullError',
      code: 'WS_ERR_OFFLINE_QUEUE_FULL',
      limit: 'maxQueuedMessages',
      size: 1,
      queuedMessages: 2,
      queuedBytes: 3,
    });
    expect((error as Error).message).toBe(
      'Offline queue full: a message of 1 bytes was refused, since the queue holds 2 messages ' +
        'and "maxQueuedMessages" is 2; it was not sent or queued',
    );
    expect([queue.length, queue.bytes]).toEqual([2, 3]);
    expect(queue.drain()).toEqual(['a', 'bc']);
  });

  test('maxQueuedBytes: a message that would pass it is refused; a smaller one still fits', () => {
    const queue = new OfflineQueue(Infinity, 10);
    queue.push('12345678');
    expect(() => queue.push('abc')).toThrow(
      expect.objectContaining({ limit: 'maxQueuedBytes', size: 3, queuedBytes: 8 }),
    );
    queue.push('ab');
    expect(queue.bytes).toBe(10);
  });

  test('a message larger than maxQueuedBytes alone is refused', () => {
    const queue = new OfflineQueue(Infinity, 4);
    expect(() => queue.push(new Uint8Array(5))).toThrow(OfflineQueueFullError);
    expect(queue.length).toBe(0);
  });

  test('limits of 0: maxQueuedMessages refuses every message, maxQueuedBytes all but empty ones', () => {
    expect(() => new OfflineQueue(0, 0).push('')).toThrow(
      expect.objectContaining({ limit: 'maxQueuedMessages' }),
    );
    const bytesOnly = new OfflineQueue(Infinity, 0);
    bytesOnly.push('');
    expect(() => bytesOnly.push('x')).toThrow(expect.objectContaining({ limit: 'maxQueuedBytes' }));
  });

  test('drain empties it and returns the messages oldest first', () => {
    const queue = new OfflineQueue(10, 100);
    queue.push('1');
    queue.push('2');
    expect(queue.drain()).toEqual(['1', '2']);
    expect([queue.length, queue.bytes, queue.drain()]).toEqual([0, 0, []]);
  });
});

describe('what is queued', () => {
  test('text counts its UTF-8 bytes', () => {
    expect(queuedSize(toQueuedData('héllo €'))).toBe(10);
  });

  test('bytes are copied: the caller may reuse its buffer', () => {
    const buffer = new Uint8Array([1, 2, 3, 4]);
    const view = toQueuedData(buffer.subarray(1, 3)) as ArrayBuffer;
    const whole = toQueuedData(buffer.buffer) as ArrayBuffer;
    buffer.fill(0);
    expect([...new Uint8Array(view)]).toEqual([2, 3]);
    expect([...new Uint8Array(whole)]).toEqual([1, 2, 3, 4]);
    expect(queuedSize(view)).toBe(2);
  });

  test('a Blob is kept as is (it is immutable) and counts its size', () => {
    const blob = new Blob(['abc']);
    expect(toQueuedData(blob)).toBe(blob);
    expect(queuedSize(blob)).toBe(3);
  });

  test("as WebIDL converts send()'s argument: a SharedArrayBuffer becomes a string; a view over one is refused", () => {
    const shared = new SharedArrayBuffer(4);
    expect(toQueuedData(shared)).toBe('[object SharedArrayBuffer]');
    expect(() => toQueuedData(new Uint8Array(shared))).toThrow(TypeError);
  });
});
