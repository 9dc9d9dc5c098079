/**
 * permessage-deflate on the Node WebSocket, with a `ws` server as the
 * reference peer for every parameter combination, and with @proj/server.
 */
import type { AddressInfo } from 'node:net';
import { describe, expect, test } from 'vitest';
import type { PerMessageDeflateOptions } from 'ws';
import { WebSocket, type WebSocketOptions } from '@proj/client';
import { WebSocketServer } from '@proj/server';
import { onCleanup, sampleMessages } from '@proj/test-utils';
import { DEFLATE_COMBOS } from '../../server/test/deflate-combos.js';
import { startPeer } from './helpers.js';

/** A `ws` server (closed after the test) that echoes every message. */
async function wsEchoServer(
  perMessageDeflate: PerMessageDeflateOptions | boolean,
): Promise<string> {
  const { wss, url } = await startPeer({ perMessageDeflate });
  wss.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  return url;
}

function connect(url: string, options: WebSocketOptions): Promise<WebSocket> {
  const ws = new WebSocket(url, [], options);
  ws.binaryType = 'arraybuffer';
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error('connection failed'));
  });
}

/** The next `count` messages; rejects if the connection closes first (no wait for the timeout). */
function collect(ws: WebSocket, count: number): Promise<(string | Buffer)[]> {
  const received: (string | Buffer)[] = [];
  return new Promise((resolve, reject) => {
    ws.onmessage = (event) => {
      received.push(
        typeof event.data === 'string' ? event.data : Buffer.from(event.data as ArrayBuffer),
      );
      if (received.length === count) resolve(received);
    };
    ws.onclose = (event) =>
      reject(new Error(`closed with ${event.code} after ${received.length} of ${count} messages`));
  });
}

const messages = (): (string | Buffer)[] => sampleMessages('bob');

// Each combination split in two: one half set by our client's offer, the
// other by the ws server's preferences.
const combos = DEFLATE_COMBOS.map(
  ({
    serverNoContextTakeover,
    serverMaxWindowBits,
    clientNoContextTakeover,
    clientMaxWindowBits,
  }) => ({
    client: { serverNoContextTakeover, serverMaxWindowBits },
    server: { clientNoContextTakeover, clientMaxWindowBits },
  }),
);

describe('ws server, our client', () => {
  test.each(combos.map((c) => [JSON.stringify(c), c] as const))(
    '%s: negotiated, every message round trips',
    async (_, { server, client }) => {
      const url = await wsEchoServer({ ...server, threshold: 0 });
      const ws = await connect(url, { perMessageDeflate: { ...client, threshold: 0 } });
      expect(ws.extensions).toMatch(/^permessage-deflate/);
      if (client.serverNoContextTakeover)
        expect(ws.extensions).toContain('server_no_context_takeover');
      if (server.clientNoContextTakeover)
        expect(ws.extensions).toContain('client_no_context_takeover');
      if (server.clientMaxWindowBits)
        expect(ws.extensions).toContain(`client_max_window_bits=${server.clientMaxWindowBits}`);
      const sent = messages();
      const received = collect(ws, sent.length * 2);
      for (const m of [...sent, ...sent]) ws.send(m);
      expect(await received).toEqual([...sent, ...sent]);
      ws.close();
    },
  );

  test('not offered by default', async () => {
    const url = await wsEchoServer(true);
    const ws = await connect(url, {});
    expect(ws.extensions).toBe('');
    ws.close();
  });

  test('order under concurrency: many compressed and small messages, closed right after', async () => {
    const url = await wsEchoServer({ threshold: 256 });
    const ws = await connect(url, { perMessageDeflate: { threshold: 256 } });
    const sent = Array.from({ length: 500 }, (_, i) =>
      i % 2 ? `${i}` : `${i}:` + 'q'.repeat(1000 + i),
    );
    const received = collect(ws, sent.length);
    for (const m of sent) ws.send(m);
    expect(await received).toEqual(sent);
    const closed = new Promise<number>((resolve) => (ws.onclose = (event) => resolve(event.code)));
    ws.send('z'.repeat(100_000));
    ws.close(1000);
    expect(await closed).toBe(1000);
  });

  test('maxPayload counts inflated bytes: a 10 MiB message in ~10 KiB fails with 1009', async () => {
    const { wss, url } = await startPeer({ perMessageDeflate: { threshold: 0 } });
    wss.on('connection', (socket) => {
      socket.on('error', () => {});
      socket.send(Buffer.alloc(10 * 1024 * 1024));
    });
    const ws = new WebSocket(url, [], { perMessageDeflate: true, maxPayload: 1024 * 1024 });
    const code = await new Promise<number>(
      (resolve) => (ws.onclose = (event) => resolve(event.code)),
    );
    expect(code).toBe(1006); // failed: we sent 1009, the close event reports 1006
  });
});

describe('@proj/server, our client', () => {
  test('both ends compress; messages round trip', async () => {
    const server = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      perMessageDeflate: { threshold: 0, serverMaxWindowBits: 12 },
    });
    onCleanup(() => server.close());
    server.on('connection', (socket) =>
      socket.on('message', (d, b) => socket.send(d, { binary: b })),
    );
    await server.ready();
    const ws = await connect(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, {
      perMessageDeflate: { threshold: 0 },
    });
    expect(ws.extensions).toBe('permessage-deflate; server_max_window_bits=12');
    const sent = messages();
    const received = collect(ws, sent.length);
    for (const m of sent) ws.send(m);
    expect(await received).toEqual(sent);
    ws.close();
  });
});
