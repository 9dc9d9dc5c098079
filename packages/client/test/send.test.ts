/**
 * send() and bufferedAmount, one test per rule.
 * @see https://websockets.spec.whatwg.org/#dom-websocket-send
 * @see https://websockets.spec.whatwg.org/#dom-websocket-bufferedamount
 */
import { once } from 'node:events';
import { describe, expect, test } from 'vitest';
import type { RawData, WebSocket as PeerSocket } from 'ws';
import { WebSocket } from '@proj/client';
import { expectDomException, onCleanup, turns, until } from '@proj/test-utils';
import {
  connect,
  frame,
  nextEvent,
  openPair,
  parseClientFrames,
  startAccepting,
  startPeer,
} from './helpers.js';

interface Received {
  data: Buffer;
  isBinary: boolean;
}

/** Everything the peer receives, in order. */
function receive(peer: PeerSocket): Received[] {
  const received: Received[] = [];
  peer.on('message', (data: RawData, isBinary) => {
    received.push({ data: Buffer.from(data as Buffer), isBinary });
  });
  return received;
}

/** An open client and its `ws` peer, recording what the peer receives. */
async function openRecording(): Promise<{ ws: WebSocket; peer: PeerSocket; received: Received[] }> {
  const { ws, peer } = await openPair();
  return { ws, peer, received: receive(peer) };
}

describe('send(data)', () => {
  test('WebIDL: the data argument is required', async () => {
    const { ws } = await openPair();
    // @ts-expect-error: testing the missing argument
    expect(() => ws.send()).toThrow(TypeError);
  });

  test('1. while CONNECTING it throws InvalidStateError, for every type of data', async () => {
    const server = await startPeer();
    const ws = connect(server.url);
    for (const data of ['x', new ArrayBuffer(1), new Uint8Array(1), new Blob(['x'])]) {
      expectDomException(() => ws.send(data), 'InvalidStateError');
    }
    expect(ws.bufferedAmount).toBe(0);
  });

  test('2. a string is sent as a text message of its UTF-8 bytes', async () => {
    const { ws, peer, received } = await openRecording();
    ws.send('héllo wörld ✓ 😀');
    await once(peer, 'message');
    expect(received).toEqual([{ data: Buffer.from('héllo wörld ✓ 😀'), isBinary: false }]);
  });

  test('2. a string grows bufferedAmount by its UTF-8 length', async () => {
    const { ws } = await openPair();
    ws.send('é€😀'); // 2 + 3 + 4 bytes
    expect(ws.bufferedAmount).toBe(9);
    ws.send('abc');
    expect(ws.bufferedAmount).toBe(12);
  });

  test('2. a USVString: a lone surrogate is sent as U+FFFD (3 bytes)', async () => {
    const { ws, peer, received } = await openRecording();
    ws.send('a\uD800b');
    expect(ws.bufferedAmount).toBe(5);
    await once(peer, 'message');
    expect(received[0]!.data.toString()).toBe('a\uFFFDb');
  });

  test('2. any other value is converted to a string', async () => {
    const { ws, peer, received } = await openRecording();
    ws.send(42 as unknown as string);
    await once(peer, 'message');
    expect(received).toEqual([{ data: Buffer.from('42'), isBinary: false }]);
  });

  test('2. an ArrayBuffer is sent as a binary message', async () => {
    const { ws, peer, received } = await openRecording();
    ws.send(new Uint8Array([1, 2, 3]).buffer);
    expect(ws.bufferedAmount).toBe(3);
    await once(peer, 'message');
    expect(received).toEqual([{ data: Buffer.from([1, 2, 3]), isBinary: true }]);
  });

  test('2. an ArrayBufferView sends only the bytes it views', async () => {
    const { ws, received } = await openRecording();
    const bytes = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
    ws.send(bytes.subarray(2, 5));
    ws.send(new DataView(bytes.buffer, 6, 2));
    ws.send(new Uint16Array(bytes.buffer, 0, 1));
    expect(ws.bufferedAmount).toBe(3 + 2 + 2);
    await until(() => received.length === 3);
    expect(received.map((r) => [...r.data])).toEqual([
      [2, 3, 4],
      [6, 7],
      [0, 1],
    ]);
    expect(received.every((r) => r.isBinary)).toBe(true);
  });

  test('2. a view over a SharedArrayBuffer is a TypeError', async () => {
    const { ws } = await openPair();
    expect(() => ws.send(new Uint8Array(new SharedArrayBuffer(4)))).toThrow(TypeError);
  });

  test('2. the data is what the buffer held when send() was called', async () => {
    const { ws, peer, received } = await openRecording();
    const bytes = new Uint8Array([1, 2, 3]);
    ws.send(bytes);
    bytes.fill(9);
    await once(peer, 'message');
    expect([...received[0]!.data]).toEqual([1, 2, 3]);
  });

  test('2. a Blob is sent as a binary message of its bytes', async () => {
    const { ws, peer, received } = await openRecording();
    ws.send(new Blob(['ab', new Uint8Array([0xff])]));
    expect(ws.bufferedAmount).toBe(3);
    await once(peer, 'message');
    expect(received).toEqual([{ data: Buffer.from([0x61, 0x62, 0xff]), isBinary: true }]);
  });

  test('2. a Blob keeps its place among the other sends', async () => {
    const { ws, received } = await openRecording();
    const later = new Uint8Array([7]);
    ws.send('first');
    ws.send(new Blob(['second']));
    ws.send('third');
    ws.send(later);
    later[0] = 8; // queued behind the Blob: must have been copied
    ws.send(new Blob(['fifth']));
    ws.send(new Blob([]));
    ws.send('seventh');
    await until(() => received.length === 7);
    expect(received.map((r) => [r.data.toString('latin1'), r.isBinary])).toEqual([
      ['first', false],
      ['second', true],
      ['third', false],
      ['\x07', true],
      ['fifth', true],
      ['', true],
      ['seventh', false],
    ]);
  });

  test('2. close() right after a Blob still sends the Blob first', async () => {
    const { ws, peer, received } = await openRecording();
    ws.send(new Blob(['last words']));
    ws.close(4001, 'done');
    const [code, reason] = (await once(peer, 'close')) as [number, Buffer];
    expect(received.map((r) => r.data.toString())).toEqual(['last words']);
    expect([code, reason.toString()]).toEqual([4001, 'done']);
  });

  test('2. while CLOSING the data is discarded but bufferedAmount still grows', async () => {
    const { ws, peer, received } = await openRecording();
    const closed = nextEvent(ws, 'close');
    ws.close();
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    ws.send('dropped');
    ws.send(new ArrayBuffer(5));
    ws.send(new Blob(['abc']));
    expect(ws.bufferedAmount).toBe(7 + 5 + 3);
    await once(peer, 'close');
    await closed;
    expect(received).toEqual([]);
    // Never handed to the network, so it never drains.
    await turns();
    expect(ws.bufferedAmount).toBe(15);
  });

  test('2. while CLOSED send() does nothing but grow bufferedAmount', async () => {
    const { ws } = await openPair();
    ws.close();
    await nextEvent(ws, 'close');
    expect(ws.readyState).toBe(WebSocket.CLOSED);
    expect(() => ws.send('xyz')).not.toThrow();
    expect(ws.bufferedAmount).toBe(3);
  });

  test('2. once the server started closing, sends are discarded, even while still OPEN', async () => {
    // The message and the close frame arrive in one chunk: when the message
    // event runs, readyState is still OPEN (the CLOSING task comes next) but
    // the closing handshake has started, so the data is not sent.
    let fromClient = Buffer.alloc(0);
    const raw = await startAccepting((socket) => {
      socket.on('data', (chunk: Buffer) => (fromClient = Buffer.concat([fromClient, chunk])));
      socket.write(Buffer.concat([frame(0x1, 'last'), frame(0x8, Buffer.from([0x03, 0xe8]))]));
    });
    const ws = connect(raw.url, [], { closeTimeout: 500 });
    const closed = nextEvent(ws, 'close');
    const message = await nextEvent(ws, 'message');
    expect(message.data).toBe('last');
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.send('too late');
    expect(ws.bufferedAmount).toBe(8);
    await until(() => ws.readyState === WebSocket.CLOSING);
    // Only our close frame, echoing 1000, went out (once the message was
    // handled: the close frame behind it took effect only then).
    await until(() => fromClient.length > 0);
    expect(parseClientFrames(fromClient)).toEqual([
      { opcode: 0x8, payload: Buffer.from([0x03, 0xe8]) },
    ]);
    ws.close(); // nothing more to do: already CLOSING
    await turns();
    expect(parseClientFrames(fromClient)).toHaveLength(1);
    // The server never closes the TCP connection: the close timeout does.
    const close = await closed;
    expect([close.code, close.wasClean]).toEqual([1000, true]);
  });
});

describe('bufferedAmount', () => {
  test('does not count framing: only application bytes', async () => {
    const { ws } = await openPair();
    ws.send(new Uint8Array(70_000)); // an 8-byte length and a mask on the wire
    expect(ws.bufferedAmount).toBe(70_000);
  });

  test('does not change within the task that sent, even after microtasks', async () => {
    const { ws } = await openPair();
    ws.send('12345');
    await Promise.resolve();
    await new Promise<void>((resolve) => process.nextTick(resolve));
    expect(ws.bufferedAmount).toBe(5);
  });

  test('falls back to 0 once the data is handed to the kernel', async () => {
    const { ws, received } = await openRecording();
    ws.send('abc');
    ws.send(new Uint8Array(1000));
    expect(ws.bufferedAmount).toBe(1003);
    await until(() => ws.bufferedAmount === 0);
    await until(() => received.length === 2);
  });

  test('stays up while the peer does not read, and drains when it does', async () => {
    const { ws, peer, received } = await openRecording();
    const socket = (peer as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();
    const size = 16 * 1024 * 1024;
    // Two 16 MiB messages cannot both fit in the kernel's socket buffers.
    ws.send(new Uint8Array(size));
    ws.send(new Uint8Array(size));
    await turns(20);
    expect(ws.bufferedAmount).toBeGreaterThan(0);
    socket.resume();
    await until(() => ws.bufferedAmount === 0, 20_000);
    await until(() => received.length === 2, 20_000);
  });

  test('the textbook loop: send only while bufferedAmount is 0; it stops while the peer does not read and resumes once the data drains', async () => {
    const { ws, peer, received } = await openRecording();
    const socket = (peer as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();
    const SIZE = 1024 * 1024;
    // The kernel holds at most its socket buffers for a peer that reads
    // nothing (tens of MiB at most: tcp_rmem's maximum, 32 MiB on Debian 12,
    // plus tcp_wmem's, 4 MiB); 128 MiB sent means bufferedAmount never stayed up.
    const CAP = 128;
    /** Message `i`: 1 MiB numbered at its head and filled with a pattern of `i`. */
    const message = (i: number): Uint8Array => {
      const bytes = Buffer.alloc(SIZE, (i * 7) & 0xff);
      bytes.writeUInt32BE(i, 0);
      return bytes;
    };
    let target = CAP;
    let sent = 0;
    /** Ticks in a row that found bufferedAmount above 0 and sent nothing. */
    let streak = 0;
    let longestStreak = 0;
    const timer = setInterval(() => {
      if (ws.bufferedAmount !== 0) {
        longestStreak = Math.max(longestStreak, ++streak);
        return;
      }
      streak = 0;
      if (sent < target) ws.send(message(sent++));
    }, 5);
    onCleanup(() => clearInterval(timer));

    // The peer reads nothing: its kernel buffers fill, bufferedAmount stays
    // above 0, and the loop stops sending (40 ticks in a row without a send).
    await until(() => streak >= 40 || sent >= CAP, 60_000);
    expect(sent, 'the loop stopped sending before it sent 128 MiB').toBeLessThan(CAP);
    expect(ws.bufferedAmount).toBeGreaterThan(0);
    const sentWhilePaused = sent;
    expect(received.length).toBeLessThan(sentWhilePaused);

    // The peer reads again: bufferedAmount falls to 0 and sending resumes.
    target = sentWhilePaused + 5;
    socket.resume();
    await until(() => sent === target && ws.bufferedAmount === 0, 60_000);
    await until(() => received.length === target, 60_000);
    clearInterval(timer);
    // Everything arrived, each message whole and in order.
    const wrong = received.findIndex((r, i) => !r.isBinary || !r.data.equals(message(i)));
    expect(wrong, 'the first message that differs').toBe(-1);
    console.info(
      `textbook loop: ${sentWhilePaused} MiB sent before it stopped for ${longestStreak} ticks, then ${target - sentWhilePaused} more once the peer read`,
    );
  });
});

describe('writes', () => {
  test('answers to messages that arrived together leave in one write', async () => {
    // Three messages in one chunk: their tasks run in one turn of the event
    // loop, and the three sends made by their listeners go out together.
    const chunks: Buffer[] = [];
    const raw = await startAccepting((socket) => {
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.write(Buffer.concat([frame(0x1, 'a'), frame(0x1, 'b'), frame(0x1, 'c')]));
    });
    const ws = connect(raw.url);
    ws.onmessage = (event) => ws.send(`re ${event.data as string}`);
    await until(() => parseClientFrames(Buffer.concat(chunks)).length === 3);
    expect(chunks).toHaveLength(1);
    expect(parseClientFrames(chunks[0]!).map((f) => f.payload.toString())).toEqual([
      're a',
      're b',
      're c',
    ]);
    expect(ws.bufferedAmount).toBe(0);
  });

  test('a send outside any event task leaves at once, in its own write', async () => {
    const chunks: Buffer[] = [];
    const raw = await startAccepting((socket) =>
      socket.on('data', (chunk: Buffer) => chunks.push(chunk)),
    );
    const ws = connect(raw.url);
    await nextEvent(ws, 'open');
    ws.send('one');
    await until(() => chunks.length === 1);
    ws.send('two');
    await until(() => chunks.length === 2);
    expect(chunks.map((c) => parseClientFrames(c)[0]!.payload.toString())).toEqual(['one', 'two']);
  });
});
