/**
 * The sans-I/O connection state machine, grouped by RFC 6455 section in the
 * manner of python-websockets' test_protocol.py. Server-side tests feed masked
 * frames built by hand (helpers.frame); client-side tests inject the RFC mask
 * so output can be compared byte for byte.
 */
import { describe, expect, test } from 'vitest';
import {
  Connection,
  type ConnectionEvent,
  type ConnectionHandler,
  type ConnectionOptions,
  ConnectionState,
  EventCollector,
  InternalError,
  InvalidStateError,
  InvalidUtf8Error,
  PayloadTooBigError,
  PolicyError,
  ProtocolError,
  ServerConnection,
  type WebSocketError,
  decodeUtf8,
  encodeFrame,
} from '@proj/protocol';
import { OP } from '@proj/test-utils';
import {
  RFC_MASK,
  type Fixture,
  client,
  clientFrame,
  closeBody,
  closeFrameOf,
  concat,
  decodeFrames,
  eachFeeding,
  errorOf,
  expectBytes,
  expectClientAwaitsServerEof,
  expectCloseOnEof,
  expectErrorEvent,
  expectWsError,
  feedOneByteAtATime,
  frame,
  hex,
  pattern,
  server,
  thrown,
  types,
  utf8,
} from './helpers.js';

const { Continuation: CONT, Text: TEXT, Binary: BINARY, Close: CLOSE, Ping: PING, Pong: PONG } = OP;

type ErrorClass = abstract new (...args: never[]) => WebSocketError;

/**
 * Asserts the whole failure path of RFC 6455 §7.1.7 in `events` (by default
 * the ones not yet taken): one error with the class, code and close code; a
 * close frame with that code written (masked on a client); end() requested;
 * later input discarded; and onClose(1006, wasClean=false) after receiveEof.
 */
function expectFailed(
  { conn, handler }: Fixture<Connection>,
  Class: ErrorClass,
  code: string,
  closeCode: number,
  events: ConnectionEvent[] = handler.eventsReceived(),
): WebSocketError {
  const error = errorOf(events);
  expectWsError(error, Class, code, closeCode);
  expect(types(events).at(-1)).toBe('error');
  const written = handler.dataToSend();
  const frames = decodeFrames(written);
  const close = frames.at(-1)!;
  expect(close.opcode).toBe(CLOSE);
  expect(close.masked).toBe(!(conn instanceof ServerConnection));
  expect((close.payload[0]! << 8) | close.payload[1]!).toBe(closeCode);
  expect(decodeUtf8(close.payload.subarray(2))).toBe(
    error instanceof InternalError ? 'Internal error' : error.message,
  );
  expect(handler.ended).toBe(true);
  expect(conn.state).toBe(ConnectionState.Closing);
  expect(conn.closeExpected).toBe(true);
  expect(conn.closeHandshakeComplete).toBe(false);
  // §7.1.7: all further input is discarded.
  conn.receiveData(
    conn instanceof ServerConnection ? clientFrame(TEXT, 'more') : frame(TEXT, 'more'),
  );
  conn.receiveData(conn instanceof ServerConnection ? clientFrame(PING, 'p') : frame(PING, 'p'));
  expect(handler.eventsReceived()).toEqual([]);
  expect(handler.dataToSend()).toHaveLength(0);
  expectCloseOnEof(conn, handler, { code: 1006, reason: '', wasClean: false });
  expect(conn.state).toBe(ConnectionState.Closed);
  return error;
}

/** Feeds `bytes` to a fresh server and asserts it fails as described. */
function expectServerFails(
  bytes: Uint8Array,
  Class: ErrorClass,
  code: string,
  closeCode: number,
  options: Parameters<typeof server>[0] = {},
): WebSocketError {
  const fixture = server(options);
  fixture.conn.receiveData(bytes);
  return expectFailed(fixture, Class, code, closeCode);
}

/** A handler that counts end() calls and can be made to throw. */
function countingHandler(overrides: Partial<ConnectionHandler> = {}): EventCollector & {
  endCalls: number;
} {
  const handler = new EventCollector() as EventCollector & { endCalls: number };
  handler.endCalls = 0;
  const end = handler.end.bind(handler);
  handler.end = () => {
    handler.endCalls++;
    end();
  };
  Object.assign(handler, overrides);
  return handler;
}

function message(events: ConnectionEvent[]): string[] {
  return events.flatMap((e) =>
    e.type === 'message' ? [`${e.binary ? 'binary' : 'text'}:${decodeUtf8(e.data)}`] : [],
  );
}

describe('5.1 masking', () => {
  test('a client masks every frame with its mask source (RFC 6455 §5.7 masked "Hello")', () => {
    const { conn, handler } = client();
    conn.sendText('Hello');
    expect(handler.dataToSend()).toEqual(hex('818537fa213d7f9f4d5158'));
    conn.sendPong('Hello');
    expect(handler.dataToSend()).toEqual(hex('8a8537fa213d7f9f4d5158'));
  });

  test('a client draws a fresh key for each frame', () => {
    let n = 0;
    const { conn, handler } = client({ maskSource: () => new Uint8Array([n++, 1, 2, 3]) });
    conn.sendText('a');
    conn.sendBinary(new Uint8Array([1]));
    conn.sendPing('');
    conn.close(1000);
    const bytes = handler.dataToSend();
    expect(bytes).toEqual(
      hex('8181 00010203 61' + '8281 01010203 00' + '8980 02010203' + '8882 03010203 00e9'),
    );
  });

  test('a client without a mask source uses random keys, and the server unmasks them', () => {
    const { conn, handler } = client({ maskSource: undefined });
    const peer = server();
    for (let i = 0; i < 5; i++) conn.sendText(`message ${i}`);
    const bytes = handler.dataToSend();
    const masks = decodeFrames(bytes).map((f) => f.masked);
    expect(masks).toEqual([true, true, true, true, true]);
    // Keys are at bytes 2..5 of each 15-byte frame; five random keys are distinct.
    const keys = new Set([0, 1, 2, 3, 4].map((i) => bytes.slice(i * 15 + 2, i * 15 + 6).join()));
    expect(keys.size).toBe(5);
    peer.conn.receiveData(bytes);
    expect(message(peer.handler.eventsReceived())).toEqual(
      [0, 1, 2, 3, 4].map((i) => `text:message ${i}`),
    );
  });

  test('a server never masks (RFC 6455 §5.7 unmasked "Hello" and ping)', () => {
    const { conn, handler } = server();
    conn.sendText('Hello');
    conn.sendPing('Hello');
    expect(handler.dataToSend()).toEqual(hex('810548656c6c6f 890548656c6c6f'));
  });

  test('a server fails on an unmasked frame: 1002 WS_ERR_EXPECTED_MASK', () => {
    expectServerFails(hex('810548656c6c6f'), ProtocolError, 'WS_ERR_EXPECTED_MASK', 1002);
  });

  test('a client fails on a masked frame: 1002 WS_ERR_UNEXPECTED_MASK, masked close frame', () => {
    const fixture = client();
    fixture.conn.receiveData(hex('818537fa213d7f9f4d5158'));
    expectFailed(fixture, ProtocolError, 'WS_ERR_UNEXPECTED_MASK', 1002);
  });
});

describe('5.2 base framing', () => {
  test.each([
    ['RSV1', { rsv1: true }],
    ['RSV2', { rsv2: true }],
    ['RSV3', { rsv3: true }],
  ])('%s set with no extension: 1002 WS_ERR_UNEXPECTED_RSV', (_name, spec) => {
    expectServerFails(clientFrame(TEXT, 'a', spec), ProtocolError, 'WS_ERR_UNEXPECTED_RSV', 1002);
  });

  test.each([0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf].map((op) => [op.toString(16), op]))(
    'reserved opcode 0x%s: 1002 WS_ERR_INVALID_OPCODE',
    (_name, opcode) => {
      expectServerFails(clientFrame(opcode, 'a'), ProtocolError, 'WS_ERR_INVALID_OPCODE', 1002);
    },
  );

  test('a 64-bit length with the top bit set: 1002 WS_ERR_INVALID_PAYLOAD_LENGTH', () => {
    expectServerFails(
      hex('82ff 8000000000000000 37fa213d'),
      ProtocolError,
      'WS_ERR_INVALID_PAYLOAD_LENGTH',
      1002,
    );
  });

  test('a 64-bit length beyond 2^53: 1009 WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', () => {
    expectServerFails(
      hex('82ff 0020000000000000 37fa213d'),
      PayloadTooBigError,
      'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
      1009,
    );
  });

  test('a frame valid so far is delivered before the bad one fails the connection', () => {
    const fixture = server();
    fixture.conn.receiveData(concat(clientFrame(TEXT, 'ok'), clientFrame(0x3, '')));
    const events = fixture.handler.eventsReceived();
    expect(message(events)).toEqual(['text:ok']);
    expectFailed(fixture, ProtocolError, 'WS_ERR_INVALID_OPCODE', 1002, events);
  });
});

describe('5.4 fragmentation', () => {
  describe('receiving', () => {
    eachFeeding((feeding) => {
      test('reassembles the RFC 6455 §5.7 "Hel" + "lo" on a client', () => {
        const { conn, handler } = client();
        feeding.feed(conn, hex('010348656c 80026c6f'));
        expect(handler.eventsReceived()).toEqual([
          { type: 'message', data: utf8('Hello'), binary: false },
        ]);
      });

      test('reassembles a masked fragmented message with pings in between, answering them at once', () => {
        const { conn, handler } = server();
        feeding.feed(
          conn,
          concat(
            clientFrame(BINARY, pattern(100), { fin: false }),
            clientFrame(PING, 'one'),
            clientFrame(CONT, pattern(200, 100), { fin: false }),
            clientFrame(PING, 'two'),
            clientFrame(CONT, pattern(3, 300)),
          ),
        );
        const events = handler.eventsReceived();
        expect(types(events)).toEqual(['ping', 'ping', 'message']);
        expectBytes((events[2] as { data: Uint8Array }).data, pattern(303));
        expect(handler.dataToSend()).toEqual(hex('8a036f6e65 8a0374776f'));
      });

      test('delivers several messages from one stream, in order', () => {
        const { conn, handler } = server();
        feeding.feed(
          conn,
          concat(
            clientFrame(TEXT, 'κόσ', { fin: false }),
            clientFrame(CONT, 'με'),
            clientFrame(BINARY, 'bin'),
            clientFrame(TEXT, ''),
          ),
        );
        expect(message(handler.eventsReceived())).toEqual(['text:κόσμε', 'binary:bin', 'text:']);
      });
    });

    test('a continuation with no message: 1002 WS_ERR_UNEXPECTED_CONTINUATION', () => {
      expectServerFails(
        clientFrame(CONT, 'lo'),
        ProtocolError,
        'WS_ERR_UNEXPECTED_CONTINUATION',
        1002,
      );
    });

    test('a new data frame inside a fragmented message: 1002 WS_ERR_EXPECTED_CONTINUATION', () => {
      expectServerFails(
        concat(clientFrame(TEXT, 'a', { fin: false }), clientFrame(BINARY, 'b')),
        ProtocolError,
        'WS_ERR_EXPECTED_CONTINUATION',
        1002,
      );
    });

    test('more than maxFragments fragments: 1008 WS_ERR_TOO_MANY_FRAGMENTS', () => {
      expectServerFails(
        concat(
          clientFrame(TEXT, 'a', { fin: false }),
          clientFrame(CONT, 'b', { fin: false }),
          clientFrame(CONT, 'c', { fin: false }),
        ),
        PolicyError,
        'WS_ERR_TOO_MANY_FRAGMENTS',
        1008,
        { maxFragments: 2 },
      );
    });

    test('a message over maxPayload fails from the header alone: 1009', () => {
      // Only the header of a 101-byte frame: no payload byte has arrived.
      expectServerFails(
        hex('82fe0065 37fa213d'),
        PayloadTooBigError,
        'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
        1009,
        {
          maxPayload: 100,
        },
      );
    });

    test('maxPayload is summed over fragments: 1009 at the header that crosses it', () => {
      expectServerFails(
        concat(clientFrame(BINARY, pattern(60), { fin: false }), hex('80a9 37fa213d')),
        PayloadTooBigError,
        'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
        1009,
        { maxPayload: 100 },
      );
    });

    test('the defaults let a 4 MiB message in 64-byte masked fragments (65,536) through', () => {
      const { conn, handler } = server();
      const data = pattern(4 * 1024 * 1024);
      const stream = new Uint8Array(65_536 * 70);
      for (let i = 0; i < 65_536; i++) {
        const at = i * 70;
        stream[at] = (i === 0 ? BINARY : CONT) | (i === 65_535 ? 0x80 : 0);
        stream[at + 1] = 0x80 | 64;
        stream.set(RFC_MASK, at + 2);
        for (let j = 0; j < 64; j++) stream[at + 6 + j] = data[i * 64 + j]! ^ RFC_MASK[j & 3]!;
      }
      for (let offset = 0; offset < stream.length; offset += 65_536) {
        conn.receiveData(stream.slice(offset, offset + 65_536));
      }
      const events = handler.eventsReceived();
      expect(types(events)).toEqual(['message']);
      expectBytes((events[0] as { data: Uint8Array }).data, data);
    });
  });

  describe('sending', () => {
    test('sendText with { fin: false } starts a message, continuation frames follow', () => {
      const { conn, handler } = server();
      conn.sendText('Hel', { fin: false });
      conn.sendText('l', { fin: false });
      conn.sendText('o');
      expect(handler.dataToSend()).toEqual(hex('010348656c 00016c 80016f'));
    });

    test('the RFC 6455 §5.7 fragmented "Hello" round-trips through a client', () => {
      const { conn, handler } = server();
      conn.sendText('Hel', { fin: false });
      conn.sendText('lo');
      const bytes = handler.dataToSend();
      expect(bytes).toEqual(hex('010348656c 80026c6f'));
      const peer = client();
      peer.conn.receiveData(bytes);
      expect(message(peer.handler.eventsReceived())).toEqual(['text:Hello']);
    });

    test('binary fragments, with control frames allowed in between', () => {
      const { conn, handler } = server();
      conn.sendBinary(hex('01'), { fin: false });
      conn.sendPing('p');
      conn.sendBinary(hex('02'));
      conn.sendBinary(hex('03'));
      expect(handler.dataToSend()).toEqual(hex('020101 890170 800102 820103'));
    });

    test('mixing text and binary fragments in one message throws InvalidStateError', () => {
      const { conn, handler } = server();
      conn.sendText('a', { fin: false });
      const error = thrown(() => conn.sendBinary(hex('00')));
      expect(error).toBeInstanceOf(InvalidStateError);
      expect((error as InvalidStateError).code).toBe('WS_ERR_INVALID_STATE');
      // The text message can still be finished, then binary is fine.
      conn.sendText('b');
      conn.sendBinary(hex('00'));
      expect(handler.dataToSend()).toEqual(hex('010161 800162 820100'));
    });
  });
});

describe('5.5 control frames', () => {
  eachFeeding((feeding) => {
    test('a ping is answered with a pong carrying the same payload (RFC 6455 §5.7 ping)', () => {
      const { conn, handler } = client();
      feeding.feed(conn, hex('890548656c6c6f'));
      expect(handler.eventsReceived()).toEqual([{ type: 'ping', data: utf8('Hello') }]);
      expect(handler.dataToSend()).toEqual(hex('8a8537fa213d7f9f4d5158'));
    });

    test('empty and 125-byte pings are answered', () => {
      const { conn, handler } = server();
      feeding.feed(conn, concat(clientFrame(PING, ''), clientFrame(PING, pattern(125))));
      expect(types(handler.eventsReceived())).toEqual(['ping', 'ping']);
      expect(handler.dataToSend()).toEqual(concat(hex('8a00 8a7d'), pattern(125)));
    });

    test('a pong is reported and not answered', () => {
      const { conn, handler } = server();
      feeding.feed(conn, hex('8a8537fa213d7f9f4d5158'));
      expect(handler.eventsReceived()).toEqual([{ type: 'pong', data: utf8('Hello') }]);
      expect(handler.dataToSend()).toHaveLength(0);
    });
  });

  test('a control frame over 125 bytes: 1002 WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', () => {
    expectServerFails(
      clientFrame(PING, pattern(126)),
      ProtocolError,
      'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
      1002,
    );
  });

  test.each([
    ['ping', PING],
    ['pong', PONG],
    ['close', CLOSE],
  ])('a fragmented %s: 1002 WS_ERR_EXPECTED_FIN', (_name, opcode) => {
    expectServerFails(
      clientFrame(opcode, '', { fin: false }),
      ProtocolError,
      'WS_ERR_EXPECTED_FIN',
      1002,
    );
  });

  test('sendPing and sendPong accept strings, bytes and buffers, empty by default', () => {
    const { conn, handler } = server();
    conn.sendPing();
    conn.sendPong();
    conn.sendPing('é');
    conn.sendPong(new Uint8Array([1, 2]).buffer);
    conn.sendPing(new Uint16Array([0x0201]));
    conn.sendPing(pattern(125));
    expect(handler.dataToSend()).toEqual(
      concat(hex('8900 8a00 8902c3a9 8a020102 89020102 897d'), pattern(125)),
    );
  });

  test('a control payload over 125 bytes is a RangeError, and nothing is sent', () => {
    const { conn, handler } = server();
    expect(() => conn.sendPing(pattern(126))).toThrow(RangeError);
    expect(() => conn.sendPong('é'.repeat(63))).toThrow(RangeError);
    expect(handler.dataToSend()).toHaveLength(0);
    expect(conn.state).toBe(ConnectionState.Open);
  });

  test('no pong is sent once our close frame is out, but the ping is still reported', () => {
    const { conn, handler } = server();
    conn.close();
    handler.dataToSend();
    conn.receiveData(clientFrame(PING, 'late'));
    expect(handler.eventsReceived()).toEqual([{ type: 'ping', data: utf8('late') }]);
    expect(handler.dataToSend()).toHaveLength(0);
  });
});

describe('5.6 data frames', () => {
  test('text arrives as validated UTF-8 bytes, binary as bytes', () => {
    const { conn, handler } = server();
    conn.receiveData(concat(clientFrame(TEXT, 'κόσμε'), clientFrame(BINARY, hex('00ff'))));
    expect(handler.eventsReceived()).toEqual([
      { type: 'message', data: utf8('κόσμε'), binary: false },
      { type: 'message', data: hex('00ff'), binary: true },
    ]);
  });

  test('a message in one chunk is a view of that chunk, unmasked in place', () => {
    const seen: Uint8Array[] = [];
    const handler = Object.assign(new EventCollector(), {
      onMessage: (data: Uint8Array) => seen.push(data),
    });
    const conn = new ServerConnection({ handler });
    const chunk = clientFrame(BINARY, pattern(500));
    conn.receiveData(chunk);
    expect(seen[0]!.buffer).toBe(chunk.buffer);
    expectBytes(seen[0]!, pattern(500));
  });

  test('sendText encodes strings as UTF-8 and sends bytes as they are', () => {
    const { conn, handler } = server();
    conn.sendText('€');
    conn.sendText(hex('e282ac'));
    expect(handler.dataToSend()).toEqual(hex('8103e282ac 8103e282ac'));
  });

  test('sendBinary takes any ArrayBuffer or view, at its offset', () => {
    const { conn, handler } = server();
    const buffer = new Uint8Array([9, 1, 2, 3, 9]).buffer;
    conn.sendBinary(buffer);
    conn.sendBinary(new DataView(buffer, 1, 3));
    conn.sendBinary(new Uint8Array(buffer, 4, 1));
    expect(handler.dataToSend()).toEqual(hex('82050901020309 8203010203 820109'));
  });

  test('a large unmasked message goes out without copying the payload', () => {
    const chunks: Uint8Array[] = [];
    const handler = Object.assign(new EventCollector(), {
      write: (out: readonly Uint8Array[]) => chunks.push(...out),
    });
    const conn = new ServerConnection({ handler });
    const payload = pattern(70_000);
    conn.sendBinary(payload);
    expect(chunks).toHaveLength(2);
    expect(chunks[0]).toEqual(hex('827f0000000000011170'));
    expect(chunks[1]).toBe(payload);
  });

  test.each([
    ['in a text message', clientFrame(TEXT, hex('cebae1bdb9cf83cebcceb5eda080656469746564'))],
    [
      'in a first fragment, before the rest arrives (6.4.1)',
      clientFrame(TEXT, hex('cebae1bdb9cf83cebcceb5f490'), { fin: false }),
    ],
    [
      'at the end of a message, mid code point',
      concat(clientFrame(TEXT, hex('e282'), { fin: false }), clientFrame(CONT, '')),
    ],
  ])('invalid UTF-8 %s: 1007 WS_ERR_INVALID_UTF8', (_name, bytes) => {
    expectServerFails(bytes, InvalidUtf8Error, 'WS_ERR_INVALID_UTF8', 1007);
  });

  test('a single frame fed one byte at a time fails at the first bad byte', () => {
    const fixture = server();
    const bytes = clientFrame(TEXT, concat(utf8('hello'), hex('c0'), utf8('world')));
    // Header (6 bytes) + "hello": fine so far.
    feedOneByteAtATime(fixture.conn, bytes.subarray(0, 11));
    expect(fixture.handler.eventsReceived()).toEqual([]);
    fixture.conn.receiveData(bytes.slice(11, 12));
    expectFailed(fixture, InvalidUtf8Error, 'WS_ERR_INVALID_UTF8', 1007);
  });
});

describe('7.1 closing', () => {
  describe('the peer starts', () => {
    eachFeeding((feeding) => {
      test('a server echoes the code and reason, reports closing, and ends the transport at once', () => {
        const { conn, handler } = server();
        expect(conn.closeHandshakeComplete).toBe(false);
        feeding.feed(conn, clientFrame(CLOSE, closeBody(1001, 'going away')));
        expect(handler.eventsReceived()).toEqual([
          { type: 'closing', code: 1001, reason: 'going away' },
        ]);
        // The code and the reason are echoed.
        expect(handler.dataToSend()).toEqual(frame(CLOSE, closeBody(1001, 'going away')));
        expect(handler.ended).toBe(true);
        // What lets the I/O layer wait for the peer's EOF only briefly.
        expect(conn.closeHandshakeComplete).toBe(true);
        expect(conn.state).toBe(ConnectionState.Closing);
        expectCloseOnEof(conn, handler, { code: 1001, reason: 'going away', wasClean: true });
        expect(conn.state).toBe(ConnectionState.Closed);
      });

      test('a client echoes the code and reason (masked) and waits for the server to end the transport', () => {
        const { conn, handler } = client();
        feeding.feed(conn, frame(CLOSE, closeBody(1000, 'bye')));
        expect(handler.eventsReceived()).toEqual([{ type: 'closing', code: 1000, reason: 'bye' }]);
        expect(handler.dataToSend()).toEqual(clientFrame(CLOSE, closeBody(1000, 'bye')));
        expectClientAwaitsServerEof(conn, handler, { code: 1000, reason: 'bye', wasClean: true });
      });
    });

    test('an empty close body is echoed empty and reported as 1005', () => {
      const { conn, handler } = server();
      conn.receiveData(clientFrame(CLOSE, ''));
      expect(handler.eventsReceived()).toEqual([{ type: 'closing', code: 1005, reason: '' }]);
      expect(handler.dataToSend()).toEqual(hex('8800'));
      expectCloseOnEof(conn, handler, { code: 1005, reason: '', wasClean: true });
    });

    test.each([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999])(
      'close code %i is accepted and echoed',
      (code) => {
        const { conn, handler } = server();
        conn.receiveData(clientFrame(CLOSE, closeBody(code)));
        expect(handler.eventsReceived()).toEqual([{ type: 'closing', code, reason: '' }]);
        expect(closeFrameOf(handler.dataToSend()).code).toBe(code);
      },
    );

    test('input after the close frame is discarded, in later chunks and in the same chunk', () => {
      const { conn, handler } = server();
      conn.receiveData(
        concat(
          clientFrame(CLOSE, closeBody(1000)),
          clientFrame(PING, 'x'),
          clientFrame(TEXT, 'y'),
          hex('ff'),
        ),
      );
      conn.receiveData(clientFrame(PING, 'z'));
      conn.receiveData(clientFrame(CLOSE, closeBody(1001)));
      expect(handler.eventsReceived()).toEqual([{ type: 'closing', code: 1000, reason: '' }]);
      expect(handler.dataToSend()).toEqual(hex('880203e8'));
      expectCloseOnEof(conn, handler, { code: 1000, reason: '', wasClean: true });
    });

    test('sending after the peer closed throws InvalidStateError', () => {
      const { conn } = server();
      conn.receiveData(clientFrame(CLOSE, ''));
      expect(() => conn.sendText('x')).toThrow(InvalidStateError);
      expect(() => conn.sendBinary(new Uint8Array(1))).toThrow(InvalidStateError);
      expect(() => conn.sendPing()).toThrow(InvalidStateError);
      expect(() => conn.sendPong()).toThrow(InvalidStateError);
    });
  });

  describe('we start', () => {
    test('close(code, reason) sends a close frame and waits for the reply', () => {
      const { conn, handler } = server();
      conn.close(1000, 'bye');
      expect(handler.dataToSend()).toEqual(hex('880503e8627965'));
      expect(conn.state).toBe(ConnectionState.Closing);
      expect(conn.closeExpected).toBe(true);
      expect(handler.ended).toBe(false);
      expect(handler.eventsReceived()).toEqual([]);
    });

    test('close() without a code sends an empty body; close(code) sends just the code', () => {
      const a = server();
      a.conn.close();
      expect(a.handler.dataToSend()).toEqual(hex('8800'));
      const b = server();
      b.conn.close(4000);
      expect(b.handler.dataToSend()).toEqual(hex('88020fa0'));
    });

    test('a client sends its close frame masked', () => {
      const { conn, handler } = client();
      conn.close(1000);
      expect(handler.dataToSend()).toEqual(hex('8882 37fa213d 3412'));
    });

    eachFeeding((feeding) => {
      test('data after our close frame is ignored; the reply completes the handshake', () => {
        const { conn, handler } = server();
        conn.close(1000);
        handler.dataToSend();
        feeding.feed(
          conn,
          concat(
            clientFrame(TEXT, 'ignored'),
            clientFrame(BINARY, 'b', { fin: false }),
            clientFrame(CONT, 'c'),
            clientFrame(CLOSE, closeBody(1000, 'ok')),
          ),
        );
        // No message, no "closing" (we started), no second close frame.
        expect(handler.eventsReceived()).toEqual([]);
        expect(handler.dataToSend()).toHaveLength(0);
        // The server ends the transport once both close frames are exchanged.
        expect(handler.ended).toBe(true);
        expectCloseOnEof(conn, handler, { code: 1000, reason: 'ok', wasClean: true });
      });
    });

    test('a client that started waits for the server to end the transport', () => {
      const { conn, handler } = client();
      conn.close(1000, 'done');
      expect(handler.dataToSend()).toEqual(hex('8886 37fa213d 3412 4552 599f'));
      conn.receiveData(frame(CLOSE, closeBody(1000)));
      expectClientAwaitsServerEof(conn, handler, { code: 1000, reason: '', wasClean: true });
    });

    test('without a reply, EOF is an abnormal closure (1006, not clean)', () => {
      const { conn, handler } = server();
      conn.close(1000);
      expectCloseOnEof(conn, handler, { code: 1006, reason: '', wasClean: false });
    });

    test('close() is a no-op once closing or closed', () => {
      const { conn, handler } = server();
      conn.close(1000);
      handler.dataToSend();
      conn.close(1001);
      conn.receiveEof();
      conn.close(1002);
      expect(handler.dataToSend()).toHaveLength(0);
    });

    test('a reply with a different code is reported as the peer sent it', () => {
      const { conn, handler } = server();
      conn.close(1000);
      conn.receiveData(clientFrame(CLOSE, closeBody(3001, 'mine')));
      expectCloseOnEof(conn, handler, { code: 3001, reason: 'mine', wasClean: true });
    });
  });

  describe('close() arguments', () => {
    test.each([999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5])(
      'close(%s) is a RangeError and changes nothing',
      (code) => {
        const { conn, handler } = server();
        expect(() => conn.close(code)).toThrow(RangeError);
        expect(conn.state).toBe(ConnectionState.Open);
        expect(handler.dataToSend()).toHaveLength(0);
      },
    );

    test('a reason over 123 UTF-8 bytes is a RangeError; 123 bytes is fine', () => {
      const { conn, handler } = server();
      expect(() => conn.close(1000, 'é'.repeat(62))).toThrow(RangeError);
      expect(() => conn.close(1000, 'a'.repeat(124))).toThrow(RangeError);
      expect(conn.state).toBe(ConnectionState.Open);
      conn.close(1000, 'a'.repeat(123));
      expect(handler.dataToSend()).toHaveLength(2 + 125);
    });

    test('a reason without a code is a RangeError', () => {
      const { conn } = server();
      expect(() => conn.close(undefined, 'why')).toThrow(RangeError);
    });
  });

  describe('invalid close frames', () => {
    test('a 1-byte close body: 1002 WS_ERR_INVALID_CLOSE_PAYLOAD', () => {
      expectServerFails(
        clientFrame(CLOSE, hex('03')),
        ProtocolError,
        'WS_ERR_INVALID_CLOSE_PAYLOAD',
        1002,
      );
    });

    test.each([0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])(
      'close code %i: 1002 WS_ERR_INVALID_CLOSE_CODE',
      (code) => {
        expectServerFails(
          clientFrame(CLOSE, closeBody(code)),
          ProtocolError,
          'WS_ERR_INVALID_CLOSE_CODE',
          1002,
        );
      },
    );

    test('a close reason that is not UTF-8: 1007 WS_ERR_INVALID_UTF8', () => {
      expectServerFails(
        clientFrame(CLOSE, concat(closeBody(1000), hex('cebae1bdb9cf83cebcceb5eda080'))),
        InvalidUtf8Error,
        'WS_ERR_INVALID_UTF8',
        1007,
      );
    });

    test('an invalid close frame in reply to ours fails without a second close frame', () => {
      const { conn, handler } = server();
      conn.close(1000);
      handler.dataToSend();
      conn.receiveData(clientFrame(CLOSE, closeBody(1005)));
      expectErrorEvent(handler, ProtocolError, 'WS_ERR_INVALID_CLOSE_CODE', 1002);
      expect(handler.dataToSend()).toHaveLength(0);
      expect(handler.ended).toBe(true);
      expectCloseOnEof(conn, handler, { code: 1006, reason: '', wasClean: false });
    });
  });
});

describe('7.1.7 failing', () => {
  test('fail(code, reason) sends the close frame, ends the transport and discards input', () => {
    const { conn, handler } = server();
    conn.fail(1008, 'policy');
    expect(handler.dataToSend()).toEqual(hex('880803f0706f6c696379'));
    expect(handler.ended).toBe(true);
    expect(conn.state).toBe(ConnectionState.Closing);
    expect(conn.closeExpected).toBe(true);
    conn.receiveData(clientFrame(TEXT, 'x'));
    conn.receiveData(clientFrame(CLOSE, closeBody(1000)));
    // fail() is the caller's decision: it reports no error event.
    expect(handler.eventsReceived()).toEqual([]);
    expect(handler.dataToSend()).toHaveLength(0);
    expectCloseOnEof(conn, handler, { code: 1006, reason: '', wasClean: false });
  });

  test('fail(1006) sends no close frame: 1006 never goes on the wire', () => {
    const { conn, handler } = server();
    conn.fail(1006);
    expect(handler.dataToSend()).toHaveLength(0);
    expect(handler.ended).toBe(true);
    expect(conn.closeExpected).toBe(true);
  });

  test('fail() truncates a long reason to 123 bytes on a code point boundary', () => {
    const { conn, handler } = server();
    conn.fail(1011, 'é'.repeat(100));
    expect(closeFrameOf(handler.dataToSend())).toEqual({ code: 1011, reason: 'é'.repeat(61) });
  });

  test('fail() with a code that may not be sent is a RangeError and changes nothing', () => {
    const handler = countingHandler();
    const conn = new ServerConnection({ handler });
    expect(() => conn.fail(1005)).toThrow(RangeError);
    expect(conn.state).toBe(ConnectionState.Open);
    expect(handler.endCalls).toBe(0);
    conn.receiveData(clientFrame(TEXT, 'still open'));
    expect(message(handler.eventsReceived())).toEqual(['text:still open']);
  });

  test('failing twice sends one close frame and ends once', () => {
    const handler = countingHandler();
    const conn = new ServerConnection({ handler });
    conn.fail(1008);
    conn.fail(1011);
    expect(decodeFrames(handler.dataToSend())).toHaveLength(1);
    expect(handler.endCalls).toBe(1);
  });

  test('failing after our close frame went out sends no second one', () => {
    const { conn, handler } = server();
    conn.close(1000);
    handler.dataToSend();
    conn.receiveData(clientFrame(0x3, ''));
    expectErrorEvent(handler, ProtocolError, 'WS_ERR_INVALID_OPCODE', 1002);
    expect(handler.dataToSend()).toHaveLength(0);
    expect(handler.ended).toBe(true);
  });

  test('the close reason is the error message, cut to 123 bytes', () => {
    const { conn, handler } = server();
    conn.receiveData(clientFrame(0x3, ''));
    expect(closeFrameOf(handler.dataToSend())).toEqual({ code: 1002, reason: 'Invalid opcode 3' });
  });

  test('everything after the bad frame in the same chunk is discarded', () => {
    const { conn, handler } = server();
    conn.receiveData(concat(clientFrame(0x4, ''), clientFrame(PING, 'x'), clientFrame(TEXT, 'y')));
    expect(types(handler.eventsReceived())).toEqual(['error']);
    expect(decodeFrames(handler.dataToSend()).map((f) => f.opcode)).toEqual([CLOSE]);
  });

  test('onError sees the connection already failed: close frame out, end() called', () => {
    let seen: { state: number; ended: boolean; written: number } | undefined;
    const handler = new EventCollector();
    const conn = new ServerConnection({
      handler: Object.assign(handler, {
        onError: () => {
          seen = { state: conn.state, ended: handler.ended, written: handler.dataToSend().length };
        },
      }),
    });
    conn.receiveData(clientFrame(0x3, ''));
    expect(seen).toEqual({ state: ConnectionState.Closing, ended: true, written: 20 });
  });
});

describe('EOF', () => {
  test('EOF while open: end() requested, onClose(1006, wasClean=false), state CLOSED', () => {
    const { conn, handler } = server();
    conn.receiveEof();
    expect(handler.ended).toBe(true);
    expect(conn.state).toBe(ConnectionState.Closed);
    expect(conn.closeExpected).toBe(false);
    expect(handler.eventsReceived()).toEqual([
      { type: 'close', code: 1006, reason: '', wasClean: false },
    ]);
    expect(handler.dataToSend()).toHaveLength(0);
  });

  test('EOF in the middle of a frame or a fragmented message loses it', () => {
    const { conn, handler } = server();
    conn.receiveData(clientFrame(TEXT, 'a', { fin: false }));
    conn.receiveData(clientFrame(CONT, 'bcdef').subarray(0, 8));
    expectCloseOnEof(conn, handler, { code: 1006, reason: '', wasClean: false });
  });

  test('onClose is reported once; later EOFs, input and close()/fail() do nothing', () => {
    const handler = countingHandler();
    const conn = new ServerConnection({ handler });
    conn.receiveEof();
    conn.receiveEof();
    conn.receiveData(clientFrame(TEXT, 'x'));
    conn.close(1000);
    conn.fail(1002);
    expect(types(handler.eventsReceived())).toEqual(['close']);
    expect(handler.dataToSend()).toHaveLength(0);
    expect(handler.endCalls).toBe(1);
  });

  test('sending after EOF throws InvalidStateError naming the state', () => {
    const { conn } = server();
    conn.receiveEof();
    const error = thrown(() => conn.sendText('x'));
    expect(error).toBeInstanceOf(InvalidStateError);
    expect((error as Error).name).toBe('InvalidStateError');
    expect((error as Error).message).toMatch(/CLOSED/);
    expect(() => conn.sendPing()).toThrow(InvalidStateError);
  });

  test('end() is not requested twice when the server already ended after the handshake', () => {
    const handler = countingHandler();
    const conn = new ServerConnection({ handler });
    conn.receiveData(clientFrame(CLOSE, ''));
    expect(handler.endCalls).toBe(1);
    conn.fail(1002);
    conn.receiveEof();
    expect(handler.endCalls).toBe(1);
  });
});

describe('closeExpected', () => {
  test('is false while open, true once our close frame is out, false when closed', () => {
    const { conn } = server();
    expect(conn.closeExpected).toBe(false);
    conn.close();
    expect(conn.closeExpected).toBe(true);
    conn.receiveEof();
    expect(conn.closeExpected).toBe(false);
  });

  test('is true after a failure and after echoing the peer close', () => {
    const failed = server();
    failed.conn.receiveData(clientFrame(0x3, ''));
    expect(failed.conn.closeExpected).toBe(true);
    const echoed = client();
    echoed.conn.receiveData(frame(CLOSE, ''));
    expect(echoed.conn.closeExpected).toBe(true);
  });
});

describe('handler exceptions', () => {
  test('a throwing onMessage fails with 1011, a redacted reason on the wire, and the original as cause', () => {
    const secret = new Error('password=hunter2');
    const handler = Object.assign(new EventCollector(), {
      onMessage: () => {
        throw secret;
      },
    });
    const fixture = { conn: new ServerConnection({ handler }), handler };
    fixture.conn.receiveData(clientFrame(TEXT, 'hi'));
    const error = expectFailed(fixture, InternalError, 'WS_ERR_INTERNAL', 1011);
    expect(error.cause).toBe(secret);
    expect(error.message).toBe('Internal error');
  });

  test('a throwing onPing fails with 1011 after the pong went out', () => {
    const handler = Object.assign(new EventCollector(), {
      onPing: () => {
        throw new TypeError('bug');
      },
    });
    const conn = new ServerConnection({ handler });
    conn.receiveData(clientFrame(PING, 'p'));
    const error = expectErrorEvent(handler, InternalError, 'WS_ERR_INTERNAL', 1011);
    expect(error.cause).toBeInstanceOf(TypeError);
    expect(decodeFrames(handler.dataToSend()).map((f) => f.opcode)).toEqual([PONG, CLOSE]);
  });

  test('a throwing onClosing fails without a second close frame', () => {
    const handler = Object.assign(new EventCollector(), {
      onClosing: () => {
        throw new Error('x');
      },
    });
    const { conn } = client({ handler });
    conn.receiveData(frame(CLOSE, closeBody(1000)));
    expectErrorEvent(handler, InternalError, 'WS_ERR_INTERNAL', 1011);
    expect(decodeFrames(handler.dataToSend()).map((f) => f.opcode)).toEqual([CLOSE]);
    expect(handler.ended).toBe(true);
  });

  test('a throwing onError is contained: reported once, no recursion', () => {
    let calls = 0;
    const handler = Object.assign(new EventCollector(), {
      onError: () => {
        calls++;
        throw new Error('listener bug');
      },
    });
    const conn = new ServerConnection({ handler });
    expect(() => conn.receiveData(clientFrame(0x3, ''))).not.toThrow();
    expect(calls).toBe(1);
    expect(closeFrameOf(handler.dataToSend()).code).toBe(1002);
    expect(handler.ended).toBe(true);
  });

  test('throwing onClose and end() in receiveEof are contained', () => {
    const handler = Object.assign(new EventCollector(), {
      end: () => {
        throw new Error('end');
      },
      onClose: () => {
        throw new Error('close');
      },
    });
    const conn = new ServerConnection({ handler });
    expect(() => conn.receiveEof()).not.toThrow();
    expect(conn.state).toBe(ConnectionState.Closed);
    expect(handler.eventsReceived()).toEqual([]);
  });

  test('what onError and onClose throw, when nothing can fail any more, goes to onCallbackError', () => {
    const reported: unknown[] = [];
    const fromError = new Error('error listener bug');
    const fromClose = new Error('close listener bug');
    const handler = Object.assign(new EventCollector(), {
      onError: () => {
        throw fromError;
      },
      onClose: () => {
        throw fromClose;
      },
      onCallbackError: (error: unknown) => reported.push(error),
    });
    const conn = new ServerConnection({ handler });
    conn.receiveData(clientFrame(0x3, ''));
    conn.receiveEof();
    expect(reported).toEqual([fromError, fromClose]);
  });

  test('callbackThrew fails an open connection with 1011; a throwing onCallbackError is contained', () => {
    const handler = Object.assign(new EventCollector(), {
      onCallbackError: () => {
        throw new Error('the reporter itself');
      },
    });
    const conn = new ServerConnection({ handler });
    conn.callbackThrew(new Error('listener outside the protocol'));
    expectErrorEvent(handler, InternalError, 'WS_ERR_INTERNAL', 1011);
    conn.receiveEof();
    expect(() => conn.callbackThrew(new Error('after close'))).not.toThrow();
  });

  test('a throwing onPong fails the connection with 1011', () => {
    const handler = Object.assign(new EventCollector(), {
      onPong: () => {
        throw 'not even an Error';
      },
    });
    const conn = new ServerConnection({ handler });
    conn.receiveData(clientFrame(PONG, ''));
    const error = expectErrorEvent(handler, InternalError, 'WS_ERR_INTERNAL', 1011);
    expect(error.cause).toBe('not even an Error');
  });
});

describe('re-entrancy', () => {
  test('a handler may reply from onMessage; replies keep their order', () => {
    const handler = new EventCollector();
    const conn = new ServerConnection({
      handler: Object.assign(handler, {
        onMessage: (data: Uint8Array, binary: boolean) => {
          if (binary) conn.sendBinary(data.slice());
          else conn.sendText(data.slice());
        },
      }),
    });
    conn.receiveData(
      concat(clientFrame(TEXT, 'one'), clientFrame(BINARY, 'two'), clientFrame(PING, '3')),
    );
    expect(handler.dataToSend()).toEqual(hex('81036f6e65 820374776f 8a0133'));
  });

  test('close() inside onMessage: later messages in the same chunk are not delivered', () => {
    const delivered: string[] = [];
    const handler = new EventCollector();
    const conn = new ServerConnection({
      handler: Object.assign(handler, {
        onMessage: (data: Uint8Array) => {
          delivered.push(decodeUtf8(data));
          conn.close(1000, 'enough');
        },
      }),
    });
    conn.receiveData(
      concat(clientFrame(TEXT, 'a'), clientFrame(TEXT, 'b'), clientFrame(PING, 'c')),
    );
    expect(delivered).toEqual(['a']);
    // Our close frame, and no pong after it.
    expect(handler.dataToSend()).toEqual(hex('880803e8656e6f756768'));
    expect(types(handler.eventsReceived())).toEqual(['ping']);
    conn.receiveData(clientFrame(CLOSE, closeBody(1000)));
    expect(handler.ended).toBe(true);
  });

  test('fail() inside onMessage discards the rest of the chunk', () => {
    const handler = new EventCollector();
    const conn = new ServerConnection({
      handler: Object.assign(handler, {
        onMessage: () => conn.fail(1008, 'no'),
      }),
    });
    conn.receiveData(
      concat(clientFrame(TEXT, 'a'), clientFrame(PING, 'b'), clientFrame(TEXT, 'c')),
    );
    expect(handler.eventsReceived()).toEqual([]);
    expect(decodeFrames(handler.dataToSend()).map((f) => f.opcode)).toEqual([CLOSE]);
  });

  test('receiveEof() inside onMessage: onClose once, nothing written after end()', () => {
    const handler = countingHandler();
    let inside = true;
    const conn = new ServerConnection({
      handler: Object.assign(handler, {
        onMessage: () => {
          if (inside) conn.receiveEof();
          inside = false;
        },
      }),
    });
    conn.receiveData(
      concat(clientFrame(TEXT, 'a'), clientFrame(PING, 'b'), clientFrame(CLOSE, closeBody(1000))),
    );
    expect(handler.eventsReceived()).toEqual([
      { type: 'close', code: 1006, reason: '', wasClean: false },
    ]);
    expect(handler.dataToSend()).toHaveLength(0);
    expect(conn.state).toBe(ConnectionState.Closed);
    conn.receiveEof();
    expect(handler.eventsReceived()).toEqual([]);
    expect(handler.endCalls).toBe(1);
  });

  test('a handler that fails the connection and then throws reports no second error', () => {
    const handler = new EventCollector();
    const conn = new ServerConnection({
      handler: Object.assign(handler, {
        onMessage: () => {
          conn.fail(1008, 'policy');
          throw new Error('after fail');
        },
      }),
    });
    conn.receiveData(clientFrame(TEXT, 'a'));
    expect(handler.eventsReceived()).toEqual([]);
    expect(closeFrameOf(handler.dataToSend())).toEqual({ code: 1008, reason: 'policy' });
  });

  test('a handler that sees EOF and then throws reports only the close', () => {
    const handler = new EventCollector();
    const conn = new ServerConnection({
      handler: Object.assign(handler, {
        onMessage: () => {
          conn.receiveEof();
          throw new Error('after EOF');
        },
      }),
    });
    conn.receiveData(clientFrame(TEXT, 'a'));
    expect(types(handler.eventsReceived())).toEqual(['close']);
    expect(handler.dataToSend()).toHaveLength(0);
  });

  test('close() inside onClosing is a no-op: one close frame', () => {
    const handler = new EventCollector();
    const conn = new ServerConnection({
      handler: Object.assign(handler, {
        onClosing: () => conn.close(1001),
      }),
    });
    conn.receiveData(clientFrame(CLOSE, closeBody(1000)));
    expect(handler.dataToSend()).toEqual(hex('880203e8'));
  });

  test('sendPong and close() inside onPing', () => {
    const handler = new EventCollector();
    const conn = new ServerConnection({
      handler: Object.assign(handler, {
        onPing: () => {
          conn.sendPong('extra');
          conn.close(1000);
        },
      }),
    });
    conn.receiveData(concat(clientFrame(PING, 'a'), clientFrame(PING, 'b')));
    // Automatic pong, the extra pong, our close; the second ping gets no pong.
    expect(decodeFrames(handler.dataToSend()).map((f) => f.opcode)).toEqual([PONG, PONG, CLOSE]);
  });
});

describe('state', () => {
  test('OPEN → CLOSING → CLOSED on a server', () => {
    const { conn } = server();
    expect(conn.state).toBe(ConnectionState.Open);
    conn.close();
    expect(conn.state).toBe(ConnectionState.Closing);
    conn.receiveEof();
    expect(conn.state).toBe(ConnectionState.Closed);
  });

  test('the state numbers are the WHATWG readyState values', () => {
    expect(ConnectionState).toEqual({ Connecting: 0, Open: 1, Closing: 2, Closed: 3 });
  });
});

/** A minimal role subclass, to exercise the hooks Connection offers its subclasses. */
class TestConnection extends Connection {
  constructor(options: ConnectionOptions, state: ConnectionState) {
    super(options, true, undefined, state);
  }
  protected override get endsFirst(): boolean {
    return true;
  }
  get isFailed(): boolean {
    return this.failed;
  }
  runGuarded(callback: () => void): void {
    this.guard(callback);
  }
}

describe('role subclass hooks', () => {
  test('as a MessageSink it ignores whatever still arrives after a failure', () => {
    const { conn, handler } = server();
    conn.fail(1008);
    handler.dataToSend();
    conn.onMessage(utf8('late'), false);
    conn.onControlFrame(PING, utf8('late'));
    conn.onControlFrame(CLOSE, closeBody(1000));
    expect(handler.eventsReceived()).toEqual([]);
    expect(handler.dataToSend()).toHaveLength(0);
  });

  test('a subclass that starts CONNECTING but handles no handshake fails with 1011', () => {
    const handler = new EventCollector();
    const conn = new TestConnection({ handler }, ConnectionState.Connecting);
    conn.receiveData(utf8('HTTP/1.1 101 OK\r\n\r\n'));
    const events = handler.eventsReceived();
    expectWsError(errorOf(events), InternalError, 'WS_ERR_INTERNAL', 1011);
    expect(conn.isFailed).toBe(true);
    // Still connecting: no close frame can be sent before the handshake.
    expect(handler.dataToSend()).toHaveLength(0);
    expect(handler.ended).toBe(true);
  });

  test('by default EOF while connecting reports no handshake error', () => {
    const handler = new EventCollector();
    const conn = new TestConnection({ handler }, ConnectionState.Connecting);
    expectCloseOnEof(conn, handler, { code: 1006, reason: '', wasClean: false });
  });

  test('guard() turns an exception into a 1011 failure while open, and is silent after', () => {
    const handler = new EventCollector();
    const conn = new TestConnection({ handler }, ConnectionState.Open);
    expect(conn.isFailed).toBe(false);
    const bug = new Error('bug');
    conn.runGuarded(() => {
      throw bug;
    });
    expect(conn.isFailed).toBe(true);
    const error = expectErrorEvent(handler, InternalError, 'WS_ERR_INTERNAL', 1011);
    expect(error.cause).toBe(bug);
    expect(closeFrameOf(handler.dataToSend())).toEqual({ code: 1011, reason: 'Internal error' });
    conn.runGuarded(() => {
      throw new Error('again');
    });
    expect(handler.eventsReceived()).toEqual([]);
  });
});

describe('5.6 data frames encoded once for many connections', () => {
  const hello = encodeFrame(0x1, utf8('Hello'));

  test('a server writes the very chunks it was given, to each connection', () => {
    const written: (readonly Uint8Array[])[] = [];
    const handler: ConnectionHandler = {
      write: (chunks) => written.push(chunks),
      end: () => {},
      onMessage: () => {},
      onClose: () => {},
    };
    const a = new ServerConnection({ handler });
    const b = new ServerConnection({ handler });
    a.sendEncodedFrame(hello);
    b.sendEncodedFrame(hello);
    expect(written).toEqual([hello, hello]);
    expect(written[0]![0]).toBe(hello[0]);
    expect(written[1]![0]).toBe(hello[0]);
    expect(written[0]![0]).toEqual(hex('81 05 48 65 6c 6c 6f'));
  });

  test('a client refuses: every client frame needs its own mask', () => {
    const { conn } = client();
    expect(() => conn.sendEncodedFrame(hello)).toThrow(InvalidStateError);
  });

  test('refused once closing, and inside a fragmented message', () => {
    const fragmenting = server();
    fragmenting.conn.sendText('Hel', { fin: false });
    expect(() => fragmenting.conn.sendEncodedFrame(hello)).toThrow(/fragmented/);
    fragmenting.conn.sendText('lo');
    fragmenting.conn.sendEncodedFrame(hello);

    const closing = server();
    closing.conn.close(1000);
    expect(() => closing.conn.sendEncodedFrame(hello)).toThrow(/CLOSING/);
  });
});
