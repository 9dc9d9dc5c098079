/**
 * The scripted peer, driven from the other end by @proj/client's WebSocket
 * over real sockets: every helper, and the words of every failure.
 */
import { quiet, until } from '@proj/test-utils';
import { describe, expect, expectTypeOf, test } from 'vitest';
import { PeerClosedError, WaitTimeoutError } from '../src/index.js';
import { connect, rejection, server } from './helpers.js';

const MiB = 1024 * 1024;

/** The value once it reads the same three times in a row, 50 ms apart. */
async function settled(read: () => number): Promise<number> {
  const readings = [read()];
  while (readings.length < 3 || new Set(readings.slice(-3)).size > 1) {
    await quiet(50);
    readings.push(read());
  }
  return readings.at(-1)!;
}

async function connected(path = '/chat') {
  const wss = await server();
  const client = connect(wss.url, { path });
  const peer = await wss.waitForConnection();
  await client.opened;
  return { wss, client, peer };
}

describe('send', () => {
  test('text, binary and JSON reach the client in order', async () => {
    const { client, peer } = await connected();
    await peer.send('plain text');
    await peer.send(new Uint8Array([1, 2, 3]));
    await peer.sendJson({ type: 'hello', n: 1 });
    const [text, bytes, json] = await client.received(3);
    expect(text).toBe('plain text');
    expect([...new Uint8Array(bytes as ArrayBuffer)]).toEqual([1, 2, 3]);
    expect(JSON.parse(json as string)).toEqual({ type: 'hello', n: 1 });
  });

  test('sendJson refuses what JSON cannot represent', async () => {
    const { peer } = await connected();
    const error = await rejection(peer.sendJson(undefined));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(
      'sendJson() cannot send undefined: JSON has no representation of it',
    );
  });

  test('sending to a closed connection fails, saying how it closed', async () => {
    const { client, peer } = await connected();
    client.ws.close(1000, 'done');
    await peer.waitForClose();
    const error = await rejection(peer.send('late'));
    expect(error).toBeInstanceOf(PeerClosedError);
    expect(error).toMatchObject({
      code: 'WS_ERR_TESTING_PEER_CLOSED',
      expected: 'to send a message',
      close: { code: 1000, reason: 'done', wasClean: true, cause: 'peer-close' },
    });
    expect(error.message).toBe(
      'Cannot send to connection #1 (GET /chat): it closed with 1000 "done" (peer-close).',
    );
  });
});

describe('nextMessage', () => {
  test('gives messages in order, including those sent before the test took the connection', async () => {
    const wss = await server();
    const client = connect(wss.url);
    await client.opened;
    client.ws.send('{"n":1}');
    client.ws.send('{"n":2}');
    // Taken only now: both are there.
    const peer = await wss.waitForConnection();
    expect(await peer.nextMessage()).toEqual({ n: 1 });
    expect(await peer.nextMessage()).toEqual({ n: 2 });
    client.ws.send('{"n":3}');
    expect(await peer.nextMessage()).toEqual({ n: 3 });
    expect(peer.messages).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(peer.received).toEqual([
      { isBinary: false, data: '{"n":1}' },
      { isBinary: false, data: '{"n":2}' },
      { isBinary: false, data: '{"n":3}' },
    ]);
  });

  test('a predicate takes the first match; the messages it passed over stay for later', async () => {
    const { client, peer } = await connected();
    for (const type of ['typing', 'say', 'typing', 'bye']) client.ws.send(JSON.stringify({ type }));
    const isSay = (message: unknown): message is { type: 'say' } =>
      (message as { type?: unknown }).type === 'say';
    const say = await peer.nextMessage(isSay);
    expectTypeOf(say).toEqualTypeOf<{ type: 'say' }>();
    expect(say).toEqual({ type: 'say' });
    expect(await peer.nextMessage((m) => (m as { type: string }).type === 'bye')).toEqual({
      type: 'bye',
    });
    // The two passed over, oldest first.
    expect(await peer.nextMessage()).toEqual({ type: 'typing' });
    expect(await peer.nextMessage({ timeout: 5_000 })).toEqual({ type: 'typing' });
    expect(peer.messages).toHaveLength(4);
  });

  test('times out naming what it waited for and listing what arrived, taken or not matching', async () => {
    const { client, peer } = await connected();
    client.ws.send('{"type":"hello"}');
    client.ws.send('{"type":"say","text":"hi"}');
    expect(await peer.nextMessage()).toEqual({ type: 'hello' });
    await until(() => peer.received.length === 2);

    const isBye = (message: unknown): boolean => (message as { type: string }).type === 'bye';
    const error = await rejection(peer.nextMessage(isBye, { timeout: 50 }));
    expect(error).toBeInstanceOf(WaitTimeoutError);
    const source = String(isBye).replace(/\s+/g, ' ');
    expect(error).toMatchObject({
      code: 'WS_ERR_TESTING_TIMEOUT',
      expected: `a message matching ${source}`,
      timeout: 50,
    });
    expect(error.message).toBe(
      [
        `Timed out after 50 ms waiting for a message matching ${source} from connection #1 (GET /chat).`,
        '2 messages arrived:',
        '  #1 (taken) "{\\"type\\":\\"hello\\"}"',
        '  #2 (did not match) "{\\"type\\":\\"say\\",\\"text\\":\\"hi\\"}"',
        'The connection is open.',
      ].join('\n'),
    );
  });

  test('a description replaces the predicate source; with nothing received it says so', async () => {
    const { peer } = await connected('/');
    const error = await rejection(
      peer.nextMessage(() => true, { timeout: 20, description: 'the greeting' }),
    );
    expect(error.message).toBe(
      [
        'Timed out after 20 ms waiting for a message matching the greeting from connection #1 (GET /).',
        'No message arrived.',
        'The connection is open.',
      ].join('\n'),
    );
    const next = await rejection(peer.nextMessage({ timeout: 20 }));
    expect(next.message).toMatch(/^Timed out after 20 ms waiting for the next message from /);
  });

  test('long and binary messages are shown cut, with their size', async () => {
    const wss = await server();
    const client = connect(wss.url);
    const peer = await wss.waitForConnection({ parse: 'raw' });
    await client.opened;
    client.ws.send(JSON.stringify('x'.repeat(500)));
    client.ws.send(new Uint8Array(40).fill(0xab));
    await peer.nextMessage();
    await until(() => peer.received.length === 2);
    const error = await rejection(peer.nextMessage(() => false, { timeout: 20, description: 'z' }));
    const lines = error.message.split('\n');
    expect(lines[2]).toBe(
      `  #1 (taken) ${JSON.stringify(`"${'x'.repeat(199)}`)} … (502 characters in all)`,
    );
    expect(lines[3]).toBe(
      `  #2 (did not match) <binary, 40 bytes: ${Array(16).fill('ab').join(' ')} …>`,
    );
  });

  test('fails at once when the connection closes with no matching message left', async () => {
    const { client, peer } = await connected();
    client.ws.send('{"type":"hello"}');
    const waiting = rejection(peer.nextMessage((m) => m === 'never', { description: '"never"' }));
    client.ws.close(4000, 'leaving');
    const error = await waiting;
    expect(error).toBeInstanceOf(PeerClosedError);
    expect(error).toMatchObject({
      code: 'WS_ERR_TESTING_PEER_CLOSED',
      close: { code: 4000, reason: 'leaving', wasClean: true, cause: 'peer-close' },
    });
    expect(error.message).toBe(
      [
        'Connection #1 (GET /chat) closed with 4000 "leaving" (peer-close) before a message matching "never" arrived.',
        '1 message arrived:',
        '  #1 (did not match) "{\\"type\\":\\"hello\\"}"',
      ].join('\n'),
    );
  });

  test('a message that arrived before the close is still given after it', async () => {
    const { client, peer } = await connected();
    client.ws.send('{"last":true}');
    client.ws.close();
    await peer.waitForClose();
    expect(await peer.nextMessage()).toEqual({ last: true });
  });

  test('what the predicate throws fails the wait', async () => {
    const { client, peer } = await connected();
    client.ws.send('{}');
    const error = await rejection(
      peer.nextMessage(() => {
        throw new Error('predicate broke');
      }),
    );
    expect(error.message).toBe('predicate broke');
  });

  test('a timeout that is not a positive number is a RangeError', async () => {
    const { peer } = await connected();
    for (const timeout of [0, -1, Number.NaN]) {
      const error = await rejection(peer.nextMessage({ timeout }));
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toBe(
        `The "timeout" option must be a number of milliseconds above 0, or Infinity, got ${timeout}`,
      );
    }
  });
});

describe('close, drop and waitForClose', () => {
  test('close(code, reason): the client sees them, cleanly', async () => {
    const { client, peer } = await connected();
    expect(await peer.close(4001, 'bye')).toEqual({
      code: 4001,
      reason: 'bye',
      wasClean: true,
      cause: 'local-close',
    });
    expect(await client.closed).toEqual({ code: 4001, reason: 'bye', wasClean: true });
    expect(peer.closed).toMatchObject({ code: 4001 });
  });

  test('close() with a code that may not be sent rejects with the RangeError', async () => {
    const { peer } = await connected();
    const error = await rejection(peer.close(1005));
    expect(error).toBeInstanceOf(RangeError);
    expect(peer.closed).toBeUndefined();
  });

  test('drop(): no close frame, the client sees 1006', async () => {
    const { client, peer } = await connected();
    expect(await peer.drop()).toMatchObject({ code: 1006, wasClean: false, cause: 'terminated' });
    expect(await client.closed).toEqual({ code: 1006, reason: '', wasClean: false });
  });

  test('waitForClose resolves with the close the client started', async () => {
    const { client, peer } = await connected();
    client.ws.close(4000, 'done');
    expect(await peer.waitForClose()).toEqual({
      code: 4000,
      reason: 'done',
      wasClean: true,
      cause: 'peer-close',
    });
  });

  test('waitForClose times out saying the connection is open', async () => {
    const { client, peer } = await connected();
    client.ws.send('"still here"');
    await peer.nextMessage();
    const error = await rejection(peer.waitForClose({ timeout: 20 }));
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(error.message).toBe(
      [
        'Timed out after 20 ms waiting for connection #1 (GET /chat) to close.',
        '1 message arrived:',
        '  #1 (taken) "\\"still here\\""',
        'The connection is open.',
      ].join('\n'),
    );
  });
});

describe('stall', () => {
  test("stops reading: the client's bufferedAmount stays up until resume()", async () => {
    const wss = await server({ maxPayload: 64 * MiB });
    const client = connect(wss.url);
    const peer = await wss.waitForConnection();
    await client.opened;

    const stalled = peer.stall();
    expect(peer.isStalled).toBe(true);
    // More than the kernel buffers of both ends hold on loopback.
    const size = 32 * MiB;
    client.ws.send('"' + 'x'.repeat(size - 2) + '"');
    // The client writes until the kernel buffers are full, then its
    // bufferedAmount stops falling: above 0 while stalled (without the stall
    // it would fall to 0).
    expect(await settled(() => client.ws.bufferedAmount)).toBeGreaterThan(0);
    expect(peer.received).toEqual([]);
    const error = await rejection(peer.nextMessage({ timeout: 20 }));
    expect(error.message.split('\n').at(-1)).toBe(
      'The connection is open, and stalled (peer.stall()): what the client sent since waits unread.',
    );

    peer.resume();
    await stalled;
    expect(peer.isStalled).toBe(false);
    expect(((await peer.nextMessage()) as string).length).toBe(size - 2);
    expect(client.ws.bufferedAmount).toBe(0);
  });

  test('stall(ms) resumes on its own', async () => {
    const { client, peer } = await connected();
    const stalled = peer.stall(30);
    client.ws.send('"during"');
    await stalled;
    expect(peer.isStalled).toBe(false);
    expect(await peer.nextMessage()).toBe('during');
  });

  test('a stall ends when the connection closes; close() resumes reading first', async () => {
    const { client, peer } = await connected();
    const stalled = peer.stall();
    // The client's answer to the close frame can only be read if reading resumed.
    await peer.close(1000);
    await stalled;
    expect(peer.isStalled).toBe(false);
    expect(await client.closed).toMatchObject({ code: 1000, wasClean: true });
  });

  test('stall() with a negative or non-number time is a RangeError', async () => {
    const { peer } = await connected();
    expect(() => peer.stall(-1)).toThrow(
      new RangeError('stall() takes a number of milliseconds of at least 0, got -1'),
    );
    expect(peer.isStalled).toBe(false);
  });
});
