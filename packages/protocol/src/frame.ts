import { copyInto } from './bytes.js';
import { maskInto } from './mask.js';

/** The decoded fixed part of a frame (RFC 6455 §5.2). */
export interface FrameHeader {
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly rsv2: boolean;
  readonly rsv3: boolean;
  readonly opcode: number;
  readonly masked: boolean;
  /** Payload length in bytes. */
  readonly length: number;
}

/** How to encode one frame. */
export interface EncodeFrameOptions {
  /** Last frame of the message. Default `true`. */
  fin?: boolean;
  /** RSV1, set by permessage-deflate on a compressed message's first frame. */
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** The 4-byte masking key; clients must mask every frame, servers never do. */
  mask?: Uint8Array | undefined;
}

/**
 * Below this size an unmasked payload is copied behind its header: one small
 * write is cheaper than a gather write of two. Above it the payload goes out
 * as its own chunk, never copied.
 */
const COPY_THRESHOLD = 1024;

/** Size of the header for a payload of `length` bytes. */
export function frameHeaderSize(length: number, masked: boolean): number {
  const base = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes a frame header for `length` payload bytes into `target` at `offset`.
 * @returns the offset just past the header (where a mask key ends).
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  opcode: number,
  length: number,
  options: EncodeFrameOptions = {},
): number {
  let first = opcode & 0x0f;
  if (options.fin !== false) first |= 0x80;
  if (options.rsv1) first |= 0x40;
  if (options.rsv2) first |= 0x20;
  if (options.rsv3) first |= 0x10;
  target[offset++] = first;
  const maskBit = options.mask ? 0x80 : 0;
  if (length < 126) {
    target[offset++] = maskBit | length;
  } else if (length < 0x10000) {
    target[offset++] = maskBit | 126;
    target[offset++] = length >>> 8;
    target[offset++] = length & 0xff;
  } else {
    target[offset++] = maskBit | 127;
    // 64-bit big-endian; JS numbers are exact to 2^53, far beyond any payload.
    const high = Math.floor(length / 0x1_0000_0000);
    const low = length >>> 0;
    target[offset++] = 0;
    target[offset++] = (high >>> 16) & 0xff;
    target[offset++] = (high >>> 8) & 0xff;
    target[offset++] = high & 0xff;
    target[offset++] = low >>> 24;
    target[offset++] = (low >>> 16) & 0xff;
    target[offset++] = (low >>> 8) & 0xff;
    target[offset++] = low & 0xff;
  }
  const mask = options.mask;
  if (mask) {
    target[offset++] = mask[0]!;
    target[offset++] = mask[1]!;
    target[offset++] = mask[2]!;
    target[offset++] = mask[3]!;
  }
  return offset;
}

/**
 * Encodes one frame. Returns the chunks to write, in order: an unmasked
 * payload above 1 KiB is returned as its own chunk (zero-copy, so the caller
 * must not change it until written); a masked payload is masked into a new
 * buffer behind the header, never in place.
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  options: EncodeFrameOptions = {},
): Uint8Array[] {
  const length = payload.length;
  const headerSize = frameHeaderSize(length, !!options.mask);
  if (options.mask) {
    const out = new Uint8Array(headerSize + length);
    writeFrameHeader(out, 0, opcode, length, options);
    maskInto(payload, out.subarray(headerSize), options.mask);
    return [out];
  }
  if (length > COPY_THRESHOLD) {
    const header = new Uint8Array(headerSize);
    writeFrameHeader(header, 0, opcode, length, options);
    return [header, payload];
  }
  const out = new Uint8Array(headerSize + length);
  writeFrameHeader(out, 0, opcode, length, options);
  copyInto(out, payload, headerSize);
  return [out];
}

/**
 * Encodes one whole frame, header and payload, into `target` at `offset`: the
 * bytes {@link encodeFrame} would return, concatenated, with nothing
 * allocated (a masked payload is masked into `target`). For an I/O layer that
 * gathers many small frames into one buffer of its own before writing them.
 * `target` must have room for `frameHeaderSize(payload.length, masked) +
 * payload.length` bytes from `offset`.
 * @returns the offset just past the frame.
 * @throws {RangeError} when `target` is too small (nothing is written then).
 */
export function encodeFrameInto(
  target: Uint8Array,
  offset: number,
  opcode: number,
  payload: Uint8Array,
  options: EncodeFrameOptions = {},
): number {
  const length = payload.length;
  const mask = options.mask;
  const end = offset + frameHeaderSize(length, !!mask) + length;
  if (end > target.length || offset < 0) {
    throw new RangeError(
      `encodeFrameInto: a frame of ${end - offset} bytes does not fit at offset ${offset} of ${target.length}`,
    );
  }
  const start = writeFrameHeader(target, offset, opcode, length, options);
  if (mask) {
    // Word-at-a-time masking only pays for itself on longer payloads.
    if (length < 32) {
      for (let i = 0; i < length; i++) target[start + i] = payload[i]! ^ mask[i & 3]!;
    } else {
      maskInto(payload, target.subarray(start, end), mask);
    }
  } else if (length < 32) {
    // A loop beats TypedArray#set's call for the smallest payloads.
    for (let i = 0; i < length; i++) target[start + i] = payload[i]!;
  } else {
    copyInto(target, payload, start);
  }
  return end;
}
