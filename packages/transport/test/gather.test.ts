/**
 * The gather buffer (issue 21) over a stream that holds its chunks until a
 * later tick, as an HTTP/2 stream does: bytes it still holds are never
 * written over by another connection's read, and each read still leaves in
 * one write.
 */
import { Duplex } from 'node:stream';
import { ServerConnection } from '@proj/protocol';
import { describe, expect, test } from 'vitest';
import {
  SocketTransport,
  type TransportSocket,
  kOnClose,
  kOnError,
  kOnMessage,
} from '../src/index.js';

/** A Duplex that consumes what is written only on a later tick, recording it then. */
class SlowSink extends Duplex {
  /** Each write as the stream finally consumed it. */
  readonly consumed: Buffer[] = [];
  override _read(): void {}
  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (error?: Error | null) => void,
  ): void {
    setImmediate(() => {
      this.consumed.push(Buffer.from(chunk));
      done();
    });
  }
}

/** A masked binary frame of `payload`. */
function masked(payload: Buffer): Buffer {
  const mask = [9, 8, 7, 6];
  const body = Buffer.from(payload.map((byte, i) => byte ^ mask[i & 3]!));
  return Buffer.concat([Buffer.from([0x82, 0x80 | payload.length, ...mask]), body]);
}

/** An echo transport over a SlowSink. */
function echoOver(sink: SlowSink): SocketTransport {
  const transport: SocketTransport = new SocketTransport({
    socket: sink as TransportSocket,
    connect: (handler) => new ServerConnection({ handler }),
    events: {
      [kOnMessage]: (data, binary) => transport.send(Buffer.from(data), binary, true, false),
      [kOnError]: () => {},
      [kOnClose]: () => {},
    },
    settings: { closeTimeout: 1000 },
  });
  return transport;
}

const unmaskedFrame = (payload: Buffer): Buffer =>
  Buffer.concat([Buffer.from([0x82, payload.length]), payload]);

describe('gathering over a stream that consumes later', () => {
  test("one connection's held bytes survive the next connection's read", async () => {
    const a = new SlowSink();
    const b = new SlowSink();
    const first = echoOver(a);
    const second = echoOver(b);
    const one = [Buffer.from('a-one'), Buffer.from('a-two')];
    const two = [Buffer.from('b-one-longer'), Buffer.from('b-two')];
    first.receive(Buffer.concat(one.map(masked)));
    // The stream still holds A's bytes (a view of the gather buffer).
    expect(a.writableLength).toBeGreaterThan(0);
    second.receive(Buffer.concat(two.map(masked)));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(a.consumed).toEqual([Buffer.concat(one.map(unmaskedFrame))]);
    expect(b.consumed).toEqual([Buffer.concat(two.map(unmaskedFrame))]);
  });

  test('bufferedAmount counts gathered bytes during the read, and the backlog after it', async () => {
    const sink = new SlowSink();
    const seen: number[] = [];
    const transport: SocketTransport = new SocketTransport({
      socket: sink as TransportSocket,
      connect: (handler) => new ServerConnection({ handler }),
      events: {
        [kOnMessage]: (data, binary) => {
          transport.send(Buffer.from(data), binary, true, false);
          seen.push(transport.bufferedAmount);
        },
        [kOnError]: () => {},
        [kOnClose]: () => {},
      },
      settings: { closeTimeout: 1000 },
    });
    transport.receive(Buffer.concat([masked(Buffer.from('xy')), masked(Buffer.from('xyz'))]));
    expect(seen).toEqual([4, 9]);
    expect(transport.bufferedAmount).toBe(9);
    await new Promise((resolve) => setImmediate(resolve));
    expect(transport.bufferedAmount).toBe(0);
    expect(sink.consumed).toHaveLength(1);
  });

  test('frames too large to gather, among small ones: every byte a stream still holds stays as written, in order', async () => {
    const sink = new SlowSink();
    const transport = echoOver(sink);
    const expected: Buffer[] = [];
    for (let i = 0; i < 1500; i++) {
      const size = i % 5 === 4 ? 10 + (i % 7) : 8200 + ((i * 37) % 70_000);
      const payload = Buffer.alloc(size, i & 0xff);
      transport.send(payload, true, true, false);
      const header =
        size < 126
          ? Buffer.from([0x82, size])
          : size < 0x10000
            ? Buffer.from([0x82, 126, size >>> 8, size & 0xff])
            : Buffer.from([
                0x82,
                127,
                0,
                0,
                0,
                0,
                0,
                size >>> 16,
                (size >>> 8) & 0xff,
                size & 0xff,
              ]);
      expected.push(header, payload);
    }
    while (sink.writableLength > 0) await new Promise((resolve) => setImmediate(resolve));
    expect(Buffer.concat(sink.consumed).equals(Buffer.concat(expected))).toBe(true);
  });
});
