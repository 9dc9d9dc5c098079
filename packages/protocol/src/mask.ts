/**
 * XOR masking (RFC 6455 §5.3). The same operation masks and unmasks.
 *
 * Payloads of {@link SIMD_THRESHOLD} bytes or more go through a WebAssembly
 * SIMD kernel where the runtime allows one (see mask-simd.ts). Otherwise they
 * are processed four bytes at a time through an `Int32Array` over the
 * word-aligned middle of the buffer; the mask word is built from the same
 * bytes through a same-endian view, so it works on any byte order.
 */
import { bufferOf, byteOffsetOf, copyInto } from './bytes.js';
import { madeMaskArena, simdMaskKernel } from './mask-simd.js';

/**
 * From this size on the SIMD kernel is used (and compiled, the first time).
 * Measured: at 64 bytes it is 1.9 times as fast as either JavaScript loop,
 * at 24 bytes the per-call copies make it slower than the byte loop.
 */
const SIMD_THRESHOLD = 64;
/** Below this the byte loop wins: making the two word views costs more than it saves. */
const WORD_THRESHOLD = 64;
const maskWordBytes = new Uint8Array(4);
const maskWordView = new Int32Array(maskWordBytes.buffer);

/**
 * XORs `data` in place with `mask`, starting at mask position `maskOffset`
 * (the number of payload bytes already processed, for payloads that arrive in
 * pieces).
 * @returns the mask offset for the next piece.
 */
export function applyMask(data: Uint8Array, mask: Uint8Array, maskOffset = 0): number {
  maskInto(data, data, mask, maskOffset);
  return (maskOffset + data.length) & 3;
}

/**
 * Writes `source` XOR `mask` to `target` (which may be `source` itself, or a
 * region of the same size elsewhere).
 */
export function maskInto(
  source: Uint8Array,
  target: Uint8Array,
  mask: Uint8Array,
  maskOffset = 0,
): void {
  if (source.length >= SIMD_THRESHOLD) {
    const simd = simdMaskKernel();
    if (simd !== null) {
      simd(source, target, mask, maskOffset);
      return;
    }
  }
  maskWords(source, target, mask, maskOffset);
}

/**
 * {@link maskInto} for a `source` that is lent and may be overwritten (the
 * bytes are its caller's only for the call). Where it lies in the SIMD
 * kernel's arena (`simdMaskArena`: Node's sockets read into it) and is long
 * enough for the kernel, it is unmasked where it lies and copied once to
 * `target`, rather than copied into the kernel's memory, unmasked there and
 * copied out. Elsewhere it is exactly {@link maskInto}, `source` untouched.
 */
export function maskLentInto(
  source: Uint8Array,
  target: Uint8Array,
  mask: Uint8Array,
  maskOffset = 0,
): void {
  if (source.length >= SIMD_THRESHOLD) {
    const arena = madeMaskArena();
    if (arena !== null && bufferOf(source) === arena.memory) {
      arena.unmask(source, mask, maskOffset);
      copyInto(target, source);
      return;
    }
  }
  maskInto(source, target, mask, maskOffset);
}

/**
 * {@link applyMask} for lent `data` that is handed on in place (a message
 * lent to its listeners): where it lies in the SIMD kernel's arena and is
 * long enough for the kernel, the kernel unmasks it where it lies; elsewhere
 * it is exactly {@link applyMask}.
 */
export function unmaskLent(data: Uint8Array, mask: Uint8Array, maskOffset = 0): void {
  if (data.length >= SIMD_THRESHOLD) {
    const arena = madeMaskArena();
    if (arena !== null && bufferOf(data) === arena.memory) {
      arena.unmask(data, mask, maskOffset);
      return;
    }
  }
  maskInto(data, data, mask, maskOffset);
}

/**
 * The JavaScript path of {@link maskInto}, used where WebAssembly SIMD is not
 * available and for short payloads. Internal: exported for tests only.
 */
export function maskWords(
  source: Uint8Array,
  target: Uint8Array,
  mask: Uint8Array,
  maskOffset: number,
): void {
  const length = source.length;
  let i = 0;
  if (length >= WORD_THRESHOLD) {
    // Advance byte by byte until target is 4-byte aligned, then use words,
    // provided source shares the alignment.
    const targetOffset = byteOffsetOf(target);
    const sourceOffset = target === source ? targetOffset : byteOffsetOf(source);
    while (((targetOffset + i) & 3) !== 0) {
      target[i] = source[i]! ^ mask[(maskOffset + i) & 3]!;
      i++;
    }
    if (((sourceOffset + i) & 3) === 0) {
      const phase = (maskOffset + i) & 3;
      maskWordBytes[0] = mask[phase]!;
      maskWordBytes[1] = mask[(phase + 1) & 3]!;
      maskWordBytes[2] = mask[(phase + 2) & 3]!;
      maskWordBytes[3] = mask[(phase + 3) & 3]!;
      const word = maskWordView[0]!;
      const words = (length - i) >>> 2;
      // Int32, not Uint32: words above 2^31 then stay small integers in V8
      // instead of becoming doubles. Unrolled four times; both together
      // measured 1.8 times as fast as the plain Uint32 loop.
      const sourceWords = new Int32Array(bufferOf(source), sourceOffset + i, words);
      const targetWords =
        target === source ? sourceWords : new Int32Array(bufferOf(target), targetOffset + i, words);
      const unrolled = words & ~3;
      let w = 0;
      for (; w < unrolled; w += 4) {
        targetWords[w] = sourceWords[w]! ^ word;
        targetWords[w + 1] = sourceWords[w + 1]! ^ word;
        targetWords[w + 2] = sourceWords[w + 2]! ^ word;
        targetWords[w + 3] = sourceWords[w + 3]! ^ word;
      }
      for (; w < words; w++) targetWords[w] = sourceWords[w]! ^ word;
      i += words << 2;
    }
  }
  // The rest (all of a short payload): four bytes a step with the mask bytes
  // in locals, rather than an index computation and a load of `mask` per byte.
  const phase = (maskOffset + i) & 3;
  const m0 = mask[phase]!;
  const m1 = mask[(phase + 1) & 3]!;
  const m2 = mask[(phase + 2) & 3]!;
  const m3 = mask[(phase + 3) & 3]!;
  const whole = i + ((length - i) & ~3);
  for (; i < whole; i += 4) {
    target[i] = source[i]! ^ m0;
    target[i + 1] = source[i + 1]! ^ m1;
    target[i + 2] = source[i + 2]! ^ m2;
    target[i + 3] = source[i + 3]! ^ m3;
  }
  if (i < length) target[i] = source[i]! ^ m0;
  if (i + 1 < length) target[i + 1] = source[i + 1]! ^ m1;
  if (i + 2 < length) target[i + 2] = source[i + 2]! ^ m2;
}

/** Produces a fresh 4-byte masking key. Only the first four bytes are read. */
export type MaskSource = () => Uint8Array;

/**
 * The default mask source: `crypto.getRandomValues` drawn from a pooled
 * buffer, so the system call is paid once per 2,048 frames rather than per
 * frame. RFC 6455 §5.3 requires keys an intermediary cannot predict, so never
 * `Math.random`.
 */
export function createRandomMaskSource(poolSize = 8192): MaskSource {
  const pool = new Uint8Array(poolSize - (poolSize % 4) || 4);
  let offset = pool.length;
  return () => {
    if (offset === pool.length) {
      crypto.getRandomValues(pool);
      offset = 0;
    }
    const key = pool.subarray(offset, offset + 4);
    offset += 4;
    return key;
  };
}
