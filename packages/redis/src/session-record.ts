/**
 * How a session's numbers, topics and messages are written to Redis and read
 * back (the layout is described in `session-scripts.ts`), and the checks a
 * step or a state must pass before it is written.
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import type { SessionStep, StoredMessage, StoredSession } from '@proj/server';
import { SessionStoreError } from './session-store-error.js';

/** First byte of a log element holding a text message (`t`). */
const TEXT = 0x74;
/** First byte of a log element holding a binary message (`b`). */
const BINARY = 0x62;

/**
 * One log element: the type byte, then the payload's bytes. A text is
 * stored as its UTF-8, as it went on the wire, so it reads back the same
 * (an unpaired surrogate, which UTF-8 cannot carry, would read back as
 * U+FFFD; a WebSocket text message cannot carry one either).
 */
export function encodeMessage(data: string | Uint8Array): Buffer {
  if (typeof data === 'string') {
    const element = Buffer.allocUnsafe(1 + Buffer.byteLength(data, 'utf8'));
    element[0] = TEXT;
    element.write(data, 1, 'utf8');
    return element;
  }
  const element = Buffer.allocUnsafe(1 + data.byteLength);
  element[0] = BINARY;
  element.set(data, 1);
  return element;
}

/**
 * A log element read back. The payload is copied out of the reply: a reply
 * buffer can be a view into ioredis's read buffer, which a small message
 * would otherwise keep alive for as long as the session lives.
 */
function decodeMessage(id: string, seq: number, element: unknown): StoredMessage {
  if (!Buffer.isBuffer(element) || element.length === 0) throw badRecord(id, `message ${seq}`);
  if (element[0] === TEXT) return { seq, data: element.toString('utf8', 1) };
  if (element[0] === BINARY) return { seq, data: new Uint8Array(element.subarray(1)) };
  throw badRecord(id, `message ${seq} (type byte ${element[0]})`);
}

/**
 * Reads the reply of the claim script, `[epoch, sent, acked, received,
 * topics, ...log]`, or `null` for a session Redis does not have.
 * @throws {SessionStoreError} `WS_ERR_STORE_RECORD` for a reply that is not
 *   a session of this store's format.
 */
export function decodeClaim(id: string, reply: unknown): StoredSession | null {
  if (reply === null) return null;
  if (!Array.isArray(reply) || reply.length < 5) throw badRecord(id, 'its fields');
  const [epoch, sentText, ackedText, receivedText, topicsText, ...elements] = reply as unknown[];
  const sent = decodeCount(id, 'sent', sentText);
  const acked = decodeCount(id, 'acked', ackedText);
  const received = decodeCount(id, 'received', receivedText);
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch)) throw badRecord(id, 'epoch');
  if (acked > sent || elements.length !== sent - acked) {
    throw badRecord(id, `log (${elements.length} messages for acked ${acked}, sent ${sent})`);
  }
  const log = elements.map((element, index) => decodeMessage(id, acked + 1 + index, element));
  return { epoch, sent, acked, received, log, topics: decodeTopics(id, topicsText) };
}

function decodeCount(id: string, field: string, value: unknown): number {
  const count = Buffer.isBuffer(value) ? Number(value.toString('latin1')) : NaN;
  if (!isCount(count)) throw badRecord(id, field);
  return count;
}

function decodeTopics(id: string, value: unknown): string[] {
  let topics: unknown;
  try {
    topics = Buffer.isBuffer(value) ? JSON.parse(value.toString('utf8')) : undefined;
  } catch {
    // Reported below.
  }
  if (!Array.isArray(topics) || !topics.every((topic) => typeof topic === 'string')) {
    throw badRecord(id, 'topics');
  }
  return topics as string[];
}

function badRecord(id: string, what: string): SessionStoreError {
  return new SessionStoreError(
    'WS_ERR_STORE_RECORD',
    id,
    `Session "${id}" in Redis is not a session of this store: its ${what} cannot be read`,
  );
}

/** Whether `value` is a sequence number or a count: an integer from 0 to 2^53 - 1. */
export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Checks the messages of a step or a state: numbered consecutively from
 * `first`, each a string or bytes.
 * @throws {SessionStoreError} `WS_ERR_STORE_STEP` naming the first message
 *   that does not fit.
 */
export function checkMessages(
  id: string,
  messages: readonly StoredMessage[],
  first: number,
  what: string,
): void {
  if (!Array.isArray(messages)) throw badStep(id, `${what} must be an array of messages`);
  messages.forEach((message, index) => {
    const expected = first + index;
    if (message?.seq !== expected) {
      throw badStep(
        id,
        `${what} must be numbered consecutively from ${first}: message ${index} is numbered ` +
          `${String(message?.seq)}, expected ${expected}`,
      );
    }
    if (typeof message.data !== 'string' && !(message.data instanceof Uint8Array)) {
      throw badStep(id, `message ${expected} must be a string or a Uint8Array`);
    }
  });
}

/**
 * Checks a step's own consistency (what the stored session decides is
 * checked in the commit script).
 * @returns the numbers of its first and last appended messages (`0, 0` for none).
 * @throws {SessionStoreError} `WS_ERR_STORE_STEP`.
 */
export function checkStep(id: string, step: SessionStep): { first: number; last: number } {
  if (typeof step !== 'object' || step === null) throw badStep(id, 'the step must be an object');
  checkCount(id, 'received', step.received);
  checkCount(id, 'acked', step.acked);
  checkTopics(id, step.topics);
  const { appended } = step;
  if (!Array.isArray(appended)) throw badStep(id, '"appended" must be an array of messages');
  if (appended.length === 0) return { first: 0, last: 0 };
  const first = appended[0]?.seq;
  if (!isCount(first) || first === 0) {
    throw badStep(id, `the first appended message must be numbered from 1, got ${String(first)}`);
  }
  checkMessages(id, appended, first, 'appended messages');
  return { first, last: first + appended.length - 1 };
}

/**
 * Checks a whole state before it is restored: counts, an epoch of at least
 * 1, and a log holding exactly `acked + 1` to `sent`.
 * @throws {SessionStoreError} `WS_ERR_STORE_STEP`.
 */
export function checkState(id: string, state: StoredSession): void {
  if (typeof state !== 'object' || state === null) throw badStep(id, 'the state must be an object');
  if (!isCount(state.epoch) || state.epoch === 0) {
    throw badStep(id, `"epoch" must be an integer of at least 1, got ${String(state.epoch)}`);
  }
  for (const field of ['sent', 'acked', 'received'] as const) checkCount(id, field, state[field]);
  if (state.acked > state.sent) {
    throw badStep(id, `"acked" (${state.acked}) must not exceed "sent" (${state.sent})`);
  }
  checkTopics(id, state.topics);
  checkMessages(id, state.log, state.acked + 1, 'the log');
  if (state.log.length !== state.sent - state.acked) {
    throw badStep(
      id,
      `the log must hold messages ${state.acked + 1} to ${state.sent}, got ${state.log.length} messages`,
    );
  }
}

function checkCount(id: string, field: string, value: unknown): void {
  if (!isCount(value)) {
    throw badStep(id, `"${field}" must be an integer from 0 to 2^53 - 1, got ${String(value)}`);
  }
}

function checkTopics(id: string, topics: unknown): void {
  if (topics === undefined) return;
  if (!Array.isArray(topics) || !topics.every((topic) => typeof topic === 'string')) {
    throw badStep(id, '"topics" must be an array of strings');
  }
}

/** The error of a step or state that does not fit, naming the session. */
export function badStep(id: string, problem: string): SessionStoreError {
  return new SessionStoreError('WS_ERR_STORE_STEP', id, `Session "${id}": ${problem}`);
}
