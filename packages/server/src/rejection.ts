const kRejection = Symbol('Rejection');

/** A refusal of a handshake, made with {@link reject}. */
export interface Rejection {
  readonly [kRejection]: true;
  /** HTTP status, 400-599. */
  readonly status: number;
  /** Extra header fields, e.g. `WWW-Authenticate`. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  /** Plain-text body; the status text when omitted. */
  readonly body: string | undefined;
}

/**
 * Refuses a handshake from `authenticate`, e.g.
 * `return reject(401, { body: 'Log in first', headers: { 'WWW-Authenticate': 'Bearer' } })`.
 * @throws {RangeError} for a status outside 400-599.
 */
export function reject(
  status: number,
  options: { headers?: Readonly<Record<string, string | readonly string[]>>; body?: string } = {},
): Rejection {
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    throw new RangeError(`A rejection status must be 400-599, got ${status}`);
  }
  return { [kRejection]: true, status, headers: options.headers ?? {}, body: options.body };
}

/** Whether `value` was made by {@link reject}. */
export function isRejection(value: unknown): value is Rejection {
  return typeof value === 'object' && value !== null && kRejection in value;
}
