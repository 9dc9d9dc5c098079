/**
 * ControlBytes: which bytes of a socket's `bufferedAmount` are the session's
 * own control messages, given that a WebSocket sends its bytes in order.
 */
import { describe, expect, test } from 'vitest';
import { ControlBytes } from '../src/session-control-bytes.js';

describe('ControlBytes', () => {
  test('nothing written: nothing buffered', () => {
    expect(new ControlBytes().buffered(0)).toBe(0);
  });

  test('control messages behind data are counted until the bytes before them are gone', () => {
    const bytes = new ControlBytes();
    bytes.data(100); // 0..100
    bytes.control(6); // 100..106
    bytes.data(10); // 106..116
    bytes.control(7); // 116..123
    expect(bytes.buffered(123)).toBe(13);
    expect(bytes.buffered(20)).toBe(10); // 103 gone: 3 bytes of the first ack left, and the second
    expect(bytes.buffered(17)).toBe(7); // 106 gone: the first ack is gone, the second not
    expect(bytes.buffered(4)).toBe(4); // 119 gone: the second ack partly
    expect(bytes.buffered(0)).toBe(0);
  });

  test('a control message partly sent counts its remaining bytes', () => {
    const bytes = new ControlBytes();
    bytes.control(6);
    expect(bytes.buffered(6)).toBe(6);
    expect(bytes.buffered(2)).toBe(2);
  });

  test('a new socket starts from nothing', () => {
    const bytes = new ControlBytes();
    bytes.control(6);
    bytes.reset();
    bytes.data(5);
    expect(bytes.buffered(5)).toBe(0);
  });

  test('keeps counting after the lists were emptied', () => {
    const bytes = new ControlBytes();
    bytes.control(6);
    expect(bytes.buffered(0)).toBe(0);
    bytes.data(3);
    bytes.control(6);
    expect(bytes.buffered(9)).toBe(6);
    expect(bytes.buffered(6)).toBe(6);
    expect(bytes.buffered(3)).toBe(3);
  });
});
