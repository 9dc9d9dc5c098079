/**
 * Header value grammar used by the handshake: RFC 7230 tokens and lists,
 * and the `Sec-WebSocket-Extensions` grammar of RFC 6455 §9.1.
 */

// prettier-ignore
/**
 * tchar (RFC 7230 §3.2.6), indexed by char code: 1 = allowed in a token.
 *   ! # $ % & ' * + - . ^ _ ` | ~ DIGIT ALPHA
 */
const TOKEN_CHARS = new Uint8Array([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 0x00
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 0x10
  0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, // 0x20   ! " # $ % & ' ( ) * + , - . /
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, // 0x30 0-9 : ; < = > ?
  0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 0x40 @ A-O
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, // 0x50 P-Z [ \ ] ^ _
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 0x60 ` a-o
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, // 0x70 p-z { | } ~ DEL
]);

/** Whether `char` (one UTF-16 code unit) is a tchar. */
export function isTokenChar(code: number): boolean {
  return code < 128 && TOKEN_CHARS[code] === 1;
}

/** Whether `value` is a non-empty RFC 7230 token. */
export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) if (!isTokenChar(value.charCodeAt(i))) return false;
  return true;
}

/**
 * Parses a comma-separated list of tokens (RFC 7230 §7 `1#token`), as in
 * `Connection`, `Upgrade` and `Sec-WebSocket-Protocol`. Empty list elements
 * are skipped, as §7 allows.
 * @returns the tokens in order, or `null` when an element is not a token
 *   or the list is empty.
 */
export function parseTokenList(value: string): string[] | null {
  const tokens: string[] = [];
  for (const element of value.split(',')) {
    const token = element.replace(/^[ \t]+|[ \t]+$/g, '');
    if (token === '') continue;
    if (!isToken(token)) return null;
    tokens.push(token);
  }
  return tokens.length > 0 ? tokens : null;
}

/** Whether the token list `value` contains `token`, compared case-insensitively. */
export function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  const wanted = token.toLowerCase();
  const tokens = parseTokenList(value);
  return tokens !== null && tokens.some((t) => t.toLowerCase() === wanted);
}

/** One parameter of an extension: `name` alone, or `name=value`. */
export interface ExtensionParam {
  readonly name: string;
  /** The value with any quotes removed; `true` for a parameter without one. */
  readonly value: string | true;
}

/** One element of a `Sec-WebSocket-Extensions` header. */
export interface Extension {
  readonly name: string;
  /** Parameters in the order given; duplicates are kept for the extension to judge. */
  readonly params: readonly ExtensionParam[];
}

/**
 * Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1):
 * `extension *( "," extension )`, `extension = token *( ";" param )`,
 * `param = token [ "=" ( token / quoted-string ) ]`, where a quoted value
 * must itself be a token once unquoted.
 * @returns the extensions in order, or `null` when the value is malformed.
 */
export function parseExtensions(value: string): Extension[] | null {
  const extensions: Extension[] = [];
  let i = 0;
  const n = value.length;
  const skipSpace = (): void => {
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && isTokenChar(value.charCodeAt(i))) i++;
    return value.slice(start, i);
  };

  for (;;) {
    skipSpace();
    const name = readToken();
    if (name === '') return null;
    const params: ExtensionParam[] = [];
    skipSpace();
    while (i < n && value[i] === ';') {
      i++;
      skipSpace();
      const paramName = readToken();
      if (paramName === '') return null;
      skipSpace();
      let paramValue: string | true = true;
      if (value[i] === '=') {
        i++;
        skipSpace();
        if (value[i] === '"') {
          i++;
          let unquoted = '';
          while (i < n && value[i] !== '"') {
            if (value[i] === '\\') i++;
            if (i >= n) return null;
            unquoted += value[i];
            i++;
          }
          if (value[i] !== '"') return null;
          i++;
          if (!isToken(unquoted)) return null;
          paramValue = unquoted;
        } else {
          paramValue = readToken();
          if (paramValue === '') return null;
        }
        skipSpace();
      }
      params.push({ name: paramName, value: paramValue });
    }
    extensions.push({ name, params });
    if (i === n) return extensions;
    if (value[i] !== ',') return null;
    i++;
  }
}

/** Formats extensions for a `Sec-WebSocket-Extensions` header. */
export function serializeExtensions(extensions: readonly Extension[]): string {
  return extensions
    .map((extension) =>
      [
        extension.name,
        ...extension.params.map((p) => (p.value === true ? p.name : `${p.name}=${p.value}`)),
      ].join('; '),
    )
    .join(', ');
}
