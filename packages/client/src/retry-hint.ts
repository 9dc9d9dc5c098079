/**
 * What a server can tell a reconnecting client: "do not come back like
 * this" (a close code), or "come back after this long" (a hint). Pure
 * functions, shared by the Node and browser builds.
 * @packageDocumentation
 */
import { CloseCode } from '@proj/protocol';

/**
 * Close codes after which reconnecting as before would only be refused
 * again: the server says the client broke the protocol (1002), sent data it
 * cannot take (1003, 1007, 1009), broke its policy (1008), or lacks an
 * extension it requires (1010). RFC 6455 §7.4.1.
 */
export const FINAL_CLOSE_CODES: readonly number[] = [
  CloseCode.ProtocolError,
  CloseCode.UnsupportedData,
  CloseCode.InvalidPayload,
  CloseCode.PolicyViolation,
  CloseCode.MessageTooBig,
  CloseCode.MandatoryExtension,
];

/** The largest delay a timer takes (2^31 - 1 ms, about 24.8 days); longer hints are cut to it. */
export const MAX_DELAY = 2 ** 31 - 1;

/**
 * Our convention for 1012 (Service Restart) and 1013 (Try Again Later),
 * which RFC 6455 gives no payload for: the close reason holds
 * `retry-after=<seconds>`, alone or among other words separated by spaces,
 * commas or semicolons (`"deploying; retry-after=30"`), case-insensitive.
 */
const CLOSE_HINT = /(?:^|[\s,;])retry-after=(\d{1,10})(?=$|[\s,;])/i;

/**
 * The delay a close asks for, in ms: only 1012 and 1013 carry one, in their
 * reason as `retry-after=<seconds>`.
 * @returns the delay, or `undefined` when the close carries no hint.
 */
export function closeRetryAfter(code: number, reason: string): number | undefined {
  if (code !== CloseCode.ServiceRestart && code !== CloseCode.TryAgainLater) return undefined;
  const match = CLOSE_HINT.exec(reason);
  return match ? toDelay(Number(match[1]) * 1000) : undefined;
}

/**
 * Statuses whose `Retry-After` a client honours: 503 Service Unavailable
 * (RFC 9110 §15.6.4) and 429 Too Many Requests (RFC 6585 §4).
 */
const HINTED_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/**
 * The delay a refused handshake asks for, in ms: the `Retry-After` header of
 * a 503 or a 429.
 * @param headers - the response's fields, lower-case names.
 * @param now - the current time (ms since the epoch), for an HTTP-date.
 * @returns the delay, or `undefined` without a usable hint.
 */
export function httpRetryAfter(
  status: number,
  headers: Readonly<Record<string, string>>,
  now: number,
): number | undefined {
  if (!HINTED_STATUSES.has(status)) return undefined;
  const value = headers['retry-after'];
  return value === undefined ? undefined : parseRetryAfter(value, now);
}

/** IMF-fixdate, the HTTP-date form senders must use (RFC 9110 §5.6.7). */
const IMF_FIXDATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * A `Retry-After` field value (RFC 9110 §10.2.3): delay-seconds, or an
 * HTTP-date in IMF-fixdate form (a date in the past means now). Anything
 * else is ignored rather than guessed at: `Date.parse` reads far more than
 * HTTP allows.
 * @returns the delay in ms, or `undefined` for a value that is neither.
 */
export function parseRetryAfter(value: string, now: number): number | undefined {
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return toDelay(Number(text) * 1000);
  if (!IMF_FIXDATE.test(text)) return undefined;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : toDelay(date - now);
}

function toDelay(ms: number): number {
  return Math.min(Math.max(ms, 0), MAX_DELAY);
}
