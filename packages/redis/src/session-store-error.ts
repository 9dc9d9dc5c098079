/**
 * The one error class of {@link RedisSessionStore}: what went wrong is its
 * `code`, and whether to retry follows from it.
 * @packageDocumentation
 */

/**
 * Stable codes of {@link SessionStoreError}; match on them, never on the
 * message text.
 *
 * - `WS_ERR_STORE_UNAVAILABLE`: Redis could not be reached, or did not
 *   answer within the store's `timeout`, or refused the write for a reason
 *   of its own (out of memory, a read-only replica). Retry later: the
 *   session is as it was, or the step was applied once (a retry of it is
 *   harmless).
 * - `WS_ERR_STORE_STEP`: a `commit` or `restore` whose messages or numbers
 *   do not fit (messages not numbered consecutively on from the stored
 *   `sent`, `acked` beyond `sent`, a number that is not a count, a payload
 *   that is neither a string nor bytes). A bug in the caller: the same step
 *   fails again. (A malformed id, `ttl` or `epoch` throws a `TypeError` or
 *   `RangeError`, as a bad argument does elsewhere.)
 * - `WS_ERR_STORE_RECORD`: what Redis holds under the session's keys is not
 *   a session of this store (another program's key with the same name, or
 *   a record edited by hand).
 */
export type SessionStoreErrorCode =
  'WS_ERR_STORE_UNAVAILABLE' | 'WS_ERR_STORE_STEP' | 'WS_ERR_STORE_RECORD';

/** Why a {@link RedisSessionStore} method rejected. */
export class SessionStoreError extends Error {
  override name = 'SessionStoreError';
  /** What went wrong; see {@link SessionStoreErrorCode}. */
  readonly code: SessionStoreErrorCode;
  /** The session the call was about. */
  readonly sessionId: string;

  constructor(
    code: SessionStoreErrorCode,
    sessionId: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.sessionId = sessionId;
  }
}
