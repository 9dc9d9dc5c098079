import { describe, expect, test } from 'vitest';
import { ConnectionState, ProtocolError } from '@proj/protocol';
import {
  closeBody,
  clientFrame,
  expectCloseOnEof,
  expectErrorEvent,
  frame,
  hex,
  server,
  types,
} from './helpers.js';

describe('ServerConnection', () => {
  test('starts open, with the negotiated subprotocol and extensions', () => {
    const { conn } = server({ protocol: 'chat', extensions: 'x-test' });
    expect(conn.state).toBe(ConnectionState.Open);
    expect(conn.protocol).toBe('chat');
    expect(conn.extensions).toBe('x-test');
    expect(conn.closeExpected).toBe(false);
  });

  test('defaults to no subprotocol and no extensions', () => {
    const { conn } = server();
    expect(conn.protocol).toBe('');
    expect(conn.extensions).toBe('');
  });

  test('never masks what it sends (RFC 6455 §5.7 unmasked "Hello")', () => {
    const { conn, handler } = server();
    conn.sendText('Hello');
    expect(handler.dataToSend()).toEqual(hex('810548656c6c6f'));
  });

  test('expects every frame masked', () => {
    const { conn, handler } = server();
    conn.receiveData(frame(0x1, 'Hello'));
    expectErrorEvent(handler, ProtocolError, 'WS_ERR_EXPECTED_MASK', 1002);
  });

  test('closes the transport first after the closing handshake (RFC 6455 §7.1.1)', () => {
    const { conn, handler } = server();
    conn.receiveData(clientFrame(0x8, closeBody(1000)));
    expect(handler.ended).toBe(true);
    expect(types(handler.eventsReceived())).toEqual(['closing']);
  });

  test('has no opening handshake: receiveEof before any data is an abnormal close, no error', () => {
    const { conn, handler } = server();
    expectCloseOnEof(conn, handler, { code: 1006, reason: '', wasClean: false });
  });
});
