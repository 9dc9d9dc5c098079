/**
 * The contract between a server and the pub/sub backend that carries its
 * publishes to other nodes (implemented by `MemoryAdapter` here and by
 * `@proj/redis`). It knows nothing of connections.
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';

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
