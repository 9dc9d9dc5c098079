/**
 * The offline queue of a {@link ReconnectingWebSocket}: what `send()` accepts
 * while there is no open connection, bounded in messages and in bytes, and
 * sent in order once one opens. A message that does not fit is refused with
 * {@link OfflineQueueFullError}, never dropped silently.
 * @packageDocumentation
 */
import { utf8Length } from '@proj/protocol';
import { isArrayBuffer, toUSVString } from './webidl.js';

/** Data `send()` accepts, as the WHATWG WebSocket's `send()` does. */
export type SendData = string | ArrayBufferLike | ArrayBufferView | Blob;

/** A queued message: text, a copy of the bytes given, or a `Blob` (immutable, so kept as is). */
export type QueuedData = string | ArrayBuffer | Blob;

/** Which limit refused a message. */
export type QueueLimit = 'maxQueuedMessages' | 'maxQueuedBytes';

/**
 * A `send()` made while disconnected that the offline queue could not take:
 * it already held `maxQueuedMessages` messages, or the message would have
 * taken it past `maxQueuedBytes`. The message was not queued; the caller
 * still holds it and decides (retry later, drop, persist).
 */
export class OfflineQueueFullError extends Error {
  /** Stable code; match on it, not on the message. */
  readonly code = 'WS_ERR_OFFLINE_QUEUE_FULL';
  /** The option whose limit was reached. */
  readonly limit: QueueLimit;
  /** The refused message's size in bytes (UTF-8 bytes of text). */
  readonly size: number;
  /** Messages queued when it was refused. */
  readonly queuedMessages: number;
  /** Bytes queued when it was refused. */
  readonly queuedBytes: number;

  constructor(limit: QueueLimit, max: number, size: number, messages: number, bytes: number) {
    const held = limit === 'maxQueuedMessages' ? `${messages} messages` : `${bytes} bytes`;
    super(
      `Offline queue full: a message of ${size} bytes was refused, since the queue holds ${held} ` +
        `and "${limit}" is ${max}; it was not sent or queued`,
    );
    this.limit = limit;
    this.size = size;
    this.queuedMessages = messages;
    this.queuedBytes = bytes;
  }

  override get name(): string {
    return 'OfflineQueueFullError';
  }
}

/**
 * Converts `data` as WebIDL converts `send()`'s argument, copying bytes: the
 * caller may reuse its buffer once `send()` returns, as it may with a
 * connected WebSocket, which reads them synchronously.
 * @throws {TypeError} for a view over shared memory, which `send()` refuses too.
 * @see https://websockets.spec.whatwg.org/#dom-websocket-send
 */
export function toQueuedData(data: SendData): QueuedData {
  if (typeof data === 'string') return data;
  if (isArrayBuffer(data)) return data.slice(0);
  if (ArrayBuffer.isView(data)) {
    if (!isArrayBuffer(data.buffer)) {
      throw new TypeError(
        "Failed to execute 'send' on 'ReconnectingWebSocket': The provided ArrayBufferView value must not be shared.",
      );
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice().buffer;
  }
  if (data instanceof Blob) return data;
  // A SharedArrayBuffer is no BufferSource: WebIDL turns it (and any other
  // value) into a string.
  return toUSVString(data);
}

/** The size `bufferedAmount` counts for `data`: UTF-8 bytes of text, bytes of binary. */
export function queuedSize(data: QueuedData): number {
  if (typeof data === 'string') return utf8Length(data);
  return data instanceof Blob ? data.size : data.byteLength;
}

/**
 * Refuses a message of `size` bytes that would take a queue holding `count`
 * messages of `bytes` bytes past `maxMessages` or `maxBytes`: the rule of the
 * offline queue, and of a session's replay log, which takes its place.
 * @throws {OfflineQueueFullError} naming the limit reached.
 */
export function checkRoom(
  maxMessages: number,
  maxBytes: number,
  size: number,
  count: number,
  bytes: number,
): void {
  if (count >= maxMessages) {
    throw new OfflineQueueFullError('maxQueuedMessages', maxMessages, size, count, bytes);
  }
  if (bytes + size > maxBytes) {
    throw new OfflineQueueFullError('maxQueuedBytes', maxBytes, size, count, bytes);
  }
}

/** Messages waiting for a connection, oldest first, within two limits. */
export class OfflineQueue {
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  #items: QueuedData[] = [];
  #bytes = 0;

  /**
   * @param maxMessages - most messages held; `Infinity` for no limit, 0 to refuse all.
   * @param maxBytes - most bytes held; `Infinity` for no limit, 0 to refuse all but empty messages.
   */
  constructor(maxMessages: number, maxBytes: number) {
    this.#maxMessages = maxMessages;
    this.#maxBytes = maxBytes;
  }

  /** Messages held. */
  get length(): number {
    return this.#items.length;
  }

  /** Bytes held, as `bufferedAmount` counts them. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Queues a copy of `data`.
   * @throws {OfflineQueueFullError} when it does not fit; nothing is queued then.
   * @throws {TypeError} for a view over shared memory.
   */
  push(data: SendData): void {
    const item = toQueuedData(data);
    const size = queuedSize(item);
    checkRoom(this.#maxMessages, this.#maxBytes, size, this.#items.length, this.#bytes);
    this.#items.push(item);
    this.#bytes += size;
  }

  /** Empties the queue and returns what it held, oldest first. */
  drain(): QueuedData[] {
    const items = this.#items;
    this.#items = [];
    this.#bytes = 0;
    return items;
  }
}
