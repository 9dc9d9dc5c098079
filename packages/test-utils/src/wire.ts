/**
 * Messages read off the wire by hand: data frames grouped into messages, and
 * compressed ones inflated the way RFC 7692 §7.2.2 says, with node:zlib, so a
 * test checks what an endpoint really sent, RSV1 and all, rather than what
 * our own decoder makes of it.
 */
import { Buffer } from 'node:buffer';
import { constants, inflateRawSync } from 'node:zlib';
import type { WireFrame } from './frames.js';

/** One frame as it crossed the wire; `payload` is unmasked. */
export type RawFrame = WireFrame;

/**
 * Splits a byte stream into frames as it arrives; made with no rules, it
 * checks nothing but the header's shape.
 */
export { FrameDecoder as FrameReader } from './frames.js';

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

/**
 * Messages that exercise compression: JSON and repetitive text, binary, one
 * past 64 KiB (a 64-bit length), an empty one and multi-byte UTF-8.
 * `user` tells apart the copies two peers send.
 */
export function sampleMessages(user: string): (string | Buffer)[] {
  return [
    JSON.stringify({ user, text: 'hello '.repeat(300) }),
    'short',
    Buffer.from('binary '.repeat(500)),
    'x'.repeat(128 * 1024),
    Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) & 0xff)),
    '',
    'ünïcödé ✓ '.repeat(200),
  ];
}
