/**
 * What the Node client puts on the wire once permessage-deflate is agreed
 * (RFC 7692), seen by a raw `node:net` server that does the handshake by hand,
 * reads the frames by hand (@proj/test-utils) and inflates them with `node:zlib`. The
 * round-trip tests in compression.test.ts would pass as well if the client
 * sent everything uncompressed (that is valid, only larger); these would not.
 */
import type * as net from 'node:net';
import { describe, expect, test } from 'vitest';
import type { WebSocket } from '@proj/client';
import { acceptRaw, connectOpen, nextEvent, startRaw } from './helpers.js';
import {
  DEFLATE_TAIL,
  FrameReader,
  type RawMessage,
  inflateMessages,
  rawMessages,
} from '@proj/test-utils';

interface WireServer {
  readonly url: string;
  /** The client's request head. */
  readonly request: Promise<string>;
  /** Resolves with the first `count` data messages the client sent, as read off the wire. */
  messages(count: number): Promise<RawMessage[]>;
}

/**
 * A raw server that answers the handshake with 101 and `extensions` as its
 * `Sec-WebSocket-Extensions` (none when `undefined`), records every frame the
 * client sends, and answers a close frame with one of its own and a FIN.
 */
async function wireServer(extensions: string | undefined): Promise<WireServer> {
  const reader = new FrameReader();
  const waiters = new Set<() => void>();
  let resolveRequest!: (head: string) => void;
  const request = new Promise<string>((resolve) => (resolveRequest = resolve));
  const receive = (socket: net.Socket, chunk: Buffer): void => {
    for (const frame of reader.push(chunk)) {
      if (frame.opcode === 0x8) {
        socket.end(Buffer.concat([Buffer.from([0x88, frame.payload.length]), frame.payload]));
      }
    }
    for (const wake of [...waiters]) wake();
  };
  const { url } = await startRaw((socket) => {
    void acceptRaw(
      socket,
      extensions === undefined ? [] : [`Sec-WebSocket-Extensions: ${extensions}`],
    ).then(({ head, rest }) => {
      resolveRequest(head);
      receive(socket, rest);
      socket.on('data', (chunk: Buffer) => receive(socket, chunk));
    });
  });
  return {
    url,
    request,
    async messages(count) {
      for (;;) {
        const messages = rawMessages(reader.frames);
        if (messages.length >= count) return messages.slice(0, count);
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            waiters.delete(wake);
            resolve();
          };
          waiters.add(wake);
        });
      }
    },
  };
}

/** Sends `messages` and waits until the server read them all off the wire. */
async function sendAll(
  ws: WebSocket,
  server: WireServer,
  messages: readonly (string | Buffer)[],
): Promise<RawMessage[]> {
  for (const message of messages) ws.send(message);
  const received = await server.messages(messages.length);
  const closed = nextEvent(ws, 'close');
  ws.close(1000);
  expect((await closed).code).toBe(1000);
  return received;
}

const bytesOf = (message: string | Buffer): Buffer =>
  typeof message === 'string' ? Buffer.from(message) : message;

/** Text that deflates poorly on its own (pseudo-random letters), `size` characters. */
function noise(size: number, seed: number): string {
  let state = seed;
  let out = '';
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out += String.fromCharCode(97 + ((state >>> 16) % 26));
  }
  return out;
}

/** Each message's frames: RSV1 on the first only (RFC 7692 §6.1), masked, RSV2/3 clear. */
function expectFrameBits(message: RawMessage, compressed: boolean): void {
  expect(message.rsv1, 'RSV1 on the first frame').toBe(compressed);
  for (const frame of message.frames) {
    expect(frame.masked).toBe(true);
    expect([frame.rsv2, frame.rsv3]).toEqual([false, false]);
  }
  expect(message.frames.slice(1).every((frame) => !frame.rsv1)).toBe(true);
}

describe('on the wire: permessage-deflate from the Node client', () => {
  test('negotiated: every message leaves with RSV1 set, deflated, the 00 00 ff ff tail removed', async () => {
    const server = await wireServer('permessage-deflate; client_no_context_takeover');
    const ws = await connectOpen(server.url, [], { perMessageDeflate: { threshold: 0 } });
    expect(await server.request).toMatch(/^sec-websocket-extensions: permessage-deflate/im);
    expect(ws.extensions).toBe('permessage-deflate; client_no_context_takeover');
    const sent = [
      JSON.stringify({ user: 'bob', text: 'hello '.repeat(300) }),
      'short',
      Buffer.from('binary '.repeat(500)),
      'x'.repeat(128 * 1024),
      Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) & 0xff)),
      'ünïcödé ✓ '.repeat(200),
    ];
    const received = await sendAll(ws, server, sent);
    const inflated = inflateMessages(
      received.map((m) => m.payload),
      { noContextTakeover: true },
    );
    for (const [i, message] of received.entries()) {
      const original = bytesOf(sent[i]!);
      expect(message.opcode).toBe(typeof sent[i] === 'string' ? 0x1 : 0x2);
      expectFrameBits(message, true);
      // §7.2.1: the sender removes the tail its sync flush ends with.
      expect(message.payload.subarray(-4).equals(DEFLATE_TAIL), `message ${i}: tail kept`).toBe(
        false,
      );
      expect(inflated[i]!.equals(original), `message ${i} inflates to what was sent`).toBe(true);
      if (original.length > 1000) expect(message.payload.length).toBeLessThan(original.length / 4);
    }
  });

  test('context takeover: a repeated message is a back-reference, and the stream inflates through one window', async () => {
    const server = await wireServer('permessage-deflate');
    const ws = await connectOpen(server.url, [], { perMessageDeflate: { threshold: 0 } });
    const text = noise(4000, 1);
    const received = await sendAll(ws, server, [text, text, text]);
    for (const message of received) expectFrameBits(message, true);
    const inflated = inflateMessages(received.map((m) => m.payload));
    expect(inflated.map((bytes) => bytes.toString())).toEqual([text, text, text]);
    // The first deflates little (noise); the others refer back to it.
    expect(received[0]!.payload.length).toBeGreaterThan(2000);
    expect(received[1]!.payload.length).toBeLessThan(100);
    expect(received[2]!.payload.length).toBeLessThan(100);
  });

  test('client_no_context_takeover agreed: each message inflates on its own', async () => {
    const server = await wireServer('permessage-deflate; client_no_context_takeover');
    const ws = await connectOpen(server.url, [], { perMessageDeflate: { threshold: 0 } });
    const text = noise(4000, 2);
    const received = await sendAll(ws, server, [text, text]);
    // Had the client kept its context, the second would refer into the first
    // and fail here ("invalid distance too far back").
    const inflated = inflateMessages(
      received.map((m) => m.payload),
      { noContextTakeover: true },
    );
    expect(inflated.map((bytes) => bytes.toString())).toEqual([text, text]);
    expect(received[1]!.payload.length).toBeGreaterThan(2000);
  });

  test('client_max_window_bits=9 agreed: no reference reaches back more than 512 bytes', async () => {
    const server = await wireServer('permessage-deflate; client_max_window_bits=9');
    const ws = await connectOpen(server.url, [], { perMessageDeflate: { threshold: 0 } });
    expect(await server.request).toMatch(/client_max_window_bits/);
    // A 1000-byte block twice, then once more in a later message: repeats
    // further back than the agreed window, which a client with its default
    // window (or a 32 KiB one) would refer to, failing the inflate below.
    const block = noise(1000, 3);
    const received = await sendAll(ws, server, [block + block, block]);
    const inflated = inflateMessages(
      received.map((m) => m.payload),
      { windowBits: 9 },
    );
    expect(inflated.map((bytes) => bytes.toString())).toEqual([block + block, block]);
  });

  test('below the threshold a message is sent as it is, RSV1 clear', async () => {
    const server = await wireServer('permessage-deflate');
    const ws = await connectOpen(server.url, [], { perMessageDeflate: { threshold: 100 } });
    const small = 'x'.repeat(99);
    const large = 'y'.repeat(100);
    const [first, second] = await sendAll(ws, server, [small, large]);
    expectFrameBits(first!, false);
    expect(first!.payload.toString()).toBe(small);
    expectFrameBits(second!, true);
    expect(inflateMessages([second!.payload])[0]!.toString()).toBe(large);
  });

  test('offered but declined by the server: nothing is compressed', async () => {
    const server = await wireServer(undefined);
    const ws = await connectOpen(server.url, [], { perMessageDeflate: { threshold: 0 } });
    expect(await server.request).toMatch(/^sec-websocket-extensions: permessage-deflate/im);
    expect(ws.extensions).toBe('');
    const text = 'z'.repeat(5000);
    const [message] = await sendAll(ws, server, [text]);
    expectFrameBits(message!, false);
    expect(message!.payload.toString()).toBe(text);
  });
});
