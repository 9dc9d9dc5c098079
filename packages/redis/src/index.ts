/**
 * @proj/redis: a Redis pub/sub adapter for @proj/server topics.
 * @packageDocumentation
 */
export { RedisAdapter, type RedisAdapterOptions, type RedisAdapterStats } from './redis-adapter.js';
export { type RedisConnectionOptions } from './connections.js';
