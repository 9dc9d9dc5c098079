/**
 * The opening handshake's key and accept value (RFC 6455 §4.2.2 step 5.4),
 * computed with node:crypto, independently of `@proj/protocol`'s own SHA-1
 * and base64.
 */
import { createHash, randomBytes } from 'node:crypto';

/** The GUID every accept value is derived with (RFC 6455 §1.3). */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The example key of RFC 6455 §1.3 and its accept value. */
export const RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key + GUID)). */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + WEBSOCKET_GUID)
    .digest('base64');
}

/** A fresh `Sec-WebSocket-Key`: 16 random bytes, base64 (§4.1). */
export function newKey(): string {
  return randomBytes(16).toString('base64');
}
