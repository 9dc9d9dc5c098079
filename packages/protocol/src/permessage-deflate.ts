/**
 * permessage-deflate (RFC 7692): parameter negotiation only. Pure: the
 * (de)compressor itself lives on the I/O side (`@proj/deflate`), and the
 * connection only carries RSV1 and message assembly.
 */
import { ExtensionError } from './errors.js';
import { integerOption } from './options.js';
import { type Extension, type ExtensionParam, serializeExtensions } from './header-values.js';

/** The extension token (RFC 7692 §7). */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** The DEFLATE window size when no `*_max_window_bits` limits it (32 KiB). */
export const DEFAULT_WINDOW_BITS = 15;

/** The smallest window a peer may ask for (RFC 7692 §7.1.2). */
export const MIN_WINDOW_BITS = 8;

/** What a permessage-deflate negotiation settled, from both sides' point of view. */
export interface DeflateParams {
  /** The server resets its compression context after every message. */
  readonly serverNoContextTakeover: boolean;
  /** The client resets its compression context after every message. */
  readonly clientNoContextTakeover: boolean;
  /** Largest LZ77 window (as a power of two, 8..15) the server compresses with. */
  readonly serverMaxWindowBits: number;
  /** Largest LZ77 window (8..15) the client compresses with. */
  readonly clientMaxWindowBits: number;
}

/**
 * Local preferences for a negotiation. On a server they say what to ask of
 * the client and what to promise; on a client they make up the offer.
 */
export interface DeflateConfig {
  /** Ask (client) or promise (server) that the server resets its context per message. */
  serverNoContextTakeover?: boolean | undefined;
  /** Promise (client) or ask (server) that the client resets its context per message. */
  clientNoContextTakeover?: boolean | undefined;
  /** Limit the server's window, 8..15. */
  serverMaxWindowBits?: number | undefined;
  /**
   * Limit the client's window, 8..15. A client offers `client_max_window_bits`
   * in any case (it can honour any limit); a server applies the limit only
   * when the client offered that parameter (RFC 7692 §7.1.2.2).
   */
  clientMaxWindowBits?: number | undefined;
}

/** The parameters of one offer or response, checked against RFC 7692 §7. */
interface RawParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: offered without a value ("I can honour a limit"). */
  clientMaxWindowBits: number | true | undefined;
}

/**
 * A `*_max_window_bits` value: "8".."15" exactly (RFC 7692 §7.1.2.1:
 * `1*DIGIT`, "a decimal integer value without leading zeroes between 8 and 15").
 */
function windowBits(value: string | true): number | undefined {
  if (value === true || !/^(?:[89]|1[0-5])$/.test(value)) return undefined;
  return Number(value);
}

/**
 * Checks the parameters of one permessage-deflate element. `null` when one is
 * unknown, repeated, or has an invalid value (RFC 7692 §5 and §7).
 */
function parseParams(params: readonly ExtensionParam[], offer: boolean): RawParams | null {
  const raw: RawParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const { name, value } of params) {
    // "The offer has multiple extension parameters with the same name" (§5).
    const key = name.toLowerCase();
    if (seen.has(key)) return null;
    seen.add(key);
    switch (key) {
      case 'server_no_context_takeover':
        // §7.1.1.1: "This parameter has no value."
        if (value !== true) return null;
        raw.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        if (value !== true) return null;
        raw.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        // §7.1.2.1: it always has a value, in offers and responses.
        const bits = windowBits(value);
        if (bits === undefined) return null;
        raw.serverMaxWindowBits = bits;
        break;
      }
      case 'client_max_window_bits': {
        // §7.1.2.2: an offer may carry it without a value; a response must give one.
        if (value === true && offer) {
          raw.clientMaxWindowBits = true;
          break;
        }
        const bits = windowBits(value);
        if (bits === undefined) return null;
        raw.clientMaxWindowBits = bits;
        break;
      }
      default:
        // "The offer has any extension parameter not defined for use in an offer" (§5).
        return null;
    }
  }
  return raw;
}

/** A server's acceptance of one permessage-deflate offer. */
export interface DeflateAcceptance {
  /** The settled parameters. */
  readonly params: DeflateParams;
  /** The response element, for `Sec-WebSocket-Extensions`. */
  readonly response: string;
}

/**
 * Chooses the first acceptable permessage-deflate offer among `offers` (the
 * client's order of preference, as `validateRequest` returns them) and
 * builds the response. Offers of other extensions are skipped.
 *
 * An offer with an unknown, repeated or invalid parameter is declined, and
 * so is one asking for a window the server refuses, as RFC 7692 §5 requires
 * ("A server MUST decline an extension negotiation offer for this extension
 * if ..."); the next offer is then tried. The header's grammar (RFC 6455
 * §9.1) is checked earlier: a malformed header is a 400.
 *
 * @returns `null` when no offer is acceptable: the connection then runs
 *   without compression, which the RFC's fallback allows.
 */
export function acceptDeflateOffer(
  offers: readonly Extension[],
  config: DeflateConfig = {},
): DeflateAcceptance | null {
  for (const offer of offers) {
    if (offer.name.toLowerCase() !== PERMESSAGE_DEFLATE) continue;
    const raw = parseParams(offer.params, true);
    if (raw === null) continue;
    const accepted = acceptOne(raw, config);
    if (accepted) return accepted;
  }
  return null;
}

function acceptOne(raw: RawParams, config: DeflateConfig): DeflateAcceptance | null {
  const response: ExtensionParam[] = [];
  // §7.1.1.1: an offered server_no_context_takeover must be accepted by
  // including it; the server may also promise it unasked.
  const serverNoContextTakeover =
    raw.serverNoContextTakeover || config.serverNoContextTakeover === true;
  if (serverNoContextTakeover) response.push({ name: 'server_no_context_takeover', value: true });
  // §7.1.1.2: the server may include client_no_context_takeover even when the
  // offer lacks it; when the client offers it, echo it, so both know that
  // the server may drop its inflate context between messages.
  const clientNoContextTakeover =
    raw.clientNoContextTakeover || config.clientNoContextTakeover === true;
  if (clientNoContextTakeover) response.push({ name: 'client_no_context_takeover', value: true });
  // §7.1.2.1: answer an offered server_max_window_bits with the same or a
  // smaller value; without one in the offer the server may still limit itself.
  const localServerBits = config.serverMaxWindowBits ?? DEFAULT_WINDOW_BITS;
  const serverMaxWindowBits = Math.min(
    raw.serverMaxWindowBits ?? DEFAULT_WINDOW_BITS,
    localServerBits,
  );
  if (raw.serverMaxWindowBits !== undefined || serverMaxWindowBits < DEFAULT_WINDOW_BITS) {
    response.push({ name: 'server_max_window_bits', value: String(serverMaxWindowBits) });
  }
  // §7.1.2.2: client_max_window_bits may be answered only when offered; a
  // value in the offer is a limit the client set itself.
  let clientMaxWindowBits = DEFAULT_WINDOW_BITS;
  if (raw.clientMaxWindowBits !== undefined) {
    const offered =
      raw.clientMaxWindowBits === true ? DEFAULT_WINDOW_BITS : raw.clientMaxWindowBits;
    clientMaxWindowBits = Math.min(offered, config.clientMaxWindowBits ?? DEFAULT_WINDOW_BITS);
    if (raw.clientMaxWindowBits !== true || clientMaxWindowBits < DEFAULT_WINDOW_BITS) {
      response.push({ name: 'client_max_window_bits', value: String(clientMaxWindowBits) });
    }
  }
  return {
    params: {
      serverNoContextTakeover,
      clientNoContextTakeover,
      serverMaxWindowBits,
      clientMaxWindowBits,
    },
    response: serializeExtensions([{ name: PERMESSAGE_DEFLATE, params: response }]),
  };
}

/**
 * Builds a client's permessage-deflate offer from `config`. It always
 * carries `client_max_window_bits` (with the configured value, or none),
 * telling the server the client can honour a window limit.
 * @throws {RangeError} for a window size outside 8..15.
 */
export function buildDeflateOffer(config: DeflateConfig = {}): string {
  const params: ExtensionParam[] = [];
  if (config.serverNoContextTakeover)
    params.push({ name: 'server_no_context_takeover', value: true });
  if (config.clientNoContextTakeover)
    params.push({ name: 'client_no_context_takeover', value: true });
  if (config.serverMaxWindowBits !== undefined) {
    params.push({
      name: 'server_max_window_bits',
      value: String(checkWindowBits('serverMaxWindowBits', config.serverMaxWindowBits)),
    });
  }
  params.push({
    name: 'client_max_window_bits',
    value:
      config.clientMaxWindowBits === undefined
        ? true
        : String(checkWindowBits('clientMaxWindowBits', config.clientMaxWindowBits)),
  });
  return serializeExtensions([{ name: PERMESSAGE_DEFLATE, params }]);
}

/**
 * Checks a window size option.
 * @throws {TypeError} unless `bits` is a number.
 * @throws {RangeError} unless it is an integer from 8 to 15.
 */
export function checkWindowBits(name: string, bits: unknown): number {
  return integerOption(name, bits, { min: MIN_WINDOW_BITS, max: 15 });
}

/**
 * Checks the server's answer to an offer made with {@link buildDeflateOffer}
 * (RFC 7692 §5: "A client MUST _Fail the WebSocket Connection_ if the peer
 * server accepted an extension negotiation offer for this extension with an
 * extension negotiation response meeting any of the following conditions").
 * `accepted` are the extensions of the validated 101 response.
 *
 * @returns the settled parameters, or `null` when the server declined
 *   (no permessage-deflate element): the connection runs uncompressed.
 * @throws {ExtensionError} `WS_ERR_HANDSHAKE_EXTENSIONS` (status 101) for an unknown,
 *   repeated or invalid parameter, permessage-deflate accepted twice, or
 *   a configuration the offer did not allow.
 */
export function acceptDeflateResponse(
  accepted: readonly Extension[],
  config: DeflateConfig = {},
): DeflateParams | null {
  const elements = accepted.filter((e) => e.name.toLowerCase() === PERMESSAGE_DEFLATE);
  if (elements.length === 0) return null;
  const fail = (message: string): ExtensionError =>
    new ExtensionError(`permessage-deflate: ${message}`);
  // One offer was made, so at most one element may accept it.
  if (elements.length > 1) throw fail('accepted more than once');
  const raw = parseParams(elements[0]!.params, false);
  if (raw === null) throw fail('invalid, unknown or repeated parameter in the response');
  // "The client doesn't support the configuration that the response represents":
  // a server window larger than we asked for (§7.1.2.1) ...
  if (
    config.serverMaxWindowBits !== undefined &&
    (raw.serverMaxWindowBits === undefined || raw.serverMaxWindowBits > config.serverMaxWindowBits)
  ) {
    throw fail('server_max_window_bits is missing or larger than offered');
  }
  // ... a server that keeps its context although we asked it not to (§7.1.1.1) ...
  if (config.serverNoContextTakeover && !raw.serverNoContextTakeover) {
    throw fail('server_no_context_takeover was offered but not accepted');
  }
  // ... or a client window larger than our own limit (§7.1.2.2).
  const clientBits = raw.clientMaxWindowBits as number | undefined;
  if (
    clientBits !== undefined &&
    config.clientMaxWindowBits !== undefined &&
    clientBits > config.clientMaxWindowBits
  ) {
    throw fail('client_max_window_bits is larger than offered');
  }
  return {
    serverNoContextTakeover: raw.serverNoContextTakeover,
    clientNoContextTakeover: raw.clientNoContextTakeover || config.clientNoContextTakeover === true,
    serverMaxWindowBits: raw.serverMaxWindowBits ?? DEFAULT_WINDOW_BITS,
    clientMaxWindowBits: clientBits ?? config.clientMaxWindowBits ?? DEFAULT_WINDOW_BITS,
  };
}
