/**
 * Node only, beyond WHATWG: `ping()` and the `pong` event, which programs
 * ported from `ws` rely on for their own heartbeats.
 */
import { once } from 'node:events';
import type * as net from 'node:net';
import { describe, expect, test } from 'vitest';
import { PongEvent, WebSocket } from '@proj/client';
import { type Collected, expectDomException, thrown, until } from '@proj/test-utils';
import {
  closedPort,
  connect,
  connectOpen,
  frame,
  nextEvent,
  parseClientFrames,
  startAccepting,
  startPeer,
} from './helpers.js';

/** The next `pong` event at `ws`. */
function nextPong(ws: WebSocket): Promise<PongEvent> {
  return new Promise((resolve) => {
    ws.addEventListener('pong', (event) => resolve(event), { once: true });
  });
}

const text = (buffer: ArrayBuffer): string => Buffer.from(buffer).toString();

/** A raw server that answers the handshake; resolves its socket and what it receives. */
async function rawPeer(): Promise<{
  url: string;
  socket: Promise<{ socket: net.Socket; received: Collected }>;
}> {
  let resolve!: (value: { socket: net.Socket; received: Collected }) => void;
  const socket = new Promise<{ socket: net.Socket; received: Collected }>((r) => (resolve = r));
  const raw = await startAccepting((s, received) => resolve({ socket: s, received }));
  return { url: raw.url, socket };
}

describe('ping()', () => {
  test('sends a ping with the payload: a string as UTF-8, bytes as they are', async () => {
    const peer = await startPeer();
    const ws = await connectOpen(peer.url);
    const server = await peer.connection();
    const pings: string[] = [];
    server.on('ping', (data: Buffer) => pings.push(data.toString('hex')));
    ws.ping();
    ws.ping('h€');
    ws.ping(new Uint8Array([1, 2, 3]).buffer);
    ws.ping(new Uint8Array([9, 8, 7, 6]).subarray(1, 3));
    ws.ping(new DataView(new Uint8Array([5]).buffer));
    await until(() => pings.length === 5);
    expect(pings).toEqual(['', Buffer.from('h€').toString('hex'), '010203', '0807', '05']);
  });

  test('the server answers: a pong event with the payload as an ArrayBuffer', async () => {
    const peer = await startPeer();
    const ws = await connectOpen(peer.url);
    const pong = nextPong(ws);
    ws.ping('are you there?');
    const event = await pong;
    expect(event).toBeInstanceOf(PongEvent);
    expect(event).toBeInstanceOf(Event);
    expect(event.type).toBe('pong');
    expect(event.data).toBeInstanceOf(ArrayBuffer);
    expect(text(event.data)).toBe('are you there?');
  });

  test('125 bytes is the most a ping carries: more is a RangeError', async () => {
    const peer = await startPeer();
    const ws = await connectOpen(peer.url);
    const server = await peer.connection();
    const ping = once(server, 'ping');
    expect(() => ws.ping(new Uint8Array(126))).toThrow(
      new RangeError('The ping payload must not be greater than 125 bytes, got 126'),
    );
    // Counted in UTF-8 bytes: 42 euro signs are 126 bytes.
    expect(() => ws.ping('€'.repeat(42))).toThrow(RangeError);
    ws.ping(new Uint8Array(125).fill(1));
    expect(((await ping)[0] as Buffer).length).toBe(125);
  });

  test('while CONNECTING: an InvalidStateError, as send() throws', async () => {
    const port = await closedPort();
    const ws = connect(`ws://127.0.0.1:${port}`);
    expectDomException(() => ws.ping(), 'InvalidStateError');
    expect(() => ws.ping()).toThrow(
      "Failed to execute 'ping' on 'WebSocket': Still in CONNECTING state.",
    );
  });

  test('once CLOSING or CLOSED: nothing is sent, nothing thrown, as with send()', async () => {
    const peer = await rawPeer();
    const ws = connect(peer.url);
    await nextEvent(ws, 'open');
    const { socket, received } = await peer.socket;
    ws.close(1000);
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    ws.ping('late');
    await received.until((bytes) => parseClientFrames(bytes).some((f) => f.opcode === 0x8));
    socket.end(frame(0x8, Buffer.from([0x03, 0xe8])));
    await nextEvent(ws, 'close');
    ws.ping('later');
    expect(parseClientFrames(received.bytes).map((f) => f.opcode)).toEqual([0x8]);
  });

  test('a Blob or a view of shared memory is a TypeError', async () => {
    const peer = await startPeer();
    const ws = await connectOpen(peer.url);
    const error = thrown(() => ws.ping(new Blob(['x']) as never));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain('a Blob is not accepted');
    expect(() => ws.ping(new Uint8Array(new SharedArrayBuffer(1)))).toThrow(TypeError);
  });

  test('ping and onpong are on the prototype, enumerable, and check their receiver', () => {
    for (const name of ['ping', 'onpong']) {
      expect(Object.getOwnPropertyDescriptor(WebSocket.prototype, name)?.enumerable, name).toBe(
        true,
      );
    }
    expect(() => WebSocket.prototype.ping.call({})).toThrow(TypeError);
  });
});

describe('the pong event', () => {
  test('onpong is an event handler attribute like the others', async () => {
    const peer = await startPeer();
    const ws = await connectOpen(peer.url);
    expect(ws.onpong).toBeNull();
    const seen: string[] = [];
    ws.onpong = (event) => seen.push(`first ${text(event.data)}`);
    ws.addEventListener('pong', (event) => seen.push(`listener ${text(event.data)}`));
    // Replacing the handler keeps its place before the listener.
    const handler = (event: PongEvent): void => {
      seen.push(`second ${text(event.data)}`);
    };
    ws.onpong = handler;
    expect(ws.onpong).toBe(handler);
    ws.ping('a');
    await until(() => seen.length === 2);
    ws.onpong = null;
    ws.ping('b');
    await until(() => seen.length === 3);
    expect(seen).toEqual(['second a', 'listener a', 'listener b']);
  });

  test('an unsolicited pong from the server is dispatched too', async () => {
    const peer = await startPeer();
    const ws = await connectOpen(peer.url);
    const server = await peer.connection();
    const pong = nextPong(ws);
    server.pong('heartbeat');
    expect(text((await pong).data)).toBe('heartbeat');
  });

  test('one task per pong: two pongs in one read settle their promises in between', async () => {
    const peer = await rawPeer();
    const ws = connect(peer.url);
    await nextEvent(ws, 'open');
    const { socket } = await peer.socket;
    const order: string[] = [];
    ws.addEventListener('pong', (event) => {
      const name = text(event.data);
      order.push(`pong ${name}`);
      void Promise.resolve().then(() => order.push(`microtask ${name}`));
    });
    socket.write(Buffer.concat([frame(0xa, '1'), frame(0xa, '2'), frame(0x1, 'm')]));
    await nextEvent(ws, 'message');
    expect(order).toEqual(['pong 1', 'microtask 1', 'pong 2', 'microtask 2']);
  });

  test('a pong that arrives while CLOSING is still dispatched', async () => {
    const peer = await rawPeer();
    const ws = connect(peer.url);
    await nextEvent(ws, 'open');
    const { socket, received } = await peer.socket;
    ws.close();
    await received.until((bytes) => parseClientFrames(bytes).some((f) => f.opcode === 0x8));
    const pong = nextPong(ws);
    socket.write(frame(0xa, 'late'));
    expect(text((await pong).data)).toBe('late');
    expect(ws.readyState).toBe(WebSocket.CLOSING);
  });

  test('PongEvent is constructible, its data an empty ArrayBuffer by default', () => {
    const data = new Uint8Array([1]).buffer;
    expect(new PongEvent('pong', { data }).data).toBe(data);
    const empty = new PongEvent('pong');
    expect(empty.data).toBeInstanceOf(ArrayBuffer);
    expect(empty.data.byteLength).toBe(0);
    expect(Object.prototype.toString.call(empty)).toBe('[object PongEvent]');
  });
});
