import { concatBytes, EMPTY } from './bytes.js';
import { Connection, type ConnectionOptions, ConnectionState } from './connection.js';
import {
  AbnormalClosureError,
  toWebSocketError,
  ExtensionError,
  HandshakeError,
  HandshakeRejectedError,
} from './errors.js';
import {
  type ClientRequestOptions,
  type Sha1,
  type ValidatedResponse,
  buildClientRequest,
  generateKey,
  validateResponse,
} from './handshake.js';
import { buildConnectRequest, validateConnectResponse } from './extended-connect.js';
import {
  type HeadSplit,
  type HttpHeadLimits,
  type HttpResponseHead,
  parseResponseHead,
  splitHead,
} from './http1.js';
import { type MaskSource, createRandomMaskSource } from './mask.js';
import {
  type DeflateConfig,
  type DeflateParams,
  PERMESSAGE_DEFLATE,
  acceptDeflateResponse,
  buildDeflateOffer,
} from './permessage-deflate.js';
import { encodeUtf8 } from './utf8.js';

/** Options of a {@link ClientConnection}. */
export interface ClientConnectionOptions
  extends
    Omit<ConnectionOptions, 'perMessageDeflate'>,
    HttpHeadLimits,
    Omit<ClientRequestOptions, 'key' | 'extensions'> {
  /**
   * Offer permessage-deflate with these preferences (RFC 7692). Whether the
   * server accepted, and with which parameters, is `deflate` in `onOpen`.
   * Default: no offer.
   */
  perMessageDeflate?: DeflateConfig | undefined;
  /** The `Sec-WebSocket-Key`; a fresh random one by default. */
  key?: string | undefined;
  /**
   * Where masking keys come from. Default: `crypto.getRandomValues` through a
   * pool. Inject a fixed source only in tests.
   */
  maskSource?: MaskSource | undefined;
  /** SHA-1 for checking `Sec-WebSocket-Accept`; pure TypeScript by default. */
  sha1?: Sha1 | undefined;
  /**
   * Run the opening handshake as an RFC 8441 extended CONNECT on an HTTP/2
   * stream instead of an HTTP/1.1 Upgrade: the I/O layer sends
   * {@link ClientConnection.connectHeaders} as the stream's request and hands
   * the response's status and header fields to
   * {@link ClientConnection.receiveConnectResponse}. `scheme` is `https` for
   * `wss:` URLs, `http` for `ws:`; `host` is the `:authority`.
   */
  http2?: { readonly scheme: 'https' | 'http' } | undefined;
  /**
   * Fail the connection when the server chooses no subprotocol although
   * `protocols` offered some, as the WHATWG `WebSocket` (browsers, `ws`)
   * does; RFC 6455 lets such an answer open. Default `false`.
   */
  requireProtocol?: boolean | undefined;
}

/** Shared by every client that does not bring its own mask source. */
let defaultMaskSource: MaskSource | undefined;

/**
 * The client side of a connection: masks every frame, and runs the opening
 * handshake in the same state machine. Call {@link connect} once the
 * transport is up, then feed everything the server sends to `receiveData`;
 * `onOpen` reports the 101 answer, or `onError` a {@link HandshakeRejectedError}
 * naming the failed check followed by `onClose` with 1006.
 */
export class ClientConnection extends Connection {
  /** The HTTP/1.1 request head, or `undefined` over HTTP/2. */
  readonly #request: string | undefined;
  /** The extended CONNECT request's header fields, or `undefined` over HTTP/1.1. */
  readonly #connectHeaders: Readonly<Record<string, string>> | undefined;
  readonly #key: string;
  readonly #protocols: readonly string[];
  readonly #requireProtocol: boolean;
  readonly #sha1: Sha1 | undefined;
  readonly #limits: HttpHeadLimits;
  readonly #deflate: DeflateConfig | undefined;
  #buffered: Uint8Array = EMPTY;
  #requested = false;

  /** @throws {TypeError} for an invalid subprotocol or header. */
  constructor(options: ClientConnectionOptions) {
    super(
      { ...options, perMessageDeflate: false },
      false,
      options.maskSource ?? (defaultMaskSource ??= createRandomMaskSource()),
      ConnectionState.Connecting,
    );
    this.#key = options.key ?? generateKey();
    this.#protocols = options.protocols ?? [];
    this.#requireProtocol = options.requireProtocol === true;
    this.#sha1 = options.sha1;
    this.#limits = { maxHeadSize: options.maxHeadSize, maxHeaderCount: options.maxHeaderCount };
    this.#deflate = options.perMessageDeflate;
    const extensions = this.#deflate ? buildDeflateOffer(this.#deflate) : undefined;
    if (options.http2) {
      this.#connectHeaders = buildConnectRequest({
        ...options,
        authority: options.host,
        scheme: options.http2.scheme,
        extensions,
      });
    } else {
      this.#request = buildClientRequest({ ...options, key: this.#key, extensions });
    }
  }

  /**
   * With the `http2` option: the extended CONNECT request's header fields
   * (RFC 8441 §5), pseudo-headers included, for the stream to send.
   * `undefined` over HTTP/1.1.
   */
  get connectHeaders(): Readonly<Record<string, string>> | undefined {
    return this.#connectHeaders;
  }

  /**
   * With the `http2` option: the stream's response arrived. A 2xx answer
   * with a subprotocol and extensions that were offered opens the
   * connection (`onOpen`); anything else fails it as a rejected handshake
   * (`onError` with a {@link HandshakeRejectedError}, then `onClose` 1006).
   * @param headers - the response's header fields, lower-case names.
   */
  receiveConnectResponse(status: number, headers: Readonly<Record<string, string>>): void {
    if (!this.#connectHeaders || this.state !== ConnectionState.Connecting || this.failed) return;
    this.#requested = true;
    let result: ValidatedResponse;
    try {
      result = validateConnectResponse(
        { status, headers },
        {
          protocols: this.#protocols,
          extensions: this.#deflate ? [PERMESSAGE_DEFLATE] : [],
          requireProtocol: this.#requireProtocol,
        },
      );
      const early = this.#buffered;
      this.#buffered = EMPTY;
      this.#openWith(result, status, headers, early);
    } catch (error) {
      this.failWith(toWebSocketError(error));
    }
  }

  /** The `Sec-WebSocket-Key` this client sends. */
  get key(): string {
    return this.#key;
  }

  /** Writes the opening handshake request. Call once, when the transport is connected. */
  connect(): void {
    // Over HTTP/2 the request is the stream's header fields, not bytes.
    if (this.#requested || this.#request === undefined) return;
    this.#requested = true;
    this.writeRaw(encodeUtf8(this.#request));
  }

  protected override receiveHandshakeData(chunk: Uint8Array): void {
    if (this.#connectHeaders) {
      // The server's first frames may be reported before the response head
      // (node:http2 emits 'response' a tick after DATA from the same read):
      // they wait for it, within the stream's flow-control window.
      this.#buffered = this.#buffered.length === 0 ? chunk : concatBytes([this.#buffered, chunk]);
      return;
    }
    this.#buffered = this.#buffered.length === 0 ? chunk : concatBytes([this.#buffered, chunk]);
    let split: HeadSplit | null;
    let response: HttpResponseHead;
    try {
      split = splitHead(this.#buffered, this.#limits);
      if (!split) return;
      response = parseResponseHead(split.head, this.#limits);
    } catch (error) {
      // The head parser speaks for a server (400, 431); on the client the
      // status is what the server sent, and an unparsable head sent none.
      if (!(error instanceof HandshakeError)) throw error;
      throw new HandshakeRejectedError(error.code, 0, error.message);
    }
    this.#buffered = EMPTY;
    const result = validateResponse(response, {
      key: this.#key,
      protocols: this.#protocols,
      extensions: this.#deflate ? [PERMESSAGE_DEFLATE] : [],
      sha1: this.#sha1,
      requireProtocol: this.#requireProtocol,
    });
    this.#openWith(result, response.status, response.headers, split.rest);
  }

  /** Settles permessage-deflate from a validated answer and opens. */
  #openWith(
    result: ValidatedResponse,
    status: number,
    headers: Readonly<Record<string, string>>,
    rest: Uint8Array,
  ): void {
    let deflate: DeflateParams | null = null;
    try {
      if (this.#deflate) deflate = acceptDeflateResponse(result.extensions, this.#deflate);
    } catch (error) {
      // The negotiation knows only the extensions: report the whole answer.
      if (!(error instanceof ExtensionError)) throw error;
      throw new ExtensionError(error.message, status, headers);
    }
    this.open(
      {
        protocol: result.protocol,
        extensions: result.extensionsHeader,
        headers,
        deflate: deflate ?? undefined,
      },
      rest,
    );
  }

  protected override handshakeEof(): void {
    this.failWith(new AbnormalClosureError());
  }

  protected override get endsFirst(): boolean {
    return false;
  }
}
