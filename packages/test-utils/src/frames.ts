/**
 * WebSocket frames built and read by hand, from RFC 6455 §5.2 alone. Nothing
 * here imports `@proj/protocol`: tests use these to make the input of the code
 * under test and to judge what it wrote, so a bug in our own framing cannot
 * pass on both sides.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-------+-+-------------+-------------------------------+
 * |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 * |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 * |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 * | |1|2|3|       |K|             |                               |
 * +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 * |     Extended payload length continued, if payload len == 127  |
 * + - - - - - - - - - - - - - - - +-------------------------------+
 * |                               |Masking-key, if MASK set to 1  |
 * +-------------------------------+-------------------------------+
 * | Masking-key (continued)       |          Payload Data         |
 * +-------------------------------- - - - - - - - - - - - - - - - +
 * ```
 */
import { Buffer } from 'node:buffer';

/** Opcodes of RFC 6455 §5.2 (§11.8); the others are reserved. */
export const OP = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

/** How {@link buildFrame} departs from a plain final frame. */
export interface FrameSpec {
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** Masking key; omit for an unmasked frame. */
  mask?: Uint8Array;
  /** Overrides the 7-bit length field (for malformed headers). */
  length7?: number;
}

const encoder = new TextEncoder();

/**
 * One frame, byte for byte, with the shortest length encoding (§5.2: "the
 * minimal number of bytes MUST be used"). Payloads up to 2^32 - 1 bytes.
 */
export function buildFrame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  spec: FrameSpec = {},
): Uint8Array {
  const body = typeof payload === 'string' ? encoder.encode(payload) : payload;
  const n = body.length;
  let first = opcode & 0x0f;
  if (spec.fin !== false) first |= 0x80;
  if (spec.rsv1) first |= 0x40;
  if (spec.rsv2) first |= 0x20;
  if (spec.rsv3) first |= 0x10;
  let lengthBytes: number[];
  if (n < 126) lengthBytes = [n];
  else if (n < 0x1_0000) lengthBytes = [126, n >>> 8, n & 0xff];
  else lengthBytes = [127, 0, 0, 0, 0, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  if (spec.length7 !== undefined) lengthBytes = [spec.length7];
  if (spec.mask) lengthBytes[0]! |= 0x80;
  const mask = spec.mask ?? new Uint8Array(0);
  const out = new Uint8Array(2 + lengthBytes.length - 1 + mask.length + n);
  out[0] = first;
  out.set(lengthBytes, 1);
  out.set(mask, 1 + lengthBytes.length);
  const start = 1 + lengthBytes.length + mask.length;
  for (let i = 0; i < n; i++) out[start + i] = body[i]! ^ (spec.mask ? spec.mask[i & 3]! : 0);
  return out;
}

/** A close frame's body (§5.5.1): the 2-byte code, then the UTF-8 reason. */
export function closeBody(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

/** The code and reason of a close frame's body; `code` is undefined for an empty body. */
export function readCloseBody(body: Uint8Array): { code: number | undefined; reason: string } {
  if (body.length < 2) return { code: undefined, reason: '' };
  return { code: (body[0]! << 8) | body[1]!, reason: new TextDecoder().decode(body.subarray(2)) };
}

/** A frame's header, as the first 2 to 14 bytes say. */
export interface WireHeader {
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly rsv2: boolean;
  readonly rsv3: boolean;
  /** RSV1..RSV3 as one number: 4 for RSV1, 2 for RSV2, 1 for RSV3. */
  readonly rsv: number;
  readonly opcode: number;
  readonly masked: boolean;
  /** The payload length; a 64-bit length as a number (exact up to 2^53). */
  readonly length: number;
  /** The masking key, when `masked`. */
  readonly mask: Uint8Array | undefined;
  /** Bytes of the header: 2, plus 2 or 8 of extended length, plus 4 of key. */
  readonly size: number;
  /** The length field used more bytes than the length needs (§5.2 forbids it). */
  readonly overlong: boolean;
  /** The most significant bit of a 64-bit length was set (§5.2 forbids it). */
  readonly lengthMsb: boolean;
}

/** Reads the header at `offset`; `undefined` while `bytes` holds only part of it. */
export function readHeader(bytes: Uint8Array, offset = 0): WireHeader | undefined {
  if (bytes.length - offset < 2) return undefined;
  const first = bytes[offset]!;
  const second = bytes[offset + 1]!;
  const masked = (second & 0x80) !== 0;
  const length7 = second & 0x7f;
  const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
  const size = 2 + extended + (masked ? 4 : 0);
  if (bytes.length - offset < size) return undefined;
  let length = length7;
  let lengthMsb = false;
  let overlong = false;
  const at = offset + 2;
  if (length7 === 126) {
    length = (bytes[at]! << 8) | bytes[at + 1]!;
    overlong = length < 126;
  } else if (length7 === 127) {
    const high =
      ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
    const low =
      ((bytes[at + 4]! << 24) | (bytes[at + 5]! << 16) | (bytes[at + 6]! << 8) | bytes[at + 7]!) >>>
      0;
    lengthMsb = high >= 0x8000_0000;
    length = high * 0x1_0000_0000 + low;
    overlong = length < 0x1_0000;
  }
  const maskAt = offset + 2 + extended;
  return {
    fin: (first & 0x80) !== 0,
    rsv1: (first & 0x40) !== 0,
    rsv2: (first & 0x20) !== 0,
    rsv3: (first & 0x10) !== 0,
    rsv: (first >>> 4) & 0x7,
    opcode: first & 0x0f,
    masked,
    length,
    mask: masked ? bytes.slice(maskAt, maskAt + 4) : undefined,
    size,
    overlong,
    lengthMsb,
  };
}

/** XORs `data` with `mask` in place (§5.3), counting from byte `from` of the payload. */
export function unmask(data: Uint8Array, mask: Uint8Array, from = 0): Uint8Array {
  for (let i = 0; i < data.length; i++) data[i]! ^= mask[(from + i) & 3]!;
  return data;
}

/** One frame as it crossed the wire; `payload` is unmasked and a copy. */
export interface WireFrame extends Pick<
  WireHeader,
  'fin' | 'rsv1' | 'rsv2' | 'rsv3' | 'rsv' | 'opcode' | 'masked'
> {
  readonly payload: Buffer;
}

/** A frame whose header broke a rule of RFC 6455; `rule` names the section. */
export class FrameRuleError extends Error {
  readonly rule: string;
  constructor(rule: string, message: string) {
    super(`${message} (RFC 6455 ${rule})`);
    this.name = 'FrameRuleError';
    this.rule = rule;
  }
}

/** The rules a strict {@link FrameDecoder} holds a peer to. */
export interface FrameRules {
  /** Frames must be masked (from a client) or must not be (from a server), §5.1. */
  readonly expectMasked: boolean;
  /** RSV1 may be set on data frames (permessage-deflate negotiated, RFC 7692 §6). */
  readonly allowRsv1?: boolean;
}

/**
 * The first rule of RFC 6455 §5 that `header` breaks, or `undefined`.
 * Continuation order (§5.4) is a message-level rule, left to the caller.
 */
export function headerViolation(header: WireHeader, rules: FrameRules): FrameRuleError | undefined {
  const control = header.opcode >= 0x8;
  if (header.rsv2 || header.rsv3 || (header.rsv1 && (control || !rules.allowRsv1))) {
    return new FrameRuleError(
      '§5.2',
      `reserved bits ${header.rsv.toString(2).padStart(3, '0')} set`,
    );
  }
  if ((header.opcode >= 0x3 && header.opcode <= 0x7) || header.opcode >= 0xb) {
    return new FrameRuleError('§5.2', `reserved opcode ${header.opcode}`);
  }
  if (control && !header.fin) return new FrameRuleError('§5.5', 'fragmented control frame');
  if (control && header.length > 125) {
    return new FrameRuleError('§5.5', `control frame payload of ${header.length} bytes`);
  }
  if (header.masked !== rules.expectMasked) {
    return new FrameRuleError(
      '§5.1',
      header.masked ? 'masked frame from a server' : 'unmasked frame from a client',
    );
  }
  if (header.lengthMsb)
    return new FrameRuleError('§5.2', 'most significant bit of a 64-bit length set');
  if (header.overlong)
    return new FrameRuleError('§5.2', 'payload length not in the minimal number of bytes');
  return undefined;
}

/** What a {@link FrameDecoder} reports as it reads. */
export interface DecoderListener {
  /** A header is complete (and allowed); its payload follows. */
  onHeader?(header: WireHeader): void;
  /** A frame is complete. */
  onFrame?(frame: WireFrame): void;
}

/**
 * Splits a byte stream into frames as it arrives. Without `rules` it checks
 * nothing but the header's shape; with them, each header is held to
 * {@link headerViolation} and the first broken rule throws a
 * {@link FrameRuleError} (after which the decoder must not be fed again).
 * Chunks are kept as a list, so a 16 MiB frame in 64 KiB reads is copied
 * once, not once per read.
 */
export class FrameDecoder {
  readonly frames: WireFrame[] = [];
  readonly #rules: FrameRules | undefined;
  readonly #listener: DecoderListener;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #header: WireHeader | undefined;
  #pieces: Buffer[] = [];
  #remaining = 0;

  /**
   * @param rules - hold the peer to RFC 6455 §5 (omit to only split frames).
   * @param listener - told of each header and frame as it completes, in
   *   stream order; what it throws propagates out of {@link push}.
   */
  constructor(rules?: FrameRules, listener: DecoderListener = {}) {
    this.#rules = rules;
    this.#listener = listener;
  }

  /** Adds bytes; returns the frames they completed. */
  push(chunk: Uint8Array): WireFrame[] {
    if (chunk.length > 0) {
      this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.#buffered += chunk.length;
    }
    const done: WireFrame[] = [];
    for (;;) {
      if (!this.#header && !this.#readHeader()) break;
      const take = Math.min(this.#remaining, this.#buffered);
      if (take > 0) {
        this.#pieces.push(this.#take(take));
        this.#remaining -= take;
      }
      if (this.#remaining > 0) break;
      const frame = this.#finish();
      done.push(frame);
      this.frames.push(frame);
      this.#listener.onFrame?.(frame);
    }
    return done;
  }

  #readHeader(): boolean {
    const head = this.#peek(Math.min(14, this.#buffered));
    const header = readHeader(head);
    if (!header) return false;
    if (this.#rules) {
      const violation = headerViolation(header, this.#rules);
      if (violation) throw violation;
    }
    if (header.length > Number.MAX_SAFE_INTEGER) {
      throw new FrameRuleError('§5.2', `a ${header.length}-byte payload is more than a test reads`);
    }
    this.#take(header.size);
    this.#header = header;
    this.#remaining = header.length;
    this.#pieces = [];
    this.#listener.onHeader?.(header);
    return true;
  }

  #finish(): WireFrame {
    const header = this.#header!;
    this.#header = undefined;
    const payload = Buffer.concat(this.#pieces, header.length);
    this.#pieces = [];
    if (header.mask) unmask(payload, header.mask);
    const { fin, rsv1, rsv2, rsv3, rsv, opcode, masked } = header;
    return { fin, rsv1, rsv2, rsv3, rsv, opcode, masked, payload };
  }

  /** The first `n` buffered bytes, left in place. */
  #peek(n: number): Buffer {
    const first = this.#chunks[0];
    if (first && first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.#chunks, this.#buffered).subarray(0, n);
  }

  /** Removes and returns the first `n` buffered bytes (a copy). */
  #take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0]!;
      const count = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, count);
      filled += count;
      if (count === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(count);
    }
    this.#buffered -= n;
    return out;
  }
}

/** One whole frame at the start of `bytes`, and the bytes after it. */
export interface DecodedFrame {
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly opcode: number;
  readonly masked: boolean;
  /** Unmasked; a copy. */
  readonly payload: Uint8Array;
  readonly rest: Uint8Array;
}

/** Decodes the frame at the start of `bytes`; throws if it is not all there. */
export function decodeFrame(bytes: Uint8Array): DecodedFrame {
  const header = readHeader(bytes);
  if (!header || bytes.length < header.size + header.length) {
    throw new Error(`not a whole frame: ${bytes.length} bytes`);
  }
  const end = header.size + header.length;
  const payload = bytes.slice(header.size, end);
  if (header.mask) unmask(payload, header.mask);
  return {
    fin: header.fin,
    rsv1: header.rsv1,
    opcode: header.opcode,
    masked: header.masked,
    payload,
    rest: bytes.subarray(end),
  };
}

/** Decodes every frame in `bytes`, which must end at a frame boundary. */
export function decodeFrames(bytes: Uint8Array): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  let rest = bytes;
  while (rest.length > 0) {
    const frame = decodeFrame(rest);
    frames.push(frame);
    rest = frame.rest;
  }
  return frames;
}
