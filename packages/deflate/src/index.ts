/**
 * @proj/deflate: permessage-deflate (RFC 7692) for Node.js over node:zlib.
 * Negotiation is pure and lives in @proj/protocol; this package compresses.
 * @packageDocumentation
 */
export { type IdleReleasable, IdleSweeper, sharedIdleSweeper } from './idle-sweeper.js';
export { Limiter, sharedLimiter } from './limiter.js';
export {
  DEFLATE_DEFAULTS,
  type DeflateCallback,
  type DeflateOptions,
  PerMessageDeflate,
  type PerMessageDeflateInit,
  type ResolvedDeflateOptions,
  resolveDeflateOptions,
} from './per-message-deflate.js';
