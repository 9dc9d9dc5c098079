/** An empty payload, shared so that empty frames allocate nothing. */
export const EMPTY = new Uint8Array(0);

/*
 * The typed-array builtins, called directly rather than looked up on each
 * array. V8 11.3 (Node 20) optimizes functions on a background thread, and
 * code compiled there keeps every property load on a typed array other than
 * `length` (`bytes.set`, `bytes.subarray`, `bytes.byteLength`,
 * `bytes.byteOffset`, `bytes.buffer`) as a call into the generic load IC,
 * even where the IC saw a single map; with `--no-concurrent-recompilation`
 * the same loads are inlined. On the echo server those calls were 3% of the
 * samples (issue 21). Measured on Node 20, one call from an optimized loop:
 * a 1 KiB `set` 23 against 38 ns, `byteOffset` 3.6 against 9.9 ns, and
 * `length` 0.9 against `byteLength` 9.9 ns (so code that holds a
 * `Uint8Array` reads `length`).
 */
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as Uint8Array;
const typedArraySet = TypedArrayPrototype.set;
const typedArrayAccessors = Object.getOwnPropertyDescriptors(TypedArrayPrototype);
const bufferGetter = typedArrayAccessors.buffer.get!;
const byteOffsetGetter = typedArrayAccessors.byteOffset.get!;

/** Copies all of `source` into `target` from `offset`: `target.set(source, offset)`. */
export function copyInto(target: Uint8Array, source: Uint8Array, offset = 0): void {
  typedArraySet.call(target, source, offset);
}

/** `bytes.buffer`: the memory a view is over. */
export function bufferOf(bytes: Uint8Array): ArrayBufferLike {
  return bufferGetter.call(bytes) as ArrayBufferLike;
}

/** `bytes.byteOffset`: where a view starts in its buffer. */
export function byteOffsetOf(bytes: Uint8Array): number {
  return byteOffsetGetter.call(bytes) as number;
}

/**
 * Joins `chunks` into one array of `totalLength` bytes. A single chunk of the
 * right size is returned as is (no copy).
 */
export function concatBytes(chunks: readonly Uint8Array[], totalLength?: number): Uint8Array {
  if (chunks.length === 1) {
    const only = chunks[0]!;
    if (totalLength === undefined || only.length === totalLength) return only;
  }
  let length = totalLength;
  if (length === undefined) {
    length = 0;
    for (const chunk of chunks) length += chunk.length;
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    copyInto(out, chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * A copy of `bytes` in a buffer made by `allocate` (default `new
 * Uint8Array`): what the protocol keeps of input that was only lent.
 */
export function copyBytes(
  bytes: Uint8Array,
  allocate?: ((size: number) => Uint8Array) | undefined,
): Uint8Array {
  const copy = allocate?.(bytes.length) ?? new Uint8Array(bytes.length);
  copyInto(copy, bytes);
  return copy;
}

/**
 * Normalises any binary input to a `Uint8Array` view over the same memory.
 * Accepts `ArrayBuffer`, `SharedArrayBuffer` and every `ArrayBufferView`.
 */
export function toBytes(data: ArrayBufferLike | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** Finds the first `\r\n\r\n` in `bytes` at or after `from`; -1 when absent. */
export function indexOfHeadEnd(bytes: Uint8Array, from = 0): number {
  for (let i = Math.max(0, from); i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}
