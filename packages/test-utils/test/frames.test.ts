/**
 * The independent frame builder and decoder, checked against RFC 6455 itself
 * (the §5.7 examples byte for byte, the §5.2 header rules one by one), never
 * against @proj/protocol: this is the judge the conformance suite and the
 * socket tests rely on.
 */
import { describe, expect, test } from 'vitest';
import {
  FrameDecoder,
  FrameRuleError,
  OP,
  type WireHeader,
  buildFrame,
  closeBody,
  decodeFrame,
  decodeFrames,
  readCloseBody,
  readHeader,
  thrown,
} from '../src/index.js';

const hex = (text: string): Uint8Array => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const pattern = (length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => i & 0xff);
const MASK = hex('37fa213d');

/** The examples of RFC 6455 §5.7. */
const EXAMPLES = [
  { name: 'unmasked text "Hello"', bytes: '810548656c6c6f', op: OP.Text, fin: true, text: 'Hello' },
  {
    name: 'masked text "Hello"',
    bytes: '818537fa213d7f9f4d5158',
    op: OP.Text,
    fin: true,
    text: 'Hello',
    mask: MASK,
  },
  { name: 'first fragment "Hel"', bytes: '0103 48656c', op: OP.Text, fin: false, text: 'Hel' },
  { name: 'last fragment "lo"', bytes: '8002 6c6f', op: OP.Continuation, fin: true, text: 'lo' },
  { name: 'unmasked ping "Hello"', bytes: '890548656c6c6f', op: OP.Ping, fin: true, text: 'Hello' },
  {
    name: 'masked pong "Hello"',
    bytes: '8a8537fa213d7f9f4d5158',
    op: OP.Pong,
    fin: true,
    text: 'Hello',
    mask: MASK,
  },
] as const;

describe('buildFrame (RFC 6455 §5.2, §5.7)', () => {
  for (const example of EXAMPLES) {
    test(`builds the §5.7 example: ${example.name}`, () => {
      const mask = 'mask' in example ? example.mask : undefined;
      const bytes = buildFrame(example.op, example.text, { fin: example.fin, mask });
      expect(toHex(bytes)).toBe(toHex(hex(example.bytes)));
    });
  }

  test('uses the 16-bit length from 126 bytes and the 64-bit length from 65536 (§5.7)', () => {
    expect(toHex(buildFrame(OP.Binary, pattern(125)).subarray(0, 2))).toBe('827d');
    expect(toHex(buildFrame(OP.Binary, pattern(256)).subarray(0, 4))).toBe('827e0100');
    expect(toHex(buildFrame(OP.Binary, pattern(65535)).subarray(0, 4))).toBe('827effff');
    expect(toHex(buildFrame(OP.Binary, pattern(65536)).subarray(0, 10))).toBe(
      '827f0000000000010000',
    );
  });

  test('sets RSV bits and an overridden 7-bit length as asked', () => {
    const bytes = buildFrame(OP.Text, 'x', { rsv1: true, rsv2: true, rsv3: true, length7: 127 });
    expect(toHex(bytes)).toBe('f17f78');
  });

  test('closeBody and readCloseBody (§5.5.1)', () => {
    expect(toHex(closeBody(1000, 'ok'))).toBe('03e86f6b');
    expect(readCloseBody(closeBody(4999, 'é'))).toEqual({ code: 4999, reason: 'é' });
    expect(readCloseBody(new Uint8Array(0))).toEqual({ code: undefined, reason: '' });
  });
});

describe('readHeader', () => {
  test('waits for the whole header: 2, 4, 10 bytes, plus 4 for the key', () => {
    const frame = buildFrame(OP.Binary, pattern(70_000), { mask: MASK });
    for (let n = 0; n < 14; n++) expect(readHeader(frame.subarray(0, n))).toBeUndefined();
    const header = readHeader(frame.subarray(0, 14))!;
    expect(header).toMatchObject({ opcode: 2, fin: true, masked: true, length: 70_000, size: 14 });
    expect(toHex(header.mask!)).toBe('37fa213d');
  });

  test('flags an overlong length and a set most significant bit (§5.2)', () => {
    expect(readHeader(hex('827e0005'))!.overlong).toBe(true);
    expect(readHeader(hex('827f000000000000ffff'))!.overlong).toBe(true);
    expect(readHeader(hex('827f8000000000000000'))!.lengthMsb).toBe(true);
    expect(readHeader(hex('827f0000000000010000'))).toMatchObject({
      overlong: false,
      lengthMsb: false,
      length: 65536,
    });
  });
});

describe('FrameDecoder', () => {
  test('decodes the §5.7 examples fed whole and one byte at a time', () => {
    for (const example of EXAMPLES) {
      const bytes = hex(example.bytes);
      const masked = 'mask' in example;
      for (const step of [bytes.length, 1]) {
        const decoder = new FrameDecoder({ expectMasked: masked });
        for (let i = 0; i < bytes.length; i += step) decoder.push(bytes.subarray(i, i + step));
        expect(decoder.frames).toHaveLength(1);
        const [frame] = decoder.frames;
        expect(frame).toMatchObject({ opcode: example.op, fin: example.fin, masked, rsv: 0 });
        expect(frame!.payload.toString()).toBe(example.text);
      }
    }
  });

  test('a stream of frames at every split point gives the same frames', () => {
    const stream = Buffer.concat([
      buildFrame(OP.Text, 'Hel', { fin: false, mask: MASK }),
      buildFrame(OP.Ping, 'p', { mask: hex('01020304') }),
      buildFrame(OP.Continuation, 'lo', { mask: MASK }),
      buildFrame(OP.Binary, pattern(300), { mask: MASK }),
      buildFrame(OP.Close, closeBody(1000), { mask: MASK }),
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new FrameDecoder({ expectMasked: true });
      const done = [
        ...decoder.push(stream.subarray(0, cut)),
        ...decoder.push(stream.subarray(cut)),
      ];
      expect(done).toEqual(decoder.frames);
      expect(decoder.frames.map((f) => [f.opcode, f.fin, toHex(f.payload)])).toEqual([
        [OP.Text, false, toHex(Buffer.from('Hel'))],
        [OP.Ping, true, toHex(Buffer.from('p'))],
        [OP.Continuation, true, toHex(Buffer.from('lo'))],
        [OP.Binary, true, toHex(pattern(300))],
        [OP.Close, true, '03e8'],
      ]);
    }
  });

  test('reads a 1 MiB masked frame in 64 KiB chunks', () => {
    const payload = pattern(1 << 20);
    const frame = buildFrame(OP.Binary, payload, { mask: MASK });
    const decoder = new FrameDecoder({ expectMasked: true });
    for (let i = 0; i < frame.length; i += 65536) decoder.push(frame.subarray(i, i + 65536));
    expect(decoder.frames).toHaveLength(1);
    expect(Buffer.compare(decoder.frames[0]!.payload, payload)).toBe(0);
  });

  test('reports each header as soon as it is complete, before the payload', () => {
    const headers: WireHeader[] = [];
    const decoder = new FrameDecoder(
      { expectMasked: false },
      { onHeader: (header) => headers.push(header) },
    );
    const frame = buildFrame(OP.Binary, pattern(200));
    decoder.push(frame.subarray(0, 4));
    expect(headers.map((h) => h.length)).toEqual([200]);
    expect(decoder.frames).toEqual([]);
    decoder.push(frame.subarray(4));
    expect(decoder.frames).toHaveLength(1);
  });

  test('reports headers and frames in stream order', () => {
    const seen: string[] = [];
    const decoder = new FrameDecoder(
      { expectMasked: false },
      {
        onHeader: (header) => seen.push(`header ${header.opcode}`),
        onFrame: (frame) => seen.push(`frame ${frame.opcode}`),
      },
    );
    decoder.push(Buffer.concat([buildFrame(OP.Text, 'a'), buildFrame(OP.Close, closeBody(1000))]));
    expect(seen).toEqual(['header 1', 'frame 1', 'header 8', 'frame 8']);
  });

  test('what the listener throws stops the push', () => {
    const decoder = new FrameDecoder(undefined, {
      onHeader: () => {
        throw new Error('no');
      },
    });
    expect(() => decoder.push(buildFrame(OP.Text, 'a'))).toThrow('no');
    expect(decoder.frames).toEqual([]);
  });

  test('without rules it only splits frames', () => {
    const decoder = new FrameDecoder();
    decoder.push(buildFrame(0x3, 'x', { rsv2: true, mask: MASK }));
    decoder.push(buildFrame(OP.Ping, pattern(200), { fin: false }));
    expect(decoder.frames.map((f) => [f.opcode, f.rsv, f.masked])).toEqual([
      [3, 2, true],
      [OP.Ping, 0, false],
    ]);
  });

  describe('holds a peer to RFC 6455 §5', () => {
    const fromServer = { expectMasked: false };
    const cases: [string, Uint8Array, { expectMasked: boolean; allowRsv1?: boolean }, string][] = [
      ['RSV1 without an extension', buildFrame(OP.Text, 'x', { rsv1: true }), fromServer, '§5.2'],
      ['RSV2', buildFrame(OP.Text, 'x', { rsv2: true }), fromServer, '§5.2'],
      ['RSV3', buildFrame(OP.Binary, 'x', { rsv3: true }), fromServer, '§5.2'],
      [
        'RSV1 on a control frame even with compression',
        buildFrame(OP.Ping, 'x', { rsv1: true }),
        { expectMasked: false, allowRsv1: true },
        '§5.2',
      ],
      ['reserved data opcode 3', buildFrame(0x3, 'x'), fromServer, '§5.2'],
      ['reserved data opcode 7', buildFrame(0x7, 'x'), fromServer, '§5.2'],
      ['reserved control opcode 0xB', buildFrame(0xb, 'x'), fromServer, '§5.2'],
      ['reserved control opcode 0xF', buildFrame(0xf, 'x'), fromServer, '§5.2'],
      ['a fragmented ping', buildFrame(OP.Ping, 'x', { fin: false }), fromServer, '§5.5'],
      ['a 126-byte close', buildFrame(OP.Close, pattern(126)), fromServer, '§5.5'],
      [
        'a masked frame from a server',
        buildFrame(OP.Text, 'x', { mask: MASK }),
        fromServer,
        '§5.1',
      ],
      ['an unmasked frame from a client', buildFrame(OP.Text, 'x'), { expectMasked: true }, '§5.1'],
      ['a 64-bit length with its top bit set', hex('827f8000000000000001'), fromServer, '§5.2'],
      ['a 16-bit length for 5 bytes', hex('817e0005 48656c6c6f'), fromServer, '§5.2'],
      ['a 64-bit length for 300 bytes', hex('827f000000000000012c'), fromServer, '§5.2'],
    ];
    for (const [name, bytes, rules, rule] of cases) {
      test(`refuses ${name} at its header`, () => {
        const decoder = new FrameDecoder(rules);
        const header = bytes.subarray(0, readHeader(bytes)!.size);
        const error = thrown(() => decoder.push(header));
        expect(error).toBeInstanceOf(FrameRuleError);
        expect((error as FrameRuleError).rule).toBe(rule);
        expect(decoder.frames).toEqual([]);
      });
    }

    test('allows RSV1 on data frames when compression is negotiated', () => {
      const decoder = new FrameDecoder({ expectMasked: false, allowRsv1: true });
      decoder.push(buildFrame(OP.Text, 'x', { rsv1: true }));
      expect(decoder.frames.map((f) => [f.rsv1, f.rsv])).toEqual([[true, 4]]);
    });

    test('allows the largest control frame, 125 bytes', () => {
      const decoder = new FrameDecoder({ expectMasked: true });
      decoder.push(buildFrame(OP.Pong, pattern(125), { mask: MASK }));
      expect(decoder.frames[0]!.payload.length).toBe(125);
    });
  });
});

describe('decodeFrame / decodeFrames', () => {
  test('decode whole frames in a buffer, unmasking them', () => {
    const bytes = Buffer.concat([
      buildFrame(OP.Text, 'a', { mask: MASK }),
      buildFrame(OP.Binary, pattern(70_000)),
    ]);
    const frames = decodeFrames(bytes);
    expect(frames.map((f) => [f.opcode, f.masked, f.payload.length])).toEqual([
      [OP.Text, true, 1],
      [OP.Binary, false, 70_000],
    ]);
    expect(Buffer.from(frames[0]!.payload).toString()).toBe('a');
  });

  test('throw on a frame that is not all there', () => {
    expect(() => decodeFrame(buildFrame(OP.Text, 'abc').subarray(0, 4))).toThrow(/whole frame/);
  });
});
