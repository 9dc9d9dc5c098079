/**
 * permessage-deflate parameters for negotiation tests (RFC 7692 §7.1): every
 * combination of the two `*_no_context_takeover` flags with a few window
 * sizes, both extremes included, in `ws`'s option names. Used by the
 * server's tests (as a `ws` client's offer) and the client's (split between
 * our offer and a `ws` server's preferences).
 */
import type { PerMessageDeflateOptions } from 'ws';

/** [serverMaxWindowBits, clientMaxWindowBits] pairs: unset, the smallest, mixed, the largest. */
const WINDOW_BITS = [
  [undefined, undefined],
  [8, 8],
  [9, 15],
  [15, 10],
] as const;

/** The 16 combinations. */
export const DEFLATE_COMBOS: readonly PerMessageDeflateOptions[] = [false, true].flatMap(
  (serverNoContextTakeover) =>
    [false, true].flatMap((clientNoContextTakeover) =>
      WINDOW_BITS.map(([serverMaxWindowBits, clientMaxWindowBits]) => ({
        serverNoContextTakeover,
        clientNoContextTakeover,
        serverMaxWindowBits,
        clientMaxWindowBits,
      })),
    ),
);
