/**
 * Sessions recorded in a store (`docs/session-protocol.md`, section 8): two
 * WebSocketServers sharing one `MemorySessionStore` behave as two nodes.
 * A session moves between them with its numbers, log and topics (point 3),
 * the node that held it is fenced (point 4), nothing is written or
 * acknowledged before the store recorded it, and a store that fails for a
 * while, or restarts empty, loses and repeats nothing (point 6).
 */
import { describe, expect, test } from 'vitest';
import { MemorySessionStore, type ServerSession, type SessionOptions } from '@proj/server';
import { nextEmit, quiet, turns, until, useCleanup } from '@proj/test-utils';
import { Collector } from './collector.js';
import { serverErrors } from './helpers.js';
import {
  ResumingClient,
  SessionPeer,
  sessionClose,
  sessionMessages,
  startSessionServer,
} from './session-peer.js';
import { ControlledStore } from './session-stores.js';

useCleanup();

/** Two nodes sharing `store`. */
async function twoNodes(store: ControlledStore | MemorySessionStore, options: SessionOptions = {}) {
  // Short keep-alives in some tests: no ping heartbeat at that pace.
  const server = { heartbeatInterval: 0 };
  const a = await startSessionServer({ ...options, store }, server);
  const b = await startSessionServer({ ...options, store }, server);
  return { a, b };
}

/** Resumes session `id` on `url` (with the client's numbers) and returns the peer and its `ready`. */
async function resumeOn(url: string, id: string, received: number, acked: number) {
  const peer = await SessionPeer.open(url);
  peer.control({ type: 'resume', id, received, acked });
  const answer = await peer.next();
  return { peer, answer };
}

describe('a session moves to another node', () => {
  test('with its numbers, its unacknowledged messages and its topics; `session` with moved', async () => {
    const store = new ControlledStore();
    const { a, b } = await twoNodes(store);
    const { peer, id } = await SessionPeer.hello(a.url);
    const [onA] = await a.sessions.until(1);
    const received = sessionMessages(onA!);
    peer.data('c1');
    peer.data('c2');
    await received.until(2);
    onA!.subscribe('room');
    onA!.send('s1');
    onA!.send('s2');
    expect(await peer.nextData()).toBe('s1');
    expect(await peer.nextData()).toBe('s2');
    peer.control({ type: 'ack', received: 1 });
    await until(() => onA!.acked === 1);
    // The ack from the server for c1..c2 is held until recorded, then sent.
    expect(await peer.nextControl('ack')).toEqual({ type: 'ack', received: 2 });
    peer.drop();
    await nextEmit(onA!, 'suspend');

    const moved = nextEmit<[ServerSession, unknown]>(b.server, 'session');
    // The client delivered s1 only; its c2 was acknowledged, c3 not yet sent.
    const { peer: again, answer } = await resumeOn(b.url, id, 1, 2);
    expect(answer).toEqual({
      kind: 'control',
      control: { type: 'ready', id, received: 2, keepAlive: 15_000 },
    });
    const [onB] = await moved;
    expect(onB.moved).toBe(true);
    expect(onB.id).toBe(id);
    expect([onB.sent, onB.received, onB.acked]).toEqual([2, 2, 1]);
    expect([...onB.topics]).toEqual(['room']);
    expect(await again.nextData()).toBe('s2');
    const onBReceived = sessionMessages(onB);
    again.data('c3');
    expect((await onBReceived.until(1))[0]).toEqual(['c3', false, 3]);
    b.server.publish('room', 'for the room');
    expect(await again.nextData()).toBe('for the room');
    expect(b.server.stats().sessions).toMatchObject({ resumed: 1, created: 0, held: 1 });
  });

  test('the node that held it is fenced: its next write fails, it lets go (session-taken)', async () => {
    const store = new ControlledStore();
    const { a, b } = await twoNodes(store);
    const { peer, id } = await SessionPeer.hello(a.url);
    const [onA] = await a.sessions.until(1);
    const { peer: onBPeer } = await resumeOn(b.url, id, 0, 0);
    const taken = sessionClose(onA!);
    // A still believes it holds the session, attached: its next commit is refused.
    onA!.send('never seen');
    expect(await taken).toEqual([1000, 'Session taken by another node', 'session-taken']);
    expect(await peer.closed()).toEqual({ code: 1000, reason: 'Session taken by another node' });
    expect(a.server.sessions.size).toBe(0);
    await quiet(50);
    expect(onBPeer.dataReceived).toEqual([]);
    expect(peer.dataReceived).toEqual([]);
  });

  test('a suspended copy learns it was taken at its keep-alive touch', async () => {
    const store = new ControlledStore();
    const { a, b } = await twoNodes(store, { keepAlive: 30 });
    const { peer, id } = await SessionPeer.hello(a.url);
    const [onA] = await a.sessions.until(1);
    peer.drop();
    await nextEmit(onA!, 'suspend');
    const taken = sessionClose(onA!);
    await resumeOn(b.url, id, 0, 0);
    expect((await taken)[2]).toBe('session-taken');
    expect(store.count('touch')).toBeGreaterThan(0);
  });

  test('resuming again on the node that still holds a copy: its copy, when nobody claimed in between', async () => {
    const store = new ControlledStore();
    const { a } = await twoNodes(store);
    const { peer, id } = await SessionPeer.hello(a.url);
    const [session] = await a.sessions.until(1);
    session!.send('x');
    expect(await peer.nextData()).toBe('x');
    peer.drop();
    await nextEmit(session!, 'suspend');
    const resumed = nextEmit(session!, 'resume');
    const { peer: again, answer } = await resumeOn(a.url, id, 0, 0);
    expect(answer.kind === 'control' && answer.control.type).toBe('ready');
    await resumed;
    expect(await again.nextData()).toBe('x');
    expect(a.server.sessions.get(id)).toBe(session);
    session!.send('y');
    expect(await again.nextData()).toBe('y');
  });

  test('resuming on a node whose copy is stale (another node held it since): the store state wins', async () => {
    const store = new ControlledStore();
    const { a, b } = await twoNodes(store, { keepAlive: 600_000 });
    const client = new ResumingClient(a.url);
    await client.resume();
    const [onA] = await a.sessions.until(1);
    onA!.send('from a');
    await client.delivered.until(1);
    client.drop();
    await nextEmit(onA!, 'suspend');
    expect((await client.resume(b.url)).type).toBe('ready');
    const [onB] = await b.sessions.until(1);
    onB!.send('from b');
    await client.delivered.until(2);
    client.drop();
    await client.closed();
    // Back on A, which never wrote since: its copy (epoch 1) is stale.
    const onAClosed = sessionClose(onA!);
    expect((await client.resume(a.url)).type).toBe('ready');
    expect((await onAClosed)[2]).toBe('session-taken');
    const [again] = await a.sessions.until(2);
    void again;
    const movedBack = a.sessions.items[1]!;
    expect(movedBack.moved).toBe(true);
    expect(movedBack.sent).toBe(2);
    movedBack.send('from a again');
    expect(await client.delivered.until(3)).toEqual(['from a', 'from b', 'from a again']);
    expect(client.duplicates).toBe(0);
  });

  test(
    'an echo across 16 moves between two nodes: every message once and in order at the client',
    { timeout: 60_000 },
    async () => {
      const store = new MemorySessionStore();
      const { a, b } = await twoNodes(store);
      const serverSeqs = new Collector<number>();
      for (const node of [a, b]) {
        node.server.on('session', (session) => {
          session.on('message', (data, _isBinary, seq) => {
            serverSeqs.push(seq);
            session.send(`echo:${data}`);
          });
        });
      }
      const client = new ResumingClient(a.url);
      await client.resume();
      const total = 320;
      let sent = 0;
      for (let move = 0; move < 16; move++) {
        for (const end = sent + total / 16; sent < end; sent++) client.send(`m${sent}`);
        if (move % 2 === 0) await client.delivered.until(sent - 5);
        client.drop();
        await client.closed();
        expect((await client.resume(move % 2 === 0 ? b.url : a.url)).type).toBe('ready');
      }
      const delivered = await client.delivered.until(total);
      expect(delivered).toEqual(Array.from({ length: total }, (_, i) => `echo:m${i}`));
      expect(client.duplicates).toBe(0);
      // The node it is attached to counts them all. (The other still has a
      // stale suspended copy until its next write to the store.)
      const attached = [...a.server.sessions.values(), ...b.server.sessions.values()].filter(
        (session) => session.connected,
      );
      expect(attached).toHaveLength(1);
      await until(() => attached[0]!.received === total);
      expect(serverSeqs.items.at(-1)).toBe(total);
      expect(store.size).toBe(1);
    },
  );
});

describe('nothing is written or acknowledged before the store recorded it (section 8, point 3)', () => {
  test('a slow commit holds the messages sent and the ack of those received', async () => {
    const store = new ControlledStore();
    const { a } = await twoNodes(store, { ackEvery: 1 });
    const { peer } = await SessionPeer.hello(a.url);
    const [session] = await a.sessions.until(1);
    const received = sessionMessages(session!);
    const release = store.holdCommits();
    expect(session!.send('held')).toBe(true);
    peer.data('c1');
    // Delivered to the application at once...
    await received.until(1);
    await quiet(100);
    // ...but nothing left the server for the client.
    expect(peer.received.items).toHaveLength(1);
    release();
    const next = [await peer.next(), await peer.next()];
    expect(next).toContainEqual({ kind: 'data', data: 'held', binary: false });
    expect(next).toContainEqual({ kind: 'control', control: { type: 'ack', received: 1 } });
  });

  test('ready answers with the recorded count; the replay stops at the recorded messages', async () => {
    const store = new ControlledStore();
    const { a } = await twoNodes(store, { ackEvery: 1000, ackDelay: 600_000, keepAlive: 600_000 });
    const { peer, id } = await SessionPeer.hello(a.url);
    const [session] = await a.sessions.until(1);
    session!.send('recorded');
    expect(await peer.nextData()).toBe('recorded');
    const release = store.holdCommits();
    peer.data('c1');
    await nextEmit(session!, 'message');
    session!.send('not yet recorded');
    peer.drop();
    await nextEmit(session!, 'suspend');
    const again = await SessionPeer.open(a.url);
    again.control({ type: 'resume', id, received: 0, acked: 0 });
    again.data('c1');
    // The claim waits for nothing but the store; the commit is still held.
    const ready = await again.nextControl('ready');
    expect(ready.received).toBe(0);
    expect(await again.nextData()).toBe('recorded');
    await quiet(50);
    expect(again.dataReceived).toEqual(['recorded']);
    release();
    expect(await again.nextData()).toBe('not yet recorded');
    expect(session!.received).toBe(1);
    expect(a.server.stats().sessions.duplicatesDiscarded).toBe(1);
  });

  test('one commit per tick for what one read delivered and what was sent in reply', async () => {
    const store = new ControlledStore();
    const { a } = await twoNodes(store);
    const { peer } = await SessionPeer.hello(a.url);
    const [session] = await a.sessions.until(1);
    session!.on('message', (data) => session!.send(`echo:${data}`));
    const before = store.count('commit');
    // One write, three messages: one TCP read.
    const frames = ['a', 'b', 'c'];
    const socket = (peer.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    socket.cork();
    for (const frame of frames) peer.data(frame);
    socket.uncork();
    for (const frame of frames) expect(await peer.nextData()).toBe(`echo:${frame}`);
    const step = store.steps.at(-1)!;
    expect(step.appended.map((message) => message.data)).toEqual(['echo:a', 'echo:b', 'echo:c']);
    expect(step.received).toBe(3);
    expect(store.count('commit') - before).toBe(1);
  });
});

describe('a store that fails (section 8, point 6)', () => {
  test('commits rejected for a while: delivery stalls, then nothing is lost or repeated', async () => {
    const store = new ControlledStore();
    const { a } = await twoNodes(store, { ackEvery: 1 });
    const client = new ResumingClient(a.url);
    await client.resume();
    const [session] = await a.sessions.until(1);
    const seqs = new Collector<number>();
    session!.on('message', (data, _isBinary, seq) => {
      seqs.push(seq);
      session!.send(`echo:${data}`);
    });
    store.down = true;
    for (let i = 0; i < 20; i++) client.send(`m${i}`);
    await seqs.until(20);
    await until(() => store.count('commit') >= 3);
    expect(client.delivered.items).toEqual([]);
    expect(client.log.acked).toBe(0);
    expect(a.server.stats().sessions.storeErrors).toBeGreaterThanOrEqual(3);
    store.down = false;
    const delivered = await client.delivered.until(20);
    expect(delivered).toEqual(Array.from({ length: 20 }, (_, i) => `echo:m${i}`));
    await until(() => client.log.acked === 20);
    expect(seqs.items).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const claimed = await store.inner.claim(session!.id, 60_000);
    expect(claimed).toMatchObject({ sent: 20, received: 20 });
  });

  test('a failure whose answer was lost: the commit made again records nothing twice', async () => {
    const inner = new MemorySessionStore();
    let failNext = 1;
    // The first commit is applied, and then "the connection drops".
    const store = new ControlledStore(inner);
    const commit = store.commit.bind(store);
    store.commit = async (id, epoch, step, ttl) => {
      const result = await commit(id, epoch, step, ttl);
      if (step.appended.length > 0 && failNext-- > 0) throw new Error('reply lost');
      return result;
    };
    const { a } = await twoNodes(store);
    const { peer } = await SessionPeer.hello(a.url);
    const [session] = await a.sessions.until(1);
    session!.send('once');
    expect(await peer.nextData()).toBe('once');
    const claimed = await inner.claim(session!.id, 60_000);
    expect(claimed!.log.map((message) => message.data)).toEqual(['once']);
  });

  test('hello and resume while the store is down: 1013, and they work once it is back', async () => {
    const store = new ControlledStore();
    const { a, b } = await twoNodes(store);
    const { peer, id } = await SessionPeer.hello(a.url);
    peer.drop();
    store.down = true;
    const fresh = await SessionPeer.open(b.url);
    fresh.control({ type: 'hello' });
    expect(await fresh.closed()).toEqual({ code: 1013, reason: 'Session store unavailable' });
    const resuming = await SessionPeer.open(b.url);
    resuming.control({ type: 'resume', id, received: 0, acked: 0 });
    expect((await resuming.closed()).code).toBe(1013);
    expect(b.server.sessions.size).toBe(0);
    // The server's side closes once the peer's FIN follows its close frame.
    await until(() => b.server.stats().closes['session-store-unavailable'] === 2);
    store.down = false;
    const { answer } = await resumeOn(b.url, id, 0, 0);
    expect(answer.kind === 'control' && answer.control.type).toBe('ready');
  });

  test('a store that restarted empty: the holder writes the session again at its next step', async () => {
    const store = new ControlledStore();
    const { a, b } = await twoNodes(store);
    const { peer, id } = await SessionPeer.hello(a.url);
    const [session] = await a.sessions.until(1);
    session!.subscribe('t');
    session!.send('before');
    expect(await peer.nextData()).toBe('before');
    store.inner.clear();
    session!.send('after');
    expect(await peer.nextData()).toBe('after');
    expect(store.count('restore')).toBe(1);
    peer.drop();
    await nextEmit(session!, 'suspend');
    const { peer: onB, answer } = await resumeOn(b.url, id, 0, 0);
    expect(answer.kind === 'control' && answer.control.type).toBe('ready');
    expect(await onB.nextData()).toBe('before');
    expect(await onB.nextData()).toBe('after');
    const [moved] = await b.sessions.until(1);
    expect([...moved!.topics]).toEqual(['t']);
  });

  test('resuming on the holder after the store forgot it: its copy is written again', async () => {
    const store = new ControlledStore();
    const { a } = await twoNodes(store);
    const { peer, id } = await SessionPeer.hello(a.url);
    const [session] = await a.sessions.until(1);
    peer.drop();
    await nextEmit(session!, 'suspend');
    store.inner.clear();
    const { answer } = await resumeOn(a.url, id, 0, 0);
    expect(answer.kind === 'control' && answer.control.type).toBe('ready');
    await until(() => store.count('restore') === 1);
    expect(store.inner.size).toBe(1);
  });
});

describe('the store follows the session', () => {
  test('ended by the client, by the server, or expired: removed from the store', async () => {
    const store = new ControlledStore();
    const { a } = await twoNodes(store, { timeout: 50 });
    const ended = await SessionPeer.hello(a.url);
    await SessionPeer.hello(a.url);
    const expiring = await SessionPeer.hello(a.url);
    const [s1, s2, s3] = await a.sessions.until(3);
    expect(store.inner.size).toBe(3);
    ended.peer.control({ type: 'end' });
    ended.peer.ws.close();
    await sessionClose(s1!);
    s2!.close();
    expiring.peer.drop();
    await sessionClose(s3!);
    await until(() => store.inner.size === 0);
    expect(store.count('remove')).toBe(3);
  });

  test('server.close() keeps them there, after one last commit: the client resumes on another node', async () => {
    const store = new ControlledStore();
    const { a, b } = await twoNodes(store);
    const { peer, id } = await SessionPeer.hello(a.url);
    const [session] = await a.sessions.until(1);
    const release = store.holdCommits();
    session!.send('sent just before the deploy');
    await turns();
    const closed = sessionClose(session!);
    const closing = a.server.close();
    expect((await closed)[2]).toBe('server-closed');
    release();
    await closing;
    expect(peer.dataReceived).toEqual([]);
    const { peer: onB } = await resumeOn(b.url, id, 0, 0);
    expect(await onB.nextData()).toBe('sent just before the deploy');
  });

  test('the client leaves while its resume is being claimed: the session is held, suspended', async () => {
    const store = new ControlledStore();
    const { a, b } = await twoNodes(store);
    const { peer, id } = await SessionPeer.hello(a.url);
    peer.drop();
    const errors = serverErrors(b.server);
    const claiming = await SessionPeer.open(b.url);
    claiming.control({ type: 'resume', id, received: 0, acked: 0 });
    claiming.drop();
    const [moved] = await b.sessions.until(1);
    await until(() => !moved!.connected);
    expect(b.server.stats().sessions).toMatchObject({ held: 1, suspended: 1 });
    const { answer } = await resumeOn(b.url, id, 0, 0);
    expect(answer.kind === 'control' && answer.control.type).toBe('ready');
    expect(errors.items).toEqual([]);
  });
});
