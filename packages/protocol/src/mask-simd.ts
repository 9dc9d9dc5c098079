/**
 * The optional WebAssembly SIMD path of `maskInto` (RFC 6455 §5.3).
 *
 * WebAssembly memory cannot alias a JavaScript buffer, so the payload goes
 * through the module's memory in blocks of 32 KiB (they stay in L1): copied in
 * with `Uint8Array.prototype.set`, XORed there 64 bytes per loop turn with
 * `v128.xor`, and copied out to the target. Two copies plus a vector loop
 * still run about eight times faster than the JavaScript word loop on 64 KiB
 * and 1 MiB payloads (issue #6; numbers in bench/RESULTS.md).
 *
 * Nothing here is required. The module is compiled once, synchronously, when
 * the first payload large enough to use it arrives. Where WebAssembly is
 * missing, where the engine lacks SIMD (`WebAssembly.validate` fails) and
 * where compiling throws (a Content-Security-Policy without
 * 'wasm-unsafe-eval'), {@link simdMaskKernel} returns `null` and the caller
 * keeps to JavaScript.
 */
import { copyInto } from './bytes.js';

/** Writes `source` XOR `mask` (from mask position `maskOffset`) to `target`. */
export type MaskKernel = (
  source: Uint8Array,
  target: Uint8Array,
  mask: Uint8Array,
  maskOffset: number,
) => void;

/**
 * The little of the WebAssembly JS API this module uses. `lib: ["ES2022"]`
 * has no WebAssembly types and the DOM lib is kept out on purpose, so they
 * are declared here and the global is read through `globalThis`.
 */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: unknown };
}

interface KernelExports {
  readonly memory: { readonly buffer: ArrayBuffer };
  /** XORs memory[0, end rounded up to 64) with the 32-bit little-endian `word`. */
  readonly xor: (end: number, word: number) => void;
}

/**
 * Bytes per copy-in / xor / copy-out round. A multiple of 4, so every block
 * starts at the same mask phase; at most one page minus the 63 bytes the
 * kernel may run past `end`.
 */
const BLOCK_SIZE = 32 * 1024;

/*
 * The kernel, hand-assembled (139 bytes). Its WAT text:
 *
 * (module
 *   (memory (export "memory") 1)                       ;; one 64 KiB page
 *   (func (export "xor") (param $end i32) (param $word i32)
 *     (local $p i32) (local $v v128)
 *     (local.set $v (i32x4.splat (local.get $word)))
 *     (loop $next                                       ;; runs at least once
 *       (v128.store offset=0  (local.get $p) (v128.xor (v128.load offset=0  (local.get $p)) (local.get $v)))
 *       (v128.store offset=16 (local.get $p) (v128.xor (v128.load offset=16 (local.get $p)) (local.get $v)))
 *       (v128.store offset=32 (local.get $p) (v128.xor (v128.load offset=32 (local.get $p)) (local.get $v)))
 *       (v128.store offset=48 (local.get $p) (v128.xor (v128.load offset=48 (local.get $p)) (local.get $v)))
 *       (br_if $next (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 64)))
 *                              (local.get $end))))))
 */
/** One `v128.store offset (xor (v128.load offset p) v)` at byte `offset` (< 128). */
// prettier-ignore
const xorAt = (offset: number): number[] => [
  0x20, 0x02,                   // local.get $p            (store address)
  0x20, 0x02,                   // local.get $p
  0xfd, 0x00, 0x04, offset,     // v128.load align=16 offset
  0x20, 0x03,                   // local.get $v
  0xfd, 0x51,                   // v128.xor
  0xfd, 0x0b, 0x04, offset,     // v128.store align=16 offset
];

// prettier-ignore
const BODY = [
  0x02, 0x01, 0x7f, 0x01, 0x7b, // locals: 1 × i32 ($p), 1 × v128 ($v)
  0x20, 0x01,                   // local.get $word
  0xfd, 0x11,                   // i32x4.splat
  0x21, 0x03,                   // local.set $v
  0x03, 0x40,                   // loop (no result)
  ...xorAt(0), ...xorAt(16), ...xorAt(32), ...xorAt(48),
  0x20, 0x02,                   //   local.get $p
  0x41, 0xc0, 0x00,             //   i32.const 64 (signed LEB128)
  0x6a,                         //   i32.add
  0x22, 0x02,                   //   local.tee $p
  0x20, 0x00,                   //   local.get $end
  0x49,                         //   i32.lt_u
  0x0d, 0x00,                   //   br_if 0 ($next)
  0x0b,                         // end loop
  0x0b,                         // end func
];

// prettier-ignore
const KERNEL = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x06, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x00, // type section: (func (param i32 i32))
  0x03, 0x02, 0x01, 0x00,                         // function section: func 0 has type 0
  0x05, 0x03, 0x01, 0x00, 0x01,                   // memory section: min 1 page, no max
  0x07, 0x10, 0x02,                               // export section, 2 entries:
  0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, //   "memory" = memory 0
  0x03, 0x78, 0x6f, 0x72, 0x00, 0x00,             //   "xor" = func 0
  0x0a, BODY.length + 2, 0x01, BODY.length,       // code section: 1 body
  ...BODY,
]);

/** Not probed yet (`undefined`), unavailable or disabled (`null`), or ready. */
let kernel: MaskKernel | null | undefined;

/**
 * The SIMD kernel, compiled on the first call; `null` where WebAssembly or
 * its SIMD extension is missing or may not be compiled.
 */
export function simdMaskKernel(): MaskKernel | null {
  if (kernel === undefined) kernel = instantiate();
  return kernel;
}

/**
 * Internal switch (not exported by the package): `false` makes
 * {@link simdMaskKernel} return `null` so `maskInto` takes the JavaScript
 * path; `true` forgets that and probes the runtime again on next use. Tests
 * use it to prove both paths produce the same bytes.
 */
export function setSimdMaskEnabled(enabled: boolean): void {
  kernel = enabled ? undefined : null;
}

function instantiate(): MaskKernel | null {
  const wasm = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  if (typeof wasm !== 'object') return null;
  try {
    if (!wasm.validate(KERNEL)) return null;
    const exports = new wasm.Instance(new wasm.Module(KERNEL)).exports as KernelExports;
    return createKernel(new Uint8Array(exports.memory.buffer), exports.xor);
  } catch {
    // CSP without 'wasm-unsafe-eval' (CompileError / EvalError), or an
    // engine that validates but refuses to compile: the JavaScript path works.
    return null;
  }
}

function createKernel(memory: Uint8Array, xor: KernelExports['xor']): MaskKernel {
  // The view the result is copied out of, kept while the size repeats (it
  // does, message after message, in most streams): no allocation per call.
  let result = memory.subarray(0, 0);
  return (source, target, mask, maskOffset) => {
    const length = source.length;
    const phase = maskOffset & 3;
    // WebAssembly memory is little-endian on every host, so the word is built
    // from the bytes explicitly rather than through a host-endian view.
    const word =
      mask[phase]! |
      (mask[(phase + 1) & 3]! << 8) |
      (mask[(phase + 2) & 3]! << 16) |
      (mask[(phase + 3) & 3]! << 24);
    for (let offset = 0; offset < length; offset += BLOCK_SIZE) {
      const size = Math.min(BLOCK_SIZE, length - offset);
      copyInto(memory, size === length ? source : source.subarray(offset, offset + size));
      xor(size, word);
      if (result.length !== size) result = memory.subarray(0, size);
      copyInto(target, result, offset);
    }
  };
}
