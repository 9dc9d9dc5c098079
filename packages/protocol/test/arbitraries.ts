/**
 * Seeded building blocks for fuzzing RFC 6455 byte streams with fast-check:
 * a scripted model of valid traffic (messages, fragments, interleaved control
 * frames, a final close) with the events a receiver must report, an encoder,
 * random splitting, byte-level mutations and hostile-input arbitraries.
 *
 * Shared by the pure protocol fuzz tests (fuzz.test.ts) and the socket-level
 * fuzzers of @proj/server and @proj/client, which feed the same streams
 * through real TCP connections.
 */
import fc from 'fast-check';
import {
  EMPTY,
  FrameParser,
  MessageAssembler,
  type MessageLimits,
  type MessageSink,
  Opcode,
  WebSocketError,
  concatBytes,
  encodeFrame,
  encodeUtf8,
  parseClosePayload,
  serializeClosePayload,
  truncateCloseReason,
} from '@proj/protocol';
import { prng } from '@proj/test-utils';

// ---- deterministic bytes -------------------------------------------------

/** mulberry32, a tiny seeded PRNG: big payloads cost one integer of shrinking. */
export { prng };

export function randomBytes(size: number, seed: number): Uint8Array {
  const next = prng(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = next() & 0xff;
  return out;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

// ---- the model: what goes on the wire and what must come out -------------

export interface WireFrame {
  readonly opcode: number;
  readonly fin: boolean;
  readonly payload: Uint8Array;
  /** "Per-Message Compressed" (RFC 7692 §6); compressed streams only. */
  readonly rsv1?: boolean;
}

/** One thing a receiver reports, normalised so events compare with `toEqual`. */
export type Seen = { readonly type: string; readonly [field: string]: unknown };

export interface Control {
  readonly opcode: typeof Opcode.Ping | typeof Opcode.Pong;
  readonly data: Uint8Array;
}

export interface Message {
  readonly binary: boolean;
  readonly data: Uint8Array;
  /** Fragment boundaries, as arbitrary integers reduced modulo length + 1. */
  readonly cuts: readonly number[];
  /** Control frames to inject after fragment `gap % (fragments - 1)`. */
  readonly injected: readonly { readonly gap: number; readonly control: Control }[];
}

export type Step = { readonly control: Control } | { readonly message: Message };

export interface Script {
  readonly steps: readonly Step[];
  /** A final close frame body: `undefined` for none, `null` for an empty body. */
  readonly close: { readonly code: number; readonly reason: string } | null | undefined;
}

export function controlSeen(control: Control): Seen {
  return { type: control.opcode === Opcode.Ping ? 'ping' : 'pong', data: hex(control.data) };
}

/** Expands a script into frames and the events a receiver must report, in order. */
export function expand(script: Script): { frames: WireFrame[]; expected: Seen[] } {
  const frames: WireFrame[] = [];
  const expected: Seen[] = [];
  const pushControl = (control: Control): void => {
    frames.push({ opcode: control.opcode, fin: true, payload: control.data });
    expected.push(controlSeen(control));
  };
  for (const step of script.steps) {
    if ('control' in step) {
      pushControl(step.control);
      continue;
    }
    const { binary, data, cuts, injected } = step.message;
    const points = [...new Set(cuts.map((cut) => cut % (data.length + 1)))].sort((a, b) => a - b);
    const bounds = [0, ...points, data.length];
    const count = bounds.length - 1;
    for (let i = 0; i < count; i++) {
      frames.push({
        opcode: i === 0 ? (binary ? Opcode.Binary : Opcode.Text) : Opcode.Continuation,
        fin: i === count - 1,
        payload: data.subarray(bounds[i], bounds[i + 1]),
      });
      // RFC 6455 §5.4: control frames MAY be injected between fragments.
      if (i < count - 1) {
        for (const { gap, control } of injected) if (gap % (count - 1) === i) pushControl(control);
      }
    }
    expected.push({ type: 'message', binary, data: hex(data) });
  }
  if (script.close !== undefined) {
    const body = script.close
      ? serializeClosePayload(script.close.code, script.close.reason)
      : null;
    frames.push({ opcode: Opcode.Close, fin: true, payload: body ?? new Uint8Array(0) });
    expected.push(
      script.close
        ? { type: 'closing', ...script.close }
        : { type: 'closing', code: 1005, reason: '' },
    );
  }
  return { frames, expected };
}

/** Encodes frames as one byte stream; `maskSeed` masks each frame with its own key. */
export function encodeStream(frames: readonly WireFrame[], maskSeed: number | null): Uint8Array {
  const next = maskSeed === null ? null : prng(maskSeed);
  const chunks: Uint8Array[] = [];
  for (const { opcode, fin, payload, rsv1 } of frames) {
    let mask: Uint8Array | undefined;
    if (next) {
      const word = next();
      mask = new Uint8Array([word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff]);
    }
    chunks.push(...encodeFrame(opcode, payload, rsv1 ? { fin, mask, rsv1 } : { fin, mask }));
  }
  return concatBytes(chunks);
}

/**
 * Splits a fresh copy of `stream` (receivers unmask in place) at `cuts`,
 * arbitrary integers reduced modulo its length. A copy even of a `Buffer`,
 * whose `slice` is a view.
 */
export function split(stream: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const copy = new Uint8Array(stream);
  const points = [...new Set(cuts.map((cut) => cut % (copy.length + 1)))].sort((a, b) => a - b);
  const bounds = [0, ...points, copy.length];
  const chunks: Uint8Array[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) chunks.push(copy.subarray(bounds[i], bounds[i + 1]));
  return chunks;
}

export function bytewise(stream: Uint8Array): Uint8Array[] {
  const copy = new Uint8Array(stream);
  return Array.from({ length: copy.length }, (_, i) => copy.subarray(i, i + 1));
}

// ---- mutations -----------------------------------------------------------

export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'append'; readonly bytes: Uint8Array }
  | { readonly kind: 'delete'; readonly at: number; readonly count: number };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  // Trailing bytes: after a close frame they must be discarded, not parsed.
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ maxLength: 16 }) }),
  fc.record({
    kind: fc.constant('delete' as const),
    at: fc.nat(),
    count: fc.integer({ min: 1, max: 16 }),
  }),
);

export function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes: Uint8Array = new Uint8Array(input);
  for (const mutation of mutations) {
    const at = 'at' in mutation ? mutation.at % (bytes.length + 1) : bytes.length;
    switch (mutation.kind) {
      case 'flip':
        if (at < bytes.length) bytes[at]! ^= 1 << mutation.bit;
        break;
      case 'set':
        if (at < bytes.length) bytes[at] = mutation.value;
        break;
      case 'truncate':
        bytes = bytes.slice(0, at);
        break;
      case 'insert':
        bytes = concatBytes([bytes.subarray(0, at), mutation.bytes, bytes.subarray(at)]);
        break;
      case 'append':
        bytes = concatBytes([bytes, mutation.bytes]);
        break;
      case 'delete':
        bytes = concatBytes([bytes.subarray(0, at), bytes.subarray(at + mutation.count)]);
        break;
    }
  }
  return bytes;
}

// ---- arbitraries ---------------------------------------------------------

/** Sizes around the 7-, 16- and 64-bit length encodings (RFC 6455 §5.2). */
export const boundarySize = fc.constantFrom(0, 1, 125, 126, 127, 65_535, 65_536);

export const binaryArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.oneof(boundarySize, fc.nat({ max: 70_000 })), fc.integer())
      .map(([size, seed]) => randomBytes(size, seed)),
  },
);

export const textArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map(encodeUtf8) },
  // Long text crosses the 16- and 64-bit lengths and many chunk boundaries.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }), fc.nat({ max: 200 }))
      .map(([text, times]) => encodeUtf8(text.repeat(times))),
  },
);

export const controlArb: fc.Arbitrary<Control> = fc.record({
  opcode: fc.constantFrom(Opcode.Ping, Opcode.Pong),
  data: fc.uint8Array({ maxLength: 125 }),
});

export const messageArb: fc.Arbitrary<Message> = fc
  .record({
    binary: fc.boolean(),
    cuts: fc.array(fc.nat(), { maxLength: 5 }),
    injected: fc.array(fc.record({ gap: fc.nat(), control: controlArb }), { maxLength: 3 }),
  })
  .chain(({ binary, cuts, injected }) =>
    (binary ? binaryArb : textArb).map((data) => ({ binary, data, cuts, injected })),
  );

export const closeArb = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.record({
    code: fc.oneof(
      fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014),
      fc.integer({ min: 3000, max: 4999 }),
    ),
    reason: fc.string({ unit: 'binary', maxLength: 40 }).map(truncateCloseReason),
  }),
);

export const scriptArb: fc.Arbitrary<Script> = fc.record({
  steps: fc.array(
    fc.oneof(
      { weight: 3, arbitrary: messageArb.map((message) => ({ message })) },
      { weight: 1, arbitrary: controlArb.map((control) => ({ control })) },
    ),
    { maxLength: 8 },
  ),
  close: closeArb,
});

export const cutsArb = fc.array(fc.nat(), { maxLength: 16 });

/**
 * Frames with random header bits, lengths and masking: mostly well formed
 * enough to get past the first header check, so mutations reach deeper states.
 */
export const roughFrameArb = fc
  .record({
    first: fc.oneof(
      fc.constantFrom(0x80, 0x81, 0x82, 0x00, 0x01, 0x02, 0x88, 0x89, 0x8a),
      fc.nat({ max: 255 }),
    ),
    masked: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, fc.boolean()),
    form: fc.constantFrom(7, 7, 7, 16, 64),
    // The high half of a 64-bit length: 0, or anything (top bit set, beyond 2^53, ...).
    high: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.nat({ max: 0xffff_ffff })),
    payload: fc.uint8Array({ maxLength: 140 }),
    mask: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  })
  .map(({ first, masked, form, high, payload, mask }) => {
    const length = payload.length;
    const head = [first];
    const bit = masked ? 0x80 : 0;
    if (form === 7 && length < 126) head.push(bit | length);
    else if (form === 64) {
      head.push(bit | 127, high >>> 24, (high >>> 16) & 0xff, (high >>> 8) & 0xff, high & 0xff);
      head.push(0, 0, length >>> 8, length & 0xff);
    } else head.push(bit | 126, length >>> 8, length & 0xff);
    if (masked) head.push(...mask);
    return concatBytes([new Uint8Array(head), payload]);
  });

/**
 * Hostile input: random bytes, random frames, or a valid stream (masked when
 * `masked`) with bit flips, truncation, insertions and deletions.
 */
export function hostileArb(masked: boolean): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 512 }),
    fc.array(roughFrameArb, { maxLength: 6 }).map((frames) => concatBytes(frames)),
    fc
      .tuple(scriptArb, fc.integer(), fc.array(mutationArb, { minLength: 1, maxLength: 4 }))
      .map(([script, maskSeed, mutations]) =>
        mutate(encodeStream(expand(script).frames, masked ? maskSeed : null), mutations),
      ),
  );
}

/** Small limits now and then, so 1008 and 1009 are reached too. */
export const limitsArb: fc.Arbitrary<MessageLimits> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({}) },
  fc.record({
    maxPayload: fc.nat({ max: 2_000 }),
    maxFragments: fc.integer({ min: 1, max: 10 }),
  }),
);

// ---- the oracle of the socket-level fuzzers --------------------------------

/** One frame, payload as hex: a message delivered, or a frame the receiver must send. */
export interface OracleFrame {
  readonly opcode: number;
  readonly payload: string;
}

/** What a conforming receiver does with a byte stream (after the handshake). */
export interface StreamOracle {
  /**
   * In order: each message it delivers (Text/Binary), the pong for each ping,
   * and its close frame: the echo of the peer's close, or its own on a broken rule.
   */
  readonly frames: readonly OracleFrame[];
  /** The first broken rule, as the receiver must report it. */
  readonly failure: { readonly closeCode: number; readonly code: string } | undefined;
  /** A valid close frame in the stream, which the receiver echoes. */
  readonly peerClose: { readonly code: number; readonly reason: string } | undefined;
  /** The stream ended between two frames (so a close frame can follow). */
  readonly atBoundary: boolean;
}

/**
 * The protocol's own FrameParser + MessageAssembler run on `stream` with
 * `limits`, and the close payload rules: what a server (`expectMasked`) or a
 * client must deliver and answer. The socket fuzzers compare the real
 * endpoint, over TCP, with this. With `compression`, RSV1 is allowed and
 * each compressed message goes through its `inflate` (which throws the
 * failure a receiver must report).
 */
export function streamOracle(
  stream: Uint8Array,
  limits: MessageLimits,
  expectMasked: boolean,
  compression?: { readonly inflate: (data: Uint8Array, binary: boolean) => Uint8Array },
): StreamOracle {
  const frames: OracleFrame[] = [];
  let failure: StreamOracle['failure'];
  let peerClose: StreamOracle['peerClose'];
  const sink: MessageSink = {
    onMessage: (data, binary, compressed) => {
      const message = compressed && compression ? compression.inflate(data, binary) : data;
      frames.push({ opcode: binary ? Opcode.Binary : Opcode.Text, payload: hex(message) });
    },
    onControlFrame: (opcode, payload) => {
      if (opcode === Opcode.Ping) frames.push({ opcode: Opcode.Pong, payload: hex(payload) });
      if (opcode !== Opcode.Close) return;
      // A bad close body (1-byte, invalid code, invalid UTF-8) throws here like any broken rule.
      const { code, reason } = parseClosePayload(payload);
      peerClose = { code, reason };
      const echo = code === 1005 ? EMPTY : serializeClosePayload(code, reason);
      frames.push({ opcode: Opcode.Close, payload: hex(echo) });
      parser.halt();
    },
  };
  const parser = new FrameParser(new MessageAssembler(sink, limits), {
    expectMasked,
    allowRsv1: compression !== undefined,
  });
  try {
    parser.push(new Uint8Array(stream)); // a copy: the parser unmasks in place
  } catch (error) {
    if (!(error instanceof WebSocketError)) throw error;
    failure = { closeCode: error.closeCode, code: error.code };
    const body = serializeClosePayload(error.closeCode, truncateCloseReason(error.message));
    frames.push({ opcode: Opcode.Close, payload: hex(body) });
  }
  return { frames, failure, peerClose, atBoundary: parser.atFrameBoundary };
}
