import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import WebSocket from 'ws';
import { RedisServer } from './redis-server.js';

/** Polls `check` until it returns a value other than `undefined`/`false`, or fails after `timeout`. */
export async function until<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeout = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Subscribers of each channel, as Redis counts them (PUBSUB NUMSUB). */
export async function numsub(redis: Redis, ...channels: string[]): Promise<number[]> {
  const reply = (await redis.call('PUBSUB', 'NUMSUB', ...channels)) as Array<string | number>;
  const counts: number[] = [];
  for (let i = 1; i < reply.length; i += 2) counts.push(Number(reply[i]));
  return counts;
}

/** A plain control connection to Redis (not an adapter), closed by `quit`. */
export function control(url: string): Redis {
  const redis = new Redis(url, { retryStrategy: () => 50, maxRetriesPerRequest: null });
  redis.on('error', () => {});
  return redis;
}

/** The redis-server of a test file and a control connection to it. */
export interface TestRedis {
  readonly server: RedisServer;
  /** A plain connection for inspecting Redis (PUBSUB NUMSUB, CLIENT LIST). */
  readonly ctl: Redis;
}

/**
 * Starts a redis-server and a control connection before the file's tests and
 * stops both after them. The fields are set once `beforeAll` has run.
 */
export function useRedis(): TestRedis {
  const redis = {} as { server: RedisServer; ctl: Redis };
  beforeAll(async () => {
    redis.server = await RedisServer.start();
    redis.ctl = control(redis.server.url);
  });
  afterAll(async () => {
    redis.ctl?.disconnect();
    await redis.server?.stop();
  });
  return redis;
}

/** A `ws` client that records every text message it receives. */
export class Client {
  readonly ws: WebSocket;
  readonly messages: string[] = [];
  readonly opened: Promise<void>;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('error', () => {});
    this.ws.on('message', (data: Buffer) => this.messages.push(data.toString()));
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  static async open(url: string): Promise<Client> {
    const client = new Client(url);
    await client.opened;
    return client;
  }

  send(command: object): void {
    this.ws.send(JSON.stringify(command));
  }

  /** Subscribes through the fixture protocol and waits for the answer. */
  async subscribe(topic: string): Promise<void> {
    this.send({ sub: topic });
    await until(() => this.messages.includes(`subscribed:${topic}`), `subscribed:${topic}`);
  }

  /** Messages received that start with `prefix`. */
  received(prefix: string): string[] {
    return this.messages.filter((m) => m.startsWith(prefix));
  }

  close(): void {
    this.ws.terminate();
  }
}
