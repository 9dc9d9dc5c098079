/**
 * Sending and flow control: send callbacks and sendAsync, sending on a closed
 * connection, bufferedAmount and drain against a paused peer, pause()/resume().
 */
import { describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { nextEmit, quiet, useCleanup } from '@proj/test-utils';
import { Collector } from './collector.js';
import { connectPair, startServer, wsMessage } from './helpers.js';

useCleanup();

describe('send completion', () => {
  test('the callback runs once the data is written, with no error', async () => {
    const { socket, ws } = await connectPair(await startServer());
    const messages = new Collector<string>();
    ws.on('message', (data: Buffer) => messages.push(data.toString()));
    const done = new Collector<Error | null | undefined>();
    expect(socket.send('one', (error) => done.push(error))).toBe(true);
    expect(socket.send(Buffer.from('two'), { binary: false }, (error) => done.push(error))).toBe(
      true,
    );
    expect(await done.until(2)).toEqual([
      expect.toBeOneOf([null, undefined]),
      expect.toBeOneOf([null, undefined]),
    ]);
    expect(await messages.until(2)).toEqual(['one', 'two']);
  });

  test('sendAsync resolves once written', async () => {
    const { socket, ws } = await connectPair(await startServer());
    const message = wsMessage(ws);
    await expect(socket.sendAsync(new Uint8Array([1, 2, 3]))).resolves.toBeUndefined();
    await expect(socket.sendAsync('text', { binary: false })).resolves.toBeUndefined();
    expect([...(await message).data]).toEqual([1, 2, 3]);
  });

  test('send on a closed connection returns false and the callback gets an error; no throw', async () => {
    const { socket, ws } = await connectPair(await startServer());
    const closed = nextEmit(socket, 'close');
    ws.close();
    await closed;
    expect(socket.readyState).toBe(WebSocket.CLOSED);
    const errors = new Collector<Error | null | undefined>();
    expect(socket.send('late', (error) => errors.push(error))).toBe(false);
    expect(socket.send('late')).toBe(false);
    const [error] = await errors.until(1);
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toMatch(/not open/);
    await expect(socket.sendAsync('late')).rejects.toThrow(/not open/);
    expect(() => socket.ping()).not.toThrow();
    expect(() => socket.pong()).not.toThrow();
    expect(() => socket.close(1000)).not.toThrow();
    expect(() => socket.terminate()).not.toThrow();
  });

  test('send while closing (after close()) is refused the same way', async () => {
    const { socket } = await connectPair(await startServer());
    socket.close(1000);
    expect(socket.readyState).toBe(WebSocket.CLOSING);
    const errors = new Collector<Error | null | undefined>();
    expect(socket.send('late', (error) => errors.push(error))).toBe(false);
    expect((await errors.until(1))[0]).toBeInstanceOf(Error);
  });
});

describe('bufferedAmount and drain', () => {
  test(
    'grow while the peer is paused, then drain to 0 once it reads',
    { timeout: 30_000 },
    async () => {
      const { socket, ws } = await connectPair(await startServer());
      expect(socket.bufferedAmount).toBe(0);
      ws.pause();
      const payload = Buffer.alloc(16 * 1024 * 1024, 0x5a);
      const written = new Collector<Error | null | undefined>();
      const drained = nextEmit(socket, 'drain');
      expect(socket.send(payload, (error) => written.push(error))).toBe(false);
      expect(socket.bufferedAmount).toBeGreaterThan(0);
      expect(socket.bufferedAmount).toBeLessThanOrEqual(payload.length + 14);
      // Nothing can be flushed while the peer does not read.
      await quiet(50);
      expect(socket.bufferedAmount).toBeGreaterThan(0);
      expect(written.items).toEqual([]);

      const message = wsMessage(ws);
      ws.resume();
      await drained;
      expect(socket.bufferedAmount).toBe(0);
      const [error] = await written.until(1);
      expect(error).toBeFalsy();
      const { data, isBinary } = await message;
      expect(isBinary).toBe(true);
      expect(data.equals(payload)).toBe(true);
    },
  );
});

describe('pause() and resume()', () => {
  test('no message is delivered while paused; all arrive in order after resume()', async () => {
    const started = await startServer();
    const messages = new Collector<string>();
    started.server.on('connection', (socket) => {
      socket.pause();
      socket.on('message', (data) => messages.push(String(data)));
    });
    const { ws, socket } = await connectPair(started);
    expect(socket.isPaused).toBe(true);
    for (const text of ['a', 'b', 'c']) ws.send(text);
    await new Promise<void>((resolve) => ws.send('d', () => resolve()));
    await quiet(100);
    expect(messages.items).toEqual([]);
    socket.resume();
    expect(socket.isPaused).toBe(false);
    expect(await messages.until(4)).toEqual(['a', 'b', 'c', 'd']);
  });
});
