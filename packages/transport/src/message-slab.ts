/**
 * The bytes of received messages (issue 21).
 *
 * On Node every message is copied out of the shared read buffer
 * (`lent-reads.ts`) into a `Buffer` of its own. `Buffer.allocUnsafe` carves
 * small ones from Node's 8 KiB pool, so a server echoing 1 KiB messages made
 * a new pool (a malloc, an `ArrayBuffer`, a free a garbage collection later)
 * every eight messages, about 450 ns per message in isolation. Here those of
 * 64 B to 4 KiB are carved from a 32 KiB slab instead: a quarter of the
 * `ArrayBuffer`s, and views made with Node's own `Buffer` constructor (see
 * {@link BufferView}), which skips the pool's bookkeeping.
 *
 * The slab's space is never reused: a region is handed out once, and a slab
 * lives as long as any message carved from it, so a message you keep holds
 * at most 32 KiB alive (a view of Node's pool holds 8 KiB; ws hands out
 * views of its socket reads, up to 64 KiB). `message.buffer` is the slab,
 * as it would be Node's pool.
 */
import { Buffer } from 'node:buffer';

/** Messages up to this size come from the slab (Node's own pool limit, half its 8 KiB). */
export const SLAB_MESSAGE_LIMIT = 4 * 1024;
/**
 * Messages below this size still come from Node's pool: it makes a new
 * `ArrayBuffer` only every 128 or more of them, and its views are made
 * without `Buffer.from`'s argument checks (measured: 28 against 34 ns a
 * message at 16 B, even at 64 B, 55 against 33 ns at 256 B).
 */
export const SLAB_MESSAGE_MIN = 64;
/** The slab's size: what one kept small message can hold alive at most. */
export const MESSAGE_SLAB_SIZE = 32 * 1024;

/** Makes a `Buffer` over `length` bytes of `arrayBuffer` from `byteOffset`. */
type BufferViewConstructor = new (
  arrayBuffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
) => Buffer;

/**
 * Node's own `Buffer` constructor, `FastBuffer`, which Node exposes as
 * `Buffer[Symbol.species]` (what `subarray` of a `Buffer` makes views
 * with): what `Buffer.from(arrayBuffer, offset, length)` ends in, minus its
 * argument conversions and type checks (measured on Node 20: 19-30 against
 * 51-74 ns a 1 KiB view). Its views are `Buffer`s like any other, the same
 * prototype and `constructor`. `null` where a runtime's `Buffer` has no such
 * species, or one that makes something else; `Buffer.from` is used then.
 */
const BufferView: BufferViewConstructor | null = findBufferView();

function findBufferView(): BufferViewConstructor | null {
  const species: unknown = (Buffer as unknown as Record<symbol, unknown>)[Symbol.species];
  if (typeof species !== 'function') return null;
  try {
    const probe: unknown = new (species as BufferViewConstructor)(new ArrayBuffer(8), 4, 2);
    return Buffer.isBuffer(probe) &&
      Object.getPrototypeOf(probe) === Buffer.prototype &&
      probe.byteOffset === 4 &&
      probe.length === 2
      ? (species as BufferViewConstructor)
      : null;
  } catch {
    return null;
  }
}

/**
 * A `Buffer` over `length` bytes of `arrayBuffer` from `byteOffset`, made as
 * cheaply as this runtime allows ({@link BufferView}).
 */
export function bufferView(
  arrayBuffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
): Buffer {
  return BufferView !== null
    ? new BufferView(arrayBuffer, byteOffset, length)
    : Buffer.from(arrayBuffer, byteOffset, length);
}

let slab: ArrayBuffer = new ArrayBuffer(0);
let offset = 0;

/**
 * A message buffer of `size` bytes, not zero-filled: the assembler writes
 * every byte before handing it out, so filling first would be one more pass
 * over every message. Pass as the connection's `allocate` option.
 */
export function allocateUnsafe(size: number): Buffer {
  if (size > SLAB_MESSAGE_LIMIT || size < SLAB_MESSAGE_MIN) return Buffer.allocUnsafe(size);
  if (offset + size > slab.byteLength) {
    slab = Buffer.allocUnsafeSlow(MESSAGE_SLAB_SIZE).buffer;
    offset = 0;
  }
  const bytes = bufferView(slab, offset, size);
  // 8-byte aligned, as Node aligns its pool: a Float64Array over a message works.
  offset = (offset + size + 7) & ~7;
  return bytes;
}
