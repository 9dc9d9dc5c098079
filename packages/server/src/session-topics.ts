/**
 * Topic subscriptions of sessions. A session is no connection: a topic
 * message reaches it as one of its own numbered, logged messages, not as a
 * frame written to a socket. So sessions are kept here, and the server's
 * `TopicRegistry` (which tells the pub/sub adapter which topics this node
 * needs) holds one stand-in subscriber for all of them: the adapter is
 * subscribed to a topic while a connection or a session of this node is.
 * @packageDocumentation
 */
import { decodeUtf8 } from '@proj/protocol';
import type { LoggedData } from './session-commits.js';
import type { SessionCore } from './session-core.js';
import type { TopicRegistry } from './topics.js';

/** The subscriber that stands for every session in the server's `TopicRegistry`. @internal */
export const SESSIONS_SUBSCRIBER: object = Object.freeze({ sessions: true });

/** Which sessions subscribed to what. @internal */
export class SessionTopics<Data> {
  readonly #byTopic = new Map<string, Set<SessionCore<Data>>>();
  readonly #registry: TopicRegistry<object>;

  constructor(registry: TopicRegistry<object>) {
    this.#registry = registry;
  }

  /** `core` subscribed to `topic` (it was not). */
  add(core: SessionCore<Data>, topic: string): void {
    let cores = this.#byTopic.get(topic);
    if (!cores) {
      this.#byTopic.set(topic, (cores = new Set()));
      this.#registry.subscribe(SESSIONS_SUBSCRIBER, topic);
    }
    cores.add(core);
  }

  /** `core` unsubscribed from `topic`. */
  remove(core: SessionCore<Data>, topic: string): void {
    const cores = this.#byTopic.get(topic);
    if (!cores?.delete(core) || cores.size > 0) return;
    this.#byTopic.delete(topic);
    this.#registry.unsubscribe(SESSIONS_SUBSCRIBER, topic);
  }

  /** `core` ended: it leaves its topics. */
  removeAll(core: SessionCore<Data>): void {
    for (const topic of core.topics) this.remove(core, topic);
  }

  /**
   * Logs (and writes) a message to every session subscribed to `topic` but
   * `except`. A session whose log is full ends (`session-window-full`).
   * @param text - the message as a string, when the caller has it (else decoded once from `payload`).
   * @returns how many sessions it reached.
   */
  deliver(
    topic: string,
    payload: Uint8Array,
    binary: boolean,
    text: string | undefined,
    except: SessionCore<Data> | undefined,
  ): number {
    const cores = this.#byTopic.get(topic);
    if (!cores) return 0;
    return deliverTo(cores, payload, binary, text, (core) => core === except);
  }
}

/**
 * Logs one message for each of `cores` that `skip` does not exclude: decoded
 * (text) or copied (binary) once, the same value in every log. A session the
 * message does not fit ends; it leaves `cores` after the loop, not during it.
 * @returns how many it reached.
 * @internal
 */
export function deliverTo<Data>(
  cores: Iterable<SessionCore<Data>>,
  payload: Uint8Array,
  binary: boolean,
  text: string | undefined,
  skip?: (core: SessionCore<Data>) => boolean,
): number {
  let message: LoggedData | undefined;
  let full: SessionCore<Data>[] | undefined;
  let reached = 0;
  for (const core of cores) {
    if (skip?.(core)) continue;
    if (!core.log.canSend(payload.byteLength)) {
      (full ??= []).push(core);
      continue;
    }
    // The caller's bytes may change after it returns; logs keep them for long.
    message ??= binary ? new Uint8Array(payload) : (text ?? decodeUtf8(payload));
    if (core.deliverShared(message, payload.byteLength)) reached++;
  }
  if (full) for (const core of full) core.windowFull();
  return reached;
}
