/**
 * {@link RedisSessionStore}: the `SessionStore` of `@proj/server` over
 * Redis, so that a session outlives the node that held it
 * (`docs/session-protocol.md`, section 8).
 * @packageDocumentation
 */
import type { Redis } from 'ioredis';
import type { CommitResult, SessionStep, SessionStore, StoredSession } from '@proj/server';
import {
  CLAIM,
  COMMIT,
  CREATE,
  type LuaScript,
  REMOVE,
  RESTORE,
  TOUCH,
} from './session-scripts.js';
import {
  badStep,
  checkState,
  checkStep,
  decodeClaim,
  encodeMessage,
  isCount,
} from './session-record.js';
import { SessionStoreError } from './session-store-error.js';

/** Options of a {@link RedisSessionStore}. */
export interface RedisSessionStoreOptions {
  /**
   * The ioredis client to run the store's scripts on (yours: the store
   * never closes it, and adds no listener to it). Any client works; with
   * `enableOfflineQueue: false` a call made while it is connecting rejects
   * at once instead of waiting up to `timeout`.
   */
  client: Redis;
  /**
   * Prefix of every key (`<prefix>{<id>}` and `<prefix>{<id>}:log`). Apps
   * that share one Redis need different prefixes. It must not contain `{`
   * or `}`: the id in braces is the keys' hash tag, which keeps a session in
   * one Redis Cluster slot. Default `"proj:session:"`.
   */
  prefix?: string | undefined;
  /**
   * Milliseconds a call waits for Redis before it rejects with
   * `WS_ERR_STORE_UNAVAILABLE`, so that a store behind a dead connection
   * never hangs the server (which retries). Default 5000.
   */
  timeout?: number | undefined;
}

const OPTION_NAMES: ReadonlyArray<keyof RedisSessionStoreOptions> = ['client', 'prefix', 'timeout'];
const DEFAULT_PREFIX = 'proj:session:';
const DEFAULT_TIMEOUT = 5_000;
/** The longest delay `setTimeout` takes; above it Node fires at once. */
const MAX_TIMEOUT = 2 ** 31 - 1;
/**
 * Stamps the writes of every store of this process in call order (see
 * `COMMIT` in session-scripts.ts). One counter for the process, not one per
 * store, so that writes to one session through two stores (two clients)
 * are ordered too. Another process writes under another epoch.
 */
let lastWrite = 0;
const nextWrite = (): number => ++lastWrite;

/** Session ids as the protocol defines them (section 2): the only characters a key gets from outside. */
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A `SessionStore` over Redis: each session is a hash (its numbers, topics
 * and epoch) and a list (its replay log) under one hash tag, and each
 * method is one Lua script, so every write is atomic and fenced by the
 * epoch. Binary and text messages read back exactly as written.
 *
 * Calls reject with a {@link SessionStoreError} when Redis is unreachable
 * (at once while the client is reconnecting, else after `timeout`); the
 * server retries them. A call that timed out may still reach Redis later
 * (ioredis queues commands while connecting, and resends those in flight
 * when a connection drops): every write is safe to apply late or twice
 * (see `commit`).
 *
 * @example
 * const redis = new Redis(process.env.REDIS_URL);
 * const server = new WebSocketServer({
 *   port: 8080,
 *   sessions: { store: new RedisSessionStore({ client: redis }) },
 * });
 */
export class RedisSessionStore implements SessionStore {
  /** Prefix of every key. */
  readonly prefix: string;
  /** Milliseconds a call waits for Redis. */
  readonly timeout: number;
  readonly #client: Redis;
  /** The client was ready at one of this store's calls: a later `connecting` is a reconnection. */
  #connected = false;

  /**
   * @throws {TypeError} for an unknown option, a missing or wrong `client`,
   *   or a `prefix` that is not a string without braces.
   * @throws {RangeError} for a `timeout` that is not an integer from 1 to 2^31 - 1.
   */
  constructor(options: RedisSessionStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(
        `RedisSessionStore takes an options object ({ client, prefix, timeout }), got ${describe(options)}`,
      );
    }
    checkKnown(options);
    const { client, prefix = DEFAULT_PREFIX, timeout = DEFAULT_TIMEOUT } = options;
    checkClient(client);
    if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
      throw new TypeError(
        `The "prefix" option must be a string without "{" or "}" (the session id in braces is ` +
          `the keys' hash tag), got ${describe(prefix)}`,
      );
    }
    if (
      typeof timeout !== 'number' ||
      !Number.isInteger(timeout) ||
      timeout < 1 ||
      timeout > MAX_TIMEOUT
    ) {
      const ErrorClass = typeof timeout === 'number' ? RangeError : TypeError;
      throw new ErrorClass(
        `The "timeout" option must be an integer from 1 to ${MAX_TIMEOUT}, got ${describe(timeout)}`,
      );
    }
    this.#client = client;
    this.prefix = prefix;
    this.timeout = timeout;
  }

  /**
   * The Redis keys of session `id`: its hash and its log (for inspection
   * and tests). A `keyPrefix` of your client goes in front, added by ioredis.
   * @throws {TypeError} for a malformed id.
   */
  keysOf(id: string): { readonly state: string; readonly log: string } {
    checkId(id);
    const state = `${this.prefix}{${id}}`;
    return { state, log: `${state}:log` };
  }

  /**
   * Records a new, empty session (epoch 1, every number 0, no topics). Does
   * nothing if Redis has a session with this id already (ids are random, so
   * that is a create sent twice).
   */
  async create(id: string, ttl: number): Promise<void> {
    const keys = this.#keys(id, ttl);
    await this.#run(CREATE, id, keys, [String(ttl)]);
  }

  /** Bumps the epoch and returns the session's state, or `null` if Redis does not have it. */
  async claim(id: string, ttl: number): Promise<StoredSession | null> {
    const keys = this.#keys(id, ttl);
    return decodeClaim(id, await this.#run(CLAIM, id, keys, [String(ttl)]));
  }

  /**
   * Applies `step` if `epoch` is still the session's: appends its messages,
   * raises `received` and `acked` (smaller values are ignored), drops the
   * log up to `acked`, sets the topics and refreshes the expiry.
   *
   * A step may repeat messages the store has already (numbered up to the
   * stored `sent`): they are skipped, so retrying a step whose answer was
   * lost is harmless. A call that reaches Redis after a later call of this
   * store for the same session has been applied (a late or resent command)
   * is ignored.
   * @returns `'missing'` also when the stored record is behind the step
   *   (its messages start above the stored `sent + 1`: Redis lost writes),
   *   so that the holder writes its whole state again with `restore`.
   * @throws {SessionStoreError} `WS_ERR_STORE_STEP` if the appended messages
   *   are not numbered consecutively, or `acked` exceeds `sent`;
   *   `WS_ERR_STORE_UNAVAILABLE` if Redis cannot be reached.
   */
  async commit(id: string, epoch: number, step: SessionStep, ttl: number): Promise<CommitResult> {
    const keys = this.#keys(id, ttl);
    checkEpoch(epoch);
    const { first, last } = checkStep(id, step);
    const args: Array<string | Buffer> = [
      String(epoch),
      String(ttl),
      String(nextWrite()),
      String(step.received),
      String(step.acked),
      step.topics === undefined ? '0' : '1',
      step.topics === undefined ? '' : JSON.stringify(step.topics),
      String(first),
      String(last),
    ];
    for (const message of step.appended) args.push(encodeMessage(message.data));
    const reply = await this.#run(COMMIT, id, keys, args);
    const answer = Array.isArray(reply) ? reply.map(String) : String(reply);
    if (answer === 'committed' || answer === 'taken' || answer === 'missing') return answer;
    if (Array.isArray(answer) && answer[0] === 'acked') {
      throw badStep(id, `"acked" (${step.acked}) exceeds the last message produced (${answer[1]})`);
    }
    throw new SessionStoreError(
      'WS_ERR_STORE_RECORD',
      id,
      `Session "${id}": unexpected answer from the commit script: ${String(answer)}`,
    );
  }

  /**
   * Writes the whole `state` under its epoch, if Redis has no record of the
   * session or one under the same epoch that is behind (after `commit`
   * answered `'missing'`).
   * @returns `false` if a record under another epoch exists.
   */
  async restore(id: string, state: StoredSession, ttl: number): Promise<boolean> {
    const keys = this.#keys(id, ttl);
    checkState(id, state);
    const args: Array<string | Buffer> = [
      String(state.epoch),
      String(ttl),
      String(state.sent),
      String(state.acked),
      String(state.received),
      JSON.stringify(state.topics),
      String(nextWrite()),
    ];
    for (const message of state.log) args.push(encodeMessage(message.data));
    return (await this.#run(RESTORE, id, keys, args)) === 1;
  }

  /** Refreshes the expiry; `false` if the session was taken or is missing. */
  async touch(id: string, epoch: number, ttl: number): Promise<boolean> {
    const keys = this.#keys(id, ttl);
    checkEpoch(epoch);
    return (await this.#run(TOUCH, id, keys, [String(epoch), String(ttl)])) === 1;
  }

  /** Deletes the session, if `epoch` is still its (else does nothing). */
  async remove(id: string, epoch: number): Promise<void> {
    const { state, log } = this.keysOf(id);
    checkEpoch(epoch);
    await this.#run(REMOVE, id, [state, log], [String(epoch)]);
  }

  /** The keys of `id`, after checking `id` and `ttl`. */
  #keys(id: string, ttl: number): string[] {
    const { state, log } = this.keysOf(id);
    if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 1) {
      const ErrorClass = typeof ttl === 'number' ? RangeError : TypeError;
      throw new ErrorClass(
        `The ttl must be an integer of at least 1 (milliseconds), got ${describe(ttl)}`,
      );
    }
    return [state, log];
  }

  /**
   * Runs a script within `timeout`, and turns every failure into a
   * {@link SessionStoreError}.
   */
  async #run(
    script: LuaScript,
    id: string,
    keys: readonly string[],
    args: ReadonlyArray<string | Buffer>,
  ): Promise<unknown> {
    const { status } = this.#client;
    if (status === 'ready') this.#connected = true;
    // Reconnecting: Redis is known to be unreachable now. Rejecting at once
    // lets the server retry on its own schedule, rather than queueing a
    // command that ioredis would send whenever a connection comes back.
    // Only the first connection is waited for (at most `timeout`): a server
    // starting up makes its first calls while the client connects.
    const reconnecting =
      status === 'reconnecting' ||
      status === 'close' ||
      (this.#connected && (status === 'connecting' || status === 'connect'));
    if (status === 'end' || reconnecting) {
      throw unavailable(
        id,
        script,
        status === 'end' ? 'the Redis client was closed' : `Redis is unreachable (${status})`,
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(unavailable(id, script, `Redis did not answer within ${this.timeout} ms`)),
        this.timeout,
      );
    });
    try {
      return await Promise.race([script.run(this.#client, keys, args), timedOut]);
    } catch (error) {
      if (error instanceof SessionStoreError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      if (message.startsWith('WRONGTYPE')) {
        throw new SessionStoreError(
          'WS_ERR_STORE_RECORD',
          id,
          `Session "${id}": a key of another type is in the way (${keys.join(', ')}): ${message}`,
          { cause: error },
        );
      }
      throw unavailable(id, script, message, error);
    } finally {
      clearTimeout(timer);
    }
  }
}

function unavailable(
  id: string,
  script: LuaScript,
  reason: string,
  cause?: unknown,
): SessionStoreError {
  return new SessionStoreError(
    'WS_ERR_STORE_UNAVAILABLE',
    id,
    `Session store: ${script.name} of session "${id}" failed: ${reason}`,
    cause === undefined ? undefined : { cause },
  );
}

function checkId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw new TypeError(
      `A session id must be 1 to 64 characters from A-Z a-z 0-9 - _, got ${describe(id)}`,
    );
  }
}

function checkEpoch(epoch: unknown): void {
  if (!isCount(epoch) || epoch === 0) {
    const ErrorClass = typeof epoch === 'number' ? RangeError : TypeError;
    throw new ErrorClass(`The epoch must be an integer of at least 1, got ${describe(epoch)}`);
  }
}

/**
 * Refuses option names the store does not know, worded as `knownOptions`
 * of `@proj/protocol` words them (a typo fails loudly instead of being ignored).
 */
function checkKnown(options: object): void {
  for (const key of Object.keys(options)) {
    if ((OPTION_NAMES as readonly string[]).includes(key)) continue;
    if ((options as Record<string, unknown>)[key] === undefined) continue;
    const near = OPTION_NAMES.find((name) => name.toLowerCase() === key.toLowerCase());
    throw new TypeError(
      `Unknown RedisSessionStore option "${key}"${near ? ` (did you mean "${near}"?)` : ''}; ` +
        `the options are ${OPTION_NAMES.map((name) => `"${name}"`).join(', ')}`,
    );
  }
}

/** Duck-typed, so that a client from another copy of ioredis is accepted too. */
function checkClient(value: unknown): asserts value is Redis {
  const isClient =
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { callBuffer?: unknown }).callBuffer === 'function' &&
    typeof (value as { status?: unknown }).status === 'string';
  if (!isClient) {
    throw new TypeError(
      `The "client" option must be an ioredis client (new Redis(...)), got ${describe(value)}`,
    );
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  }
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'no prototype'})`;
  return `${typeof value} ${String(value)}`;
}
