import { CloseCode, isValidCloseCode } from './close-code.js';
import { MAX_CLOSE_REASON_BYTES } from './constants.js';
import { ProtocolError } from './errors.js';
import { EMPTY } from './bytes.js';
import { decodeUtf8Strict, encodeUtf8 } from './utf8.js';

/** The body of a close frame, decoded. */
export interface ClosePayload {
  /** The status code; 1005 (no status) when the frame had no body. */
  readonly code: number;
  /** The reason, possibly empty. */
  readonly reason: string;
}

/**
 * Decodes a received close frame body (RFC 6455 §5.5.1).
 * @throws {ProtocolError} `WS_ERR_INVALID_CLOSE_PAYLOAD` for a 1-byte body,
 *   `WS_ERR_INVALID_CLOSE_CODE` for a code that may not be sent (§7.4.2).
 * @throws {InvalidUtf8Error} when the reason is not valid UTF-8.
 */
export function parseClosePayload(body: Uint8Array): ClosePayload {
  if (body.length === 0) return { code: CloseCode.NoStatus, reason: '' };
  if (body.length === 1) {
    throw new ProtocolError('WS_ERR_INVALID_CLOSE_PAYLOAD', 'Close frame body must not be 1 byte');
  }
  const code = (body[0]! << 8) | body[1]!;
  if (!isValidCloseCode(code)) {
    throw new ProtocolError('WS_ERR_INVALID_CLOSE_CODE', `Invalid close code ${code}`);
  }
  return { code, reason: decodeUtf8Strict(body.subarray(2)) };
}

/**
 * Encodes a close frame body. With no code the body is empty, as the
 * WHATWG `close()` with no arguments requires.
 * @throws {RangeError} for a code that may not be sent, or a reason over
 *   123 UTF-8 bytes, or a reason without a code.
 */
export function serializeClosePayload(code?: number, reason = ''): Uint8Array {
  if (code === undefined) {
    if (reason !== '') throw new RangeError('A close reason requires a close code');
    return EMPTY;
  }
  if (!isValidCloseCode(code)) {
    throw new RangeError(`Close code ${code} may not be sent (RFC 6455 §7.4)`);
  }
  const reasonBytes = encodeUtf8(reason);
  if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`Close reason must not exceed ${MAX_CLOSE_REASON_BYTES} UTF-8 bytes`);
  }
  const body = new Uint8Array(2 + reasonBytes.length);
  body[0] = code >>> 8;
  body[1] = code & 0xff;
  body.set(reasonBytes, 2);
  return body;
}

/**
 * Cuts `reason` to at most 123 UTF-8 bytes on a code point boundary, for
 * close frames whose reason is built from an error message.
 */
export function truncateCloseReason(reason: string): string {
  if (encodeUtf8(reason).length <= MAX_CLOSE_REASON_BYTES) return reason;
  let out = '';
  let size = 0;
  for (const char of reason) {
    const charSize = encodeUtf8(char).length;
    if (size + charSize > MAX_CLOSE_REASON_BYTES) break;
    out += char;
    size += charSize;
  }
  return out;
}
