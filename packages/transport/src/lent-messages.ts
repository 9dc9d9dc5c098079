/**
 * The memory of lent messages (a server's `lendMessages`, issue 21), and what
 * keeps it safe.
 *
 * A lent message is handed to the listeners without a copy of its own: a view
 * of the read buffer every plain TCP socket shares (`lent-reads.ts`) when it
 * lay whole in one read, or, when it spanned reads, a view of a buffer this
 * module recycles (a message that spans reads is gathered somewhere either
 * way; recycled, its memory is not new to the allocator each time, which at
 * 64 KiB and more is what the time goes to: page faults on new memory).
 *
 * Whatever the library keeps past the listener it must not keep as such a
 * view: the read buffer is overwritten by the next read, a recycled buffer by
 * a later message. {@link ownIfLent} copies where something is kept (a
 * deflated send, a published message), and {@link outgoing} decides for a
 * socket write: read-buffer bytes are copied (the socket may hold them past
 * the next read: to a plain TCP socket, into a recycled buffer at 16 KiB or
 * more); recycled bytes are written as they are to a plain TCP socket, which
 * is noted, and the buffer is only reused once every socket it
 * was written to has handed everything to the kernel (checked at the
 * microtask checkpoint after the read that lent it: its writes have left the
 * cork by then). A buffer a socket may still hold is left to it, and to the
 * garbage collector.
 */
import { Buffer } from 'node:buffer';
import type { LentBuffers } from '@proj/protocol';
import { readBuffer } from './lent-reads.js';

const readMemory = readBuffer.buffer;

/**
 * The smallest message that spans reads to be gathered into a recycled buffer:
 * smaller ones are a slice of a slab or of Node's pool (`message-slab.ts`), or
 * a malloc below glibc's mmap threshold, cheap to come by.
 */
export const RECYCLE_MIN = 16 * 1024;
/** Most bytes of free recycled buffers kept for reuse; more are left to the garbage collector. */
export const RECYCLE_KEEP = 16 * 1024 * 1024;
/** Buffers come in powers of two from {@link RECYCLE_MIN}; above this class (1 GiB) sizes are exact. */
const LARGEST_CLASS = 30;
// Computed once: V8 11.3's optimised `classOf` called the C library's pow()
// for `2 ** LARGEST_CLASS` on every message (0.8% of a 64 KiB echo's time).
const LARGEST_CLASS_SIZE = 2 ** LARGEST_CLASS;
const SMALLEST_CLASS = Math.log2(RECYCLE_MIN);

/** Free buffers by size class (log2 of their size). */
const free: Buffer[][] = [];
let freeBytes = 0;
/** The memory of every recycled buffer made: what {@link isLent} recognises. */
const recycledMemory = new WeakSet<ArrayBufferLike>();
/**
 * The sockets each lent recycled buffer was written to, uncopied. Entries are
 * emptied when their buffer is released, never deleted: a deletion per
 * message would shrink the table (V8 rehashes a hash table that falls under
 * a quarter full) and the next message would grow it again, an allocation and
 * a rehash per message. Weak, so that an entry goes with its buffer: a buffer
 * taken for a message that never ends (the peer leaves mid-message) is never
 * given back, and is garbage with its connection.
 */
const writtenTo = new WeakMap<ArrayBufferLike, WrittenSocket[]>();
/** Buffers given back, reused or dropped at the next microtask checkpoint. */
const given: Uint8Array[] = [];
let releaseQueued = false;

/** What {@link outgoing} needs of a socket: how much it still holds. */
interface WrittenSocket {
  readonly writableLength: number;
}

/** The size class of a buffer of at least `size` bytes; above {@link LARGEST_CLASS}, one past it. */
function classOf(size: number): number {
  if (size > LARGEST_CLASS_SIZE) return LARGEST_CLASS + 1;
  return Math.max(SMALLEST_CLASS, 32 - Math.clz32(size - 1));
}

function take(size: number): Buffer {
  const sizeClass = classOf(size);
  const list = free[sizeClass];
  if (list !== undefined && list.length > 0) {
    const buffer = list.pop()!;
    freeBytes -= buffer.length;
    return buffer;
  }
  const buffer = Buffer.allocUnsafeSlow(sizeClass > LARGEST_CLASS ? size : 2 ** sizeClass);
  recycledMemory.add(buffer.buffer);
  return buffer;
}

function give(buffer: Uint8Array): void {
  given.push(buffer);
  if (!releaseQueued) {
    releaseQueued = true;
    queueMicrotask(release);
  }
}

/** Reuses what was given back, unless a socket may still hold it. */
function release(): void {
  releaseQueued = false;
  for (let i = 0; i < given.length; i++) {
    const buffer = given[i]!;
    const memory = buffer.buffer;
    const sockets = writtenTo.get(memory);
    const held = sockets !== undefined && stillHeld(sockets);
    // No socket is referenced past this point, whatever becomes of the buffer.
    if (sockets !== undefined) sockets.length = 0;
    const sizeClass = classOf(buffer.length);
    // Left to the sockets that hold it, or to the garbage collector.
    if (held || sizeClass > LARGEST_CLASS || freeBytes + buffer.length > RECYCLE_KEEP) continue;
    (free[sizeClass] ??= []).push(buffer as Buffer);
    freeBytes += buffer.length;
  }
  given.length = 0;
}

/** Whether one of `sockets` still holds bytes it was given. */
function stillHeld(sockets: readonly WrittenSocket[]): boolean {
  for (let i = 0; i < sockets.length; i++) if (sockets[i]!.writableLength > 0) return true;
  return false;
}

/** The recycled buffers of lent messages that span reads: the protocol's `lentBuffers` option. */
export const lentBuffers: LentBuffers = Object.freeze({ min: RECYCLE_MIN, take, give });

/** Bytes of free recycled buffers kept for reuse now (at most {@link RECYCLE_KEEP}). */
export function recycledBytesFree(): number {
  return freeBytes;
}

/**
 * Whether `bytes` are (a view of) a lent message's memory: the shared read
 * buffer, or a recycled buffer. The next read, or a later message, overwrites
 * them, so whatever the library keeps past the call that was given such
 * bytes (a deflated send, a published message) it copies first
 * ({@link ownIfLent}).
 */
export function isLent(bytes: ArrayBufferView): boolean {
  const memory = bytes.buffer;
  return memory === readMemory || recycledMemory.has(memory);
}

/** `bytes`, or a copy of them (a `Buffer`) where they are {@link isLent}. */
export function ownIfLent(bytes: Uint8Array): Uint8Array {
  return isLent(bytes) ? Buffer.from(bytes) : bytes;
}

/**
 * What to hand `socket.write` for `chunk`: the chunk itself, or a copy where
 * it is lent and the socket might hold it past the memory's reuse. Recycled
 * bytes go uncopied to a plain TCP socket (`plainTcp`, whose writable length
 * tells what it still holds), noted so that their buffer waits for it.
 */
export function outgoing(chunk: Uint8Array, socket: WrittenSocket, plainTcp: boolean): Uint8Array {
  const memory = chunk.buffer;
  if (memory === readMemory) {
    // A large copy goes into a recycled buffer, given back at once: reused
    // once the socket has written it, rather than new memory every time.
    const copy = outgoingBuffer(chunk.length, socket, plainTcp);
    copy.set(chunk);
    return copy;
  }
  if (!recycledMemory.has(memory)) return chunk;
  if (!plainTcp) return Buffer.from(chunk);
  wroteTo(memory, socket);
  return chunk;
}

/** Whether `bytes` lie in the shared read buffer, which the next read overwrites. */
export function inReadBuffer(bytes: Uint8Array): boolean {
  return bytes.buffer === readMemory;
}

/**
 * Memory for `size` bytes that will be written to `socket`, made of lent
 * bytes that must be copied first: a recycled buffer for 16 KiB or more on
 * a plain TCP socket (`plainTcp`), noted as written to it and given back at
 * once, so that it is reused only once the socket no longer holds it; new
 * memory otherwise.
 */
export function outgoingBuffer(size: number, socket: WrittenSocket, plainTcp: boolean): Buffer {
  if (!plainTcp || size < RECYCLE_MIN) return Buffer.allocUnsafe(size);
  const buffer = take(size);
  wroteTo(buffer.buffer, socket);
  give(buffer);
  return buffer.subarray(0, size);
}

/** Notes that `socket` was given bytes of the recycled buffer over `memory`. */
function wroteTo(memory: ArrayBufferLike, socket: WrittenSocket): void {
  const sockets = writtenTo.get(memory);
  if (sockets === undefined) writtenTo.set(memory, [socket]);
  else if (!sockets.includes(socket)) sockets.push(socket);
}
