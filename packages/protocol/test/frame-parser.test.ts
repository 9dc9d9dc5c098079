import { describe, expect, test } from 'vitest';
import { PayloadTooBigError, ProtocolError } from '@proj/protocol';
import type { FrameHeader } from '../src/frame.js';
import { FrameParser, type FrameSink } from '../src/frame-parser.js';
import {
  RFC_FRAMES,
  RFC_MASK,
  concat,
  eachFeeding,
  expectBytes,
  expectProtocolError,
  expectWsError,
  feedOneByteAtATime,
  frame,
  hex,
  pattern,
  thrown,
  utf8,
} from './helpers.js';

type SinkEvent =
  { type: 'header'; header: FrameHeader } | { type: 'payload'; data: Uint8Array } | { type: 'end' };

/** Records every sink call; payload pieces are kept as the views handed out. */
class Recorder implements FrameSink {
  events: SinkEvent[] = [];
  onFrameHeader(header: FrameHeader): void {
    this.events.push({ type: 'header', header });
  }
  onFramePayload(data: Uint8Array): void {
    this.events.push({ type: 'payload', data });
  }
  onFrameEnd(): void {
    this.events.push({ type: 'end' });
  }
  /** Whole frames: header plus the payload pieces joined. */
  frames(): { header: FrameHeader; payload: Uint8Array }[] {
    const out: { header: FrameHeader; payload: Uint8Array }[] = [];
    let pieces: Uint8Array[] = [];
    let header: FrameHeader | undefined;
    for (const event of this.events) {
      if (event.type === 'header') {
        header = event.header;
        pieces = [];
      } else if (event.type === 'payload') pieces.push(event.data.slice());
      else out.push({ header: header!, payload: concat(...pieces) });
    }
    return out;
  }
}

function parser(
  expectMasked: boolean,
  allowRsv1?: boolean,
): { parser: FrameParser; sink: Recorder } {
  const sink = new Recorder();
  return { parser: new FrameParser(sink, { expectMasked, allowRsv1 }), sink };
}

describe('parsing the RFC 6455 §5.7 examples', () => {
  eachFeeding((feeding) => {
    test.each(RFC_FRAMES)('parses $name', ({ opcode, fin, payload, mask, bytes }) => {
      const { parser: p, sink } = parser(mask !== undefined);
      feeding.feed(p, bytes);
      const frames = sink.frames();
      expect(frames).toHaveLength(1);
      expect(frames[0]!.header).toEqual({
        fin,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode,
        masked: mask !== undefined,
        length: payload.length,
      });
      expectBytes(frames[0]!.payload, payload);
      expect(p.atFrameBoundary).toBe(true);
    });

    test('parses several frames in one stream, masks reset per frame', () => {
      const { parser: p, sink } = parser(true);
      const mask2 = hex('01020304');
      feeding.feed(
        p,
        concat(
          frame(0x1, 'abc', { mask: RFC_MASK, fin: false }),
          frame(0x9, '', { mask: mask2 }),
          frame(0x0, 'defgh', { mask: mask2 }),
          frame(0x2, pattern(300), { mask: RFC_MASK }),
        ),
      );
      const frames = sink.frames();
      expect(frames.map((f) => [f.header.opcode, f.header.fin, f.header.length])).toEqual([
        [0x1, false, 3],
        [0x9, true, 0],
        [0x0, true, 5],
        [0x2, true, 300],
      ]);
      expect(frames[0]!.payload).toEqual(utf8('abc'));
      expect(frames[2]!.payload).toEqual(utf8('defgh'));
      expectBytes(frames[3]!.payload, pattern(300));
    });
  });
});

describe('zero-copy payloads', () => {
  test('a payload that lies in one chunk is handed out as a view of that chunk', () => {
    const { parser: p, sink } = parser(false);
    const chunk = concat(hex('827e0100'), pattern(256));
    p.push(chunk);
    const payloads = sink.events.filter((e) => e.type === 'payload');
    expect(payloads).toHaveLength(1);
    const data = (payloads[0] as { data: Uint8Array }).data;
    expect(data.buffer).toBe(chunk.buffer);
    expect(data.byteOffset).toBe(4);
    expect(data.length).toBe(256);
  });

  test('a masked payload is unmasked in place in the chunk', () => {
    const { parser: p } = parser(true);
    const chunk = hex('818537fa213d7f9f4d5158');
    p.push(chunk);
    expect(chunk.subarray(6)).toEqual(utf8('Hello'));
  });

  test('a payload split over chunks arrives in pieces, in order', () => {
    const { parser: p, sink } = parser(true);
    const bytes = hex('818537fa213d7f9f4d5158');
    p.push(bytes.slice(0, 8));
    p.push(bytes.slice(8));
    const pieces = sink.events.filter((e) => e.type === 'payload') as { data: Uint8Array }[];
    expect(pieces.map((e) => new TextDecoder().decode(e.data))).toEqual(['He', 'llo']);
  });

  test('an empty frame ends without a payload call', () => {
    const { parser: p, sink } = parser(false);
    p.push(hex('8100'));
    expect(sink.events.map((e) => e.type)).toEqual(['header', 'end']);
  });
});

describe('headers split across chunks', () => {
  test('a 16-bit masked header split at every byte boundary', () => {
    const bytes = frame(0x2, pattern(200), { mask: RFC_MASK });
    for (let split = 0; split <= 8; split++) {
      const { parser: p, sink } = parser(true);
      p.push(bytes.slice(0, split));
      expect(p.atFrameBoundary).toBe(split === 0);
      p.push(bytes.slice(split));
      expectBytes(sink.frames()[0]!.payload, pattern(200));
    }
  });

  test('a 64-bit masked header split at every byte boundary', () => {
    const bytes = frame(0x2, pattern(70_000), { mask: RFC_MASK });
    for (let split = 1; split < 14; split++) {
      const { parser: p, sink } = parser(true);
      p.push(bytes.slice(0, split));
      p.push(bytes.slice(split, 16));
      p.push(bytes.slice(16));
      const frames = sink.frames();
      expect(frames[0]!.header.length).toBe(70_000);
      expectBytes(frames[0]!.payload, pattern(70_000));
    }
  });

  test('atFrameBoundary is false inside a header or payload and true between frames', () => {
    const { parser: p } = parser(false);
    expect(p.atFrameBoundary).toBe(true);
    p.push(hex('81'));
    expect(p.atFrameBoundary).toBe(false);
    p.push(hex('0548'));
    expect(p.atFrameBoundary).toBe(false);
    p.push(hex('656c6c6f'));
    expect(p.atFrameBoundary).toBe(true);
  });

  test('reads 64-bit lengths beyond 2^32 and up to 2^53 - 1 from the header', () => {
    for (const [lengthHex, length] of [
      ['0000000100000000', 2 ** 32],
      ['001fffffffffffff', 2 ** 53 - 1],
    ] as const) {
      const { parser: p, sink } = parser(false);
      p.push(hex(`827f${lengthHex}`));
      expect(sink.events).toEqual([
        {
          type: 'header',
          header: {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode: 2,
            masked: false,
            length,
          },
        },
      ]);
    }
  });
});

describe('halt', () => {
  test('ignores the rest of the chunk and every later chunk', () => {
    const sink = new Recorder();
    const p = new FrameParser(
      {
        onFrameHeader: (h) => sink.onFrameHeader(h),
        onFramePayload: (d) => sink.onFramePayload(d),
        onFrameEnd: () => {
          sink.onFrameEnd();
          p.halt();
        },
      },
      { expectMasked: false },
    );
    p.push(hex('8101 41 8101 42'));
    p.push(hex('8101 43'));
    expect(sink.frames().map((f) => f.payload)).toEqual([utf8('A')]);
  });
});

describe('suspend with lent input', () => {
  /** A parser that suspends after every frame, recording each payload piece (copied) and its type. */
  function suspending(allocate?: (size: number) => Uint8Array) {
    const pieces: { text: string; allocated: boolean }[] = [];
    const p: FrameParser = new FrameParser(
      {
        onFrameHeader: () => {},
        onFramePayload: (data) =>
          pieces.push({ text: String.fromCharCode(...data), allocated: data instanceof Made }),
        onFrameEnd: () => p.suspend(),
      },
      { expectMasked: false, allocate },
    );
    return { p, pieces };
  }
  class Made extends Uint8Array {}

  test('the rest kept on suspend is copied with allocate, intact after the chunk is reused', () => {
    const { p, pieces } = suspending((size) => new Made(size));
    const chunk = hex('8101 41 8101 42 8101 43');
    p.push(chunk, true);
    chunk.fill(0xee);
    p.resume();
    p.resume();
    expect(pieces).toEqual([
      { text: 'A', allocated: false },
      { text: 'B', allocated: true },
      { text: 'C', allocated: true },
    ]);
  });

  test('owned input keeps a view of the rest: no copy', () => {
    const { p, pieces } = suspending((size) => new Made(size));
    const chunk = hex('8101 41 8101 42');
    p.push(chunk);
    chunk[5] = 0x5a; // the 'B' still to be parsed: a view sees the change
    p.resume();
    expect(pieces).toEqual([
      { text: 'A', allocated: false },
      { text: 'Z', allocated: false },
    ]);
  });
});

/** Pushes `bytes` and returns what the parser throws. */
function failure(
  bytes: Uint8Array,
  expectMasked = false,
  allowRsv1 = false,
): { error: unknown; sink: Recorder } {
  const { parser: p, sink } = parser(expectMasked, allowRsv1);
  return { error: thrown(() => p.push(bytes)), sink };
}

describe('protocol errors, decided from the header alone', () => {
  test.each([
    ['RSV1 set with no extension', 'WS_ERR_UNEXPECTED_RSV', 'c100'],
    ['RSV2 set with no extension', 'WS_ERR_UNEXPECTED_RSV', 'a100'],
    ['RSV3 set with no extension', 'WS_ERR_UNEXPECTED_RSV', '9100'],
    ['all RSV bits set with no extension', 'WS_ERR_UNEXPECTED_RSV', 'f100'],
    ['a fragmented close', 'WS_ERR_EXPECTED_FIN', '0800'],
    ['a fragmented ping', 'WS_ERR_EXPECTED_FIN', '0900'],
    ['a fragmented pong', 'WS_ERR_EXPECTED_FIN', '0a00'],
    ['a ping over 125 bytes', 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', '897e007e'],
    ['a pong over 125 bytes', 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', '8a7e007e'],
    ['a close over 125 bytes', 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', '887e007e'],
    [
      'a ping with a 64-bit length over 125 bytes',
      'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
      '897f0000000000000080',
    ],
    ['a 64-bit length with the MSB set', 'WS_ERR_INVALID_PAYLOAD_LENGTH', '827f8000000000000000'],
  ])('%s is 1002 %s', (_name, code, bytes) => {
    const { error, sink } = failure(hex(bytes));
    expectProtocolError(error, code);
    expect(sink.events).toEqual([]);
  });

  test('RSV1 is allowed on data frames once an extension allows it', () => {
    const { parser: p, sink } = parser(false, true);
    p.push(hex('c10141'));
    expect(sink.frames()[0]!.header.rsv1).toBe(true);
    // RSV2/RSV3 stay forbidden.
    expectProtocolError(
      thrown(() => p.push(hex('e100'))),
      'WS_ERR_UNEXPECTED_RSV',
    );
  });

  test('the allowRsv1 setter switches RSV1 on and off', () => {
    const { parser: p, sink } = parser(false);
    p.allowRsv1 = true;
    p.push(hex('c100'));
    expect(sink.frames()).toHaveLength(1);
    p.allowRsv1 = false;
    expectProtocolError(
      thrown(() => p.push(hex('c100'))),
      'WS_ERR_UNEXPECTED_RSV',
    );
  });

  test('RSV1 on a control frame is 1002 even when an extension allows RSV1', () => {
    const { error } = failure(hex('c900'), false, true);
    expectProtocolError(error, 'WS_ERR_UNEXPECTED_RSV');
  });

  test.each([0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf].map((op) => [op.toString(16), op]))(
    'reserved opcode 0x%s is 1002 WS_ERR_INVALID_OPCODE',
    (_name, opcode) => {
      for (const fin of [0x80, 0]) {
        const { error, sink } = failure(new Uint8Array([fin | opcode, 0x00]));
        expectProtocolError(error, 'WS_ERR_INVALID_OPCODE');
        expect(sink.events).toEqual([]);
      }
    },
  );

  test('a 125-byte control frame is fine', () => {
    const { parser: p, sink } = parser(false);
    p.push(concat(hex('897d'), pattern(125)));
    expect(sink.frames()[0]!.header.length).toBe(125);
  });

  test('an unmasked frame to a server is 1002 WS_ERR_EXPECTED_MASK', () => {
    const { error } = failure(hex('810548656c6c6f'), true);
    expectProtocolError(error, 'WS_ERR_EXPECTED_MASK');
  });

  test('a masked frame to a client is 1002 WS_ERR_UNEXPECTED_MASK', () => {
    const { error } = failure(hex('818537fa213d7f9f4d5158'), false);
    expectProtocolError(error, 'WS_ERR_UNEXPECTED_MASK');
  });

  test.each([
    ['2^53', '0020000000000000'],
    ['2^63 - 1', '7fffffffffffffff'],
  ])('a 64-bit length of %s is 1009 WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', (_name, length) => {
    const { error, sink } = failure(hex(`827f${length}`));
    expectWsError(error, PayloadTooBigError, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009);
    expect(sink.events).toEqual([]);
  });

  test('a header error is raised by the byte that completes the header, one byte at a time', () => {
    const { parser: p } = parser(false);
    const bytes = hex('827f8000000000000000');
    for (let i = 0; i < bytes.length - 1; i++) p.push(bytes.slice(i, i + 1));
    expectProtocolError(
      thrown(() => p.push(bytes.slice(-1))),
      'WS_ERR_INVALID_PAYLOAD_LENGTH',
    );
  });

  test('a valid frame before the bad one is delivered first', () => {
    const { parser: p, sink } = parser(false);
    expect(() => feedOneByteAtATime(p, hex('810141 8300'))).toThrow(ProtocolError);
    expect(sink.frames().map((f) => f.payload)).toEqual([utf8('A')]);
  });
});

describe('the sink', () => {
  test('an exception from the sink propagates unchanged and stops the chunk', () => {
    const boom = new Error('boom');
    const payloads: Uint8Array[] = [];
    const p = new FrameParser(
      {
        onFrameHeader: (header) => {
          if (header.opcode === 0x2) throw boom;
        },
        onFramePayload: (data) => payloads.push(data.slice()),
        onFrameEnd: () => {},
      },
      { expectMasked: false },
    );
    expect(thrown(() => p.push(hex('810141 820142')))).toBe(boom);
    expect(payloads).toEqual([utf8('A')]);
  });
});
