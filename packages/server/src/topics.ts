import { EventEmitter } from 'node:events';
import { Opcode, encodeFrame } from '@proj/protocol';
import { type ServerWebSocket, sendEncoded } from './server-websocket.js';

/**
 * Events of a {@link PubSubAdapter}, with their listener arguments. The server
 * listens to `message`; the others are for the application (logging, health checks).
 */
export interface PubSubAdapterEvents {
  /**
   * A message published on another node, for a topic this node has
   * subscribed to: the server delivers it to its local subscribers. Never
   * emitted for this node's own publishes (those are delivered directly).
   */
  message: [topic: string, payload: Uint8Array, binary: boolean];
  /** The backend (e.g. Redis) became unreachable; local delivery goes on. */
  unavailable: [error: Error | undefined];
  /** The backend is reachable and every subscription of this node is in place. */
  available: [];
  /** A backend error. Emitted only when someone listens. */
  error: [error: Error];
}

/**
 * Carries published messages between the servers (nodes) of one deployment.
 * The server keeps its own subscribers and delivers to them itself; the
 * adapter only forwards this node's publishes to other nodes and emits
 * `message` for theirs. It is told which topics have local subscribers, so
 * that a node receives only what it can deliver.
 *
 * Contract: `publish` must keep the order of its calls for each topic; the
 * adapter must not emit `message` for this node's own publishes.
 */
export interface PubSubAdapter extends EventEmitter<PubSubAdapterEvents> {
  /** Sends a message to the other nodes. `payload` is the message body, unframed. */
  publish(topic: string, payload: Uint8Array, binary: boolean): void;
  /** This node now has a subscriber for `topic` (called once, on the first). */
  subscribe(topic: string): void;
  /** This node no longer has a subscriber for `topic` (called once, after the last left). */
  unsubscribe(topic: string): void;
  /** Releases the adapter's resources; called by `WebSocketServer#close`. */
  close(): void | Promise<void>;
}

/**
 * The default adapter: one process, no other nodes. `publish` has nowhere to
 * forward to, so everything is delivered by the server itself.
 */
export class MemoryAdapter extends EventEmitter<PubSubAdapterEvents> implements PubSubAdapter {
  publish(_topic: string, _payload: Uint8Array, _binary: boolean): void {}
  subscribe(_topic: string): void {}
  unsubscribe(_topic: string): void {}
  close(): void {}
}

type Socket = ServerWebSocket<unknown>;

const NO_TOPICS: ReadonlySet<string> = new Set();

/**
 * The topics of one server: which local connections subscribed to what, and
 * the adapter that is told about it. Delivery frames a message once and
 * writes the same bytes to every subscriber.
 * @internal
 */
export class TopicRegistry {
  readonly adapter: PubSubAdapter;
  readonly #byTopic = new Map<string, Set<Socket>>();
  readonly #bySocket = new Map<Socket, Set<string>>();
  readonly #onMessage = (topic: string, payload: Uint8Array, binary: boolean): void => {
    this.deliver(topic, payload, binary, undefined);
  };

  constructor(adapter: PubSubAdapter) {
    this.adapter = adapter;
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
    const frame = encodeFrame(binary ? Opcode.Binary : Opcode.Text, payload);
    let sent = 0;
    for (const socket of sockets) {
      if (socket !== except && sendEncoded(socket, frame)) sent++;
    }
    return sent;
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
