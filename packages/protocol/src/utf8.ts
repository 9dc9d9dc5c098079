import { InvalidUtf8Error } from './errors.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenientDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** UTF-8 encodes `text` (lone surrogates become U+FFFD, as in every WHATWG API). */
export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * Decodes bytes already known to be valid UTF-8 (a message that passed
 * {@link Utf8Validator}). A leading BOM is kept: it is part of the message.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  return lenientDecoder.decode(bytes);
}

/**
 * Decodes `bytes` as strict UTF-8.
 * @throws {InvalidUtf8Error} on any invalid sequence.
 */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new InvalidUtf8Error();
  }
}

/** Number of UTF-8 bytes `text` encodes to, without encoding it. */
export function utf8Length(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) {
      length += 1;
    } else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        // A surrogate pair: two UTF-16 units, four UTF-8 bytes.
        length += 2;
        i++;
        continue;
      }
      length += 2;
    } else {
      // Other BMP characters and lone surrogates (sent as U+FFFD) take 3 bytes.
      length += 2;
    }
  }
  return length;
}

/**
 * A streaming UTF-8 validator: feed it a message's bytes in any split and it
 * reports the first invalid byte as soon as it arrives, so a text message
 * whose first fragment is already bad fails before the rest is received
 * (Autobahn 6.4.x "fail fast"). Rejects overlong forms, UTF-16 surrogates and
 * code points above U+10FFFF, following the Unicode Standard, Table 3-7.
 */
export class Utf8Validator {
  /** Continuation bytes still expected for the current code point. */
  #needed = 0;
  /** Allowed range of the next continuation byte. */
  #lower = 0x80;
  #upper = 0xbf;

  /** Whether the bytes so far end on a code point boundary. */
  get complete(): boolean {
    return this.#needed === 0;
  }

  /** Forgets any partial code point, ready for a new message. */
  reset(): void {
    this.#needed = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
  }

  /**
   * Checks the next bytes of the message.
   * @returns false at the first byte that cannot be part of valid UTF-8.
   */
  push(bytes: Uint8Array): boolean {
    let needed = this.#needed;
    let lower = this.#lower;
    let upper = this.#upper;
    const length = bytes.length;
    let i = 0;
    while (i < length) {
      const byte = bytes[i++]!;
      if (needed === 0) {
        if (byte < 0x80) {
          // ASCII fast path: skip the run without touching the state.
          while (i < length && bytes[i]! < 0x80) i++;
          continue;
        }
        if (byte >= 0xc2 && byte <= 0xdf) {
          needed = 1;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          needed = 2;
          if (byte === 0xe0)
            lower = 0xa0; // overlong 3-byte forms
          else if (byte === 0xed) upper = 0x9f; // UTF-16 surrogates
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          needed = 3;
          if (byte === 0xf0)
            lower = 0x90; // overlong 4-byte forms
          else if (byte === 0xf4) upper = 0x8f; // above U+10FFFF
        } else {
          // 0x80-0xC1 (stray continuation or overlong 2-byte lead), 0xF5-0xFF.
          return false;
        }
      } else {
        if (byte < lower || byte > upper) return false;
        lower = 0x80;
        upper = 0xbf;
        needed--;
      }
    }
    this.#needed = needed;
    this.#lower = lower;
    this.#upper = upper;
    return true;
  }
}

/** Whether `bytes` is, by itself, complete and valid UTF-8. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  const validator = new Utf8Validator();
  return validator.push(bytes) && validator.complete;
}
