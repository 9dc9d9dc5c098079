/**
 * The chaos test's load balancer on its own: Debian's HAProxy with the
 * generated config in front of two plain @proj/server nodes. It upgrades
 * WebSocket connections to both; when a node stops, connections made at
 * once still succeed (a refused connection is redispatched to the other
 * node), the health checks take the node out, and put it back when it
 * listens again.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { WebSocket } from '@proj/client';
import { WebSocketServer } from '@proj/server';
import { useCleanup, within } from '@proj/test-utils';
import { Haproxy, haproxyConfig } from './haproxy.js';
import { waitFor } from './wait-for.js';

useCleanup();

/** A plain node that greets every connection with its name. */
async function startNode(name: string, port = 0): Promise<WebSocketServer> {
  const server = new WebSocketServer({ port, host: '127.0.0.1' });
  server.on('connection', (socket) => socket.send(name));
  await server.ready();
  return server;
}

function portOf(server: WebSocketServer): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** Connects through HAProxy; resolves with the greeting (the node's name), then closes. */
async function whichNode(port: number): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  try {
    const [event] = (await within(once(ws, 'message'), 'a greeting')) as [MessageEvent];
    return String(event.data);
  } finally {
    ws.close();
    if (ws.readyState !== WebSocket.CLOSED) await once(ws, 'close');
  }
}

let a: WebSocketServer;
let b: WebSocketServer;
let haproxy: Haproxy;

beforeAll(async () => {
  a = await startNode('a');
  b = await startNode('b');
  haproxy = await Haproxy.start([
    { name: 'a', host: '127.0.0.1', port: portOf(a) },
    { name: 'b', host: '127.0.0.1', port: portOf(b) },
  ]);
});

afterAll(async () => {
  await haproxy?.stop();
  await Promise.all([a?.close({ timeout: 100 }), b?.close({ timeout: 100 })]);
});

test('the config names every backend with a 250 ms health check, redispatch and retries', () => {
  const config = haproxyConfig(8080, '/tmp/admin.sock', [
    { name: 'a', host: '127.0.0.1', port: 1 },
    { name: 'b', host: '127.0.0.1', port: 2 },
  ]);
  expect(config).toContain('  bind 127.0.0.1:8080');
  expect(config).toContain('  server a 127.0.0.1:1 check inter 250 fall 2 rise 2');
  expect(config).toContain('  server b 127.0.0.1:2 check inter 250 fall 2 rise 2');
  expect(config).toContain('  option redispatch 1');
  expect(config).toContain('  retries 3');
  expect(() => haproxyConfig(1, '/x', [{ name: 'a b', host: 'h', port: 1 }])).toThrow(RangeError);
});

test('balances WebSocket upgrades over both nodes', async () => {
  await waitFor(async () => allUp(await haproxy.serverStates()), 'both nodes up');
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) seen.add(await whichNode(haproxy.port));
  expect([...seen].sort()).toEqual(['a', 'b']);
});

test('a stopped node: connections go to the other at once, checks take it out and back in', async () => {
  const port = portOf(a);
  await a.close({ timeout: 100 });
  // Before the checks notice, a refused connection is retried on b.
  for (let i = 0; i < 4; i++) expect(await whichNode(haproxy.port)).toBe('b');
  await waitFor(async () => (await haproxy.serverStates())['a'] === 'DOWN', 'a down');
  a = await startNode('a', port);
  await waitFor(async () => allUp(await haproxy.serverStates()), 'both nodes up');
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) seen.add(await whichNode(haproxy.port));
  expect(seen.has('a')).toBe(true);
});

function allUp(states: Record<string, string>): boolean {
  return states['a'] === 'UP' && states['b'] === 'UP';
}
