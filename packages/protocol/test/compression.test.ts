/**
 * The connection's side of permessage-deflate (RFC 7692 §6): RSV1 on a
 * message's first frame marks it compressed; the I/O layer inflates it while
 * parsing is paused, and hands it back through deliverMessage.
 */
import { describe, expect, test } from 'vitest';
import {
  ClientConnection,
  EventCollector,
  ExtensionError,
  HandshakeError,
  InvalidStateError,
  InvalidUtf8Error,
  Opcode,
  PayloadTooBigError,
  ProtocolError,
  ServerConnection,
} from '@proj/protocol';
import {
  KEY,
  clientFrame,
  closeBody,
  concat,
  connectingClient,
  decodeFrame,
  errorOf,
  expectErrorEvent,
  expectWsError,
  frame,
  response101,
  server,
  types,
  utf8,
} from './helpers.js';

const deflated = new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]); // "Hello", RFC 7692 §7.2.3.1

describe('receiving: RSV1', () => {
  test('without permessage-deflate, RSV1 fails the connection: 1002', () => {
    const { conn, handler } = server();
    conn.receiveData(clientFrame(Opcode.Text, deflated, { rsv1: true }));
    expectErrorEvent(handler, ProtocolError, 'WS_ERR_UNEXPECTED_RSV', 1002);
  });

  test('with it, a compressed message is reported still deflated, text unvalidated', () => {
    const { conn, handler } = server({ perMessageDeflate: true });
    expect(conn.compression).toBe(true);
    conn.receiveData(clientFrame(Opcode.Text, deflated, { rsv1: true }));
    expect(handler.eventsReceived()).toEqual([
      { type: 'message', data: deflated, binary: false, compressed: true },
    ]);
    // An uncompressed message is still validated at once.
    conn.receiveData(clientFrame(Opcode.Text, new Uint8Array([0xff])));
    expectErrorEvent(handler, InvalidUtf8Error, 'WS_ERR_INVALID_UTF8', 1007);
  });

  test('fragments: RSV1 on the first frame only; the message is reported compressed', () => {
    const { conn, handler } = server({ perMessageDeflate: true });
    conn.receiveData(
      concat(
        clientFrame(Opcode.Binary, deflated.subarray(0, 3), { rsv1: true, fin: false }),
        clientFrame(Opcode.Ping, 'p'),
        clientFrame(Opcode.Continuation, deflated.subarray(3)),
      ),
    );
    expect(handler.eventsReceived()).toEqual([
      { type: 'ping', data: utf8('p') },
      { type: 'message', data: deflated, binary: true, compressed: true },
    ]);
  });

  test('RSV1 on a continuation frame: 1002', () => {
    const { conn, handler } = server({ perMessageDeflate: true });
    conn.receiveData(
      concat(
        clientFrame(Opcode.Text, 'a', { fin: false }),
        clientFrame(Opcode.Continuation, 'b', { rsv1: true }),
      ),
    );
    expectErrorEvent(handler, ProtocolError, 'WS_ERR_UNEXPECTED_RSV', 1002);
  });

  test.each([Opcode.Ping, Opcode.Pong, Opcode.Close])(
    'RSV1 on control frame %i: 1002',
    (opcode) => {
      const { conn, handler } = server({ perMessageDeflate: true });
      conn.receiveData(clientFrame(opcode, '', { rsv1: true }));
      expectErrorEvent(handler, ProtocolError, 'WS_ERR_UNEXPECTED_RSV', 1002);
    },
  );

  test('RSV2 and RSV3 stay forbidden: 1002', () => {
    const { conn, handler } = server({ perMessageDeflate: true });
    conn.receiveData(clientFrame(Opcode.Text, 'a', { rsv2: true }));
    expectErrorEvent(handler, ProtocolError, 'WS_ERR_UNEXPECTED_RSV', 1002);
  });
});

describe('deliverMessage: after inflating', () => {
  test('valid text and any binary reach onMessage', () => {
    const { conn, handler } = server({ perMessageDeflate: true });
    conn.deliverMessage(utf8('Hello'), false);
    conn.deliverMessage(new Uint8Array([0xff]), true);
    expect(handler.eventsReceived()).toEqual([
      { type: 'message', data: utf8('Hello'), binary: false },
      { type: 'message', data: new Uint8Array([0xff]), binary: true },
    ]);
  });

  test('invalid UTF-8 once inflated: 1007, with the close frame sent', () => {
    const { conn, handler } = server({ perMessageDeflate: true });
    conn.deliverMessage(new Uint8Array([0xc3]), false);
    const events = handler.eventsReceived();
    expectWsError(errorOf(events), InvalidUtf8Error, 'WS_ERR_INVALID_UTF8', 1007);
    expect(decodeFrame(handler.dataToSend()).payload.subarray(0, 2)).toEqual(closeBody(1007));
  });

  test('failWith: an inflate that passed maxPayload fails with 1009 and reports it', () => {
    const { conn, handler } = server({ perMessageDeflate: true });
    conn.failWith(new PayloadTooBigError('too big'));
    expectErrorEvent(handler, PayloadTooBigError, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009);
    expect(decodeFrame(handler.dataToSend()).payload.subarray(0, 2)).toEqual(closeBody(1009));
  });

  test('dropped once the connection is closing', () => {
    const { conn, handler } = server({ perMessageDeflate: true });
    conn.close(1000);
    handler.eventsReceived();
    conn.deliverMessage(utf8('late'), false);
    expect(handler.eventsReceived()).toEqual([]);
  });

  test('a throwing onMessage fails the connection with 1011', () => {
    const handler = new EventCollector();
    handler.onMessage = () => {
      throw new Error('boom');
    };
    const conn = new ServerConnection({ handler, perMessageDeflate: true });
    conn.deliverMessage(utf8('x'), false);
    expect(errorOf(handler.eventsReceived()).closeCode).toBe(1011);
  });
});

describe('pauseParsing / resumeParsing: order is kept', () => {
  /** A server whose handler pauses on every compressed message, as the I/O layer does. */
  function pausingServer() {
    const handler = new EventCollector();
    const pending: Uint8Array[] = [];
    const conn = new ServerConnection({ handler, perMessageDeflate: true });
    const onMessage = handler.onMessage.bind(handler);
    handler.onMessage = (data, binary, compressed) => {
      if (compressed) {
        conn.pauseParsing();
        pending.push(data.slice());
      } else onMessage(data, binary);
    };
    /** "Inflates" the oldest pending message (here: identity) and resumes. */
    const finish = (): void => {
      conn.deliverMessage(pending.shift()!, false);
      conn.resumeParsing();
    };
    return { conn, handler, pending, finish };
  }

  test('the rest of the chunk, later chunks and a close frame wait for the compressed message', () => {
    const { conn, handler, pending, finish } = pausingServer();
    conn.receiveData(
      concat(
        clientFrame(Opcode.Text, 'one', { rsv1: true }),
        clientFrame(Opcode.Text, 'two'),
        clientFrame(Opcode.Text, 'three', { rsv1: true }),
      ),
    );
    expect(conn.parsingPaused).toBe(true);
    conn.receiveData(clientFrame(Opcode.Text, 'four'));
    conn.receiveData(clientFrame(Opcode.Close, closeBody(1000)));
    expect(handler.eventsReceived()).toEqual([]);
    expect(pending).toHaveLength(1);
    finish(); // one, then two, then pauses on three
    expect(types(handler.eventsReceived())).toEqual(['message', 'message']);
    expect(conn.parsingPaused).toBe(true);
    finish(); // three, four, then the close
    const events = handler.eventsReceived();
    expect(
      events.map((e) => (e.type === 'message' ? new TextDecoder().decode(e.data) : e.type)),
    ).toEqual(['three', 'four', 'closing']);
    expect(conn.parsingPaused).toBe(false);
    conn.resumeParsing(); // not paused: nothing happens
  });

  test('a bad frame queued behind a paused message fails the connection on resume', () => {
    const { conn, handler, finish } = pausingServer();
    conn.receiveData(clientFrame(Opcode.Text, 'one', { rsv1: true }));
    conn.receiveData(frame(Opcode.Text, 'unmasked'));
    conn.receiveData(clientFrame(Opcode.Text, 'never'));
    finish();
    const events = handler.eventsReceived();
    expect(types(events)).toEqual(['message', 'error']);
    expectWsError(errorOf(events), ProtocolError, 'WS_ERR_EXPECTED_MASK', 1002);
  });

  test('input after a failure while paused is dropped', () => {
    const { conn, handler } = pausingServer();
    conn.receiveData(clientFrame(Opcode.Text, 'one', { rsv1: true }));
    conn.receiveData(clientFrame(Opcode.Text, 'two'));
    conn.fail(1009);
    conn.resumeParsing();
    expect(types(handler.eventsReceived())).toEqual([]);
  });
});

describe('sending compressed', () => {
  test('RSV1 is set on the first frame only', () => {
    const { conn, handler } = server({ perMessageDeflate: true });
    conn.sendBinary(deflated, { compressed: true });
    expect(handler.dataToSend()[0]).toBe(0xc2);
    conn.sendText(deflated.subarray(0, 3), { compressed: true, fin: false });
    conn.sendText(deflated.subarray(3), { compressed: true });
    const bytes = handler.dataToSend();
    expect(bytes[0]).toBe(0x41);
    expect(bytes[5]).toBe(0x80);
  });

  test('without permessage-deflate: InvalidStateError', () => {
    const { conn } = server();
    expect(() => conn.sendText('x', { compressed: true })).toThrow(InvalidStateError);
  });
});

describe('ClientConnection negotiation', () => {
  const decoder = new TextDecoder();

  test('offers permessage-deflate and opens with the accepted parameters', () => {
    const { conn, handler } = connectingClient({
      perMessageDeflate: { clientNoContextTakeover: true },
    });
    // connectingClient took the request; build a fresh one to read it.
    const probe = new EventCollector();
    new ClientConnection({ handler: probe, host: 'h', key: KEY, perMessageDeflate: {} }).connect();
    expect(decoder.decode(probe.dataToSend())).toContain(
      'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n',
    );
    conn.receiveData(
      utf8(response101('Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10')),
    );
    const [open] = handler.eventsReceived();
    expect(open).toMatchObject({
      type: 'open',
      info: {
        extensions: 'permessage-deflate; server_max_window_bits=10',
        deflate: {
          serverNoContextTakeover: false,
          clientNoContextTakeover: true,
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 15,
        },
      },
    });
    expect(conn.compression).toBe(true);
    conn.receiveData(frame(Opcode.Text, deflated, { rsv1: true }));
    expect(handler.eventsReceived()).toEqual([
      { type: 'message', data: deflated, binary: false, compressed: true },
    ]);
  });

  test('a server that declines: open without compression; RSV1 then fails with 1002', () => {
    const { conn, handler } = connectingClient({ perMessageDeflate: {} });
    conn.receiveData(utf8(response101()));
    expect(handler.eventsReceived()[0]).toMatchObject({
      type: 'open',
      info: { deflate: undefined },
    });
    expect(conn.compression).toBe(false);
    conn.receiveData(frame(Opcode.Text, deflated, { rsv1: true }));
    expectErrorEvent(handler, ProtocolError, 'WS_ERR_UNEXPECTED_RSV', 1002);
  });

  test('permessage-deflate accepted although not offered: the handshake fails', () => {
    const { conn, handler } = connectingClient();
    conn.receiveData(utf8(response101('Sec-WebSocket-Extensions: permessage-deflate')));
    const events = handler.eventsReceived();
    const error = errorOf(events);
    expectWsError(error, ExtensionError, 'WS_ERR_HANDSHAKE_EXTENSIONS', 1006, 101);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as ExtensionError).headers['sec-websocket-extensions']).toBe(
      'permessage-deflate',
    );
    expect(types(events)).toEqual(['error']);
  });

  test('an invalid response parameter: the handshake fails with the answer received', () => {
    const { conn, handler } = connectingClient({ perMessageDeflate: {} });
    conn.receiveData(utf8(response101('Sec-WebSocket-Extensions: permessage-deflate; x=1')));
    const error = errorOf(handler.eventsReceived());
    expect((error as ExtensionError).headers['sec-websocket-extensions']).toBe(
      'permessage-deflate; x=1',
    );
    expectWsError(error, ExtensionError, 'WS_ERR_HANDSHAKE_EXTENSIONS', 1006, 101);
  });
});
