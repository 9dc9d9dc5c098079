/**
 * The `Origin` allow-list. Browsers send `Origin` with every WebSocket
 * handshake and, unlike fetch, apply no same-origin policy to WebSockets: any
 * page can open a connection to any server, carrying that server's cookies.
 * Checking `Origin` is what stops cross-site WebSocket hijacking (RFC 6455
 * §10.2).
 */

/** Options of {@link originAllowList}. */
export interface OriginAllowListOptions {
  /**
   * Whether a request without `Origin` passes. Browsers always send one, so
   * only non-browser clients (which can send any `Origin` they like anyway)
   * lack it. Default `true`.
   */
  allowMissing?: boolean;
}

/** Decides whether an `Origin` may connect; the shape `allowedOrigins` takes. */
export type OriginCheck = (origin: string | undefined) => boolean;

/** A wildcard entry: any subdomain of `suffix` on one scheme and port. */
interface Wildcard {
  readonly protocol: string;
  readonly suffix: string;
  readonly port: string;
}

/** `scheme://authority` with no userinfo, path, query or fragment. */
const ORIGIN_SHAPE = /^[a-z][a-z0-9+.-]*:\/\/[^/?#@\s]+$/i;

/**
 * Builds an `Origin` check from a list of allowed origins, for the
 * `allowedOrigins` option (an array there is passed through this). Each entry
 * is a serialized origin, `scheme://host[:port]` with no path, e.g.
 * `"https://app.example.com"` or `"http://localhost:5173"`; scheme and host
 * compare case-insensitively and a default port may be written or left out.
 * `"https://*.example.com"` allows every subdomain of example.com (not
 * example.com itself) on that scheme and port.
 *
 * @example
 * new WebSocketServer({
 *   port: 8080,
 *   allowedOrigins: originAllowList(['https://example.com', 'https://*.example.com'], {
 *     allowMissing: false,
 *   }),
 * });
 * @throws {TypeError} for an entry that is not an origin (a trailing `/`, a
 *   path, credentials, or a `*` anywhere but a leading `*.` label).
 */
export function originAllowList(
  origins: readonly string[],
  options: OriginAllowListOptions = {},
): OriginCheck {
  if (!Array.isArray(origins)) throw new TypeError('The origin allow-list must be an array');
  const allowMissing = options.allowMissing ?? true;
  const exact = new Set<string>();
  const wildcards: Wildcard[] = [];
  for (const entry of origins) {
    if (typeof entry !== 'string' || !ORIGIN_SHAPE.test(entry)) {
      throw new TypeError(
        `${JSON.stringify(entry)} is not an origin: write scheme://host[:port], without a path or a trailing "/"`,
      );
    }
    const star = entry.indexOf('*');
    if (star !== -1) {
      const url = parseHttpOrigin(entry);
      const host = url?.hostname ?? '';
      if (!host.startsWith('*.') || host.indexOf('*', 1) !== -1 || host.length < 3) {
        throw new TypeError(
          `${JSON.stringify(entry)}: a wildcard must be a leading "*." label of an http(s) origin`,
        );
      }
      wildcards.push({ protocol: url!.protocol, suffix: host.slice(1), port: url!.port });
      continue;
    }
    exact.add(parseHttpOrigin(entry)?.origin ?? entry.toLowerCase());
  }

  return (origin) => {
    if (origin === undefined) return allowMissing;
    const lower = origin.toLowerCase();
    if (exact.has(lower)) return true;
    if (wildcards.length === 0) return false;
    const url = parseHttpOrigin(lower);
    // Only a bare origin matches: "https://a.example.com/x" is not one.
    if (url === undefined || url.origin !== lower) return false;
    return wildcards.some(
      (w) =>
        url.protocol === w.protocol &&
        url.port === w.port &&
        url.hostname.length > w.suffix.length &&
        url.hostname.endsWith(w.suffix),
    );
  };
}

/** Parses an http(s) origin with the WHATWG URL parser; `undefined` otherwise. */
function parseHttpOrigin(text: string): URL | undefined {
  if (!/^https?:\/\//i.test(text)) return undefined;
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
