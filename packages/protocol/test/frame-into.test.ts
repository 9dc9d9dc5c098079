import { describe, expect, test } from 'vitest';
import { ClientConnection } from '../src/client-connection.js';
import type { ConnectionHandler } from '../src/connection.js';
import { encodeFrame, encodeFrameInto, frameHeaderSize } from '../src/frame.js';
import { acceptKey } from '../src/handshake.js';
import { ServerConnection } from '../src/server-connection.js';
import { RFC_FRAMES, RFC_MASK, concat, expectBytes, pattern, utf8 } from './helpers.js';

/** encodeFrameInto at `offset` of a buffer filled with 0xee; returns the buffer and the end. */
function into(
  offset: number,
  opcode: number,
  payload: Uint8Array,
  options: Parameters<typeof encodeFrame>[2] = {},
): { target: Uint8Array; end: number } {
  const target = new Uint8Array(
    offset + frameHeaderSize(payload.length, !!options.mask) + payload.length + 8,
  ).fill(0xee);
  return { target, end: encodeFrameInto(target, offset, opcode, payload, options) };
}

describe('encodeFrameInto: the bytes of encodeFrame, concatenated, written in place', () => {
  test.each(RFC_FRAMES)('RFC 6455 §5.7: $name', ({ opcode, fin, payload, mask, bytes }) => {
    const { target, end } = into(3, opcode, payload, { fin, mask });
    expect(end).toBe(3 + bytes.length);
    expectBytes(target.subarray(3, end), bytes);
  });

  // Every length encoding (7-bit, 16-bit, 64-bit), both sides of the small-
  // payload loops and of encodeFrame's 1 KiB copy threshold, masked or not,
  // with every flag.
  const sizes = [0, 1, 31, 32, 125, 126, 1024, 1025, 65535, 65536];
  test.each(sizes)('%i-byte payloads, masked and unmasked, with flags', (size) => {
    const payload = pattern(size);
    for (const options of [
      {},
      { mask: RFC_MASK },
      { fin: false, rsv1: true },
      { rsv2: true, rsv3: true, mask: Uint8Array.of(1, 2, 3, 4) },
    ]) {
      for (const opcode of [0x0, 0x1, 0x2, 0x9]) {
        const { target, end } = into(5, opcode, payload, options);
        const expected = concat(...encodeFrame(opcode, payload, options));
        expect(end).toBe(5 + expected.length);
        expectBytes(target.subarray(5, end), expected);
        // Nothing outside the frame is touched.
        expect([...target.subarray(0, 5), ...target.subarray(end)].every((b) => b === 0xee)).toBe(
          true,
        );
      }
    }
  });

  test('never masks the payload in place', () => {
    const payload = pattern(100);
    const copy = payload.slice();
    into(0, 0x2, payload, { mask: RFC_MASK });
    into(0, 0x2, payload.subarray(0, 10), { mask: RFC_MASK });
    expect(payload).toEqual(copy);
  });

  test('throws a RangeError, writing nothing, when the frame does not fit', () => {
    const target = new Uint8Array(10).fill(0xee);
    expect(() => encodeFrameInto(target, 3, 0x2, pattern(6))).toThrow(RangeError);
    expect(() => encodeFrameInto(target, 0, 0x2, pattern(5), { mask: RFC_MASK })).toThrow(
      /does not fit at offset 0 of 10/,
    );
    expect(() => encodeFrameInto(target, -1, 0x2, pattern(1))).toThrow(RangeError);
    expect(target.every((b) => b === 0xee)).toBe(true);
    // Exactly fitting is fine.
    expect(encodeFrameInto(target, 2, 0x2, pattern(6))).toBe(10);
  });
});

describe('ConnectionHandler.writeFrame: the handler encodes the frame itself', () => {
  function handlerWith(accept: boolean) {
    const calls: unknown[][] = [];
    const writes: Uint8Array[] = [];
    const handler: ConnectionHandler = {
      write: (chunks) => writes.push(concat(...chunks)),
      writeFrame: (...args) => {
        calls.push(args);
        return accept;
      },
      end: () => {},
      onMessage: () => {},
      onError: () => {},
      onClose: () => {},
    };
    return { handler, calls, writes };
  }

  test('a frame it takes is not encoded again; one it declines comes to write() encoded', () => {
    const taken = handlerWith(true);
    const server = new ServerConnection({ handler: taken.handler });
    server.sendBinary(utf8('hi'), { fin: false });
    expect(taken.calls).toEqual([[0x2, utf8('hi'), false, false, undefined]]);
    expect(taken.writes).toEqual([]);

    const declined = handlerWith(false);
    const other = new ServerConnection({ handler: declined.handler });
    other.sendText('hi');
    other.sendPing('p');
    expect(declined.calls.map(([opcode]) => opcode)).toEqual([0x1, 0x9]);
    expect(declined.writes).toEqual([
      concat(...encodeFrame(0x1, utf8('hi'))),
      concat(...encodeFrame(0x9, utf8('p'))),
    ]);
  });

  test("a client's frame comes with its mask, the one written when declined", () => {
    const { handler, calls, writes } = handlerWith(false);
    const client = new ClientConnection({ handler, host: 'h', maskSource: () => RFC_MASK });
    client.receiveData(
      utf8(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${acceptKey(client.key)}\r\n\r\n`,
      ),
    );
    writes.length = 0;
    client.sendBinary(utf8('abc'));
    expect(calls.at(-1)).toEqual([0x2, utf8('abc'), true, false, RFC_MASK]);
    expect(writes).toEqual([concat(...encodeFrame(0x2, utf8('abc'), { mask: RFC_MASK }))]);
  });
});
