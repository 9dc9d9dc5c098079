/**
 * The only ambient globals @proj/protocol relies on. They are WHATWG APIs that
 * Node, browsers, Deno, Bun and workers all provide; `lib: ["ES2022"]` with
 * `types: []` keeps everything else (Buffer, process, timers, DOM) out. One
 * optional extra: mask-simd.ts reads `globalThis.WebAssembly` (typed there)
 * and falls back to JavaScript where it is missing or may not compile.
 */

declare class TextEncoder {
  encode(input?: string): Uint8Array;
}

declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: Uint8Array): string;
}

declare const crypto: {
  /** Used for masking keys and handshake keys only. */
  getRandomValues<T extends Uint8Array>(array: T): T;
};
