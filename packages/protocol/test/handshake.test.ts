import { createHash } from 'node:crypto';
import { describe, expect, test, vi } from 'vitest';
import {
  type HttpHeaders,
  ClientConnection,
  HandshakeError,
  RESERVED_REQUEST_HEADERS,
  acceptKey,
  acceptRequest,
  buildAcceptResponse,
  buildClientRequest,
  buildRejectResponse,
  checkRequestHeaders,
  generateKey,
  parseRequestHead,
  parseResponseHead,
  splitHead,
  validateRequest,
  validateResponse,
} from '@proj/protocol';
import { decodeBase64 } from '../src/base64.js';
import { ACCEPT, KEY, expectWsError, thrown, utf8 } from './helpers.js';

const nodeSha1 = (data: Uint8Array): Uint8Array =>
  new Uint8Array(createHash('sha1').update(data).digest());

describe('acceptKey', () => {
  test('computes the RFC 6455 §1.3 example', () => {
    expect(acceptKey(KEY)).toBe(ACCEPT);
  });

  test('gives the same answer with an injected node:crypto SHA-1', () => {
    expect(acceptKey(KEY, nodeSha1)).toBe(ACCEPT);
    for (let i = 0; i < 20; i++) {
      const key = generateKey();
      expect(acceptKey(key)).toBe(acceptKey(key, nodeSha1));
    }
  });
});

describe('generateKey', () => {
  test('is base64 of 16 bytes, fresh each time', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const key = generateKey();
      expect(key).toMatch(/^[A-Za-z0-9+/]{22}==$/);
      expect(decodeBase64(key)).toHaveLength(16);
      keys.add(key);
    }
    expect(keys.size).toBe(100);
  });
});

/** A valid opening handshake request, with header overrides (undefined deletes). */
function request(
  headers: Record<string, string | string[] | undefined> = {},
  line: { method?: string; httpVersion?: string } = {},
): { method: string; httpVersion: string; headers: HttpHeaders } {
  const all: Record<string, string | string[] | undefined> = {
    host: 'server.example.com',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': KEY,
    'sec-websocket-version': '13',
    ...headers,
  };
  for (const name of Object.keys(all)) if (all[name] === undefined) delete all[name];
  return { method: line.method ?? 'GET', httpVersion: line.httpVersion ?? '1.1', headers: all };
}

function rejection(req: ReturnType<typeof request>): HandshakeError {
  return thrown(() => validateRequest(req)) as HandshakeError;
}

describe('validateRequest', () => {
  test('accepts the RFC 6455 §1.3 request', () => {
    const head = parseRequestHead(
      utf8(
        'GET /chat HTTP/1.1\r\n' +
          'Host: server.example.com\r\n' +
          'Upgrade: websocket\r\n' +
          'Connection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
          'Origin: http://example.com\r\n' +
          'Sec-WebSocket-Protocol: chat, superchat\r\n' +
          'Sec-WebSocket-Version: 13',
      ),
    );
    expect(validateRequest(head)).toEqual({
      key: KEY,
      protocols: ['chat', 'superchat'],
      extensions: [],
      origin: 'http://example.com',
    });
  });

  test('returns no protocols, extensions or origin when none were sent', () => {
    expect(validateRequest(request())).toEqual({
      key: KEY,
      protocols: [],
      extensions: [],
      origin: undefined,
    });
  });

  test('parses the offered extensions', () => {
    const result = validateRequest(
      request({ 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' }),
    );
    expect(result.extensions).toEqual([
      { name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: true }] },
    ]);
  });

  test('reads Node-style repeated headers (arrays)', () => {
    const result = validateRequest(
      request({ 'sec-websocket-protocol': ['chat', 'superchat'], origin: ['a', 'b'] }),
    );
    expect(result.protocols).toEqual(['chat', 'superchat']);
    // Two Origin headers: none that can be trusted.
    expect(result.origin).toBeUndefined();
  });

  test.each([
    ['Upgrade: WebSocket', { upgrade: 'WebSocket' }],
    ['Upgrade: h2c, websocket', { upgrade: 'h2c, websocket' }],
    ['Connection: keep-alive, Upgrade', { connection: 'keep-alive, Upgrade' }],
    ['Connection: upgrade', { connection: 'upgrade' }],
    ['Connection: Upgrade, keep-alive', { connection: 'Upgrade, keep-alive' }],
  ])('reads Upgrade and Connection as case-insensitive token lists (%s)', (_name, headers) => {
    expect(validateRequest(request(headers)).key).toBe(KEY);
  });

  test.each(['POST', 'CONNECT', 'get'])(
    'the method %s is 405 WS_ERR_HANDSHAKE_METHOD with Allow: GET and the one wording',
    (method) => {
      const error = rejection(request({}, { method }));
      expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_METHOD', 1006, 405);
      expect(error.headers).toEqual({ allow: 'GET' });
      // The servers answer with exactly this (a CONNECT too): one rule, one text.
      expect(error.message).toBe('Method must be GET');
    },
  );

  test.each(['1.0', '0.9'])('HTTP/%s is 400 WS_ERR_HANDSHAKE_HTTP_VERSION', (version) => {
    const error = rejection(request({}, { httpVersion: version }));
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_HTTP_VERSION', 1006, 400);
  });

  test.each([
    ['missing', { host: undefined }],
    ['empty', { host: '' }],
    ['repeated', { host: ['a', 'b'] }],
  ])('a %s Host is 400 WS_ERR_HANDSHAKE_HOST', (_name, headers) => {
    expectWsError(rejection(request(headers)), HandshakeError, 'WS_ERR_HANDSHAKE_HOST', 1006, 400);
  });

  test('a Host given as a one-element array is fine', () => {
    expect(validateRequest(request({ host: ['a'] })).key).toBe(KEY);
  });

  test.each([
    ['missing', { upgrade: undefined }],
    ['another protocol', { upgrade: 'h2c' }],
    ['malformed', { upgrade: 'web socket' }],
  ])('an Upgrade header %s is 400 WS_ERR_HANDSHAKE_UPGRADE', (_name, headers) => {
    expectWsError(
      rejection(request(headers)),
      HandshakeError,
      'WS_ERR_HANDSHAKE_UPGRADE',
      1006,
      400,
    );
  });

  test.each([
    ['missing', { connection: undefined }],
    ['without Upgrade', { connection: 'keep-alive' }],
    ['naming "upgrades"', { connection: 'upgrades' }],
  ])('a Connection header %s is 400 WS_ERR_HANDSHAKE_CONNECTION', (_name, headers) => {
    expectWsError(
      rejection(request(headers)),
      HandshakeError,
      'WS_ERR_HANDSHAKE_CONNECTION',
      1006,
      400,
    );
  });

  test.each([
    ['missing', undefined],
    ['not base64', 'not base64 at all!'],
    ['base64 of 15 bytes', 'AAAAAAAAAAAAAAAAAAAA'],
    ['base64 of 17 bytes', 'AAAAAAAAAAAAAAAAAAAAAAA='],
    ['unpadded', 'dGhlIHNhbXBsZSBub25jZQ'],
    ['repeated', [KEY, KEY]],
  ])('a key %s is 400 WS_ERR_HANDSHAKE_KEY', (_name, key) => {
    expectWsError(
      rejection(request({ 'sec-websocket-key': key })),
      HandshakeError,
      'WS_ERR_HANDSHAKE_KEY',
      1006,
      400,
    );
  });

  test.each(['8', '7', '14', '0'])(
    'version %s is 426 WS_ERR_HANDSHAKE_VERSION with Sec-WebSocket-Version: 13',
    (version) => {
      const error = rejection(request({ 'sec-websocket-version': version }));
      expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_VERSION', 1006, 426);
      expect(error.headers).toEqual({ 'sec-websocket-version': '13' });
    },
  );

  test.each([
    ['missing', undefined],
    ['not a number', 'thirteen'],
    ['a list', '13, 8'],
    ['too long', '0013'],
    ['repeated', ['13', '13']],
  ])('a version %s is 400 WS_ERR_HANDSHAKE_VERSION', (_name, version) => {
    const error = rejection(request({ 'sec-websocket-version': version }));
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_VERSION', 1006, 400);
    expect(error.headers).toEqual({ 'sec-websocket-version': '13' });
  });

  test.each([
    ['duplicate', 'chat, chat'],
    ['not tokens', 'chat, super chat'],
    ['empty', ''],
    ['only commas', ', ,'],
  ])('%s subprotocols are 400 WS_ERR_HANDSHAKE_PROTOCOL', (_name, value) => {
    expectWsError(
      rejection(request({ 'sec-websocket-protocol': value })),
      HandshakeError,
      'WS_ERR_HANDSHAKE_PROTOCOL',
      1006,
      400,
    );
  });

  test.each(['', 'x;', 'x; a="1', 'x y'])(
    'malformed extensions %j are 400 WS_ERR_HANDSHAKE_EXTENSIONS',
    (value) => {
      expectWsError(
        rejection(request({ 'sec-websocket-extensions': value })),
        HandshakeError,
        'WS_ERR_HANDSHAKE_EXTENSIONS',
        1006,
        400,
      );
    },
  );

  test('checks in order: method before version before host', () => {
    const error = rejection(request({ host: undefined }, { method: 'PUT', httpVersion: '1.0' }));
    expect(error.code).toBe('WS_ERR_HANDSHAKE_METHOD');
  });
});

describe('buildAcceptResponse', () => {
  test('answers the RFC 6455 §1.3 request', () => {
    expect(buildAcceptResponse({ key: KEY })).toBe(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
        '\r\n',
    );
  });

  test('names the chosen subprotocol, extensions and extra headers', () => {
    expect(
      buildAcceptResponse({
        key: KEY,
        protocol: 'chat',
        extensions: 'permessage-deflate',
        headers: { 'Set-Cookie': ['a=1', 'b=2'], 'X-Id': '7' },
      }),
    ).toBe(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
        'Sec-WebSocket-Protocol: chat\r\n' +
        'Sec-WebSocket-Extensions: permessage-deflate\r\n' +
        'Set-Cookie: a=1\r\n' +
        'Set-Cookie: b=2\r\n' +
        'X-Id: 7\r\n' +
        '\r\n',
    );
  });

  test('an empty protocol or extensions string means none (no empty header field)', () => {
    const head = buildAcceptResponse({ key: KEY, protocol: '', extensions: '' });
    expect(head).not.toMatch(/Sec-WebSocket-Protocol/);
    expect(head).not.toMatch(/Sec-WebSocket-Extensions/);
  });

  test('uses an injected SHA-1', () => {
    const sha1 = vi.fn(nodeSha1);
    expect(buildAcceptResponse({ key: KEY, sha1 })).toContain(ACCEPT);
    expect(sha1).toHaveBeenCalledOnce();
  });

  test('a precomputed accept value is used as given, without hashing', () => {
    const sha1 = vi.fn(nodeSha1);
    expect(buildAcceptResponse({ key: KEY, accept: ACCEPT, sha1 })).toBe(
      buildAcceptResponse({ key: KEY }),
    );
    expect(sha1).not.toHaveBeenCalled();
  });

  test.each([
    ['a subprotocol with CRLF', { protocol: 'chat\r\nX-Evil: 1' }],
    ['a subprotocol that is not a token', { protocol: 'chat room' }],
    ['extensions with CRLF', { extensions: 'x\r\nX-Evil: 1' }],
    ['a header value with CRLF', { headers: { 'X-A': 'a\r\nX-Evil: 1' } }],
    ['a header value with a bare LF', { headers: { 'X-A': ['ok', 'a\nb'] } }],
    ['a header value with NUL', { headers: { 'X-A': 'a\u0000' } }],
    ['a header name that is not a token', { headers: { 'X A': 'a' } }],
    ['a header name with CRLF', { headers: { 'X\r\nY': 'a' } }],
  ])('refuses header injection through %s with a TypeError', (_name, options) => {
    expect(() => buildAcceptResponse({ key: KEY, ...options })).toThrow(TypeError);
  });
});

describe('acceptRequest (python-websockets ServerProtocol.accept)', () => {
  const validated = (
    protocols: readonly string[],
  ): { key: string; protocols: readonly string[] } => ({
    key: KEY,
    protocols,
  });

  test('the 101 for the request, with a subprotocol the client offered', () => {
    const head = acceptRequest(validated(['a', 'b']), { protocol: 'b' });
    expect(head).toBe(buildAcceptResponse({ key: KEY, protocol: 'b' }));
    expect(head).toContain('Sec-WebSocket-Protocol: b\r\n');
    expect(acceptRequest(validated(['a']))).toBe(buildAcceptResponse({ key: KEY }));
  });

  test.each<[string, readonly string[], string]>([
    ['one the client did not offer', ['a'], 'c'],
    ['any, when the client offered none', [], 'a'],
    ['"" (none is undefined)', ['a'], ''],
    ['one differing in case', ['chat'], 'Chat'],
  ])('refuses %s with a TypeError naming it', (_name, offered, chosen) => {
    expect(() => acceptRequest(validated(offered), { protocol: chosen })).toThrow(
      new TypeError(`Subprotocol "${chosen}" was chosen, but the client did not offer it`),
    );
  });

  test('buildAcceptResponse applies the rule when given the offer, and only then', () => {
    expect(() => buildAcceptResponse({ key: KEY, offered: ['a'], protocol: 'b' })).toThrow(
      /did not offer/,
    );
    expect(buildAcceptResponse({ key: KEY, protocol: 'b' })).toContain('Sec-WebSocket-Protocol: b');
  });
});

describe('buildRejectResponse', () => {
  test('builds a complete 400 that closes the connection', () => {
    expect(buildRejectResponse(400)).toBe(
      'HTTP/1.1 400 Bad Request\r\n' +
        'Connection: close\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 11\r\n' +
        '\r\n' +
        'Bad Request',
    );
  });

  test("carries a HandshakeError's status and headers (426 with Sec-WebSocket-Version)", () => {
    const error = rejection(request({ 'sec-websocket-version': '8' }));
    const response = buildRejectResponse(error.status, { headers: error.headers });
    expect(response).toMatch(/^HTTP\/1\.1 426 Upgrade Required\r\n/);
    expect(response).toContain('\r\nsec-websocket-version: 13\r\n');
    expect(response.endsWith('\r\n\r\nUpgrade Required')).toBe(true);
  });

  test('counts Content-Length in UTF-8 bytes of the body', () => {
    const response = buildRejectResponse(403, { body: 'Interdit: café' });
    expect(response).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(response).toContain('Content-Length: 15\r\n');
    expect(response.endsWith('\r\n\r\nInterdit: café')).toBe(true);
  });

  test.each([
    [401, 'Unauthorized'],
    [404, 'Not Found'],
    [405, 'Method Not Allowed'],
    [408, 'Request Timeout'],
    [429, 'Too Many Requests'],
    [431, 'Request Header Fields Too Large'],
    [500, 'Internal Server Error'],
    [503, 'Service Unavailable'],
    [418, 'Error'],
  ])('uses the status text for %i (%s)', (status, text) => {
    expect(buildRejectResponse(status)).toMatch(new RegExp(`^HTTP/1\\.1 ${status} ${text}\\r\\n`));
  });

  test('is parseable as an HTTP response', () => {
    const bytes = utf8(buildRejectResponse(405, { headers: { allow: 'GET' } }));
    const split = splitHead(bytes)!;
    const head = parseResponseHead(split.head);
    expect(head.status).toBe(405);
    expect(head.headers['allow']).toBe('GET');
    expect(head.headers['content-length']).toBe(String(split.rest.length));
  });

  test('refuses header injection with a TypeError', () => {
    expect(() => buildRejectResponse(400, { headers: { 'X-A': 'a\r\nb' } })).toThrow(TypeError);
  });
});

describe('buildClientRequest', () => {
  test('contains every header RFC 6455 §4.1 requires', () => {
    expect(buildClientRequest({ host: 'server.example.com', path: '/chat', key: KEY })).toBe(
      'GET /chat HTTP/1.1\r\n' +
        'Host: server.example.com\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        'Sec-WebSocket-Version: 13\r\n' +
        '\r\n',
    );
  });

  test('offers subprotocols, extensions, origin and extra headers; path defaults to /', () => {
    const head = buildClientRequest({
      host: 'h:8080',
      key: KEY,
      protocols: ['chat', 'superchat'],
      extensions: 'permessage-deflate; client_max_window_bits',
      origin: 'http://example.com',
      headers: { Cookie: 'a=1', 'X-Multi': ['1', '2'] },
    });
    expect(head).toBe(
      'GET / HTTP/1.1\r\n' +
        'Host: h:8080\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        'Sec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Protocol: chat, superchat\r\n' +
        'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' +
        'Origin: http://example.com\r\n' +
        'Cookie: a=1\r\n' +
        'X-Multi: 1\r\n' +
        'X-Multi: 2\r\n' +
        '\r\n',
    );
  });

  test('produces a request validateRequest accepts', () => {
    const bytes = utf8(
      buildClientRequest({ host: 'h', path: '/x?y=1', key: generateKey(), protocols: ['a', 'b'] }),
    );
    const split = splitHead(bytes)!;
    expect(split.rest).toHaveLength(0);
    const head = parseRequestHead(split.head);
    expect(head.target).toBe('/x?y=1');
    expect(validateRequest(head).protocols).toEqual(['a', 'b']);
  });

  test.each([['chat room'], [''], ['a,b'], ['caf\u00e9']])(
    'refuses a subprotocol %j that is not a token with a TypeError',
    (protocol) => {
      expect(() => buildClientRequest({ host: 'h', key: KEY, protocols: [protocol] })).toThrow(
        TypeError,
      );
    },
  );

  test.each([
    ['the host', { host: 'h\r\nX-Evil: 1' }],
    ['the key', { key: `${KEY}\r\nX-Evil: 1` }],
    ['the origin', { origin: 'o\nX-Evil: 1' }],
    ['the extensions', { extensions: 'x\r\nX-Evil: 1' }],
    ['a header value', { headers: { A: 'a\r\nX-Evil: 1' } }],
    ['a header name', { headers: { 'A: b\r\nX-Evil': 'c' } }],
    ['the path (CRLF)', { path: '/ HTTP/1.1\r\nX-Evil: 1\r\n' }],
    ['the path (space)', { path: '/a b' }],
    ['the path (empty)', { path: '' }],
    ['the path (NUL)', { path: '/\u0000' }],
  ])('refuses header injection through %s with a TypeError', (_name, options) => {
    expect(() => buildClientRequest({ host: 'h', key: KEY, ...options })).toThrow(TypeError);
  });

  test.each([
    'Host',
    'upgrade',
    'CONNECTION',
    'Sec-WebSocket-Key',
    'sec-websocket-version',
    'Sec-WebSocket-Protocol',
    'Sec-WebSocket-Extensions',
  ])('refuses an extra %s header: the handshake sets it (no second one)', (name) => {
    const message = `Header "${name}" is set by the opening handshake itself`;
    expect(() => buildClientRequest({ host: 'h', key: KEY, headers: { [name]: 'x' } })).toThrow(
      new TypeError(message),
    );
    expect(() => checkRequestHeaders({ [name]: ['x'] })).toThrow(new TypeError(message));
    // A direct ClientConnection user meets the same rule.
    expect(
      () => new ClientConnection({ host: 'h', headers: { [name]: 'x' }, handler: {} as never }),
    ).toThrow(new TypeError(message));
  });

  test('RESERVED_REQUEST_HEADERS lists every field buildClientRequest writes itself', () => {
    const head = buildClientRequest({ host: 'h', key: KEY, protocols: ['p'], extensions: 'e' });
    const written = head
      .split('\r\n')
      .slice(1, -2)
      .map((line) => line.slice(0, line.indexOf(':')).toLowerCase());
    expect([...RESERVED_REQUEST_HEADERS].sort()).toEqual(written.sort());
  });

  test('checkRequestHeaders passes what buildClientRequest accepts, and checks names and values', () => {
    expect(() => checkRequestHeaders(undefined)).not.toThrow();
    expect(() => checkRequestHeaders({ Origin: 'https://a', 'X-A': ['1', '2'] })).not.toThrow();
    expect(() => checkRequestHeaders({ 'Bad Name': 'x' })).toThrow(TypeError);
    expect(() => checkRequestHeaders({ 'X-A': 'a\r\nX-Evil: 1' })).toThrow(TypeError);
  });
});

/** A parsed 101 response for KEY, with header overrides (undefined deletes). */
function response(
  headers: Record<string, string | undefined> = {},
  status = 101,
): Parameters<typeof validateResponse>[0] {
  const all: Record<string, string | undefined> = {
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-accept': ACCEPT,
    ...headers,
  };
  for (const name of Object.keys(all)) if (all[name] === undefined) delete all[name];
  return { httpVersion: '1.1', status, statusText: '', headers: all as Record<string, string> };
}

describe('validateResponse', () => {
  test('accepts the RFC 6455 §1.3 answer', () => {
    expect(validateResponse(response(), { key: KEY })).toEqual({
      protocol: '',
      extensions: [],
      extensionsHeader: '',
    });
  });

  test('accepts Upgrade and Connection case-insensitively, as token lists', () => {
    const ok = response({ upgrade: 'WebSocket', connection: 'keep-alive, upgrade' });
    expect(validateResponse(ok, { key: KEY }).protocol).toBe('');
  });

  test('returns the offered subprotocol the server chose', () => {
    const ok = response({ 'sec-websocket-protocol': 'superchat' });
    expect(validateResponse(ok, { key: KEY, protocols: ['chat', 'superchat'] }).protocol).toBe(
      'superchat',
    );
  });

  test('returns the offered extensions the server accepted', () => {
    const ok = response({
      'sec-websocket-extensions': 'permessage-deflate; server_no_context_takeover',
    });
    expect(validateResponse(ok, { key: KEY, extensions: ['permessage-deflate'] })).toEqual({
      protocol: '',
      extensions: [
        {
          name: 'permessage-deflate',
          params: [{ name: 'server_no_context_takeover', value: true }],
        },
      ],
      extensionsHeader: 'permessage-deflate; server_no_context_takeover',
    });
  });

  test('refuses any subprotocol when the client offered none', () => {
    const error = thrown(() =>
      validateResponse(response({ 'sec-websocket-protocol': 'chat' }), { key: KEY }),
    );
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_PROTOCOL', 1006, 101);
  });

  test('uses an injected SHA-1', () => {
    const sha1 = vi.fn(nodeSha1);
    validateResponse(response(), { key: KEY, sha1 });
    expect(sha1).toHaveBeenCalledOnce();
  });

  test.each([
    ['a 200', response({}, 200), 'WS_ERR_HANDSHAKE_STATUS', 200],
    ['a 403', response({}, 403), 'WS_ERR_HANDSHAKE_STATUS', 403],
    ['no Upgrade', response({ upgrade: undefined }), 'WS_ERR_HANDSHAKE_UPGRADE', 101],
    ['Upgrade: h2c', response({ upgrade: 'h2c' }), 'WS_ERR_HANDSHAKE_UPGRADE', 101],
    // RFC 6455 §4.1: the value must match "websocket", not merely list it.
    [
      'Upgrade: h2c, websocket',
      response({ upgrade: 'h2c, websocket' }),
      'WS_ERR_HANDSHAKE_UPGRADE',
      101,
    ],
    ['no Connection', response({ connection: undefined }), 'WS_ERR_HANDSHAKE_CONNECTION', 101],
    ['Connection: close', response({ connection: 'close' }), 'WS_ERR_HANDSHAKE_CONNECTION', 101],
    ['no accept', response({ 'sec-websocket-accept': undefined }), 'WS_ERR_HANDSHAKE_ACCEPT', 101],
    [
      'a wrong accept',
      response({ 'sec-websocket-accept': 'x3JJHMbDL1EzLkh9GBhXDw==' }),
      'WS_ERR_HANDSHAKE_ACCEPT',
      101,
    ],
    [
      'a subprotocol that was not offered',
      response({ 'sec-websocket-protocol': 'other' }),
      'WS_ERR_HANDSHAKE_PROTOCOL',
      101,
    ],
    [
      'a list of subprotocols',
      response({ 'sec-websocket-protocol': 'chat, superchat' }),
      'WS_ERR_HANDSHAKE_PROTOCOL',
      101,
    ],
    [
      'an extension that was not offered',
      response({ 'sec-websocket-extensions': 'permessage-deflate' }),
      'WS_ERR_HANDSHAKE_EXTENSIONS',
      101,
    ],
    [
      'malformed extensions',
      response({ 'sec-websocket-extensions': 'chat;' }),
      'WS_ERR_HANDSHAKE_EXTENSIONS',
      101,
    ],
  ])('fails %s with its code and the received status', (_name, res, code, status) => {
    const error = thrown(() => validateResponse(res, { key: KEY, protocols: ['chat'] }));
    expectWsError(error, HandshakeError, code, 1006, status);
    expect((error as HandshakeError).headers).toEqual(res.headers);
  });
});
