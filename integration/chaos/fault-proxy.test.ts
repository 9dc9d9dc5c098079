/**
 * The chaos test's fault proxy on its own, between two raw `node:net` peers
 * on 127.0.0.1: it forwards both ways (with backpressure, FINs passed on),
 * and each fault does to both peers what it says: a cut is a FIN, a reset an
 * RST, a stall holds every byte until it resumes or cuts. Random faults are
 * counted and replayable from their seed.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as net from 'node:net';
import { describe, expect, test } from 'vitest';
import { onCleanup, startRawServer, until, useCleanup, within } from '@proj/test-utils';
import { type FaultEvent, FaultProxy, type FaultProxyOptions } from './fault-proxy.js';

useCleanup();

/** What one end of a proxied connection saw. */
interface Peer {
  readonly socket: net.Socket;
  /** Everything received, in order. */
  received(): Buffer;
  /** Resolves on `close`, with the error code the socket failed with, if any. */
  readonly closed: Promise<string | undefined>;
  /** Whether `end` (a FIN) arrived. */
  ended(): boolean;
  /** Labels of what happened, in order, shared by both peers of a test. */
  readonly timeline: string[];
}

function watch(socket: net.Socket, name: string, timeline: string[]): Peer {
  const chunks: Buffer[] = [];
  let ended = false;
  let code: string | undefined;
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    timeline.push(`${name} data`);
  });
  socket.on('end', () => {
    ended = true;
    timeline.push(`${name} end`);
  });
  socket.on('error', (error: NodeJS.ErrnoException) => (code ??= error.code ?? error.message));
  const closed = new Promise<string | undefined>((resolve) =>
    socket.once('close', () => resolve(code)),
  );
  onCleanup(() => socket.destroy());
  return { socket, received: () => Buffer.concat(chunks), closed, ended: () => ended, timeline };
}

/** A proxy in front of a raw server; `connect()` makes a client and returns both ends. */
async function setup(options: Partial<FaultProxyOptions> = {}) {
  const accepted: net.Socket[] = [];
  const target = await startRawServer((socket) => accepted.push(socket), { allowHalfOpen: true });
  const proxy = await FaultProxy.start({
    target: { host: '127.0.0.1', port: target.port },
    seed: 1,
    meanTimeBetweenFaults: Infinity,
    ...options,
  });
  onCleanup(() => proxy.close());
  const events: FaultEvent[] = [];
  proxy.on('fault', (event) => events.push(event));
  const timeline: string[] = [];
  let taken = 0;
  const connect = async (): Promise<{ client: Peer; server: Peer }> => {
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port, allowHalfOpen: true });
    const client = watch(socket, 'client', timeline);
    await once(socket, 'connect');
    await until(() => accepted.length > taken);
    const server = watch(accepted[taken++]!, 'server', timeline);
    return { client, server };
  };
  return { proxy, events, timeline, connect };
}

describe('forwarding', () => {
  test('bytes both ways, in order and intact, with backpressure; a FIN is passed on', async () => {
    const { proxy, connect } = await setup();
    const { client, server } = await connect();
    // The server echoes and passes the client's FIN back as its own.
    server.socket.pipe(server.socket);
    // Far more than the sockets' buffers: forwarding must pause and resume on drain.
    const payload = randomBytes(8 * 1024 * 1024);
    client.socket.end(payload);
    expect(await within(client.closed, 'the echo and the FIN', 30_000)).toBeUndefined();
    expect(client.ended()).toBe(true);
    expect(client.received().equals(payload)).toBe(true);
    await until(() => proxy.stats().open === 0);
    expect(proxy.stats()).toMatchObject({
      accepted: 1,
      faults: 0,
      bytesUp: payload.length,
      bytesDown: payload.length,
    });
  });

  test('a client whose upstream cannot be reached is closed and counted', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const proxy = await FaultProxy.start({
      target: { host: '127.0.0.1', port: closedPort },
      seed: 1,
      meanTimeBetweenFaults: 10,
    });
    onCleanup(() => proxy.close());
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
    const client = watch(socket, 'client', []);
    await within(client.closed, 'the client closed');
    await until(() => proxy.stats().open === 0);
    expect(proxy.stats()).toMatchObject({ accepted: 1, upstreamFailures: 1, faults: 0 });
  });
});

describe('faults', () => {
  test('a cut sends a FIN to both peers', async () => {
    const { proxy, events, connect } = await setup();
    const { client, server } = await connect();
    expect(proxy.inject('cut')).toBe(1);
    // Neither peer writes back: the proxy's FIN is what ends each of them.
    server.socket.on('end', () => server.socket.end());
    client.socket.on('end', () => client.socket.end());
    expect(await within(client.closed, 'client closed')).toBeUndefined();
    expect(await within(server.closed, 'server closed')).toBeUndefined();
    expect(client.ended() && server.ended()).toBe(true);
    expect(events).toEqual([{ connection: 1, action: 'cut' }]);
    await until(() => proxy.stats().open === 0);
    expect(proxy.stats()).toMatchObject({ faults: 1, cuts: 1, resets: 0, stalls: 0 });
  });

  test('a reset sends an RST to both peers', async () => {
    const { proxy, events, connect } = await setup();
    const { client, server } = await connect();
    expect(proxy.inject('reset')).toBe(1);
    expect(await within(client.closed, 'client closed')).toBe('ECONNRESET');
    expect(await within(server.closed, 'server closed')).toBe('ECONNRESET');
    expect(client.ended() || server.ended()).toBe(false);
    expect(events).toEqual([{ connection: 1, action: 'reset' }]);
    await until(() => proxy.stats().open === 0);
    expect(proxy.stats()).toMatchObject({ faults: 1, cuts: 0, resets: 1, stalls: 0 });
  });

  test('a stall holds every byte both ways until it resumes', async () => {
    const { proxy, events, timeline, connect } = await setup({
      stallMs: [300, 300],
      stallCutChance: 0,
    });
    const { client, server } = await connect();
    expect(proxy.inject('stall')).toBe(1);
    client.socket.write('up');
    server.socket.write('down');
    proxy.on('fault', (event) => timeline.push(event.action));
    await until(() => client.received().length === 4 && server.received().length === 2);
    // Nothing crossed before the stall ended, whatever the machine's speed.
    expect(timeline[0]).toBe('resume');
    expect(timeline.slice(1).sort()).toEqual(['client data', 'server data']);
    expect(client.received().toString()).toBe('down');
    expect(server.received().toString()).toBe('up');
    expect(events).toEqual([
      { connection: 1, action: 'stall', ms: 300 },
      { connection: 1, action: 'resume' },
    ]);
    expect(proxy.stats()).toMatchObject({ faults: 1, stalls: 1, stallsResumed: 1, stallsCut: 0 });
  });

  test('stopFaults ends a stall at once', async () => {
    const { proxy, connect } = await setup({ stallMs: [600_000, 600_000], stallCutChance: 1 });
    const { client, server } = await connect();
    expect(proxy.inject('stall')).toBe(1);
    client.socket.write('up');
    proxy.stopFaults();
    await until(() => server.received().length === 2);
    expect(proxy.stats()).toMatchObject({ stalls: 1, stallsResumed: 1, stallsCut: 0 });
  });

  test('a stall can end in a cut', async () => {
    const { proxy, events, connect } = await setup({ stallMs: [50, 50], stallCutChance: 1 });
    const { client, server } = await connect();
    expect(proxy.inject('stall')).toBe(1);
    server.socket.on('end', () => server.socket.end());
    client.socket.on('end', () => client.socket.end());
    expect(await within(client.closed, 'client closed')).toBeUndefined();
    expect(await within(server.closed, 'server closed')).toBeUndefined();
    expect(events.map((event) => event.action)).toEqual(['stall', 'stall-cut']);
    expect(proxy.stats()).toMatchObject({ faults: 1, stalls: 1, stallsResumed: 0, stallsCut: 1 });
  });
});

describe('random faults', () => {
  /** Ten connections one after the other, each kept until a fault ends it; what the proxy did. */
  async function run(seed: number): Promise<{ actions: string[]; stats: object }> {
    const { proxy, events, connect } = await setup({
      seed,
      meanTimeBetweenFaults: 20,
      stallMs: [5, 20],
    });
    for (let i = 0; i < 10; i++) {
      const { client, server } = await connect();
      for (const peer of [client, server]) peer.socket.on('end', () => peer.socket.end());
      await within(Promise.all([client.closed, server.closed]), `connection ${i + 1} ended`);
    }
    await until(() => proxy.stats().open === 0);
    const stats = proxy.stats();
    // Every connection ended by exactly one cut, reset or stall that ended in a cut.
    expect(stats.cuts + stats.resets + stats.stallsCut).toBe(10);
    expect(stats.stalls).toBe(stats.stallsResumed + stats.stallsCut);
    expect(stats.faults).toBe(
      events.filter((e) => e.action !== 'resume' && e.action !== 'stall-cut').length,
    );
    return { actions: events.map((e) => `${e.connection} ${e.action} ${e.ms ?? ''}`), stats };
  }

  test('are counted, and the same seed makes the same decisions', async () => {
    const first = await run(42);
    const again = await run(42);
    const other = await run(43);
    expect(again).toEqual(first);
    expect(other.actions).not.toEqual(first.actions);
    // The seeds are not degenerate: every kind of fault happened.
    const kinds = new Set(first.actions.map((action) => action.split(' ')[1]));
    expect([...kinds].sort()).toEqual(['cut', 'reset', 'resume', 'stall', 'stall-cut']);
  });

  test('stopFaults stops them, startFaults starts them again', async () => {
    const { proxy, connect } = await setup({ meanTimeBetweenFaults: 20, faults: false });
    const { client, server } = await connect();
    client.socket.write('before');
    await until(() => server.received().length === 6);
    expect(proxy.stats().faults).toBe(0);
    proxy.startFaults();
    expect(proxy.faulting).toBe(true);
    await until(() => proxy.stats().faults > 0);
    proxy.stopFaults();
    expect(proxy.faulting).toBe(false);
  });
});
