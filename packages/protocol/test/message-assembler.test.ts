import { describe, expect, test } from 'vitest';
import { InvalidUtf8Error, PayloadTooBigError, PolicyError } from '@proj/protocol';
import { OP } from '@proj/test-utils';
import { FrameParser } from '../src/frame-parser.js';
import {
  LEND_MIN,
  MessageAssembler,
  type MessageLimits,
  type MessageSink,
} from '../src/message-assembler.js';
import {
  clientFrame,
  concat,
  eachFeeding,
  expectBytes,
  expectProtocolError,
  expectWsError,
  frame,
  hex,
  pattern,
  rng,
  thrown,
  utf8,
} from './helpers.js';

type Event =
  | { type: 'message'; data: Uint8Array; binary: boolean; view: Uint8Array }
  | { type: 'control'; opcode: number; payload: Uint8Array };

class Recorder implements MessageSink {
  events: Event[] = [];
  onMessage(data: Uint8Array, binary: boolean): void {
    this.events.push({ type: 'message', data: data.slice(), binary, view: data });
  }
  onControlFrame(opcode: number, payload: Uint8Array): void {
    this.events.push({ type: 'control', opcode, payload });
  }
  /** Messages and control frames as comparable values. */
  summary(): unknown[] {
    return this.events.map((e) =>
      e.type === 'message'
        ? [e.binary ? 'binary' : 'text', new TextDecoder().decode(e.data)]
        : ['control', e.opcode, new TextDecoder().decode(e.payload)],
    );
  }
}

/** A client-side parser (unmasked frames) feeding an assembler. */
function setup(limits?: MessageLimits): {
  parser: FrameParser;
  assembler: MessageAssembler;
  sink: Recorder;
} {
  const sink = new Recorder();
  const assembler = new MessageAssembler(sink, limits);
  return { parser: new FrameParser(assembler, { expectMasked: false }), assembler, sink };
}

const { Continuation: CONT, Text: TEXT, Binary: BINARY, Close: CLOSE, Ping: PING, Pong: PONG } = OP;

describe('assembling messages', () => {
  eachFeeding((feeding) => {
    test('a single-frame text message', () => {
      const { parser, sink } = setup();
      feeding.feed(parser, frame(TEXT, 'Hello'));
      expect(sink.summary()).toEqual([['text', 'Hello']]);
    });

    test('a single-frame binary message', () => {
      const { parser, sink } = setup();
      feeding.feed(parser, frame(BINARY, pattern(300)));
      expect(sink.events).toHaveLength(1);
      expect(sink.events[0]).toMatchObject({ type: 'message', binary: true });
      expectBytes((sink.events[0] as { data: Uint8Array }).data, pattern(300));
    });

    test('the RFC 6455 §5.7 fragmented "Hel" + "lo"', () => {
      const { parser, sink } = setup();
      feeding.feed(parser, hex('010348656c 80026c6f'));
      expect(sink.summary()).toEqual([['text', 'Hello']]);
    });

    test('control frames interleaved in a fragmented message are delivered first (§5.4)', () => {
      const { parser, sink } = setup();
      feeding.feed(
        parser,
        concat(
          frame(TEXT, 'Hel', { fin: false }),
          frame(PING, 'p1'),
          frame(CONT, 'l', { fin: false }),
          frame(PONG, 'p2'),
          frame(PING, ''),
          frame(CONT, 'o'),
        ),
      );
      expect(sink.summary()).toEqual([
        ['control', PING, 'p1'],
        ['control', PONG, 'p2'],
        ['control', PING, ''],
        ['text', 'Hello'],
      ]);
    });

    test('empty messages and empty fragments', () => {
      const { parser, sink } = setup();
      feeding.feed(
        parser,
        concat(
          frame(TEXT, ''),
          frame(BINARY, ''),
          frame(TEXT, '', { fin: false }),
          frame(CONT, 'ab', { fin: false }),
          frame(CONT, '', { fin: false }),
          frame(CONT, 'c'),
          frame(BINARY, '', { fin: false }),
          frame(CONT, ''),
        ),
      );
      expect(sink.summary()).toEqual([
        ['text', ''],
        ['binary', ''],
        ['text', 'abc'],
        ['binary', ''],
      ]);
    });

    test('a multi-byte character split across fragments', () => {
      const { parser, sink } = setup();
      feeding.feed(
        parser,
        concat(frame(TEXT, hex('e2'), { fin: false }), frame(CONT, hex('82ac'))),
      );
      expect(sink.summary()).toEqual([['text', '€']]);
    });

    test('a close frame is handed on with its payload', () => {
      const { parser, sink } = setup();
      feeding.feed(parser, frame(CLOSE, hex('03e8 6279 65')));
      expect(sink.events).toEqual([{ type: 'control', opcode: CLOSE, payload: hex('03e8627965') }]);
    });

    test('messages of many random-sized fragments', () => {
      const random = rng(17);
      const { parser, sink } = setup();
      const expected: Uint8Array[] = [];
      const frames: Uint8Array[] = [];
      for (let m = 0; m < 5; m++) {
        const message = pattern(Math.floor(random() * 5000), m);
        expected.push(message);
        let offset = 0;
        let first = true;
        do {
          const size = Math.floor(random() * 700);
          const end = Math.min(message.length, offset + size);
          frames.push(
            frame(first ? BINARY : CONT, message.subarray(offset, end), {
              fin: end === message.length,
            }),
          );
          first = false;
          offset = end;
        } while (offset < message.length);
      }
      feeding.feed(parser, concat(...frames));
      expect(sink.events).toHaveLength(5);
      sink.events.forEach((event, i) =>
        expectBytes((event as { data: Uint8Array }).data, expected[i]!),
      );
    });
  });
});

describe('copies and views', () => {
  test('a message that lies in one chunk is a view of that chunk, not a copy', () => {
    const { parser, sink } = setup();
    const chunk = frame(BINARY, pattern(2000));
    parser.push(chunk);
    const view = (sink.events[0] as { view: Uint8Array }).view;
    expect(view.buffer).toBe(chunk.buffer);
    expect(view.byteOffset).toBe(4);
  });

  test('a fragmented message is gathered into one buffer of exactly its size', () => {
    const { parser, sink } = setup();
    parser.push(concat(frame(BINARY, pattern(10), { fin: false }), frame(CONT, pattern(5, 10))));
    const view = (sink.events[0] as { view: Uint8Array }).view;
    expect(view.length).toBe(15);
    expect(view).toEqual(pattern(15));
  });

  test('control payloads are copies, independent of the input chunk', () => {
    const { parser, sink } = setup();
    const chunk = frame(PING, 'abc');
    parser.push(chunk);
    chunk.fill(0);
    expect((sink.events[0] as { payload: Uint8Array }).payload).toEqual(utf8('abc'));
  });

  test('masked (server side): one frame in one chunk is unmasked in place and handed out as a view', () => {
    const sink = new Recorder();
    const parser = new FrameParser(new MessageAssembler(sink), { expectMasked: true });
    const chunk = frame(BINARY, pattern(2000), { mask: Uint8Array.of(1, 2, 3, 4) });
    parser.push(chunk);
    const view = (sink.events[0] as { view: Uint8Array }).view;
    expect(view.buffer).toBe(chunk.buffer);
    expect(view).toEqual(pattern(2000));
  });

  test('masked, split across chunks: unmasked straight into one buffer from `allocate`, at every mask phase', () => {
    for (let cut = 1; cut < 12; cut++) {
      const sink = new Recorder();
      const sizes: number[] = [];
      const allocate = (size: number) => {
        sizes.push(size);
        return new Uint8Array(size).fill(0xee); // garbage: every byte must be overwritten
      };
      const parser = new FrameParser(new MessageAssembler(sink, { allocate }), {
        expectMasked: true,
      });
      const stream = concat(
        frame(TEXT, 'héllo wörld, '.repeat(9), { mask: Uint8Array.of(9, 8, 7, 6), fin: false }),
        frame(PING, 'p', { mask: Uint8Array.of(5, 4, 3, 2) }),
        frame(CONT, 'the end', { mask: Uint8Array.of(1, 3, 5, 7) }),
      );
      const headerSize = 2 + 4;
      parser.push(stream.subarray(0, headerSize + cut));
      parser.push(stream.subarray(headerSize + cut));
      expect(sink.summary()).toEqual([
        ['control', PING, 'p'],
        ['text', `${'héllo wörld, '.repeat(9)}the end`],
      ]);
      // One allocation: the first frame's exact size, then doubled for the fragment.
      expect(sizes.length).toBeLessThanOrEqual(2);
    }
  });

  test('inMessage is true between the first and the last fragment', () => {
    const { parser, assembler } = setup();
    expect(assembler.inMessage).toBe(false);
    parser.push(frame(TEXT, 'a', { fin: false }));
    expect(assembler.inMessage).toBe(true);
    parser.push(frame(PING, ''));
    expect(assembler.inMessage).toBe(true);
    parser.push(frame(CONT, 'b'));
    expect(assembler.inMessage).toBe(false);
  });
});

describe('fragmentation errors (§5.4)', () => {
  test('a continuation with no message in progress is 1002 WS_ERR_UNEXPECTED_CONTINUATION', () => {
    const { parser, sink } = setup();
    const error = thrown(() => parser.push(hex('80026c6f')));
    expectProtocolError(error, 'WS_ERR_UNEXPECTED_CONTINUATION');
    expect(sink.events).toEqual([]);
  });

  test('a continuation after a finished message is 1002 WS_ERR_UNEXPECTED_CONTINUATION', () => {
    const { parser, sink } = setup();
    const error = thrown(() => parser.push(concat(frame(TEXT, 'a'), frame(CONT, 'b'))));
    expectProtocolError(error, 'WS_ERR_UNEXPECTED_CONTINUATION');
    expect(sink.summary()).toEqual([['text', 'a']]);
  });

  test.each([
    ['text inside text', TEXT, TEXT],
    ['binary inside text', TEXT, BINARY],
    ['text inside binary', BINARY, TEXT],
  ])(
    'a new data frame inside a fragmented message (%s) is 1002 WS_ERR_EXPECTED_CONTINUATION',
    (_n, a, b) => {
      const { parser, sink } = setup();
      parser.push(frame(a, 'x', { fin: false }));
      const error = thrown(() => parser.push(frame(b, 'y')));
      expectProtocolError(error, 'WS_ERR_EXPECTED_CONTINUATION');
      expect(sink.events).toEqual([]);
    },
  );
});

describe('maxPayload (1009), decided from the header before the payload arrives', () => {
  test('a single frame over the limit fails on its header alone', () => {
    const { parser, sink } = setup({ maxPayload: 100 });
    const error = thrown(() => parser.push(hex('827e0065')));
    expectWsError(error, PayloadTooBigError, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009);
    expect(sink.events).toEqual([]);
  });

  test('a message of exactly maxPayload bytes is delivered', () => {
    const { parser, sink } = setup({ maxPayload: 100 });
    parser.push(concat(frame(BINARY, pattern(60), { fin: false }), frame(CONT, pattern(40, 60))));
    expectBytes((sink.events[0] as { data: Uint8Array }).data, pattern(100));
  });

  test('the limit is summed over fragments: the fragment that crosses it fails on its header', () => {
    const { parser, sink } = setup({ maxPayload: 100 });
    parser.push(frame(BINARY, pattern(60), { fin: false }));
    // A ping in between does not count towards the message.
    parser.push(frame(PING, pattern(100)));
    const error = thrown(() => parser.push(hex('0029'))); // continuation header, 41 bytes
    expectWsError(error, PayloadTooBigError, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009);
    expect(sink.events.map((e) => e.type)).toEqual(['control']);
  });

  test('the limit applies per message, not per connection', () => {
    const { parser, sink } = setup({ maxPayload: 10 });
    parser.push(concat(frame(TEXT, 'a'.repeat(10)), frame(TEXT, 'b'.repeat(10))));
    expect(sink.events).toHaveLength(2);
  });

  test('the default limit is 16 MiB', () => {
    const ok = setup();
    expect(() => ok.parser.push(hex('827f0000000001000000'))).not.toThrow();
    const { parser } = setup();
    const error = thrown(() => parser.push(hex('827f0000000001000001')));
    expectWsError(error, PayloadTooBigError, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009);
  });
});

describe('maxFragments (1008)', () => {
  test('more than maxFragments frames in one message is 1008 WS_ERR_TOO_MANY_FRAGMENTS', () => {
    const { parser, sink } = setup({ maxFragments: 3 });
    parser.push(concat(frame(TEXT, 'a', { fin: false }), frame(CONT, 'b', { fin: false })));
    parser.push(frame(PING, '')); // control frames are not fragments
    parser.push(frame(CONT, 'c', { fin: false }));
    const error = thrown(() => parser.push(hex('0000')));
    expectWsError(error, PolicyError, 'WS_ERR_TOO_MANY_FRAGMENTS', 1008);
    expect(sink.summary()).toEqual([['control', PING, '']]);
  });

  test('exactly maxFragments frames is fine, and the count restarts per message', () => {
    const { parser, sink } = setup({ maxFragments: 2 });
    for (let i = 0; i < 3; i++) {
      parser.push(concat(frame(TEXT, 'a', { fin: false }), frame(CONT, 'b')));
    }
    expect(sink.summary()).toEqual([
      ['text', 'ab'],
      ['text', 'ab'],
      ['text', 'ab'],
    ]);
  });

  test('the default lets a 4 MiB message in 64-byte fragments (65,536 frames) through', () => {
    const { parser, sink } = setup();
    const message = pattern(4 * 1024 * 1024);
    const stream = new Uint8Array(65_536 * 66);
    for (let i = 0; i < 65_536; i++) {
      stream[i * 66] = (i === 0 ? BINARY : CONT) | (i === 65_535 ? 0x80 : 0);
      stream[i * 66 + 1] = 64;
      stream.set(message.subarray(i * 64, i * 64 + 64), i * 66 + 2);
    }
    // In 64 KiB reads, as a socket would deliver them.
    for (let offset = 0; offset < stream.length; offset += 65_536) {
      parser.push(stream.subarray(offset, offset + 65_536));
    }
    expect(sink.events).toHaveLength(1);
    expectBytes((sink.events[0] as { data: Uint8Array }).data, message);
  });

  test('the default bound is 131,072 fragments', () => {
    const fragments = (n: number): Uint8Array => {
      const stream = new Uint8Array(n * 2); // empty, non-final binary frames
      for (let i = 0; i < n; i++) stream[i * 2] = i === 0 ? BINARY : CONT;
      return stream;
    };
    const ok = setup();
    ok.parser.push(fragments(131_071));
    ok.parser.push(hex('8000')); // the 131,072nd frame ends the message
    expect(ok.sink.events).toHaveLength(1);
    const { parser } = setup();
    const error = thrown(() => parser.push(fragments(131_073)));
    expectWsError(error, PolicyError, 'WS_ERR_TOO_MANY_FRAGMENTS', 1008);
  });
});

describe('UTF-8 validation (1007), incremental', () => {
  test('a first fragment that is already invalid fails before the rest arrives', () => {
    const { parser, sink } = setup();
    // "κόσμε" then F4 90: above U+10FFFF (Autobahn 6.4.1).
    const error = thrown(() =>
      parser.push(frame(TEXT, hex('cebae1bdb9cf83cebcceb5f490'), { fin: false })),
    );
    expectWsError(error, InvalidUtf8Error, 'WS_ERR_INVALID_UTF8', 1007);
    expect(sink.events).toEqual([]);
  });

  test('a single frame whose payload arrives in pieces fails at the bad piece', () => {
    const { parser } = setup();
    const bytes = frame(TEXT, concat(utf8('abcd'), hex('eda080'), utf8('xyz')));
    parser.push(bytes.slice(0, 6)); // header + "abcd"
    parser.push(bytes.slice(6, 7)); // ED: could still start U+D7FF
    const error = thrown(() => parser.push(bytes.slice(7, 8))); // A0: a surrogate
    expectWsError(error, InvalidUtf8Error, 'WS_ERR_INVALID_UTF8', 1007);
  });

  test('a message that ends inside a code point fails at its last frame', () => {
    const { parser } = setup();
    parser.push(frame(TEXT, hex('41e2'), { fin: false }));
    const error = thrown(() => parser.push(frame(CONT, hex('82'))));
    expectWsError(error, InvalidUtf8Error, 'WS_ERR_INVALID_UTF8', 1007);
  });

  test('a truncated sequence in a single frame fails at the frame end, not before', () => {
    const { parser } = setup();
    const bytes = frame(TEXT, hex('41e282'));
    parser.push(bytes.slice(0, bytes.length - 1));
    const error = thrown(() => parser.push(bytes.slice(-1)));
    expectWsError(error, InvalidUtf8Error, 'WS_ERR_INVALID_UTF8', 1007);
  });

  test('an empty final fragment after a partial code point fails', () => {
    const { parser } = setup();
    parser.push(frame(TEXT, hex('f09f'), { fin: false }));
    const error = thrown(() => parser.push(frame(CONT, '')));
    expectWsError(error, InvalidUtf8Error, 'WS_ERR_INVALID_UTF8', 1007);
  });

  test('binary messages are not validated', () => {
    const { parser, sink } = setup();
    parser.push(frame(BINARY, hex('c080eda080ff')));
    expect(sink.events).toHaveLength(1);
  });

  test('validation restarts with each message', () => {
    const { parser, sink } = setup();
    parser.push(concat(frame(BINARY, hex('e2'), { fin: false }), frame(CONT, '')));
    parser.push(frame(TEXT, 'ok'));
    expect(sink.summary()).toEqual([
      ['binary', '\ufffd'],
      ['text', 'ok'],
    ]);
  });

  test('a control frame inside a text message does not disturb validation', () => {
    const { parser, sink } = setup();
    parser.push(
      concat(
        frame(TEXT, hex('e2'), { fin: false }),
        frame(PING, hex('ff')),
        frame(CONT, hex('82ac')),
      ),
    );
    expect(sink.summary()).toEqual([
      ['control', PING, '\ufffd'],
      ['text', '€'],
    ]);
  });
});

describe('lendMessages: messages lent as they lie in lent input', () => {
  /** A server-side parser (masked frames) over lent input, feeding an assembler. */
  function lending(lendMessages: boolean, allowRsv1 = false) {
    const sink = new Recorder();
    const assembler = new MessageAssembler(sink, {
      lendMessages,
      allocate: (size) => new Uint8Array(size),
    });
    const parser = new FrameParser(assembler, { expectMasked: true, allowRsv1 });
    return {
      sink,
      push(bytes: Uint8Array) {
        assembler.lent = true;
        parser.push(bytes, true);
      },
    };
  }

  test('a masked message of LEND_MIN bytes or more in one read is handed out as that read, unmasked in place', () => {
    const { sink, push } = lending(true);
    const payload = pattern(LEND_MIN);
    const read = clientFrame(BINARY, payload);
    push(read);
    const [event] = sink.events;
    expect(event?.type).toBe('message');
    const view = (event as { view: Uint8Array }).view;
    expect(view.buffer).toBe(read.buffer);
    expectBytes((event as { data: Uint8Array }).data, payload);
    // Unmasked where it lay: the read's own bytes are the payload now.
    expectBytes(read.subarray(read.length - LEND_MIN), payload);
  });

  test('an unmasked one too; smaller ones, fragmented and compressed ones are copied', () => {
    const { sink, push } = lending(true, true);
    const cases = [
      frame(BINARY, pattern(100)),
      clientFrame(BINARY, pattern(LEND_MIN - 1)),
      concat(clientFrame(BINARY, pattern(70), { fin: false }), clientFrame(CONT, pattern(70, 70))),
      clientFrame(BINARY, pattern(100), { rsv1: true }),
    ];
    const { sink: unmaskedSink, push: pushUnmasked } = (() => {
      const recorder = new Recorder();
      const assembler = new MessageAssembler(recorder, { lendMessages: true });
      const parser = new FrameParser(assembler, { expectMasked: false });
      return {
        sink: recorder,
        push(bytes: Uint8Array) {
          assembler.lent = true;
          parser.push(bytes, true);
        },
      };
    })();
    pushUnmasked(cases[0]!);
    expect((unmaskedSink.events[0] as { view: Uint8Array }).view.buffer).toBe(cases[0]!.buffer);
    for (const read of cases.slice(1)) push(read);
    expect(sink.events).toHaveLength(3);
    for (const [i, event] of sink.events.entries()) {
      const { view } = event as { view: Uint8Array };
      expect(view.buffer, `message ${i}`).not.toBe(cases[i + 1]!.buffer);
    }
    expectBytes((sink.events[1] as { data: Uint8Array }).data, pattern(140));
  });

  test('without the option, or with input that is not lent, nothing changes', () => {
    const off = lending(false);
    const read = clientFrame(BINARY, pattern(200));
    off.push(read);
    expect((off.sink.events[0] as { view: Uint8Array }).view.buffer).not.toBe(read.buffer);
    // Owned input was always handed out as a view; lending changes nothing there.
    const sink = new Recorder();
    const parser = new FrameParser(new MessageAssembler(sink, { lendMessages: true }), {
      expectMasked: true,
    });
    const owned = clientFrame(BINARY, pattern(200));
    parser.push(owned);
    expect((sink.events[0] as { view: Uint8Array }).view.buffer).toBe(owned.buffer);
  });
});

describe('lentBuffers: lent messages gathered across pieces into recycled buffers', () => {
  /** A pool that records what is taken and given, and poisons a buffer as soon as it is given back. */
  function pool(min: number) {
    const taken: Uint8Array[] = [];
    const given: Uint8Array[] = [];
    const lentBuffers = {
      min,
      take(size: number) {
        const buffer = new Uint8Array(size + 7);
        taken.push(buffer);
        return buffer;
      },
      give(buffer: Uint8Array) {
        buffer.fill(0xdd);
        given.push(buffer);
      },
    };
    return { lentBuffers, taken, given };
  }

  function lendingWith(limits: MessageLimits, allowRsv1 = false) {
    const sink = new Recorder();
    const givenWhenDelivered: number[] = [];
    const recorder = sink.onMessage.bind(sink);
    const assembler = new MessageAssembler(sink, {
      lendMessages: true,
      allocate: (size) => new Uint8Array(size),
      ...limits,
    });
    const parser = new FrameParser(assembler, { expectMasked: true, allowRsv1 });
    return {
      sink,
      assembler,
      givenWhenDelivered,
      wrap(given: readonly Uint8Array[]) {
        sink.onMessage = (data, binary) => {
          givenWhenDelivered.push(given.length);
          recorder(data, binary);
        };
      },
      push(bytes: Uint8Array, lent = true) {
        assembler.lent = lent;
        parser.push(bytes, lent);
      },
    };
  }

  test('a message over several lent reads is gathered into a taken buffer, lent, and given back after onMessage', () => {
    const { lentBuffers, taken, given } = pool(1000);
    const { sink, push, wrap, givenWhenDelivered } = lendingWith({ lentBuffers });
    wrap(given);
    const payload = pattern(5000);
    const frame = clientFrame(BINARY, payload);
    push(frame.subarray(0, 2000));
    push(frame.subarray(2000));
    expect(taken).toHaveLength(1);
    expect(sink.events).toHaveLength(1);
    const { view, data } = sink.events[0] as { view: Uint8Array; data: Uint8Array };
    expect(view.buffer).toBe(taken[0]!.buffer);
    expectBytes(data, payload);
    // Given back only once the sink had it.
    expect(givenWhenDelivered).toEqual([0]);
    expect(given).toEqual([taken[0]]);
  });

  test('growing across fragments gives the outgrown buffer back at once', () => {
    const { lentBuffers, taken, given } = pool(100);
    const { sink, push } = lendingWith({ lentBuffers });
    push(clientFrame(BINARY, pattern(200), { fin: false }));
    push(clientFrame(CONT, pattern(300, 200), { fin: false }));
    expect(taken).toHaveLength(2);
    expect(given).toEqual([taken[0]]);
    push(clientFrame(CONT, pattern(500, 500)));
    expectBytes((sink.events[0] as { data: Uint8Array }).data, pattern(1000));
    expect(given.at(-1)).toBe(taken.at(-1));
  });

  test('smaller, compressed, owned-input messages, or without lendMessages: allocate, nothing taken', () => {
    const { lentBuffers, taken } = pool(1000);
    const twoReads = (
      frame: Uint8Array,
      push: (bytes: Uint8Array, lent?: boolean) => void,
      lent = true,
    ) => {
      push(frame.subarray(0, 10), lent);
      push(frame.subarray(10), lent);
    };
    const small = lendingWith({ lentBuffers });
    twoReads(clientFrame(BINARY, pattern(999)), small.push);
    const compressed = lendingWith({ lentBuffers }, true);
    twoReads(clientFrame(BINARY, pattern(3000), { rsv1: true }), compressed.push);
    const owned = lendingWith({ lentBuffers });
    twoReads(clientFrame(BINARY, pattern(3000)), owned.push, false);
    const off = lendingWith({ lentBuffers, lendMessages: false });
    twoReads(clientFrame(BINARY, pattern(3000)), off.push);
    expect(taken).toHaveLength(0);
    for (const { sink } of [small, compressed, owned, off]) expect(sink.events).toHaveLength(1);
  });

  test('a throwing sink still gives the buffer back', () => {
    const { lentBuffers, taken, given } = pool(100);
    const { sink, push } = lendingWith({ lentBuffers });
    sink.onMessage = () => {
      throw new Error('listener failed');
    };
    const frame = clientFrame(BINARY, pattern(500));
    push(frame.subarray(0, 100));
    expect(() => push(frame.subarray(100))).toThrow('listener failed');
    expect(given).toEqual(taken);
  });
});
