/**
 * Shared test helpers: hex fixtures, an independent frame builder, feeding
 * strategies (whole, one byte at a time, random splits), and connection
 * fixtures built on EventCollector.
 */
import { describe, expect } from 'vitest';
import {
  ClientConnection,
  type ClientConnectionOptions,
  type Connection,
  type ConnectionEvent,
  EventCollector,
  type MaskSource,
  ProtocolError,
  ServerConnection,
  type ServerConnectionOptions,
  WebSocketError,
} from '@proj/protocol';
import {
  type FrameSpec,
  RFC_ACCEPT,
  RFC_KEY,
  buildFrame,
  decodeFrame,
  prng,
} from '@proj/test-utils';

/** Frames decoded by hand, for asserting what a connection wrote (@proj/test-utils). */
export { decodeFrame, decodeFrames } from '@proj/test-utils';

// ---- bytes ----

/** Parses a hex string; whitespace is ignored ("81 05 48 65" or "81054865"). */
export function hex(str: string): Uint8Array {
  const clean = str.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`bad hex: ${str}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Lower-case hex of `bytes`, for readable assertions. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

/** Asserts byte equality; compares hex strings, which is fast for large arrays. */
export function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  expect(toHex(actual)).toBe(toHex(expected));
}

/** Joins byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const textEncoder = new TextEncoder();

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return textEncoder.encode(text);
}

/** `length` bytes of a repeating 0..255 pattern. */
export function pattern(length: number, start = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (start + i) & 0xff;
  return out;
}

// ---- randomness ----

/** A small seeded PRNG (mulberry32, from @proj/test-utils) of numbers in [0, 1). */
export function rng(seed: number): () => number {
  const next = prng(seed);
  return () => next() / 4294967296;
}

/** `length` pseudo-random bytes from `random`. */
export function randomBytes(random: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

// ---- masks and frames ----

/** The masking key of the RFC 6455 §5.7 examples. */
export const RFC_MASK = hex('37fa213d');

/** One example frame of RFC 6455 §5.7. */
export interface RfcFrame {
  readonly name: string;
  readonly opcode: number;
  readonly fin: boolean;
  readonly payload: Uint8Array;
  readonly mask: Uint8Array | undefined;
  /** The frame, byte for byte. */
  readonly bytes: Uint8Array;
}

/** Every example frame of RFC 6455 §5.7. */
export const RFC_FRAMES: readonly RfcFrame[] = [
  {
    name: 'a single-frame unmasked text message "Hello"',
    opcode: 0x1,
    fin: true,
    payload: utf8('Hello'),
    mask: undefined,
    bytes: hex('81 05 48 65 6c 6c 6f'),
  },
  {
    name: 'a single-frame masked text message "Hello"',
    opcode: 0x1,
    fin: true,
    payload: utf8('Hello'),
    mask: hex('37fa213d'),
    bytes: hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'),
  },
  {
    name: 'the first fragment "Hel" of an unmasked text message',
    opcode: 0x1,
    fin: false,
    payload: utf8('Hel'),
    mask: undefined,
    bytes: hex('01 03 48 65 6c'),
  },
  {
    name: 'the last fragment "lo" of an unmasked text message',
    opcode: 0x0,
    fin: true,
    payload: utf8('lo'),
    mask: undefined,
    bytes: hex('80 02 6c 6f'),
  },
  {
    name: 'an unmasked ping "Hello"',
    opcode: 0x9,
    fin: true,
    payload: utf8('Hello'),
    mask: undefined,
    bytes: hex('89 05 48 65 6c 6c 6f'),
  },
  {
    name: 'a masked pong "Hello"',
    opcode: 0xa,
    fin: true,
    payload: utf8('Hello'),
    mask: hex('37fa213d'),
    bytes: hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'),
  },
  {
    name: '256 bytes of binary in one unmasked frame (16-bit length)',
    opcode: 0x2,
    fin: true,
    payload: pattern(256),
    mask: undefined,
    bytes: concat(hex('82 7e 01 00'), pattern(256)),
  },
  {
    name: '64 KiB of binary in one unmasked frame (64-bit length)',
    opcode: 0x2,
    fin: true,
    payload: pattern(65536),
    mask: undefined,
    bytes: concat(hex('82 7f 00 00 00 00 00 01 00 00'), pattern(65536)),
  },
];

/** A mask source that always returns `mask`: byte-exact client output. */
export function fixedMask(mask: Uint8Array = RFC_MASK): MaskSource {
  return () => mask;
}

/**
 * Builds a frame by hand, independently of `encodeFrame` (@proj/test-utils,
 * written from RFC 6455 §5.2), so connection tests do not trust the code
 * under test to produce their input.
 */
export const frame = buildFrame;

/** A client-to-server (masked) frame. */
export function clientFrame(
  opcode: number,
  payload: Uint8Array | string,
  spec: FrameSpec = {},
): Uint8Array {
  return frame(opcode, payload, { mask: RFC_MASK, ...spec });
}

/** Close frame body: 2-byte code and UTF-8 reason. */
export function closeBody(code: number, reason = ''): Uint8Array {
  return concat(new Uint8Array([code >> 8, code & 0xff]), utf8(reason));
}

/** The code and reason of a single close frame in `bytes`. */
export function closeFrameOf(bytes: Uint8Array): { code: number | undefined; reason: string } {
  const decoded = decodeFrame(bytes);
  expect(decoded.opcode).toBe(0x8);
  expect(decoded.rest.length).toBe(0);
  const body = decoded.payload;
  if (body.length === 0) return { code: undefined, reason: '' };
  return { code: (body[0]! << 8) | body[1]!, reason: new TextDecoder().decode(body.subarray(2)) };
}

// ---- feeding ----

/** Anything bytes can be fed to: a connection or a frame parser. */
export type Feedable = { receiveData(chunk: Uint8Array): void } | { push(chunk: Uint8Array): void };

function pushTo(target: Feedable, chunk: Uint8Array): void {
  if ('receiveData' in target) target.receiveData(chunk);
  else target.push(chunk);
}

/**
 * Feeds `bytes` in chunks of the given sizes; the last size repeats, and any
 * remainder goes in one final chunk. Every chunk is a fresh copy because the
 * receiver takes ownership (it unmasks in place).
 */
export function feedInChunks(target: Feedable, bytes: Uint8Array, sizes: readonly number[]): void {
  let offset = 0;
  let index = 0;
  while (offset < bytes.length) {
    const size = Math.max(1, sizes[Math.min(index++, sizes.length - 1)] ?? bytes.length);
    pushTo(target, bytes.slice(offset, offset + size));
    offset += size;
  }
}

/** Feeds `bytes` as one copy. */
export function feedWhole(target: Feedable, bytes: Uint8Array): void {
  pushTo(target, bytes.slice());
}

/** Feeds `bytes` one byte per call. */
export function feedOneByteAtATime(target: Feedable, bytes: Uint8Array): void {
  feedInChunks(target, bytes, [1]);
}

/** Feeds `bytes` in chunks of random sizes (1..maxChunk) from a seeded PRNG. */
export function feedRandomly(
  target: Feedable,
  bytes: Uint8Array,
  seed: number,
  maxChunk = 16,
): void {
  const random = rng(seed);
  let offset = 0;
  while (offset < bytes.length) {
    const size = 1 + Math.floor(random() * maxChunk);
    pushTo(target, bytes.slice(offset, offset + size));
    offset += size;
  }
}

/** One way of splitting input into chunks. */
export interface Feeding {
  readonly name: string;
  feed(target: Feedable, bytes: Uint8Array): void;
}

/** Whole, one byte at a time, and three seeded random splits. */
export const FEEDINGS: readonly Feeding[] = [
  { name: 'fed whole', feed: feedWhole },
  { name: 'fed one byte at a time', feed: feedOneByteAtATime },
  { name: 'fed in random chunks (seed 1)', feed: (t, b) => feedRandomly(t, b, 1, 7) },
  { name: 'fed in random chunks (seed 2)', feed: (t, b) => feedRandomly(t, b, 2, 33) },
  { name: 'fed in random chunks (seed 3)', feed: (t, b) => feedRandomly(t, b, 3, 300) },
];

/**
 * Runs the tests that `body` declares once per feeding strategy: every test
 * of a message also runs with the input fed one byte at a time.
 */
export function eachFeeding(body: (feeding: Feeding) => void): void {
  for (const feeding of FEEDINGS) describe(feeding.name, () => body(feeding));
}

// ---- connections ----

/** The RFC 6455 §1.3 key and its accept value. */
export const KEY = RFC_KEY;
export const ACCEPT = RFC_ACCEPT;

/** The 101 answer to {@link KEY}, with optional extra header lines. */
export function response101(...extraLines: string[]): string {
  return (
    'HTTP/1.1 101 Switching Protocols\r\n' +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${ACCEPT}\r\n` +
    extraLines.map((line) => `${line}\r\n`).join('') +
    '\r\n'
  );
}

export interface Fixture<C> {
  conn: C;
  handler: EventCollector;
}

/** An open server connection recording into an EventCollector. */
export function server(
  options: Partial<ServerConnectionOptions> & { handler?: EventCollector } = {},
): Fixture<ServerConnection> {
  const handler = options.handler ?? new EventCollector();
  return { conn: new ServerConnection({ ...options, handler }), handler };
}

/** A client connection that has sent its request but not yet seen an answer. */
export function connectingClient(
  options: Partial<ClientConnectionOptions> & { handler?: EventCollector } = {},
): Fixture<ClientConnection> {
  const handler = options.handler ?? new EventCollector();
  const conn = new ClientConnection({
    host: 'example.com',
    key: KEY,
    maskSource: fixedMask(),
    ...options,
    handler,
  });
  conn.connect();
  handler.dataToSend();
  return { conn, handler };
}

/** An open client connection with the fixed RFC mask, events and output drained. */
export function client(
  options: Partial<ClientConnectionOptions> & { handler?: EventCollector } = {},
): Fixture<ClientConnection> {
  const fixture = connectingClient(options);
  fixture.conn.receiveData(utf8(response101()));
  const events = fixture.handler.eventsReceived();
  expect(events.map((e) => e.type)).toEqual(['open']);
  return fixture;
}

/** Delivers the peer's EOF and asserts the one event that reports: the close. */
export function expectCloseOnEof(
  conn: Connection,
  handler: EventCollector,
  close: { code: number; reason: string; wasClean: boolean },
): void {
  conn.receiveEof();
  expect(handler.eventsReceived()).toEqual([{ type: 'close', ...close }]);
}

/**
 * Asserts a client's side of a finished closing handshake (RFC 6455 §7.1.1):
 * it leaves closing the transport to the server and waits for it; the
 * server's EOF then reports the close and ends the client's side too.
 */
export function expectClientAwaitsServerEof(
  conn: ClientConnection,
  handler: EventCollector,
  close: { code: number; reason: string; wasClean: boolean },
): void {
  expect(handler.ended).toBe(false);
  expect(conn.closeExpected).toBe(true);
  expectCloseOnEof(conn, handler, close);
  expect(handler.ended).toBe(true);
}

/** Asserts `error` has the class, string code and close code (and HTTP status). */
export function expectWsError(
  error: unknown,
  Class: abstract new (...args: never[]) => WebSocketError,
  code: string,
  closeCode: number,
  status?: number,
): void {
  expect(error).toBeInstanceOf(Class);
  expect(error).toBeInstanceOf(WebSocketError);
  const wsError = error as WebSocketError & { status?: number };
  expect(wsError.code).toBe(code);
  expect(wsError.closeCode).toBe(closeCode);
  if (status !== undefined) expect(wsError.status).toBe(status);
}

/** {@link expectWsError} for a `ProtocolError`, whose close code is always 1002. */
export function expectProtocolError(error: unknown, code: string): void {
  expectWsError(error, ProtocolError, code, 1002);
}

/**
 * Takes the events `handler` has not handed out yet and asserts that they
 * hold one error, with the class, codes and status {@link expectWsError} checks.
 */
export function expectErrorEvent(
  handler: EventCollector,
  Class: abstract new (...args: never[]) => WebSocketError,
  code: string,
  closeCode: number,
  status?: number,
): WebSocketError {
  const error = errorOf(handler.eventsReceived());
  expectWsError(error, Class, code, closeCode, status);
  return error;
}

/** Runs `fn` and returns what it throws; fails the test if it does not throw. */
export { thrown } from '@proj/test-utils';

/** The event types in order. */
export function types(events: readonly ConnectionEvent[]): string[] {
  return events.map((event) => event.type);
}

/** The single error event in `events`. */
export function errorOf(events: readonly ConnectionEvent[]): WebSocketError {
  const errors = events.filter((e) => e.type === 'error');
  expect(errors).toHaveLength(1);
  return (errors[0] as Extract<ConnectionEvent, { type: 'error' }>).error;
}
