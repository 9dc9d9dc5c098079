/**
 * Reads straight into the message being received (`payloadTarget` and
 * `receiveInPlace`, issue 21): the I/O layer asks where the next payload
 * bytes go, reads them there, and the connection unmasks and checks them in
 * place. Every message must come out byte for byte as it would through
 * `receiveData`, whatever the reads' sizes and however they cut the frames.
 */
import { describe, expect, test } from 'vitest';
import {
  type Connection,
  EventCollector,
  FrameParser,
  type MessageSink,
  MessageAssembler,
  Opcode,
  ProtocolError,
} from '@proj/protocol';
import {
  RFC_MASK,
  client,
  clientFrame,
  concat,
  errorOf,
  frame,
  pattern,
  randomBytes,
  rng,
  server,
  toHex,
  utf8,
} from './helpers.js';

/** How the simulated I/O layer reads. */
interface Reads {
  /** The shared read buffer's size. */
  readonly readSize: number;
  /** Passed to `payloadTarget`. */
  readonly min: number;
  readonly max: number;
  /** Cuts a read short (a socket returns what has arrived): bytes of it to take, at most `wanted`. */
  readonly cut?: (wanted: number) => number;
}

/**
 * Feeds `bytes` as a transport with in-place reads does: into the
 * connection's payload target whenever it offers one, else into one reused
 * buffer lent for the call (scribbled over after each read, so anything kept
 * of it shows). Returns how many reads went in place.
 */
function feed(conn: Connection, bytes: Uint8Array, reads: Reads): number {
  const shared = new Uint8Array(reads.readSize);
  const cut = reads.cut ?? ((wanted: number) => wanted);
  let offset = 0;
  let inPlace = 0;
  while (offset < bytes.length) {
    const target = conn.payloadTarget(reads.min, reads.max);
    if (target !== null) {
      expect(target.length).toBeLessThanOrEqual(reads.max);
      expect(target.length).toBeGreaterThanOrEqual(reads.min);
      const n = Math.max(1, cut(Math.min(target.length, bytes.length - offset)));
      target.set(bytes.subarray(offset, offset + n));
      conn.receiveInPlace(target, n);
      inPlace++;
      offset += n;
    } else {
      const n = Math.max(1, cut(Math.min(shared.length, bytes.length - offset)));
      shared.set(bytes.subarray(offset, offset + n));
      conn.receiveData(shared.subarray(0, n), true);
      shared.fill(0xee);
      offset += n;
    }
  }
  return inPlace;
}

/** The messages in `events`, as `binary:<hex>` or `text:<string>`. */
function messages(handler: EventCollector): string[] {
  const decoder = new TextDecoder();
  return handler
    .eventsReceived()
    .flatMap((e) =>
      e.type === 'message'
        ? [e.binary ? `binary:${toHex(e.data)}` : `text:${decoder.decode(e.data)}`]
        : [],
    );
}

const READS: Reads = { readSize: 64 * 1024, min: 64 * 1024, max: 256 * 1024 };

describe('a server reading large client messages in place', () => {
  test('every byte of each message, with small messages between and short reads anywhere', () => {
    const random = rng(21);
    const sizes = [70_000, 5, 200_000, 65_536, 1_000_000, 126, 300_001];
    const payloads = sizes.map((size) => randomBytes(random, size));
    const { conn, handler } = server();
    const inPlace = feed(
      conn,
      concat(...payloads.map((payload) => clientFrame(Opcode.Binary, payload))),
      { ...READS, cut: (wanted) => Math.ceil(wanted * (0.25 + 0.75 * random())) },
    );
    expect(inPlace).toBeGreaterThan(0);
    expect(messages(handler)).toEqual(payloads.map((payload) => `binary:${toHex(payload)}`));
  });

  test('text split in the middle of code points is decoded exactly', () => {
    const text = 'é€😀a'.repeat(40_000);
    const { conn, handler } = server();
    // Reads of 1,000 and 7 bytes: most cuts fall inside a code point.
    let turn = 0;
    const inPlace = feed(conn, clientFrame(Opcode.Text, text), {
      readSize: 64 * 1024,
      min: 10,
      max: 1_000,
      cut: (wanted) => Math.min(wanted, turn++ % 2 === 0 ? 1_000 : 7),
    });
    expect(inPlace).toBeGreaterThan(100);
    expect(messages(handler)).toEqual([`text:${text}`]);
  });

  test('invalid UTF-8 read in place fails the connection with 1007', () => {
    const bytes = utf8('a'.repeat(200_000));
    bytes[150_000] = 0xff;
    const { conn, handler } = server();
    feed(conn, clientFrame(Opcode.Text, bytes), READS);
    const error = errorOf(handler.eventsReceived());
    expect(error.closeCode).toBe(1007);
  });

  test('a fragmented message with a ping between its fragments', () => {
    const parts = [pattern(100_000, 1), pattern(90_000, 2), pattern(80_000, 3)];
    const { conn, handler } = server();
    const inPlace = feed(
      conn,
      concat(
        clientFrame(Opcode.Binary, parts[0]!, { fin: false }),
        clientFrame(Opcode.Continuation, parts[1]!, { fin: false }),
        clientFrame(Opcode.Ping, 'are you there'),
        clientFrame(Opcode.Continuation, parts[2]!),
      ),
      { ...READS, min: 1_000 },
    );
    expect(inPlace).toBeGreaterThanOrEqual(3);
    const events = handler.eventsReceived();
    const message = events.find((e) => e.type === 'message');
    expect(message && toHex(message.data)).toBe(toHex(concat(...parts)));
    expect(events.some((e) => e.type === 'ping')).toBe(true);
  });

  test('no target between frames, in a control frame, or with less than `min` of the frame left', () => {
    const { conn } = server();
    expect(conn.payloadTarget(1, 100)).toBeNull();
    // A ping's header and two bytes of its payload: a control frame.
    const ping = clientFrame(Opcode.Ping, 'ping payload');
    conn.receiveData(ping.subarray(0, 8));
    expect(conn.payloadTarget(1, 100)).toBeNull();
    conn.receiveData(ping.subarray(8));
    // A data frame with 1,000 payload bytes still to come.
    const data = clientFrame(Opcode.Binary, pattern(1_010));
    conn.receiveData(data.subarray(0, 8 + 10));
    expect(conn.payloadTarget(1_001, 2_000)).toBeNull();
    expect(conn.payloadTarget(1_000, 2_000)?.length).toBe(1_000);
    expect(conn.payloadTarget(10, 300)?.length).toBe(300);
  });
});

describe('a client reading a large server message in place', () => {
  test('unmasked, read in place, every byte', () => {
    const payload = randomBytes(rng(7), 700_000);
    const { conn, handler } = client();
    const inPlace = feed(conn, frame(Opcode.Binary, payload), READS);
    expect(inPlace).toBeGreaterThan(0);
    expect(messages(handler)).toEqual([`binary:${toHex(payload)}`]);
  });
});

describe('targets that no longer hold', () => {
  test('after the connection failed, bytes read into its target are discarded', () => {
    const { conn, handler } = server();
    conn.receiveData(clientFrame(Opcode.Binary, pattern(200_000)).subarray(0, 20));
    const target = conn.payloadTarget(1_000, 10_000)!;
    conn.failWith(new ProtocolError('WS_ERR_INVALID_OPCODE', 'test failure'));
    handler.eventsReceived();
    target.fill(1);
    conn.receiveInPlace(target, 100);
    expect(handler.eventsReceived().filter((e) => e.type === 'message')).toEqual([]);
    expect(conn.payloadTarget(1, 10)).toBeNull();
  });

  test('input that came another way voids a target: using it anyway is an internal error (1011)', () => {
    const { conn, handler } = server();
    const bytes = clientFrame(Opcode.Binary, pattern(200_000));
    conn.receiveData(bytes.subarray(0, 20));
    const target = conn.payloadTarget(1_000, 10_000)!;
    conn.receiveData(bytes.subarray(20, 100));
    target.set(bytes.subarray(100, 200));
    conn.receiveInPlace(target, 100);
    expect(errorOf(handler.eventsReceived()).closeCode).toBe(1011);
  });
});

describe('no copy', () => {
  test('the message handed out is the memory the reads went into', () => {
    const delivered: Uint8Array[] = [];
    const sink: MessageSink = {
      onMessage: (data) => void delivered.push(data),
      onControlFrame: () => {},
    };
    const parser = new FrameParser(new MessageAssembler(sink), { expectMasked: true });
    const payload = pattern(300_000, 9);
    const bytes = clientFrame(Opcode.Binary, payload, { mask: RFC_MASK });
    parser.push(bytes.slice(0, 14));
    const targets: Uint8Array[] = [];
    let offset = 14;
    while (offset < bytes.length) {
      const target = parser.payloadTarget(1, 64 * 1024)!;
      targets.push(target);
      target.set(bytes.subarray(offset, offset + target.length));
      parser.pushInPlace(target, target.length);
      offset += target.length;
    }
    expect(targets).toHaveLength(5);
    expect(delivered).toHaveLength(1);
    expect(toHex(delivered[0]!)).toBe(toHex(payload));
    for (const target of targets) expect(target.buffer).toBe(delivered[0]!.buffer);
  });
});
