import { Connection, type ConnectionOptions, ConnectionState } from './connection.js';

/** Options of a {@link ServerConnection}. */
export interface ServerConnectionOptions extends ConnectionOptions {
  /** The subprotocol chosen in the handshake, or `""`. */
  protocol?: string | undefined;
  /**
   * The `Sec-WebSocket-Extensions` accepted in the handshake, or `""`. With
   * permessage-deflate accepted, also set `perMessageDeflate: true`.
   */
  extensions?: string | undefined;
}

/**
 * The server side of a connection, created once the 101 response is written
 * (see `validateRequest` and `buildAcceptResponse`): it starts open, expects
 * every frame masked, never masks its own, and closes the transport first
 * after the closing handshake (RFC 6455 §7.1.1).
 */
export class ServerConnection extends Connection {
  constructor(options: ServerConnectionOptions) {
    super(options, true, undefined, ConnectionState.Open);
    this.setNegotiated(options.protocol ?? '', options.extensions ?? '');
  }

  protected override get endsFirst(): boolean {
    return true;
  }
}
