/**
 * WebSocket over HTTP/2 (RFC 8441): the extended CONNECT handshake as header
 * fields, on both sides, and ClientConnection's `http2` mode, where the
 * request is the stream's header fields and the response arrives as a status
 * and fields, never as bytes.
 */
import { describe, expect, test } from 'vitest';
import {
  ClientConnection,
  ConnectionState,
  EventCollector,
  ExtensionError,
  HandshakeError,
  HandshakeRejectedError,
  acceptConnectRequest,
  buildConnectRequest,
  isConnectionSpecificHeader,
  validateConnectRequest,
  validateConnectResponse,
} from '@proj/protocol';
import { errorOf, expectCloseOnEof, expectWsError, frame, thrown, types, utf8 } from './helpers.js';

/** A valid extended CONNECT request's fields (§5), with overrides (undefined deletes). */
function connect(
  fields: Record<string, string | string[] | undefined> = {},
): Record<string, string | string[]> {
  const all: Record<string, string | string[] | undefined> = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':path': '/chat',
    ':authority': 'server.example.com',
    'sec-websocket-version': '13',
    ...fields,
  };
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(all)) if (value !== undefined) out[name] = value;
  return out;
}

describe('validateConnectRequest (RFC 8441 §4, §5)', () => {
  test('a valid request: the offers, no key', () => {
    const validated = validateConnectRequest(
      connect({
        'sec-websocket-protocol': 'chat, superchat',
        'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
        origin: 'https://app.example',
      }),
    );
    expect(validated.protocols).toEqual(['chat', 'superchat']);
    expect(validated.extensions.map((e) => e.name)).toEqual(['permessage-deflate']);
    expect(validated.origin).toBe('https://app.example');
    expect(validated).not.toHaveProperty('key');
  });

  test('another method: 405 with Allow: CONNECT', () => {
    const error = thrown(() => validateConnectRequest(connect({ ':method': 'GET' })));
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_METHOD', 1006, 405);
    expect((error as HandshakeError).headers).toEqual({ allow: 'CONNECT' });
    expect((error as Error).message).toBe('Method must be CONNECT over HTTP/2 (RFC 8441)');
  });

  test.each([['webtransport'], [undefined], ['WebSocket']])(':protocol %s: 400', (value) => {
    const error = thrown(() => validateConnectRequest(connect({ ':protocol': value })));
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_UPGRADE', 1006, 400);
    expect((error as Error).message).toBe('The :protocol pseudo-header must be "websocket"');
  });

  test.each([[':scheme'], [':path'], [':authority']])('missing %s: 400 naming it', (name) => {
    const error = thrown(() => validateConnectRequest(connect({ [name]: undefined })));
    expectWsError(error, HandshakeError, 'WS_ERR_HANDSHAKE_MALFORMED', 1006, 400);
    expect((error as Error).message).toBe(
      `An extended CONNECT request needs the ${name} pseudo-header`,
    );
  });

  test('the method is checked before :protocol, :protocol before the pseudo-headers', () => {
    const all = connect({ ':method': 'GET', ':protocol': 'x', ':path': undefined });
    expect((thrown(() => validateConnectRequest(all)) as HandshakeError).status).toBe(405);
    const noPath = connect({ ':protocol': 'x', ':path': undefined });
    expect((thrown(() => validateConnectRequest(noPath)) as HandshakeError).code).toBe(
      'WS_ERR_HANDSHAKE_UPGRADE',
    );
  });

  test('RFC 6455 version: another one is 426 naming 13, none or a malformed one 400', () => {
    const other = thrown(() => validateConnectRequest(connect({ 'sec-websocket-version': '8' })));
    expectWsError(other, HandshakeError, 'WS_ERR_HANDSHAKE_VERSION', 1006, 426);
    expect((other as HandshakeError).headers).toEqual({ 'sec-websocket-version': '13' });
    const none = thrown(() =>
      validateConnectRequest(connect({ 'sec-websocket-version': undefined })),
    );
    expectWsError(none, HandshakeError, 'WS_ERR_HANDSHAKE_VERSION', 1006, 400);
    expect((none as HandshakeError).headers).toEqual({ 'sec-websocket-version': '13' });
  });

  test('malformed subprotocol and extension offers: 400', () => {
    const protocol = thrown(() =>
      validateConnectRequest(connect({ 'sec-websocket-protocol': 'a b' })),
    );
    expectWsError(protocol, HandshakeError, 'WS_ERR_HANDSHAKE_PROTOCOL', 1006, 400);
    const extensions = thrown(() =>
      validateConnectRequest(connect({ 'sec-websocket-extensions': ';;' })),
    );
    expectWsError(extensions, HandshakeError, 'WS_ERR_HANDSHAKE_EXTENSIONS', 1006, 400);
  });

  test('HTTP/1.1 upgrade fields are not needed: no Upgrade, Connection or key', () => {
    expect(() => validateConnectRequest(connect())).not.toThrow();
  });
});

describe('acceptConnectRequest', () => {
  const offered = { protocols: ['chat', 'superchat'] };

  test('answers :status 200 with the choices, and no Sec-WebSocket-Accept', () => {
    expect(
      acceptConnectRequest(offered, {
        protocol: 'superchat',
        extensions: 'permessage-deflate',
        headers: { 'Set-Cookie': ['a=1', 'b=2'], 'X-Id': '7' },
      }),
    ).toEqual({
      'set-cookie': ['a=1', 'b=2'],
      'x-id': '7',
      'sec-websocket-protocol': 'superchat',
      'sec-websocket-extensions': 'permessage-deflate',
      ':status': '200',
    });
    expect(acceptConnectRequest(offered)).toEqual({ ':status': '200' });
    expect(acceptConnectRequest(offered, { protocol: '' })).toEqual({ ':status': '200' });
  });

  test('a subprotocol the client did not offer is the server’s mistake: TypeError', () => {
    expect(() => acceptConnectRequest(offered, { protocol: 'other' })).toThrow(
      new TypeError('Subprotocol "other" was chosen, but the client did not offer it'),
    );
    expect(() => acceptConnectRequest({ protocols: ['a b'] }, { protocol: 'a b' })).toThrow(
      new TypeError('Subprotocol "a b" is not a valid token'),
    );
  });

  test.each([
    ['connection'],
    ['Keep-Alive'],
    ['proxy-connection'],
    ['transfer-encoding'],
    ['upgrade'],
  ])('connection-specific %s is refused (RFC 9113 §8.2.2)', (name) => {
    expect(() => acceptConnectRequest(offered, { headers: { [name]: 'x' } })).toThrow(
      new TypeError(`Header "${name}" is connection-specific, which HTTP/2 forbids`),
    );
  });

  test('header injection: bad names, pseudo-headers, CR/LF/NUL values, handshake fields', () => {
    expect(() => acceptConnectRequest(offered, { headers: { 'a b': 'x' } })).toThrow(
      new TypeError('Invalid header name "a b"'),
    );
    expect(() => acceptConnectRequest(offered, { headers: { ':status': '101' } })).toThrow(
      TypeError,
    );
    for (const value of ['a\r\nx-evil: 1', 'a\nb', 'a\0b']) {
      expect(() => acceptConnectRequest(offered, { headers: { 'x-a': value } })).toThrow(
        new TypeError('Header values must not contain CR, LF or NUL'),
      );
      expect(() => acceptConnectRequest(offered, { headers: { 'x-a': ['ok', value] } })).toThrow(
        TypeError,
      );
    }
    expect(() =>
      acceptConnectRequest(offered, { headers: { 'Sec-WebSocket-Protocol': 'chat' } }),
    ).toThrow(
      new TypeError('Header "Sec-WebSocket-Protocol" is set by the opening handshake itself'),
    );
    expect(() => acceptConnectRequest(offered, { extensions: 'x\r\ny' })).toThrow(TypeError);
  });
});

describe('buildConnectRequest', () => {
  test('pseudo-headers, version 13, the offers, lower-case extra fields', () => {
    expect(
      buildConnectRequest({
        authority: 'server.example.com:8443',
        scheme: 'https',
        path: '/chat?room=1',
        protocols: ['chat', 'superchat'],
        extensions: 'permessage-deflate; client_max_window_bits',
        origin: 'https://app.example',
        headers: { Cookie: 'a=1', 'X-List': ['1', '2'] },
      }),
    ).toEqual({
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'https',
      ':path': '/chat?room=1',
      ':authority': 'server.example.com:8443',
      'sec-websocket-version': '13',
      'sec-websocket-protocol': 'chat, superchat',
      'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
      origin: 'https://app.example',
      cookie: 'a=1',
      'x-list': '1, 2',
    });
  });

  test('defaults: path /, no offers; the request passes validateConnectRequest', () => {
    const request = buildConnectRequest({ authority: 'h', scheme: 'http' });
    expect(request).toEqual({
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'http',
      ':path': '/',
      ':authority': 'h',
      'sec-websocket-version': '13',
    });
    expect(validateConnectRequest(request)).toEqual({
      protocols: [],
      extensions: [],
      origin: undefined,
    });
  });

  test('refuses what would be malformed or injected', () => {
    const base = { authority: 'h', scheme: 'https' } as const;
    expect(() => buildConnectRequest({ ...base, protocols: ['a b'] })).toThrow(
      new TypeError('Subprotocol "a b" is not a valid token'),
    );
    expect(() => buildConnectRequest({ ...base, path: '/a b' })).toThrow(TypeError);
    expect(() => buildConnectRequest({ ...base, path: '' })).toThrow(TypeError);
    expect(() => buildConnectRequest({ ...base, authority: 'h\r\nx: 1' })).toThrow(TypeError);
    expect(() => buildConnectRequest({ ...base, origin: 'o\n' })).toThrow(TypeError);
    expect(() => buildConnectRequest({ ...base, headers: { 'x-a': 'v\r\n' } })).toThrow(TypeError);
    expect(() => buildConnectRequest({ ...base, headers: { Connection: 'close' } })).toThrow(
      new TypeError('Header "Connection" is connection-specific, which HTTP/2 forbids'),
    );
    for (const name of ['Sec-WebSocket-Version', 'sec-websocket-protocol', 'Origin']) {
      expect(() => buildConnectRequest({ ...base, headers: { [name]: 'x' } })).toThrow(
        new TypeError(`Header "${name}" is set by the opening handshake itself`),
      );
    }
  });
});

describe('validateConnectResponse (RFC 8441 §5: any 2xx)', () => {
  const expected = { protocols: ['chat'], extensions: ['permessage-deflate'] };

  test.each([[200], [204], [299]])('%i opens, with the choices', (status) => {
    expect(
      validateConnectResponse(
        {
          status,
          headers: {
            'sec-websocket-protocol': 'chat',
            'sec-websocket-extensions': 'permessage-deflate',
          },
        },
        expected,
      ),
    ).toMatchObject({ protocol: 'chat', extensionsHeader: 'permessage-deflate' });
  });

  test.each([[101], [199], [300], [400], [404], [503]])(
    '%i is a rejection carrying the status and headers',
    (status) => {
      const headers = { 'retry-after': '5' };
      const error = thrown(() => validateConnectResponse({ status, headers }, expected));
      expectWsError(error, HandshakeRejectedError, 'WS_ERR_HANDSHAKE_STATUS', 1006, status);
      expect((error as HandshakeRejectedError).headers).toEqual(headers);
      expect((error as Error).message).toBe(`Unexpected server response: ${status}`);
    },
  );

  test('a subprotocol or extension that was not offered fails', () => {
    const protocol = thrown(() =>
      validateConnectResponse(
        { status: 200, headers: { 'sec-websocket-protocol': 'other' } },
        expected,
      ),
    );
    expectWsError(protocol, HandshakeRejectedError, 'WS_ERR_HANDSHAKE_PROTOCOL', 1006, 200);
    const extension = thrown(() =>
      validateConnectResponse(
        { status: 200, headers: { 'sec-websocket-extensions': 'x-other' } },
        { protocols: [], extensions: [] },
      ),
    );
    expectWsError(extension, ExtensionError, 'WS_ERR_HANDSHAKE_EXTENSIONS', 1006, 200);
  });
});

describe('isConnectionSpecificHeader (RFC 9113 §8.2.2)', () => {
  test('the five connection-specific fields, in any case, and nothing else', () => {
    for (const name of [
      'connection',
      'Keep-Alive',
      'PROXY-CONNECTION',
      'Transfer-Encoding',
      'upgrade',
    ]) {
      expect(isConnectionSpecificHeader(name)).toBe(true);
    }
    for (const name of [
      'content-type',
      'retry-after',
      'sec-websocket-protocol',
      'te',
      'connections',
    ]) {
      expect(isConnectionSpecificHeader(name)).toBe(false);
    }
  });
});

describe("ClientConnection's http2 mode", () => {
  function h2Client(options: Partial<ConstructorParameters<typeof ClientConnection>[0]> = {}): {
    conn: ClientConnection;
    handler: EventCollector;
  } {
    const handler = new EventCollector();
    const conn = new ClientConnection({
      handler,
      host: 'server.example.com',
      path: '/chat',
      http2: { scheme: 'https' },
      ...options,
    });
    return { conn, handler };
  }

  /**
   * A failed handshake as over HTTP/1.1: one error, no bytes, the transport
   * asked to end (the stream); the stream's end then closes with 1006.
   */
  function expectFailed(conn: ClientConnection, handler: EventCollector): Error {
    const events = handler.eventsReceived();
    expect(types(events)).toEqual(['error']);
    expect(handler.dataToSend()).toHaveLength(0);
    expect(handler.ended).toBe(true);
    expectCloseOnEof(conn, handler, { code: 1006, reason: '', wasClean: false });
    expect(conn.state).toBe(ConnectionState.Closed);
    return errorOf(events);
  }

  test('the request is header fields; connect() writes nothing', () => {
    const { conn, handler } = h2Client({ protocols: ['chat'], origin: 'https://app.example' });
    expect(conn.connectHeaders).toEqual({
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'https',
      ':path': '/chat',
      ':authority': 'server.example.com',
      'sec-websocket-version': '13',
      'sec-websocket-protocol': 'chat',
      origin: 'https://app.example',
    });
    conn.connect();
    expect(handler.dataToSend()).toHaveLength(0);
    expect(conn.state).toBe(ConnectionState.Connecting);
  });

  test('over HTTP/1.1 there are no connectHeaders, and a CONNECT response is ignored', () => {
    const handler = new EventCollector();
    const conn = new ClientConnection({ handler, host: 'h', path: '/' });
    expect(conn.connectHeaders).toBeUndefined();
    conn.receiveConnectResponse(200, {});
    expect(handler.eventsReceived()).toEqual([]);
    expect(conn.state).toBe(ConnectionState.Connecting);
  });

  test('a 200 opens; frames then flow through receiveData and are masked', () => {
    const { conn, handler } = h2Client({ protocols: ['chat'] });
    conn.receiveConnectResponse(200, { 'sec-websocket-protocol': 'chat', server: 'x' });
    const [open] = handler.eventsReceived();
    expect(open).toEqual({
      type: 'open',
      info: {
        protocol: 'chat',
        extensions: '',
        headers: { 'sec-websocket-protocol': 'chat', server: 'x' },
        deflate: undefined,
      },
    });
    expect(conn.state).toBe(ConnectionState.Open);
    conn.receiveData(frame(0x1, 'hi'));
    expect(handler.eventsReceived()).toMatchObject([{ type: 'message', data: utf8('hi') }]);
    conn.sendText('yo');
    const sent = handler.dataToSend();
    expect(sent[1]! & 0x80).toBe(0x80);
    // A second response (or one after open) changes nothing.
    conn.receiveConnectResponse(404, {});
    expect(handler.eventsReceived()).toEqual([]);
  });

  test.each([[101], [400], [503]])(
    '%i fails: HandshakeRejectedError, then close 1006 at the end',
    (status) => {
      const { conn, handler } = h2Client();
      conn.receiveConnectResponse(status, { 'x-why': 'no' });
      const error = expectFailed(conn, handler);
      expectWsError(error, HandshakeRejectedError, 'WS_ERR_HANDSHAKE_STATUS', 1006, status);
      expect((error as HandshakeRejectedError).headers).toEqual({ 'x-why': 'no' });
    },
  );

  test('a subprotocol not offered fails the handshake', () => {
    const { conn, handler } = h2Client({ protocols: ['chat'] });
    conn.receiveConnectResponse(200, { 'sec-websocket-protocol': 'other' });
    expectWsError(
      expectFailed(conn, handler),
      HandshakeRejectedError,
      'WS_ERR_HANDSHAKE_PROTOCOL',
      1006,
      200,
    );
  });

  test('an extension not offered fails with ExtensionError', () => {
    const { conn, handler } = h2Client();
    conn.receiveConnectResponse(200, { 'sec-websocket-extensions': 'permessage-deflate' });
    expectWsError(
      expectFailed(conn, handler),
      ExtensionError,
      'WS_ERR_HANDSHAKE_EXTENSIONS',
      1006,
      200,
    );
  });

  test('frames reported before the response wait for it, then arrive in order', () => {
    // node:http2 may emit DATA of the same read before its 'response' event.
    const { conn, handler } = h2Client();
    const early = frame(0x1, 'early');
    conn.receiveData(early.subarray(0, 3));
    conn.receiveData(Buffer.concat([early.subarray(3), frame(0x2, 'next')]));
    expect(handler.eventsReceived()).toEqual([]);
    expect(conn.state).toBe(ConnectionState.Connecting);
    conn.receiveConnectResponse(200, {});
    expect(handler.eventsReceived()).toMatchObject([
      { type: 'open' },
      { type: 'message', data: utf8('early'), binary: false },
      { type: 'message', data: utf8('next'), binary: true },
    ]);
  });

  test('frames before a refusal are dropped with the connection', () => {
    const { conn, handler } = h2Client();
    conn.receiveData(frame(0x1, 'early'));
    conn.receiveConnectResponse(403, {});
    expectWsError(
      expectFailed(conn, handler),
      HandshakeRejectedError,
      'WS_ERR_HANDSHAKE_STATUS',
      1006,
      403,
    );
  });

  test('permessage-deflate: offered in the fields, negotiated from the 200', () => {
    const { conn, handler } = h2Client({ perMessageDeflate: { serverNoContextTakeover: true } });
    expect(conn.connectHeaders!['sec-websocket-extensions']).toBe(
      'permessage-deflate; server_no_context_takeover; client_max_window_bits',
    );
    conn.receiveConnectResponse(200, {
      'sec-websocket-extensions': 'permessage-deflate; server_no_context_takeover',
    });
    const [open] = handler.eventsReceived();
    expect(open).toMatchObject({
      type: 'open',
      info: {
        extensions: 'permessage-deflate; server_no_context_takeover',
        deflate: { serverNoContextTakeover: true },
      },
    });
  });

  test('deflate parameters outside the offer fail with ExtensionError naming the status', () => {
    const { conn, handler } = h2Client({ perMessageDeflate: { clientMaxWindowBits: 10 } });
    conn.receiveConnectResponse(200, {
      'sec-websocket-extensions': 'permessage-deflate; server_max_window_bits=3',
    });
    expectWsError(
      expectFailed(conn, handler),
      ExtensionError,
      'WS_ERR_HANDSHAKE_EXTENSIONS',
      1006,
      200,
    );
  });

  test('the http2 request refuses what buildConnectRequest refuses', () => {
    expect(() => h2Client({ protocols: ['a b'] })).toThrow(TypeError);
    expect(() => h2Client({ headers: { connection: 'x' } })).toThrow(TypeError);
  });
});
