/**
 * The limits that protect a server from too many peers or too large
 * requests: `maxConnections` (503 past it, pending handshakes included) and
 * `maxHeaderCount` (431). The clocks (`idleTimeout`, the heartbeat) are in
 * timers.test.ts.
 */
import { createServer } from 'node:http';
import { describe, expect, test } from 'vitest';
import { WebSocketServer } from '@proj/server';
import { onCleanup, useCleanup } from '@proj/test-utils';
import { Collector } from './collector.js';
import {
  connectWs,
  echo,
  handshakeResponse,
  listen,
  sendHandshake,
  startEchoServer,
  startServer,
} from './helpers.js';

useCleanup();

/** `n` header fields beyond a handshake's own. */
const extra = (n: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-Extra-${i}`, 'x']));

/** The status answered to a handshake with `count` extra header fields. */
const statusWithExtra = async (port: number, count: number): Promise<number> =>
  (await handshakeResponse(port, { headers: extra(count) })).status;

describe('maxConnections', () => {
  test('upgrades past the limit get 503; a slot frees when a connection closes', async () => {
    const { server, url, port } = await startEchoServer({ maxConnections: 2 });
    const rejected = new Collector<[number, string]>();
    server.on('rejected', (status, reason) => rejected.push([status, reason]));
    const closes = new Collector<true>();
    server.on('connection', (socket) => socket.on('close', () => closes.push(true)));
    const a = await connectWs(url);
    const b = await connectWs(url);
    expect(server.clients.size).toBe(2);

    const refused = await handshakeResponse(port);
    expect(refused.status).toBe(503);
    expect(refused.body).toBe('Too many connections');
    expect(await rejected.until(1)).toEqual([[503, 'Too many connections']]);
    // Those connected are unaffected.
    expect(await echo(a, 'a')).toBe('a');
    expect(await echo(b, 'b')).toBe('b');

    a.close();
    await closes.until(1);
    const c = await connectWs(url);
    expect(await echo(c, 'c')).toBe('c');
    expect(server.clients.size).toBe(2);
  });

  test('a handshake still in authenticate counts', async () => {
    let release!: () => void;
    const calls = new Collector<true>();
    const { server, port, url } = await startServer({
      maxConnections: 1,
      authenticate: () => {
        calls.push(true);
        return new Promise<undefined>((resolve) => (release = () => resolve(undefined)));
      },
    });
    const pending = await sendHandshake(port);
    await calls.until(1);
    expect((await handshakeResponse(port)).status).toBe(503);
    release();
    expect((await pending.response()).status).toBe(101);
    expect(server.clients.size).toBe(1);
    await expect(connectWs(url)).rejects.toThrow(/503/);
  });
});

describe('maxHeaderCount', () => {
  test('standalone: up to the limit connects, one more gets 431', async () => {
    // A handshakeRequest has 5 fields of its own.
    const { port } = await startServer({ maxHeaderCount: 10 });
    expect(await statusWithExtra(port, 5)).toBe(101);
    const tooMany = await handshakeResponse(port, { headers: extra(6) });
    expect(tooMany.status).toBe(431);
    expect(tooMany.body).toBe('Too many header fields');
    expect(await statusWithExtra(port, 500)).toBe(431);
  });

  test('the default is 100', async () => {
    const { port } = await startServer();
    expect(await statusWithExtra(port, 95)).toBe(101);
    expect(await statusWithExtra(port, 96)).toBe(431);
  });

  test('attached mode applies it too', async () => {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, maxHeaderCount: 10 });
    onCleanup(() => wss.close({ timeout: 100 }));
    const port = await listen(http);
    expect(await statusWithExtra(port, 5)).toBe(101);
    expect(await statusWithExtra(port, 6)).toBe(431);
  });
});
