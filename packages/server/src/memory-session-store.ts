/**
 * A {@link SessionStore} in this process's memory: every server given the
 * same instance shares its sessions, as nodes sharing a Redis would. For
 * several servers in one process, and for tests of what a store does (moves,
 * fencing, a store that restarts empty: {@link MemorySessionStore.clear}).
 * @packageDocumentation
 */
import type {
  CommitResult,
  SessionStep,
  SessionStore,
  StoredMessage,
  StoredSession,
} from './session-store.js';

/** One session as this store keeps it. */
interface SessionRecord {
  epoch: number;
  sent: number;
  acked: number;
  received: number;
  log: StoredMessage[];
  topics: readonly string[];
  /** When it expires (`Date.now()` ms). */
  expires: number;
}

/**
 * A real {@link SessionStore} kept in memory. Its operations are atomic (each
 * runs whole in one turn) and answer asynchronously, as a remote store's do.
 * Expired sessions are forgotten when next touched, and swept now and then.
 *
 * A step is applied idempotently: appended messages the store has already
 * (numbered up to its `sent`) are skipped, so that a commit made again after
 * an answer was lost records nothing twice.
 *
 * @example
 * const store = new MemorySessionStore();
 * const a = new WebSocketServer({ port: 8080, sessions: { store } });
 * const b = new WebSocketServer({ port: 8081, sessions: { store } });
 */
export class MemorySessionStore implements SessionStore {
  readonly #records = new Map<string, SessionRecord>();
  #operations = 0;

  /** How many sessions it holds now (expired ones are not counted). */
  get size(): number {
    this.#sweep();
    return this.#records.size;
  }

  /** Forgets every session: a store that restarted empty. */
  clear(): void {
    this.#records.clear();
  }

  async create(id: string, ttl: number): Promise<void> {
    if (this.#live(id)) throw new Error(`Session ${id} exists already`);
    this.#records.set(id, {
      epoch: 1,
      sent: 0,
      acked: 0,
      received: 0,
      log: [],
      topics: [],
      expires: Date.now() + ttl,
    });
  }

  async claim(id: string, ttl: number): Promise<StoredSession | null> {
    const record = this.#live(id);
    if (!record) return null;
    record.epoch++;
    record.expires = Date.now() + ttl;
    return snapshot(record);
  }

  async commit(id: string, epoch: number, step: SessionStep, ttl: number): Promise<CommitResult> {
    const record = this.#live(id);
    if (!record) return 'missing';
    if (record.epoch !== epoch) return 'taken';
    let next = record.sent + 1;
    const appended: StoredMessage[] = [];
    for (const message of step.appended) {
      if (message.seq < next && appended.length === 0) continue;
      if (message.seq !== next) {
        throw new RangeError(
          `Session ${id}: appended message ${message.seq} does not follow ${next - 1}`,
        );
      }
      appended.push(message);
      next++;
    }
    const sent = next - 1;
    if (step.acked > sent) {
      throw new RangeError(`Session ${id}: acked ${step.acked} is past sent ${sent}`);
    }
    record.log.push(...appended);
    record.sent = sent;
    record.received = Math.max(record.received, step.received);
    if (step.acked > record.acked) {
      record.acked = step.acked;
      const first = record.log.findIndex((message) => message.seq > record.acked);
      record.log = first === -1 ? [] : record.log.slice(first);
    }
    if (step.topics) record.topics = [...step.topics];
    record.expires = Date.now() + ttl;
    return 'committed';
  }

  async restore(id: string, state: StoredSession, ttl: number): Promise<boolean> {
    if (this.#live(id)) return false;
    this.#records.set(id, {
      epoch: state.epoch,
      sent: state.sent,
      acked: state.acked,
      received: state.received,
      log: [...state.log],
      topics: [...state.topics],
      expires: Date.now() + ttl,
    });
    return true;
  }

  async touch(id: string, epoch: number, ttl: number): Promise<boolean> {
    const record = this.#live(id);
    if (!record || record.epoch !== epoch) return false;
    record.expires = Date.now() + ttl;
    return true;
  }

  async remove(id: string, epoch: number): Promise<void> {
    if (this.#live(id)?.epoch === epoch) this.#records.delete(id);
  }

  /** The record of `id`, unless it expired (then it is forgotten). */
  #live(id: string): SessionRecord | undefined {
    if (++this.#operations % 1024 === 0) this.#sweep();
    const record = this.#records.get(id);
    if (record && record.expires <= Date.now()) {
      this.#records.delete(id);
      return undefined;
    }
    return record;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, record] of this.#records) if (record.expires <= now) this.#records.delete(id);
  }
}

function snapshot(record: SessionRecord): StoredSession {
  return {
    epoch: record.epoch,
    sent: record.sent,
    acked: record.acked,
    received: record.received,
    log: [...record.log],
    topics: [...record.topics],
  };
}
