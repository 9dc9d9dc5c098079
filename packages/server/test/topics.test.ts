/**
 * Topics: socket.subscribe/unsubscribe/topics, server.publish/subscriberCount,
 * and the adapter contract, with the default in-memory adapter.
 */
import { describe, expect, test, vi } from 'vitest';
import type WebSocket from 'ws';
import {
  MemoryAdapter,
  type PubSubAdapter,
  type ServerOptions,
  type ServerWebSocket,
  WebSocketServer,
} from '@proj/server';
import {
  Collector,
  RawClient,
  connectWs,
  nextEvent,
  quiet,
  startServer,
  useCleanup,
  wsMessage,
} from './helpers.js';

useCleanup();

async function serverWithClients(
  count: number,
  options: Omit<ServerOptions, 'port' | 'server' | 'noServer'> = {},
) {
  const started = await startServer(options);
  const sockets = new Collector<ServerWebSocket>();
  started.server.on('connection', (socket) => sockets.push(socket));
  const clients: WebSocket[] = [];
  for (let i = 0; i < count; i++) clients.push(await connectWs(started.url));
  return { ...started, clients, sockets: (await sockets.until(count)).slice() };
}

/** Records every message a `ws` client receives, as text. */
function record(ws: WebSocket): Collector<string> {
  const messages = new Collector<string>();
  ws.on('message', (data: Buffer) => messages.push(data.toString()));
  return messages;
}

/** An adapter that records what the server tells it. */
class RecordingAdapter extends MemoryAdapter {
  readonly calls: string[] = [];
  readonly published: Array<{ topic: string; payload: Uint8Array; binary: boolean }> = [];
  closed = false;
  override publish(topic: string, payload: Uint8Array, binary: boolean): void {
    this.published.push({ topic, payload: payload.slice(), binary });
  }
  override subscribe(topic: string): void {
    this.calls.push(`+${topic}`);
  }
  override unsubscribe(topic: string): void {
    this.calls.push(`-${topic}`);
  }
  override close(): void {
    this.closed = true;
  }
}

describe('subscribe, unsubscribe, topics', () => {
  test('subscribe and unsubscribe report changes; topics is the current set', async () => {
    const { server, sockets } = await serverWithClients(1);
    const socket = sockets[0]!;
    expect(socket.topics.size).toBe(0);
    expect(socket.subscribe('a')).toBe(true);
    expect(socket.subscribe('a')).toBe(false);
    expect(socket.subscribe('b')).toBe(true);
    expect([...socket.topics]).toEqual(['a', 'b']);
    expect(server.subscriberCount('a')).toBe(1);
    expect(socket.unsubscribe('a')).toBe(true);
    expect(socket.unsubscribe('a')).toBe(false);
    expect(socket.unsubscribe('never')).toBe(false);
    expect([...socket.topics]).toEqual(['b']);
    expect(server.subscriberCount('a')).toBe(0);
    expect(() => socket.subscribe(42 as unknown as string)).toThrow(TypeError);
    expect(() => server.publish(undefined as unknown as string, 'x')).toThrow(TypeError);
  });

  test('publish reaches every subscriber of the topic and no one else', async () => {
    const { server, clients, sockets } = await serverWithClients(3);
    sockets[0]!.subscribe('news');
    sockets[1]!.subscribe('news');
    sockets[2]!.subscribe('sports');
    const received = clients.map(record);
    expect(server.subscriberCount('news')).toBe(2);
    expect(server.publish('news', 'hello ✓')).toBe(2);
    expect(server.publish('sports', 'goal')).toBe(1);
    expect(server.publish('nobody', 'void')).toBe(0);
    expect(await received[0]!.until(1)).toEqual(['hello ✓']);
    expect(await received[1]!.until(1)).toEqual(['hello ✓']);
    expect(await received[2]!.until(1)).toEqual(['goal']);
    await quiet(50);
    expect(received.map((r) => r.items.length)).toEqual([1, 1, 1]);
  });

  test('binary payloads arrive byte-exact; binary: false sends bytes as text', async () => {
    const { server, clients, sockets } = await serverWithClients(1);
    sockets[0]!.subscribe('t');
    const payload = new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff);
    let next = wsMessage(clients[0]!);
    server.publish('t', payload);
    let message = await next;
    expect(message.isBinary).toBe(true);
    expect(new Uint8Array(message.data)).toEqual(payload);
    next = wsMessage(clients[0]!);
    server.publish('t', new TextEncoder().encode('as text'), { binary: false });
    message = await next;
    expect(message.isBinary).toBe(false);
    expect(message.data.toString()).toBe('as text');
    next = wsMessage(clients[0]!);
    server.publish('t', 'as binary', { binary: true });
    message = await next;
    expect(message.isBinary).toBe(true);
  });

  test('except leaves out one subscriber (the sender)', async () => {
    const { server, clients, sockets } = await serverWithClients(3);
    for (const socket of sockets) socket.subscribe('room');
    const received = clients.map(record);
    expect(server.publish('room', 'from 0', { except: sockets[0] })).toBe(2);
    await received[1]!.until(1);
    await received[2]!.until(1);
    sockets[1]!.unsubscribe('room');
    sockets[2]!.unsubscribe('room');
    // The only subscriber is the excluded one.
    expect(server.publish('room', 'nobody', { except: sockets[0] })).toBe(0);
    await quiet(50);
    expect(received[0]!.items).toEqual([]);
  });

  test('a closed connection leaves all its topics; subscribing after close does nothing', async () => {
    const { server, clients, sockets } = await serverWithClients(2);
    const [leaving, staying] = sockets as [ServerWebSocket, ServerWebSocket];
    leaving.subscribe('a');
    leaving.subscribe('b');
    staying.subscribe('a');
    const closed = nextEvent(leaving, 'close');
    clients[0]!.close();
    await closed;
    expect(leaving.topics.size).toBe(0);
    expect(server.subscriberCount('a')).toBe(1);
    expect(server.subscriberCount('b')).toBe(0);
    expect(leaving.subscribe('c')).toBe(false);
    expect(server.subscriberCount('c')).toBe(0);
    const toStaying = wsMessage(clients[1]!);
    expect(server.publish('a', 'still here')).toBe(1);
    expect((await toStaying).data.toString()).toBe('still here');
  });

  test('messages from one publisher arrive in publish order, text and binary mixed', async () => {
    const { server, clients, sockets } = await serverWithClients(3);
    for (const socket of sockets) socket.subscribe('seq');
    const received = clients.map(record);
    const count = 2_000;
    for (let i = 0; i < count; i++) {
      if (i % 2) server.publish('seq', String(i));
      else server.publish('seq', Buffer.from(String(i)));
    }
    const expected = Array.from({ length: count }, (_, i) => String(i));
    for (const r of received) expect(await r.until(count)).toEqual(expected);
  });
});

describe('a slow subscriber', () => {
  test('never delays the others; with backlogPolicy "close" it is closed with 1008', async () => {
    const maxBacklog = 256 * 1024;
    const started = await startServer({ maxBacklog });
    const sockets = new Collector<ServerWebSocket>();
    started.server.on('connection', (socket) => sockets.push(socket));
    // The slow one: a raw client that never reads, so its kernel buffers fill
    // and then its server-side backlog grows.
    const slow = await RawClient.open(started.port);
    slow.socket.pause();
    const fast = await connectWs(started.url);
    const [slowSocket, fastSocket] = (await sockets.until(2)) as [ServerWebSocket, ServerWebSocket];
    slowSocket.subscribe('feed');
    fastSocket.subscribe('feed');
    const slowClosed = nextEvent<[number, string]>(slowSocket, 'close');
    const received = new Collector<number>();
    fast.on('message', (data: Buffer) => received.push(data.readUInt32BE(0)));

    const chunk = Buffer.alloc(64 * 1024);
    const count = 200; // 12.5 MiB: far past the kernel buffers and the slow one's cap
    let slowRefusedAt = -1;
    for (let i = 0; i < count; i++) {
      chunk.writeUInt32BE(i, 0);
      const sent = started.server.publish('feed', chunk);
      if (sent < 2 && slowRefusedAt < 0) slowRefusedAt = i;
      // Let the fast one keep up, as a real feed would be spread over time.
      if (i % 20 === 19) await received.until(i - 10);
    }
    expect(slowRefusedAt).toBeGreaterThan(0);
    const all = await received.until(count);
    expect(all).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(slowSocket.readyState).toBeGreaterThanOrEqual(2);
    slow.socket.destroy();
    const [code] = await slowClosed;
    expect([1006, 1008]).toContain(code);
    expect(started.server.subscriberCount('feed')).toBe(1);
  });

  test('with backlogPolicy "reject" it only misses messages and stays subscribed', async () => {
    const started = await startServer({ maxBacklog: 128 * 1024, backlogPolicy: 'reject' });
    const sockets = new Collector<ServerWebSocket>();
    started.server.on('connection', (socket) => sockets.push(socket));
    const slow = await RawClient.open(started.port);
    slow.socket.pause();
    const [slowSocket] = (await sockets.until(1)) as [ServerWebSocket];
    slowSocket.subscribe('feed');
    const chunk = Buffer.alloc(64 * 1024);
    let refused = 0;
    for (let i = 0; i < 200; i++) if (started.server.publish('feed', chunk) === 0) refused++;
    expect(refused).toBeGreaterThan(0);
    expect(slowSocket.readyState).toBe(1);
    expect(started.server.subscriberCount('feed')).toBe(1);
  });
});

describe('adapter', () => {
  test('is told the first subscribe and the last unsubscribe of each topic, and gets every publish', async () => {
    const adapter = new RecordingAdapter();
    const { server, clients, sockets } = await serverWithClients(2, { adapter });
    expect(server.adapter).toBe(adapter);
    const [a, b] = sockets as [ServerWebSocket, ServerWebSocket];
    a.subscribe('x');
    b.subscribe('x');
    a.subscribe('y');
    b.unsubscribe('x');
    a.unsubscribe('x');
    expect(adapter.calls).toEqual(['+x', '+y', '-x']);
    const toA = record(clients[0]!);
    server.publish('y', 'text');
    server.publish('nobody-here', new Uint8Array([1, 2, 3]));
    expect(adapter.published).toEqual([
      { topic: 'y', payload: new TextEncoder().encode('text'), binary: false },
      { topic: 'nobody-here', payload: new Uint8Array([1, 2, 3]), binary: true },
    ]);
    // A message from another node is delivered to the local subscribers.
    adapter.emit('message', 'y', new TextEncoder().encode('remote'), false);
    expect(await toA.until(2)).toEqual(['text', 'remote']);
    // Closing leaves the last topic.
    const closed = nextEvent(a, 'close');
    clients[0]!.close();
    await closed;
    expect(adapter.calls).toEqual(['+x', '+y', '-x', '-y']);
    await server.close({ timeout: 100 });
    expect(adapter.closed).toBe(true);
    // After close the server no longer listens to it.
    expect(adapter.listenerCount('message')).toBe(0);
  });

  test('the default is a MemoryAdapter; a malformed adapter is refused', async () => {
    const server = new WebSocketServer({ noServer: true });
    expect(server.adapter).toBeInstanceOf(MemoryAdapter);
    const spy = vi.spyOn(server.adapter, 'close');
    await server.close();
    expect(spy).toHaveBeenCalledOnce();
    expect(
      () => new WebSocketServer({ noServer: true, adapter: {} as unknown as PubSubAdapter }),
    ).toThrow(/"adapter" option/);
  });
});
