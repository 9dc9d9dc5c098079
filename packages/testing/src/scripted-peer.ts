/**
 * The server's end of one connection, scripted by a test: send to the client,
 * wait for what it sends (parsed, typed), close, drop, stop reading. Every
 * wait ends with a failure that says what was expected and lists what did
 * arrive.
 */
import type { IncomingMessage } from 'node:http';
import type { ServerSendData, ServerWebSocket } from '@proj/server';
import { MalformedMessageError, PeerClosedError, WaitTimeoutError } from './errors.js';
import type { Parse, ParseOutcome } from './parsers.js';
import {
  type ListedMessage,
  RAW_TEXT_LENGTH,
  count,
  describePredicate,
  listMessages,
  previewMessage,
  type RawMessage,
} from './raw-message.js';
import { type PeerClose, type RecordedConnection, describeClose } from './recorded-connection.js';
import { ChangeSignal, timeoutOption, waitUntil } from './waiting.js';

/** Options of a wait. */
export interface WaitOptions {
  /**
   * Milliseconds to wait before failing; `Infinity` waits as long as it takes
   * (the test runner's own timeout still applies). Default: the server's
   * `timeout` option (10 s unless set).
   */
  timeout?: number;
}

/** Options of {@link ScriptedPeer.nextMessage}. */
export interface NextMessageOptions extends WaitOptions {
  /**
   * What the predicate looks for, in words, for the failure message (e.g.
   * `'the chat message "hi"'`). Default: the predicate's source text.
   */
  description?: string;
}

/**
 * The server's end of one connection, as a test scripts it. `T` is the type
 * of the messages, as the peer's parser gives them (`unknown` for JSON).
 */
export interface ScriptedPeer<T = unknown> {
  /** The connection's number: 1 for the server's first, then 2, 3... */
  readonly id: number;
  /** The handshake request (URL, headers). */
  readonly request: IncomingMessage;
  /** The `@proj/server` connection itself, for anything the peer does not wrap. */
  readonly socket: ServerWebSocket<unknown>;
  /**
   * Every message received so far, parsed, in order (those a wait took
   * included).
   * @throws {MalformedMessageError} if one of them is malformed (its raw text in the message).
   */
  readonly messages: readonly T[];
  /** Every message received so far, as it arrived: text, or binary bytes. */
  readonly received: readonly RawMessage[];
  /** How the connection closed; `undefined` while it is open. */
  readonly closed: PeerClose | undefined;
  /** Whether reading is stopped by {@link stall}. */
  readonly isStalled: boolean;

  /**
   * Sends a message: a string as text, bytes as binary.
   * @returns resolves once the data was handed to the kernel.
   * @throws {PeerClosedError} (rejects) when the connection is not open.
   */
  send(data: ServerSendData): Promise<void>;
  /**
   * Sends `JSON.stringify(value)` as a text message.
   * @throws {TypeError} (rejects) for a value JSON cannot represent (`undefined`, a function).
   * @throws {PeerClosedError} (rejects) when the connection is not open.
   */
  sendJson(value: unknown): Promise<void>;

  /**
   * The next message that `predicate` accepts (the oldest not taken by an
   * earlier `nextMessage`), parsed. Each message is taken once; messages it
   * passes over stay for later calls, and stay in {@link messages}.
   * @throws {WaitTimeoutError} (rejects) when none arrives in time: the
   *   message lists what did arrive.
   * @throws {PeerClosedError} (rejects) as soon as the connection closed with
   *   no such message left.
   * @throws {MalformedMessageError} (rejects) on reaching a message the parser
   *   refuses, showing its raw text; what `predicate` throws, likewise.
   */
  nextMessage<U extends T>(
    predicate: (message: T) => message is U,
    options?: NextMessageOptions,
  ): Promise<U>;
  nextMessage(predicate?: (message: T) => boolean, options?: NextMessageOptions): Promise<T>;
  nextMessage(options: NextMessageOptions): Promise<T>;

  /**
   * Starts the closing handshake and resolves once the connection is closed.
   * Reading resumes first if stalled (the client's close frame must be read).
   * @param code - 1000, 1001-1003, 1007-1014 or 3000-4999; none sends an empty close frame.
   * @param reason - at most 123 UTF-8 bytes.
   * @throws {RangeError} (rejects) for a code that may not be sent or a reason too long.
   */
  close(code?: number, reason?: string): Promise<PeerClose>;
  /**
   * Destroys the connection without a close frame, as a crash or a lost
   * network would: the client sees 1006. Resolves once it is closed.
   */
  drop(): Promise<PeerClose>;
  /**
   * Stops reading from the connection, so what the client sends waits in
   * the socket buffers and then in the client (its `bufferedAmount` grows),
   * for `ms` milliseconds, or until {@link resume} when `ms` is not given.
   * @returns resolves when reading resumes (after `ms`, at `resume()`, or at close).
   * @throws {RangeError} for an `ms` that is not a number of at least 0.
   */
  stall(ms?: number): Promise<void>;
  /** Reads again after {@link stall}; does nothing when not stalled. */
  resume(): void;
  /**
   * Resolves with how the connection closed, once it has.
   * @throws {WaitTimeoutError} (rejects) when it is still open at the timeout.
   */
  waitForClose(options?: WaitOptions): Promise<PeerClose>;
}

/** One received message, as this peer's parser sees it. */
interface Entry<T> {
  /** From 1, in arrival order. */
  readonly number: number;
  /** `undefined` while an asynchronous parser works on it. */
  outcome: ParseOutcome<T> | undefined;
  /** Taken by a `nextMessage` (or reported malformed by one). */
  taken: boolean;
}

/** A stall in progress: how it ends. */
interface Stall {
  readonly ended: Promise<void>;
  readonly end: () => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * A {@link ScriptedPeer} over a recorded connection. Messages are parsed
 * when the test first looks (and in arrival order), so a message that came
 * before the test took the connection is parsed by the parser it chose.
 * @internal
 */
export class Peer<T> implements ScriptedPeer<T> {
  readonly #record: RecordedConnection;
  readonly #parse: Parse<T>;
  readonly #timeout: number;
  readonly #entries: Entry<T>[] = [];
  /** An asynchronous parser finished a message. */
  readonly #parsed = new ChangeSignal();
  #stall: Stall | undefined;

  constructor(record: RecordedConnection, parse: Parse<T>, timeout: number) {
    this.#record = record;
    this.#parse = parse;
    this.#timeout = timeout;
    // A stall ends with the connection: nothing is left to read, and no
    // timer may outlive the connection.
    record.changes.subscribe(() => {
      if (record.closed) this.resume();
    });
  }

  get id(): number {
    return this.#record.id;
  }

  get request(): IncomingMessage {
    return this.#record.request;
  }

  get socket(): ServerWebSocket<unknown> {
    return this.#record.socket;
  }

  get received(): readonly RawMessage[] {
    return this.#record.received.slice();
  }

  get closed(): PeerClose | undefined {
    return this.#record.closed;
  }

  get isStalled(): boolean {
    return this.#stall !== undefined;
  }

  get messages(): readonly T[] {
    this.#ingest();
    const values: T[] = [];
    for (const entry of this.#entries) {
      if (entry.outcome === undefined) break;
      if (!entry.outcome.ok) throw this.#malformed(entry, entry.outcome);
      values.push(entry.outcome.value);
    }
    return values;
  }

  async send(data: ServerSendData): Promise<void> {
    this.#checkOpen('to send a message');
    await this.#record.socket.sendAsync(data);
  }

  async sendJson(value: unknown): Promise<void> {
    const text = JSON.stringify(value) as string | undefined;
    if (text === undefined) {
      throw new TypeError(
        `sendJson() cannot send ${String(value)}: JSON has no representation of it`,
      );
    }
    await this.send(text);
  }

  nextMessage<U extends T>(
    predicate: (message: T) => message is U,
    options?: NextMessageOptions,
  ): Promise<U>;
  nextMessage(predicate?: (message: T) => boolean, options?: NextMessageOptions): Promise<T>;
  nextMessage(options: NextMessageOptions): Promise<T>;
  nextMessage(
    predicateOrOptions?: ((message: T) => boolean) | NextMessageOptions,
    maybeOptions: NextMessageOptions = {},
  ): Promise<T> {
    const predicate = typeof predicateOrOptions === 'function' ? predicateOrOptions : undefined;
    const options =
      typeof predicateOrOptions === 'object' && predicateOrOptions !== null
        ? predicateOrOptions
        : maybeOptions;
    let timeout: number;
    try {
      timeout = timeoutOption(options.timeout, this.#timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    const expected = predicate
      ? `a message matching ${options.description ?? describePredicate(predicate)}`
      : 'the next message';
    return waitUntil({
      signals: [this.#record.changes, this.#parsed],
      timeout,
      check: () => {
        this.#ingest();
        for (const entry of this.#entries) {
          if (entry.taken) continue;
          // Order matters: a match may not skip a message not parsed yet.
          if (entry.outcome === undefined) return undefined;
          if (!entry.outcome.ok) {
            entry.taken = true;
            throw this.#malformed(entry, entry.outcome);
          }
          if (predicate === undefined || predicate(entry.outcome.value)) {
            entry.taken = true;
            return { value: entry.outcome.value };
          }
        }
        const closed = this.#record.closed;
        if (closed) {
          throw new PeerClosedError(
            expected,
            closed,
            `${capitalize(this.#record.label)} closed with ${describeClose(closed)} before ${expected} arrived.\n${this.#arrived(predicate !== undefined)}`,
          );
        }
        return undefined;
      },
      timedOut: () =>
        new WaitTimeoutError(
          expected,
          timeout,
          `Timed out after ${timeout} ms waiting for ${expected} from ${this.#record.label}.\n` +
            `${this.#arrived(predicate !== undefined)}\n${this.#state()}`,
        ),
    });
  }

  async close(code?: number, reason?: string): Promise<PeerClose> {
    this.resume();
    this.#record.socket.close(code, reason);
    return this.#closedAtLast();
  }

  async drop(): Promise<PeerClose> {
    this.#record.socket.terminate();
    return this.#closedAtLast();
  }

  stall(ms?: number): Promise<void> {
    if (ms !== undefined && (typeof ms !== 'number' || !(ms >= 0))) {
      throw new RangeError(
        `stall() takes a number of milliseconds of at least 0, got ${String(ms)}`,
      );
    }
    if (this.#record.closed) return Promise.resolve();
    if (!this.#stall) {
      let end!: () => void;
      const ended = new Promise<void>((resolve) => (end = resolve));
      this.#stall = { ended, end, timer: undefined };
      this.#record.socket.pause();
    }
    const stall = this.#stall;
    clearTimeout(stall.timer);
    stall.timer = ms === undefined ? undefined : setTimeout(() => this.resume(), ms);
    return stall.ended;
  }

  resume(): void {
    const stall = this.#stall;
    if (!stall) return;
    this.#stall = undefined;
    clearTimeout(stall.timer);
    this.#record.socket.resume();
    stall.end();
  }

  waitForClose(options: WaitOptions = {}): Promise<PeerClose> {
    let timeout: number;
    try {
      timeout = timeoutOption(options.timeout, this.#timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    return waitUntil({
      signals: [this.#record.changes],
      timeout,
      check: () => (this.#record.closed ? { value: this.#record.closed } : undefined),
      timedOut: () =>
        new WaitTimeoutError(
          'the connection to close',
          timeout,
          `Timed out after ${timeout} ms waiting for ${this.#record.label} to close.\n` +
            `${this.#arrived(false)}\n${this.#state()}`,
        ),
    });
  }

  /** Parses what arrived since the last look; asynchronous parsers report through #parsed. */
  #ingest(): void {
    const received = this.#record.received;
    while (this.#entries.length < received.length) {
      const entry: Entry<T> = {
        number: this.#entries.length + 1,
        outcome: undefined,
        taken: false,
      };
      this.#entries.push(entry);
      const outcome = this.#parse(received[entry.number - 1]!);
      if ('then' in outcome) {
        void outcome.then((settled) => {
          entry.outcome = settled;
          this.#parsed.notify();
        });
      } else {
        entry.outcome = outcome;
      }
    }
  }

  /** Resolves once closed; the server's `closeTimeout` bounds how long that takes. */
  #closedAtLast(): Promise<PeerClose> {
    return waitUntil({
      signals: [this.#record.changes],
      timeout: Infinity,
      check: () => (this.#record.closed ? { value: this.#record.closed } : undefined),
      timedOut: () => new Error('unreachable: no timeout'),
    });
  }

  /** A closed connection fails a send with how it closed; a closing one, with the server's error. */
  #checkOpen(expected: string): void {
    const closed = this.#record.closed;
    if (closed) {
      throw new PeerClosedError(
        expected,
        closed,
        `Cannot send to ${this.#record.label}: it closed with ${describeClose(closed)}.`,
      );
    }
  }

  #malformed(entry: Entry<T>, outcome: ParseOutcome<T> & { ok: false }): MalformedMessageError {
    const raw = this.#record.received[entry.number - 1]!;
    const issues = outcome.issues.map((issue) => `  - ${issue}`).join('\n');
    return new MalformedMessageError(
      { connection: this.id, number: entry.number, raw, issues: outcome.issues },
      `Message #${entry.number} from ${this.#record.label} is malformed:\n${issues}\n` +
        `Raw message: ${previewMessage(raw, RAW_TEXT_LENGTH)}`,
      { cause: outcome.cause },
    );
  }

  /** What arrived, for a failure: each message, with whether a wait took it or it did not match. */
  #arrived(matching: boolean): string {
    this.#ingest();
    const received = this.#record.received;
    if (received.length === 0) return 'No message arrived.';
    const listed: ListedMessage[] = this.#entries.map((entry) => ({
      number: entry.number,
      message: received[entry.number - 1]!,
      note: entry.taken
        ? 'taken'
        : entry.outcome === undefined
          ? 'still being parsed'
          : !entry.outcome.ok
            ? 'malformed'
            : matching
              ? 'did not match'
              : undefined,
    }));
    return `${count(received.length, 'message')} arrived:\n${listMessages(listed)}`;
  }

  /** The connection's state, for a failure. */
  #state(): string {
    const closed = this.#record.closed;
    if (closed) return `The connection closed with ${describeClose(closed)}.`;
    if (this.#stall) {
      return 'The connection is open, and stalled (peer.stall()): what the client sent since waits unread.';
    }
    return this.#record.socket.readyState === 1
      ? 'The connection is open.'
      : 'The connection is closing.';
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
