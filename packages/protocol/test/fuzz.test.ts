/**
 * Property-based tests (fast-check) of the frame parser, the message
 * assembler, both connection roles and the client's opening handshake.
 *
 * Every property is seeded, so a run checks the same cases each time and a
 * failure reproduces. Environment:
 * - `FUZZ_RUNS=<n>` runs every property n times instead of its small default
 *   (`pnpm fuzz` at the root runs 20,000 each: about a minute on 2 cores;
 *   it runs the socket-level fuzzers of @proj/server and @proj/client too).
 * - `FUZZ_SEED=<n>` explores another seed; fast-check prints the seed and
 *   path of any failure, to replay it with `fc.assert(..., { seed, path })`.
 *
 * "Never loops forever" is checked by a call budget: every handler or sink
 * callback counts against the input size, and a runaway loop that keeps
 * reporting trips it. A loop that reports nothing cannot be caught by a
 * synchronous test; the parser's loops consume at least one byte per turn.
 *
 * With permessage-deflate negotiated, compressed streams (deflate-arbitraries.ts:
 * valid, truncated, mutated and garbage DEFLATE data, bombs, BFINAL blocks,
 * RSV1 where it is forbidden) go through the hooks an I/O layer uses:
 * `pauseParsing` on a compressed message, then `deliverMessage` or `failWith`
 * and `resumeParsing`, at once or a few chunks later.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ClientConnection,
  type Connection,
  type ConnectionEvent,
  EventCollector,
  FrameParser,
  HandshakeError,
  type HttpHeadLimits,
  LEND_MIN,
  type MessageLimits,
  MessageAssembler,
  type MessageSink,
  Opcode,
  ServerConnection,
  WebSocketError,
  acceptKey,
  buildAcceptResponse,
  concatBytes,
  encodeUtf8,
  parseClosePayload,
  simdMaskArena,
} from '@proj/protocol';
import {
  bytewise,
  cutsArb,
  encodeStream,
  expand,
  hex,
  hostileArb,
  limitsArb,
  mutate,
  mutationArb,
  prng,
  randomBytes,
  scriptArb,
  type Seen,
  split,
} from './arbitraries.js';
import { InflateModel, deflateCaseArb, deflateOracle, stepKinds } from './deflate-arbitraries.js';
import { FUZZ_RUNS, fuzzOptions as options, fuzzTimeout } from '@proj/test-utils';

/** Per-test timeout: generous by default (coverage runs are slower), none to speak of for long runs. */
const TIMEOUT = fuzzTimeout(30_000);

/** Close codes a receiver may fail the connection with on hostile input. */
const RECEIVE_CLOSE_CODES = [1002, 1007, 1008, 1009];

/** The RFC 6455 §1.3 sample key; the client tests do not need a random one. */
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

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

  for (const [direction, masked] of [
    ['masked (client → server)', true],
    ['unmasked (server → client)', false],
  ] as const) {
    it(
      `FrameParser + MessageAssembler, ${direction}`,
      () => {
        fc.assert(
          fc.property(roundTrip, ([script, maskSeed, cuts]) => {
            const { frames, expected } = expand(script);
            const stream = encodeStream(frames, masked ? maskSeed : null);
            const result = parseDirect(split(stream, cuts), masked);
            expect(result.error).toBeUndefined();
            expect(result.events).toEqual(expected);
          }),
          options(1000),
        );
      },
      TIMEOUT,
    );
  }

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

// ---- lent input ----------------------------------------------------------

/** A message buffer made by the connection's `allocate`, told apart from views of the input. */
class Allocated extends Uint8Array {}
const allocate = (size: number): Uint8Array => new Allocated(size);

/**
 * Feeds `chunks` as an I/O layer that reads every socket into one buffer
 * does: each chunk lent for the call (`receiveData(chunk, true)`), the buffer
 * overwritten once the call returns. A view of the input kept past the call
 * would then show 0xee bytes. `between` runs after each overwrite. The chunks
 * start 3 bytes into the buffer, so that a view the parser makes of them
 * must honour their offset.
 */
function feedLent(
  connection: Connection,
  chunks: readonly Uint8Array[],
  between?: () => void,
  memory?: Uint8Array,
) {
  const at = 3;
  const size = at + chunks.reduce((most, chunk) => Math.max(most, chunk.length), 1);
  const scratch = memory?.subarray(0, size) ?? new Uint8Array(size);
  expect(scratch.length).toBe(size);
  for (const chunk of chunks) {
    scratch.fill(0xee);
    scratch.set(chunk, at);
    connection.receiveData(scratch.subarray(at, at + chunk.length), true);
    scratch.fill(0xee);
    between?.();
  }
}

/** `chunks` cut into reads of at most `size` bytes, as a read buffer of that size brings them. */
function readsOf(chunks: readonly Uint8Array[], size: number): Uint8Array[] {
  return chunks.flatMap((chunk) =>
    Array.from({ length: Math.ceil(chunk.length / size) }, (_, i) =>
      chunk.subarray(i * size, (i + 1) * size),
    ),
  );
}

/** A read buffer `feedLent` can put each of `reads` into (3 bytes in). */
function memoryFor(reads: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(3 + reads.reduce((most, read) => Math.max(most, read.length), 1));
}

/** Every non-empty message was copied out with `allocate`, not handed out as a view of the input. */
function expectAllocated(events: readonly ConnectionEvent[]): void {
  for (const event of events) {
    if (event.type === 'message' && event.data.length > 0) {
      expect(event.data).toBeInstanceOf(Allocated);
    }
  }
}

/** Pauses parsing after every message, as the transport does while it inflates one. */
class PausingCollector extends EventCollector {
  connection: Connection | undefined;
  override onMessage(data: Uint8Array, binary: boolean, compressed?: boolean): void {
    super.onMessage(data, binary, compressed);
    this.connection!.pauseParsing();
  }
}

/**
 * Records, as each message arrives, whether it was handed out as a view of
 * the read buffer (`lendMessages`); `EventCollector` copies it at once, while
 * the read is still lent.
 */
class LendingCollector extends EventCollector {
  readonly lent: boolean[] = [];
  constructor(readonly memory: ArrayBufferLike) {
    super();
  }
  override onMessage(data: Uint8Array, binary: boolean, compressed?: boolean): void {
    this.lent.push(data.buffer === this.memory);
    super.onMessage(data, binary, compressed);
  }
}

describe('lent input: chunks valid only for the call (one read buffer reused)', () => {
  const roundTrip = fc.tuple(scriptArb, fc.integer(), cutsArb);

  it(
    'lendMessages with recycled buffers (poisoned and reused as soon as given back): the same events',
    () => {
      class Recycled extends Uint8Array {}
      let recycledSeen = 0;
      fc.assert(
        fc.property(
          roundTrip,
          fc.integer({ min: 1, max: 300 }),
          ([script, maskSeed, cuts], min) => {
            const { frames, expected } = expand(script);
            const free: Uint8Array[] = [];
            const lentBuffers = {
              min,
              take: (size: number) => {
                const index = free.findIndex((buffer) => buffer.length >= size);
                return index === -1 ? new Recycled(size) : free.splice(index, 1)[0]!;
              },
              give: (buffer: Uint8Array) => {
                buffer.fill(0xdd);
                free.push(buffer);
              },
            };
            const reads = split(encodeStream(frames, maskSeed), cuts);
            const memory = memoryFor(reads);
            const collector = new LendingCollector(memory.buffer);
            const server = new ServerConnection({
              handler: collector,
              allocate,
              lendMessages: true,
              lentBuffers,
            });
            feedLent(server, reads, undefined, memory);
            const events = collector.eventsReceived();
            expect(events.map(seen)).toEqual(expected);
            for (const event of events) {
              if (event.type === 'message' && event.data instanceof Recycled) recycledSeen++;
            }
          },
        ),
        options(500),
      );
      expect(recycledSeen).toBeGreaterThan(0);
    },
    TIMEOUT,
  );

  describe.each([
    ['a buffer of its own', false],
    ["the SIMD kernel's arena", true],
  ] as const)('lendMessages, reading into %s', (_, inArena) => {
    it(
      'the same events; only messages of LEND_MIN bytes or more that lie whole in one read are lent, the rest copied',
      () => {
        let lentSeen = 0;
        fc.assert(
          fc.property(roundTrip, ([script, maskSeed, cuts]) => {
            const { frames, expected } = expand(script);
            const chunks = split(encodeStream(frames, maskSeed), cuts);
            const arena = simdMaskArena()!.bytes;
            const reads = inArena ? readsOf(chunks, arena.length - 3) : chunks;
            const memory = inArena ? arena : memoryFor(reads);
            const collector = new LendingCollector(memory.buffer);
            const server = new ServerConnection({
              handler: collector,
              allocate,
              lendMessages: true,
            });
            feedLent(server, reads, undefined, memory);
            const events = collector.eventsReceived();
            expect(events.map(seen)).toEqual(expected);
            const messages = events.filter((event) => event.type === 'message');
            expect(collector.lent).toHaveLength(messages.length);
            messages.forEach((message, i) => {
              if (collector.lent[i]) {
                lentSeen++;
                expect(message.data.length).toBeGreaterThanOrEqual(LEND_MIN);
              } else if (message.data.length > 0) {
                // Not lent: a copy made by `allocate`, never a view of something else.
                expect(message.data).toBeInstanceOf(Allocated);
              }
            });
          }),
          options(500),
        );
        // The property is not vacuous: the scripts do bring messages that are lent.
        expect(lentSeen).toBeGreaterThan(0);
      },
      TIMEOUT,
    );
  });

  it(
    'ServerConnection: the same events as owned input, every message a copy',
    () => {
      fc.assert(
        fc.property(roundTrip, ([script, maskSeed, cuts]) => {
          const { frames, expected } = expand(script);
          const collector = new EventCollector();
          const server = new ServerConnection({ handler: collector, allocate });
          feedLent(server, split(encodeStream(frames, maskSeed), cuts));
          const events = collector.eventsReceived();
          expect(events.map(seen)).toEqual(expected);
          expectAllocated(events);
        }),
        options(500),
      );
    },
    TIMEOUT,
  );

  it(
    "ServerConnection reading into the SIMD kernel's arena: the same events, every message a copy",
    () => {
      // Node's sockets read into the arena: lent payloads there are unmasked where they lie.
      const arena = simdMaskArena();
      expect(arena).not.toBeNull();
      const READ_SIZE = arena!.bytes.length - 3;
      fc.assert(
        fc.property(roundTrip, ([script, maskSeed, cuts]) => {
          const { frames, expected } = expand(script);
          const collector = new EventCollector();
          const server = new ServerConnection({ handler: collector, allocate });
          // A read brings at most the arena's size.
          const reads = readsOf(split(encodeStream(frames, maskSeed), cuts), READ_SIZE);
          feedLent(server, reads, undefined, arena!.bytes);
          const events = collector.eventsReceived();
          expect(events.map(seen)).toEqual(expected);
          expectAllocated(events);
        }),
        options(500),
      );
    },
    TIMEOUT,
  );

  it(
    'ClientConnection: the 101 response and the frames after it, lent in any split',
    () => {
      fc.assert(
        fc.property(roundTrip, ([script, , cuts]) => {
          const { frames, expected } = expand(script);
          const stream = concatBytes([ACCEPT, encodeStream(frames, null)]);
          const { client, collector } = newClient(stream.length, { allocate });
          feedLent(client, split(stream, cuts));
          const events = collector.eventsReceived();
          expect(events.map(seen)).toEqual([
            { type: 'open', protocol: '', extensions: '' },
            ...expected,
          ]);
          expectAllocated(events);
        }),
        options(500),
      );
    },
    TIMEOUT,
  );

  it(
    'paused after every message, resumed at random points: what waited was copied',
    () => {
      const pausing = fc.tuple(scriptArb, fc.integer(), cutsArb, fc.array(fc.boolean()));
      fc.assert(
        fc.property(pausing, ([script, maskSeed, cuts, resumes]) => {
          const { frames, expected } = expand(script);
          const collector = new PausingCollector();
          const server = new ServerConnection({ handler: collector, allocate });
          collector.connection = server;
          let call = 0;
          // Chunks arriving while paused wait in the connection; the rest of
          // a chunk that was being parsed waits in the parser.
          feedLent(server, split(encodeStream(frames, maskSeed), cuts), () => {
            if (resumes[call++ % Math.max(resumes.length, 1)] ?? true) server.resumeParsing();
          });
          while (server.parsingPaused) server.resumeParsing();
          const events = collector.eventsReceived();
          expect(events.map(seen)).toEqual(expected);
          expectAllocated(events);
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
  /** Fed whole, byte by byte and at `cuts`, `stream` has the same outcome. */
  const expectSameOutcome = (
    outcome: (chunks: Uint8Array[]) => unknown,
    stream: Uint8Array,
    cuts: readonly number[],
  ): void => {
    const whole = outcome([stream.slice()]);
    expect(outcome(bytewise(stream))).toEqual(whole);
    expect(outcome(split(stream, cuts))).toEqual(whole);
  };

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
            expectSameOutcome(outcome, stream, cuts);
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
          expectSameOutcome(outcome, stream, cuts);
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
          expectSameOutcome(outcome, stream, cuts);
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

describe('permessage-deflate negotiated: compressed messages through pauseParsing and deliverMessage', () => {
  /** Small, so that bombs come cheap and 1009 comes up often. */
  const LIMITS = { maxPayload: 4096, maxFragments: 4 } as const satisfies MessageLimits;

  /**
   * A collector that does what the Node transport (packages/transport) does with a
   * compressed message: pause parsing and inflate it "later" (when the test
   * drains), then deliver it or fail the connection, and resume parsing.
   */
  class InflatingCollector extends BudgetCollector {
    connection!: Connection;
    readonly pending: { data: Uint8Array; binary: boolean }[] = [];
    /** Records delivered messages only: compressed ones are still deflated. */
    override onMessage(data: Uint8Array, binary: boolean, compressed?: boolean): void {
      if (!compressed) {
        super.onMessage(data, binary);
        return;
      }
      this.connection.pauseParsing();
      // `data` may be a view into the chunk being parsed: copy it for later.
      this.pending.push({ data: data.slice(), binary });
    }
  }

  it(
    'ServerConnection: the messages, pongs and close code the oracle predicts, in any split and timing',
    () => {
      const tally = new Map<string, number>();
      fc.assert(
        fc.property(
          deflateCaseArb(LIMITS.maxPayload, true),
          fc.boolean(),
          cutsArb,
          fc.array(fc.boolean(), { maxLength: 8 }),
          (kase, contextTakeover, cuts, deferrals) => {
            const oracle = deflateOracle(kase.stream, LIMITS, true, contextTakeover);
            const chunks = split(kase.stream, cuts);
            const collector = new InflatingCollector(kase.stream.length);
            const server = new ServerConnection({
              handler: collector,
              perMessageDeflate: true,
              ...LIMITS,
            });
            collector.connection = server;
            const model = new InflateModel(contextTakeover, LIMITS.maxPayload);
            const drain = (): void => {
              for (let item = collector.pending.shift(); item; item = collector.pending.shift()) {
                let inflated: Uint8Array | undefined;
                try {
                  inflated = model.inflate(item.data);
                } catch (error) {
                  server.failWith(error as WebSocketError);
                }
                if (inflated) server.deliverMessage(inflated, item.binary);
                server.resumeParsing();
              }
            };
            for (const [i, chunk] of chunks.entries()) {
              server.receiveData(chunk);
              // Now and then the inflate "finishes" only after more input arrived.
              if (!deferrals[i % Math.max(deferrals.length, 1)]) drain();
            }
            drain();

            const events = collector.eventsReceived();
            const delivered = events.filter((e) => e.type === 'message').map(seen);
            const expectedMessages = oracle.frames
              .filter((f) => f.opcode === Opcode.Text || f.opcode === Opcode.Binary)
              .map((f) => ({
                type: 'message',
                binary: f.opcode === Opcode.Binary,
                data: f.payload,
              }));
            expect(delivered).toEqual(expectedMessages);
            const errors = events.filter((e) => e.type === 'error').map(seen);
            expect(errors).toEqual(
              oracle.failure
                ? [
                    {
                      type: 'error',
                      code: oracle.failure.code,
                      closeCode: oracle.failure.closeCode,
                    },
                  ]
                : [],
            );
            // What it wrote, unmasked: a pong per ping, then the close echo or its failure's close.
            const replies = parseDirect([collector.dataToSend()], false);
            expect(replies.error).toBeUndefined();
            expect(replies.events).toEqual(
              oracle.frames
                .filter((f) => f.opcode === Opcode.Pong || f.opcode === Opcode.Close)
                .map((f) =>
                  f.opcode === Opcode.Pong
                    ? { type: 'pong', data: f.payload }
                    : { type: 'closing', ...parseClosePayload(Buffer.from(f.payload, 'hex')) },
                ),
            );
            expect(collector.ended).toBe(
              oracle.failure !== undefined || oracle.peerClose !== undefined,
            );
            const outcome = oracle.failure
              ? `close ${oracle.failure.closeCode} (${oracle.failure.code})`
              : oracle.peerClose
                ? 'peer close echoed'
                : 'clean';
            for (const kind of new Set(stepKinds(kase.steps))) {
              tally.set(`${kind}: ${outcome}`, (tally.get(`${kind}: ${outcome}`) ?? 0) + 1);
            }
          },
        ),
        options(400),
      );
      if (FUZZ_RUNS)
        console.log(
          [...tally]
            .sort()
            .map(([k, n]) => `  ${k}: ${n}`)
            .join('\n'),
        );
    },
    TIMEOUT,
  );
});
