/**
 * Three server processes on one real Redis (test/fixtures/node.mjs, run on
 * the built packages as an application runs them). Clients on every node
 * subscribe to one topic; messages published on any node reach every
 * subscriber exactly once and, per publisher, in order. A node that restarts
 * rejoins; a Redis restart is survived.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test } from 'vitest';
import { Client, numsub, sleep, until, useRedis } from './helpers.js';

const fixture = fileURLToPath(new URL('fixtures/node.mjs', import.meta.url));
const TOPIC = 'chat';
const CHANNEL = `ws:${TOPIC}`;

const redis = useRedis();
const nodes: Node[] = [];
const clients: Client[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(nodes.splice(0).map((node) => node.stop()));
});

/** One server process. */
class Node {
  readonly child: ChildProcess;
  output = '';
  port = 0;

  private constructor(child: ChildProcess) {
    this.child = child;
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.output += text));
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.output += text));
  }

  static async start(): Promise<Node> {
    const child = spawn(process.execPath, [fixture], {
      env: { ...process.env, REDIS_URL: redis.server.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const node = new Node(child);
    nodes.push(node);
    const port = await until(() => {
      if (child.exitCode !== null) throw new Error(`node exited: ${node.output}`);
      const match = /listening (\d+)/.exec(node.output);
      return match ? Number(match[1]) : undefined;
    }, 'a node to listen');
    node.port = port;
    return node;
  }

  async client(): Promise<Client> {
    const client = await Client.open(`ws://127.0.0.1:${this.port}`);
    clients.push(client);
    return client;
  }

  /** Times the adapter reported `available` (1 after start). */
  availableCount(): number {
    return this.output.split('\n').filter((line) => line === 'adapter available').length;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** Subscribers per node, and one publisher (not subscribed) per node. */
async function cluster(count = 3, perNode = 2) {
  const started = await Promise.all(Array.from({ length: count }, () => Node.start()));
  const subscribers: Client[][] = [];
  const publishers: Client[] = [];
  for (const node of started) {
    const own: Client[] = [];
    for (let i = 0; i < perNode; i++) {
      const client = await node.client();
      await client.subscribe(TOPIC);
      own.push(client);
    }
    subscribers.push(own);
    publishers.push(await node.client());
  }
  // Every node's subscription is in place in Redis before anything is published.
  await until(
    async () => (await numsub(redis.ctl, CHANNEL))[0] === count,
    `${count} subscriptions`,
  );
  return { nodes: started, subscribers, publishers };
}

/**
 * Publishes `count` messages from each publisher (interleaved in time), and
 * checks that every subscriber gets each exactly once, per publisher in order.
 */
async function roundOfMessages(
  publishers: Client[],
  subscribers: Client[],
  label: string,
  count = 200,
): Promise<void> {
  for (let i = 0; i < count; i += 50) {
    for (let j = i; j < i + 50; j++) {
      publishers.forEach((publisher, p) =>
        publisher.send({ pub: TOPIC, data: `${label}/${p}/${j}` }),
      );
    }
  }
  const total = count * publishers.length;
  for (const subscriber of subscribers) {
    await until(
      () => subscriber.received(`${label}/`).length >= total,
      `${total} ${label} messages`,
    );
  }
  await sleep(200); // any duplicate would have arrived by now
  for (const subscriber of subscribers) {
    const got = subscriber.received(`${label}/`);
    expect(got.length, 'exactly once').toBe(total);
    for (let p = 0; p < publishers.length; p++) {
      const fromP = got.filter((m) => m.startsWith(`${label}/${p}/`));
      expect(fromP, `publisher ${p}, in order`).toEqual(
        Array.from({ length: count }, (_, j) => `${label}/${p}/${j}`),
      );
    }
  }
}

test('three nodes: every publish reaches every subscriber exactly once, in order per publisher', async () => {
  const { subscribers, publishers } = await cluster();
  await roundOfMessages(publishers, subscribers.flat(), 'r1');
});

test('a node that restarts rejoins', async () => {
  const { nodes: started, subscribers, publishers } = await cluster();
  // Node 2 goes away: its Redis subscription goes with it.
  await started[2]!.stop();
  await until(async () => (await numsub(redis.ctl, CHANNEL))[0] === 2, 'two subscriptions');
  await roundOfMessages(publishers.slice(0, 2), subscribers.slice(0, 2).flat(), 'without');

  // A new process takes its place; its clients subscribe again.
  const again = await Node.start();
  const rejoined = [await again.client(), await again.client()];
  for (const client of rejoined) await client.subscribe(TOPIC);
  const publisher = await again.client();
  await until(async () => (await numsub(redis.ctl, CHANNEL))[0] === 3, 'three subscriptions');
  await roundOfMessages(
    [publishers[0]!, publishers[1]!, publisher],
    [...subscribers[0]!, ...subscribers[1]!, ...rejoined],
    'rejoined',
  );
});

test('Redis restarted mid-test: adapters resubscribe and delivery resumes', async () => {
  const { nodes: started, subscribers, publishers } = await cluster();
  await roundOfMessages(publishers, subscribers.flat(), 'before');

  await redis.server.stop();
  // While Redis is down, each node still delivers its own publishes locally.
  // What is published now may be lost for the other nodes: Redis pub/sub is
  // at most once across an outage, so nothing is asserted about them.
  publishers[0]!.send({ pub: TOPIC, data: 'outage/0' });
  for (const subscriber of subscribers[0]!) {
    await until(() => subscriber.messages.includes('outage/0'), 'local delivery during the outage');
  }
  await redis.server.restart();
  // Each adapter reconnects and restores its subscription, then says so.
  for (const node of started) {
    await until(() => node.availableCount() >= 2, 'adapter available again');
  }
  await until(async () => (await numsub(redis.ctl, CHANNEL))[0] === 3, 'three subscriptions again');
  // Guaranteed again from here: every message, exactly once, in order.
  await roundOfMessages(publishers, subscribers.flat(), 'after');
});
