/**
 * Shutdown and failure lose nothing: `server.close()` delivers every message
 * sent before it, then 1001; a peer that vanishes (socket destroyed or reset
 * without a close frame, or silent with no FIN) is detected and every
 * resource of its connection is freed: the `close` event, `clients`, timers,
 * socket listeners and handles.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { describe, expect, test } from 'vitest';
import type WebSocket from 'ws';
import type { ServerWebSocket } from '@proj/server';
import { Opcode } from '@proj/protocol';
import { RawClient, nextEmit, onCleanup, useCleanup } from '@proj/test-utils';
import { Collector } from './collector.js';
import { closeOf, connectWs, startServer, wsClose } from './helpers.js';

useCleanup();

/** The filler of {@link numbered}: enough for messages of up to 8 KiB. */
const PATTERN = 'abcdefghijklmnopqrstuvwxyz'.repeat(1 + 8192 / 26);

/**
 * A text message naming its recipient and sequence number, filled to `size`
 * bytes with a pattern that depends on both, so that a message cut short,
 * swapped with another or changed anywhere (not only in its head) differs.
 * At most 8 KiB.
 */
function numbered(client: number, seq: number, size: number): string {
  const head = `${client}:${seq}:`;
  const from = (client + seq) % 26;
  return head + PATTERN.slice(from, from + Math.max(0, size - head.length));
}

/**
 * Asserts that `messages` are exactly the messages `0 .. count - 1` for
 * `client`, each whole: same length, every character. Compares all of them
 * but reports only the first that differs (a diff of 8 MiB would be useless).
 */
function expectMessages(
  messages: readonly string[],
  client: number,
  count: number,
  size: number,
): void {
  expect(messages.length).toBe(count);
  const seq = messages.findIndex((message, i) => message !== numbered(client, i, size));
  if (seq !== -1) {
    expect({ client, seq, message: messages[seq] }).toEqual({
      client,
      seq,
      message: numbered(client, seq, size),
    });
  }
}

describe('server.close() delivers everything sent before it', () => {
  test(
    '10,000 messages queued to 5 clients (one paused) all arrive in order, then 1001',
    { timeout: 60_000 },
    async () => {
      const CLIENTS = 5;
      const PER_CLIENT = 2_000;
      const SIZE = 4096;
      const { server, url, port } = await startServer();
      const sockets: ServerWebSocket[] = [];
      server.on('connection', (socket) => sockets.push(socket));

      // Four ws clients reading at full speed, and a raw one that reads
      // nothing until after close() was called.
      const received: string[][] = [];
      const closes: Array<Promise<{ code: number; reason: string }>> = [];
      for (let i = 0; i < CLIENTS - 1; i++) {
        const ws: WebSocket = await connectWs(url);
        const messages: string[] = [];
        received.push(messages);
        ws.on('message', (data: Buffer) => messages.push(data.toString()));
        closes.push(wsClose(ws));
      }
      const raw = await RawClient.open(port);
      raw.socket.pause();
      await new Promise<void>((resolve) => {
        const check = (): void =>
          void (sockets.length === CLIENTS ? resolve() : setImmediate(check));
        check();
      });

      for (let seq = 0; seq < PER_CLIENT; seq++) {
        sockets.forEach((socket, client) => socket.send(numbered(client, seq, SIZE)));
      }
      // Much of it is still in the server's queues, not yet in the kernel.
      const queued = sockets.reduce((sum, socket) => sum + socket.bufferedAmount, 0);
      expect(queued).toBeGreaterThan(0);
      const closing = server.close();
      raw.socket.resume();

      for (const [i, close] of closes.entries()) {
        expect(await close).toEqual({ code: 1001, reason: '' });
        const messages = received[i]!;
        // The recipient is named at the head of its first message.
        const client = sockets.findIndex((_, index) => messages[0]?.startsWith(`${index}:`));
        expect(client).toBeGreaterThanOrEqual(0);
        expectMessages(messages, client, PER_CLIENT, SIZE);
      }
      // The raw client sees the frames themselves: every message in one
      // final (FIN) text frame, nothing between them, then the close frame.
      expect(await raw.closeFrame()).toEqual({ code: 1001, reason: '' });
      expect(raw.parseError).toBeUndefined();
      const data = raw.frames.slice(0, -1);
      expect(raw.frames.at(-1)!.opcode).toBe(Opcode.Close);
      const notWhole = data.findIndex((frame) => frame.opcode !== Opcode.Text || !frame.fin);
      expect(notWhole, 'every message one FIN text frame').toBe(-1);
      expectMessages(
        data.map((frame) => frame.payload.toString()),
        CLIENTS - 1,
        PER_CLIENT,
        SIZE,
      );
      raw.sendClose(1001);
      await closing;
      expect(server.clients.size).toBe(0);
      // The server closed the TCP connection after the closing handshake.
      await raw.closed;
      console.info(
        `shutdown: ${CLIENTS * PER_CLIENT} messages of ${SIZE} B, ${queued} B still queued in the server at close(), all delivered`,
      );
    },
  );
});

/** Records every timer made through the globals, and which are still pending. */
function trackTimers() {
  const pending = new Set<unknown>();
  const original = {
    setTimeout: globalThis.setTimeout,
    setInterval: globalThis.setInterval,
    clearTimeout: globalThis.clearTimeout,
    clearInterval: globalThis.clearInterval,
  };
  let created = 0;
  type Callback = (...args: unknown[]) => void;
  /** `set` that records its timer as pending until cleared (or, if `once`, fired). */
  const tracked =
    (set: (callback: Callback, ms?: number, ...args: unknown[]) => NodeJS.Timeout, once: boolean) =>
    (callback: Callback, ms?: number, ...args: unknown[]): NodeJS.Timeout => {
      created++;
      const fire: Callback = (...a) => {
        pending.delete(timer);
        callback(...a);
      };
      const timer = set(once ? fire : callback, ms, ...args);
      pending.add(timer);
      return timer;
    };
  /** `clear` that also drops its timer from the pending ones. */
  const untracked =
    (clear: (timer?: NodeJS.Timeout) => void) =>
    (timer?: NodeJS.Timeout): void => {
      pending.delete(timer);
      clear(timer);
    };
  globalThis.setTimeout = tracked(original.setTimeout, true) as typeof setTimeout;
  globalThis.setInterval = tracked(original.setInterval, false) as typeof setInterval;
  globalThis.clearTimeout = untracked(original.clearTimeout) as typeof clearTimeout;
  globalThis.clearInterval = untracked(original.clearInterval) as typeof clearInterval;
  const restore = (): void => void Object.assign(globalThis, original);
  onCleanup(restore);
  return { pending, created: () => created, restore };
}

/** Listener counts of every event on `emitter`. */
function listenerCounts(socket: Socket): Record<string, number> {
  return Object.fromEntries(
    socket.eventNames().map((name) => [String(name), socket.listenerCount(name)]),
  );
}

function countResources(kind: string): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === kind).length;
}

/**
 * A server with the heartbeat on, one raw client connected, and what to
 * compare against after it is gone.
 */
async function watchedConnection(options: { heartbeatInterval?: number; closeTimeout?: number }) {
  const { server, port } = await startServer(options);
  const sockets = countResources('TCPSocketWrap');
  const timers = trackTimers();
  const connected = nextEmit<[ServerWebSocket, IncomingMessage]>(server, 'connection');
  const raw = await RawClient.open(port);
  const [socket, request] = await connected;
  const closed = closeOf(socket);
  const tcp = request.socket;
  const listeners = listenerCounts(tcp);

  /** Asserts that nothing of the connection is left once the peer is gone too. */
  async function expectFreed(): Promise<void> {
    expect(server.clients.has(socket)).toBe(false);
    expect(server.clients.size).toBe(0);
    expect(socket.readyState).toBe(socket.CLOSED);
    expect(tcp.destroyed).toBe(true);
    // No timer of the connection is still pending: the close timer (if any)
    // was cleared or fired, the handshake timer cleared.
    expect([...timers.pending]).toEqual([]);
    // Nothing was added to the socket during the connection's life (per ping, per send).
    for (const [name, count] of Object.entries(listenerCounts(tcp))) {
      expect(count, `'${name}' listeners`).toBeLessThanOrEqual(listeners[name] ?? 0);
    }
    raw.socket.destroy();
    await raw.closed;
    timers.restore();
    // Both ends' TCP handles are gone (Node drops a closed handle from the list at once).
    expect(countResources('TCPSocketWrap')).toBe(sockets);
  }
  return { server, raw, socket, closed, timers, expectFreed };
}

describe('a peer that vanishes is detected and its resources freed', () => {
  test('silent, no FIN (paused, never answers pings): the heartbeat terminates it', async () => {
    const { raw, closed, expectFreed } = await watchedConnection({ heartbeatInterval: 100 });
    raw.socket.pause();
    const start = performance.now();
    expect(await closed).toEqual([1006, '', false, 'heartbeat-timeout']);
    // Terminated at the second tick without an answer.
    expect(performance.now() - start).toBeGreaterThanOrEqual(90);
    await expectFreed();
  });

  test.each([
    ['socket destroyed without a close frame (FIN)', (socket: Socket) => socket.destroy()],
    ['connection reset (RST)', (socket: Socket) => socket.resetAndDestroy()],
  ])('%s: close 1006 at once', async (_, vanish) => {
    const { raw, closed, expectFreed } = await watchedConnection({ heartbeatInterval: 60_000 });
    vanish(raw.socket);
    expect(await closed).toEqual([1006, '', false, 'connection-lost']);
    await expectFreed();
  });

  test('vanishes after our close frame: the armed close timer is cleared, not left to fire', async () => {
    const { raw, socket, closed, timers, expectFreed } = await watchedConnection({
      closeTimeout: 60_000,
    });
    const before = timers.created();
    socket.close(1000);
    expect(timers.created()).toBe(before + 1);
    expect(timers.pending.size).toBe(1);
    expect((await raw.closeFrame()).code).toBe(1000);
    raw.socket.destroy();
    expect(await closed).toEqual([1006, '', false, 'local-close']);
    await expectFreed();
  });

  test('many heartbeats: nothing accumulates per tick', async () => {
    // 100 ms: a pong must come back within one interval, which a loaded
    // 2-core machine cannot promise at 20 ms.
    const { server, raw, socket, expectFreed, closed } = await watchedConnection({
      heartbeatInterval: 100,
    });
    const pongs = new Collector<true>();
    socket.on('pong', () => pongs.push(true));
    // The raw client answers each ping, 10 times.
    for (let i = 0; i < 10; i++) {
      const ping = await raw.nextFrame();
      expect(ping.opcode).toBe(Opcode.Ping);
      raw.sendFrame(Opcode.Pong, ping.payload);
    }
    await pongs.until(10);
    expect(server.clients.size).toBe(1);
    raw.socket.pause();
    expect((await closed)[0]).toBe(1006);
    await expectFreed();
  });
});
