import { concatBytes, EMPTY } from './bytes.js';
import { Connection, type ConnectionOptions, ConnectionState } from './connection.js';
import {
  AbnormalClosureError,
  ExtensionError,
  HandshakeError,
  HandshakeRejectedError,
} from './errors.js';
import {
  type ClientRequestOptions,
  type Sha1,
  buildClientRequest,
  generateKey,
  validateResponse,
} from './handshake.js';
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
  readonly #request: string;
  readonly #key: string;
  readonly #protocols: readonly string[];
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
    this.#sha1 = options.sha1;
    this.#limits = { maxHeadSize: options.maxHeadSize, maxHeaderCount: options.maxHeaderCount };
    this.#deflate = options.perMessageDeflate;
    this.#request = buildClientRequest({
      ...options,
      key: this.#key,
      extensions: this.#deflate ? buildDeflateOffer(this.#deflate) : undefined,
    });
  }

  /** The `Sec-WebSocket-Key` this client sends. */
  get key(): string {
    return this.#key;
  }

  /** Writes the opening handshake request. Call once, when the transport is connected. */
  connect(): void {
    if (this.#requested) return;
    this.#requested = true;
    this.writeRaw(encodeUtf8(this.#request));
  }

  protected override receiveHandshakeData(chunk: Uint8Array): void {
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
    });
    let deflate: DeflateParams | null = null;
    try {
      if (this.#deflate) deflate = acceptDeflateResponse(result.extensions, this.#deflate);
    } catch (error) {
      // The negotiation knows only the extensions: report the whole answer.
      if (!(error instanceof ExtensionError)) throw error;
      throw new ExtensionError(error.message, response.status, response.headers);
    }
    this.open(
      {
        protocol: result.protocol,
        extensions: result.extensionsHeader,
        headers: response.headers,
        deflate: deflate ?? undefined,
      },
      split.rest,
    );
  }

  protected override handshakeEof(): void {
    this.failWith(new AbnormalClosureError());
  }

  protected override get endsFirst(): boolean {
    return false;
  }
}
