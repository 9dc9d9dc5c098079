/**
 * The optional WebAssembly SIMD path of `maskInto` (RFC 6455 §5.3).
 *
 * WebAssembly memory cannot alias a JavaScript buffer, so the payload goes
 * through the module's memory in blocks of 32 KiB (they stay in L1): copied in
 * with `Uint8Array.prototype.set`, XORed there 64 bytes per loop turn with
 * `v128.xor`, and copied out to the target. Two copies plus a vector loop
 * still run about eight times faster than the JavaScript word loop on 64 KiB
 * and 1 MiB payloads (issue #6; numbers in bench/RESULTS.md). Input can skip
 * the copy in by being read into the module's memory to begin with: the
 * arena ({@link simdMaskArena}, issue 21).
 *
 * Nothing here is required. The module is compiled, synchronously, when the
 * first payload large enough to use it arrives; the arena has an instance
 * (and a compile) of its own, made when it is first asked for. Where WebAssembly is
 * missing, where the engine lacks SIMD (`WebAssembly.validate` fails) and
 * where compiling throws (a Content-Security-Policy without
 * 'wasm-unsafe-eval'), {@link simdMaskKernel} returns `null` and the caller
 * keeps to JavaScript.
 */
import { byteOffsetOf, copyInto } from './bytes.js';

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
  readonly memory: {
    readonly buffer: ArrayBuffer;
    /** Adds `pages` pages; the old `buffer` is detached. */
    grow(pages: number): number;
  };
  /** XORs memory[0, end rounded up to 64) with the 32-bit little-endian `word`. */
  readonly xor: (end: number, word: number) => void;
  /**
   * XORs memory[start, end) with `word` in whole 16-byte steps, never past
   * `end`; returns where it stopped (the last `(end - start) % 16` bytes are
   * left to the caller).
   */
  readonly xorRange: (start: number, end: number, word: number) => number;
}

/**
 * Bytes per copy-in / xor / copy-out round. A multiple of 4, so every block
 * starts at the same mask phase; at most one page minus the 63 bytes the
 * kernel may run past `end`.
 */
const BLOCK_SIZE = 32 * 1024;

/*
 * The kernel, hand-assembled (305 bytes with the second function, below).
 * Its WAT text:
 *
 * (module
 *   (memory (export "memory") 2)                       ;; two 64 KiB pages: the blocks, the arena's first
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
/**
 * One `v128.store offset (xor (v128.load offset p) v)` at byte `offset` (<
 * 128), with `$p` and `$v` the locals numbered `p` and `v`. The alignment is
 * a hint: unaligned addresses work.
 */
// prettier-ignore
const xorAt = (offset: number, p = 2, v = 3): number[] => [
  0x20, p,                      // local.get $p            (store address)
  0x20, p,                      // local.get $p
  0xfd, 0x00, 0x04, offset,     // v128.load align=16 offset
  0x20, v,                      // local.get $v
  0xfd, 0x51,                   // v128.xor
  0xfd, 0x0b, 0x04, offset,     // v128.store align=16 offset
];

/*
 * The second function, for payloads unmasked where they lie (the arena,
 * below). Its WAT text:
 *
 *   (func (export "xorRange") (param $p i32) (param $end i32) (param $word i32) (result i32)
 *     (local $v v128)
 *     (local.set $v (i32x4.splat (local.get $word)))
 *     (block $short                                     ;; 64 bytes a turn
 *       (loop $next
 *         (br_if $short (i32.gt_u (i32.add (local.get $p) (i32.const 64)) (local.get $end)))
 *         ...the four xors of the loop above...
 *         (local.set $p (i32.add (local.get $p) (i32.const 64)))
 *         (br $next)))
 *     (block $tail                                      ;; then 16 bytes a turn
 *       (loop $next
 *         (br_if $tail (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
 *         ...one xor at offset 0...
 *         (local.set $p (i32.add (local.get $p) (i32.const 16)))
 *         (br $next)))
 *     (local.get $p))
 */
/** `(br_if 1 (i32.gt_u (i32.add $p step) $end))` then the xors, `$p += step`, `br 0`. */
// prettier-ignore
const rangeLoop = (step: number[], xors: number[]): number[] => [
  0x02, 0x40,                   // block (no result)
  0x03, 0x40,                   //   loop (no result)
  0x20, 0x00, 0x41, ...step,    //     local.get $p, i32.const step
  0x6a, 0x20, 0x01, 0x4b,       //     i32.add, local.get $end, i32.gt_u
  0x0d, 0x01,                   //     br_if 1 (out of the block)
  ...xors,
  0x20, 0x00, 0x41, ...step,    //     local.get $p, i32.const step
  0x6a, 0x21, 0x00,             //     i32.add, local.set $p
  0x0c, 0x00,                   //     br 0 ($next)
  0x0b,                         //   end loop
  0x0b,                         // end block
];

// prettier-ignore
const RANGE_BODY = [
  0x01, 0x01, 0x7b,             // locals: 1 × v128 ($v, local 3)
  0x20, 0x02,                   // local.get $word
  0xfd, 0x11,                   // i32x4.splat
  0x21, 0x03,                   // local.set $v
  ...rangeLoop([0xc0, 0x00], [...xorAt(0, 0), ...xorAt(16, 0), ...xorAt(32, 0), ...xorAt(48, 0)]),
  ...rangeLoop([0x10], xorAt(0, 0)),
  0x20, 0x00,                   // local.get $p
  0x0b,                         // end func
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
const CODE = [
  0x02,                                           // 2 bodies
  ...leb128(BODY.length), ...BODY,
  ...leb128(RANGE_BODY.length), ...RANGE_BODY,
];

/** A WebAssembly memory page. */
const PAGE_SIZE = 64 * 1024;
/** The arena: from the module's second page (the first holds the kernel's blocks). */
const ARENA_START = PAGE_SIZE;
/**
 * Its size: the read buffer Node's sockets share. Two pages, so that a 64 KiB
 * message and its header lie whole in one read (the module's memory is grown
 * for the arena's instance only: the kernel's own keeps its two pages).
 */
export const MASK_ARENA_SIZE = 2 * PAGE_SIZE;

// prettier-ignore
const KERNEL = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x0d, 0x02,                               // type section, 2 types:
  0x60, 0x02, 0x7f, 0x7f, 0x00,                   //   0: (func (param i32 i32))
  0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x01, 0x7f,       //   1: (func (param i32 i32 i32) (result i32))
  0x03, 0x03, 0x02, 0x00, 0x01,                   // function section: func 0 type 0, func 1 type 1
  0x05, 0x03, 0x01, 0x00, 0x02,                   // memory section: min 2 pages, no max
  0x07, 0x1b, 0x03,                               // export section, 3 entries:
  0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, //   "memory" = memory 0
  0x03, 0x78, 0x6f, 0x72, 0x00, 0x00,             //   "xor" = func 0
  0x08, 0x78, 0x6f, 0x72, 0x52, 0x61, 0x6e, 0x67, 0x65, 0x00, 0x01, //   "xorRange" = func 1
  0x0a, ...leb128(CODE.length), ...CODE,          // code section
]);

/** Unsigned LEB128, for the section and body sizes that may pass 127. */
function leb128(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

/** Not probed yet (`undefined`), unavailable or disabled (`null`), or ready. */
let kernel: MaskKernel | null | undefined;

/**
 * The SIMD kernel, compiled on the first call; `null` where WebAssembly or
 * its SIMD extension is missing or may not be compiled.
 */
export function simdMaskKernel(): MaskKernel | null {
  if (kernel === undefined) {
    const exports = instantiate();
    kernel = exports && createKernel(new Uint8Array(exports.memory.buffer), exports.xor);
  }
  return kernel;
}

/**
 * A region of a kernel's own memory whose bytes it unmasks where they lie. An
 * I/O layer that reads into it (Node's sockets share one read buffer) saves
 * the copy into the kernel's memory: a lent payload there is unmasked in
 * place and copied once, to the message (`maskLentInto`).
 */
export interface MaskArena {
  /** The region, {@link MASK_ARENA_SIZE} bytes. */
  readonly bytes: Uint8Array;
  /**
   * The kernel memory it lies in (the region and the page before it): a view
   * whose `buffer` this is can be unmasked in place.
   */
  readonly memory: ArrayBufferLike;
  /**
   * XORs `data`, a view of {@link memory} (in practice of {@link bytes}), in
   * place with `mask` from mask position `maskOffset`, touching no byte
   * outside it.
   */
  readonly unmask: (data: Uint8Array, mask: Uint8Array, maskOffset: number) => void;
}

/** Not made yet (`undefined`), unavailable (`null`), or made. */
let arena: MaskArena | null | undefined;

/**
 * The arena, made on the first call from an instance of its own, and kept
 * for the life of the process (a read buffer in it must stay valid: the
 * memory grows once, before the arena's views are made, and never after).
 * `null` where the kernel is unavailable, as
 * {@link simdMaskKernel}. {@link setSimdMaskEnabled} does not affect it.
 */
export function simdMaskArena(): MaskArena | null {
  if (arena === undefined) {
    const exports = instantiate();
    arena = exports && createArena(exports);
  }
  return arena;
}

/**
 * The arena if someone made it (an I/O layer that reads into it), else
 * `null`: input can lie in it only then, so checking never makes one.
 */
export function madeMaskArena(): MaskArena | null {
  return arena ?? null;
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

function instantiate(): KernelExports | null {
  const wasm = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  if (typeof wasm !== 'object') return null;
  try {
    if (!wasm.validate(KERNEL)) return null;
    return new wasm.Instance(new wasm.Module(KERNEL)).exports as KernelExports;
  } catch {
    // CSP without 'wasm-unsafe-eval' (CompileError / EvalError), or an
    // engine that validates but refuses to compile: the JavaScript path works.
    return null;
  }
}

/** The 32-bit little-endian word of `mask` from mask position `phase` (0-3). */
function maskWord(mask: Uint8Array, phase: number): number {
  // WebAssembly memory is little-endian on every host, so the word is built
  // from the bytes explicitly rather than through a host-endian view.
  return (
    mask[phase]! |
    (mask[(phase + 1) & 3]! << 8) |
    (mask[(phase + 2) & 3]! << 16) |
    (mask[(phase + 3) & 3]! << 24)
  );
}

function createArena({ memory, xorRange }: KernelExports): MaskArena {
  // Before any view of the memory is made: growing detaches the old buffer.
  const pages = (ARENA_START + MASK_ARENA_SIZE) / PAGE_SIZE;
  memory.grow(pages - memory.buffer.byteLength / PAGE_SIZE);
  const buffer = memory.buffer;
  return {
    bytes: new Uint8Array(buffer, ARENA_START, MASK_ARENA_SIZE),
    memory: buffer,
    unmask(data, mask, maskOffset) {
      const start = byteOffsetOf(data);
      const length = data.length;
      const phase = maskOffset & 3;
      // The kernel stops at a whole 16 bytes, so the rest keeps the phase.
      let i = xorRange(start, start + length, maskWord(mask, phase)) - start;
      for (; i < length; i++) data[i] = data[i]! ^ mask[(phase + i) & 3]!;
    },
  };
}

function createKernel(memory: Uint8Array, xor: KernelExports['xor']): MaskKernel {
  // The view the result is copied out of, kept while the size repeats (it
  // does, message after message, in most streams): no allocation per call.
  let result = memory.subarray(0, 0);
  return (source, target, mask, maskOffset) => {
    const length = source.length;
    const word = maskWord(mask, maskOffset & 3);
    for (let offset = 0; offset < length; offset += BLOCK_SIZE) {
      const size = Math.min(BLOCK_SIZE, length - offset);
      copyInto(memory, size === length ? source : source.subarray(offset, offset + size));
      xor(size, word);
      if (result.length !== size) result = memory.subarray(0, size);
      copyInto(target, result, offset);
    }
  };
}
