import { describe, expect, test } from 'vitest';
import { EventCollector, ProtocolError, ServerConnection } from '@proj/protocol';
import { clientFrame, hex, utf8 } from './helpers.js';

describe('EventCollector', () => {
  test('records every callback as an event, oldest first, and drains them', () => {
    const collector = new EventCollector();
    const error = new ProtocolError('WS_ERR_INVALID_OPCODE', 'x');
    const info = { protocol: 'chat', extensions: '', headers: {} };
    collector.onOpen(info);
    collector.onMessage(utf8('hi'), false);
    collector.onPing(utf8('a'));
    collector.onPong(utf8('b'));
    collector.onClosing(1000, 'bye');
    collector.onError(error);
    collector.onClose(1000, 'bye', true);
    expect(collector.eventsReceived()).toEqual([
      { type: 'open', info },
      { type: 'message', data: utf8('hi'), binary: false },
      { type: 'ping', data: utf8('a') },
      { type: 'pong', data: utf8('b') },
      { type: 'closing', code: 1000, reason: 'bye' },
      { type: 'error', error },
      { type: 'close', code: 1000, reason: 'bye', wasClean: true },
    ]);
    expect(collector.eventsReceived()).toEqual([]);
  });

  test('copies message data, which may be a view of input that gets reused', () => {
    const collector = new EventCollector();
    const data = utf8('hi');
    collector.onMessage(data, true);
    data.fill(0);
    expect(collector.eventsReceived()).toEqual([
      { type: 'message', data: utf8('hi'), binary: true },
    ]);
  });

  test('joins written chunks into one copy and drains them', () => {
    const collector = new EventCollector();
    expect(collector.dataToSend()).toEqual(new Uint8Array(0));
    const a = hex('0102');
    collector.write([a]);
    const out = collector.dataToSend();
    expect(out).toEqual(hex('0102'));
    a.fill(0);
    expect(out).toEqual(hex('0102'));
    collector.write([hex('01'), hex('02')]);
    collector.write([hex('03')]);
    expect(collector.dataToSend()).toEqual(hex('010203'));
    expect(collector.dataToSend()).toEqual(new Uint8Array(0));
  });

  test('reports whether end() was requested', () => {
    const collector = new EventCollector();
    expect(collector.ended).toBe(false);
    collector.end();
    expect(collector.ended).toBe(true);
  });

  test('drives a connection in the pull style of python-websockets', () => {
    const handler = new EventCollector();
    const conn = new ServerConnection({ handler });
    conn.receiveData(clientFrame(0x9, 'ping!'));
    expect(handler.eventsReceived()).toEqual([{ type: 'ping', data: utf8('ping!') }]);
    expect(handler.dataToSend()).toEqual(hex('8a05 70696e6721'));
  });
});
