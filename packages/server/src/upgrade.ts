import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { PerMessageDeflate } from '@proj/deflate';
import {
  HandshakeError,
  type ValidatedRequest,
  acceptDeflateOffer,
  buildAcceptResponse,
  buildRejectResponse,
  validateRequest,
} from '@proj/protocol';
import type { ResolvedOptions } from './options.js';
import { type Rejection, isRejection, reject } from './rejection.js';

/** SHA-1 through `node:crypto`: the protocol's pure fallback is several times slower. */
export function nodeSha1(data: Uint8Array): Uint8Array {
  return createHash('sha1').update(data).digest();
}

/** A handshake that may proceed, with what was decided for it. */
export interface AcceptedUpgrade<Data> {
  readonly protocol: string;
  readonly data: Data;
  readonly response: string;
  /** The accepted `Sec-WebSocket-Extensions`, or `""`. */
  readonly extensions: string;
  /** The compressor, when permessage-deflate was negotiated. */
  readonly deflate: PerMessageDeflate | undefined;
}

/**
 * Runs every check of an upgrade request in order: RFC 6455 validity, origin,
 * subprotocol, then the application's `authenticate`. Resolves to what to
 * accept with, or to a rejection to answer with.
 */
export async function negotiateUpgrade<Data>(
  request: IncomingMessage,
  options: ResolvedOptions<Data>,
): Promise<AcceptedUpgrade<Data> | Rejection> {
  // Node's parser keeps at most its maxHeadersCount fields (set just above
  // ours in standalone mode), so a longer list shows up here as one too many.
  if (request.rawHeaders.length / 2 > options.maxHeaderCount) {
    return reject(431, { body: 'Too many header fields' });
  }
  let validated: ValidatedRequest;
  try {
    validated = validateRequest({
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

  const origin = validated.origin;
  const allowed = options.allowedOrigins;
  if (allowed !== undefined) {
    // Never reflect a request header into the response body.
    if (!allowed(origin, request)) return reject(403, { body: 'Origin not allowed' });
  }

  const protocol = chooseProtocol(validated.protocols, request, options);

  let data = undefined as Data;
  if (options.authenticate) {
    const result = await options.authenticate(request, {
      origin,
      protocols: validated.protocols,
      secure: (request.socket as Partial<TLSSocket>).encrypted === true,
    });
    if (isRejection(result)) return result;
    data = result;
  }

  // RFC 7692: only when enabled; an unacceptable offer falls back to none.
  const accepted = options.deflate
    ? acceptDeflateOffer(validated.extensions, options.deflate.config)
    : null;
  const headers: Record<string, string | string[]> = {};
  options.headers?.(headers, request);
  const response = buildAcceptResponse({
    key: validated.key,
    protocol: protocol || undefined,
    extensions: accepted?.response,
    headers,
    sha1: nodeSha1,
  });
  const deflate = accepted
    ? new PerMessageDeflate({
        params: accepted.params,
        isServer: true,
        maxPayload: options.maxPayload,
        options: options.deflate ?? undefined,
      })
    : undefined;
  return { protocol, data, response, extensions: accepted?.response ?? '', deflate };
}

function chooseProtocol<Data>(
  offered: readonly string[],
  request: IncomingMessage,
  options: ResolvedOptions<Data>,
): string {
  if (options.handleProtocols) {
    const chosen = options.handleProtocols(offered, request);
    if (chosen === undefined) return '';
    // The client fails the connection on a subprotocol it did not offer
    // (RFC 6455 §4.1): refuse here with a clear error instead.
    if (!offered.includes(chosen)) {
      throw new TypeError(
        `handleProtocols returned "${String(chosen)}", which the client did not offer`,
      );
    }
    return chosen;
  }
  const supported = options.protocols;
  return (supported && offered.find((protocol) => supported.includes(protocol))) ?? '';
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
  socket.once('finish', () => socket.destroy());
  socket.end(
    buildRejectResponse(rejection.status, { headers: rejection.headers, body: rejection.body }),
  );
}
