/**
 * A hostile server that breaks RFC 6455 after the handshake: the client fails
 * the connection (error, then close, not clean) with the close code the
 * protocol core assigns, and reports the cause.
 */
import { describe, expect, test } from 'vitest';
import { type ErrorEvent, type MessageEvent, WebSocket } from '@proj/client';
import { type Collected, turns } from '@proj/test-utils';
import { connect, frame, parseClientFrames, record, startAccepting } from './helpers.js';

/**
 * Runs a raw server that answers the handshake then writes `bytes`; resolves
 * with the client's events and the close frame it sent back.
 */
async function hostile(bytes: Buffer): Promise<{
  types: string[];
  error: unknown;
  close: import('@proj/client').CloseEvent;
  sentClose: { code: number; reason: string } | undefined;
  messages: unknown[];
}> {
  let received: Collected | undefined;
  const raw = await startAccepting((socket, fromClient) => {
    received = fromClient;
    socket.write(bytes);
  });
  const ws = connect(raw.url);
  const { events, closed } = record(ws);
  const close = await closed;
  await turns(5);
  const errorEvent = events.find((e) => e.type === 'error')?.event as ErrorEvent | undefined;
  const closeFrame = parseClientFrames(received!.bytes).find((f) => f.opcode === 0x8);
  return {
    types: events.map((e) => e.type),
    error: errorEvent?.error,
    close,
    sentClose: closeFrame && {
      code: closeFrame.payload.readUInt16BE(0),
      reason: closeFrame.payload.subarray(2).toString(),
    },
    messages: events.filter((e) => e.type === 'message').map((e) => (e.event as MessageEvent).data),
  };
}

describe('a server that breaks the protocol', () => {
  test('a masked frame (servers must not mask): 1002', async () => {
    const masked = Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2]);
    const result = await hostile(masked);
    expect(result.types).toEqual(['open', 'error', 'close']);
    expect(result.error).toMatchObject({ code: 'WS_ERR_UNEXPECTED_MASK', closeCode: 1002 });
    expect(result.sentClose?.code).toBe(1002);
    expect([result.close.code, result.close.wasClean]).toEqual([1006, false]);
  });

  test('invalid UTF-8 in a text message: 1007', async () => {
    const result = await hostile(frame(0x1, Buffer.from([0x68, 0xc3, 0x28])));
    expect(result.types).toEqual(['open', 'error', 'close']);
    expect(result.error).toMatchObject({ code: 'WS_ERR_INVALID_UTF8', closeCode: 1007 });
    expect(result.sentClose?.code).toBe(1007);
    expect(result.close.wasClean).toBe(false);
  });

  test('invalid UTF-8 in a close reason: 1007', async () => {
    const result = await hostile(frame(0x8, Buffer.from([0x03, 0xe8, 0xff])));
    expect(result.error).toMatchObject({ code: 'WS_ERR_INVALID_UTF8' });
    expect(result.close.wasClean).toBe(false);
  });

  for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000]) {
    test(`an invalid close code on the wire (${code}): 1002`, async () => {
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(code);
      const result = await hostile(frame(0x8, payload));
      expect(result.types).toEqual(['open', 'error', 'close']);
      expect(result.error).toMatchObject({ code: 'WS_ERR_INVALID_CLOSE_CODE', closeCode: 1002 });
      expect(result.sentClose?.code).toBe(1002);
      expect([result.close.code, result.close.wasClean]).toEqual([1006, false]);
    });
  }

  test('a reserved opcode: 1002', async () => {
    const result = await hostile(frame(0x3, 'x'));
    expect(result.error).toMatchObject({ code: 'WS_ERR_INVALID_OPCODE', closeCode: 1002 });
    expect(result.sentClose?.code).toBe(1002);
  });

  test('RSV bits without an extension: 1002', async () => {
    const result = await hostile(Buffer.from([0xc1, 0x01, 0x61]));
    expect(result.error).toMatchObject({ code: 'WS_ERR_UNEXPECTED_RSV' });
  });

  test('a fragmented ping: 1002', async () => {
    const result = await hostile(frame(0x9, 'x', false));
    expect(result.error).toMatchObject({ closeCode: 1002 });
  });

  test('a continuation with no message started: 1002', async () => {
    const result = await hostile(frame(0x0, 'x'));
    expect(result.error).toMatchObject({ code: 'WS_ERR_UNEXPECTED_CONTINUATION' });
  });

  test('messages before the bad frame are delivered; nothing after it', async () => {
    const result = await hostile(
      Buffer.concat([frame(0x1, 'good'), frame(0x3, 'bad'), frame(0x1, 'never')]),
    );
    expect(result.types).toEqual(['open', 'message', 'error', 'close']);
    expect(result.messages).toEqual(['good']);
  });

  test('a close frame with a 1-byte body: 1002', async () => {
    const result = await hostile(frame(0x8, Buffer.from([0x03])));
    expect(result.error).toMatchObject({ code: 'WS_ERR_INVALID_CLOSE_PAYLOAD' });
    expect(result.close.wasClean).toBe(false);
  });

  test('the readyState is CLOSED at the error and close events', async () => {
    const raw = await startAccepting((socket) => socket.write(frame(0x3)));
    const ws = connect(raw.url);
    const { events, closed } = record(ws);
    await closed;
    const readyStates = events.filter((e) => e.type !== 'open').map((e) => e.readyState);
    expect(readyStates).toEqual([WebSocket.CLOSED, WebSocket.CLOSED]);
  });
});
