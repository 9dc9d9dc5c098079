/**
 * Compressed traffic for the fuzzers (permessage-deflate, RFC 7692): streams
 * of messages whose first frame has RSV1 set, with DEFLATE data that is valid,
 * truncated, mutated, garbage, ends in a BFINAL block, or inflates far past
 * `maxPayload` (bombs), mixed with uncompressed messages and control frames,
 * some with RSV1 where it is forbidden; and the oracle that says what a
 * receiver must make of them.
 *
 * The oracle is independent of `@proj/deflate`: the protocol's FrameParser +
 * MessageAssembler (with RSV1 allowed) split the stream, and each compressed
 * message is inflated here with node:zlib's one-shot `inflateRawSync`, as
 * RFC 7692 §7.2.2 says: the payload plus `00 00 ff ff`, through the window of
 * every earlier message (context takeover) or on its own. Its outcome per
 * message: delivered, or failed with 1009 (`PayloadTooBigError`) as soon as
 * the output passes `maxPayload`, with 1007 `WS_ERR_INVALID_COMPRESSED_DATA`
 * for data zlib refuses (both as @proj/deflate documents), or with 1007
 * `WS_ERR_INVALID_UTF8` for text that inflates to invalid UTF-8.
 *
 * Node-only (node:zlib): used by the protocol fuzz test and the socket
 * fuzzers, never by the package itself.
 */
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import {
  DEFAULT_MAX_PAYLOAD,
  EMPTY,
  InvalidUtf8Error,
  type MessageLimits,
  Opcode,
  PayloadTooBigError,
  WebSocketError,
  concatBytes,
  encodeUtf8,
  serializeClosePayload,
} from '@proj/protocol';
import {
  type StreamOracle,
  type WireFrame,
  encodeStream,
  mutate,
  mutationArb,
  randomBytes,
  streamOracle,
} from './arbitraries.js';

/** The tail a sender strips and a receiver puts back (RFC 7692 §7.2.1, §7.2.2). */
export const DEFLATE_TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** One frame with its RSV1 bit. */
export type RsvFrame = WireFrame & { readonly rsv1: boolean };

/** Raw DEFLATE of `data` ending in a sync flush, its tail removed: one message as a sender makes it. */
export function deflateMessage(data: Uint8Array, level = 1, windowBits = 15): Uint8Array {
  const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH, level, windowBits });
  return new Uint8Array(out.subarray(0, out.length - 4));
}

// ---- what goes in a compressed message -------------------------------------

/** Plain contents: short text, repetitive text (compresses well), random bytes. */
const plainArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 60 }).map(encodeUtf8) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.string({ minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 1000 }))
      .map(([text, times]) => encodeUtf8(text.repeat(times))),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.nat({ max: 5000 }), fc.integer())
      .map(([size, seed]) => randomBytes(size, seed)),
  },
);

/** How a compressed message's DEFLATE data is made. */
export type DeflateKind =
  'valid' | 'bfinal' | 'bomb' | 'truncated' | 'mutated' | 'garbage' | 'invalid-utf8';

export interface CompressedMessage {
  readonly kind: DeflateKind;
  readonly binary: boolean;
  /** The DEFLATE data, tail removed: the message's payload on the wire. */
  readonly payload: Uint8Array;
}

/**
 * DEFLATE data of every kind, for a receiver whose `maxPayload` is `limit`:
 * bombs of zeros (or one repeated byte) from just under the limit to 64 times
 * it, so 1009 comes up but a bomb at the limit still passes.
 */
export function compressedMessageArb(limit: number): fc.Arbitrary<CompressedMessage> {
  const level = fc.constantFrom(0, 1, 6, 9);
  const valid = (binary: boolean): fc.Arbitrary<Uint8Array> =>
    fc
      .tuple(binary ? plainArb : plainArb.filter(isUtf8), level)
      .map(([plain, lvl]) => deflateMessage(plain, lvl));
  const message = (kind: DeflateKind, binary: boolean, payload: fc.Arbitrary<Uint8Array>) =>
    payload.map((bytes): CompressedMessage => ({ kind, binary, payload: bytes }));
  return fc.boolean().chain((binary) =>
    fc.oneof(
      { weight: 6, arbitrary: message('valid', binary, valid(binary)) },
      // RFC 7692 §7.2.3.4: a sender may end a message with a BFINAL block (zlib's Z_FINISH).
      {
        weight: 1,
        arbitrary: message(
          'bfinal',
          binary,
          fc
            .tuple(binary ? plainArb : plainArb.filter(isUtf8), level)
            .map(([plain, lvl]) => new Uint8Array(deflateRawSync(plain, { level: lvl }))),
        ),
      },
      {
        weight: 2,
        arbitrary: message(
          'bomb',
          binary,
          fc
            .tuple(
              fc.oneof(
                fc.constantFrom(limit - 1, limit, limit + 1),
                fc.integer({ min: limit, max: 64 * limit }),
              ),
              // Zeros are valid text too (NUL is UTF-8); 0x61 is 'a'.
              fc.constantFrom(0x00, 0x61),
            )
            .map(([size, byte]) => deflateMessage(new Uint8Array(size).fill(byte), 9)),
        ),
      },
      {
        weight: 1,
        arbitrary: message(
          'truncated',
          binary,
          fc
            .tuple(valid(binary), fc.nat())
            .map(([bytes, at]) => bytes.subarray(0, at % (bytes.length + 1))),
        ),
      },
      {
        weight: 3,
        arbitrary: message(
          'mutated',
          binary,
          fc
            .tuple(valid(binary), fc.array(mutationArb, { minLength: 1, maxLength: 3 }))
            .map(([bytes, mutations]) => mutate(bytes, mutations)),
        ),
      },
      { weight: 1, arbitrary: message('garbage', binary, fc.uint8Array({ maxLength: 200 })) },
      {
        weight: 1,
        arbitrary: message(
          'invalid-utf8',
          false,
          fc
            .tuple(
              fc.string({ maxLength: 20 }),
              fc.constantFrom([0xff], [0xc3], [0xed, 0xa0, 0x80]),
            )
            .map(([text, bad]) =>
              deflateMessage(concatBytes([encodeUtf8(text), new Uint8Array(bad)])),
            ),
        ),
      },
    ),
  );
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

// ---- streams -----------------------------------------------------------------

/** One step of a compressed stream. */
export type DeflateStep =
  | {
      readonly compressed: CompressedMessage;
      /** Fragment boundaries, reduced modulo the payload length + 1. */
      readonly cuts: readonly number[];
      /** RSV1 on a continuation frame too: a protocol error (1002). */
      readonly rsv1OnContinuation: boolean;
      /** A ping between the first two fragments. */
      readonly ping: boolean;
    }
  | { readonly plain: Uint8Array; readonly binary: boolean }
  | { readonly control: number; readonly rsv1: boolean; readonly data: Uint8Array };

/**
 * Compressed messages (one in two steps or so), uncompressed ones, pings and
 * pongs (now and then with RSV1: 1002), close frames with RSV1 (1002), and
 * maybe a final close frame. Without `controlFrames`, no control frame but
 * the final close.
 */
export function deflateStepsArb(
  limit: number,
  { controlFrames = true } = {},
): fc.Arbitrary<{
  steps: DeflateStep[];
  close: boolean;
}> {
  const step: fc.Arbitrary<DeflateStep> = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        compressed: compressedMessageArb(limit),
        cuts: fc.oneof(
          { weight: 3, arbitrary: fc.constant([]) },
          fc.array(fc.nat(), { maxLength: 3 }),
        ),
        rsv1OnContinuation: fc.oneof(
          { weight: 9, arbitrary: fc.constant(false) },
          fc.constant(true),
        ),
        ping: controlFrames ? fc.boolean() : fc.constant(false),
      }),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.boolean(), fc.string({ maxLength: 40 }))
        .map(([binary, text]) => ({ binary, plain: encodeUtf8(text) })),
    },
    ...(controlFrames
      ? [
          {
            weight: 1,
            arbitrary: fc.oneof(
              fc.record({
                control: fc.constantFrom(Opcode.Ping, Opcode.Pong),
                rsv1: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, fc.constant(true)),
                data: fc.uint8Array({ maxLength: 20 }),
              }),
              // A close frame with RSV1 (1002). A valid one only ends a stream (`close`):
              // bytes after it reach a socket the server has closed, and the reset they
              // draw may discard its close frame before the test reads it.
              fc.record({
                control: fc.constant(Opcode.Close),
                rsv1: fc.constant(true),
                data: fc.constant(EMPTY),
              }),
            ),
          },
        ]
      : []),
  );
  return fc.record({
    steps: fc.array(step, { minLength: 1, maxLength: 4 }),
    close: fc.boolean(),
  });
}

/** The frames of a compressed stream. */
export function deflateFrames(steps: readonly DeflateStep[], close: boolean): RsvFrame[] {
  const frames: RsvFrame[] = [];
  for (const step of steps) {
    if ('control' in step) {
      frames.push({ opcode: step.control, fin: true, rsv1: step.rsv1, payload: step.data });
      continue;
    }
    if ('plain' in step) {
      const opcode = step.binary ? Opcode.Binary : Opcode.Text;
      frames.push({ opcode, fin: true, rsv1: false, payload: step.plain });
      continue;
    }
    const { payload, binary } = step.compressed;
    const points = [...new Set(step.cuts.map((cut) => cut % (payload.length + 1)))].sort(
      (a, b) => a - b,
    );
    const bounds = [0, ...points, payload.length];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const first = i === 0;
      frames.push({
        opcode: first ? (binary ? Opcode.Binary : Opcode.Text) : Opcode.Continuation,
        fin: i + 2 === bounds.length,
        rsv1: first || step.rsv1OnContinuation,
        payload: payload.subarray(bounds[i], bounds[i + 1]),
      });
      if (first && step.ping && bounds.length > 2) {
        frames.push({ opcode: Opcode.Ping, fin: true, rsv1: false, payload: EMPTY });
      }
    }
  }
  if (close) {
    const body = serializeClosePayload(1000, 'done');
    frames.push({ opcode: Opcode.Close, fin: true, rsv1: false, payload: body });
  }
  return frames;
}

/** A whole compressed stream: its steps (for the tally) and its bytes. */
export interface DeflateCase {
  readonly steps: readonly DeflateStep[];
  readonly stream: Uint8Array;
}

export function deflateCaseArb(
  limit: number,
  masked: boolean,
  options: { controlFrames?: boolean } = {},
): fc.Arbitrary<DeflateCase> {
  return fc
    .tuple(deflateStepsArb(limit, options), fc.integer())
    .map(([{ steps, close }, seed]) => ({
      steps,
      stream: encodeStream(deflateFrames(steps, close), masked ? seed : null),
    }));
}

// ---- the oracle --------------------------------------------------------------

/** The error a receiver fails with on DEFLATE data zlib refuses (as @proj/deflate makes it). */
export function invalidCompressedData(message: string): WebSocketError {
  return new WebSocketError('WS_ERR_INVALID_COMPRESSED_DATA', 1007, message);
}

/**
 * Inflates compressed messages one after the other, as RFC 7692 §7.2.2 says,
 * with one-shot zlib calls: with context takeover, message k is what the
 * whole stream up to its tail inflates to, less what came before.
 */
export class InflateModel {
  readonly #contextTakeover: boolean;
  readonly #maxPayload: number;
  /** Every compressed payload so far, each followed by the tail (context takeover). */
  #history: Uint8Array[] = [];
  #historyOut = 0;
  /** The DEFLATE stream ended (a BFINAL block) with context takeover. */
  #ended = false;
  /**
   * A compressed message came after the DEFLATE stream ended in an earlier one
   * (context takeover): it starts a new stream, with a fresh window.
   */
  afterStreamEnd = false;

  constructor(contextTakeover: boolean, maxPayload: number) {
    this.#contextTakeover = contextTakeover;
    this.#maxPayload = maxPayload;
  }

  /** The inflated message, or throws the WebSocketError a receiver must fail with. */
  inflate(payload: Uint8Array): Uint8Array {
    if (this.#ended) {
      // RFC 7692 §7.2.3.4: a BFINAL block ended the stream; this message
      // starts a new one, which cannot refer back to the old one.
      this.afterStreamEnd = true;
      this.#ended = false;
      this.#history = [];
      this.#historyOut = 0;
    }
    const prior = this.#contextTakeover ? this.#historyOut : 0;
    const input = concatBytes([
      ...(this.#contextTakeover ? this.#history : []),
      payload,
      DEFLATE_TAIL,
    ]);
    let result: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      result = inflateRawSync(input, {
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: prior + this.#maxPayload,
        info: true,
      }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new PayloadTooBigError(`Message exceeds the ${this.#maxPayload}-byte limit`);
      }
      throw invalidCompressedData((error as Error).message);
    }
    if (this.#contextTakeover) {
      if (result.engine.bytesWritten < input.length) this.#ended = true;
      this.#history.push(payload, DEFLATE_TAIL);
      this.#historyOut = result.buffer.length;
    }
    return new Uint8Array(result.buffer.subarray(prior));
  }
}

export interface DeflateOracle extends StreamOracle {
  /** See {@link InflateModel.afterStreamEnd}. */
  readonly afterStreamEnd: boolean;
}

/**
 * What a receiver that negotiated permessage-deflate must do with `stream`:
 * the messages it delivers (inflated), a pong per ping, then the echo of a
 * close frame or the close frame of its failure, as `streamOracle` does for
 * uncompressed streams.
 *
 * A compressed message after one whose DEFLATE stream ended with a BFINAL
 * block (context takeover) starts a new stream (`afterStreamEnd` says one
 * occurred).
 */
export function deflateOracle(
  stream: Uint8Array,
  limits: MessageLimits,
  expectMasked: boolean,
  contextTakeover: boolean,
): DeflateOracle {
  const model = new InflateModel(contextTakeover, limits.maxPayload ?? DEFAULT_MAX_PAYLOAD);
  const oracle = streamOracle(stream, limits, expectMasked, {
    inflate: (data, binary) => {
      const message = model.inflate(data);
      if (!binary && !isUtf8(message)) throw new InvalidUtf8Error();
      return message;
    },
  });
  return { ...oracle, afterStreamEnd: model.afterStreamEnd };
}

/** The title of a compressed-stream tally; `afterBfinal` cases had a message after a BFINAL-ended one. */
export function compressedTallyTitle(afterBfinal: number): string {
  return `compressed frame streams, by kind of step and outcome (${afterBfinal} with a message after a BFINAL-ended one)`;
}

/** A short name for what a step holds, for the tallies. */
export function stepKinds(steps: readonly DeflateStep[]): string[] {
  return steps.map((step) =>
    'compressed' in step ? step.compressed.kind : 'plain' in step ? 'plain' : 'control',
  );
}
