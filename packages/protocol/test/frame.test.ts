import { describe, expect, test } from 'vitest';
import { encodeFrame, frameHeaderSize, writeFrameHeader } from '../src/frame.js';
import { RFC_FRAMES, RFC_MASK, concat, expectBytes, hex, pattern, utf8 } from './helpers.js';

describe('encodeFrame: RFC 6455 §5.7 examples, byte for byte', () => {
  test.each(RFC_FRAMES)('encodes $name', ({ opcode, fin, payload, mask, bytes }) => {
    expectBytes(concat(...encodeFrame(opcode, payload, { fin, mask })), bytes);
  });
});

describe('encodeFrame', () => {
  test('sets FIN by default and clears it with fin: false', () => {
    expect(encodeFrame(0x1, utf8('a'))).toEqual([hex('810161')]);
    expect(encodeFrame(0x1, utf8('a'), { fin: false })).toEqual([hex('010161')]);
  });

  test('sets RSV1, RSV2 and RSV3 when asked', () => {
    expect(encodeFrame(0x2, new Uint8Array(0), { rsv1: true })[0]).toEqual(hex('c200'));
    expect(encodeFrame(0x2, new Uint8Array(0), { rsv2: true })[0]).toEqual(hex('a200'));
    expect(encodeFrame(0x2, new Uint8Array(0), { rsv3: true })[0]).toEqual(hex('9200'));
  });

  test('encodes an empty frame, masked and unmasked', () => {
    expect(encodeFrame(0x8, new Uint8Array(0))).toEqual([hex('8800')]);
    expect(encodeFrame(0x8, new Uint8Array(0), { mask: RFC_MASK })).toEqual([hex('888037fa213d')]);
  });

  test('never masks the payload in place', () => {
    const payload = utf8('Hello');
    encodeFrame(0x1, payload, { mask: RFC_MASK });
    expect(payload).toEqual(utf8('Hello'));
  });

  test('copies an unmasked payload of up to 1 KiB behind its header', () => {
    const payload = pattern(1024);
    const chunks = encodeFrame(0x2, payload);
    expect(chunks).toHaveLength(1);
    expectBytes(chunks[0]!, concat(hex('827e0400'), payload));
  });

  test('returns an unmasked payload above 1 KiB as its own chunk, without copying', () => {
    const payload = pattern(1025);
    const chunks = encodeFrame(0x2, payload);
    expect(chunks).toHaveLength(2);
    expect(chunks[0]).toEqual(hex('827e0401'));
    expect(chunks[1]).toBe(payload);
  });

  test('masks a large payload into one new buffer', () => {
    const payload = pattern(70_000);
    const chunks = encodeFrame(0x2, payload, { mask: RFC_MASK });
    expect(chunks).toHaveLength(1);
    const out = chunks[0]!;
    expect(out.subarray(0, 14)).toEqual(hex('82ff 0000000000011170 37fa213d'));
    const unmasked = out.subarray(14).map((b, i) => b ^ RFC_MASK[i & 3]!);
    expectBytes(unmasked, payload);
  });
});

describe('frameHeaderSize', () => {
  test.each([
    [0, 2],
    [125, 2],
    [126, 4],
    [65535, 4],
    [65536, 10],
    [2 ** 53 - 1, 10],
  ])('a %i-byte payload needs a %i-byte header, 4 more when masked', (length, size) => {
    expect(frameHeaderSize(length, false)).toBe(size);
    expect(frameHeaderSize(length, true)).toBe(size + 4);
  });
});

describe('writeFrameHeader', () => {
  test('writes at an offset and returns the offset after the header', () => {
    const target = new Uint8Array(20).fill(0xee);
    expect(writeFrameHeader(target, 3, 0x1, 5, { mask: RFC_MASK })).toBe(9);
    expect(target.subarray(0, 10)).toEqual(hex('eeeeee 8185 37fa213d ee'));
  });

  test('uses the shortest length form at each boundary', () => {
    const header = (length: number): Uint8Array => {
      const target = new Uint8Array(14);
      return target.subarray(0, writeFrameHeader(target, 0, 0x2, length));
    };
    expect(header(125)).toEqual(hex('827d'));
    expect(header(126)).toEqual(hex('827e007e'));
    expect(header(65535)).toEqual(hex('827effff'));
    expect(header(65536)).toEqual(hex('827f0000000000010000'));
  });

  test('encodes lengths beyond 2^32 as 64-bit big-endian', () => {
    const target = new Uint8Array(10);
    writeFrameHeader(target, 0, 0x2, 2 ** 32 + 5);
    expect(target).toEqual(hex('827f 0000000100000005'));
    writeFrameHeader(target, 0, 0x2, 2 ** 53 - 1);
    expect(target).toEqual(hex('827f 001fffffffffffff'));
  });

  test('keeps only the low nibble of the opcode', () => {
    const target = new Uint8Array(2);
    writeFrameHeader(target, 0, 0xf1, 0);
    expect(target).toEqual(hex('8100'));
  });
});
