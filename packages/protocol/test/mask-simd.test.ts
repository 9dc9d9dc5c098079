/**
 * The WebAssembly SIMD path of maskInto against the JavaScript path and the
 * byte-at-a-time definition, and the fallback where WebAssembly, SIMD or
 * compilation is unavailable.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { encodeFrame } from '../src/frame.js';
import { FrameParser } from '../src/frame-parser.js';
import { applyMask, maskInto, maskLentInto, maskWords, unmaskLent } from '../src/mask.js';
import {
  MASK_ARENA_SIZE,
  type MaskArena,
  type MaskKernel,
  setSimdMaskEnabled,
  simdMaskArena,
  simdMaskKernel,
} from '../src/mask-simd.js';
import { randomBytes as seededBytes } from './arbitraries.js';
import { expectBytes, randomBytes, rng } from './helpers.js';

const FUZZ_RUNS = Number(process.env['FUZZ_RUNS']) || 0;
const SEED = Number(process.env['FUZZ_SEED']) || 0x6455;

/** Mirrors mask-simd.ts: the kernel works in 32 KiB blocks of 64-byte steps; 64 is the threshold. */
const BLOCK = 32 * 1024;
const MASK = Uint8Array.of(0xa1, 0xb2, 0xc3, 0xd4);

/** Every length where a block, a 64-byte step or a threshold starts or ends, and its neighbours. */
const LENGTHS = [
  ...Array.from({ length: 200 }, (_, i) => i),
  ...[1, 2, 3].flatMap((blocks) =>
    [-65, -64, -63, -5, -4, -3, -1, 0, 1, 3, 4, 5, 63, 64, 65].map((d) => blocks * BLOCK + d),
  ),
  65_536 + 14,
];

/** RFC 6455 §5.3, one byte at a time. */
function reference(data: Uint8Array, mask: Uint8Array, maskOffset: number): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ mask[(maskOffset + i) & 3]!;
  return out;
}

function kernel(): MaskKernel {
  const simd = simdMaskKernel();
  // Node 20 has WebAssembly SIMD: if this fails, every comparison below would
  // be comparing the JavaScript path with itself.
  expect(simd).not.toBeNull();
  return simd!;
}

/**
 * The WebAssembly JS API as far as these tests use it (the test tsconfig has
 * Node's types, which do not declare it).
 */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: unknown };
  CompileError: new (message: string) => Error;
}
const realWebAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

type Masker = (source: Uint8Array, target: Uint8Array, mask: Uint8Array, offset: number) => void;

/** The index of the first byte where `a` and `b` differ, or -1 (fast, for big arrays). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/**
 * Runs `masker` on a view at `sourceOffset` into a view at `targetOffset`
 * (the same view when `inPlace`) in buffers padded with sentinel bytes;
 * checks the result, that the source is intact, and that no byte outside the
 * target changed.
 */
function check(
  masker: Masker,
  data: Uint8Array,
  sourceOffset: number,
  targetOffset: number,
  phase: number,
  inPlace: boolean,
): void {
  const length = data.length;
  const sourceBuffer = new Uint8Array(length + 16).fill(0x5c);
  sourceBuffer.set(data, sourceOffset);
  const source = sourceBuffer.subarray(sourceOffset, sourceOffset + length);
  const targetStart = inPlace ? sourceOffset : targetOffset;
  const targetBuffer = inPlace ? sourceBuffer : new Uint8Array(length + 16).fill(0xee);
  const target = targetBuffer.subarray(targetStart, targetStart + length);
  masker(source, target, MASK, phase);

  const where = `length ${length}, offsets ${sourceOffset}/${targetOffset}, phase ${phase}`;
  expect(firstDifference(target, reference(data, MASK, phase)), where).toBe(-1);
  if (!inPlace) expect(firstDifference(source, data), where).toBe(-1);
  const fill = inPlace ? 0x5c : 0xee;
  const before = targetBuffer.subarray(0, targetStart);
  const after = targetBuffer.subarray(targetStart + length);
  expect(
    [...before, ...after].every((b) => b === fill),
    where,
  ).toBe(true);
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  setSimdMaskEnabled(true);
});

describe('the SIMD kernel', () => {
  test('in place: every length near a boundary, byteOffset 0-7, mask phase 0-3', () => {
    const simd = kernel();
    const random = rng(17);
    for (const length of LENGTHS) {
      const data = randomBytes(random, length);
      for (let offset = 0; offset < 8; offset++) {
        for (let phase = 0; phase < 4; phase++) {
          check(simd, data, offset, offset, phase, true);
          check(maskWords, data, offset, offset, phase, true);
        }
      }
    }
  });

  test('into another buffer: every length near a boundary, both byteOffsets 0-7, phase 0-3', () => {
    const simd = kernel();
    const random = rng(19);
    for (const length of LENGTHS) {
      const data = randomBytes(random, length);
      // All 64 offset pairs up to two 64-byte steps past the threshold. For
      // the long ones, 8 pairs in which every source offset, every target
      // offset and every relative word alignment occurs.
      const pairs =
        length < 136
          ? Array.from({ length: 64 }, (_, i) => [i >> 3, i & 7] as const)
          : Array.from({ length: 8 }, (_, i) => [i, (2 * i + (i >> 2)) & 7] as const);
      for (const [sourceOffset, targetOffset] of pairs) {
        for (let phase = 0; phase < 4; phase++) {
          check(simd, data, sourceOffset, targetOffset, phase, false);
          check(maskWords, data, sourceOffset, targetOffset, phase, false);
        }
      }
    }
  });

  test('reads only the first four bytes of a longer mask, and any maskOffset', () => {
    const simd = kernel();
    const data = randomBytes(rng(23), 1000);
    const longMask = Uint8Array.of(...MASK, 0xff, 0xff, 0xff, 0xff);
    for (const maskOffset of [4, 5, 1001, 2 ** 31 + 2]) {
      const target = new Uint8Array(1000);
      simd(data, target, longMask, maskOffset);
      expectBytes(target, reference(data, MASK, maskOffset & 3));
    }
  });

  test('works on views of a SharedArrayBuffer', () => {
    const simd = kernel();
    const data = randomBytes(rng(29), BLOCK + 100);
    const shared = new Uint8Array(new SharedArrayBuffer(BLOCK + 108)).subarray(3, BLOCK + 103);
    shared.set(data);
    simd(shared, shared, MASK, 1);
    expectBytes(shared.slice(), reference(data, MASK, 1));
  });

  test('property: SIMD, the JavaScript path and the definition agree', () => {
    const simd = kernel();
    fc.assert(
      fc.property(
        fc.record({
          length: fc.oneof(
            fc.integer({ min: 0, max: 300 }),
            fc.integer({ min: 0, max: 3 * BLOCK }),
          ),
          seed: fc.integer(),
          sourceOffset: fc.integer({ min: 0, max: 7 }),
          targetOffset: fc.integer({ min: 0, max: 7 }),
          phase: fc.integer({ min: 0, max: 3 }),
          inPlace: fc.boolean(),
        }),
        ({ length, seed, sourceOffset, targetOffset, phase, inPlace }) => {
          const data = seededBytes(length, seed);
          check(simd, data, sourceOffset, targetOffset, phase, inPlace);
          check(maskWords, data, sourceOffset, targetOffset, phase, inPlace);
          check(maskInto, data, sourceOffset, targetOffset, phase, inPlace);
        },
      ),
      { seed: SEED, numRuns: FUZZ_RUNS || 150 },
    );
  });
});

describe('maskInto', () => {
  /** A WebAssembly stand-in that counts calls into the real kernel. */
  function countingWebAssembly(): { calls: () => number } {
    const real = realWebAssembly;
    let calls = 0;
    class CountingInstance {
      readonly exports: object;
      constructor(module: object) {
        const exports = new real.Instance(module).exports as {
          memory: { buffer: ArrayBuffer };
          xor: (end: number, word: number) => void;
        };
        this.exports = {
          memory: exports.memory,
          xor: (end: number, word: number) => {
            calls++;
            exports.xor(end, word);
          },
        };
      }
    }
    vi.stubGlobal('WebAssembly', {
      validate: real.validate,
      Module: real.Module,
      Instance: CountingInstance,
    });
    setSimdMaskEnabled(true);
    return { calls: () => calls };
  }

  test('uses the kernel from 64 bytes on, one call per 32 KiB block, and not below', () => {
    const counter = countingWebAssembly();
    maskInto(new Uint8Array(63), new Uint8Array(63), MASK);
    expect(counter.calls()).toBe(0);
    maskInto(new Uint8Array(64), new Uint8Array(64), MASK);
    expect(counter.calls()).toBe(1);
    const big = new Uint8Array(2 * BLOCK + 1);
    applyMask(big, MASK);
    expect(counter.calls()).toBe(4);
    expect(big.subarray(0, 8)).toEqual(Uint8Array.of(...MASK, ...MASK));
  });

  test('with SIMD switched off gives the same bytes as with it on', () => {
    const random = rng(31);
    for (const length of [0, 63, 64, 65, 1000, BLOCK - 1, BLOCK + 1, 3 * BLOCK + 7]) {
      const data = randomBytes(random, length + 5);
      for (const offset of [0, 1, 2, 3, 5]) {
        for (const phase of [0, 3]) {
          const viaSimd = data.slice();
          setSimdMaskEnabled(true);
          applyMask(viaSimd.subarray(offset, offset + length), MASK, phase);

          const viaJs = data.slice();
          setSimdMaskEnabled(false);
          expect(simdMaskKernel()).toBeNull();
          applyMask(viaJs.subarray(offset, offset + length), MASK, phase);

          expectBytes(viaJs, viaSimd);
          const expected = data.slice();
          expected.set(reference(data.subarray(offset, offset + length), MASK, phase), offset);
          expectBytes(viaSimd, expected);
        }
      }
    }
  });

  test('falls back to JavaScript where WebAssembly is missing', () => {
    vi.stubGlobal('WebAssembly', undefined);
    setSimdMaskEnabled(true);
    expect(simdMaskKernel()).toBeNull();
    const data = randomBytes(rng(37), 5000);
    check(maskInto, data, 1, 6, 2, false);
    check(maskInto, data, 3, 3, 1, true);
  });

  test('falls back where SIMD is unsupported (the kernel does not validate)', () => {
    const validate = vi.spyOn(realWebAssembly, 'validate').mockReturnValue(false);
    setSimdMaskEnabled(true);
    expect(simdMaskKernel()).toBeNull();
    expect(validate).toHaveBeenCalledTimes(1);
    // The answer is kept: no probe per call.
    check(maskInto, randomBytes(rng(41), 4096), 0, 0, 0, true);
    expect(simdMaskKernel()).toBeNull();
    expect(validate).toHaveBeenCalledTimes(1);
  });

  test('falls back where compiling is forbidden (CSP without wasm-unsafe-eval)', () => {
    const real = realWebAssembly;
    vi.stubGlobal('WebAssembly', {
      validate: real.validate,
      Module: class {
        constructor() {
          throw new real.CompileError('Wasm code generation disallowed by embedder');
        }
      },
      Instance: real.Instance,
    });
    setSimdMaskEnabled(true);
    expect(simdMaskKernel()).toBeNull();
    check(maskInto, randomBytes(rng(43), 70_000), 2, 5, 3, false);
  });

  test('the parser unmasks a large frame split across chunks the same way on both paths', () => {
    const payload = randomBytes(rng(47), 3 * BLOCK + 5);
    const wire = encodeFrame(0x2, payload, { mask: MASK });
    const stream = new Uint8Array(wire.reduce((n, part) => n + part.length, 0));
    let at = 0;
    for (const part of wire) {
      stream.set(part, at);
      at += part.length;
    }
    for (const enabled of [true, false]) {
      setSimdMaskEnabled(enabled);
      const pieces: Uint8Array[] = [];
      const parser = new FrameParser(
        {
          onFrameHeader() {},
          onFramePayload: (data) => pieces.push(data.slice()),
          onFrameEnd() {},
        },
        { expectMasked: true },
      );
      const copy = stream.slice();
      // Odd chunk sizes, so pieces start at every alignment and mask phase.
      for (let offset = 0; offset < copy.length; offset += 20_001) {
        parser.push(copy.subarray(offset, offset + 20_001));
      }
      const received = new Uint8Array(payload.length);
      let offset = 0;
      for (const piece of pieces) {
        received.set(piece, offset);
        offset += piece.length;
      }
      expectBytes(received, payload);
    }
  });
});

describe('the arena: unmasking where the bytes were read', () => {
  function arena(): MaskArena {
    const made = simdMaskArena();
    expect(made).not.toBeNull();
    return made!;
  }

  test('is one region of the kernel memory, the size of a read, kept for good', () => {
    const { bytes, memory } = arena();
    expect(bytes.length).toBe(MASK_ARENA_SIZE);
    expect(bytes.buffer).toBe(memory);
    setSimdMaskEnabled(false);
    setSimdMaskEnabled(true);
    expect(simdMaskArena()!.bytes).toBe(bytes);
  });

  test('unmask XORs exactly the view, at any start, length and mask position', () => {
    const { bytes, unmask } = arena();
    const random = rng(SEED);
    const lengths = [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 1000, 4096, MASK_ARENA_SIZE - 70];
    for (const length of [
      ...lengths,
      ...Array.from({ length: 200 }, () => Math.floor(random() * 5000)),
    ]) {
      const start = Math.floor(random() * (MASK_ARENA_SIZE - length + 1));
      const maskOffset = Math.floor(random() * 4);
      bytes.fill(0x5a);
      const data = bytes.subarray(start, start + length);
      const original = randomBytes(random, length);
      data.set(original);
      unmask(data, MASK, maskOffset);
      expectBytes(data, reference(original, MASK, maskOffset));
      // Nothing around it changed: the kernel never runs past the view.
      expect(firstDifference(bytes.subarray(0, start), new Uint8Array(start).fill(0x5a))).toBe(-1);
      const after = bytes.subarray(start + length);
      expect(firstDifference(after, new Uint8Array(after.length).fill(0x5a))).toBe(-1);
    }
  });

  test('maskLentInto never makes the arena: input lies in it only once an I/O layer made it', async () => {
    vi.resetModules();
    const fresh = await import('../src/mask.js');
    const freshSimd = await import('../src/mask-simd.js');
    const source = randomBytes(rng(SEED + 3), 1000);
    const target = new Uint8Array(1000);
    fresh.maskLentInto(Uint8Array.from(source), target, MASK, 2);
    expectBytes(target, reference(source, MASK, 2));
    expect(freshSimd.madeMaskArena()).toBeNull();
    const made = freshSimd.simdMaskArena();
    expect(made).not.toBeNull();
    expect(freshSimd.madeMaskArena()).toBe(made);
  });

  test('maskLentInto unmasks a lent view of the arena in place and copies it once', () => {
    const { bytes } = arena();
    const original = randomBytes(rng(SEED + 1), 1000);
    const source = bytes.subarray(333, 1333);
    source.set(original);
    const target = new Uint8Array(1000);
    maskLentInto(source, target, MASK, 3);
    expectBytes(target, reference(original, MASK, 3));
    // The lent bytes were unmasked where they lay.
    expectBytes(source, reference(original, MASK, 3));
  });

  test('unmaskLent unmasks in place, in the arena (by the kernel) and anywhere else, any length', () => {
    const { bytes } = arena();
    for (const [offset, length] of [
      [333, 1000],
      [17, 64],
      [5, 63],
      [1, 7],
    ] as const) {
      const original = randomBytes(rng(SEED + length), length);
      const inArena = bytes.subarray(offset - 1, offset + length + 1);
      inArena.fill(0xa5);
      const data = inArena.subarray(1, 1 + length);
      data.set(original);
      unmaskLent(data, MASK, 2);
      expectBytes(data, reference(original, MASK, 2));
      // Nothing around the view was touched.
      expect([inArena[0], inArena[length + 1]]).toEqual([0xa5, 0xa5]);
      const elsewhere = Uint8Array.from(original);
      unmaskLent(elsewhere, MASK, 2);
      expectBytes(elsewhere, reference(original, MASK, 2));
    }
  });

  test('maskLentInto elsewhere, or for a short payload, is maskInto: the source untouched', () => {
    for (const [source, label] of [
      [randomBytes(rng(SEED + 2), 1000), 'outside the arena'],
      [arena().bytes.subarray(10, 40), 'shorter than the kernel threshold'],
    ] as const) {
      const original = Uint8Array.from(source);
      const target = new Uint8Array(source.length);
      maskLentInto(source, target, MASK, 1);
      expect(firstDifference(target, reference(original, MASK, 1)), label).toBe(-1);
      expect(firstDifference(source, original), label).toBe(-1);
    }
  });
});
