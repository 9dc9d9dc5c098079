/**
 * What the RedisSessionStore tests share: stores on their own ioredis
 * clients, session ids, and a redis-server that persists (append-only file,
 * fsync on every write) for the restart-with-persistence tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { RedisSessionStore, type RedisSessionStoreOptions } from '@proj/redis';
import { onCleanup } from '@proj/test-utils';
import { sleep } from './helpers.js';
import { findRedisServer, freePort } from './redis-server.js';

/** Reconnect every 50 ms (ioredis backs off to 2 s by default). */
export const QUICK: RedisOptions = { retryStrategy: () => 50 };

/** An ioredis client of the test's, disconnected after it. */
export function testClient(url: string, options: RedisOptions = {}): Redis {
  const client = new Redis(url, { ...QUICK, ...options });
  client.on('error', () => {});
  onCleanup(() => client.disconnect());
  return client;
}

/** A store on a client of its own. */
export function testStore(
  url: string,
  options: Omit<RedisSessionStoreOptions, 'client'> = {},
  clientOptions: RedisOptions = {},
): RedisSessionStore {
  return new RedisSessionStore({ client: testClient(url, clientOptions), ...options });
}

/** A fresh session id, as a server makes them (128 random bits). */
export function sessionId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * A TCP link between a node and Redis that a test can break the way a dying
 * node breaks it: replies lost on the way back (Redis applied a command, the
 * node never learns it), or every connection cut at once.
 */
export class RedisLink {
  readonly port: number;
  readonly #listener: Server;
  readonly #sockets = new Set<Socket>();
  #holding = false;

  private constructor(listener: Server, port: number) {
    this.#listener = listener;
    this.port = port;
  }

  /** A link to the Redis on `redisPort`, listening on a free port of 127.0.0.1. */
  static async open(redisPort: number): Promise<RedisLink> {
    const listener = createServer();
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const link = new RedisLink(listener, (listener.address() as { port: number }).port);
    listener.on('connection', (near) => {
      const far = connect(redisPort, '127.0.0.1');
      for (const socket of [near, far]) {
        link.#sockets.add(socket);
        socket.on('error', () => {});
        socket.on('close', () => {
          near.destroy();
          far.destroy();
        });
      }
      near.on('data', (chunk: Buffer) => far.write(chunk));
      far.on('data', (chunk: Buffer) => {
        if (!link.#holding) near.write(chunk);
      });
    });
    onCleanup(() => link.cut());
    return link;
  }

  /** From now on Redis's replies are dropped: commands still reach Redis and run. */
  holdReplies(): void {
    this.#holding = true;
  }

  /** Destroys every connection and stops accepting new ones (synchronously). */
  cut(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    this.#listener.close();
  }
}

/**
 * A redis-server that keeps every acknowledged write across a restart
 * (`appendonly yes`, `appendfsync always`), in a temporary directory that
 * {@link PersistentRedis.dispose} deletes.
 */
export class PersistentRedis {
  readonly port: number;
  readonly url: string;
  readonly #dir: string;
  #child: ChildProcess | undefined;
  #log = '';

  private constructor(port: number, dir: string) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.#dir = dir;
  }

  static async start(): Promise<PersistentRedis> {
    const dir = await mkdtemp(join(tmpdir(), 'proj-redis-aof-'));
    const server = new PersistentRedis(await freePort(), dir);
    await server.#spawn();
    return server;
  }

  /** Stops the server (SIGTERM: it finishes writing its file) and starts it again on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    await this.#spawn();
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }

  /** Stops the server and deletes its files. */
  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.#dir, { recursive: true, force: true });
  }

  async #spawn(): Promise<void> {
    // The port can be briefly unavailable after the previous process exits.
    for (let attempt = 0; ; attempt++) {
      const child = spawn(
        findRedisServer(),
        [
          ...['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.#dir],
          ...['--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--daemonize', 'no'],
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      this.#child = child;
      child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.#log += text));
      child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.#log += text));
      if (await this.#answers(child)) return;
      await this.stop();
      if (attempt === 20) throw new Error(`redis-server did not start: ${this.#log}`);
      await sleep(100);
    }
  }

  /** Waits until the server answers PING (after loading its file), or exits. */
  async #answers(child: ChildProcess): Promise<boolean> {
    const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && child.exitCode === null) {
        try {
          if (probe.status !== 'ready') await probe.connect();
          if ((await probe.ping()) === 'PONG' && child.exitCode === null) return true;
        } catch {
          // Not up yet, or still loading its file.
        }
        await sleep(50);
      }
      return false;
    } finally {
      probe.disconnect();
    }
  }
}
