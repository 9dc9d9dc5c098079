/**
 * Session stores for the server's tests: a real `MemorySessionStore` behind
 * a wrapper that the test can take down (every call rejects, as a store that
 * cannot reach Redis does) or slow down (commits wait for the test), and
 * that counts what the server asked of it.
 */
import {
  type CommitResult,
  MemorySessionStore,
  type SessionStep,
  type SessionStore,
  type StoredSession,
} from '@proj/server';

/** A {@link MemorySessionStore} the test controls. */
export class ControlledStore implements SessionStore {
  readonly inner: MemorySessionStore;
  /** Calls by method name. */
  readonly calls = new Map<string, number>();
  /** Every step committed (whatever the answer), in order. */
  readonly steps: SessionStep[] = [];
  /** While true, every call rejects without reaching the inner store. */
  down = false;
  #gate: Promise<void> | undefined;

  constructor(inner = new MemorySessionStore()) {
    this.inner = inner;
  }

  /** Holds every commit until the returned function is called. */
  holdCommits(): () => void {
    let release!: () => void;
    this.#gate = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.#gate = undefined;
      release();
    };
  }

  count(method: string): number {
    return this.calls.get(method) ?? 0;
  }

  create(id: string, ttl: number): Promise<void> {
    return this.#call('create', () => this.inner.create(id, ttl));
  }

  claim(id: string, ttl: number): Promise<StoredSession | null> {
    return this.#call('claim', () => this.inner.claim(id, ttl));
  }

  async commit(id: string, epoch: number, step: SessionStep, ttl: number): Promise<CommitResult> {
    const gate = this.#gate;
    if (gate) await gate;
    return this.#call('commit', () => {
      this.steps.push(step);
      return this.inner.commit(id, epoch, step, ttl);
    });
  }

  restore(id: string, state: StoredSession, ttl: number): Promise<boolean> {
    return this.#call('restore', () => this.inner.restore(id, state, ttl));
  }

  touch(id: string, epoch: number, ttl: number): Promise<boolean> {
    return this.#call('touch', () => this.inner.touch(id, epoch, ttl));
  }

  remove(id: string, epoch: number): Promise<void> {
    return this.#call('remove', () => this.inner.remove(id, epoch));
  }

  async #call<T>(method: string, run: () => Promise<T>): Promise<T> {
    this.calls.set(method, this.count(method) + 1);
    if (this.down) throw new Error(`store down (${method})`);
    return run();
  }
}
