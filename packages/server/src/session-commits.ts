/**
 * Recording a session in a {@link SessionStore}, so that another node can
 * resume it (`docs/session-protocol.md`, section 8). Each batch of changes
 * (what one tick received, sent, acknowledged, subscribed) is one `commit`;
 * the session acknowledges received messages and writes sent ones only up
 * to what a commit has recorded: writing first would let a node that dies
 * before its commit leave the client with messages no other node knows of
 * (section 8, point 3).
 *
 * A rejected commit (the store is unreachable) is retried with backoff, and
 * what depends on it waits: delivery stalls, nothing is lost or repeated
 * (point 6). `'missing'` (the store restarted empty, or expired the session)
 * writes the whole state again with `restore`; `'taken'` (another node
 * claimed it) ends the session here (point 4).
 * @packageDocumentation
 */
import { type Counters, debug, debugging } from './diagnostics.js';
import type {
  CommitResult,
  SessionStep,
  SessionStore,
  StoredMessage,
  StoredSession,
} from './session-store.js';
import type { LoggedMessage, SessionLog } from '@proj/protocol';

/** What the replay log keeps of a message: text as the application's string, binary as bytes. */
export type LoggedData = string | Uint8Array;

/** The session a {@link SessionCommits} records. */
export interface CommitOwner {
  readonly id: string;
  readonly log: SessionLog<LoggedData>;
  readonly topics: ReadonlySet<string>;
  /** A commit recorded more: what waited for it may go. */
  committed(): void;
  /** Another node holds the session now. */
  taken(): void;
}

/** What the sessions of one server share for recording. */
export interface CommitHost {
  readonly store: SessionStore;
  /** Milliseconds the store keeps a session nobody writes (`timeout` + `keepAlive`). */
  readonly ttl: number;
  readonly counters: Counters;
  /** Calls `commits.flush()` at the end of this tick, with every other session's. */
  schedule(commits: SessionCommits): void;
}

/** The numbers a commit records. */
interface Target {
  readonly sent: number;
  readonly received: number;
  readonly acked: number;
}

/** First and longest wait before a failed store operation is tried again, in ms. */
const FIRST_RETRY = 100;
const LAST_RETRY = 3200;

/** One session's recorder. @internal */
export class SessionCommits {
  /** The epoch of the last claim (or 1, for a session created here). */
  epoch: number;
  readonly #owner: CommitOwner;
  readonly #host: CommitHost;
  /** What the store has recorded. */
  #sent: number;
  #received: number;
  #acked: number;
  /** Something changed since the last commit was made. */
  #pending = false;
  #topicsChanged = false;
  /** In the host's batch for this tick. */
  #scheduled = false;
  /** A commit or restore is on its way; the next one waits for it. */
  #inFlight: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelay = 0;
  /** A commit recorded something since the last keep-alive tick (so no `touch` is needed). */
  #fresh = true;
  /** Done: the session ended or moved; nothing more is written. */
  #stopped = false;

  constructor(owner: CommitOwner, host: CommitHost, stored: StoredSession) {
    this.#owner = owner;
    this.#host = host;
    this.epoch = stored.epoch;
    this.#sent = stored.sent;
    this.#received = stored.received;
    this.#acked = stored.acked;
  }

  /** The last message the store has recorded (and so may be written). */
  get sent(): number {
    return this.#sent;
  }

  /** The last client message the store has recorded as received (and so may be acknowledged). */
  get received(): number {
    return this.#received;
  }

  /** The session changed: a commit follows this tick (or after the one on its way). */
  changed(): void {
    if (this.#stopped) return;
    this.#pending = true;
    this.#schedule();
  }

  /** The session's topics changed: the next commit carries them. */
  topicsChanged(): void {
    this.#topicsChanged = true;
    this.changed();
  }

  /**
   * This node claimed the session again (a resume here) and the store's
   * epoch is `epoch`: later writes use it. A commit made with the old one
   * and refused as `'taken'` is made again.
   */
  adopt(epoch: number): void {
    this.epoch = epoch;
  }

  /** Makes the commit of everything that changed; called by the host once per tick. */
  flush(): void {
    this.#scheduled = false;
    if (this.#stopped || this.#inFlight !== undefined || this.#retryTimer !== undefined) return;
    this.#pending = false;
    const log = this.#owner.log;
    const target: Target = { sent: log.sent, received: log.received, acked: log.acked };
    const topics = this.#topicsChanged ? [...this.#owner.topics] : undefined;
    this.#topicsChanged = false;
    const step: SessionStep = {
      received: target.received,
      acked: target.acked,
      appended: log.sent > this.#sent ? stored(log.replayFrom(this.#sent)) : [],
      topics,
    };
    const epoch = this.epoch;
    this.#track(
      this.#host.store.commit(this.#owner.id, epoch, step, this.#host.ttl).then(
        (result) => this.#settled(result, epoch, target),
        (error: unknown) => {
          if (topics) this.#topicsChanged = true;
          this.#failed('commit', error);
        },
      ),
    );
  }

  /**
   * The keep-alive tick: refreshes the store's expiry of a session that
   * recorded nothing since the last tick. A `touch` refused (taken or
   * missing) is followed by a commit, whose answer says which.
   */
  tick(): void {
    if (this.#fresh) {
      this.#fresh = false;
      return;
    }
    if (this.#stopped || this.#inFlight !== undefined || this.#retryTimer !== undefined) return;
    const epoch = this.epoch;
    this.#host.store.touch(this.#owner.id, epoch, this.#host.ttl).then(
      (alive) => {
        if (!alive && epoch === this.epoch) this.changed();
      },
      (error: unknown) => this.#countFailure('touch', error),
    );
  }

  /**
   * Stops recording: the session ended (`remove`: forgotten by the store
   * too) or moved away.
   */
  stop(remove: boolean): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (remove) {
      this.#host.store
        .remove(this.#owner.id, this.epoch)
        .catch((error: unknown) => this.#countFailure('remove', error));
    }
  }

  /**
   * `server.close()`: one last commit of what changed (after the one on its
   * way), so that the node the client resumes on has all of it; no retries.
   * Call before {@link stop}.
   */
  async finish(): Promise<void> {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const owner = this.#owner;
    const host = this.#host;
    await this.#inFlight;
    const log = owner.log;
    if (log.sent === this.#sent && log.received === this.#received && log.acked === this.#acked) {
      if (!this.#topicsChanged) return;
    }
    const step: SessionStep = {
      received: log.received,
      acked: log.acked,
      appended: log.sent > this.#sent ? stored(log.replayFrom(this.#sent)) : [],
      topics: [...owner.topics],
    };
    try {
      const result = await host.store.commit(owner.id, this.epoch, step, host.ttl);
      if (result === 'missing') await host.store.restore(owner.id, this.#state(), host.ttl);
    } catch (error) {
      this.#countFailure('commit', error);
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight !== undefined || this.#retryTimer !== undefined) return;
    this.#scheduled = true;
    this.#host.schedule(this);
  }

  #track(operation: Promise<void>): void {
    const tracked = operation.finally(() => {
      if (this.#inFlight === tracked) this.#inFlight = undefined;
      // What changed meanwhile goes in the next commit.
      if (this.#pending || this.#topicsChanged) this.#schedule();
    });
    this.#inFlight = tracked;
  }

  #settled(result: CommitResult, epoch: number, target: Target): void {
    if (result === 'committed') {
      this.#recorded(target);
    } else if (this.#stopped) {
      // Ended or moved meanwhile: nothing more to do.
    } else if (result === 'taken') {
      // Refused because this node claimed the session again meanwhile: the
      // step was not applied; it goes again, under the new epoch.
      if (epoch !== this.epoch) this.#pending = true;
      else this.#owner.taken();
    } else {
      this.#restore();
    }
  }

  /** The store has no record of the session: writes the whole state again. */
  #restore(): void {
    const log = this.#owner.log;
    const target: Target = { sent: log.sent, received: log.received, acked: log.acked };
    this.#topicsChanged = false;
    this.#pending = false;
    const restored = this.#host.store.restore(this.#owner.id, this.#state(), this.#host.ttl);
    // The commit's promise chain is still the one in flight: this one follows it.
    this.#inFlight = restored.then(
      (written) => {
        this.#inFlight = undefined;
        if (written) this.#recorded(target);
        else if (!this.#stopped) this.#owner.taken();
        if (this.#stopped) return;
        if (this.#pending || this.#topicsChanged) this.#schedule();
      },
      (error: unknown) => {
        this.#inFlight = undefined;
        this.#topicsChanged = true;
        this.#failed('restore', error);
      },
    );
  }

  /** The session's whole state, for `restore`. */
  #state(): StoredSession {
    const log = this.#owner.log;
    return {
      epoch: this.epoch,
      sent: log.sent,
      acked: log.acked,
      received: log.received,
      log: stored(log.logged()),
      topics: [...this.#owner.topics],
    };
  }

  #recorded(target: Target): void {
    this.#sent = Math.max(this.#sent, target.sent);
    this.#received = Math.max(this.#received, target.received);
    this.#acked = Math.max(this.#acked, target.acked);
    this.#retryDelay = 0;
    this.#fresh = true;
    if (!this.#stopped) this.#owner.committed();
  }

  /** A store operation rejected: the step is made again later, with what changed meanwhile. */
  #failed(operation: string, error: unknown): void {
    this.#countFailure(operation, error);
    if (this.#stopped) return;
    this.#pending = true;
    this.#retryDelay = Math.min(Math.max(this.#retryDelay * 2, FIRST_RETRY), LAST_RETRY);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#scheduled = false;
      this.flush();
    }, this.#retryDelay);
    this.#retryTimer.unref();
  }

  #countFailure(operation: string, error: unknown): void {
    this.#host.counters.storeErrors++;
    if (debugging) debug('session store %s failed: %s', operation, String(error));
  }
}

/** Log entries as the store takes them. */
function stored(entries: readonly LoggedMessage<LoggedData>[]): StoredMessage[] {
  return entries.map((entry) => ({ seq: entry.seq, data: entry.message }));
}
