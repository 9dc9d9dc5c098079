/**
 * The Autobahn|Testsuite case list, sections 1-7, 9 and 10, as data.
 *
 * Each case says what the fuzzer sends (frames built with `encodeFrame`, and
 * how they go on the wire: in one write, one write per frame, in chops of N
 * bytes, with pauses and checkpoints in between) and what the peer under test
 * must answer: the messages and pongs it echoes, in order, and how the
 * connection closes. The same table drives both roles: against the server the
 * fuzzer is a client and masks every frame; against a client it is a server
 * and masks none (see {@link encoderFor}).
 *
 * Case ids, payloads and the way bytes are chopped follow the Autobahn case
 * classes (`autobahntestsuite/case/case*.py`); the pauses are shorter, and the
 * expectations are the strict ("OK") ones. See README.md for the differences.
 */
import { Opcode, concatBytes, createRandomMaskSource, encodeFrame } from '@proj/protocol';

/** The side under test: `server` means the fuzzer is a client and masks its frames. */
export type Role = 'server' | 'client';

/** One frame as the fuzzer means to send it, before encoding. */
export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: Uint8Array | string;
  /** Default `true`. */
  readonly fin?: boolean;
  /** Autobahn's 3-bit RSV value: 4 sets RSV1, 2 sets RSV2, 1 sets RSV3. */
  readonly rsv?: number;
}

/** Encodes one frame for the role (masked towards a server). */
export type Encode = (frame: FrameSpec) => Uint8Array;

/** What the fuzzer does next. */
export type Step =
  /** Writes bytes: at once, or in chops of `chop` bytes with a turn of the event loop between chops. */
  | { readonly kind: 'write'; readonly bytes: Uint8Array; readonly chop?: number }
  /** Waits, reading whatever the peer sends meanwhile. */
  | { readonly kind: 'pause'; readonly ms: number }
  /** The peer must not have closed yet (it was sent only valid data so far). */
  | { readonly kind: 'expectOpen' }
  /** The peer must have sent this many events (messages and pongs) before we go on. */
  | { readonly kind: 'awaitEvents'; readonly count: number }
  /** Fail fast: the peer's close must arrive before we go on (and send the rest). */
  | { readonly kind: 'awaitClose' }
  /** Sends a frame and waits for its echo, `count` times (9.7 / 9.8). */
  | { readonly kind: 'roundtrips'; readonly count: number; readonly next: () => Uint8Array };

/** Something the peer under test sends that the case checks. */
export type PeerEvent =
  | { readonly type: 'message'; readonly data: Uint8Array; readonly binary: boolean }
  | { readonly type: 'pong'; readonly data: Uint8Array };

/** How the connection must end. */
export type Outcome =
  /**
   * Autobahn "closedByMe": once the peer has sent the expected events we
   * close with 1000 and it must answer with a close frame echoing 1000, then
   * the TCP connection closes (the server closes it first).
   */
  | { readonly kind: 'echo' }
  /**
   * The script itself sends a close frame: the peer must answer with a close
   * frame whose code is one of `codes` (`null`: an empty body), after the
   * expected events and with nothing after it.
   */
  | { readonly kind: 'reply'; readonly codes: readonly (number | null)[] }
  /**
   * The peer must fail the connection: a close frame with `code`, sent
   * before we send any close, then the TCP connection closes.
   */
  | { readonly kind: 'fail'; readonly code: number };

/** What a case sends and the events it expects back, built for one role. */
export interface Script {
  readonly steps: readonly Step[];
  readonly events: readonly PeerEvent[];
  /**
   * Autobahn's NON-STRICT alternative, where the case has one: the events of
   * a peer that failed the connection before it could answer what came
   * before the bad frame (3.2-3.4, 4.x.3-4.x.5, 5.15, 7.1.6). Still not OK.
   */
  readonly nonStrictEvents?: readonly PeerEvent[];
}

/** One Autobahn case. */
export interface ConformanceCase {
  /** The Autobahn case id, e.g. "6.4.3". */
  readonly id: string;
  /** What is sent. */
  readonly description: string;
  /** How the connection ends. */
  readonly outcome: Outcome;
  /** Builds the frames (lazily: 9.x payloads are large). */
  build(encode: Encode): Script;
  /** Budget for waiting on the peer, in ms. Default {@link DEFAULT_WAIT_MS}. */
  readonly waitMs?: number;
}

/** How long to wait for an answer that should come at once. */
export const DEFAULT_WAIT_MS = 3000;

/**
 * Autobahn's timings where a case waits (5.19, 5.20, 6.4.x): it pauses 1 s
 * after the first part (`continueLater(1, part2)`; the peer must still be
 * open then), and after the part that needs an answer it gives the peer 1 s
 * more before sending the rest (`continueLater(1, part3)`): a close (6.4.x)
 * or pong (5.19, 5.20) that arrives later is NON-STRICT. Both are taken as
 * they are, so a verdict here means what it means in Autobahn's report.
 */
export const PAUSE_MS = 1000;

/** How long a checkpoint (`awaitClose`, `awaitEvents`) waits: Autobahn's 1 s. */
export const CHECKPOINT_MS = 1000;

/** Section titles, as in the Autobahn report. */
export const SECTIONS: Readonly<Record<string, string>> = {
  '1': 'Framing',
  '2': 'Pings/Pongs',
  '3': 'Reserved Bits',
  '4': 'Opcodes',
  '5': 'Fragmentation',
  '6': 'UTF-8 Handling',
  '7': 'Close Handling',
  '9': 'Limits/Performance',
  '10': 'Misc (auto-fragmentation)',
};

// ---- bytes ----

const encoder = new TextEncoder();

function toBytes(payload: Uint8Array | string | undefined): Uint8Array {
  if (payload === undefined) return new Uint8Array(0);
  return typeof payload === 'string' ? encoder.encode(payload) : payload;
}

/** Bytes from hex ("cebae1"). */
export function hex(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** `length` bytes of `pattern` repeated (Autobahn's `payload_len`). */
export function fill(pattern: Uint8Array | string, length: number): Uint8Array {
  const bytes = toBytes(pattern);
  const out = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += bytes.length) {
    out.set(bytes.subarray(0, Math.min(bytes.length, length - offset)), offset);
  }
  return out;
}

/** A close frame body: code (if any) and reason. */
function closeBody(code?: number, reason: Uint8Array | string = ''): Uint8Array {
  if (code === undefined) return toBytes(reason);
  const reasonBytes = toBytes(reason);
  const body = new Uint8Array(2 + reasonBytes.length);
  body[0] = code >>> 8;
  body[1] = code & 0xff;
  body.set(reasonBytes, 2);
  return body;
}

// ---- frames ----

const frame = (opcode: number, payload?: Uint8Array | string, fin = true, rsv = 0): FrameSpec => ({
  opcode,
  payload,
  fin,
  rsv,
});
const text = (payload?: Uint8Array | string, fin = true): FrameSpec =>
  frame(Opcode.Text, payload, fin);
const cont = (payload?: Uint8Array | string, fin = true): FrameSpec =>
  frame(Opcode.Continuation, payload, fin);
const ping = (payload?: Uint8Array | string): FrameSpec => frame(Opcode.Ping, payload);
const pong = (payload?: Uint8Array | string): FrameSpec => frame(Opcode.Pong, payload);
const close = (code?: number, reason?: Uint8Array | string): FrameSpec =>
  frame(Opcode.Close, closeBody(code, reason));

/** The frames of one message split into `size`-byte fragments (Autobahn's `fragmentSize`). */
function fragmented(opcode: number, payload: Uint8Array, size: number): FrameSpec[] {
  const frames: FrameSpec[] = [];
  for (let offset = 0; offset < payload.length || frames.length === 0; offset += size) {
    const end = Math.min(offset + size, payload.length);
    frames.push(
      frame(
        frames.length === 0 ? opcode : Opcode.Continuation,
        payload.subarray(offset, end),
        end === payload.length,
      ),
    );
  }
  return frames;
}

/** Encodes frames as the fuzzer of `role`'s peer: masked (random keys) towards a server. */
export function encoderFor(role: Role): Encode {
  const maskSource = role === 'server' ? createRandomMaskSource() : undefined;
  return (spec) => {
    const rsv = spec.rsv ?? 0;
    const chunks = encodeFrame(spec.opcode, toBytes(spec.payload), {
      fin: spec.fin ?? true,
      rsv1: (rsv & 4) !== 0,
      rsv2: (rsv & 2) !== 0,
      rsv3: (rsv & 1) !== 0,
      mask: maskSource?.(),
    });
    return chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
  };
}

// ---- scripts ----

/** Builds a {@link Script} step by step. */
class ScriptBuilder {
  readonly #encode: Encode;
  readonly #steps: Step[] = [];
  readonly #events: PeerEvent[] = [];
  #nonStrictEvents: PeerEvent[] | undefined;

  constructor(encode: Encode) {
    this.#encode = encode;
  }

  /** Sends the frames in one write (Autobahn: consecutive `sendFrame` calls). */
  send(...frames: FrameSpec[]): this {
    return this.sendFrames(frames);
  }

  /** {@link send} for a long list (9.3: 65,536 fragments, too many to spread). */
  sendFrames(frames: readonly FrameSpec[]): this {
    return this.raw(concatBytes(frames.map(this.#encode)));
  }

  /** Sends the frames' bytes in chops of `chop` bytes (Autobahn `chopsize`). */
  sendChopped(chop: number, ...frames: FrameSpec[]): this {
    this.#steps.push({ kind: 'write', bytes: concatBytes(frames.map(this.#encode)), chop });
    return this;
  }

  /** Sends each frame in its own write (Autobahn `sync = True`: per-frame chops). */
  sendEach(...frames: FrameSpec[]): this {
    for (const spec of frames) this.raw(this.#encode(spec));
    return this;
  }

  /** Sends bytes as they are. */
  raw(bytes: Uint8Array): this {
    this.#steps.push({ kind: 'write', bytes });
    return this;
  }

  /**
   * Encodes one frame and returns its bytes cut into pieces: the header and
   * payload up to `cuts[0]`, then up to `cuts[1]`, ..., then the rest.
   */
  split(spec: FrameSpec, ...cuts: number[]): Uint8Array[] {
    const bytes = this.#encode(spec);
    const header = bytes.length - toBytes(spec.payload).length;
    const parts: Uint8Array[] = [];
    let start = 0;
    for (const cut of cuts) {
      parts.push(bytes.subarray(start, header + cut));
      start = header + cut;
    }
    parts.push(bytes.subarray(start));
    return parts;
  }

  pause(ms = PAUSE_MS): this {
    this.#steps.push({ kind: 'pause', ms });
    return this;
  }

  expectOpen(): this {
    this.#steps.push({ kind: 'expectOpen' });
    return this;
  }

  awaitEvents(count: number): this {
    this.#steps.push({ kind: 'awaitEvents', count });
    return this;
  }

  awaitClose(): this {
    this.#steps.push({ kind: 'awaitClose' });
    return this;
  }

  /** Sends `spec` and waits for its echo, `count` times; expects the echoes. */
  roundtrips(count: number, spec: FrameSpec): this {
    this.#steps.push({ kind: 'roundtrips', count, next: () => this.#encode(spec) });
    const data = toBytes(spec.payload);
    for (let i = 0; i < count; i++) this.message(data, spec.opcode === Opcode.Binary);
    return this;
  }

  /** Expects a message echoed back. */
  message(data: Uint8Array | string, binary = false): this {
    this.#events.push({ type: 'message', data: toBytes(data), binary });
    return this;
  }

  /** Expects a pong. */
  pong(data: Uint8Array | string = ''): this {
    this.#events.push({ type: 'pong', data: toBytes(data) });
    return this;
  }

  /**
   * Also allows, as NON-STRICT, a peer that answers nothing (Autobahn's
   * `expected[NON_STRICT] = []`): it failed on a later frame of the same read
   * before it echoed the earlier message.
   */
  orNothing(): this {
    this.#nonStrictEvents = [];
    return this;
  }

  done(): Script {
    return { steps: this.#steps, events: this.#events, nonStrictEvents: this.#nonStrictEvents };
  }
}

const ECHO: Outcome = { kind: 'echo' };
const fail = (code: number): Outcome => ({ kind: 'fail', code });
const reply = (...codes: (number | null)[]): Outcome => ({ kind: 'reply', codes });

const cases: ConformanceCase[] = [];

function add(
  id: string,
  description: string,
  outcome: Outcome,
  build: (b: ScriptBuilder) => ScriptBuilder,
  waitMs?: number,
): void {
  cases.push({
    id,
    description,
    outcome,
    build: (encode) => build(new ScriptBuilder(encode)).done(),
    waitMs,
  });
}

// ---- 1 Framing ----

const FRAMING_LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];
for (const [section, kind, opcode, pattern] of [
  ['1.1', 'text', Opcode.Text, '*'],
  ['1.2', 'binary', Opcode.Binary, hex('fe')],
] as const) {
  FRAMING_LENGTHS.forEach((length, i) => {
    const payload = fill(pattern, length);
    add(`${section}.${i + 1}`, `Send ${kind} message with payload of length ${length}`, ECHO, (b) =>
      b.send(frame(opcode, payload)).message(payload, opcode === Opcode.Binary),
    );
  });
  const payload = fill(pattern, 65536);
  add(
    `${section}.8`,
    `Send ${kind} message with payload of length 65536, in chops of 997 octets`,
    ECHO,
    (b) => b.sendChopped(997, frame(opcode, payload)).message(payload, opcode === Opcode.Binary),
  );
}

// ---- 2 Pings/Pongs ----

add('2.1', 'Send ping without payload', ECHO, (b) => b.send(ping()).pong());
add('2.2', 'Send ping with small text payload', ECHO, (b) =>
  b.send(ping('Hello, world!')).pong('Hello, world!'),
);
add('2.3', 'Send ping with small binary (non UTF-8) payload', ECHO, (b) =>
  b.send(ping(hex('00fffefdfcfb00ff'))).pong(hex('00fffefdfcfb00ff')),
);
add('2.4', 'Send ping with binary payload of 125 octets', ECHO, (b) =>
  b.send(ping(fill(hex('fe'), 125))).pong(fill(hex('fe'), 125)),
);
add('2.5', 'Send ping with binary payload of 126 octets', fail(1002), (b) =>
  b.send(ping(fill(hex('fe'), 126))),
);
add('2.6', 'Send ping with binary payload of 125 octets, in octet-wise chops', ECHO, (b) =>
  b.sendChopped(1, ping(fill(hex('fe'), 125))).pong(fill(hex('fe'), 125)),
);
add('2.7', 'Send unsolicited pong without payload, then close', reply(1000), (b) =>
  b.send(pong(), close(1000)),
);
add('2.8', 'Send unsolicited pong with payload, then close', reply(1000), (b) =>
  b.send(pong('unsolicited pong payload'), close(1000)),
);
add('2.9', 'Send unsolicited pong with payload, then ping with payload', ECHO, (b) =>
  b.send(pong('unsolicited pong payload'), ping('ping payload')).pong('ping payload'),
);
for (const [id, chop] of [
  ['2.10', undefined],
  ['2.11', 1],
] as const) {
  const payloads = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
  add(id, `Send 10 pings with payload${chop ? ', in octet-wise chops' : ''}`, ECHO, (b) => {
    const pings = payloads.map((p) => ping(p));
    if (chop) b.sendChopped(chop, ...pings);
    else b.send(...pings);
    for (const p of payloads) b.pong(p);
    return b;
  });
}

// ---- 3 Reserved bits ----

add('3.1', 'Send small text message with RSV = 1', fail(1002), (b) =>
  b.send(frame(Opcode.Text, 'Hello, world!', true, 1)),
);
add('3.2', 'Send small text message, then again with RSV = 2, then ping', fail(1002), (b) =>
  b
    .send(text('Hello, world!'), frame(Opcode.Text, 'Hello, world!', true, 2), ping())
    .message('Hello, world!')
    .orNothing(),
);
add(
  '3.3',
  'Send small text message, then again with RSV = 3, then ping, in per-frame chops',
  fail(1002),
  (b) =>
    b
      .sendEach(text('Hello, world!'), frame(Opcode.Text, 'Hello, world!', true, 3), ping())
      .message('Hello, world!')
      .orNothing(),
);
add(
  '3.4',
  'Send small text message, then again with RSV = 4, then ping, in octet-wise chops',
  fail(1002),
  (b) =>
    b
      .sendChopped(1, text('Hello, world!'), frame(Opcode.Text, 'Hello, world!', true, 4), ping())
      .message('Hello, world!')
      .orNothing(),
);
add('3.5', 'Send small binary message with RSV = 5', fail(1002), (b) =>
  b.send(frame(Opcode.Binary, hex('00fffefdfcfb00ff'), true, 5)),
);
add('3.6', 'Send ping with RSV = 6', fail(1002), (b) =>
  b.send(frame(Opcode.Ping, 'Hello, world!', true, 6)),
);
add('3.7', 'Send close with RSV = 7', fail(1002), (b) => b.send(frame(Opcode.Close, '', true, 7)));

// ---- 4 Opcodes ----

for (const [sub, kind, opcodes] of [
  ['4.1', 'non-control', [3, 4, 5, 6, 7]],
  ['4.2', 'control', [11, 12, 13, 14, 15]],
] as const) {
  const [a, b2, c, d, e] = opcodes;
  add(`${sub}.1`, `Send frame with reserved ${kind} opcode ${a}`, fail(1002), (b) =>
    b.send(frame(a, '')),
  );
  add(`${sub}.2`, `Send frame with reserved ${kind} opcode ${b2} and payload`, fail(1002), (b) =>
    b.send(frame(b2, 'reserved opcode payload')),
  );
  add(
    `${sub}.3`,
    `Send small text message, then frame with reserved ${kind} opcode ${c}, then ping`,
    fail(1002),
    (b) => b.send(text('Hello, world!'), frame(c, ''), ping()).message('Hello, world!').orNothing(),
  );
  add(
    `${sub}.4`,
    `Send small text message, then frame with reserved ${kind} opcode ${d} and payload, then ping`,
    fail(1002),
    (b) =>
      b
        .send(text('Hello, world!'), frame(d, 'Hello, world!'), ping())
        .message('Hello, world!')
        .orNothing(),
  );
  add(
    `${sub}.5`,
    `Send small text message, then frame with reserved ${kind} opcode ${e} and payload, then ping, in octet-wise chops`,
    fail(1002),
    (b) =>
      b
        .sendChopped(1, text('Hello, world!'), frame(e, 'Hello, world!'), ping())
        .message('Hello, world!')
        .orNothing(),
  );
}

// ---- 5 Fragmentation ----

add('5.1', 'Send ping fragmented into 2 fragments', fail(1002), (b) =>
  b.send(frame(Opcode.Ping, 'fragment1', false), cont('fragment2')),
);
add('5.2', 'Send pong fragmented into 2 fragments', fail(1002), (b) =>
  b.send(frame(Opcode.Pong, 'fragment1', false), cont('fragment2')),
);

type Send = 'one chop' | 'per-frame chops' | 'octet-wise chops';
function sendAs(b: ScriptBuilder, how: Send, ...frames: FrameSpec[]): ScriptBuilder {
  if (how === 'one chop') return b.send(...frames);
  if (how === 'per-frame chops') return b.sendEach(...frames);
  return b.sendChopped(1, ...frames);
}
const HOW: readonly Send[] = ['one chop', 'per-frame chops', 'octet-wise chops'];

HOW.forEach((how, i) => {
  add(`5.${3 + i}`, `Send text message fragmented into 2 fragments, ${how}`, ECHO, (b) =>
    sendAs(b, how, text('fragment1', false), cont('fragment2')).message('fragment1fragment2'),
  );
});
HOW.forEach((how, i) => {
  add(`5.${6 + i}`, `Send text message in 2 fragments with a ping in between, ${how}`, ECHO, (b) =>
    sendAs(b, how, text('fragment1', false), ping('ping payload'), cont('fragment2'))
      .pong('ping payload')
      .message('fragment1fragment2'),
  );
});
HOW.forEach((how, i) => {
  add(
    `5.${9 + i}`,
    `Send continuation frame with FIN = true and nothing to continue, then text message, ${how}`,
    fail(1002),
    (b) => sendAs(b, how, cont('non-continuation payload'), text('Hello, world!')),
  );
});
HOW.forEach((how, i) => {
  add(
    `5.${12 + i}`,
    `Send continuation frame with FIN = false and nothing to continue, then text message, ${how}`,
    fail(1002),
    (b) => sendAs(b, how, cont('non-continuation payload', false), text('Hello, world!')),
  );
});
add(
  '5.15',
  'Send text message in 2 fragments, then continuation with FIN = false and nothing to continue, then text',
  fail(1002),
  (b) =>
    b
      .send(
        text('fragment1', false),
        cont('fragment2'),
        cont('fragment3', false),
        text('fragment4'),
      )
      .message('fragment1fragment2')
      .orNothing(),
);
for (const [id, fin] of [
  ['5.16', false],
  ['5.17', true],
] as const) {
  add(
    id,
    `Repeated 2x: continuation with FIN = ${fin} and nothing to continue, then text message in 2 fragments`,
    fail(1002),
    (b) => {
      const round = [cont('fragment1', fin), text('fragment2', false), cont('fragment3')];
      return b.send(...round, ...round);
    },
  );
}
add('5.18', 'Send text message in 2 fragments, both with opcode text', fail(1002), (b) =>
  b.send(text('fragment1', false), text('fragment2')),
);
for (const [id, how] of [
  ['5.19', 'one chop per part'],
  ['5.20', 'per-frame chops'],
] as const) {
  add(
    id,
    `Send text message in 5 fragments with 2 pings in between and a pause, ${how}`,
    ECHO,
    (b) => {
      const part1 = [text('fragment1', false), cont('fragment2', false), ping('pongme 1!')];
      const part2 = [
        cont('fragment3', false),
        cont('fragment4', false),
        ping('pongme 2!'),
        cont('fragment5'),
      ];
      const sendPart = (frames: FrameSpec[]): ScriptBuilder =>
        how === 'per-frame chops' ? b.sendEach(...frames) : b.send(...frames);
      sendPart(part1);
      // The first pong must come before the message is complete.
      b.pause().awaitEvents(1);
      sendPart(part2);
      return b
        .pong('pongme 1!')
        .pong('pongme 2!')
        .message('fragment1fragment2fragment3fragment4fragment5');
    },
  );
}

// ---- 6 UTF-8 handling ----

add('6.1.1', 'Send text message of length 0', ECHO, (b) => b.send(text('')).message(''));
add('6.1.2', 'Send fragmented text message, 3 fragments each of length 0', ECHO, (b) =>
  b.send(text('', false), cont('', false), cont('')).message(''),
);
add('6.1.3', 'Send fragmented text message, 3 fragments, first and last of length 0', ECHO, (b) =>
  b
    .send(text('', false), cont('middle frame payload', false), cont(''))
    .message('middle frame payload'),
);

const HELLO_UTF8 = 'Hello-µ@ßöäüàá-UTF-8!!';
const KOSME = hex('cebae1bdb9cf83cebcceb5');
/** Frames of `size`-byte fragments of a text payload. */
const textFragments = (payload: Uint8Array, size: number): FrameSpec[] =>
  fragmented(Opcode.Text, payload, size);

add('6.2.1', 'Send valid UTF-8 text message in one fragment', ECHO, (b) =>
  b.send(text(HELLO_UTF8)).message(HELLO_UTF8),
);
add(
  '6.2.2',
  'Send valid UTF-8 text message in 2 fragments, split on a code point boundary',
  ECHO,
  (b) => b.send(text('Hello-µ@ßöä', false), cont('üàá-UTF-8!!')).message(HELLO_UTF8),
);
add('6.2.3', 'Send valid UTF-8 text message in fragments of 1 octet', ECHO, (b) =>
  b.sendFrames(textFragments(toBytes(HELLO_UTF8), 1)).message(HELLO_UTF8),
);
add('6.2.4', 'Send valid UTF-8 text message (κόσμε) in fragments of 1 octet', ECHO, (b) =>
  b.sendFrames(textFragments(KOSME, 1)).message(KOSME),
);

const INVALID_6_3 = concatBytes([KOSME, hex('eda080'), toBytes('edited')]);
add('6.3.1', 'Send invalid UTF-8 text message unfragmented', fail(1007), (b) =>
  b.send(text(INVALID_6_3)),
);
add('6.3.2', 'Send invalid UTF-8 text message in fragments of 1 octet', fail(1007), (b) =>
  b.sendFrames(textFragments(INVALID_6_3, 1)),
);

// 6.4: fail fast. The message becomes invalid at byte 12 (0x90 after 0xF4
// would be above U+10FFFF); the peer must fail the connection as soon as that
// byte arrives: after the valid first part it stays open, and its close must
// come before we send the third part.
const FAST_1 = KOSME;
const FAST_2 = hex('f4908080');
const FAST_3 = toBytes('edited');
const FAST = concatBytes([FAST_1, FAST_2, FAST_3]);
add(
  '6.4.1',
  'Send invalid UTF-8 text message in 3 fragments with pauses; the 2nd makes it invalid',
  fail(1007),
  (b) =>
    b
      .send(text(FAST_1, false))
      .pause()
      .expectOpen()
      .send(cont(FAST_2, false))
      .awaitClose()
      .send(cont(FAST_3)),
);
add(
  '6.4.2',
  'Same as 6.4.1, but the 2nd fragment is only the octet that makes the payload invalid',
  fail(1007),
  (b) =>
    b
      .send(text(FAST.subarray(0, 12), false))
      .pause()
      .expectOpen()
      .send(cont(FAST.subarray(12, 13), false))
      .awaitClose()
      .send(cont(FAST.subarray(13))),
);
add('6.4.3', 'Same as 6.4.1, but one frame sent in 3 chops with pauses', fail(1007), (b) => {
  const [p1, p2, p3] = b.split(text(FAST), FAST_1.length, FAST_1.length + FAST_2.length);
  return b.raw(p1!).pause().expectOpen().raw(p2!).awaitClose().raw(p3!);
});
add('6.4.4', 'Same as 6.4.2, but one frame sent in 3 chops with pauses', fail(1007), (b) => {
  const [p1, p2, p3] = b.split(text(FAST), 12, 13);
  return b.raw(p1!).pause().expectOpen().raw(p2!).awaitClose().raw(p3!);
});

// 6.5-6.23: Markus Kuhn's UTF-8 decoder stress test, one text message per
// sequence, in the order and numbering of Autobahn's case6_x_x.py. Valid
// sequences come back as an echo; invalid ones fail the connection with 1007.
const strictDecoder = new TextDecoder('utf-8', { fatal: true });
function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    strictDecoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
const seq = (text: string): Uint8Array => hex(text.replace(/\s+/g, ''));
const shortHex = (bytes: Uint8Array): string => {
  const all = Buffer.from(bytes).toString('hex');
  return all.length > 40 ? `${all.slice(0, 40)}… (${bytes.length} bytes)` : all;
};
const lonelyStarts = (from: number, to: number): Uint8Array => {
  const out: number[] = [];
  for (let byte = from; byte < to; byte++) out.push(byte, 0x20);
  return Uint8Array.from(out);
};
const missingLast = [
  'c0',
  'e080',
  'f08080',
  'f8808080',
  'fc80808080',
  'df',
  'efbf',
  'f7bfbf',
  'fbbfbfbf',
  'fdbfbfbfbf',
].map(seq);
const nonCharacters: Uint8Array[] = [seq('efbfbe'), seq('efbfbf')];
for (const z1 of ['f0', 'f1', 'f2', 'f3', 'f4']) {
  for (const z2 of ['8f', '9f', 'af', 'bf']) {
    if (z1 === 'f4' && z2 !== '8f') continue; // above U+10FFFF
    for (const z3 of ['be', 'bf']) {
      const code = z1 + z2 + 'bf' + z3;
      if (code !== 'f08fbfbe' && code !== 'f08fbfbf') nonCharacters.push(seq(code)); // overlong
    }
  }
}
const UTF8_SUBSECTIONS: readonly [title: string, sequences: Uint8Array[], valid?: boolean][] = [
  [
    'Some valid UTF-8 sequences',
    [
      toBytes('hello$world'),
      toBytes('hello¢world'),
      toBytes('hello€world'),
      toBytes('hello\u{24b62}world'),
      KOSME,
    ],
  ],
  [
    'All prefixes of a valid UTF-8 string that contains multi-byte code points',
    Array.from({ length: KOSME.length }, (_, i) => KOSME.subarray(0, i + 1)),
  ],
  ['First possible sequence of a certain length', ['00', 'c280', 'e0a080', 'f0908080'].map(seq)],
  [
    'First possible sequence length 5/6 (invalid code points)',
    ['f888808080', 'fc8480808080'].map(seq),
  ],
  ['Last possible sequence of a certain length', ['7f', 'dfbf', 'efbfbf', 'f48fbfbf'].map(seq)],
  [
    'Last possible sequence length 4/5/6 (invalid code points)',
    ['f7bfbfbf', 'fbbfbfbfbf', 'fdbfbfbfbfbf'].map(seq),
  ],
  ['Other boundary conditions', ['ed9fbf', 'ee8080', 'efbfbd', 'f48fbfbf', 'f4908080'].map(seq)],
  [
    'Unexpected continuation bytes',
    [
      ...['80', 'bf', '80bf', '80bf80', '80bf80bf', '80bf80bf80', '80bf80bf80bf'].map(seq),
      Uint8Array.from({ length: 0xbf - 0x80 }, (_, i) => 0x80 + i),
    ],
  ],
  [
    'Lonely start characters',
    [
      lonelyStarts(0xc0, 0xdf),
      lonelyStarts(0xe0, 0xef),
      lonelyStarts(0xf0, 0xf7),
      lonelyStarts(0xf8, 0xfb),
      lonelyStarts(0xfc, 0xfd),
    ],
  ],
  ['Sequences with last continuation byte missing', missingLast],
  ['Concatenation of incomplete sequences', [concatBytes(missingLast)]],
  ['Impossible bytes', ['fe', 'ff', 'fefeffff'].map(seq)],
  [
    'Examples of an overlong ASCII character',
    ['c0af', 'e080af', 'f08080af', 'f8808080af', 'fc80808080af'].map(seq),
  ],
  [
    'Maximum overlong sequences',
    ['c1bf', 'e09fbf', 'f08fbfbf', 'f887bfbfbf', 'fc83bfbfbfbf'].map(seq),
  ],
  [
    'Overlong representation of the NUL character',
    ['c080', 'e08080', 'f0808080', 'f880808080', 'fc8080808080'].map(seq),
  ],
  [
    'Single UTF-16 surrogates',
    ['eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf'].map(seq),
  ],
  [
    'Paired UTF-16 surrogates',
    [
      'eda080edb080',
      'eda080edbfbf',
      'edadbfedb080',
      'edadbfedbfbf',
      'edae80edb080',
      'edae80edbfbf',
      'edafbfedb080',
      'edafbfedbfbf',
    ].map(seq),
  ],
  ['Non-character code points (valid UTF-8)', nonCharacters],
  [
    'Unicode specials (i.e. replacement char)',
    ['efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd', 'efbfbe', 'efbfbf'].map(seq),
  ],
];
/** Autobahn's validity verdicts for the sequences whose validity is not obvious. */
const EXPECTED_VALIDITY: Readonly<Record<string, boolean>> = {
  '6.20': false, // surrogates are not scalar values
  '6.21': false,
  '6.22': true, // noncharacters are valid UTF-8 (RFC 3629)
  '6.23': true,
};
UTF8_SUBSECTIONS.forEach(([title, sequences], i) => {
  const sub = `6.${5 + i}`;
  sequences.forEach((payload, j) => {
    const valid = isValidUtf8(payload);
    const expected = EXPECTED_VALIDITY[sub];
    if (expected !== undefined && expected !== valid) {
      throw new Error(`case table: ${sub}.${j + 1} should be ${expected ? 'valid' : 'invalid'}`);
    }
    add(
      `${sub}.${j + 1}`,
      `${title}: text message 0x${shortHex(payload)} (${valid ? 'valid' : 'invalid'})`,
      valid ? ECHO : fail(1007),
      (b) => {
        b.send(text(payload));
        return valid ? b.message(payload) : b;
      },
    );
  });
});

// ---- 7 Close handling ----

add('7.1.1', 'Send a message followed by a close frame', ECHO, (b) =>
  b.send(text('Hello World!')).message('Hello World!'),
);
add('7.1.2', 'Send two close frames', reply(1000), (b) => b.send(close(1000), close()));
add('7.1.3', 'Send a ping after the close frame', reply(1000), (b) => b.send(close(1000), ping()));
add('7.1.4', 'Send a text message after the close frame', reply(1000), (b) =>
  b.send(close(1000), text('Hello World!')),
);
add('7.1.5', 'Send message fragment 1, then close, then fragment 2', reply(1000), (b) =>
  b.send(text('fragment1', false), close(1000), cont('fragment2')),
);
{
  const big = fill('BAsd7&jh23', 256 * 1024);
  add(
    '7.1.6',
    'Send 256 KiB message, then a small one, then close, then ping, back to back',
    reply(1000),
    (b) =>
      b
        .send(text(big), text('Hello World!'), close(1000), ping())
        .message(big)
        .message('Hello World!')
        .orNothing(),
  );
}
add('7.3.1', 'Send close with payload length 0', reply(null, 1000), (b) =>
  b.send(frame(Opcode.Close)),
);
add('7.3.2', 'Send close with payload length 1', reply(1002), (b) =>
  b.send(frame(Opcode.Close, 'a')),
);
add('7.3.3', 'Send close with payload length 2 (code 1000, no reason)', reply(1000), (b) =>
  b.send(close(1000)),
);
add('7.3.4', 'Send close with code 1000 and reason', reply(1000), (b) =>
  b.send(close(1000, 'Hello World!')),
);
add('7.3.5', 'Send close with code 1000 and a reason of maximum length (123)', reply(1000), (b) =>
  b.send(close(1000, '*'.repeat(123))),
);
add(
  '7.3.6',
  'Send close with code 1000 and a reason of 124 octets (payload 126)',
  reply(1002),
  (b) => b.send(close(1000, '*'.repeat(124))),
);
add('7.5.1', 'Send close with a reason that is not valid UTF-8', reply(1007), (b) =>
  b.send(close(1000, INVALID_6_3)),
);
[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].forEach(
  (code, i) => {
    add(
      `7.7.${i + 1}`,
      `Send close with valid close code ${code}`,
      reply(...new Set([1000, code])),
      (b) => b.send(close(code)),
    );
  },
);
[0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999].forEach((code, i) => {
  add(`7.9.${i + 1}`, `Send close with invalid close code ${code}`, reply(1002), (b) =>
    b.send(close(code)),
  );
});
// Autobahn scores these two as informational; RFC 6455 §7.4.2 leaves codes
// from 5000 up undefined, and our protocol rejects them as it does 1016-2999.
add('7.13.1', 'Send close with close code 5000', reply(1002), (b) => b.send(close(5000)));
add('7.13.2', 'Send close with close code 65535', reply(1002), (b) => b.send(close(65535)));

// ---- 9 Limits/Performance ----

const KiB = 1024;
const MiB = 1024 * KiB;
const sizeName = (n: number): string =>
  n >= MiB ? `${n / MiB} MiB` : n >= KiB ? `${n / KiB} KiB` : `${n} B`;
const TEXT_9 = 'BAsd7&jh23';
const BINARY_9 = hex('00fe23faf0');
/** Large cases: let the peer take its time (the message is checked byte for byte). */
const LARGE_WAIT_MS = 30_000;

for (const [sub, kind, opcode, pattern] of [
  ['9.1', 'text', Opcode.Text, TEXT_9],
  ['9.2', 'binary', Opcode.Binary, BINARY_9],
] as const) {
  [64 * KiB, 256 * KiB, MiB, 4 * MiB, 8 * MiB, 16 * MiB].forEach((size, i) => {
    add(
      `${sub}.${i + 1}`,
      `Send ${kind} message with payload of length ${sizeName(size)}`,
      ECHO,
      (b) => {
        const payload = fill(pattern, size);
        return b.send(frame(opcode, payload)).message(payload, opcode === Opcode.Binary);
      },
      LARGE_WAIT_MS,
    );
  });
}
for (const [sub, kind, opcode, pattern] of [
  ['9.3', 'text', Opcode.Text, '*'],
  ['9.4', 'binary', Opcode.Binary, hex('fe')],
] as const) {
  [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB].forEach((size, i) => {
    add(
      `${sub}.${i + 1}`,
      `Send fragmented ${kind} message of 4 MiB in fragments of ${sizeName(size)}`,
      ECHO,
      (b) => {
        const payload = fill(pattern, 4 * MiB);
        return b
          .sendFrames(fragmented(opcode, payload, size))
          .message(payload, opcode === Opcode.Binary);
      },
      LARGE_WAIT_MS,
    );
  });
}
for (const [sub, kind, opcode, pattern] of [
  ['9.5', 'text', Opcode.Text, TEXT_9],
  ['9.6', 'binary', Opcode.Binary, BINARY_9],
] as const) {
  [64, 128, 256, 512, 1024, 2048].forEach((chop, i) => {
    add(
      `${sub}.${i + 1}`,
      `Send ${kind} message of 1 MiB in chops of ${chop} octets`,
      ECHO,
      (b) => {
        const payload = fill(pattern, MiB);
        return b
          .sendChopped(chop, frame(opcode, payload))
          .message(payload, opcode === Opcode.Binary);
      },
      LARGE_WAIT_MS,
    );
  });
}
/**
 * 9.7 / 9.8: Autobahn sends 1000 messages one at a time, each after the
 * previous echo. All 1000 run here too, uncapped: on loopback a round trip is
 * tens of microseconds, so each case takes well under a second.
 */
export const ROUNDTRIP_COUNT = 1000;
for (const [sub, kind, opcode, pattern] of [
  ['9.7', 'text', Opcode.Text, '*'],
  ['9.8', 'binary', Opcode.Binary, hex('fe')],
] as const) {
  [0, 16, 64, 256, 1024, 4096].forEach((size, i) => {
    add(
      `${sub}.${i + 1}`,
      `Send ${ROUNDTRIP_COUNT} ${kind} messages of ${size} octets, each after the previous echo`,
      ECHO,
      (b) => b.roundtrips(ROUNDTRIP_COUNT, frame(opcode, fill(pattern, size))),
      LARGE_WAIT_MS,
    );
  });
}

// ---- 10 Misc ----

{
  const payload = fill('*', 65536);
  add(
    '10.1.1',
    'Send text message of 65536 octets auto-fragmented in frames of 1300 octets',
    ECHO,
    (b) => b.sendFrames(fragmented(Opcode.Text, payload, 1300)).message(payload),
  );
}

/** Every case, in Autobahn order. */
export const CASES: readonly ConformanceCase[] = cases;

/** The section of a case id ("6.4.3" → "6"). */
export function sectionOf(id: string): string {
  return id.slice(0, id.indexOf('.'));
}
