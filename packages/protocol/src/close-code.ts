/**
 * Close status codes.
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1
 * @see https://www.iana.org/assignments/websocket/websocket.xhtml#close-code-number
 */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reserved: never sent; reported when a close frame had no body. */
  NoStatus: 1005,
  /** Reserved: never sent; reported when the connection dropped without a close frame. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Reserved: never sent; reported when the TLS handshake failed. */
  TlsHandshake: 1015,
} as const;

/** A close code named by RFC 6455 or the IANA registry. */
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Whether `code` may appear in a close frame on the wire. 1000-1003 and
 * 1007-1014 are assigned for use; 3000-4999 belong to libraries and
 * applications. Everything else (below 1000, 1004-1006, 1015, 1016-2999,
 * 5000 and up) is a protocol error in a received frame.
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-7.4.2
 */
export function isValidCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}
