/**
 * The few WebIDL conversions the WebSocket interface needs, applied to
 * arguments exactly as a browser's bindings would.
 * @see https://webidl.spec.whatwg.org/#es-type-mapping
 * @packageDocumentation
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `DOMString`: ECMAScript ToString (a Symbol throws a `TypeError`).
 * @see https://webidl.spec.whatwg.org/#es-DOMString
 */
export function toDOMString(value: unknown): string {
  return `${value as string}`;
}

/**
 * `USVString`: a `DOMString` with every lone surrogate replaced by U+FFFD.
 * @see https://webidl.spec.whatwg.org/#es-USVString
 */
export function toUSVString(value: unknown): string {
  return toDOMString(value).replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * `[Clamp] unsigned short`: NaN becomes 0, the value is clamped to
 * [0, 65535] and rounded half to even.
 * @see https://webidl.spec.whatwg.org/#abstract-opdef-converttoint
 */
export function toClampedUnsignedShort(value: unknown): number {
  const number = Number(value);
  if (Number.isNaN(number)) return 0;
  const clamped = Math.min(Math.max(number, 0), 0xffff);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

const byteLengthGetter = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get!;

/**
 * Whether `value` is an `ArrayBuffer` (not a `SharedArrayBuffer`), checked by
 * brand rather than by `instanceof`, so buffers from other realms qualify.
 */
export function isArrayBuffer(value: unknown): value is ArrayBuffer {
  if (typeof value !== 'object' || value === null) return false;
  // Views are the common case on a hot path (send of a Buffer or typed
  // array): answer them without the throwing brand check below.
  if (ArrayBuffer.isView(value)) return false;
  try {
    byteLengthGetter.call(value);
    return true;
  } catch {
    return false;
  }
}
