/**
 * WebSocketServers (nodes) with `sessions: { store }` on one redis-server,
 * and a ReconnectingWebSocket with `session: true`: when the node holding
 * the session dies abruptly, the client resumes on another, and every
 * message goes through exactly once and in order, both ways
 * (`docs/session-protocol.md`, section 8, points 3 and 4).
 *
 * Each node reaches Redis through a link of the test's (RedisLink), so a
 * node dies all at once: its link to Redis is cut (it records nothing
 * more), its TCP connections are torn down, and the client's next attempt
 * goes to another node. The node dies at the two moments that matter:
 *
 * - after Redis applied its last step but before it learned so (replies
 *   lost): the messages of that step never reached the client from it, and
 *   the next node must replay them; the client's messages of that step were
 *   never acknowledged, and the next node must discard their replay;
 * - while delivering client messages it has not recorded yet (cut from the
 *   application's `message` listener): the next node must deliver them again
 *   (the document says a new node may repeat what the lost node did after
 *   its last recorded step), and nothing the client got may repeat.
 *
 * What the dead node recorded is read from Redis once Redis has dropped its
 * connection, so the checks hold whenever in a step the cut falls.
 */
import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { type MessageEvent, ReconnectingWebSocket } from '@proj/client';
import { type ServerSession, WebSocketServer } from '@proj/server';
import { RedisSessionStore } from '@proj/redis';
import { onCleanup, useCleanup } from '@proj/test-utils';
import { until, useRedis } from './helpers.js';
import { QUICK, RedisLink } from './session-store-helpers.js';

const redis = useRedis();

useCleanup({ failOnUncaught: false });

type Delivered = [data: string, seq: number];

/** One server node and what its application saw. */
interface Node {
  readonly name: string;
  readonly server: WebSocketServer;
  readonly link: RedisLink;
  readonly redis: Redis;
  readonly store: RedisSessionStore;
  readonly url: string;
  /** Sessions announced by `session`, with whether each moved here. */
  readonly sessions: Array<{ session: ServerSession; moved: boolean }>;
  /** Client messages delivered here, in order, with their numbers. */
  readonly received: Delivered[];
  /** Called after each delivery (to die in the middle of them). */
  onMessage?: (seq: number) => void;
}

let count = 0;

async function startNode(): Promise<Node> {
  const name = `node-${++count}`;
  const link = await RedisLink.open(redis.server.port);
  const client = new Redis(link.port, '127.0.0.1', { ...QUICK, connectionName: name });
  client.on('error', () => {});
  onCleanup(() => client.disconnect());
  const store = new RedisSessionStore({ client, timeout: 2_000 });
  const server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    sessions: { store, keepAlive: 500, timeout: 30_000, ackDelay: 5 },
  });
  onCleanup(() => server.close({ timeout: 100 }));
  await server.ready();
  const { port } = server.address() as { port: number };
  const node: Node = {
    name,
    server,
    link,
    redis: client,
    store,
    url: `ws://127.0.0.1:${port}`,
    sessions: [],
    received: [],
  };
  server.on('session', (session) => {
    node.sessions.push({ session, moved: session.moved });
    session.on('message', (data, _isBinary, seq) => {
      node.received.push([String(data), seq]);
      node.onMessage?.(seq);
    });
    session.on('error', () => {});
  });
  return node;
}

/** Kills `node` at once: its link to Redis cut, every connection torn down. */
function crash(node: Node): void {
  node.link.cut();
  node.redis.disconnect();
  for (const socket of node.server.clients) socket.terminate();
}

/**
 * A session's numbers as Redis holds them, once Redis has dropped `node`'s
 * connection: every command it sent has run by then, or never will.
 */
async function recordedBy(
  node: Node,
  id: string,
): Promise<{ sent: number; received: number; acked: number }> {
  await until(
    async () => !((await redis.ctl.client('LIST')) as string).includes(`name=${node.name} `),
    `Redis to drop ${node.name}'s connection`,
  );
  const fields = await redis.ctl.hmget(node.store.keysOf(id).state, 'sent', 'received', 'acked');
  return { sent: Number(fields[0]), received: Number(fields[1]), acked: Number(fields[2]) };
}

/** Where the client's next attempt goes, once `gate` (if any) has resolved. */
interface Target {
  node: Node;
  gate?: Promise<void>;
}

/** A client whose attempts go to `target.node`, with what it received. */
function connect(target: Target): { ws: ReconnectingWebSocket; received: Delivered[] } {
  const url = async (): Promise<string> => {
    await target.gate;
    return target.node.url;
  };
  const ws = new ReconnectingWebSocket(url, undefined, {
    minDelay: 20,
    maxDelay: 100,
    environment: { random: () => 0 },
    session: true,
  });
  const received: Delivered[] = [];
  ws.addEventListener('message', (event: MessageEvent) =>
    received.push([String(event.data), Number(event.lastEventId)]),
  );
  ws.addEventListener('sessionlost', () => received.push(['sessionlost', -1]));
  ws.addEventListener('error', () => {});
  onCleanup(() => ws.close());
  return { ws, received };
}

/** `[text, n]` for the n-th text of `texts`, numbered from 1. */
const numbered = (texts: readonly string[]): Delivered[] =>
  texts.map((text, index) => [text, index + 1]);

describe('a session moves to another node when its node dies', () => {
  test('exactly once, in order, both ways, across two node deaths', async () => {
    const first = await startNode();
    const target: Target = { node: first };
    const client = connect(target);
    await until(() => first.sessions.length === 1, 'the session on the first node');
    const { session: original, moved: originalMoved } = first.sessions[0]!;
    const id = original.id;
    expect(originalMoved).toBe(false);

    /** Every message the client sent, in order. */
    const sentByClient: string[] = [];
    const clientSends = (amount: number): void => {
      for (let i = 0; i < amount; i++) {
        const text = `c${sentByClient.length + 1}`;
        client.ws.send(text);
        sentByClient.push(text);
      }
    };
    /** Every message a node's application produced: its text is its number. */
    const serverSends = (session: ServerSession, amount: number): void => {
      for (let i = 0; i < amount; i++) expect(session.send(`s${session.sent + 1}`)).toBe(true);
    };
    const serverMessages = (upTo: number): string[] =>
      Array.from({ length: upTo }, (_, i) => `s${i + 1}`);

    // A quiet start: everything delivered and recorded.
    clientSends(20);
    serverSends(original, 20);
    await until(() => first.received.length === 20, '20 messages at the first node');
    await until(() => client.received.length === 20, '20 messages at the client');

    // The first node dies after Redis applied its last step, before it learned so.
    first.link.holdReplies();
    clientSends(10);
    serverSends(original, 20);
    await until(async () => {
      const [sent, received] = await redis.ctl.hmget(
        first.store.keysOf(id).state,
        'sent',
        'received',
      );
      return sent === '40' && received === '30';
    }, 'Redis to apply the first node’s last step');
    const second = await startNode();
    target.node = second;
    crash(first);
    const atFirst = await recordedBy(first, id);
    expect(atFirst).toMatchObject({ sent: 40, received: 30 });
    // None of the last step reached the client from the first node.
    expect(client.received).toEqual(numbered(serverMessages(20)));

    clientSends(10);
    await until(() => second.sessions.length === 1, 'the session on the second node');
    const { session: moved, moved: movedFlag } = second.sessions[0]!;
    expect(movedFlag).toBe(true);
    expect(moved.id).toBe(id);
    expect(moved.sent).toBe(40);
    await until(() => second.received.at(-1)?.[1] === 40, 'c40 at the second node');
    // The second node delivered only what the first had not recorded: c31 on.
    expect([...first.received, ...second.received]).toEqual(numbered(sentByClient));
    serverSends(moved, 10);
    await until(() => client.received.length >= 50, '50 messages at the client');
    expect(client.received).toEqual(numbered(serverMessages(50)));

    // The second node dies while delivering messages it has not recorded.
    // (The client waits to reconnect until the second node's record is read.)
    let reconnect = (): void => {};
    target.gate = new Promise((resolve) => (reconnect = resolve));
    second.onMessage = (seq) => {
      if (seq === 50) crash(second);
    };
    const third = await startNode();
    target.node = third;
    serverSends(moved, 10);
    clientSends(20);
    const atSecond = await recordedBy(second, id);
    reconnect();
    await until(() => third.sessions.length === 1, 'the session on the third node');
    const last = third.sessions[0]!.session;
    expect(last.sent).toBe(atSecond.sent);
    await until(() => third.received.at(-1)?.[1] === 60, 'c60 at the third node');
    // Delivered on the second node but never recorded: delivered again on the third.
    const unrecorded = second.received.filter(([, seq]) => seq > atSecond.received);
    expect(unrecorded.length).toBeGreaterThan(0);
    expect(third.received.slice(0, unrecorded.length)).toEqual(unrecorded);
    const recordedDeliveries = [
      ...first.received,
      ...second.received.filter(([, seq]) => seq <= atSecond.received),
      ...third.received,
    ];
    expect(recordedDeliveries).toEqual(numbered(sentByClient));

    // Server to client: what the second node recorded, then the third's own.
    serverSends(last, 5);
    const expected = serverMessages(atSecond.sent + 5);
    await until(() => client.received.length >= expected.length, 'every message at the client');
    expect(client.received).toEqual(numbered(expected));

    // Ending the session removes it from Redis.
    client.ws.close();
    const keys = third.store.keysOf(id);
    await until(
      async () => (await redis.ctl.exists(keys.state, keys.log)) === 0,
      'the session to be removed from Redis',
    );
  });
});
