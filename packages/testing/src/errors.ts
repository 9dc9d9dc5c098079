/**
 * The errors the kit fails a test with. Each says, in its message, what the
 * test waited for and what happened instead (the messages that did arrive,
 * how the connection closed), because that message is what a failing run
 * shows; and each carries the same facts as fields, with a stable `code`,
 * for tests of the tests.
 * @packageDocumentation
 */
import type { PeerClose } from './recorded-connection.js';
import type { RawMessage } from './raw-message.js';

/** Stable codes of the kit's errors: match on `error.code`, not on the message text. */
export type TestingErrorCode =
  | 'WS_ERR_TESTING_TIMEOUT'
  | 'WS_ERR_TESTING_PEER_CLOSED'
  | 'WS_ERR_TESTING_MALFORMED_MESSAGE'
  | 'WS_ERR_TESTING_SERVER_CLOSED';

/** Base of the kit's errors. */
export class TestingError extends Error {
  /** Stable machine-readable code, e.g. `WS_ERR_TESTING_TIMEOUT`. */
  readonly code: TestingErrorCode;

  constructor(code: TestingErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** What a wait was for, in words (`a message matching (m) => m.ok`). */
export interface Expectation {
  /** What was expected, as the message says it. */
  readonly expected: string;
}

/**
 * A wait ran out of time: no connection, no matching message, no close. The
 * message names what was expected and lists what arrived instead.
 */
export class WaitTimeoutError extends TestingError implements Expectation {
  declare readonly code: 'WS_ERR_TESTING_TIMEOUT';
  readonly expected: string;
  /** How long it waited, in ms. */
  readonly timeout: number;

  constructor(expected: string, timeout: number, message: string) {
    super('WS_ERR_TESTING_TIMEOUT', message);
    this.expected = expected;
    this.timeout = timeout;
  }
}

/**
 * The connection closed while a test waited for a message from it, and none
 * of those left could be the one: waiting longer is pointless, so the wait
 * ends at once, saying how it closed.
 */
export class PeerClosedError extends TestingError implements Expectation {
  declare readonly code: 'WS_ERR_TESTING_PEER_CLOSED';
  readonly expected: string;
  /** How the connection closed. */
  readonly close: PeerClose;

  constructor(expected: string, close: PeerClose, message: string) {
    super('WS_ERR_TESTING_PEER_CLOSED', message);
    this.expected = expected;
    this.close = close;
  }
}

/** Where a malformed message was, and what it was. */
export interface MalformedMessageInit {
  /** The connection's number (`peer.id`). */
  readonly connection: number;
  /** The message's number on that connection, from 1. */
  readonly number: number;
  readonly raw: RawMessage;
  /** What the parser said: one entry per issue (a schema's issues, with their paths). */
  readonly issues: readonly string[];
}

/**
 * A message the peer's parser refused (not JSON, or not what the schema
 * allows). The message shows the raw text, so the failure shows what the
 * code under test really sent.
 */
export class MalformedMessageError extends TestingError implements MalformedMessageInit {
  declare readonly code: 'WS_ERR_TESTING_MALFORMED_MESSAGE';
  readonly connection: number;
  readonly number: number;
  readonly raw: RawMessage;
  readonly issues: readonly string[];

  constructor(init: MalformedMessageInit, message: string, options?: ErrorOptions) {
    super('WS_ERR_TESTING_MALFORMED_MESSAGE', message, options);
    this.connection = init.connection;
    this.number = init.number;
    this.raw = init.raw;
    this.issues = init.issues;
  }
}

/** The test server was closed for good (`close()`): no connection can come any more. */
export class ServerClosedError extends TestingError {
  declare readonly code: 'WS_ERR_TESTING_SERVER_CLOSED';

  constructor(message: string) {
    super('WS_ERR_TESTING_SERVER_CLOSED', message);
  }
}
