/**
 * The contract between a server's `sessions` and the store that lets a
 * session outlive the node holding it (implemented by `@proj/redis`'s
 * `RedisSessionStore`). Without a store, sessions live in the server's
 * memory and end with its process. See `docs/session-protocol.md`, section 8.
 *
 * Every write is fenced by an **epoch**: `claim` bumps it, and a `commit`,
 * `touch` or `remove` made with an older epoch fails, so a node that lost
 * a session to another learns it at its next write and lets go.
 * @packageDocumentation
 */

/** One data message in a stored replay log. */
export interface StoredMessage {
  /** Its sequence number. */
  readonly seq: number;
  /** Its payload: a string for a text message, bytes for a binary one. */
  readonly data: string | Uint8Array;
}

/** A session as the store holds it, returned by {@link SessionStore.claim}. */
export interface StoredSession {
  /** The epoch the claim gave the caller; pass it to every later write. */
  readonly epoch: number;
  /** The number of the last data message the server produced (and recorded). */
  readonly sent: number;
  /** The largest number the client acknowledged. */
  readonly acked: number;
  /** The number of the last client data message the server delivered (and recorded). */
  readonly received: number;
  /** The replay log: messages `acked + 1` to `sent`, oldest first. */
  readonly log: readonly StoredMessage[];
  /** The topics the session is subscribed to. */
  readonly topics: readonly string[];
}

/** One atomic step of a session, written by {@link SessionStore.commit}. */
export interface SessionStep {
  /** The new `received` (never smaller than the stored one). */
  readonly received: number;
  /** The new `acked` (never smaller than the stored one): the log up to it is dropped. */
  readonly acked: number;
  /** Messages produced since the last step, numbered on from the stored `sent`, oldest first. */
  readonly appended: readonly StoredMessage[];
  /** The session's topics, when they changed since the last step. */
  readonly topics?: readonly string[] | undefined;
}

/**
 * Where sessions are kept between nodes. Every method may reject when the
 * store is unreachable; the server then retries the same step later and
 * holds back what depends on it (acknowledgements, outgoing messages).
 * `ttl` is in milliseconds: a session nobody writes or touches for `ttl`
 * is forgotten.
 */
export interface SessionStore {
  /** Records a new, empty session (epoch 1, every number 0, no topics). */
  create(id: string, ttl: number): Promise<void>;
  /**
   * Takes the session for the caller: bumps its epoch, so the previous
   * holder's writes fail from now on.
   * @returns its state, or `null` if the store does not know it (never
   *   created, expired or removed).
   */
  claim(id: string, ttl: number): Promise<StoredSession | null>;
  /**
   * Applies `step` atomically, and refreshes the expiry, if `epoch` is still
   * the session's.
   * @returns `'committed'`; `'taken'` if another node claimed it since (the
   *   caller must drop its copy); `'missing'` if the store no longer has it
   *   (it expired, or the store restarted empty), or has an older copy than
   *   the step continues (the store lost writes): the caller, which holds
   *   the whole state, writes it again with {@link SessionStore.restore}.
   *   Applying a step twice (a retry) must change nothing: messages
   *   numbered up to the stored `sent` are skipped.
   */
  commit(id: string, epoch: number, step: SessionStep, ttl: number): Promise<CommitResult>;
  /**
   * Writes a session's whole state again under the caller's `epoch`, if the
   * store has no record of it, or an older one under the same epoch (after
   * `commit` answered `'missing'`).
   * @returns `false` if a record under another epoch exists (another node
   *   created or claimed it meanwhile).
   */
  restore(id: string, state: StoredSession, ttl: number): Promise<boolean>;
  /** Refreshes the expiry; `false` if the session was taken or is missing. */
  touch(id: string, epoch: number, ttl: number): Promise<boolean>;
  /** Forgets the session (it ended), if `epoch` is still its. */
  remove(id: string, epoch: number): Promise<void>;
}

/** What {@link SessionStore.commit} found. */
export type CommitResult = 'committed' | 'taken' | 'missing';
