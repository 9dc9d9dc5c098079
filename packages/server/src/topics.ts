import { type PubSubAdapter } from './pubsub-adapter.js';
import { type WriteFrame, fanOut } from './fan-out.js';

const NO_TOPICS: ReadonlySet<string> = new Set();

/**
 * The topics of one server: which local connections subscribed to what, and
 * the adapter that is told about it. Delivery frames a message once and
 * writes the same bytes to every subscriber through `write`.
 *
 * @typeParam Socket - a subscriber; the registry only keeps and passes them.
 * @internal
 */
export class TopicRegistry<Socket extends object> {
  readonly adapter: PubSubAdapter;
  readonly #write: WriteFrame<Socket>;
  readonly #byTopic = new Map<string, Set<Socket>>();
  readonly #bySocket = new Map<Socket, Set<string>>();
  readonly #onMessage = (topic: string, payload: Uint8Array, binary: boolean): void => {
    this.deliver(topic, payload, binary, undefined);
  };

  /**
   * @param write - writes a frame encoded once for many to one subscriber;
   *   returns whether it was written.
   */
  constructor(adapter: PubSubAdapter, write: WriteFrame<Socket>) {
    this.adapter = adapter;
    this.#write = write;
    adapter.on('message', this.#onMessage);
  }

  /** Adds `socket` to `topic`; `false` when it was subscribed already. */
  subscribe(socket: Socket, topic: string): boolean {
    checkTopic(topic);
    let topics = this.#bySocket.get(socket);
    if (topics?.has(topic)) return false;
    if (!topics) this.#bySocket.set(socket, (topics = new Set()));
    topics.add(topic);
    let sockets = this.#byTopic.get(topic);
    if (!sockets) {
      this.#byTopic.set(topic, (sockets = new Set()));
      sockets.add(socket);
      this.adapter.subscribe(topic);
    } else {
      sockets.add(socket);
    }
    return true;
  }

  /** Removes `socket` from `topic`; `false` when it was not subscribed. */
  unsubscribe(socket: Socket, topic: string): boolean {
    checkTopic(topic);
    const topics = this.#bySocket.get(socket);
    if (!topics?.delete(topic)) return false;
    if (topics.size === 0) this.#bySocket.delete(socket);
    this.#leave(socket, topic);
    return true;
  }

  /** Removes `socket` from every topic (it closed). */
  unsubscribeAll(socket: Socket): void {
    const topics = this.#bySocket.get(socket);
    if (!topics) return;
    this.#bySocket.delete(socket);
    for (const topic of topics) this.#leave(socket, topic);
    topics.clear();
  }

  /** The topics `socket` is subscribed to (a live view). */
  topicsOf(socket: Socket): ReadonlySet<string> {
    return this.#bySocket.get(socket) ?? NO_TOPICS;
  }

  /** Local subscribers of `topic`. */
  count(topic: string): number {
    return this.#byTopic.get(topic)?.size ?? 0;
  }

  /** Delivers to local subscribers, then hands the message to the adapter for the other nodes. */
  publish(topic: string, payload: Uint8Array, binary: boolean, except: Socket | undefined): number {
    checkTopic(topic);
    const sent = this.deliver(topic, payload, binary, except);
    this.adapter.publish(topic, payload, binary);
    return sent;
  }

  /**
   * Frames `payload` once and writes the same bytes to each local subscriber
   * but `except`. Returns how many it was written to; a subscriber whose
   * backlog is over `maxBacklog` is refused as its `backlogPolicy` says.
   */
  deliver(topic: string, payload: Uint8Array, binary: boolean, except: Socket | undefined): number {
    const sockets = this.#byTopic.get(topic);
    if (!sockets || (sockets.size === 1 && except !== undefined && sockets.has(except))) return 0;
    return fanOut(payload, binary, sockets, this.#write, (socket) => socket === except);
  }

  /** Stops listening to the adapter and closes it. */
  async close(): Promise<void> {
    this.adapter.off('message', this.#onMessage);
    await this.adapter.close();
  }

  #leave(socket: Socket, topic: string): void {
    const sockets = this.#byTopic.get(topic);
    if (!sockets?.delete(socket) || sockets.size > 0) return;
    this.#byTopic.delete(topic);
    this.adapter.unsubscribe(topic);
  }
}

function checkTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string') {
    throw new TypeError(`A topic must be a string, got ${typeof topic}`);
  }
}
