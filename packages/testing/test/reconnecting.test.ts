/**
 * The kit under code that uses @proj/client's ReconnectingWebSocket in Node:
 * a dropped connection and a restarted server, seen from the server's side
 * as the connections that follow.
 */
import { ReconnectingWebSocket } from '@proj/client';
import { onCleanup } from '@proj/test-utils';
import { describe, expect, test } from 'vitest';
import type { TestServer } from '../src/index.js';
import { server } from './helpers.js';

/** A ReconnectingWebSocket retrying every 20 ms, closed after the test. */
function reconnecting(wss: TestServer): ReconnectingWebSocket {
  const ws = new ReconnectingWebSocket(wss.url, [], {
    minDelay: 20,
    maxDelay: 20,
    minUptime: 0,
    environment: { random: () => 0 },
  });
  onCleanup(() => ws.close());
  return ws;
}

describe('ReconnectingWebSocket against the test server', () => {
  test('drop(): it reconnects, and what it queued meanwhile arrives on the next connection', async () => {
    const wss = await server();
    const ws = reconnecting(wss);
    const first = await wss.waitForConnection();
    await first.sendJson({ type: 'welcome' });

    ws.addEventListener('close', () => ws.send('{"queued":1}'), { once: true });
    await first.drop();
    const second = await wss.waitForConnection();
    expect(second.id).toBe(2);
    expect(await second.nextMessage()).toEqual({ queued: 1 });
    expect(first.messages).toEqual([]);
  });

  test('restart(): it finds the server again on the same port', async () => {
    const wss = await server();
    const ws = reconnecting(wss);
    const codes: number[] = [];
    ws.addEventListener('close', (event) => codes.push((event as CloseEvent).code));
    const first = await wss.waitForConnection();

    await wss.stop();
    // Nothing answers while stopped: the attempts fail (1006) until start().
    while (codes.length < 3) {
      await new Promise((resolve) => ws.addEventListener('close', resolve, { once: true }));
    }
    await wss.start();
    const second = await wss.waitForConnection();
    ws.send('"back"');
    expect(await second.nextMessage()).toBe('back');
    expect(first.closed).toMatchObject({ code: 1001, cause: 'server-shutdown' });
    expect(codes[0]).toBe(1001);
    expect(codes.slice(1)).toEqual(codes.slice(1).map(() => 1006));
  });
});
