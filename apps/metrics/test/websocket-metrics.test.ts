import { channel } from 'node:diagnostics_channel';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import {
  BacklogExceededError,
  CHANNELS,
  type ServerOptions,
  type ServerWebSocket,
  WebSocketServer,
} from '@proj/server';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { registerWebSocketMetrics } from '../websocket-metrics.mjs';
import { type Exposition, parseExposition, valueOf } from './exposition.js';

// The exporter in-process, on servers set up to produce what the example app
// never does by itself: a pending handshake, errors in application code,
// refusals over maxBacklog, application close codes.

const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  // Last registered first: the exporter stops counting before its server closes.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  server: WebSocketServer;
  url: string;
  /** Reads the registry as Prometheus would. */
  scrape: () => Promise<Exposition>;
}

/** A server on a free port with the metrics on a registry of its own. */
async function setup(options: ServerOptions = {}): Promise<Setup> {
  const server = new WebSocketServer({ ...options, host: '127.0.0.1', port: 0 });
  cleanups.push(() => server.close({ timeout: 100 }));
  const registry = new Registry();
  const metrics = registerWebSocketMetrics(server, registry);
  cleanups.push(() => metrics.close());
  await server.ready();
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    server,
    url: `ws://127.0.0.1:${port}`,
    scrape: async () => parseExposition(await registry.metrics()),
  };
}

function client(url: string, protocols?: string[]): WebSocket {
  const ws = new WebSocket(url, protocols);
  ws.on('error', () => {}); // refused handshakes are expected here
  cleanups.push(() => ws.terminate());
  return ws;
}

describe('registerWebSocketMetrics', () => {
  it('reads the pending-handshake and connection gauges at scrape time', async () => {
    let admit!: () => void;
    const admitted = new Promise<void>((resolve) => (admit = resolve));
    const { server, url, scrape } = await setup({
      // An asynchronous authenticate keeps the handshake pending until admitted.
      authenticate: async () => {
        await admitted;
        return undefined;
      },
    });
    const ws = client(url);
    await expect.poll(() => server.stats().pendingHandshakes).toBe(1);
    let metrics = await scrape();
    expect(valueOf(metrics, 'websocket_pending_handshakes')).toBe(1);
    expect(valueOf(metrics, 'websocket_connections')).toBe(0);
    expect(valueOf(metrics, 'websocket_handshakes_accepted_total')).toBe(0);

    admit();
    await once(ws, 'open');
    metrics = await scrape();
    expect(valueOf(metrics, 'websocket_pending_handshakes')).toBe(0);
    expect(valueOf(metrics, 'websocket_connections')).toBe(1);
    expect(valueOf(metrics, 'websocket_handshakes_accepted_total')).toBe(1);
  });

  it('counts refused handshakes by status, closes by cause and code, errors in user code by site', async () => {
    const { server, url, scrape } = await setup({
      handleProtocols: (offered) => {
        if (offered.has('broken')) throw new Error('handleProtocols bug');
        return undefined;
      },
    });
    // Reported to the server's `error` listener instead of as a process warning.
    const reported: Error[] = [];
    server.on('error', (error) => reported.push(error));
    server.on('connection', (socket: ServerWebSocket, request: IncomingMessage) => {
      if (request.url === '/throws') throw new Error('connection listener bug');
      socket.on('message', () => socket.close(1000, 'as you wish'));
    });

    const broken = client(url, ['broken']);
    const [, response] = (await once(broken, 'unexpected-response')) as [unknown, IncomingMessage];
    expect(response.statusCode).toBe(500);
    response.destroy();

    const thrown = client(`${url}/throws`);
    expect(((await once(thrown, 'close')) as [number])[0]).toBe(1011);

    // A close code of the application's range is labelled by its thousand.
    const app = client(url);
    await once(app, 'open');
    app.close(4321);
    await once(app, 'close');

    const asked = client(url);
    await once(asked, 'open');
    asked.send('close, please');
    expect(((await once(asked, 'close')) as [number])[0]).toBe(1000);

    await expect
      .poll(async () =>
        valueOf(await scrape(), 'websocket_closes_total', { cause: 'local-close', code: '1000' }),
      )
      .toBe(1);
    const metrics = await scrape();
    expect(valueOf(metrics, 'websocket_handshakes_rejected_total', { status: '500' })).toBe(1);
    expect(valueOf(metrics, 'websocket_user_errors_total', { site: 'handleProtocols' })).toBe(1);
    expect(valueOf(metrics, 'websocket_user_errors_total', { site: 'connection' })).toBe(1);
    expect(valueOf(metrics, 'websocket_closes_total', { cause: 'user-error', code: '1011' })).toBe(
      1,
    );
    expect(valueOf(metrics, 'websocket_closes_total', { cause: 'peer-close', code: '4xxx' })).toBe(
      1,
    );
    expect(reported.map((error) => error.message)).toEqual([
      'handleProtocols bug',
      'connection listener bug',
    ]);
  });

  it('counts sends refused over maxBacklog by policy', async () => {
    const { server, url, scrape } = await setup({ maxBacklog: 1024, backlogPolicy: 'reject' });
    const accepted = once(server, 'connection') as Promise<[ServerWebSocket]>;
    const ws = client(url);
    await once(ws, 'open');
    // A client that stops reading: the server's writes queue up.
    ws.pause();
    const [socket] = await accepted;

    let refusals = 0;
    const onSent = (error?: Error | null): void => {
      if (error instanceof BacklogExceededError) refusals++;
    };
    // A send to an empty backlog is never refused, and the kernel takes
    // megabytes before anything stays queued: fill it first.
    const chunk = Buffer.alloc(64 * 1024);
    for (let sent = 0; socket.bufferedAmount === 0 && sent < 1024; sent++) {
      socket.send(chunk, onSent);
    }
    expect(socket.bufferedAmount).toBeGreaterThan(0);
    socket.send(chunk, onSent);
    socket.send(chunk, onSent);
    // Refusals call back on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(refusals).toBe(2);

    const metrics = await scrape();
    expect(valueOf(metrics, 'websocket_backlog_exceeded_total', { policy: 'reject' })).toBe(2);
  });

  it('unsubscribes from the channels and leaves the registry once closed', async () => {
    const server = new WebSocketServer({ noServer: true });
    cleanups.push(() => server.close());
    const registry = new Registry();
    const counted = [
      CHANNELS.handshakeRejected,
      CHANNELS.close,
      CHANNELS.backlogExceeded,
      CHANNELS.userError,
    ].map((name) => channel(name));
    const metrics = registerWebSocketMetrics(server, registry);
    expect(counted.map((c) => c.hasSubscribers)).toEqual([true, true, true, true]);
    metrics.close();
    expect(counted.map((c) => c.hasSubscribers)).toEqual([false, false, false, false]);
    expect(parseExposition(await registry.metrics()).samples).toEqual([]);
    // Its names are free again: a new exporter can take the same registry.
    const again = registerWebSocketMetrics(server, registry);
    cleanups.push(() => again.close());
    expect(valueOf(parseExposition(await registry.metrics()), 'websocket_connections')).toBe(0);
  });
});
