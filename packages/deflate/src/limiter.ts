import { integerOption } from '@proj/protocol';
import { perValue } from './per-value.js';

/**
 * A first-in, first-out limit on concurrent jobs.
 *
 * Why: node:zlib runs every (de)compression on libuv's thread pool (4 threads
 * by default), and each pending job holds its input and a zlib context. A
 * server that starts one job per message for thousands of connections at once
 * queues them all there, and memory grows with the queue (nodejs/node#8871,
 * websockets/ws#1202). Holding jobs back here, in order, bounds that work
 * across every connection that shares the limiter.
 */
export class Limiter {
  readonly concurrency: number;
  #running = 0;
  readonly #queue: ((done: () => void) => void)[] = [];
  #head = 0;

  /** @throws {RangeError} unless `concurrency` is a positive integer or Infinity. */
  constructor(concurrency: number) {
    this.concurrency = integerOption('concurrency', concurrency, { min: 1, orInfinity: true });
  }

  /** Jobs waiting for a slot. */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /** Runs `job` now or once a slot frees up; it must call `done` exactly once. */
  add(job: (done: () => void) => void): void {
    this.#queue.push(job);
    this.#next();
  }

  #next(): void {
    while (this.#running < this.concurrency && this.#head < this.#queue.length) {
      const job = this.#queue[this.#head++]!;
      if (this.#head === this.#queue.length) {
        this.#queue.length = 0;
        this.#head = 0;
      }
      this.#running++;
      let called = false;
      job(() => {
        if (called) return;
        called = true;
        this.#running--;
        this.#next();
      });
    }
  }
}

const limiters = perValue((concurrency) => new Limiter(concurrency));

/**
 * The process-wide limiter for `concurrency`: every connection configured
 * with the same value shares one. Intentionally global: the thread pool it
 * protects is.
 */
export function sharedLimiter(concurrency: number): Limiter {
  return limiters(concurrency);
}
