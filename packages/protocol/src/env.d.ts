/**
 * The only ambient globals @proj/protocol may use. Both are WHATWG APIs that
 * Node, browsers, Deno, Bun and workers all provide; `lib: ["ES2022"]` with
 * `types: []` keeps everything else (Buffer, process, timers, DOM) out.
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
