import { describe, expect, test } from 'vitest';
import {
  EMPTY,
  bufferOf,
  byteOffsetOf,
  concatBytes,
  copyInto,
  indexOfHeadEnd,
  toBytes,
} from '../src/bytes.js';
import { hex, utf8 } from './helpers.js';

describe('concatBytes', () => {
  test('joins chunks in order', () => {
    expect(concatBytes([hex('0102'), hex(''), hex('03')])).toEqual(hex('010203'));
  });

  test('returns a single chunk as is, without copying', () => {
    const only = hex('0102');
    expect(concatBytes([only])).toBe(only);
    expect(concatBytes([only], 2)).toBe(only);
  });

  test('copies a single chunk when the total length differs', () => {
    const only = hex('0102');
    const out = concatBytes([only], 3);
    expect(out).not.toBe(only);
    expect(out).toEqual(hex('010200'));
  });

  test('uses a given total length', () => {
    expect(concatBytes([hex('01'), hex('02')], 2)).toEqual(hex('0102'));
  });

  test('joins nothing into an empty array', () => {
    expect(concatBytes([])).toEqual(new Uint8Array(0));
  });
});

describe('toBytes', () => {
  test('returns a Uint8Array as is', () => {
    const bytes = hex('01');
    expect(toBytes(bytes)).toBe(bytes);
  });

  test('views an ArrayBuffer without copying', () => {
    const buffer = new ArrayBuffer(4);
    const bytes = toBytes(buffer);
    new Uint8Array(buffer)[2] = 7;
    expect(bytes).toEqual(hex('00000700'));
  });

  test('views a SharedArrayBuffer', () => {
    expect(toBytes(new SharedArrayBuffer(3)).length).toBe(3);
  });

  test('views the exact bytes of any ArrayBufferView at its offset', () => {
    const buffer = new ArrayBuffer(8);
    const words = new Uint16Array(buffer, 2, 2);
    words[0] = 0x0102;
    const bytes = toBytes(words);
    expect(bytes.byteOffset).toBe(2);
    expect(bytes.length).toBe(4);
    expect(bytes.buffer).toBe(buffer);
    const view = new DataView(buffer, 6, 1);
    view.setUint8(0, 9);
    expect(toBytes(view)).toEqual(hex('09'));
  });
});

describe('indexOfHeadEnd', () => {
  test('finds the first blank line', () => {
    expect(indexOfHeadEnd(utf8('a\r\n\r\nb\r\n\r\n'))).toBe(1);
    expect(indexOfHeadEnd(utf8('\r\n\r\n'))).toBe(0);
  });

  test('returns -1 without a blank line', () => {
    expect(indexOfHeadEnd(utf8('a\r\n\r'))).toBe(-1);
    expect(indexOfHeadEnd(utf8('a\n\n'))).toBe(-1);
    expect(indexOfHeadEnd(EMPTY)).toBe(-1);
  });

  test('starts at `from` (negative means 0)', () => {
    expect(indexOfHeadEnd(utf8('\r\n\r\nx\r\n\r\n'), 1)).toBe(5);
    expect(indexOfHeadEnd(utf8('\r\n\r\n'), -5)).toBe(0);
  });
});

describe('the typed-array builtins called directly', () => {
  test('copyInto copies all of the source at the offset, as set does', () => {
    const target = hex('0000000000');
    copyInto(target, hex('0102'), 2);
    expect(target).toEqual(hex('0000010200'));
    copyInto(target, hex('09'));
    expect(target).toEqual(hex('0900010200'));
  });

  test('copyInto handles overlapping views of one buffer, and Buffers', () => {
    const bytes = hex('0102030405');
    copyInto(bytes, bytes.subarray(0, 3), 2);
    expect(bytes).toEqual(hex('0102010203'));
    const target = Buffer.alloc(3);
    copyInto(target, Buffer.from([7, 8]), 1);
    expect([...target]).toEqual([0, 7, 8]);
  });

  test('copyInto throws a RangeError past the end, copying nothing', () => {
    const target = hex('000000');
    expect(() => copyInto(target, hex('0102'), 2)).toThrow(RangeError);
    expect(target).toEqual(hex('000000'));
  });

  test('bufferOf and byteOffsetOf tell where a view lies', () => {
    const memory = new ArrayBuffer(16);
    const view = new Uint8Array(memory, 5, 4);
    expect(bufferOf(view)).toBe(memory);
    expect(byteOffsetOf(view)).toBe(5);
    const pooled = Buffer.from('pooled');
    expect(bufferOf(pooled)).toBe(pooled.buffer);
    expect(byteOffsetOf(pooled)).toBe(pooled.byteOffset);
  });

  test('they refuse what is not a typed array', () => {
    expect(() => byteOffsetOf(new DataView(new ArrayBuffer(4)) as unknown as Uint8Array)).toThrow(
      TypeError,
    );
    expect(() => copyInto({} as Uint8Array, hex('01'))).toThrow(TypeError);
  });
});
