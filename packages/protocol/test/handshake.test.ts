import { createHash } from 'node:crypto';
import { describe, expect, test, vi } from 'vitest';
import {
  type HttpHeaders,
  ClientConnection,
  HandshakeError,
  parseRequestHead,
  parseResponseHead,
  splitHead,
} from '@proj/protocol';
import * as handshake from '../src/handshake.js';
import { decodeBase64 } from '../src/base64.js';
import { ACCEPT, KEY, expectWsError, thrown, utf8 } from './helpers.js';

const nodeSha1 = (data: Uint8Array): Uint8Array =>
  new Uint8Array(createHash('sha1').update(data).digest());

describe('acceptKey', () => {
  test('computes the RFC 6455 §1.3 example', () => {
    expect(handshake.acceptKey(KEY)).toBe(ACCEPT);
  });

  test('gives the same answer with an injected node:crypto SHA-1', () => {
    expect(handshake.acceptKey(KEY, nodeSha1)).toBe(ACCEPT);
    for (let i = 0; i < 20; i++) {
      const key = handshake.generateKey();
      expect(handshake.acceptKey(key)).toBe(handshake.acceptKey(key, nodeSha1));
    }
  });
});

describe('generateKey', () => {
  test('is base64 of 16 bytes, fresh each time', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const key = handshake.generateKey();
      expect(key).toMatch(/^[A-Za-z0-9+/]{22}==$/);
      expect(decodeBase64(key)).toHaveLength(16);
      keys.add(key);
    }
    expect(keys.size).toBe(100);
  });

  test('draws its random bytes 4 KiB at a time, never reusing one: 256 keys a call', () => {
    const draws = vi.spyOn(crypto, 'getRandomValues');
    try {
      const keys = new Set<string>();
      for (let i = 0; i < 1000; i++) keys.add(handshake.generateKey());
      expect(keys.size).toBe(1000);
      expect(draws.mock.calls.length).toBeGreaterThanOrEqual(3);
      expect(draws.mock.calls.length).toBeLessThanOrEqual(4);
      for (const [array] of draws.mock.calls) expect(array.byteLength).toBe(4096);
    } finally {
      draws.mockRestore();
    }
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

/** What validateRequest throws for `req`: a HandshakeError with `code` and the `status` to send. */
function rejection(req: ReturnType<typeof request>, code: string, status: number): HandshakeError {
  const error = thrown(() => handshake.validateRequest(req)) as HandshakeError;
  expectWsError(error, HandshakeError, code, 1006, status);
  return error;
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
    expect(handshake.validateRequest(head)).toEqual({
      key: KEY,
      protocols: ['chat', 'superchat'],
      extensions: [],
      origin: 'http://example.com',
    });
  });

  test('returns no protocols, extensions or origin when none were sent', () => {
    expect(handshake.validateRequest(request())).toEqual({
      key: KEY,
      protocols: [],
      extensions: [],
      origin: undefined,
    });
  });

  test('parses the offered extensions', () => {
    const result = handshake.validateRequest(
      request({ 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' }),
    );
    expect(result.extensions).toEqual([
      { name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: true }] },
    ]);
  });

  test('reads Node-style repeated headers (arrays)', () => {
    const result = handshake.validateRequest(
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
    expect(handshake.validateRequest(request(headers)).key).toBe(KEY);
  });

  test.each(['POST', 'CONNECT', 'get'])(
    'the method %s is 405 WS_ERR_HANDSHAKE_METHOD with Allow: GET and the one wording',
    (method) => {
      const error = rejection(request({}, { method }), 'WS_ERR_HANDSHAKE_METHOD', 405);
      expect(error.headers).toEqual({ allow: 'GET' });
      // The servers answer with exactly this (a CONNECT too): one rule, one text.
      expect(error.message).toBe('Method must be GET');
    },
  );

  test.each(['1.0', '0.9'])('HTTP/%s is 400 WS_ERR_HANDSHAKE_HTTP_VERSION', (version) => {
    rejection(request({}, { httpVersion: version }), 'WS_ERR_HANDSHAKE_HTTP_VERSION', 400);
  });

  test.each<[string, string, Record<string, string | string[] | undefined>]>([
    ['a missing Host', 'HOST', { host: undefined }],
    ['an empty Host', 'HOST', { host: '' }],
    ['a repeated Host', 'HOST', { host: ['a', 'b'] }],
    ['a missing Upgrade', 'UPGRADE', { upgrade: undefined }],
    ['an Upgrade to another protocol', 'UPGRADE', { upgrade: 'h2c' }],
    ['a malformed Upgrade', 'UPGRADE', { upgrade: 'web socket' }],
    ['a missing Connection', 'CONNECTION', { connection: undefined }],
    ['a Connection without Upgrade', 'CONNECTION', { connection: 'keep-alive' }],
    ['a Connection naming "upgrades"', 'CONNECTION', { connection: 'upgrades' }],
    ['a missing key', 'KEY', { 'sec-websocket-key': undefined }],
    ['a key not in base64', 'KEY', { 'sec-websocket-key': 'not base64 at all!' }],
    ['a key of 15 bytes', 'KEY', { 'sec-websocket-key': 'AAAAAAAAAAAAAAAAAAAA' }],
    ['a key of 17 bytes', 'KEY', { 'sec-websocket-key': 'AAAAAAAAAAAAAAAAAAAAAAA=' }],
    ['an unpadded key', 'KEY', { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ' }],
    ['a repeated key', 'KEY', { 'sec-websocket-key': [KEY, KEY] }],
    ['a duplicate subprotocol', 'PROTOCOL', { 'sec-websocket-protocol': 'chat, chat' }],
    ['a non-token subprotocol', 'PROTOCOL', { 'sec-websocket-protocol': 'chat, super chat' }],
    ['an empty subprotocol list', 'PROTOCOL', { 'sec-websocket-protocol': '' }],
    ['a subprotocol list of only commas', 'PROTOCOL', { 'sec-websocket-protocol': ', ,' }],
    ['an empty extensions header', 'EXTENSIONS', { 'sec-websocket-extensions': '' }],
    ['an empty extension parameter', 'EXTENSIONS', { 'sec-websocket-extensions': 'x;' }],
    ['an unterminated quoted value', 'EXTENSIONS', { 'sec-websocket-extensions': 'x; a="1' }],
    ['two extension names without a comma', 'EXTENSIONS', { 'sec-websocket-extensions': 'x y' }],
  ])('%s is 400 WS_ERR_HANDSHAKE_%s', (_name, code, headers) => {
    rejection(request(headers), `WS_ERR_HANDSHAKE_${code}`, 400);
  });

  test('a Host given as a one-element array is fine', () => {
    expect(handshake.validateRequest(request({ host: ['a'] })).key).toBe(KEY);
  });

  test.each<[string, number, string | string[] | undefined]>([
    // Well-formed but not 13: 426 (RFC 6455 §4.4); malformed: 400.
    ['version 8', 426, '8'],
    ['version 7', 426, '7'],
    ['version 14', 426, '14'],
    ['version 0', 426, '0'],
    ['a missing version', 400, undefined],
    ['a version that is not a number', 400, 'thirteen'],
    ['a list of versions', 400, '13, 8'],
    ['a version too long', 400, '0013'],
    ['a repeated version', 400, ['13', '13']],
  ])(
    '%s is %i WS_ERR_HANDSHAKE_VERSION with Sec-WebSocket-Version: 13',
    (_name, status, version) => {
      const error = rejection(
        request({ 'sec-websocket-version': version }),
        'WS_ERR_HANDSHAKE_VERSION',
        status,
      );
      expect(error.headers).toEqual({ 'sec-websocket-version': '13' });
    },
  );

  test('checks in order: method before version before host', () => {
    const invalid = request({ host: undefined }, { method: 'PUT', httpVersion: '1.0' });
    rejection(invalid, 'WS_ERR_HANDSHAKE_METHOD', 405);
  });
});

describe('buildAcceptResponse', () => {
  test('answers the RFC 6455 §1.3 request', () => {
    expect(handshake.buildAcceptResponse({ key: KEY })).toBe(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
        '\r\n',
    );
  });

  test('names the chosen subprotocol, extensions and extra headers', () => {
    expect(
      handshake.buildAcceptResponse({
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
    const head = handshake.buildAcceptResponse({ key: KEY, protocol: '', extensions: '' });
    expect(head).not.toMatch(/Sec-WebSocket-Protocol/);
    expect(head).not.toMatch(/Sec-WebSocket-Extensions/);
  });

  test('uses an injected SHA-1', () => {
    const sha1 = vi.fn(nodeSha1);
    expect(handshake.buildAcceptResponse({ key: KEY, sha1 })).toContain(ACCEPT);
    expect(sha1).toHaveBeenCalledOnce();
  });

  test('a precomputed accept value is used as given, without hashing', () => {
    const sha1 = vi.fn(nodeSha1);
    expect(handshake.buildAcceptResponse({ key: KEY, accept: ACCEPT, sha1 })).toBe(
      handshake.buildAcceptResponse({ key: KEY }),
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
    expect(() => handshake.buildAcceptResponse({ key: KEY, ...options })).toThrow(TypeError);
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
    const head = handshake.acceptRequest(validated(['a', 'b']), { protocol: 'b' });
    expect(head).toBe(handshake.buildAcceptResponse({ key: KEY, protocol: 'b' }));
    expect(head).toContain('Sec-WebSocket-Protocol: b\r\n');
    expect(handshake.acceptRequest(validated(['a']))).toBe(
      handshake.buildAcceptResponse({ key: KEY }),
    );
  });

  test.each<[string, readonly string[], string]>([
    ['one the client did not offer', ['a'], 'c'],
    ['any, when the client offered none', [], 'a'],
    ['"" (none is undefined)', ['a'], ''],
    ['one differing in case', ['chat'], 'Chat'],
  ])('refuses %s with a TypeError naming it', (_name, offered, chosen) => {
    expect(() => handshake.acceptRequest(validated(offered), { protocol: chosen })).toThrow(
      new TypeError(`Subprotocol "${chosen}" was chosen, but the client did not offer it`),
    );
  });

  test('buildAcceptResponse applies the rule when given the offer, and only then', () => {
    expect(() =>
      handshake.buildAcceptResponse({ key: KEY, offered: ['a'], protocol: 'b' }),
    ).toThrow(/did not offer/);
    expect(handshake.buildAcceptResponse({ key: KEY, protocol: 'b' })).toContain(
      'Sec-WebSocket-Protocol: b',
    );
  });
});

describe('buildRejectResponse', () => {
  test('builds a complete 400 that closes the connection', () => {
    expect(handshake.buildRejectResponse(400)).toBe(
      'HTTP/1.1 400 Bad Request\r\n' +
        'Connection: close\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 11\r\n' +
        '\r\n' +
        'Bad Request',
    );
  });

  test("carries a HandshakeError's status and headers (426 with Sec-WebSocket-Version)", () => {
    const error = rejection(
      request({ 'sec-websocket-version': '8' }),
      'WS_ERR_HANDSHAKE_VERSION',
      426,
    );
    const response = handshake.buildRejectResponse(error.status, { headers: error.headers });
    expect(response).toMatch(/^HTTP\/1\.1 426 Upgrade Required\r\n/);
    expect(response).toContain('\r\nsec-websocket-version: 13\r\n');
    expect(response.endsWith('\r\n\r\nUpgrade Required')).toBe(true);
  });

  test('counts Content-Length in UTF-8 bytes of the body', () => {
    const response = handshake.buildRejectResponse(403, { body: 'Interdit: café' });
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
    expect(handshake.buildRejectResponse(status)).toMatch(
      new RegExp(`^HTTP/1\\.1 ${status} ${text}\\r\\n`),
    );
  });

  test('is parseable as an HTTP response', () => {
    const bytes = utf8(handshake.buildRejectResponse(405, { headers: { allow: 'GET' } }));
    const split = splitHead(bytes)!;
    const head = parseResponseHead(split.head);
    expect(head.status).toBe(405);
    expect(head.headers['allow']).toBe('GET');
    expect(head.headers['content-length']).toBe(String(split.rest.length));
  });

  test('refuses header injection with a TypeError', () => {
    expect(() => handshake.buildRejectResponse(400, { headers: { 'X-A': 'a\r\nb' } })).toThrow(
      TypeError,
    );
  });
});

describe('buildClientRequest', () => {
  test('contains every header RFC 6455 §4.1 requires', () => {
    expect(
      handshake.buildClientRequest({ host: 'server.example.com', path: '/chat', key: KEY }),
    ).toBe(
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
    const head = handshake.buildClientRequest({
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
      handshake.buildClientRequest({
        host: 'h',
        path: '/x?y=1',
        key: handshake.generateKey(),
        protocols: ['a', 'b'],
      }),
    );
    const split = splitHead(bytes)!;
    expect(split.rest).toHaveLength(0);
    const head = parseRequestHead(split.head);
    expect(head.target).toBe('/x?y=1');
    expect(handshake.validateRequest(head).protocols).toEqual(['a', 'b']);
  });

  test.each([['chat room'], [''], ['a,b'], ['caf\u00e9']])(
    'refuses a subprotocol %j that is not a token with a TypeError',
    (protocol) => {
      expect(() =>
        handshake.buildClientRequest({ host: 'h', key: KEY, protocols: [protocol] }),
      ).toThrow(TypeError);
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
    expect(() => handshake.buildClientRequest({ host: 'h', key: KEY, ...options })).toThrow(
      TypeError,
    );
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
    expect(() =>
      handshake.buildClientRequest({ host: 'h', key: KEY, headers: { [name]: 'x' } }),
    ).toThrow(new TypeError(message));
    expect(() => handshake.checkRequestHeaders({ [name]: ['x'] })).toThrow(new TypeError(message));
    // A direct ClientConnection user meets the same rule.
    expect(
      () => new ClientConnection({ host: 'h', headers: { [name]: 'x' }, handler: {} as never }),
    ).toThrow(new TypeError(message));
  });

  test('RESERVED_REQUEST_HEADERS lists every field buildClientRequest writes itself', () => {
    const head = handshake.buildClientRequest({
      host: 'h',
      key: KEY,
      protocols: ['p'],
      extensions: 'e',
    });
    const written = head
      .split('\r\n')
      .slice(1, -2)
      .map((line) => line.slice(0, line.indexOf(':')).toLowerCase());
    expect([...handshake.RESERVED_REQUEST_HEADERS].sort()).toEqual(written.sort());
  });

  test('checkRequestHeaders passes what buildClientRequest accepts, and checks names and values', () => {
    expect(() => handshake.checkRequestHeaders(undefined)).not.toThrow();
    expect(() =>
      handshake.checkRequestHeaders({ Origin: 'https://a', 'X-A': ['1', '2'] }),
    ).not.toThrow();
    expect(() => handshake.checkRequestHeaders({ 'Bad Name': 'x' })).toThrow(TypeError);
    expect(() => handshake.checkRequestHeaders({ 'X-A': 'a\r\nX-Evil: 1' })).toThrow(TypeError);
  });
});

/** A parsed 101 response for KEY, with header overrides (undefined deletes). */
function response(
  headers: Record<string, string | undefined> = {},
  status = 101,
): Parameters<typeof handshake.validateResponse>[0] {
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
    expect(handshake.validateResponse(response(), { key: KEY })).toEqual({
      protocol: '',
      extensions: [],
      extensionsHeader: '',
    });
  });

  test('accepts Upgrade and Connection case-insensitively, as token lists', () => {
    const ok = response({ upgrade: 'WebSocket', connection: 'keep-alive, upgrade' });
    expect(handshake.validateResponse(ok, { key: KEY }).protocol).toBe('');
  });

  test('returns the offered subprotocol the server chose', () => {
    const ok = response({ 'sec-websocket-protocol': 'superchat' });
    expect(
      handshake.validateResponse(ok, { key: KEY, protocols: ['chat', 'superchat'] }).protocol,
    ).toBe('superchat');
  });

  test('returns the offered extensions the server accepted', () => {
    const ok = response({
      'sec-websocket-extensions': 'permessage-deflate; server_no_context_takeover',
    });
    expect(
      handshake.validateResponse(ok, { key: KEY, extensions: ['permessage-deflate'] }),
    ).toEqual({
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
      handshake.validateResponse(response({ 'sec-websocket-protocol': 'chat' }), { key: KEY }),
    );
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_PROTOCOL', 1006, 101);
  });

  test('an offer left unanswered opens under RFC 6455, and fails with requireProtocol (WHATWG)', () => {
    const none = response();
    const offered = { key: KEY, protocols: ['chat', 'superchat'] };
    expect(handshake.validateResponse(none, offered).protocol).toBe('');
    const error = thrown(() =>
      handshake.validateResponse(none, { ...offered, requireProtocol: true }),
    );
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_PROTOCOL', 1006, 101);
    expect((error as Error).message).toBe('Server chose no subprotocol; offered: chat, superchat');
    // Nothing offered, nothing required.
    expect(handshake.validateResponse(none, { key: KEY, requireProtocol: true }).protocol).toBe('');
    // An answered offer passes either way.
    const chosen = response({ 'sec-websocket-protocol': 'chat' });
    expect(handshake.validateResponse(chosen, { ...offered, requireProtocol: true }).protocol).toBe(
      'chat',
    );
  });

  test('uses an injected SHA-1', () => {
    const sha1 = vi.fn(nodeSha1);
    handshake.validateResponse(response(), { key: KEY, sha1 });
    expect(sha1).toHaveBeenCalledOnce();
  });

  test.each([
    ['a 200', 'STATUS', response({}, 200)],
    ['a 403', 'STATUS', response({}, 403)],
    ['no Upgrade', 'UPGRADE', response({ upgrade: undefined })],
    ['Upgrade: h2c', 'UPGRADE', response({ upgrade: 'h2c' })],
    // RFC 6455 §4.1: the value must match "websocket", not merely list it.
    ['Upgrade: h2c, websocket', 'UPGRADE', response({ upgrade: 'h2c, websocket' })],
    ['no Connection', 'CONNECTION', response({ connection: undefined })],
    ['Connection: close', 'CONNECTION', response({ connection: 'close' })],
    ['no accept', 'ACCEPT', response({ 'sec-websocket-accept': undefined })],
    ['a wrong accept', 'ACCEPT', response({ 'sec-websocket-accept': 'x3JJHMbDL1EzLkh9GBhXDw==' })],
    ['a subprotocol not offered', 'PROTOCOL', response({ 'sec-websocket-protocol': 'other' })],
    [
      'a list of subprotocols',
      'PROTOCOL',
      response({ 'sec-websocket-protocol': 'chat, superchat' }),
    ],
    [
      'an extension not offered',
      'EXTENSIONS',
      response({ 'sec-websocket-extensions': 'permessage-deflate' }),
    ],
    ['malformed extensions', 'EXTENSIONS', response({ 'sec-websocket-extensions': 'chat;' })],
  ])('fails %s with WS_ERR_HANDSHAKE_%s and the status received', (_name, code, res) => {
    const error = thrown(() => handshake.validateResponse(res, { key: KEY, protocols: ['chat'] }));
    expectWsError(error, HandshakeError, `WS_ERR_HANDSHAKE_${code}`, 1006, res.status);
    expect((error as HandshakeError).headers).toEqual(res.headers);
  });
});
