/**
 * What one reconnection attempt connects to: the URL, the subprotocols and
 * the token, each given as a value or as a provider called before every
 * attempt, checked as the WebSocket constructor checks its arguments.
 * @packageDocumentation
 */
import { describeValue, isToken } from '@proj/protocol';
import type { ProtocolsSource, TokenSource, UrlSource } from './reconnect-options.js';
import { getURLRecord } from './url.js';
import { toDOMString, toUSVString } from './webidl.js';

/** The values the sources gave for one attempt, not yet checked. */
export interface Provided {
  readonly url: unknown;
  readonly protocols: unknown;
  readonly token: unknown;
}

/** Where one attempt connects, and with what. */
export interface AttemptTarget {
  /** The URL to open, the token included when it goes in the query. */
  readonly url: string;
  /** The URL without the token: what `url` shows, so logs never hold a credential. */
  readonly shownUrl: string;
  readonly protocols: string[];
  /** Request headers (the token, with `tokenIn: "header"`), or `undefined`. */
  readonly headers: Record<string, string> | undefined;
}

/** How a token is sent. */
export interface TokenPlacement {
  readonly tokenIn: 'query' | 'header';
  readonly tokenParam: string;
}

/**
 * Calls the providers (all at once: they are independent) and waits for
 * their values. A provider that throws or rejects rejects this, and the
 * attempt fails like a refused connection: it is retried.
 */
export async function provide(
  url: UrlSource,
  protocols: ProtocolsSource | undefined,
  token: TokenSource | undefined,
): Promise<Provided> {
  const [u, p, t] = await Promise.all([call(url), call(protocols), call(token)]);
  return { url: u, protocols: p, token: t };
}

/** A function source's value (a sync throw becomes a rejection); any other source as is. */
function call(source: unknown): Promise<unknown> {
  return typeof source === 'function'
    ? Promise.resolve().then(() => (source as () => unknown)())
    : Promise.resolve(source);
}

/**
 * Checks what the providers gave and puts the token in place. A value that
 * no retry can fix fails the ReconnectingWebSocket for good.
 * @param baseURL - what a relative URL resolves against (a page's), if anything.
 * @throws {DOMException} `SyntaxError` for a URL or protocols the WebSocket
 *   constructor would refuse.
 * @throws {TypeError} for a provider's value of the wrong type.
 */
export function buildTarget(
  provided: Provided,
  placement: TokenPlacement,
  baseURL: string | undefined,
): AttemptTarget {
  const record = providedUrl(provided.url, baseURL);
  const protocols = provided.protocols === undefined ? [] : providedProtocols(provided.protocols);
  const token = provided.token;
  if (token !== undefined && token !== null && typeof token !== 'string') {
    throw new TypeError(`The "token" provider must return a string, got ${describeValue(token)}`);
  }
  const shownUrl = record.href;
  if (!token) return { url: shownUrl, shownUrl, protocols, headers: undefined };
  if (placement.tokenIn === 'header') {
    return { url: shownUrl, shownUrl, protocols, headers: { authorization: `Bearer ${token}` } };
  }
  // Replaces a parameter of the same name, so a signed URL's stale token never travels twice.
  record.searchParams.set(placement.tokenParam, token);
  return { url: record.href, shownUrl, protocols, headers: undefined };
}

/**
 * A URL given as a value to the constructor: converted as WebIDL converts a
 * `USVString`, then checked as the WebSocket constructor checks it.
 * @throws {DOMException} `SyntaxError`.
 */
export function checkUrl(value: unknown, baseURL: string | undefined): URL {
  return getURLRecord(toUSVString(value), baseURL);
}

function providedUrl(value: unknown, baseURL: string | undefined): URL {
  if (typeof value !== 'string' && !(value instanceof URL)) {
    throw new TypeError(
      `The URL provider must return a string or a URL, got ${describeValue(value)}`,
    );
  }
  return checkUrl(value, baseURL);
}

/**
 * Protocols given as a value to the constructor: a string, or any iterable
 * of values converted to strings (WebIDL's `(DOMString or sequence<DOMString>)`),
 * each an HTTP token, none twice.
 * @throws {DOMException} `SyntaxError`, as the WebSocket constructor's steps 3 and 4.
 */
export function checkProtocols(value: unknown): string[] {
  let list: string[];
  if (typeof value === 'object' && value !== null && Symbol.iterator in value) {
    list = Array.from(value as Iterable<unknown>, toDOMString);
  } else {
    list = [toDOMString(value)];
  }
  return validProtocols(list);
}

function providedProtocols(value: unknown): string[] {
  const expected = 'a string or an iterable of strings';
  if (typeof value === 'string') return validProtocols([value]);
  if (typeof value !== 'object' || value === null || !(Symbol.iterator in value)) {
    throw new TypeError(
      `The protocols provider must return ${expected}, got ${describeValue(value)}`,
    );
  }
  const list = Array.from(value as Iterable<unknown>, (item) => {
    if (typeof item !== 'string') {
      throw new TypeError(
        `The protocols provider must return ${expected}, got ${describeValue(item)} in it`,
      );
    }
    return item;
  });
  return validProtocols(list);
}

/** @see https://websockets.spec.whatwg.org/#dom-websocket-websocket steps 3 and 4. */
function validProtocols(list: string[]): string[] {
  for (const protocol of list) {
    if (!isToken(protocol)) {
      throw new DOMException(`The subprotocol '${protocol}' is invalid.`, 'SyntaxError');
    }
  }
  if (new Set(list).size !== list.length) {
    throw new DOMException('The subprotocols must not contain duplicates.', 'SyntaxError');
  }
  return list;
}
