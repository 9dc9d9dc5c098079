/**
 * Topics across node:cluster workers: this test process is the primary and
 * runs the relay (`installClusterRelay`); every worker is
 * fixtures/cluster-worker.mjs, a real WebSocketServer with a ClusterAdapter
 * on the built package, and `ws` clients connect to each worker's own port.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { ClusterAdapter, type ClusterRelay, installClusterRelay } from '@proj/server';
import { nextEmit, onCleanup, useCleanup } from '@proj/test-utils';
import { Collector } from './collector.js';

useCleanup();

const WORKER_SCRIPT = fileURLToPath(new URL('./fixtures/cluster-worker.mjs', import.meta.url));
// No inherited execArgv: vitest's flags are not the worker's.
cluster.setupPrimary({ exec: WORKER_SCRIPT, execArgv: [] });

/** What the fixture reports over IPC (see fixtures/cluster-worker.mjs). */
interface Report {
  fixture: 'listening' | 'subscribed' | 'unsubscribed' | 'closed';
  port?: number;
  topic?: string;
  stats?: { published: number; dropped: number; received: number };
}

interface TestWorker {
  worker: Worker;
  port: number;
  reports: Collector<Report>;
  exited: Promise<[code: number | null, signal: string | null]>;
}

/** A message a client received. */
interface Received {
  text: string;
  binary: boolean;
  bytes: Buffer;
}

function relay(): ClusterRelay {
  const installed = installClusterRelay();
  onCleanup(() => installed.close());
  return installed;
}

/** Forks a worker; resolves once its server listens. Killed after the test if still alive. */
async function fork(): Promise<TestWorker> {
  const worker = cluster.fork();
  const reports = new Collector<Report>();
  worker.on('message', (message: unknown) => {
    if (typeof message === 'object' && message !== null && 'fixture' in message) {
      reports.push(message as Report);
    }
  });
  const exited = new Promise<[number | null, string | null]>((resolve) =>
    worker.once('exit', (code, signal) => resolve([code, signal])),
  );
  onCleanup(async () => {
    if (worker.process.exitCode === null && worker.process.signalCode === null) {
      worker.process.kill('SIGKILL');
    }
    await exited;
  });
  const listening = await Promise.race([
    report({ worker, reports } as TestWorker, 'listening'),
    exited.then(([code, signal]) => {
      throw new Error(`worker exited (${code ?? signal}) before listening (is dist built?)`);
    }),
  ]);
  return { worker, port: listening.port!, reports, exited };
}

/** The first report of `kind` (for `topic`, if given) from `w`, waiting for it. */
async function report(w: TestWorker, kind: Report['fixture'], topic?: string): Promise<Report> {
  const matches = (r: Report): boolean =>
    r.fixture === kind && (topic === undefined || r.topic === topic);
  for (let count = 1; ;) {
    const items = await w.reports.until(count);
    const found = items.find(matches);
    if (found) return found;
    count = items.length + 1;
  }
}

/** A `ws` client of `w`'s server that records what it receives. */
async function client(w: TestWorker): Promise<{ ws: WebSocket; received: Collector<Received> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${w.port}`);
  const received = new Collector<Received>();
  ws.on('message', (data: Buffer, binary: boolean) =>
    received.push({ text: data.toString(), binary, bytes: data }),
  );
  ws.on('error', () => {}); // a killed worker's clients see ECONNRESET
  onCleanup(() => ws.terminate());
  await nextEmit(ws, 'open');
  return { ws, received };
}

/** A client of `w` subscribed to `topics`, the relay told of each before this resolves. */
async function subscriber(w: TestWorker, ...topics: string[]) {
  const c = await client(w);
  for (const topic of topics) {
    c.ws.send(`sub ${topic}`);
    // Reported after the adapter's subscribe message, on the same IPC
    // channel: the relay has handled that one already.
    await report(w, 'subscribed', topic);
    w.reports.items.splice(
      w.reports.items.findIndex((r) => r.topic === topic),
      1,
    );
  }
  return c;
}

const texts = (items: Received[]): string[] => items.map((r) => r.text);

describe('ClusterAdapter and installClusterRelay', () => {
  test('a publish in one worker reaches the subscribers in the other, once each', async () => {
    const primary = relay();
    const [a, b] = await Promise.all([fork(), fork()]);
    const onA = await subscriber(a, 'news');
    const onB = await subscriber(b, 'news');
    const otherOnB = await subscriber(b, 'other', 'bin');
    expect(primary.subscriptions.get('default')?.get('news')).toEqual(
      new Set([a.worker.id, b.worker.id]),
    );

    const publisher = await client(a);
    publisher.ws.send('pub news hello there');
    expect(texts(await onB.received.until(1))).toEqual(['hello there']);
    expect(texts(await onA.received.until(1))).toEqual(['hello there']);

    // Every byte value survives the trip, and binary stays binary.
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    publisher.ws.send(bytes);
    const [binary] = await otherOnB.received.until(1);
    expect(binary!.binary).toBe(true);
    expect(binary!.bytes.equals(bytes)).toBe(true);

    publisher.ws.send('pub other marker');
    expect(texts(await otherOnB.received.until(2))[1]).toBe('marker');
    // One copy per publish, to B only: none back to A, the publisher, whose
    // subscriber got `hello there` from its own server directly.
    expect(primary.stats).toEqual({ published: 3, relayed: 3, dropped: 0 });
    expect(texts(onA.received.items)).toEqual(['hello there']);
    expect(texts(onB.received.items)).toEqual(['hello there']);
  });

  test('a worker receives only the topics it has subscribers for', async () => {
    const primary = relay();
    const [a, b] = await Promise.all([fork(), fork()]);
    const onB = await subscriber(b, 'kept', 'left');
    onB.ws.send('unsub left');
    await report(b, 'unsubscribed', 'left');
    expect([...primary.subscriptions.get('default')!.keys()]).toEqual(['kept']);

    const publisher = await client(a);
    publisher.ws.send('pub left nobody');
    publisher.ws.send('pub kept somebody');
    expect(texts(await onB.received.until(1))).toEqual(['somebody']);
    expect(primary.stats).toEqual({ published: 2, relayed: 1, dropped: 0 });
  });

  test('the relay ignores what is not a well-formed message of the adapter', async () => {
    const primary = relay();
    const [a, b] = await Promise.all([fork(), fork()]);
    const onB = await subscriber(b, 'news');
    const tag = 'proj:pubsub';
    for (const message of [
      { tag, channel: 'default', op: 'publish', topic: 7, data: 'eA==', binary: false },
      { tag, channel: 'default', op: 'publish', topic: 'news', data: [1], binary: false },
      { tag, channel: 'default', op: 'publish', topic: 'news', data: 'eA==' },
      { tag, op: 'publish', topic: 'news', data: 'eA==', binary: false },
      { channel: 'default', op: 'publish', topic: 'news', data: 'eA==', binary: false },
      { tag, channel: 'default', op: 'unknown', topic: 'news' },
      'publish news',
    ]) {
      a.worker.send({ echo: message });
    }
    // The same well-formed message, after them on the same channel.
    a.worker.send({
      echo: { tag, channel: 'default', op: 'publish', topic: 'news', data: 'b2s=', binary: false },
    });
    expect(texts(await onB.received.until(1))).toEqual(['ok']);
    expect(primary.stats).toEqual({ published: 1, relayed: 1, dropped: 0 });
  });

  test('messages keep their order per topic across workers', async () => {
    relay();
    const [a, b] = await Promise.all([fork(), fork()]);
    const onB = await subscriber(b, 't1', 't2');
    const publisher = await client(a);
    const count = 2000;
    publisher.ws.send(`burst ${count} t1 t2`);
    const received = texts(await onB.received.until(2 * count));
    const expected = (topic: string): string[] =>
      Array.from({ length: count }, (_, i) => `${topic} ${i}`);
    expect(received.filter((t) => t.startsWith('t1 '))).toEqual(expected('t1'));
    expect(received.filter((t) => t.startsWith('t2 '))).toEqual(expected('t2'));
  });

  test('a worker that dies is forgotten, and the others go on', async () => {
    const primary = relay();
    const [a, b] = await Promise.all([fork(), fork()]);
    const onA = await subscriber(a, 'news');
    await subscriber(b, 'news', 'flood');
    const publisher = await client(a);

    // Killed while A floods its topic through the relay.
    publisher.ws.send('burst 5000 flood');
    // Listened to after the relay's own `exit` listener, so it runs after it.
    const exit = new Promise<void>((resolve) => cluster.once('exit', () => resolve()));
    b.worker.process.kill('SIGKILL');
    expect(await b.exited).toEqual([null, 'SIGKILL']);
    await exit;
    expect(primary.subscriptions.get('default')?.get('news')).toEqual(new Set([a.worker.id]));
    expect(primary.subscriptions.get('default')?.has('flood')).toBe(false);

    // A worker forked in its place joins the topic.
    const c = await fork();
    const onC = await subscriber(c, 'news');
    publisher.ws.send('pub news after');
    expect(texts(await onC.received.until(1))).toEqual(['after']);
    expect(texts(await onA.received.until(1))).toEqual(['after']);
  });

  test('server.close() in a worker tells the relay, and the worker is left with nothing open', async () => {
    const primary = relay();
    const [a, b] = await Promise.all([fork(), fork()]);
    await subscriber(a, 'news');
    const onB = await subscriber(b, 'news');
    const publisher = await client(a);
    publisher.ws.send('pub news before');
    await onB.received.until(1);

    const closed = nextEmit<[number, Buffer]>(onB.ws, 'close');
    b.worker.process.kill('SIGTERM');
    const { stats } = await report(b, 'closed');
    expect(stats).toEqual({ published: 0, dropped: 0, received: 1 });
    // The adapter's `bye` came before the report, on the same channel.
    expect(primary.subscriptions.get('default')?.get('news')).toEqual(new Set([a.worker.id]));
    expect((await closed)[0]).toBe(1001);
    // The fixture disconnects from the primary after close(): it exits by
    // itself only if the server and the adapter left no handle open.
    expect(await b.exited).toEqual([0, null]);
  });

  test('each side refuses to run in the wrong process, and one relay at a time', () => {
    expect(cluster.isPrimary).toBe(true);
    expect(() => new ClusterAdapter()).toThrow(/node:cluster worker/);
    const first = installClusterRelay();
    try {
      expect(() => installClusterRelay()).toThrow(/installed already/);
    } finally {
      first.close();
    }
    installClusterRelay().close();
  });
});
