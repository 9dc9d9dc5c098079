/**
 * The GUID that RFC 6455 appends to `Sec-WebSocket-Key` before hashing.
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-1.3
 */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * Frame opcodes.
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-5.2
 */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** One of the opcodes RFC 6455 defines. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** True for the control opcodes (close, ping, pong): the high bit of the nibble is set. */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** True for an opcode RFC 6455 defines; 0x3-0x7 and 0xB-0xF are reserved. */
export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}

/** Control frames carry at most 125 payload bytes (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/** A close reason fits in a control frame after the 2-byte code (RFC 6455 §5.5.1). */
export const MAX_CLOSE_REASON_BYTES = MAX_CONTROL_PAYLOAD - 2;

/** The longest frame header: 2 bytes + 8-byte length + 4-byte mask. */
export const MAX_HEADER_SIZE = 14;

/**
 * Default largest message, summed over its fragments. 16 MiB lets the
 * Autobahn 9.x cases and ordinary file transfers through while keeping a
 * hostile peer from making one connection hold more than that.
 */
export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;

/**
 * Default most fragments in one message. Twice the 65,536 frames a 4 MiB
 * message sent in 64-byte fragments needs: streaming senders do that, and the
 * assembler's per-fragment cost is a header parse and a copy, never a new
 * allocation, so the bound exists only to stop an endless tiny-frame flood.
 */
export const DEFAULT_MAX_FRAGMENTS = 131_072;

/**
 * Default bound on an HTTP handshake head (request line or status line plus
 * headers). Browsers send well under 2 KiB; 16 KiB matches common proxies.
 */
export const DEFAULT_MAX_HEAD_SIZE = 16 * 1024;

/** Default most header fields in a handshake head. */
export const DEFAULT_MAX_HEADER_COUNT = 100;
