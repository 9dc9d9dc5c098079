/**
 * The sessions of one `WebSocketServer` (`docs/session-protocol.md`): it
 * takes every session connection, answers its `hello` (a new session) or
 * `resume` (this server's session, or one claimed from the store), keeps the
 * sessions it holds, runs the keep-alive tick, and ends them all on
 * `server.close()`.
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import type { UpgradeRequest } from './request.js';
import { CloseCode, ProtocolError, isSessionId } from '@proj/protocol';
import { type Counters, type SessionStats, debug, debugging } from './diagnostics.js';
import type { ServerSession } from './server-session.js';
import { type ServerWebSocket, closeAs } from './server-websocket.js';
import { type CommitHost, SessionCommits } from './session-commits.js';
import { type SessionContext, SessionCore } from './session-core.js';
import { type LinkHost, type ResumeControl, SessionLink } from './session-link.js';
import type { ResolvedSessionOptions } from './session-options.js';
import type { SessionStore, StoredSession } from './session-store.js';
import { SessionTopics, deliverTo } from './session-topics.js';
import { SpreadSweep } from './spread-sweep.js';
import type { TopicRegistry } from './topics.js';

/** What the server gives its sessions. */
export interface SessionHostInit<Data> {
  readonly settings: ResolvedSessionOptions;
  readonly counters: Counters;
  readonly closeTimeout: number;
  /** The server's topics: sessions share its adapter subscriptions. */
  readonly registry: TopicRegistry<object>;
  /** Emits the server's `session` event; what it throws ends the session with 1011. */
  readonly announce: (session: ServerSession<Data>, request: UpgradeRequest) => void;
  /**
   * Reports an error the application's code threw (see `WebSocketServer`):
   * `site` `'session'` (the server's listener) or `'session-listener'`.
   */
  readonly reportUserError: (
    error: unknown,
    site: 'session' | 'session-listener',
    session: ServerSession<Data>,
    consequence: string | undefined,
  ) => void;
}

/** A new session's state in the store: epoch 1, every number 0 (`SessionStore.create`). */
const CREATED: StoredSession = { epoch: 1, sent: 0, acked: 0, received: 0, log: [], topics: [] };

/** The sessions of one server. @internal */
export class SessionHost<Data> implements LinkHost<Data>, CommitHost, SessionContext<Data> {
  readonly settings: ResolvedSessionOptions;
  readonly counters: Counters;
  readonly closeTimeout: number;
  readonly ttl: number;
  /** The sessions held, by id: what `server.sessions` shows. */
  readonly sessions = new Map<string, ServerSession<Data>>();
  readonly #cores = new Map<string, SessionCore<Data>>();
  /** Every session connection (to keep raw broadcasts off them). */
  readonly #sockets = new Set<ServerWebSocket<unknown>>();
  readonly #topics: SessionTopics<Data>;
  readonly #store: SessionStore | undefined;
  readonly #announce: SessionHostInit<Data>['announce'];
  readonly #report: SessionHostInit<Data>['reportUserError'];
  /** Claims on their way, by id: a second resume of one id waits for the first's answer. */
  readonly #claims = new Map<string, Promise<void>>();
  /** Sessions with a commit to make this tick. */
  #dirty: SessionCommits[] = [];
  #flushing: NodeJS.Immediate | undefined;
  /** The keep-alive: each attached session's `ack` and store `touch`, once per `keepAlive`, spread over it. */
  readonly #keepAlive: SpreadSweep<SessionCore<Data>>;
  #closing = false;

  constructor(init: SessionHostInit<Data>) {
    this.settings = init.settings;
    this.counters = init.counters;
    this.closeTimeout = init.closeTimeout;
    this.#store = init.settings.store;
    // The store keeps a session a keep-alive tick longer than this node
    // does, so that the node's own expiry decides, and removes it.
    this.ttl = init.settings.timeout + init.settings.keepAlive;
    this.#topics = new SessionTopics(init.registry);
    this.#announce = init.announce;
    this.#report = init.reportUserError;
    this.#keepAlive = new SpreadSweep<SessionCore<Data>>(init.settings.keepAlive, keepAlive);
  }

  /** The store (CommitHost). */
  get store(): SessionStore {
    return this.#store!;
  }

  /** A connection that negotiated a session: it waits for `hello` or `resume`. */
  accept(socket: ServerWebSocket<Data>, request: UpgradeRequest, protocol: string): void {
    this.#sockets.add(socket as ServerWebSocket<unknown>);
    new SessionLink(socket, request, protocol, this);
  }

  /** Whether `socket` carries (or waits for) a session: broadcasts reach it through its session. */
  isSessionSocket(socket: ServerWebSocket<unknown>): boolean {
    return this.#sockets.has(socket);
  }

  /**
   * A topic message for the sessions subscribed to `topic` (but `except`).
   * @param text - the message as the publisher's string, when it was one.
   */
  publish(
    topic: string,
    payload: Uint8Array,
    binary: boolean,
    text: string | undefined,
    except: ServerSession<Data> | undefined,
  ): number {
    const core = except && this.#cores.get(except.id);
    return this.#topics.deliver(topic, payload, binary, text, core);
  }

  /** A broadcast message for every session held (or those `filter` accepts). */
  broadcast(
    payload: Uint8Array,
    binary: boolean,
    text: string | undefined,
    filter: ((session: ServerSession<Data>) => boolean) | undefined,
  ): number {
    if (this.#cores.size === 0) return 0;
    // Sessions the message does not fit end after the loop, not during it.
    return deliverTo(
      this.#cores.values(),
      payload,
      binary,
      text,
      filter && ((core) => !filter(core.session)),
    );
  }

  /** The `sessions` block of `stats()`. */
  stats(): SessionStats {
    const counters = this.counters;
    let attached = 0;
    for (const core of this.#cores.values()) if (core.socket !== undefined) attached++;
    return {
      held: this.#cores.size,
      attached,
      suspended: this.#cores.size - attached,
      created: counters.sessionsCreated,
      resumed: counters.sessionsResumed,
      lost: counters.sessionsLost,
      expired: counters.sessionsExpired,
      replayedMessages: counters.replayedMessages,
      duplicatesDiscarded: counters.duplicatesDiscarded,
      storeErrors: counters.storeErrors,
    };
  }

  /**
   * `server.close()`: every session ends here with `server-closed` (no
   * `end`: clients resume on another node; the server closes the
   * connections), after one last commit each to the store.
   * @returns once those commits settled, or `timeout` passed.
   */
  async close(code: number, reason: string, timeout: number): Promise<void> {
    this.#closing = true;
    this.#keepAlive.stop();
    const commits: Promise<void>[] = [];
    for (const core of [...this.#cores.values()]) {
      const committed = core.serverClosed(code, reason);
      if (committed) commits.push(committed);
    }
    clearImmediate(this.#flushing);
    this.#flushing = undefined;
    this.#dirty = [];
    if (commits.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(commits),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout))),
    ]);
    clearTimeout(timer);
  }

  // ---- LinkHost ----

  hello(link: SessionLink<Data>): void {
    const id = randomBytes(16).toString('base64url');
    const store = this.#store;
    if (store === undefined) {
      this.#start(link, id, undefined);
      return;
    }
    link.waitForStore();
    store.create(id, this.ttl).then(
      () => {
        if (this.#closing || link.closed) {
          // Nobody will resume it: the store need not wait for its expiry.
          store.remove(id, CREATED.epoch).catch(() => {});
          link.storeAnswered();
          return;
        }
        this.#start(link, id, CREATED);
        link.storeAnswered();
      },
      (error: unknown) => this.#storeFailed(link, 'create', error),
    );
  }

  resume(link: SessionLink<Data>, control: ResumeControl): void {
    if (!isSessionId(control.id)) {
      this.#lost(link);
      return;
    }
    if (this.#store === undefined) {
      const core = this.#cores.get(control.id);
      if (core === undefined || !core.canResumeFrom(control.received)) this.#lost(link);
      else this.#resumeHere(core, link, control);
      return;
    }
    link.waitForStore();
    // One claim per id at a time, so that each answer is read against the
    // epoch the one before it left (see #claimed).
    const id = control.id;
    const claim = (): Promise<void> => this.#claim(link, control);
    const claimed = (this.#claims.get(id) ?? Promise.resolve()).then(claim, claim);
    this.#claims.set(id, claimed);
    void claimed.then(() => {
      if (this.#claims.get(id) === claimed) this.#claims.delete(id);
    });
  }

  closed(link: SessionLink<Data>): void {
    this.#sockets.delete(link.socket as ServerWebSocket<unknown>);
  }

  // ---- SessionContext ----

  forget(core: SessionCore<Data>): void {
    if (this.#cores.get(core.id) === core) {
      this.#cores.delete(core.id);
      this.sessions.delete(core.id);
    }
    this.#keepAlive.delete(core);
    this.#topics.removeAll(core);
  }

  subscribe(core: SessionCore<Data>, topic: string): void {
    this.#topics.add(core, topic);
  }

  unsubscribe(core: SessionCore<Data>, topic: string): void {
    this.#topics.remove(core, topic);
  }

  commitsFor(core: SessionCore<Data>, stored: StoredSession): SessionCommits {
    return new SessionCommits(core, this, stored);
  }

  reportUserError(error: unknown, core: SessionCore<Data>, consequence: string | undefined): void {
    this.#report(error, 'session-listener', core.session, consequence);
  }

  // ---- CommitHost ----

  schedule(commits: SessionCommits): void {
    this.#dirty.push(commits);
    // One batch per tick for every session: what one read delivered and
    // what the application sent in response go in one commit each.
    this.#flushing ??= setImmediate(() => {
      this.#flushing = undefined;
      const dirty = this.#dirty;
      this.#dirty = [];
      for (const commits of dirty) commits.flush();
    });
  }

  // ---- internals ----

  /** Starts a new session on `link` (`hello`). */
  #start(link: SessionLink<Data>, id: string, stored: StoredSession | undefined): void {
    const socket = link.socket;
    const core = new SessionCore(this, {
      id,
      data: socket.data,
      protocol: link.protocol,
      stored,
      moved: false,
    });
    core.attach(link, 0, 0);
    this.#hold(core);
    this.counters.sessionsCreated++;
    if (debugging) debug('session %s started', id);
    this.#announceSession(core, link.request);
  }

  /** Resumes a session this server holds on `link`. */
  #resumeHere(core: SessionCore<Data>, link: SessionLink<Data>, control: ResumeControl): void {
    core.attach(link, control.received, control.acked);
    this.counters.sessionsResumed++;
    if (debugging) debug('session %s resumed at %d', core.id, control.received);
    core.resumed(link.request);
  }

  /**
   * Claims the session in the store and resumes it on `link`: this
   * server's copy when nobody else claimed it since this server did (the
   * store's epoch is just one above it), else the store's state. Never rejects.
   */
  async #claim(link: SessionLink<Data>, control: ResumeControl): Promise<void> {
    const store = this.#store!;
    const id = control.id;
    let stored: StoredSession | null;
    try {
      stored = await store.claim(id, this.ttl);
    } catch (error) {
      this.#storeFailed(link, 'claim', error);
      return;
    }
    if (this.#closing) {
      link.storeAnswered();
      return;
    }
    const local = this.#cores.get(id);
    let core: SessionCore<Data> | undefined;
    if (local && (stored === null || stored.epoch === local.commits!.epoch + 1)) {
      // This server's copy is the newest there is (it may hold steps on
      // their way to the store). Missing from the store, it is written
      // again by its next commit's 'missing'.
      if (stored) local.commits!.adopt(stored.epoch);
      else local.commits!.changed();
      core = local;
    } else {
      // Another node held it since: this server's copy is stale.
      local?.taken();
      if (stored) {
        core = new SessionCore(this, {
          id,
          data: link.socket.data,
          protocol: link.protocol,
          stored,
          moved: true,
        });
      }
    }
    const moved = core !== undefined && core !== local;
    if (link.closed) {
      // The client left meanwhile: a session that moved here is not held
      // (the store keeps it for the next claim); this server's copy stays suspended.
      if (moved) core!.commits!.stop(false);
      link.storeAnswered();
      return;
    }
    try {
      if (core === undefined || !core.canResumeFrom(control.received)) {
        if (moved) {
          core!.commits!.stop(false);
          store.remove(id, stored!.epoch).catch(() => {});
        }
        this.#lost(link);
      } else if (moved) {
        core.attach(link, control.received, control.acked);
        this.#hold(core);
        this.counters.sessionsResumed++;
        if (debugging) debug('session %s moved here at %d', id, control.received);
        this.#announceSession(core, link.request);
      } else {
        this.#resumeHere(core, link, control);
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      if (moved) core!.commits!.stop(false);
      link.breach(error);
    }
    link.storeAnswered();
  }

  #hold(core: SessionCore<Data>): void {
    // Only the core held for an id is kept alive (a moved-away copy is not).
    const previous = this.#cores.get(core.id);
    if (previous !== undefined) this.#keepAlive.delete(previous);
    this.#cores.set(core.id, core);
    this.#keepAlive.add(core);
    this.sessions.set(core.id, core.session);
    for (const topic of core.topics) this.#topics.add(core, topic);
  }

  #lost(link: SessionLink<Data>): void {
    this.counters.sessionsLost++;
    link.lost();
  }

  /** Emits `session`; a throwing listener ends the session with 1011. */
  #announceSession(core: SessionCore<Data>, request: UpgradeRequest): void {
    try {
      this.#announce(core.session, request);
    } catch (error) {
      this.#report(error, 'session', core.session, 'the session was ended with 1011');
      core.failed();
    }
  }

  /**
   * The store failed a `hello` or `resume`: the client is told to come back
   * (1013), as it cannot be answered safely now (section 8, point 6).
   */
  #storeFailed(link: SessionLink<Data>, operation: string, error: unknown): void {
    this.counters.storeErrors++;
    if (debugging) debug('session store %s failed: %s', operation, String(error));
    link.release();
    link.storeAnswered();
    if (!link.closed) {
      closeAs(
        link.socket as ServerWebSocket<unknown>,
        'session-store-unavailable',
        CloseCode.TryAgainLater,
        'Session store unavailable',
      );
    }
  }
}

/** A session's keep-alive tick: an `ack` if it is attached, a `touch` for the store. */
function keepAlive(core: SessionCore<unknown>): void {
  core.keepAlive();
  core.commits?.tick();
}
