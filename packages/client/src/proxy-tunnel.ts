/**
 * An HTTP CONNECT tunnel (RFC 9110 §9.3.6): dials the proxy, asks it for a
 * TCP connection to the target, reads its answer, and hands the socket over
 * once the proxy answered 2xx. From then on the socket carries the target's
 * bytes: TLS for `wss:`, the opening handshake, frames.
 *
 * No timer here: the link's handshake timeout covers the CONNECT too, and
 * aborts the tunnel when it fires.
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import * as net from 'node:net';
import {
  DEFAULT_MAX_HEAD_SIZE,
  type HandshakeError,
  type HeadSplit,
  type HttpResponseHead,
  parseResponseHead,
  splitHead,
} from '@proj/protocol';
import { ProxyError } from './proxy-error.js';
import type { ProxyEndpoint } from './proxy-url.js';

/** What a {@link ProxyTunnel} reports: exactly one of the two, once, unless aborted first. */
export interface TunnelHandler {
  /**
   * The proxy answered 2xx: `socket` now reaches the target. It is paused,
   * with no listener of the tunnel's left on it; bytes the proxy sent after
   * its answer are the target's, and are read first (unshifted).
   */
  onTunnel(socket: net.Socket): void;
  /** The tunnel could not be made; the socket is destroyed. */
  onError(error: ProxyError): void;
}

/**
 * One CONNECT through one proxy.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-9.3.6
 */
export class ProxyTunnel {
  readonly #proxy: ProxyEndpoint;
  /** `host:port` of the target, as the request line and `Host` carry it. */
  readonly #authority: string;
  readonly #handler: TunnelHandler;
  readonly #socket: net.Socket;
  /** The answer's bytes so far, while its head is incomplete. */
  #buffered: Buffer | undefined;
  #connected = false;
  #settled = false;

  /**
   * Starts dialing the proxy at once.
   * @param authority - the target as `host:port`; an IPv6 host in brackets.
   */
  constructor(proxy: ProxyEndpoint, authority: string, handler: TunnelHandler) {
    this.#proxy = proxy;
    this.#authority = authority;
    this.#handler = handler;
    // Half-open allowed: for ws: this socket becomes the connection's, and
    // the transport answers what arrived before the server's FIN.
    const socket = net.connect({ host: proxy.host, port: proxy.port, allowHalfOpen: true });
    this.#socket = socket;
    socket.on('connect', this.#onConnect);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
  }

  /** The proxy, as `http://host:port`, for messages. */
  get proxy(): string {
    return this.#proxy.url;
  }

  /** Gives up (the handshake timed out, or `close()`): destroys the socket, reports nothing. */
  abort(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#socket.destroy();
  }

  /** The CONNECT request (RFC 9110 §9.3.6: the authority form, and the same in `Host`). */
  #request(): string {
    const authorization = this.#proxy.authorization;
    return (
      `CONNECT ${this.#authority} HTTP/1.1\r\n` +
      `Host: ${this.#authority}\r\n` +
      (authorization === undefined ? '' : `Proxy-Authorization: ${authorization}\r\n`) +
      '\r\n'
    );
  }

  readonly #onConnect = (): void => {
    this.#connected = true;
    this.#socket.write(this.#request());
  };

  readonly #onData = (chunk: Buffer): void => {
    if (this.#settled) return;
    const buffered = this.#buffered ? Buffer.concat([this.#buffered, chunk]) : chunk;
    let split: HeadSplit | null;
    let head: HttpResponseHead;
    try {
      // Something that is not HTTP at all (an SSH banner, a TLS alert) may
      // never send a blank line: refuse it by its first bytes, not at the timeout.
      if (!startsLikeHttp(buffered)) throw new Error('it does not start with "HTTP/"');
      split = splitHead(buffered, { maxHeadSize: DEFAULT_MAX_HEAD_SIZE });
      if (split === null) {
        this.#buffered = buffered;
        return;
      }
      head = parseResponseHead(split.head);
    } catch (error) {
      this.#fail(this.#malformed(error as Error));
      return;
    }
    if (head.status < 200 || head.status > 299) {
      this.#fail(this.#refused(head));
      return;
    }
    this.#settled = true;
    this.#buffered = undefined;
    const socket = this.#socket;
    // Paused before the listeners go: a flowing socket with no 'data'
    // listener would drop what arrives next.
    socket.pause();
    socket.off('connect', this.#onConnect);
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('error', this.#onError);
    socket.off('close', this.#onClose);
    // The proxy may send the target's first bytes in the same read as its
    // answer: they belong to the connection, not to the proxy.
    if (split.rest.byteLength > 0) socket.unshift(split.rest);
    this.#handler.onTunnel(socket);
  };

  readonly #onEnd = (): void => {
    this.#fail(this.#closed(undefined));
  };

  readonly #onError = (error: Error): void => {
    if (!this.#connected) {
      this.#fail(
        new ProxyError(
          'WS_ERR_PROXY_UNREACHABLE',
          this.#proxy.url,
          0,
          `Could not connect to the proxy ${this.#proxy.url}: ${error.message}`,
          { cause: error },
        ),
      );
      return;
    }
    this.#fail(this.#closed(error));
  };

  readonly #onClose = (): void => {
    // After 'end' or 'error', which already failed the tunnel; this covers a
    // close that came without either.
    this.#fail(this.#closed(undefined));
  };

  #fail(error: ProxyError): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#buffered = undefined;
    this.#socket.destroy();
    this.#handler.onError(error);
  }

  #closed(cause: Error | undefined): ProxyError {
    return new ProxyError(
      'WS_ERR_PROXY_CLOSED',
      this.#proxy.url,
      0,
      `The proxy ${this.#proxy.url} closed the connection before answering CONNECT ` +
        `${this.#authority}${cause ? `: ${cause.message}` : ''}`,
      { cause },
    );
  }

  /** `cause`: what `splitHead` or `parseResponseHead` threw, or the first bytes' verdict. */
  #malformed(cause: Error): ProxyError {
    const problem =
      (cause as Partial<HandshakeError>).code === 'WS_ERR_HANDSHAKE_HEAD_TOO_LARGE'
        ? `its answer did not end within ${DEFAULT_MAX_HEAD_SIZE} bytes`
        : `its answer is not an HTTP/1.1 response (${cause.message})`;
    return new ProxyError(
      'WS_ERR_PROXY_MALFORMED',
      this.#proxy.url,
      0,
      `The proxy ${this.#proxy.url} failed CONNECT ${this.#authority}: ${problem}`,
      { cause },
    );
  }

  /** A status other than 2xx: 407 (and tinyproxy's 401 to bad credentials) get their own words. */
  #refused(head: HttpResponseHead): ProxyError {
    const { status, statusText } = head;
    const proxy = this.#proxy;
    // The reason phrase is the proxy's text: bounded, and without controls, in a message.
    // eslint-disable-next-line no-control-regex
    const reason = statusText.replace(/[\x00-\x1f\x7f]/g, '').slice(0, 80);
    const answered = `${status}${reason ? ` ${reason}` : ''}`;
    let message: string;
    if (proxy.username !== undefined && (status === 407 || status === 401)) {
      message =
        `The proxy ${proxy.url} refused the credentials sent for user ` +
        `"${proxy.username}" (${answered})`;
    } else if (status === 407) {
      message =
        `The proxy ${proxy.url} wants authentication (${answered}) and no credentials ` +
        `were sent: put them in the proxy URL, http://user:pass@host:port`;
    } else {
      message = `The proxy ${proxy.url} refused CONNECT ${this.#authority}: ${answered}`;
    }
    return new ProxyError('WS_ERR_PROXY_STATUS', proxy.url, status, message);
  }
}

/** The start of every HTTP/1.x status line. */
const HTTP_PREFIX = Buffer.from('HTTP/', 'latin1');

/** Whether `bytes` start like an HTTP/1.x answer, as far as they go. */
function startsLikeHttp(bytes: Buffer): boolean {
  const length = Math.min(bytes.length, HTTP_PREFIX.length);
  return bytes.compare(HTTP_PREFIX, 0, length, 0, length) === 0;
}
