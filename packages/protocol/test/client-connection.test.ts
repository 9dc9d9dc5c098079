import { createHash } from 'node:crypto';
import { describe, expect, test, vi } from 'vitest';
import {
  AbnormalClosureError,
  ClientConnection,
  ConnectionState,
  EventCollector,
  HandshakeError,
  HandshakeRejectedError,
  InternalError,
  InvalidStateError,
  ServerConnection,
  buildAcceptResponse,
  parseRequestHead,
  splitHead,
  validateRequest,
} from '@proj/protocol';
import { decodeBase64 } from '../src/base64.js';
import {
  ACCEPT,
  KEY,
  client,
  closeBody,
  concat,
  connectingClient,
  decodeFrame,
  eachFeeding,
  errorOf,
  expectClientAwaitsServerEof,
  expectCloseOnEof,
  expectErrorEvent,
  expectWsError,
  frame,
  hex,
  response101,
  types,
  utf8,
} from './helpers.js';

const decoder = new TextDecoder();

describe('the opening request', () => {
  test('carries every header RFC 6455 §4.1 requires, and the options', () => {
    const handler = new EventCollector();
    const conn = new ClientConnection({
      handler,
      host: 'server.example.com:8080',
      path: '/chat?x=1',
      key: KEY,
      protocols: ['chat', 'superchat'],
      origin: 'http://example.com',
      headers: { Authorization: 'Bearer t' },
    });
    expect(handler.dataToSend()).toHaveLength(0);
    conn.connect();
    expect(decoder.decode(handler.dataToSend())).toBe(
      'GET /chat?x=1 HTTP/1.1\r\n' +
        'Host: server.example.com:8080\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        'Sec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Protocol: chat, superchat\r\n' +
        'Origin: http://example.com\r\n' +
        'Authorization: Bearer t\r\n' +
        '\r\n',
    );
  });

  test('is a request that validateRequest accepts, with a fresh random key by default', () => {
    const handler = new EventCollector();
    const conn = new ClientConnection({ handler, host: 'h' });
    conn.connect();
    const head = parseRequestHead(splitHead(handler.dataToSend())!.head);
    expect(head.target).toBe('/');
    const request = validateRequest(head);
    expect(request.key).toBe(conn.key);
    expect(decodeBase64(conn.key)).toHaveLength(16);
    expect(new ClientConnection({ handler, host: 'h' }).key).not.toBe(conn.key);
  });

  test('connect() writes the request once', () => {
    const { conn, handler } = connectingClient();
    conn.connect();
    expect(handler.dataToSend()).toHaveLength(0);
  });

  test('an invalid subprotocol or header is a TypeError at construction', () => {
    const handler = new EventCollector();
    expect(() => new ClientConnection({ handler, host: 'h', protocols: ['a b'] })).toThrow(
      TypeError,
    );
    expect(() => new ClientConnection({ handler, host: 'h\r\nX: y' })).toThrow(TypeError);
  });
});

describe('the 101 response', () => {
  test('opens the connection and reports what was settled', () => {
    const { conn, handler } = connectingClient({ protocols: ['chat', 'superchat'] });
    expect(conn.state).toBe(ConnectionState.Connecting);
    expect(conn.closeExpected).toBe(false);
    conn.receiveData(utf8(response101('Sec-WebSocket-Protocol: superchat', 'X-Server: test')));
    expect(handler.eventsReceived()).toEqual([
      {
        type: 'open',
        info: {
          protocol: 'superchat',
          extensions: '',
          headers: {
            upgrade: 'websocket',
            connection: 'Upgrade',
            'sec-websocket-accept': ACCEPT,
            'sec-websocket-protocol': 'superchat',
            'x-server': 'test',
          },
        },
      },
    ]);
    expect(conn.state).toBe(ConnectionState.Open);
    expect(conn.protocol).toBe('superchat');
    expect(conn.extensions).toBe('');
    expect(handler.dataToSend()).toHaveLength(0);
  });

  test('checks the accept key with an injected SHA-1', () => {
    const sha1 = vi.fn(
      (data: Uint8Array) => new Uint8Array(createHash('sha1').update(data).digest()),
    );
    const { handler } = client({ sha1 });
    expect(sha1).toHaveBeenCalledOnce();
    expect(handler.ended).toBe(false);
  });

  eachFeeding((feeding) => {
    test('is read across any chunk split', () => {
      const { conn, handler } = connectingClient();
      feeding.feed(conn, utf8(response101()));
      expect(types(handler.eventsReceived())).toEqual(['open']);
      expect(conn.state).toBe(ConnectionState.Open);
    });

    test('frames in the same bytes as the head are parsed after onOpen', () => {
      const { conn, handler } = connectingClient();
      feeding.feed(
        conn,
        concat(
          utf8(response101()),
          hex('810548656c6c6f'),
          hex('890548656c6c6f'),
          frame(0x8, closeBody(1000)),
        ),
      );
      expect(handler.eventsReceived()).toEqual([
        expect.objectContaining({ type: 'open' }),
        { type: 'message', data: utf8('Hello'), binary: false },
        { type: 'ping', data: utf8('Hello') },
        { type: 'closing', code: 1000, reason: '' },
      ]);
      // The pong and the close echo, both masked with the RFC key.
      expect(handler.dataToSend()).toEqual(hex('8a8537fa213d7f9f4d5158 888237fa213d3412'));
    });
  });

  test('a frame in the same chunk as the head that breaks a rule fails the open connection', () => {
    const { conn, handler } = connectingClient();
    conn.receiveData(concat(utf8(response101()), hex('8300')));
    const events = handler.eventsReceived();
    expect(types(events)).toEqual(['open', 'error']);
    expect(errorOf(events).code).toBe('WS_ERR_INVALID_OPCODE');
    const written = handler.dataToSend();
    expect(written.subarray(0, 6)).toEqual(hex('8892 37fa213d'));
    expect(decodeFrame(written).payload).toEqual(closeBody(1002, 'Invalid opcode 3'));
  });

  test('onOpen may send at once', () => {
    const handler = new EventCollector();
    const { conn } = connectingClient({
      handler: Object.assign(handler, { onOpen: () => conn.sendText('Hello') }),
    });
    conn.receiveData(utf8(response101()));
    expect(handler.dataToSend()).toEqual(hex('818537fa213d7f9f4d5158'));
  });

  test('a throwing onOpen fails the connection with 1011', () => {
    const handler = Object.assign(new EventCollector(), {
      onOpen: () => {
        throw new Error('bug');
      },
    });
    const { conn } = connectingClient({ handler });
    conn.receiveData(utf8(response101()));
    expectErrorEvent(handler, InternalError, 'WS_ERR_INTERNAL', 1011);
    expect(handler.ended).toBe(true);
  });
});

describe('handshake failures', () => {
  /** Feeds `text` (or bytes) as the server's answer, then EOF, and checks the whole path. */
  function expectHandshakeFails(
    answer: string | Uint8Array,
    code: string,
    status: number,
    options: Parameters<typeof connectingClient>[0] = {},
  ): HandshakeError {
    const { conn, handler } = connectingClient(options);
    conn.receiveData(typeof answer === 'string' ? utf8(answer) : answer);
    const events = handler.eventsReceived();
    expect(types(events)).toEqual(['error']);
    const error = errorOf(events) as HandshakeError;
    // A client's failure: what the server sent, never a status to answer with.
    expectWsError(error, HandshakeRejectedError, code, 1006, status);
    expect(error).toBeInstanceOf(HandshakeError);
    // No WebSocket connection ever existed: no close frame, just end().
    expect(handler.dataToSend()).toHaveLength(0);
    expect(handler.ended).toBe(true);
    expect(conn.state).toBe(ConnectionState.Connecting);
    // Later bytes are discarded.
    conn.receiveData(hex('810141'));
    expect(handler.eventsReceived()).toEqual([]);
    expectCloseOnEof(conn, handler, { code: 1006, reason: '', wasClean: false });
    expect(conn.state).toBe(ConnectionState.Closed);
    return error;
  }

  test('a status other than 101: WS_ERR_HANDSHAKE_STATUS with that status', () => {
    const error = expectHandshakeFails(
      'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n',
      'WS_ERR_HANDSHAKE_STATUS',
      403,
    );
    expect(error.headers).toEqual({ 'content-length': '0' });
  });

  test('a 200 is not an upgrade', () => {
    expectHandshakeFails('HTTP/1.1 200 OK\r\n\r\n', 'WS_ERR_HANDSHAKE_STATUS', 200);
  });

  test('a missing Upgrade header: WS_ERR_HANDSHAKE_UPGRADE', () => {
    expectHandshakeFails(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`,
      'WS_ERR_HANDSHAKE_UPGRADE',
      101,
    );
  });

  test('a missing Connection header: WS_ERR_HANDSHAKE_CONNECTION', () => {
    expectHandshakeFails(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`,
      'WS_ERR_HANDSHAKE_CONNECTION',
      101,
    );
  });

  test('a wrong accept key: WS_ERR_HANDSHAKE_ACCEPT', () => {
    expectHandshakeFails(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n\r\n',
      'WS_ERR_HANDSHAKE_ACCEPT',
      101,
    );
  });

  test('a subprotocol that was not offered: WS_ERR_HANDSHAKE_PROTOCOL', () => {
    expectHandshakeFails(
      response101('Sec-WebSocket-Protocol: other'),
      'WS_ERR_HANDSHAKE_PROTOCOL',
      101,
      {
        protocols: ['chat'],
      },
    );
  });

  test('a subprotocol when none was offered: WS_ERR_HANDSHAKE_PROTOCOL', () => {
    expectHandshakeFails(
      response101('Sec-WebSocket-Protocol: chat'),
      'WS_ERR_HANDSHAKE_PROTOCOL',
      101,
    );
  });

  test('an extension that was not offered: WS_ERR_HANDSHAKE_EXTENSIONS', () => {
    expectHandshakeFails(
      response101('Sec-WebSocket-Extensions: permessage-deflate'),
      'WS_ERR_HANDSHAKE_EXTENSIONS',
      101,
    );
  });

  test.each([
    ['a garbage status line', 'HTTP/1.1 OK\r\n\r\n'],
    ['not HTTP at all', 'SSH-2.0-OpenSSH_9.6\r\n\r\n'],
    ['a bare LF inside the head', 'HTTP/1.1 101 OK\r\nUpgrade: websocket\nX: y\r\n\r\n'],
    ['a header line without a colon', 'HTTP/1.1 101 OK\r\nUpgrade websocket\r\n\r\n'],
  ])(
    'a malformed head (%s): WS_ERR_HANDSHAKE_MALFORMED with status 0 (none was received)',
    (_name, answer) => {
      expectHandshakeFails(answer, 'WS_ERR_HANDSHAKE_MALFORMED', 0);
    },
  );

  test('a head larger than maxHeadSize: WS_ERR_HANDSHAKE_HEAD_TOO_LARGE with status 0', () => {
    expectHandshakeFails(
      response101(`X-Big: ${'a'.repeat(200)}`),
      'WS_ERR_HANDSHAKE_HEAD_TOO_LARGE',
      0,
      {
        maxHeadSize: 128,
      },
    );
  });

  test('a head that never ends fails once 16 KiB arrived, fed in pieces', () => {
    const { conn, handler } = connectingClient();
    const filler = utf8('HTTP/1.1 101 OK\r\n' + 'X: y\r\n'.repeat(3000));
    for (
      let offset = 0;
      offset < filler.length && handler.eventsReceived().length === 0;
      offset += 1000
    ) {
      conn.receiveData(filler.slice(offset, offset + 1000));
      if (offset + 1000 < 16 * 1024) expect(handler.ended).toBe(false);
    }
    expect(handler.ended).toBe(true);
  });

  test('more header fields than maxHeaderCount: WS_ERR_HANDSHAKE_HEAD_TOO_LARGE with status 0', () => {
    expectHandshakeFails(response101('A: 1', 'B: 2'), 'WS_ERR_HANDSHAKE_HEAD_TOO_LARGE', 0, {
      maxHeaderCount: 4,
    });
  });

  test('EOF before the head: WS_ERR_HANDSHAKE_EOF, then onClose(1006)', () => {
    const { conn, handler } = connectingClient();
    conn.receiveData(utf8('HTTP/1.1 101 Switching'));
    conn.receiveEof();
    const events = handler.eventsReceived();
    expect(types(events)).toEqual(['error', 'close']);
    expectWsError(errorOf(events), AbnormalClosureError, 'WS_ERR_HANDSHAKE_EOF', 1006, 0);
    expect(events[1]).toEqual({ type: 'close', code: 1006, reason: '', wasClean: false });
    expect(handler.ended).toBe(true);
    expect(handler.dataToSend()).toHaveLength(0);
  });

  test('EOF before any byte: WS_ERR_HANDSHAKE_EOF', () => {
    const { conn, handler } = connectingClient();
    conn.receiveEof();
    expectErrorEvent(handler, HandshakeError, 'WS_ERR_HANDSHAKE_EOF', 1006, 0);
  });
});

describe('while connecting', () => {
  test('sending throws InvalidStateError', () => {
    const { conn } = connectingClient();
    expect(() => conn.sendText('x')).toThrow(InvalidStateError);
    expect(() => conn.sendBinary(new Uint8Array(1))).toThrow(InvalidStateError);
    expect(() => conn.sendPing()).toThrow(InvalidStateError);
    expect(() => conn.sendPong()).toThrow(InvalidStateError);
    expect(() => conn.sendText('x')).toThrow(/CONNECTING/);
  });

  test('close() aborts: no close frame, end() requested, onClose(1006) after EOF, no error', () => {
    const { conn, handler } = connectingClient();
    conn.close(1000, 'never mind');
    expect(handler.dataToSend()).toHaveLength(0);
    expect(handler.ended).toBe(true);
    conn.receiveData(utf8(response101()));
    expect(handler.eventsReceived()).toEqual([]);
    expectCloseOnEof(conn, handler, { code: 1006, reason: '', wasClean: false });
  });

  test('close() still validates its arguments', () => {
    const { conn, handler } = connectingClient();
    expect(() => conn.close(1005)).toThrow(RangeError);
    expect(handler.ended).toBe(false);
  });
});

describe('talking to a ServerConnection', () => {
  test('handshake, a message each way, and a clean close started by the server', () => {
    const c = new EventCollector();
    const conn = new ClientConnection({ handler: c, host: 'x', protocols: ['chat'] });
    conn.connect();
    const request = validateRequest(parseRequestHead(splitHead(c.dataToSend())!.head));
    expect(request.protocols).toEqual(['chat']);
    const s = new EventCollector();
    const peer = new ServerConnection({ handler: s, protocol: 'chat' });
    conn.receiveData(utf8(buildAcceptResponse({ key: request.key, protocol: 'chat' })));
    expect(c.eventsReceived()).toEqual([expect.objectContaining({ type: 'open' })]);
    expect(conn.protocol).toBe('chat');

    conn.sendText('héllo');
    peer.receiveData(c.dataToSend());
    expect(s.eventsReceived()).toEqual([{ type: 'message', data: utf8('héllo'), binary: false }]);
    peer.sendBinary(hex('0102'));
    conn.receiveData(s.dataToSend());
    expect(c.eventsReceived()).toEqual([{ type: 'message', data: hex('0102'), binary: true }]);

    peer.close(1000, 'bye');
    conn.receiveData(s.dataToSend());
    expect(c.eventsReceived()).toEqual([{ type: 'closing', code: 1000, reason: 'bye' }]);
    peer.receiveData(c.dataToSend());
    expect(s.ended).toBe(true);
    expectCloseOnEof(peer, s, { code: 1000, reason: 'bye', wasClean: true });
    expectClientAwaitsServerEof(conn, c, { code: 1000, reason: 'bye', wasClean: true });
  });
});
