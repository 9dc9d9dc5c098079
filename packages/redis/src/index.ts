/**
 * @proj/redis: Redis for @proj/server: a pub/sub adapter for topics across
 * nodes, and a session store that lets sessions outlive the node holding them.
 * @packageDocumentation
 */
export { RedisAdapter, type RedisAdapterOptions, type RedisAdapterStats } from './redis-adapter.js';
export { type RedisConnectionOptions } from './connections.js';
export { RedisSessionStore, type RedisSessionStoreOptions } from './session-store.js';
export { SessionStoreError, type SessionStoreErrorCode } from './session-store-error.js';
