/**
 * Reading WebSocket frames off the wire by hand (RFC 6455 §5.2), without
 * `@proj/protocol`: what a test uses to check what an endpoint really sent,
 * RSV1 and all, rather than what our own decoder makes of it. Shared by the
 * client's compression tests and the e2e wire tap (e2e/wire-tap.ts).
 */
import { constants, inflateRawSync } from 'node:zlib';

/** One frame as it crossed the wire; `payload` is unmasked. */
export interface RawFrame {
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly rsv2: boolean;
  readonly rsv3: boolean;
  readonly opcode: number;
  readonly masked: boolean;
  readonly payload: Buffer;
}

/** One data message: its frames (control frames between them left out), joined. */
export interface RawMessage {
  /** The first frame's opcode: 1 text, 2 binary. */
  readonly opcode: number;
  /** RSV1 of the first frame: "Per-Message Compressed" (RFC 7692 §6). */
  readonly rsv1: boolean;
  readonly frames: readonly RawFrame[];
  /** The frames' payloads joined: deflated data when `rsv1`. */
  readonly payload: Buffer;
}

/** The `00 00 ff ff` a sender strips from each compressed message (RFC 7692 §7.2.1). */
export const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Splits a byte stream into frames as it arrives; no rule is checked but the header's shape. */
export class FrameReader {
  readonly frames: RawFrame[] = [];
  #buffer = Buffer.alloc(0);

  /** Adds bytes; returns the frames they completed. */
  push(chunk: Uint8Array): RawFrame[] {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    const done: RawFrame[] = [];
    for (;;) {
      const frame = this.#next();
      if (!frame) break;
      done.push(frame);
      this.frames.push(frame);
    }
    return done;
  }

  #next(): RawFrame | undefined {
    const bytes = this.#buffer;
    if (bytes.length < 2) return undefined;
    const masked = (bytes[1]! & 0x80) !== 0;
    let length = bytes[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (bytes.length < 4) return undefined;
      length = bytes.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (bytes.length < 10) return undefined;
      length = Number(bytes.readBigUInt64BE(2));
      offset = 10;
    }
    const maskAt = offset;
    if (masked) offset += 4;
    if (bytes.length < offset + length) return undefined;
    const payload = Buffer.from(bytes.subarray(offset, offset + length));
    if (masked) for (let i = 0; i < length; i++) payload[i]! ^= bytes[maskAt + (i % 4)]!;
    this.#buffer = bytes.subarray(offset + length);
    const first = bytes[0]!;
    return {
      fin: (first & 0x80) !== 0,
      rsv1: (first & 0x40) !== 0,
      rsv2: (first & 0x20) !== 0,
      rsv3: (first & 0x10) !== 0,
      opcode: first & 0x0f,
      masked,
      payload,
    };
  }
}

/** Groups data frames into messages (control frames, opcode 8 and up, are skipped). */
export function rawMessages(frames: readonly RawFrame[]): RawMessage[] {
  const messages: RawMessage[] = [];
  let current: RawFrame[] = [];
  for (const frame of frames) {
    if (frame.opcode >= 0x8) continue;
    current.push(frame);
    if (!frame.fin) continue;
    messages.push({
      opcode: current[0]!.opcode,
      rsv1: current[0]!.rsv1,
      frames: current,
      payload: Buffer.concat(current.map((f) => f.payload)),
    });
    current = [];
  }
  return messages;
}

/**
 * Inflates compressed messages the way RFC 7692 §7.2.2 says, with node:zlib:
 * each payload with the tail put back, all through one sliding window (context
 * takeover), or each on its own when `noContextTakeover`. Returns each
 * message's inflated bytes.
 *
 * `windowBits` below 15 checks how far back the sender referred: zlib only
 * enforces its window on references beyond the current output buffer, so the
 * output comes in 64-byte pieces (zlib's smallest) and a reference more than
 * 2^windowBits + 64 bytes back fails with "invalid distance too far back".
 */
export function inflateMessages(
  payloads: readonly Uint8Array[],
  { noContextTakeover = false, windowBits = 15 } = {},
): Buffer[] {
  // The stream goes on after each message: flush what arrived, do not expect its end.
  const inflate = (data: Buffer): Buffer =>
    inflateRawSync(data, {
      finishFlush: constants.Z_SYNC_FLUSH,
      windowBits: Math.max(windowBits, 9),
      ...(windowBits < 15 ? { chunkSize: 64 } : {}),
    });
  if (noContextTakeover) {
    return payloads.map((payload) => inflate(Buffer.concat([payload, DEFLATE_TAIL])));
  }
  // One stream through every message: message k is what the stream up to its
  // tail inflates to, less what the messages before it did.
  const out: Buffer[] = [];
  let before = 0;
  for (let k = 1; k <= payloads.length; k++) {
    const stream = Buffer.concat(payloads.slice(0, k).flatMap((p) => [p, DEFLATE_TAIL]));
    const all = inflate(stream);
    out.push(all.subarray(before));
    before = all.length;
  }
  return out;
}
