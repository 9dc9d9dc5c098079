import process from 'node:process';
import { hash } from 'node:crypto';
import { type UpgradeRequest, isHttp2Request } from './request.js';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { PerMessageDeflateInit } from '@proj/deflate';
import {
  HandshakeError,
  type ValidatedRequest,
  WEBSOCKET_GUID,
  acceptConnectRequest,
  acceptDeflateOffer,
  acceptRequest,
  buildRejectResponse,
  checkHeaderCount,
  isSessionToken,
  sessionOffers,
  validateConnectRequest,
  validateRequest,
} from '@proj/protocol';
import type { UserCodeSite } from './diagnostics.js';
import type { ResolvedOptions } from './options.js';
import { type Rejection, isRejection, reject } from './rejection.js';

/**
 * `Sec-WebSocket-Accept` for `key` with Node's one-shot hash straight to
 * base64; the protocol's `acceptKey` encodes, hashes and base64-encodes in
 * three steps. The key passed validateRequest: base64, so ASCII, and it
 * hashes as it is.
 */
function nodeAcceptKey(key: string): string {
  return hash('sha1', key + WEBSOCKET_GUID, 'base64');
}

/** A handshake that may proceed, with what was decided for it. */
export interface AcceptedUpgrade<Data> {
  /** The subprotocol selected on the wire, or `""`. */
  readonly protocol: string;
  /**
   * Whether a resumable session was negotiated (`protocol` is then a session
   * token, and {@link appProtocol} the application's part of it).
   */
  readonly session: boolean;
  /** The application's subprotocol: `protocol`, or its part in a session token. */
  readonly appProtocol: string;
  readonly data: Data;
  /**
   * The answer: the `101 Switching Protocols` head over HTTP/1.1, or the
   * response's header fields (`:status` 200) for an HTTP/2 stream.
   */
  readonly response: string | Readonly<Record<string, string | string[]>>;
  /** The accepted `Sec-WebSocket-Extensions`, or `""`. */
  readonly extensions: string;
  /**
   * What to build the compressor from, when permessage-deflate was
   * negotiated (the connection builds it on first use).
   */
  readonly deflate: PerMessageDeflateInit | undefined;
}

/**
 * A hook of the application threw (or its promise rejected) during a
 * handshake: the error and which hook, so that the report can say where.
 */
export class HookFailure {
  constructor(
    readonly site: UserCodeSite,
    readonly error: unknown,
  ) {}
}

/** Calls a hook; what it throws comes out as a {@link HookFailure} naming it. */
function callHook<T>(site: UserCodeSite, hook: () => T): T {
  try {
    return hook();
  } catch (error) {
    throw new HookFailure(site, error);
  }
}

/** What {@link negotiateUpgrade} decides: accept with this, or answer with that rejection. */
export type UpgradeOutcome<Data> = AcceptedUpgrade<Data> | Rejection;

/**
 * Runs every check of an upgrade request in order: RFC 6455 validity, origin,
 * subprotocol, then the application's `authenticate`. Returns what to accept
 * with, or a rejection to answer with. Synchronous unless `authenticate`
 * returns a promise: the common handshake costs no promise and no microtask.
 * @throws {HookFailure} when a hook (`allowedOrigins`, `handleProtocols`,
 *   `authenticate`, `headers`) throws; a returned promise rejects with one.
 */
export function negotiateUpgrade<Data>(
  request: UpgradeRequest,
  options: ResolvedOptions<Data>,
): UpgradeOutcome<Data> | Promise<UpgradeOutcome<Data>> {
  const validated = checkRequest(request, options);
  if (isRejection(validated)) return validated;

  const origin = validated.origin;
  const allowed = options.allowedOrigins;
  if (allowed !== undefined) {
    // Never reflect a request header into the response body.
    if (!callHook('allowedOrigins', () => allowed(origin, request)))
      return reject(403, { body: 'Origin not allowed' });
  }

  const protocol = chooseProtocol(validated.protocols, request, options);
  const authenticate = options.authenticate;
  if (!authenticate) return accept(request, options, validated, protocol, undefined as Data);
  const result = callHook('authenticate', () =>
    authenticate(request, {
      origin,
      protocols: validated.protocols,
      secure: (request.socket as Partial<TLSSocket>).encrypted === true,
    }),
  );
  if (isThenable(result)) {
    return Promise.resolve(result).then(
      (settled) =>
        isRejection(settled) ? settled : accept(request, options, validated, protocol, settled),
      (error: unknown) => {
        throw error instanceof HookFailure ? error : new HookFailure('authenticate', error);
      },
    );
  }
  if (isRejection(result)) return result;
  return accept(request, options, validated, protocol, result);
}

/**
 * The protocol's rules for a request `node:http` parsed: its header count
 * (node's own cap is set just above ours in standalone mode, see
 * websocket-server.ts), then RFC 6455 validity, method first. A refusal is
 * answered exactly as the protocol words it: status, header fields, message.
 */
export function checkRequest(
  request: UpgradeRequest,
  limits: { readonly maxHeaderCount: number },
): ValidatedRequest | Rejection {
  try {
    checkHeaderCount(request.rawHeaders.length / 2, limits);
    // RFC 8441 has no key: the answer carries no Sec-WebSocket-Accept.
    if (isHttp2Request(request)) return { key: '', ...validateConnectRequest(request.headers) };
    return validateRequest({
      method: request.method ?? '',
      httpVersion: request.httpVersion,
      headers: request.headers,
    });
  } catch (error) {
    if (error instanceof HandshakeError) {
      return reject(error.status, { headers: error.headers, body: error.message });
    }
    throw error;
  }
}

/** Whether `value` is a promise (or any thenable), which `await` would wait for. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** The accepted handshake: permessage-deflate, extra headers and the 101 response. */
function accept<Data>(
  request: UpgradeRequest,
  options: ResolvedOptions<Data>,
  validated: ValidatedRequest,
  chosen: ChosenProtocol | undefined,
  data: Data,
): AcceptedUpgrade<Data> {
  const protocol = chosen?.protocol;
  // RFC 7692: only when enabled; an unacceptable offer falls back to none.
  const accepted = options.deflate ? negotiateDeflate(request, options, validated) : null;
  let headers: Record<string, string | string[]> | undefined;
  if (options.headers) {
    const add = options.headers;
    const added: Record<string, string | string[]> = (headers = {});
    callHook('headers', () => add(added, request));
  }
  // The protocol refuses (TypeError, so 500) a subprotocol the client did not
  // offer and a malformed header: the mistake of one hook or the other.
  const blamed =
    protocol !== undefined && !validated.protocols.includes(protocol)
      ? 'handleProtocols'
      : 'headers';
  const response = callHook(blamed, () =>
    isHttp2Request(request)
      ? acceptConnectRequest(validated, { protocol, extensions: accepted?.response, headers })
      : acceptRequest(validated, {
          accept: nodeAcceptKey(validated.key),
          protocol,
          extensions: accepted?.response,
          headers,
        }),
  );
  return {
    protocol: protocol ?? '',
    session: chosen?.session ?? false,
    appProtocol: chosen?.app ?? '',
    data,
    response,
    extensions: accepted?.response ?? '',
    deflate: accepted?.init,
  };
}

/** permessage-deflate as settled for one offer: the response element and the compressor's settings. */
interface DeflateOutcome {
  readonly response: string;
  readonly init: PerMessageDeflateInit;
}

/**
 * Outcomes by `Sec-WebSocket-Extensions` value, per server. Nearly every
 * client sends one of a few offers (each browser its own), so connections
 * share one frozen outcome instead of holding a copy each; at 10,000 idle
 * connections that is most of what negotiating compression costs. Bounded:
 * offers past the first {@link MAX_CACHED_OFFERS} are negotiated every time.
 */
const deflateOutcomes = new WeakMap<object, Map<string, DeflateOutcome | null>>();
const MAX_CACHED_OFFERS = 64;

function negotiateDeflate<Data>(
  request: UpgradeRequest,
  options: ResolvedOptions<Data>,
  validated: ValidatedRequest,
): DeflateOutcome | null {
  const offer = request.headers['sec-websocket-extensions'];
  let cache = deflateOutcomes.get(options);
  if (typeof offer === 'string') {
    const known = cache?.get(offer);
    if (known !== undefined) return known;
  }
  const accepted = acceptDeflateOffer(validated.extensions, options.deflate!.config);
  const outcome: DeflateOutcome | null = accepted && {
    response: accepted.response,
    init: Object.freeze({
      params: Object.freeze(accepted.params),
      isServer: true,
      maxPayload: options.maxPayload,
      options: options.deflate!,
    }),
  };
  if (typeof offer === 'string') {
    if (!cache) deflateOutcomes.set(options, (cache = new Map()));
    if (cache.size < MAX_CACHED_OFFERS) cache.set(offer, outcome);
  }
  return outcome;
}

/** The subprotocol chosen for a handshake. */
interface ChosenProtocol {
  /** The value selected on the wire. */
  readonly protocol: string;
  /** Whether it is a session token. */
  readonly session: boolean;
  /** The application's subprotocol (`protocol` itself, or its part of a session token). */
  readonly app: string;
}

/**
 * Chooses the subprotocol. The application's rules (`protocols`,
 * `handleProtocols`) see only the application's offers, never the session
 * tokens (`docs/session-protocol.md`, section 1): with `sessions` on, the
 * session token that carries their choice is selected instead, or the bare
 * session token when the client offered no application protocol. Without
 * `sessions`, the tokens are ignored, as a server that does not speak the
 * protocol must.
 */
function chooseProtocol<Data>(
  offered: readonly string[],
  request: UpgradeRequest,
  options: ResolvedOptions<Data>,
): ChosenProtocol | undefined {
  // The common handshake offers no session token: no copy of the offer.
  const plain = offered.some(isSessionToken)
    ? offered.filter((token) => !isSessionToken(token))
    : offered;
  const app = chooseAppProtocol(plain, request, options);
  if (options.sessions) {
    for (const entry of sessionOffers(offered)) {
      // The token that carries the application's choice, or the bare token
      // when it chose none (the client offered none).
      if (entry.app === (app ?? '')) {
        return { protocol: entry.token, session: true, app: entry.app };
      }
    }
  }
  return app === undefined ? undefined : { protocol: app, session: false, app };
}

/** The application's subprotocol among `offered` (session tokens removed), by its own rules. */
function chooseAppProtocol<Data>(
  offered: readonly string[],
  request: UpgradeRequest,
  options: ResolvedOptions<Data>,
): string | undefined {
  // Whether the choice was offered is the protocol's rule, in acceptRequest.
  // As in ws, the hook runs only when there is an offer to choose from.
  if (options.handleProtocols && offered.length > 0) {
    // A Set, as ws passes it: code ported from ws calls .has() and spreads it.
    const choose = options.handleProtocols;
    const chosen = callHook('handleProtocols', () => choose(new Set(offered), request));
    return chosen === false ? undefined : chosen;
  }
  if (offered.length === 0 || options.handleProtocols) return undefined;
  const supported = options.protocols;
  if (!supported) {
    warnUnansweredOffer(options, offered);
    return undefined;
  }
  return offered.find((protocol) => supported.includes(protocol));
}

/** Servers already warned that a client's subprotocol offer went unanswered. */
const warnedOfOffers = new WeakSet<object>();

/**
 * Once per server: a client offered subprotocols and the server has neither
 * `protocols` nor `handleProtocols`. ws would have picked the first offered,
 * and ws clients fail a handshake whose offer gets no answer, so a server
 * ported from ws says so instead of failing them in silence.
 */
function warnUnansweredOffer(options: object, offered: readonly string[]): void {
  if (warnedOfOffers.has(options)) return;
  warnedOfOffers.add(options);
  process.emitWarning(
    `A client offered the subprotocols ${offered.map((p) => JSON.stringify(p)).join(', ')}, ` +
      'and none was chosen: this WebSocketServer has no "protocols" or "handleProtocols" option ' +
      '(ws would have chosen the first). Chromium fails such a handshake, as the WHATWG ' +
      'standard says, and so do ws clients ("Server sent no subprotocol") and @proj/client; ' +
      'Firefox lets it through. List the protocols you speak in "protocols".',
    { code: 'WS_SUBPROTOCOL_UNANSWERED' },
  );
}

/**
 * Answers a refused handshake with a complete HTTP response and closes the
 * socket once it is flushed.
 */
export function abortHandshake(
  socket: Duplex,
  rejection: Pick<Rejection, 'status' | 'headers' | 'body'>,
): void {
  if (!socket.writable || socket.destroyed) {
    socket.destroy();
    return;
  }
  // node:http removed its listeners when it handed the socket over: without
  // one, a reset while the answer is written would be an uncaught error.
  socket.on('error', destroySocket);
  socket.once('finish', destroySocket);
  socket.end(
    buildRejectResponse(rejection.status, { headers: rejection.headers, body: rejection.body }),
  );
}

function destroySocket(this: Duplex): void {
  this.destroy();
}
