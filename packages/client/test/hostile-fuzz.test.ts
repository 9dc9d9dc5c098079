/**
 * Socket-level fuzzing (fast-check) of the Node client against a hostile raw
 * `node:net` server: random and mutated answers to the opening handshake
 * (wrong accept key, missing or repeated headers, a subprotocol or extension
 * that was not offered, other statuses, garbage, an early EOF, a head over
 * 16 KiB), and random and mutated frame streams after a valid 101, all
 * written in random splits with random pauses.
 *
 * The expected outcome comes from the protocol's own pieces run on the same
 * bytes (the oracle): `splitHead` + `parseResponseHead` + `validateResponse`
 * with the key the client sent, then FrameParser + MessageAssembler with the
 * client's limits and the close payload rules. The structured answers are
 * also judged on their own: one that breaks a rule of RFC 6455 §4.1 by
 * construction (status other than 101, Upgrade not exactly "websocket",
 * Connection without "Upgrade", a missing, repeated or wrong accept key, a
 * subprotocol not offered, none chosen of those offered (the WHATWG rule),
 * any extension: the client offers none) must be refused by the oracle, and
 * one that breaks none must open.
 *
 * What must hold for every case:
 * - A handshake failure: `error` (its `error` a HandshakeError, or the
 *   handshake timeout for an answer that stalls), then `close` with 1006,
 *   not clean; never `open`; no frame written.
 * - After a valid 101: `open`, then exactly the oracle's messages, in order;
 *   a pong for each ping. A broken rule: `error` (the WebSocketError with the
 *   oracle's close code), `close` 1006 not clean, and the server reads our
 *   close frame with that code (1002, 1007, 1008, 1009) and its reason. A
 *   close frame from the server: echoed, then `close` with its code, clean.
 *   An EOF otherwise: `close` 1006, not clean, no `error`.
 * - Always: exactly one `close`, the last event (none follows within a few
 *   turns); the readyState is CLOSED at `error` and `close`; no uncaught
 *   exception or unhandled rejection, in particular none out of an event
 *   listener or the client's internals.
 *
 * Compressed frame streams, behind a 101 that accepts the client's
 * permessage-deflate offer (with or without server_no_context_takeover):
 * valid, truncated, mutated and garbage DEFLATE data, BFINAL blocks, bombs
 * that inflate far past `maxPayload`, RSV1 on continuation and control
 * frames (../../protocol/test/deflate-arbitraries.ts). The oracle inflates
 * with node:zlib on its own; the client must deliver exactly its messages,
 * or fail with its code: 1007 for data that does not inflate or text that
 * inflates to invalid UTF-8, 1009 once the output passes `maxPayload` (as
 * @proj/deflate documents), 1002 for RSV1 out of place. Same rules as above.
 *
 * Seeded; `FUZZ_RUNS=<n>` runs each property n times instead of its short
 * default (`pnpm fuzz` runs 20,000), `FUZZ_SEED=<n>` explores another seed.
 */
import { constants, deflateRawSync } from 'node:zlib';
import type * as net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { type ErrorEvent, type MessageEvent, WebSocket } from '@proj/client';
import {
  EMPTY,
  HandshakeError,
  PERMESSAGE_DEFLATE,
  type MessageLimits,
  Opcode,
  WebSocketError,
  concatBytes,
  decodeUtf8,
  encodeFrame,
  encodeUtf8,
  parseResponseHead,
  serializeClosePayload,
  splitHead,
  validateResponse,
} from '@proj/protocol';
import {
  cutsArb,
  encodeStream,
  expand,
  hex,
  hostileArb,
  mutate,
  mutationArb,
  scriptArb,
  split,
  streamOracle,
} from '../../protocol/test/arbitraries.js';
import {
  compressedTallyTitle,
  deflateCaseArb,
  deflateOracle,
  stepKinds,
} from '../../protocol/test/deflate-arbitraries.js';
import {
  CASE_TIMEOUT,
  FIELD_EDIT_ARBS,
  FUZZ_LIMITS,
  FUZZ_RUNS,
  type FieldEdit,
  FrameDecoder,
  type HeaderField,
  type Pause,
  type Tally,
  acceptKey as acceptFor,
  applyFieldEdit,
  assertTallied,
  fuzzOptions as options,
  fuzzTimeout,
  keyOf,
  pausesArb,
  useCleanup,
  within,
  writePaced,
} from '@proj/test-utils';
import { acceptRaw, nextEvent, readHead, record, startRaw, turns } from './helpers.js';

/** Per-test timeout: the short runs take seconds; long runs (`pnpm fuzz`) as long as they need. */
const TIMEOUT = fuzzTimeout(60_000);
/** The client's limits: small enough that 1008 and 1009 come up often. */
const LIMITS = FUZZ_LIMITS satisfies MessageLimits;

useCleanup();

// ---- helpers ----------------------------------------------------------------

/** An unmasked frame with a 64-bit length announcing `size` bytes (none follow). */
function bigHeader(opcode: number, fin: boolean, size: number): Uint8Array {
  const bytes = Buffer.alloc(10);
  bytes[0] = (fin ? 0x80 : 0) | opcode;
  bytes[1] = 127;
  bytes.writeBigUInt64BE(BigInt(size), 2);
  return new Uint8Array(bytes);
}

// ---- 101 answers: a model, and the mutations of it -------------------------

type Field = HeaderField;

/** An answer to the handshake, built from the key and the protocols offered. */
interface AnswerModel {
  readonly statusLine: string;
  readonly fields: readonly Field[];
  /** Why the client must refuse it, by construction; empty if it need not. */
  readonly mustFail: readonly string[];
}

const STATUS_LINES: readonly (readonly [string, boolean])[] = [
  ['HTTP/1.1 101 Switching Protocols', true],
  ['HTTP/1.1 101', true],
  ['HTTP/1.1 101 ', true],
  ['HTTP/1.0 101 Switching Protocols', true],
  ['HTTP/1.1 200 OK', false],
  ['HTTP/1.1 301 Moved Permanently', false],
  ['HTTP/1.1 400 Bad Request', false],
  ['HTTP/1.1 426 Upgrade Required', false],
  ['HTTP/1.1 503 Service Unavailable', false],
  ['HTTP/1.1 1010 Nope', false],
  ['HTTP/2 101', false],
  ['http/1.1 101 Switching Protocols', false],
  ['HTTP/1.1  101 Switching Protocols', false],
];

type AnswerOp = { readonly op: 'status'; readonly pick: number } | FieldEdit;

const answerOpArb: fc.Arbitrary<AnswerOp> = fc.oneof(
  fc.record({ op: fc.constant('status' as const), pick: fc.nat() }),
  ...FIELD_EDIT_ARBS,
);

/** Subprotocol lists the client offers. */
const OFFERS: readonly (readonly string[])[] = [[], ['chat'], ['chat', 'superchat']];

/** Values a field may be set to: right ones, wrong ones, edge cases. */
function valuesFor(name: string, key: string, offered: readonly string[]): readonly string[] {
  switch (name.toLowerCase()) {
    case 'upgrade':
      return ['websocket', 'WebSocket', 'h2c', '', 'websocket2', 'websocket, h2c'];
    case 'connection':
      return ['Upgrade', 'keep-alive, upgrade', 'keep-alive', 'close', '', 'Upgradex'];
    case 'sec-websocket-accept':
      return [
        acceptFor(key),
        acceptFor('dGhlIHNhbXBsZSBub25jZQ=='),
        acceptFor(key).replace(/=+$/, ''),
        acceptFor(key).toLowerCase(),
        ` ${acceptFor(key)}x`,
        '',
      ];
    case 'sec-websocket-protocol':
      return [...offered, 'bogus', 'chat, superchat', 'CHAT'];
    case 'sec-websocket-extensions':
      return [
        'permessage-deflate',
        'x-unknown',
        'permessage-deflate; server_no_context_takeover',
        'x; y="z',
      ];
    default:
      return ['fuzz/1.0', '', 'a\tb', 'caf\xe9'];
  }
}

/** Fields a server may add, harmless or not. */
const EXTRA_FIELDS: readonly (readonly [string, string])[] = [
  ['Server', 'fuzz/1.0'],
  ['Set-Cookie', 'a=b; Path=/'],
  ['Date', 'Thu, 01 Jan 1970 00:00:00 GMT'],
  ['Sec-WebSocket-Extensions', 'permessage-deflate'],
  ['Sec-WebSocket-Protocol', 'bogus'],
  ['Content-Length', '0'],
];

/** Builds the model: a valid 101 for `key`, then `ops` applied to it. */
function answerModel(
  key: string,
  offered: readonly string[],
  ops: readonly AnswerOp[],
): AnswerModel {
  let statusLine = STATUS_LINES[0]![0];
  let statusOk = true;
  const fields: Field[] = [
    { name: 'Upgrade', value: 'websocket' },
    { name: 'Connection', value: 'Upgrade' },
    { name: 'Sec-WebSocket-Accept', value: acceptFor(key) },
  ];
  if (offered.length > 0) fields.push({ name: 'Sec-WebSocket-Protocol', value: offered[0]! });
  for (const op of ops) {
    if (op.op === 'status') {
      [statusLine, statusOk] = STATUS_LINES[op.pick % STATUS_LINES.length]!;
      continue;
    }
    applyFieldEdit(fields, op, (name) => valuesFor(name, key, offered), EXTRA_FIELDS);
  }
  // RFC 6455 §4.1, the client's checks of the answer, on the fields as sent.
  const mustFail: string[] = [];
  if (!statusOk) mustFail.push(`status line ${JSON.stringify(statusLine)}`);
  const named = (name: string): Field[] => fields.filter((f) => f.name.toLowerCase() === name);
  const [upgrade, ...moreUpgrades] = named('upgrade');
  // Repeated fields read as one list, and "websocket, websocket" is not "websocket".
  if (upgrade?.value.toLowerCase() !== 'websocket' || moreUpgrades.length > 0) {
    mustFail.push('Upgrade is not "websocket"');
  }
  const tokens = named('connection').flatMap((f) => f.value.split(','));
  if (!tokens.some((token) => token.trim().toLowerCase() === 'upgrade')) {
    mustFail.push('Connection lacks "Upgrade"');
  }
  const accepts = named('sec-websocket-accept');
  if (accepts.length !== 1 || accepts[0]!.value !== acceptFor(key)) {
    mustFail.push('a wrong accept key');
  }
  const protocols = named('sec-websocket-protocol');
  if (protocols.length > 1 || (protocols.length === 1 && !offered.includes(protocols[0]!.value))) {
    mustFail.push('a subprotocol not offered');
  }
  // The WHATWG WebSocket's rule on top: an offer must be answered.
  if (offered.length > 0 && (protocols.length === 0 || protocols[0]!.value === '')) {
    mustFail.push('no subprotocol chosen of those offered');
  }
  if (named('sec-websocket-extensions').length > 0) mustFail.push('an extension not offered');
  return { statusLine, fields, mustFail };
}

function serializeAnswer(model: AnswerModel): Uint8Array {
  let text = `${model.statusLine}\r\n`;
  for (const { name, value } of model.fields) text += `${name}: ${value}\r\n`;
  return new Uint8Array(Buffer.from(`${text}\r\n`, 'latin1'));
}

// ---- the oracle ---------------------------------------------------------------

/** One frame the client must send, payload as hex. */
interface Sent {
  readonly opcode: number;
  readonly payload: string;
}

interface ClientOracle {
  /** `incomplete`: no complete head yet (an EOF fails it, else the timeout). */
  readonly handshake: 'open' | 'refused' | 'incomplete';
  readonly protocol: string;
  /** The messages the client must deliver, in order: strings, or binary as hex. */
  readonly messages: readonly (string | { readonly binary: string })[];
  /** The frames the client must send: a pong per ping, then its close frame if any. */
  readonly sent: readonly Sent[];
  readonly failure: { readonly closeCode: number; readonly code: string } | undefined;
  readonly peerClose: { readonly code: number; readonly reason: string } | undefined;
  readonly atBoundary: boolean;
}

/**
 * Runs the protocol's own pieces on everything the server writes after the
 * request; with `deflate`, the client offered permessage-deflate and the
 * frames go through the compressed-stream oracle.
 */
function clientOracle(
  bytes: Uint8Array,
  key: string,
  offered: readonly string[],
  deflate?: { readonly contextTakeover: boolean },
): ClientOracle {
  const base = {
    protocol: '',
    messages: [],
    sent: [],
    failure: undefined,
    peerClose: undefined,
    atBoundary: true,
  };
  let rest: Uint8Array;
  let protocol: string;
  try {
    const split = splitHead(bytes);
    if (!split) return { ...base, handshake: 'incomplete' };
    const response = parseResponseHead(split.head);
    protocol = validateResponse(response, {
      key,
      protocols: offered,
      ...(deflate ? { extensions: [PERMESSAGE_DEFLATE] } : {}),
      requireProtocol: true,
    }).protocol;
    rest = split.rest;
  } catch (error) {
    if (!(error instanceof HandshakeError)) throw error;
    return { ...base, handshake: 'refused' };
  }
  const oracle = deflate
    ? deflateOracle(rest, LIMITS, false, deflate.contextTakeover)
    : streamOracle(rest, LIMITS, false);
  return {
    handshake: 'open',
    protocol,
    // Messages, as delivered: text as strings, binary as hex.
    messages: oracle.frames
      .filter((f) => f.opcode === Opcode.Text || f.opcode === Opcode.Binary)
      .map((f) =>
        f.opcode === Opcode.Binary
          ? { binary: f.payload }
          : decodeUtf8(Uint8Array.from(Buffer.from(f.payload, 'hex'))),
      ),
    // What the client sends: a pong per ping, then its close frame.
    sent: oracle.frames.filter((f) => f.opcode === Opcode.Pong || f.opcode === Opcode.Close),
    failure: oracle.failure,
    peerClose: oracle.peerClose,
    atBoundary: oracle.atBoundary,
  };
}

// ---- one case: the hostile server's part and the client's ---------------------

/** How the server ends after its bytes: EOF, or (after a clean stream) a close frame 1000. */
type Ending = 'eof' | 'close';

interface Case {
  readonly offered: readonly string[];
  /** What the server writes after the request, given the request's key. */
  readonly bytes: (key: string) => Uint8Array;
  /** Split points, or a function of the key (to cut right after the head). */
  readonly cuts: readonly number[] | ((key: string) => readonly number[]);
  readonly pauses: readonly Pause[];
  readonly ending: Ending;
  /** Write nothing more and keep the connection open: the client's handshake timeout must fire. */
  readonly stall?: boolean;
  /** The client offers permessage-deflate; the oracle inflates as agreed. */
  readonly deflate?: { readonly contextTakeover: boolean };
}

/** What the hostile server saw: the frames the client sent after the handshake. */
interface ServerSide {
  readonly frames: Sent[];
  parseError: unknown;
}

let play: ((socket: net.Socket) => void) | undefined;

/**
 * A test of a property against a raw server that plays each case's server
 * part (`play`); its outcomes are tallied under `title`.
 */
function fuzzAgainstRaw<Ts>(
  name: string,
  title: string | (() => string),
  property: (url: string, tally: Tally) => fc.IAsyncProperty<Ts>,
  params: fc.Parameters<unknown>,
): void {
  test(
    name,
    async () => {
      const { url } = await startRaw((socket) => play?.(socket));
      await assertTallied(title, (tally) => property(url, tally), params);
    },
    TIMEOUT,
  );
}

/**
 * Runs one case: a fresh raw server connection plays the hostile part, the
 * client under test connects, and both sides' records come back once the
 * client's `close` fired and the TCP connection is gone.
 */
async function runCase(url: string, kase: Case, clientOptions: { handshakeTimeout?: number } = {}) {
  let resolveSide!: (side: ServerSide) => void;
  const serverDone = new Promise<ServerSide>((resolve) => (resolveSide = resolve));
  let oracle: ClientOracle | undefined;
  play = (socket) => {
    socket.setNoDelay(true);
    void (async () => {
      const { head, rest } = await readHead(socket);
      const key = keyOf(head);
      const side: ServerSide = { frames: [], parseError: undefined };
      // The client's frames, judged by the independent decoder (masked, no RSV bits).
      const decoder = new FrameDecoder({ expectMasked: true });
      const receive = (chunk: Uint8Array): void => {
        if (side.parseError !== undefined) return;
        try {
          for (const frame of decoder.push(chunk)) {
            side.frames.push({ opcode: frame.opcode, payload: frame.payload.toString('hex') });
            // The client's close frame ends the closing handshake: the server closes TCP.
            if (frame.opcode === Opcode.Close) socket.end();
          }
        } catch (error) {
          side.parseError = error;
        }
      };
      if (rest.length > 0) receive(rest);
      socket.on('data', receive);
      socket.on('end', () => socket.end());
      socket.on('close', () => resolveSide(side));

      const bytes = kase.bytes(key);
      oracle = clientOracle(bytes, key, kase.offered, kase.deflate);
      const cuts = typeof kase.cuts === 'function' ? kase.cuts(key) : kase.cuts;
      const gone = (): boolean => socket.destroyed || socket.writableEnded;
      if (
        !(await writePaced((chunk) => socket.write(chunk), split(bytes, cuts), kase.pauses, gone))
      ) {
        return;
      }
      if (kase.stall || socket.destroyed || socket.writableEnded) return;
      const clean = oracle.handshake === 'open' && !oracle.failure && !oracle.peerClose;
      if (kase.ending === 'close' && clean && oracle.atBoundary) {
        socket.write(concatBytes(encodeFrame(Opcode.Close, serializeClosePayload(1000, ''))));
      } else if (kase.deflate && oracle.handshake === 'open' && !clean) {
        // The client must fail, or echo our close frame: its close frame ends
        // the connection (above). No EOF before it, which would cut short a
        // message still being inflated (see `check`).
      } else {
        socket.end();
      }
    })();
  };
  const ws = new WebSocket(url, kase.offered, {
    ...LIMITS,
    closeTimeout: 3000,
    handshakeTimeout: 3000,
    ...(kase.deflate ? { perMessageDeflate: true } : {}),
    ...clientOptions,
  });
  ws.binaryType = 'arraybuffer';
  const { events, closed } = record(ws);
  const close = await within(
    closed,
    'close event',
    (clientOptions.handshakeTimeout ?? 0) + CASE_TIMEOUT,
  );
  const side = await within(serverDone, 'TCP connection closed');
  // Nothing may follow the close event.
  await turns(5);
  await sleep(2);
  return { events, close, side, oracle: oracle!, ws };
}

/** Asserts everything the client did against the oracle; returns the outcome's name. */
function check(result: Awaited<ReturnType<typeof runCase>>, ending: Ending, stall = false): string {
  const { events, close, side, oracle, ws } = result;
  const types = events.map((e) => e.type);
  expect(types.filter((t) => t === 'close')).toHaveLength(1);
  expect(types.at(-1)).toBe('close');
  expect(ws.readyState).toBe(WebSocket.CLOSED);
  for (const seen of events.filter((e) => e.type === 'error' || e.type === 'close')) {
    expect(seen.readyState).toBe(WebSocket.CLOSED);
  }
  expect(side.parseError).toBeUndefined();
  const errorEvent = events.find((e) => e.type === 'error')?.event as ErrorEvent | undefined;

  if (oracle.handshake !== 'open') {
    expect(types).toEqual(['error', 'close']);
    // A stalled answer fails by the handshake timeout; anything else with a HandshakeError.
    if (stall) expect(errorEvent!.message).toMatch(/timed out/);
    else expect(errorEvent!.error).toBeInstanceOf(HandshakeError);
    expect([close.code, close.wasClean]).toEqual([1006, false]);
    expect(side.frames).toEqual([]);
    return oracle.handshake === 'refused' ? 'handshake refused' : 'handshake incomplete';
  }

  const messages = events
    .filter((e) => e.type === 'message')
    .map((e) => {
      const data = (e.event as MessageEvent).data;
      return typeof data === 'string'
        ? data
        : { binary: Buffer.from(data as ArrayBuffer).toString('hex') };
    });
  const expectedMessages = oracle.messages;
  // open, the messages, `error` if the connection failed, `close`: nothing else.
  expect(types).toEqual([
    'open',
    ...expectedMessages.map(() => 'message'),
    ...(oracle.failure ? ['error'] : []),
    'close',
  ]);
  expect(ws.protocol).toBe(oracle.protocol);
  expect(messages).toEqual(expectedMessages);
  const sent = [...oracle.sent];
  if (oracle.failure) {
    expect(errorEvent!.error).toBeInstanceOf(WebSocketError);
    const error = errorEvent!.error as WebSocketError;
    expect([error.code, error.closeCode]).toEqual([oracle.failure.code, oracle.failure.closeCode]);
    expect([close.code, close.wasClean]).toEqual([1006, false]);
    expect(side.frames).toEqual(sent);
    return `close ${oracle.failure.closeCode} (${oracle.failure.code})`;
  }
  if (oracle.peerClose) {
    expect([close.code, close.reason, close.wasClean]).toEqual([
      oracle.peerClose.code,
      oracle.peerClose.reason,
      true,
    ]);
    expect(side.frames).toEqual(sent);
    return 'server close echoed';
  }
  if (ending === 'close' && oracle.atBoundary) {
    sent.push({ opcode: Opcode.Close, payload: hex(serializeClosePayload(1000, '')) });
    expect([close.code, close.wasClean]).toEqual([1000, true]);
    expect(side.frames).toEqual(sent);
    return 'clean stream, then a close frame';
  }
  expect([close.code, close.wasClean]).toEqual([1006, false]);
  // A compressed message that arrived whole before the EOF is delivered too
  // (the end waits for its inflation).
  expect(side.frames).toEqual(sent);
  return 'clean stream, then EOF';
}

// ---- arbitraries ------------------------------------------------------------

const offeredArb = fc.constantFrom(...OFFERS);

/** Server frames (unmasked): hostile, valid scripts, many fragments, oversize. */
const serverFramesArb = fc.oneof(
  { weight: 4, arbitrary: hostileArb(false) },
  {
    weight: 2,
    arbitrary: scriptArb.map((script) => encodeStream(expand(script).frames, null)),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ text: fc.string({ maxLength: 60 }), fragments: fc.integer({ min: 1, max: 8 }) })
      .map(({ text, fragments }) => {
        const data = encodeUtf8(text);
        const frames = Array.from({ length: fragments }, (_, i) => ({
          opcode: i === 0 ? Opcode.Text : Opcode.Continuation,
          fin: i === fragments - 1,
          payload: data.subarray(
            Math.floor((i * data.length) / fragments),
            Math.floor(((i + 1) * data.length) / fragments),
          ),
        }));
        return encodeStream(frames, null);
      }),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        size: fc.oneof(
          fc.integer({ min: LIMITS.maxPayload - 2, max: 2 ** 32 }),
          fc.constantFrom(2 ** 40, 2 ** 53, 2 ** 62),
        ),
        first: fc.nat({ max: LIMITS.maxPayload }),
        fragmented: fc.boolean(),
      })
      .map(({ size, first, fragmented }) =>
        fragmented
          ? concatBytes([
              ...encodeFrame(Opcode.Binary, new Uint8Array(first), { fin: false }),
              bigHeader(Opcode.Continuation, true, size),
            ])
          : bigHeader(Opcode.Binary, true, size),
      ),
  },
);

/** A valid 101 for the key and offer, from the model with no changes. */
function valid101(key: string, offered: readonly string[]): Uint8Array {
  return serializeAnswer(answerModel(key, offered, []));
}

const endingArb = fc.constantFrom<Ending>('eof', 'close', 'close');

describe('answers to the opening handshake', () => {
  fuzzAgainstRaw(
    'answers built from a model: open exactly when valid; a refusal is error then close 1006',
    'model answers',
    (url, tally) =>
      fc.asyncProperty(
        offeredArb,
        fc.array(answerOpArb, { maxLength: 4 }),
        fc.option(serverFramesArb, { freq: 3 }),
        cutsArb,
        pausesArb,
        endingArb,
        async (offered, ops, frames, cuts, pauses, ending) => {
          let model: AnswerModel | undefined;
          const bytes = (key: string): Uint8Array => {
            model = answerModel(key, offered, ops);
            return concatBytes([serializeAnswer(model), frames ?? EMPTY]);
          };
          const result = await runCase(url, { offered, bytes, cuts, pauses, ending });
          // The model and the oracle agree: refused exactly when a rule is broken.
          expect(result.oracle.handshake, model!.mustFail.join('; ')).toBe(
            model!.mustFail.length > 0 ? 'refused' : 'open',
          );
          const outcome = check(result, ending);
          tally.add(
            result.oracle.handshake === 'refused'
              ? `refused${model!.mustFail.length > 0 ? ` (${model!.mustFail[0]})` : ''}`
              : outcome,
          );
        },
      ),
    options(400),
  );

  /** Answers that are not a valid 101 (or not all of one), each made from the key and offer. */
  const answerArb = fc.oneof(
    // A valid 101 (and frames) mutated byte by byte.
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          fc.option(serverFramesArb, { freq: 2 }),
          fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        )
        .map(
          ([frames, mutations]) =>
            (key: string, offered: readonly string[]) =>
              mutate(concatBytes([valid101(key, offered), frames ?? EMPTY]), mutations),
        ),
    },
    // Garbage.
    {
      weight: 1,
      arbitrary: fc
        .uint8Array({ maxLength: 300 })
        .map((garbage) => (_key: string, _offered: readonly string[]) => garbage),
    },
    // Cut short anywhere: an EOF in the head.
    {
      weight: 1,
      arbitrary: fc.nat().map((at) => (key: string, offered: readonly string[]) => {
        const answer = valid101(key, offered);
        return answer.subarray(0, at % answer.length);
      }),
    },
    // A head that never ends within 16 KiB.
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 16_384, max: 40_000 })
        .map(
          (size) => (_key: string, _offered: readonly string[]) =>
            encodeUtf8(`HTTP/1.1 101 Switching Protocols\r\nX-Filler: ${'a'.repeat(size)}`),
        ),
    },
  );

  fuzzAgainstRaw(
    'mutated answers, garbage and early EOF: error then close 1006, or open and the oracle',
    'mutated answers',
    (url, tally) =>
      fc.asyncProperty(
        offeredArb,
        answerArb,
        cutsArb,
        pausesArb,
        endingArb,
        async (offered, answer, cuts, pauses, ending) => {
          const result = await runCase(url, {
            offered,
            bytes: (key) => answer(key, offered),
            cuts,
            pauses,
            ending,
          });
          tally.add(check(result, ending));
        },
      ),
    options(500),
  );

  fuzzAgainstRaw(
    'an answer that stops part-way with the connection open: the handshake timeout fails it',
    'stalled answers',
    (url, tally) =>
      fc.asyncProperty(offeredArb, fc.nat(), async (offered, at) => {
        const result = await runCase(
          url,
          {
            offered,
            bytes: (key) => {
              const answer = valid101(key, offered);
              return answer.subarray(0, at % (answer.length - 1));
            },
            cuts: [],
            pauses: [],
            ending: 'eof',
            stall: true,
          },
          { handshakeTimeout: 200 },
        );
        expect(result.oracle.handshake).toBe('incomplete');
        tally.add(check(result, 'eof', true));
      }),
    { ...options(5), numRuns: FUZZ_RUNS ? Math.ceil(FUZZ_RUNS / 100) : 5 },
  );
});

describe('frame streams after a valid 101', () => {
  fuzzAgainstRaw(
    'messages, pongs and the close code the oracle predicts; error and close as the spec says',
    'frame streams',
    (url, tally) =>
      fc.asyncProperty(
        offeredArb,
        serverFramesArb,
        cutsArb,
        pausesArb,
        endingArb,
        fc.boolean(),
        async (offered, frames, cuts, pauses, ending, together) => {
          // The frames come in the same write as the 101, or after it.
          const result = await runCase(url, {
            offered,
            bytes: (key) => concatBytes([valid101(key, offered), frames]),
            cuts: (key) => (together ? cuts : [valid101(key, offered).length, ...cuts]),
            pauses,
            ending,
          });
          expect(result.oracle.handshake).toBe('open');
          tally.add(check(result, ending));
        },
      ),
    options(600),
  );
});

describe('compressed frame streams after a 101 that accepts permessage-deflate', () => {
  let afterBfinal = 0;
  fuzzAgainstRaw(
    'messages inflated as the oracle predicts; 1007 for bad DEFLATE data or UTF-8, 1009 past maxPayload, 1002 for RSV1 out of place',
    () => compressedTallyTitle(afterBfinal),
    (url, tally) =>
      fc.asyncProperty(
        deflateCaseArb(LIMITS.maxPayload, false),
        fc.boolean(),
        cutsArb,
        pausesArb,
        endingArb,
        fc.boolean(),
        async ({ steps, stream }, contextTakeover, cuts, pauses, ending, together) => {
          if (deflateOracle(stream, LIMITS, false, contextTakeover).afterStreamEnd) afterBfinal++;
          const answer = (key: string): Uint8Array =>
            serializeAnswer({
              ...answerModel(key, [], []),
              fields: [
                ...answerModel(key, [], []).fields,
                {
                  name: 'Sec-WebSocket-Extensions',
                  value: contextTakeover
                    ? 'permessage-deflate'
                    : 'permessage-deflate; server_no_context_takeover',
                },
              ],
            });
          const result = await runCase(url, {
            offered: [],
            bytes: (key) => concatBytes([answer(key), stream]),
            cuts: (key) => (together ? cuts : [answer(key).length, ...cuts]),
            pauses,
            ending,
            deflate: { contextTakeover },
          });
          expect(result.oracle.handshake).toBe('open');
          expect(result.ws.extensions).toMatch(/^permessage-deflate/);
          const outcome = check(result, ending);
          for (const kind of new Set(stepKinds(steps))) tally.add(`${kind}: ${outcome}`);
        },
      ),
    options(300),
  );
});

describe('compressed messages and control frames', () => {
  // Found by the property above (with control frames). A compressed message
  // and a ping (or pong) in one read: the client delivered the message, then
  // never read again (reading stayed paused past the inflate while the ping
  // was held behind the message), so no pong, no later message, not even a
  // close frame went through.
  test(
    'a compressed message and a ping in one read: the close frame after them is still read',
    async () => {
      let server!: net.Socket;
      const { url } = await startRaw((socket) => {
        server = socket;
        void acceptRaw(socket, ['Sec-WebSocket-Extensions: permessage-deflate']).then(() => {
          const deflated = deflateRawSync(Buffer.from('first'), {
            finishFlush: constants.Z_SYNC_FLUSH,
          }).subarray(0, -4);
          socket.write(
            concatBytes([
              ...encodeFrame(Opcode.Text, deflated, { rsv1: true }),
              ...encodeFrame(Opcode.Ping, EMPTY),
            ]),
          );
        });
      });
      const ws = new WebSocket(url, [], { perMessageDeflate: true, closeTimeout: 1000 });
      const { events, closed } = record(ws);
      expect(((await nextEvent(ws, 'message')) as MessageEvent).data).toBe('first');
      server.write(concatBytes(encodeFrame(Opcode.Close, serializeClosePayload(1000, ''))));
      server.on('data', () => server.end());
      const close = await within(closed, 'close event after the close frame', 3000);
      expect(close.code).toBe(1000);
      expect(events.map((e) => e.type)).toEqual(['open', 'message', 'close']);
    },
    TIMEOUT,
  );
});
