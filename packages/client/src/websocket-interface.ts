/**
 * The WebIDL shape of the WebSocket interface, shared by this package's Node
 * `WebSocket` and by `ReconnectingWebSocket` (both entries): the `readyState`
 * constants, and where WebIDL puts them and the members. Nothing of Node's:
 * the browser entry uses it.
 * @see https://webidl.spec.whatwg.org/#es-interfaces
 * @packageDocumentation
 */

/** A `readyState` value. */
export type ReadyState = 0 | 1 | 2 | 3;
export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

/** The constants of the WebSocket interface, as an instance has them (the class has them too). */
export interface ReadyStateConstants {
  /** Not yet open (for a `ReconnectingWebSocket`: connecting, or waiting to reconnect). */
  readonly CONNECTING: 0;
  /** Open: communication is possible. */
  readonly OPEN: 1;
  /** Closing: `close()` was called, or the closing handshake is under way. */
  readonly CLOSING: 2;
  /** Closed, or (for a WebSocket) could not be opened. */
  readonly CLOSED: 3;
}

/** The attributes and operations of the WebSocket interface, in IDL order. */
const MEMBERS = [
  'url',
  'readyState',
  'bufferedAmount',
  'onopen',
  'onerror',
  'onclose',
  'extensions',
  'protocol',
  'close',
  'onmessage',
  'binaryType',
  'send',
];

/**
 * Gives a class the shape WebIDL gives the WebSocket interface object: the
 * four constants on the class and on its prototype (enumerable, read-only,
 * non-configurable), the attributes and operations enumerable (class syntax
 * makes them non-enumerable), and `Symbol.toStringTag`. Call it from the
 * class's static block, where the members already exist.
 * @param more - members beyond the WebSocket interface's (Node's `ping`, `onpong`).
 * @see https://webidl.spec.whatwg.org/#es-constants
 * @see https://webidl.spec.whatwg.org/#es-attributes
 * @see https://webidl.spec.whatwg.org/#es-operations
 */
export function defineWebSocketInterface(
  target: { readonly prototype: object },
  name: string,
  more: readonly string[] = [],
): void {
  const constants = { CONNECTING, OPEN, CLOSING, CLOSED };
  for (const [constant, value] of Object.entries(constants)) {
    const descriptor = { value, enumerable: true, writable: false, configurable: false };
    Object.defineProperty(target, constant, descriptor);
    Object.defineProperty(target.prototype, constant, descriptor);
  }
  for (const member of [...MEMBERS, ...more]) {
    Object.defineProperty(target.prototype, member, { enumerable: true });
  }
  Object.defineProperty(target.prototype, Symbol.toStringTag, { value: name, configurable: true });
}
