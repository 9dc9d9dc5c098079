/** An empty payload, shared so that empty frames allocate nothing. */
export const EMPTY = new Uint8Array(0);

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
    out.set(chunk, offset);
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
  copy.set(bytes);
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
