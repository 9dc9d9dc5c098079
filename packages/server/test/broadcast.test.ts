/**
 * server.broadcast: one encoding, the same bytes to every open connection.
 */
import { describe, expect, test } from 'vitest';
import type { ServerWebSocket } from '@proj/server';
import { useCleanup } from '@proj/test-utils';
import { serverWithClients, wsMessage } from './helpers.js';

useCleanup();

describe('broadcast', () => {
  test('text reaches every client as text, and the count says how many', async () => {
    const { server, clients } = await serverWithClients(5);
    const received = clients.map((ws) => wsMessage(ws));
    expect(server.broadcast('tick ✓')).toBe(5);
    for (const message of await Promise.all(received)) {
      expect(message.isBinary).toBe(false);
      expect(message.data.toString()).toBe('tick ✓');
    }
  });

  test('binary reaches every client byte-exact, above the 1 KiB zero-copy threshold too', async () => {
    const { server, clients } = await serverWithClients(3);
    const payload = new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff);
    const received = clients.map((ws) => wsMessage(ws));
    expect(server.broadcast(payload)).toBe(3);
    for (const message of await Promise.all(received)) {
      expect(message.isBinary).toBe(true);
      expect(new Uint8Array(message.data)).toEqual(payload);
    }
  });

  test('filter leaves out the sender; closing and fragmenting connections are skipped', async () => {
    const { server, clients, sockets } = await serverWithClients(4);
    const [sender, closing, fragmenting, plain] = sockets as [
      ServerWebSocket,
      ServerWebSocket,
      ServerWebSocket,
      ServerWebSocket,
    ];
    closing.close(1000);
    fragmenting.send('part', { fin: false });
    const toPlain = wsMessage(clients[3]!);
    expect(server.broadcast('news', { filter: (socket) => socket !== sender })).toBe(1);
    expect((await toPlain).data.toString()).toBe('news');
    // The fragmented message completes undisturbed.
    const toFragmenting = wsMessage(clients[2]!);
    fragmenting.send('-end');
    expect((await toFragmenting).data.toString()).toBe('part-end');
    expect(plain.readyState).toBe(1);
  });

  test('{ binary: false } sends bytes as text', async () => {
    const { server, clients } = await serverWithClients(1);
    const received = wsMessage(clients[0]!);
    server.broadcast(new TextEncoder().encode('as text'), { binary: false });
    const message = await received;
    expect(message.isBinary).toBe(false);
    expect(message.data.toString()).toBe('as text');
  });
});
