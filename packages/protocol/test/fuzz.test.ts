/**
 * Property-based tests (fast-check) of the frame parser, the message
 * assembler, both connection roles and the client's opening handshake.
 *
 * Every property is seeded, so a run checks the same cases each time and a
 * failure reproduces. Environment:
 * - `FUZZ_RUNS=<n>` runs every property n times instead of its small default
 *   (`pnpm fuzz` at the root runs 20,000 each: about a minute on 2 cores).
 * - `FUZZ_SEED=<n>` explores another seed; fast-check prints the seed and
 *   path of any failure, to replay it with `fc.assert(..., { seed, path })`.
 *
 * "Never loops forever" is checked by a call budget: every handler or sink
 * callback counts against the input size, and a runaway loop that keeps
 * reporting trips it. A loop that reports nothing cannot be caught by a
 * synchronous test; the parser's loops consume at least one byte per turn.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ClientConnection,
  type ConnectionEvent,
  EventCollector,
  FrameParser,
  HandshakeError,
  type HttpHeadLimits,
  type MessageLimits,
  MessageAssembler,
  type MessageSink,
  Opcode,
  ServerConnection,
  WebSocketError,
  acceptKey,
  buildAcceptResponse,
  concatBytes,
  encodeFrame,
  encodeUtf8,
  parseClosePayload,
  serializeClosePayload,
  truncateCloseReason,
} from '@proj/protocol';

const FUZZ_RUNS = Number(process.env['FUZZ_RUNS']) || 0;
const SEED = Number(process.env['FUZZ_SEED']) || 0x6455;

/** Per-test timeout: generous by default (coverage runs are slower), none to speak of for long runs. */
const TIMEOUT = FUZZ_RUNS ? 24 * 3_600_000 : 30_000;

/** fast-check options: the fixed seed and `FUZZ_RUNS` or the default number of runs. */
function options(defaultRuns: number): fc.Parameters<unknown> {
  return { seed: SEED, numRuns: FUZZ_RUNS || defaultRuns };
}

/** Close codes a receiver may fail the connection with on hostile input. */
const RECEIVE_CLOSE_CODES = [1002, 1007, 1008, 1009];

/** The RFC 6455 §1.3 sample key; the client tests do not need a random one. */
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

// ---- deterministic bytes -------------------------------------------------

/** mulberry32: a tiny seeded PRNG, so big payloads cost one integer of shrinking. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function randomBytes(size: number, seed: number): Uint8Array {
  const next = prng(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = next() & 0xff;
  return out;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

// ---- the model: what goes on the wire and what must come out -------------

interface WireFrame {
  readonly opcode: number;
  readonly fin: boolean;
  readonly payload: Uint8Array;
}

/** One thing a receiver reports, normalised so events compare with `toEqual`. */
type Seen = { readonly type: string; readonly [field: string]: unknown };

interface Control {
  readonly opcode: typeof Opcode.Ping | typeof Opcode.Pong;
  readonly data: Uint8Array;
}

interface Message {
  readonly binary: boolean;
  readonly data: Uint8Array;
  /** Fragment boundaries, as arbitrary integers reduced modulo length + 1. */
  readonly cuts: readonly number[];
  /** Control frames to inject after fragment `gap % (fragments - 1)`. */
  readonly injected: readonly { readonly gap: number; readonly control: Control }[];
}

type Step = { readonly control: Control } | { readonly message: Message };

interface Script {
  readonly steps: readonly Step[];
  /** A final close frame body: `undefined` for none, `null` for an empty body. */
  readonly close: { readonly code: number; readonly reason: string } | null | undefined;
}

function controlSeen(control: Control): Seen {
  return { type: control.opcode === Opcode.Ping ? 'ping' : 'pong', data: hex(control.data) };
}

/** Expands a script into frames and the events a receiver must report, in order. */
function expand(script: Script): { frames: WireFrame[]; expected: Seen[] } {
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
function encodeStream(frames: readonly WireFrame[], maskSeed: number | null): Uint8Array {
  const next = maskSeed === null ? null : prng(maskSeed);
  const chunks: Uint8Array[] = [];
  for (const { opcode, fin, payload } of frames) {
    let mask: Uint8Array | undefined;
    if (next) {
      const word = next();
      mask = new Uint8Array([word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff]);
    }
    chunks.push(...encodeFrame(opcode, payload, { fin, mask }));
  }
  return concatBytes(chunks);
}

/**
 * Splits a fresh copy of `stream` (receivers unmask in place) at `cuts`,
 * arbitrary integers reduced modulo its length.
 */
function split(stream: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const copy = stream.slice();
  const points = [...new Set(cuts.map((cut) => cut % (copy.length + 1)))].sort((a, b) => a - b);
  const bounds = [0, ...points, copy.length];
  const chunks: Uint8Array[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) chunks.push(copy.subarray(bounds[i], bounds[i + 1]));
  return chunks;
}

function bytewise(stream: Uint8Array): Uint8Array[] {
  const copy = stream.slice();
  return Array.from({ length: copy.length }, (_, i) => copy.subarray(i, i + 1));
}

// ---- mutations -----------------------------------------------------------

type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'append'; readonly bytes: Uint8Array }
  | { readonly kind: 'delete'; readonly at: number; readonly count: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
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

function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes: Uint8Array = input.slice();
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
const boundarySize = fc.constantFrom(0, 1, 125, 126, 127, 65_535, 65_536);

const binaryArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.oneof(boundarySize, fc.nat({ max: 70_000 })), fc.integer())
      .map(([size, seed]) => randomBytes(size, seed)),
  },
);

const textArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map(encodeUtf8) },
  // Long text crosses the 16- and 64-bit lengths and many chunk boundaries.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }), fc.nat({ max: 200 }))
      .map(([text, times]) => encodeUtf8(text.repeat(times))),
  },
);

const controlArb: fc.Arbitrary<Control> = fc.record({
  opcode: fc.constantFrom(Opcode.Ping, Opcode.Pong),
  data: fc.uint8Array({ maxLength: 125 }),
});

const messageArb: fc.Arbitrary<Message> = fc
  .record({
    binary: fc.boolean(),
    cuts: fc.array(fc.nat(), { maxLength: 5 }),
    injected: fc.array(fc.record({ gap: fc.nat(), control: controlArb }), { maxLength: 3 }),
  })
  .chain(({ binary, cuts, injected }) =>
    (binary ? binaryArb : textArb).map((data) => ({ binary, data, cuts, injected })),
  );

const closeArb = fc.oneof(
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

const scriptArb: fc.Arbitrary<Script> = fc.record({
  steps: fc.array(
    fc.oneof(
      { weight: 3, arbitrary: messageArb.map((message) => ({ message })) },
      { weight: 1, arbitrary: controlArb.map((control) => ({ control })) },
    ),
    { maxLength: 8 },
  ),
  close: closeArb,
});

const cutsArb = fc.array(fc.nat(), { maxLength: 16 });

/**
 * Frames with random header bits, lengths and masking: mostly well formed
 * enough to get past the first header check, so mutations reach deeper states.
 */
const roughFrameArb = fc
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
function hostileArb(masked: boolean): fc.Arbitrary<Uint8Array> {
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
const limitsArb: fc.Arbitrary<MessageLimits> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({}) },
  fc.record({
    maxPayload: fc.nat({ max: 2_000 }),
    maxFragments: fc.integer({ min: 1, max: 10 }),
  }),
);

// ---- receivers -----------------------------------------------------------

/** Thrown when a receiver reports more than its input can explain: a runaway loop. */
class BudgetExceeded extends Error {}

/** An {@link EventCollector} that fails loudly once it is called too often. */
class BudgetCollector extends EventCollector {
  #calls = 0;
  readonly #budget: number;
  constructor(inputBytes: number) {
    super();
    // Every report needs at least a 2-byte frame header; a ping also writes a pong.
    this.#budget = 2 * inputBytes + 16;
  }
  #tick(): void {
    if (++this.#calls > this.#budget) throw new BudgetExceeded('Handler called too often');
  }
  override write(chunks: readonly Uint8Array[]): void {
    this.#tick();
    super.write(chunks);
  }
  override onMessage(data: Uint8Array, binary: boolean): void {
    this.#tick();
    super.onMessage(data, binary);
  }
  override onPing(data: Uint8Array): void {
    this.#tick();
    super.onPing(data);
  }
  override onPong(data: Uint8Array): void {
    this.#tick();
    super.onPong(data);
  }
}

function seen(event: ConnectionEvent): Seen {
  switch (event.type) {
    case 'open':
      return { type: 'open', protocol: event.info.protocol, extensions: event.info.extensions };
    case 'message':
      return { type: 'message', binary: event.binary, data: hex(event.data) };
    case 'ping':
    case 'pong':
      return { type: event.type, data: hex(event.data) };
    case 'closing':
      return { type: 'closing', code: event.code, reason: event.reason };
    case 'error':
      return { type: 'error', code: event.error.code, closeCode: event.error.closeCode };
    case 'close':
      return { type: 'close', code: event.code, reason: event.reason, wasClean: event.wasClean };
  }
}

interface DirectResult {
  readonly events: Seen[];
  readonly error?: unknown;
}

/**
 * Parses chunks with a bare FrameParser + MessageAssembler, stopping at the
 * first throw (RFC 6455 §7.1.7: no input is processed after a failure).
 */
function parseDirect(
  chunks: readonly Uint8Array[],
  expectMasked: boolean,
  limits: MessageLimits = {},
): DirectResult {
  const events: Seen[] = [];
  let budget = 2 * chunks.reduce((sum, chunk) => sum + chunk.length, 0) + 16;
  const report = (event: Seen): void => {
    if (--budget < 0) throw new BudgetExceeded('Sink called too often');
    events.push(event);
  };
  const sink: MessageSink = {
    onMessage: (data, binary) => report({ type: 'message', binary, data: hex(data) }),
    onControlFrame(opcode, payload) {
      if (opcode === Opcode.Close) {
        // Reported like a connection's `closing`; a bad body is the connection's concern.
        let body: Record<string, unknown>;
        try {
          body = { ...parseClosePayload(payload) };
        } catch {
          body = { invalid: hex(payload) };
        }
        report({ type: 'closing', ...body });
      } else {
        report({ type: opcode === Opcode.Ping ? 'ping' : 'pong', data: hex(payload) });
      }
    },
  };
  const parser = new FrameParser(new MessageAssembler(sink, limits), { expectMasked });
  for (const chunk of chunks) {
    try {
      parser.push(chunk);
    } catch (error) {
      return { events, error };
    }
  }
  return { events };
}

function errorSeen(error: unknown): Seen {
  return error instanceof WebSocketError
    ? { type: 'error', code: error.code, closeCode: error.closeCode }
    : { type: 'error', thrown: String(error) };
}

interface ConnectionResult {
  readonly events: ConnectionEvent[];
  /** Everything the connection wrote after the handshake. */
  readonly written: Uint8Array;
  readonly ended: boolean;
}

function runServer(chunks: readonly Uint8Array[], limits: MessageLimits = {}): ConnectionResult {
  const collector = new BudgetCollector(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  const server = new ServerConnection({ handler: collector, ...limits });
  for (const chunk of chunks) server.receiveData(chunk);
  return {
    events: collector.eventsReceived(),
    written: collector.dataToSend(),
    ended: collector.ended,
  };
}

/** A client that has sent its request; feed it the server's bytes, 101 response first. */
function newClient(
  inputBytes: number,
  limits: MessageLimits & HttpHeadLimits = {},
): { client: ClientConnection; collector: BudgetCollector } {
  const collector = new BudgetCollector(inputBytes);
  const masks = prng(inputBytes);
  const client = new ClientConnection({
    handler: collector,
    host: 'example.test',
    key: KEY,
    protocols: ['chat', 'superchat'],
    maskSource: () => randomBytes(4, masks()),
    ...limits,
  });
  client.connect();
  collector.dataToSend();
  return { client, collector };
}

const ACCEPT = encodeUtf8(buildAcceptResponse({ key: KEY }));

function runClient(chunks: readonly Uint8Array[], limits: MessageLimits = {}): ConnectionResult {
  const inputBytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const { client, collector } = newClient(inputBytes, limits);
  for (const chunk of chunks) client.receiveData(chunk);
  return {
    events: collector.eventsReceived(),
    written: collector.dataToSend(),
    ended: collector.ended,
  };
}

/** The close frames in bytes a connection wrote, as codes (1005 for an empty body). */
function closeCodesWritten(written: Uint8Array, masked: boolean): number[] {
  const { events, error } = parseDirect([written.slice()], masked);
  // Whatever a connection writes must itself be a valid stream.
  expect(error).toBeUndefined();
  return events.filter((e) => e.type === 'closing').map((e) => e['code'] as number);
}

/**
 * The outcome rules for hostile input: valid events only, or exactly one
 * error with a receive-side close code, after which nothing is delivered, and
 * the one close frame written carries that code.
 */
function checkHostileOutcome(result: ConnectionResult, writtenMasked: boolean): void {
  const { events, written } = result;
  const errors = events.filter((event) => event.type === 'error');
  const closes = closeCodesWritten(written, writtenMasked);
  expect(errors.length).toBeLessThanOrEqual(1);
  const failure = errors[0];
  if (!failure) {
    expect(closes.length).toBeLessThanOrEqual(1);
    return;
  }
  expect(failure.error).toBeInstanceOf(WebSocketError);
  expect(RECEIVE_CLOSE_CODES).toContain(failure.error.closeCode);
  const after = events.slice(events.indexOf(failure) + 1);
  expect(after.map(seen)).toEqual([]);
  // A received close frame ends the input, so nothing can fail after it.
  expect(events.filter((event) => event.type === 'closing').map(seen)).toEqual([]);
  expect(closes).toEqual([failure.error.closeCode]);
  expect(result.ended).toBe(true);
}

// ---- properties ----------------------------------------------------------

describe('encode → parse round trip at random split points', () => {
  const roundTrip = fc.tuple(scriptArb, fc.integer(), cutsArb);

  it(
    'FrameParser + MessageAssembler, masked (client → server)',
    () => {
      fc.assert(
        fc.property(roundTrip, ([script, maskSeed, cuts]) => {
          const { frames, expected } = expand(script);
          const result = parseDirect(split(encodeStream(frames, maskSeed), cuts), true);
          expect(result.error).toBeUndefined();
          expect(result.events).toEqual(expected);
        }),
        options(1000),
      );
    },
    TIMEOUT,
  );

  it(
    'FrameParser + MessageAssembler, unmasked (server → client)',
    () => {
      fc.assert(
        fc.property(roundTrip, ([script, , cuts]) => {
          const { frames, expected } = expand(script);
          const result = parseDirect(split(encodeStream(frames, null), cuts), false);
          expect(result.error).toBeUndefined();
          expect(result.events).toEqual(expected);
        }),
        options(1000),
      );
    },
    TIMEOUT,
  );

  it(
    'ServerConnection: events, a pong per ping, the close echoed',
    () => {
      fc.assert(
        fc.property(roundTrip, ([script, maskSeed, cuts]) => {
          const { frames, expected } = expand(script);
          const result = runServer(split(encodeStream(frames, maskSeed), cuts));
          expect(result.events.map(seen)).toEqual(expected);
          // The replies, unmasked: pongs echo pings in order, then the close echo.
          const replies = parseDirect([result.written], false);
          expect(replies.error).toBeUndefined();
          const expectedReplies = expected
            .filter((event) => event.type === 'ping' || event.type === 'closing')
            .map((event) =>
              event.type === 'ping'
                ? { type: 'pong', data: event['data'] }
                : { type: 'closing', code: event['code'], reason: event['reason'] },
            );
          expect(replies.events).toEqual(expectedReplies);
          expect(result.ended).toBe(script.close !== undefined);
        }),
        options(500),
      );
    },
    TIMEOUT,
  );

  it(
    'ClientConnection: the 101 response and the frames after it in any split',
    () => {
      fc.assert(
        fc.property(roundTrip, ([script, , cuts]) => {
          const { frames, expected } = expand(script);
          const stream = concatBytes([ACCEPT, encodeStream(frames, null)]);
          const result = runClient(split(stream, cuts));
          expect(result.events.map(seen)).toEqual([
            { type: 'open', protocol: '', extensions: '' },
            ...expected,
          ]);
          // The client waits for the server to close the transport (RFC 6455 §7.1.1).
          expect(result.ended).toBe(false);
          const replies = parseDirect([result.written], true);
          expect(replies.error).toBeUndefined();
          expect(replies.events.filter((event) => event.type === 'pong')).toHaveLength(
            expected.filter((event) => event.type === 'ping').length,
          );
        }),
        options(500),
      );
    },
    TIMEOUT,
  );
});

describe('hostile input never escapes and fails at most once', () => {
  it(
    'FrameParser.push returns or throws a WebSocketError with a receive close code',
    () => {
      fc.assert(
        fc.property(
          fc.boolean(),
          fc.boolean().chain((masked) => hostileArb(masked)),
          cutsArb,
          limitsArb,
          (expectMasked, input, cuts, limits) => {
            const { error } = parseDirect(split(input, cuts), expectMasked, limits);
            if (error === undefined) return;
            expect(error).toBeInstanceOf(WebSocketError);
            expect(RECEIVE_CLOSE_CODES).toContain((error as WebSocketError).closeCode);
          },
        ),
        options(1500),
      );
    },
    TIMEOUT,
  );

  it(
    'ServerConnection.receiveData',
    () => {
      fc.assert(
        fc.property(hostileArb(true), cutsArb, limitsArb, (input, cuts, limits) => {
          const chunks = split(input, cuts);
          const result = runServer(chunks, limits);
          checkHostileOutcome(result, false);
        }),
        options(1500),
      );
    },
    TIMEOUT,
  );

  it(
    'ClientConnection.receiveData after the handshake',
    () => {
      fc.assert(
        fc.property(hostileArb(false), cutsArb, limitsArb, (input, cuts, limits) => {
          const result = runClient(split(concatBytes([ACCEPT, input]), cuts), limits);
          expect(result.events[0]?.type).toBe('open');
          checkHostileOutcome({ ...result, events: result.events.slice(1) }, true);
        }),
        options(1500),
      );
    },
    TIMEOUT,
  );

  it(
    'nothing is delivered after the transport EOF, and close is reported once, last',
    () => {
      fc.assert(
        fc.property(hostileArb(true), cutsArb, (input, cuts) => {
          const chunks = split(input, cuts);
          const collector = new BudgetCollector(input.length);
          const server = new ServerConnection({ handler: collector });
          const half = Math.floor(chunks.length / 2);
          for (const chunk of chunks.slice(0, half)) server.receiveData(chunk);
          server.receiveEof();
          for (const chunk of chunks.slice(half)) server.receiveData(chunk);
          server.receiveEof();
          const events = collector.eventsReceived();
          expect(events.filter((event) => event.type === 'close')).toHaveLength(1);
          expect(events.at(-1)?.type).toBe('close');
        }),
        options(500),
      );
    },
    TIMEOUT,
  );
});

describe('chunking invariance: whole, byte by byte and random splits agree', () => {
  /** A valid stream, or (one time in three) a mutated one. */
  function streamArb(masked: boolean): fc.Arbitrary<Uint8Array> {
    return fc.oneof(
      {
        weight: 2,
        arbitrary: fc
          .tuple(scriptArb, fc.integer())
          .map(([script, maskSeed]) =>
            encodeStream(expand(script).frames, masked ? maskSeed : null),
          ),
      },
      { weight: 1, arbitrary: hostileArb(masked) },
    );
  }

  /** Byte-at-a-time feeding is quadratic in nothing, but keep it to moderate inputs. */
  const moderate = (stream: Uint8Array): boolean => stream.length <= 80_000;

  it(
    'FrameParser + MessageAssembler (both directions)',
    () => {
      fc.assert(
        fc.property(
          fc.boolean().chain((masked) => fc.tuple(fc.constant(masked), streamArb(masked))),
          cutsArb,
          limitsArb,
          ([masked, stream], cuts, limits) => {
            fc.pre(moderate(stream));
            const outcome = (chunks: Uint8Array[]): Seen[] => {
              const { events, error } = parseDirect(chunks, masked, limits);
              return error === undefined ? events : [...events, errorSeen(error)];
            };
            const whole = outcome([stream.slice()]);
            expect(outcome(bytewise(stream))).toEqual(whole);
            expect(outcome(split(stream, cuts))).toEqual(whole);
          },
        ),
        options(500),
      );
    },
    TIMEOUT,
  );

  it(
    'ServerConnection: same events and same bytes written',
    () => {
      fc.assert(
        fc.property(streamArb(true), cutsArb, limitsArb, (stream, cuts, limits) => {
          fc.pre(moderate(stream));
          const outcome = (chunks: Uint8Array[]): unknown => {
            const result = runServer(chunks, limits);
            return { events: result.events.map(seen), written: hex(result.written) };
          };
          const whole = outcome([stream.slice()]);
          expect(outcome(bytewise(stream))).toEqual(whole);
          expect(outcome(split(stream, cuts))).toEqual(whole);
        }),
        options(500),
      );
    },
    TIMEOUT,
  );

  it(
    'ClientConnection: same events, the 101 response included',
    () => {
      fc.assert(
        fc.property(streamArb(false), cutsArb, (frames, cuts) => {
          const stream = concatBytes([ACCEPT, frames]);
          fc.pre(moderate(stream));
          const outcome = (chunks: Uint8Array[]): unknown => runClient(chunks).events.map(seen);
          const whole = outcome([stream.slice()]);
          expect(outcome(bytewise(stream))).toEqual(whole);
          expect(outcome(split(stream, cuts))).toEqual(whole);
        }),
        options(500),
      );
    },
    TIMEOUT,
  );
});

describe('client handshake: random and mutated 101 responses', () => {
  /** Lines a response may be built from or have spliced in. */
  const lineArb = fc.oneof(
    fc.constantFrom(
      'HTTP/1.1 101 Switching Protocols',
      'HTTP/1.0 101 Switching Protocols',
      'HTTP/1.1 200 OK',
      'HTTP/1.1 101',
      'Upgrade: websocket',
      'Upgrade: WebSocket, h2c',
      'Connection: Upgrade',
      'Connection: keep-alive, upgrade',
      'Connection: close',
      `Sec-WebSocket-Accept: ${acceptKey(KEY)}`,
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo',
      'Sec-WebSocket-Protocol: chat',
      'Sec-WebSocket-Protocol: superchat',
      'Sec-WebSocket-Protocol: bogus',
      'Sec-WebSocket-Protocol: chat, superchat',
      'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits',
      'Sec-WebSocket-Extensions: x; y="z',
      'X-Folded: a\r\n b',
      ' leading: space',
      'NoColon',
      ':',
      '',
    ),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
  );

  const responseArb = fc.oneof(
    // A valid response, possibly with a subprotocol, then mutated.
    fc
      .tuple(
        fc.constantFrom(undefined, 'chat', 'superchat', 'bogus', ''),
        fc.array(mutationArb, { maxLength: 3 }),
      )
      .map(([protocol, mutations]) =>
        mutate(encodeUtf8(buildAcceptResponse({ key: KEY, protocol })), mutations),
      ),
    // Lines from the vocabulary above, in any order.
    fc
      .tuple(fc.array(lineArb, { maxLength: 8 }), fc.boolean())
      .map(([lines, terminated]) =>
        encodeUtf8(lines.join('\r\n') + (terminated ? '\r\n\r\n' : '')),
      ),
    // A valid head with a line spliced in, and maybe frame bytes after it.
    fc.tuple(lineArb, fc.nat(), fc.uint8Array({ maxLength: 32 })).map(([line, at, tail]) => {
      const lines = buildAcceptResponse({ key: KEY }).split('\r\n');
      lines.splice(1 + (at % (lines.length - 2)), 0, line);
      return concatBytes([encodeUtf8(lines.join('\r\n')), tail]);
    }),
    fc.uint8Array({ maxLength: 300 }),
  );

  /** Now and then a head bound below the response's size (431 on the server side). */
  const headLimitsArb: fc.Arbitrary<HttpHeadLimits> = fc.oneof(
    { weight: 4, arbitrary: fc.constant({}) },
    fc.record({
      maxHeadSize: fc.integer({ min: 1, max: 400 }),
      maxHeaderCount: fc.integer({ min: 0, max: 6 }),
    }),
  );

  it(
    'never throws; ends open, or with exactly one HandshakeError and close 1006',
    () => {
      fc.assert(
        fc.property(responseArb, cutsArb, headLimitsArb, (response, cuts, headLimits) => {
          const { client, collector } = newClient(response.length, headLimits);
          for (const chunk of split(response, cuts)) client.receiveData(chunk);
          client.receiveEof();
          const events = collector.eventsReceived();
          const errors = events.filter((event) => event.type === 'error');
          expect(events.filter((event) => event.type === 'close')).toHaveLength(1);
          expect(events.at(-1)?.type).toBe('close');
          if (events[0]?.type === 'open') {
            expect(events.filter((event) => event.type === 'open')).toHaveLength(1);
            expect(errors.length).toBeLessThanOrEqual(1);
            for (const { error } of errors) expect(error).not.toBeInstanceOf(HandshakeError);
          } else {
            expect(events.map((event) => event.type)).toEqual(['error', 'close']);
            expect(errors[0]!.error).toBeInstanceOf(HandshakeError);
            expect(events[1]).toMatchObject({ type: 'close', code: 1006, wasClean: false });
            // Nothing but the request was ever written: no close frame before a connection exists.
            expect(collector.dataToSend()).toHaveLength(0);
          }
        }),
        options(1500),
      );
    },
    TIMEOUT,
  );
});
