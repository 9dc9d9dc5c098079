/**
 * A proxy URL, from the `proxy` option or from an environment variable,
 * checked and turned into what dialing needs: where the proxy listens and
 * the `Proxy-Authorization` to send it. Only `http:` proxies: the client
 * speaks plain HTTP to the proxy and asks it for a tunnel (CONNECT); a
 * `wss:` connection stays encrypted end to end inside that tunnel.
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import { describeValue, optionError } from '@proj/protocol';

/** A proxy to dial, checked. */
export interface ProxyEndpoint {
  /** Host name or IP address to dial; an IPv6 address without brackets. */
  readonly host: string;
  /** Its port: the URL's, or 80. */
  readonly port: number;
  /** The `Proxy-Authorization` value (`Basic ...`) when the URL holds credentials. */
  readonly authorization: string | undefined;
  /** The user name the credentials are for, percent-decoded; for messages. */
  readonly username: string | undefined;
  /** `http://host:port`: the proxy as messages show it, never with its credentials. */
  readonly url: string;
}

/** The default port of an `http:` URL, hence of a proxy URL without one. */
const HTTP_PORT = 80;

/** A URL that starts with its scheme. */
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The form every message asks for. */
const FORM = 'http://[user:pass@]host:port';

/** Where a proxy URL came from: how messages name it, and what they suggest. */
interface Source {
  /** `The "proxy" option`, `The HTTPS_PROXY environment variable`. */
  readonly label: string;
  /** Appended to every message. */
  readonly hint: string;
}

/**
 * Checks the `proxy` option: a proxy URL (a string or a `URL`), `false` for
 * no proxy whatever the environment says, or `undefined` for the
 * environment's choice.
 * @throws {TypeError} naming the option, for any other value or a URL that
 *   is not `http://[user:pass@]host:port`.
 */
export function proxyOption(value: unknown): ProxyEndpoint | false | undefined {
  if (value === undefined || value === false) return value;
  const source: Source = { label: 'The "proxy" option', hint: '' };
  if (value instanceof URL) return toEndpoint(new URL(value.href), source);
  if (typeof value !== 'string') {
    throw optionError(TypeError, 'proxy', `an ${FORM} URL (a string or a URL) or false`, value);
  }
  if (!SCHEME.test(value)) {
    // "proxy:3128" would parse as a URL of scheme "proxy:".
    throw new TypeError(
      `${source.label} must be an ${FORM} URL, with its scheme, got ${describeValue(redact(value))}`,
    );
  }
  return toEndpoint(parse(value, source), source);
}

/**
 * Reads a proxy environment variable's value. As curl does, a value without
 * a scheme (`proxy.internal:3128`) is an `http:` URL.
 * @param name - the variable, for messages (`HTTPS_PROXY`).
 * @throws {TypeError} naming the variable, for a value that is not
 *   `[http://][user:pass@]host:port`.
 */
export function proxyFromVariable(name: string, value: string): ProxyEndpoint {
  const text = value.trim();
  const source: Source = {
    label: `The ${name} environment variable`,
    hint: '; fix it, or pass { proxy: false } to connect directly',
  };
  const withScheme = SCHEME.test(text) ? text : `http://${text}`;
  return toEndpoint(parse(withScheme, source), source);
}

function parse(text: string, source: Source): URL {
  try {
    return new URL(text);
  } catch (error) {
    throw new TypeError(
      `${source.label} must be an ${FORM} URL, got ${describeValue(redact(text))}${source.hint}`,
      { cause: error },
    );
  }
}

function toEndpoint(url: URL, source: Source): ProxyEndpoint {
  const shown = (): string => describeValue(redact(url.href));
  if (url.protocol === 'https:') {
    throw new TypeError(
      `${source.label} is an https: URL, ${shown()}: TLS to the proxy is not supported; ` +
        `give its http: URL (${FORM}), a wss: connection stays encrypted end to end ` +
        `through the tunnel${source.hint}`,
    );
  }
  if (url.protocol !== 'http:') {
    throw new TypeError(
      `${source.label} must be an ${FORM} URL, got ${shown()}: ` +
        `${url.protocol} proxies are not supported${source.hint}`,
    );
  }
  // The WHATWG parser gives an http: URL without a path the path "/".
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    throw new TypeError(
      `${source.label} must be an ${FORM} URL, without a path, query or fragment, ` +
        `got ${shown()}${source.hint}`,
    );
  }
  const port = url.port === '' ? HTTP_PORT : Number(url.port);
  const credentials = readCredentials(url, source);
  return {
    // URL.hostname keeps the brackets of an IPv6 literal; sockets want it bare.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    authorization: credentials && basicAuthorization(credentials.username, credentials.password),
    username: credentials?.username,
    url: `http://${url.hostname}:${port}`,
  };
}

/** The URL's user name and password, percent-decoded; `undefined` when it has neither. */
function readCredentials(
  url: URL,
  source: Source,
): { username: string; password: string } | undefined {
  if (url.username === '' && url.password === '') return undefined;
  let username: string;
  let password: string;
  try {
    username = decodeURIComponent(url.username);
    password = decodeURIComponent(url.password);
  } catch (error) {
    throw new TypeError(
      `${source.label} holds credentials that are not valid percent-encoding ` +
        `(write a "%" as %25)${source.hint}`,
      { cause: error },
    );
  }
  // RFC 7617 §2: "a user-id containing a colon character is invalid", since
  // the first colon of user-pass is what ends it.
  if (username.includes(':')) {
    throw new TypeError(
      `${source.label} holds a user name with a ":", which Basic authentication ` +
        `cannot carry (RFC 7617 §2)${source.hint}`,
    );
  }
  return { username, password };
}

/**
 * `Basic base64(user ":" pass)`, the credentials as UTF-8 (RFC 7617 §2.1:
 * the charset every current client and proxy uses).
 */
function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** `value` with whatever stands before an `@` of its authority hidden, for messages. */
function redact(value: string): string {
  return value.replace(/^((?:[a-z][a-z0-9+.-]*:)?\/\/)?[^/?#]*@/i, '$1***@');
}
