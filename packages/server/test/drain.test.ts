/**
 * `server.drain()` (issue 17, point 2): it stops accepting at once, closes
 * the open connections one by one over its window with 1012 and a
 * `retry-after` hint (close cause `drain`), suspends sessions instead of
 * ending them, so that their clients resume on another node through the
 * store, and resolves once everything is closed. The rate proof with
 * thousands of clients and a second node is `integration/drain.test.ts`.
 */
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { describe, expect, test, vi } from 'vitest';
import { MemorySessionStore, type ServerWebSocket, WebSocketServer } from '@proj/server';
import { nextEmit, onCleanup, useCleanup } from '@proj/test-utils';
import { CATCH_UP_RATE, spreadOver } from '../src/drain.js';
import { Collector } from './collector.js';
import { connectWs, handshakeResponse, listen, serverWithClients, wsClose } from './helpers.js';
import { ResumingClient, sessionClose, startSessionServer } from './session-peer.js';

useCleanup();

describe('server.drain() closes over its window', () => {
  test('every connection gets 1012 "retry-after=0", one by one, cause drain; then the server closes', async () => {
    const count = 8;
    const window = 800;
    const { server, clients, sockets } = await serverWithClients(count);
    const causes = new Collector<[number, string]>();
    for (const [i, socket] of sockets.entries()) {
      socket.on('close', (_code, _reason, _clean, cause) => {
        causes.push([i, cause]);
      });
    }
    const closedAt: number[] = [];
    const start = performance.now();
    const closes = clients.map((ws) =>
      wsClose(ws).then((close) => {
        closedAt.push(performance.now() - start);
        return close;
      }),
    );
    const serverClosed = nextEmit(server, 'close');
    const drained = server.drain({ window });
    expect(server.draining).toBe(true);
    // Calling it again, or close() meanwhile, is the same shutdown.
    expect(server.drain()).toBe(drained);
    expect(server.close()).toBe(drained);
    for (const close of await Promise.all(closes)) {
      expect(close).toEqual({ code: 1012, reason: 'retry-after=0' });
    }
    await drained;
    await serverClosed;
    expect((await causes.until(count)).map(([, cause]) => cause)).toEqual(
      Array(count).fill('drain'),
    );
    // Spread, not at once: the last connection's turn is (n-1)/n of the
    // window in, and a timer never fires early (a lower bound cannot flake).
    closedAt.sort((x, y) => x - y);
    expect(closedAt.at(-1)!).toBeGreaterThanOrEqual((window * (count - 1)) / count - 5);
    expect(server.clients.size).toBe(0);
    expect(server.stats().closes.drain).toBe(count);
  });

  test('the hint and the code are the options: retryAfter seconds, 1013', async () => {
    const { server, clients } = await serverWithClients(2);
    const closes = clients.map(wsClose);
    await server.drain({ window: 0, code: 1013, retryAfter: 7 });
    for (const close of await Promise.all(closes)) {
      expect(close).toEqual({ code: 1013, reason: 'retry-after=7' });
    }
  });

  test('standalone: the listener closes at once, before the window ends', async () => {
    const { server, clients } = await serverWithClients(1);
    const closed = wsClose(clients[0]!);
    const drained = server.drain({ window: 200 });
    expect(server.httpServer!.listening).toBe(false);
    await closed;
    await drained;
  });

  test('attached: a handshake during the drain is refused 503 with Retry-After', async () => {
    const http = createServer();
    const port = await listen(http);
    const server = new WebSocketServer({ server: http });
    onCleanup(() => server.close({ timeout: 100 }));
    const connected = new Collector<ServerWebSocket>();
    server.on('connection', (socket) => connected.push(socket));
    const clients = [
      await connectWs(`ws://127.0.0.1:${port}`),
      await connectWs(`ws://127.0.0.1:${port}`),
    ];
    await connected.until(2);
    const closes = clients.map(wsClose);
    // Two connections over 2 s: the second waits its turn 1 s in, so the
    // drain is still under way when the handshake arrives.
    const drained = server.drain({ window: 2000, retryAfter: 3 });
    const response = await handshakeResponse(port);
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('3');
    for (const close of await Promise.all(closes)) expect(close.code).toBe(1012);
    await drained;
  });

  test('invalid options throw, naming the option, and leave the server running', async () => {
    const { server } = await serverWithClients(0);
    expect(() => server.drain({ code: 1000 })).toThrow(/"code"/);
    expect(() => server.drain({ window: -1 })).toThrow(/"window"/);
    expect(() => server.drain({ window: Number.NaN })).toThrow(/"window"/);
    expect(() => server.drain({ retryAfter: 1.5 })).toThrow(/"retryAfter"/);
    expect(() => server.drain({ timeout: -5 })).toThrow(/"timeout"/);
    expect(server.draining).toBe(false);
    expect(server.httpServer!.listening).toBe(true);
  });
});

describe('sessions over a drain', () => {
  test('a session is suspended (1012), not ended, and resumes on another node through the store', async () => {
    const store = new MemorySessionStore();
    const a = await startSessionServer({ store });
    const b = await startSessionServer({ store });
    const client = new ResumingClient(a.url);
    expect((await client.resume()).type).toBe('ready');
    const [session] = await a.sessions.until(1);
    session!.send('before');
    await client.delivered.until(1);
    client.send('from client');
    const suspended = nextEmit<[number, string]>(session!, 'suspend');
    const ended = sessionClose(session!);
    const connectionClosed = client.closed();
    const drained = a.server.drain({ window: 0 });
    expect(await suspended).toEqual([1012, 'retry-after=0']);
    await connectionClosed;
    await drained;
    // Forgotten here at the close, without `end` (the client is not told it is over).
    expect((await ended)[2]).toBe('server-closed');
    expect(client.controls.items.some((control) => control.type === 'end')).toBe(false);

    // The client comes back to b: same session, nothing lost or repeated.
    expect((await client.resume(b.url)).type).toBe('ready');
    const [moved] = await b.sessions.until(1);
    expect(moved!.id).toBe(session!.id);
    expect(moved!.moved).toBe(true);
    moved!.send('after');
    expect(await client.delivered.until(2)).toEqual(['before', 'after']);
    expect(client.duplicates).toBe(0);
  });
});

describe('spreadOver', () => {
  test('a window of 0 closes everything at once, in order', async () => {
    const closed: number[] = [];
    const done = spreadOver([1, 2, 3], 0, (n) => closed.push(n));
    expect(closed).toEqual([1, 2, 3]);
    await done;
  });

  test('item k of n closes at k × window / n, never before', async () => {
    let clock = 0;
    const closedAt: number[] = [];
    // A clock of its own that moves only when this event loop does.
    const ticking = setInterval(() => clock++, 1);
    await spreadOver(
      [0, 1, 2, 3],
      40,
      () => closedAt.push(clock),
      () => clock,
    );
    clearInterval(ticking);
    expect(closedAt).toHaveLength(4);
    for (const [k, at] of closedAt.entries()) expect(at).toBeGreaterThanOrEqual(k * 10);
  });

  test('a stalled event loop does not bunch the closes: it catches up at 1.25x the rate', () => {
    // Fake timers moved in step with the injected clock, one millisecond at
    // a time: the schedule is judged, not how a loaded machine runs timers.
    vi.useFakeTimers();
    try {
      let clock = 0;
      const closedAt: number[] = [];
      void spreadOver(
        Array.from({ length: 100 }, (_, k) => k),
        1000,
        () => closedAt.push(clock),
        () => clock,
      );
      expect(closedAt).toEqual([0]);
      // A stall of 500 ms: 50 items came due, but a stall counts for 50 ms.
      clock = 500;
      vi.advanceTimersToNextTimer();
      expect(closedAt.length).toBe(1 + Math.floor((50 / 10) * CATCH_UP_RATE));
      // The rest, with the clock moving again: at most 1.25 items per slot
      // (10 ms) over any stretch after that, so 10 closes take at least
      // 9 / 1.25 slots.
      while (closedAt.length < 100 && clock < 10_000) {
        clock++;
        vi.advanceTimersByTime(1);
      }
      expect(closedAt).toHaveLength(100);
      const burst = closedAt.filter((at) => at === 500).length;
      for (let i = burst + 10; i < closedAt.length; i++) {
        const span = closedAt[i]! - closedAt[i - 10]!;
        expect(span).toBeGreaterThanOrEqual((9 * 10) / CATCH_UP_RATE);
      }
    } finally {
      vi.useRealTimers();
    }
  });
});
