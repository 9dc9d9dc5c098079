/**
 * Data transfer with `ws` as the peer: text, binary, sizes at every length
 * boundary of RFC 6455 §5.2, fragmentation, ping.
 */
import { once } from 'node:events';
import { describe, expect, test, vi } from 'vitest';
import type { WebSocket as PeerSocket } from 'ws';
import { MessageEvent, WebSocket } from '@proj/client';
import { nextEvent, openPair, record } from './helpers.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 30_000 });

/** Sends from the client; resolves with what the peer got. */
async function toPeer(
  ws: WebSocket,
  peer: PeerSocket,
  data: Parameters<WebSocket['send']>[0],
): Promise<{ data: Buffer; isBinary: boolean }> {
  const received = once(peer, 'message');
  ws.send(data);
  const [payload, isBinary] = (await received) as [Buffer, boolean];
  return { data: payload, isBinary };
}

/** Sends from the peer; resolves with the client's message event. */
async function fromPeer(
  ws: WebSocket,
  peer: PeerSocket,
  data: string | Buffer,
): Promise<MessageEvent> {
  const received = nextEvent(ws, 'message');
  peer.send(data);
  return received;
}

function pattern(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

describe('text', () => {
  test('multi-byte UTF-8 both ways', async () => {
    const { ws, peer } = await openPair();
    const text = 'héllo · ñ · € · 日本語 · 😀🎉 · \u{10FFFF}';
    expect(await toPeer(ws, peer, text)).toEqual({ data: Buffer.from(text), isBinary: false });
    const event = await fromPeer(ws, peer, text);
    expect(event.data).toBe(text);
  });

  test('a leading BOM is part of the message', async () => {
    const { ws, peer } = await openPair();
    expect((await fromPeer(ws, peer, '\uFEFFbom')).data).toBe('\uFEFFbom');
  });

  test('empty text both ways', async () => {
    const { ws, peer } = await openPair();
    expect(await toPeer(ws, peer, '')).toEqual({ data: Buffer.alloc(0), isBinary: false });
    expect((await fromPeer(ws, peer, '')).data).toBe('');
  });
});

describe('binary', () => {
  test('as a Blob by default', async () => {
    const { ws, peer } = await openPair();
    const event = await fromPeer(ws, peer, Buffer.from([0, 1, 2, 255]));
    expect(event.data).toBeInstanceOf(Blob);
    const blob = event.data as Blob;
    expect(blob.size).toBe(4);
    expect(blob.type).toBe('');
    expect([...new Uint8Array(await blob.arrayBuffer())]).toEqual([0, 1, 2, 255]);
  });

  test('as an ArrayBuffer with binaryType "arraybuffer"', async () => {
    const { ws, peer } = await openPair();
    ws.binaryType = 'arraybuffer';
    const event = await fromPeer(ws, peer, Buffer.from([9, 8, 7]));
    expect(event.data).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(event.data as ArrayBuffer)]).toEqual([9, 8, 7]);
  });

  test('each ArrayBuffer holds only its message, though frames arrive together', async () => {
    const { ws, peer } = await openPair();
    ws.binaryType = 'arraybuffer';
    const { events } = record(ws);
    const socket = (peer as unknown as { _socket: import('node:net').Socket })._socket;
    socket.cork();
    peer.send(Buffer.from([1, 2]));
    peer.send(Buffer.from([3]));
    socket.uncork();
    await nextEvent(ws, 'message');
    await nextEvent(ws, 'message');
    const buffers = events.map((e) => (e.event as MessageEvent).data as ArrayBuffer);
    expect(buffers.map((b) => b.byteLength)).toEqual([2, 1]);
    expect(buffers.map((b) => [...new Uint8Array(b)])).toEqual([[1, 2], [3]]);
  });

  test('empty binary both ways', async () => {
    const { ws, peer } = await openPair();
    ws.binaryType = 'arraybuffer';
    expect(await toPeer(ws, peer, new ArrayBuffer(0))).toEqual({
      data: Buffer.alloc(0),
      isBinary: true,
    });
    const event = await fromPeer(ws, peer, Buffer.alloc(0));
    expect((event.data as ArrayBuffer).byteLength).toBe(0);
  });
});

describe('payload lengths (7-bit, 16-bit and 64-bit length forms)', () => {
  for (const length of [0, 125, 126, 65_535, 65_536]) {
    test(`${length} bytes both ways, binary and text`, async () => {
      const { ws, peer } = await openPair();
      ws.binaryType = 'arraybuffer';
      const bytes = pattern(length);
      const sent = await toPeer(ws, peer, bytes);
      expect(sent.isBinary).toBe(true);
      expect(sent.data.equals(bytes)).toBe(true);
      const event = await fromPeer(ws, peer, bytes);
      expect(Buffer.from(event.data as ArrayBuffer).equals(bytes)).toBe(true);
      const text = 'x'.repeat(length);
      expect((await toPeer(ws, peer, text)).data.toString()).toBe(text);
      expect((await fromPeer(ws, peer, text)).data).toBe(text);
    });
  }

  test('16 MiB both ways', async () => {
    const { ws, peer } = await openPair();
    ws.binaryType = 'arraybuffer';
    const bytes = pattern(16 * 1024 * 1024);
    const sent = await toPeer(ws, peer, bytes);
    expect(sent.data.length).toBe(bytes.length);
    expect(sent.data.equals(bytes)).toBe(true);
    const event = await fromPeer(ws, peer, bytes);
    expect(Buffer.from(event.data as ArrayBuffer).equals(bytes)).toBe(true);
  });

  test('maxPayload: a larger message fails the connection with 1009', async () => {
    const { ws, peer } = await openPair({ maxPayload: 1000 });
    const { events, closed } = record(ws);
    const peerClosed = once(peer, 'close');
    peer.send(Buffer.alloc(1001));
    const close = await closed;
    expect(events.map((e) => e.type)).toEqual(['error', 'close']);
    expect((events[0]!.event as import('@proj/client').ErrorEvent).error).toMatchObject({
      code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
      closeCode: 1009,
    });
    expect([close.code, close.wasClean]).toEqual([1006, false]);
    expect((await peerClosed)[0]).toBe(1009);
  });
});

describe('fragmentation', () => {
  test('a text message sent by ws in fragments arrives whole', async () => {
    const { ws, peer } = await openPair();
    const received = nextEvent(ws, 'message');
    peer.send('frag', { fin: false });
    peer.send('mént', { fin: false });
    peer.send('ed ✓', { fin: true });
    expect((await received).data).toBe('fragménted ✓');
  });

  test('a binary message in fragments, with a ping between them', async () => {
    const { ws, peer } = await openPair();
    ws.binaryType = 'arraybuffer';
    const received = nextEvent(ws, 'message');
    const pong = once(peer, 'pong');
    peer.send(Buffer.from([1, 2]), { fin: false, binary: true });
    peer.ping('mid');
    peer.send(Buffer.from([3]), { fin: false, binary: true });
    peer.send(Buffer.from([4, 5]), { fin: true, binary: true });
    expect([...new Uint8Array((await received).data as ArrayBuffer)]).toEqual([1, 2, 3, 4, 5]);
    expect(((await pong)[0] as Buffer).toString()).toBe('mid');
  });

  test('a UTF-8 character split across fragments', async () => {
    const { ws, peer } = await openPair();
    const received = nextEvent(ws, 'message');
    const euro = Buffer.from('€');
    peer.send(euro.subarray(0, 1), { fin: false, binary: false });
    peer.send(euro.subarray(1), { fin: true, binary: false });
    expect((await received).data).toBe('€');
  });
});

describe('ping', () => {
  test('a ping from the server is answered with a pong carrying its data', async () => {
    const { peer } = await openPair();
    const pong = once(peer, 'pong');
    peer.ping(Buffer.from('are you there?'));
    expect(((await pong)[0] as Buffer).toString()).toBe('are you there?');
  });

  test('pings dispatch no events', async () => {
    const { ws, peer } = await openPair();
    const { events } = record(ws);
    const pong = once(peer, 'pong');
    peer.ping();
    await pong;
    peer.send('after');
    await nextEvent(ws, 'message');
    expect(events.map((e) => e.type)).toEqual(['message']);
  });
});
