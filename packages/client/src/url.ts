/**
 * The WebSocket spec's URL handling, on top of the WHATWG URL parser that
 * Node's `URL` implements.
 * @packageDocumentation
 */

/**
 * Parses the URL given to the WebSocket constructor: `http:` becomes `ws:`,
 * `https:` becomes `wss:`, and anything else that is not `ws:`/`wss:`, or that
 * carries a fragment, is a `SyntaxError`. Node has no document, so a relative
 * URL only parses against an explicit `baseURL`.
 * @throws {DOMException} `SyntaxError` as above.
 * @see https://websockets.spec.whatwg.org/#get-a-url-record
 */
export function getURLRecord(url: string, baseURL?: string): URL {
  // 1. Let urlRecord be the result of applying the URL parser to url with baseURL.
  let urlRecord: URL;
  try {
    urlRecord = new URL(url, baseURL);
  } catch {
    // 2. If urlRecord is failure, then throw a "SyntaxError" DOMException.
    throw new DOMException(`The URL '${url}' is invalid.`, 'SyntaxError');
  }
  // 3. If urlRecord's scheme is "http", then set urlRecord's scheme to "ws".
  // 4. Otherwise, if urlRecord's scheme is "https", set urlRecord's scheme to "wss".
  // Both are special schemes with the same default port, so the setter keeps
  // the rest of the record as it is.
  if (urlRecord.protocol === 'http:') urlRecord.protocol = 'ws:';
  else if (urlRecord.protocol === 'https:') urlRecord.protocol = 'wss:';
  // 5. If urlRecord's scheme is not "ws" or "wss", then throw a "SyntaxError" DOMException.
  if (urlRecord.protocol !== 'ws:' && urlRecord.protocol !== 'wss:') {
    throw new DOMException(
      `The URL's scheme must be either 'http', 'https', 'ws', or 'wss'. '${urlRecord.protocol}' is not allowed.`,
      'SyntaxError',
    );
  }
  // 6. If urlRecord's fragment is non-null, then throw a "SyntaxError" DOMException.
  // `hash` is "" for both a null and an empty fragment; the serialization
  // tells them apart, since "#" can only appear there as the fragment delimiter.
  if (urlRecord.href.includes('#')) {
    throw new DOMException(
      `The URL contains a fragment identifier ('${urlRecord.hash}'). Fragment identifiers are not allowed in WebSocket URLs.`,
      'SyntaxError',
    );
  }
  // 7. Return urlRecord.
  return urlRecord;
}
