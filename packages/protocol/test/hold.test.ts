/**
 * `hold()` / `release()`: what a WHATWG client's I/O layer uses so that a
 * close frame, ping or bad frame that follows a message in the input takes
 * effect only after the application has handled that message, as if its
 * bytes had arrived a moment later. Every test runs under every chunking of
 * its input: where the read boundaries fall must not change the outcome.
 */
import { describe, expect, test } from 'vitest';
import {
  type ClientConnection,
  type ConnectionHandler,
  ConnectionState,
  EventCollector,
  InternalError,
  Opcode,
  ProtocolError,
  decodeUtf8,
} from '@proj/protocol';
import {
  type Feeding,
  client,
  closeBody,
  concat,
  decodeFrames,
  eachFeeding,
  errorOf,
  expectCloseOnEof,
  expectWsError,
  frame,
  types,
} from './helpers.js';

const { Text: TEXT, Close: CLOSE, Ping: PING, Pong: PONG } = Opcode;

/**
 * A client whose handler holds after every message, as `@proj/client` does
 * while the message waits in its task queue; `handled` is how many messages
 * the "application" has seen, and `deliver()` plays the task queue: the
 * application echoes each pending message, then the layer releases.
 */
function holdingClient(): {
  conn: ClientConnection;
  handler: EventCollector;
  deliver(): void;
} {
  const handler = new EventCollector();
  const pending: string[] = [];
  const { conn } = client({ handler });
  const onMessage = handler.onMessage.bind(handler);
  handler.onMessage = (data, binary) => {
    onMessage(data, binary);
    pending.push(decodeUtf8(data));
    conn.hold();
  };
  const deliver = (): void => {
    while (pending.length > 0) {
      const text = pending.shift()!;
      if (conn.state === ConnectionState.Open) conn.sendText(`echo ${text}`);
    }
    conn.release();
  };
  return { conn, handler, deliver };
}

/** What the connection wrote, as readable strings: "text:echo a", "close:1002", "pong:p". */
function written(handler: EventCollector): string[] {
  return decodeFrames(handler.dataToSend()).map((f) => {
    if (f.opcode === TEXT) return `text:${decodeUtf8(f.payload)}`;
    if (f.opcode === CLOSE) return `close:${(f.payload[0]! << 8) | f.payload[1]!}`;
    if (f.opcode === PONG) return `pong:${decodeUtf8(f.payload)}`;
    return `opcode ${f.opcode}`;
  });
}

eachFeeding((feeding: Feeding) => {
  describe('a bad frame after a message', () => {
    test('fails the connection only after the message was answered', () => {
      const { conn, handler, deliver } = holdingClient();
      feeding.feed(conn, concat(frame(TEXT, 'a'), frame(TEXT, 'b', { rsv2: true })));
      expect(types(handler.eventsReceived())).toEqual(['message']);
      expect(written(handler)).toEqual([]);
      expect(conn.state).toBe(ConnectionState.Open);

      deliver();
      const events = handler.eventsReceived();
      expectWsError(errorOf(events), ProtocolError, 'WS_ERR_UNEXPECTED_RSV', 1002);
      expect(written(handler)).toEqual(['text:echo a', 'close:1002']);
      expect(handler.ended).toBe(true);
    });

    test('nothing after the bad frame is delivered, before or after release', () => {
      const { conn, handler, deliver } = holdingClient();
      feeding.feed(
        conn,
        concat(frame(TEXT, 'a'), frame(0x5, 'reserved'), frame(TEXT, 'after'), frame(PING, 'p')),
      );
      deliver();
      const events = handler.eventsReceived();
      expect(types(events)).toEqual(['message', 'error']);
      expect(written(handler)).toEqual(['text:echo a', 'close:1002']);
    });
  });

  describe('a control frame after a message', () => {
    test('a ping is answered after the message, and what follows it waits too', () => {
      const { conn, handler, deliver } = holdingClient();
      feeding.feed(conn, concat(frame(TEXT, 'a'), frame(PING, 'p'), frame(TEXT, 'b')));
      expect(types(handler.eventsReceived())).toEqual(['message']);
      expect(written(handler)).toEqual([]);

      deliver(); // echo a, pong, then b is parsed and held behind again
      expect(types(handler.eventsReceived())).toEqual(['ping', 'message']);
      deliver();
      expect(written(handler)).toEqual(['text:echo a', 'pong:p', 'text:echo b']);
    });

    test('a close frame is answered after the message was', () => {
      const { conn, handler, deliver } = holdingClient();
      feeding.feed(conn, concat(frame(TEXT, 'a'), frame(CLOSE, closeBody(1000)), frame(PING, 'x')));
      expect(types(handler.eventsReceived())).toEqual(['message']);
      expect(conn.state).toBe(ConnectionState.Open);

      deliver();
      expect(handler.eventsReceived()).toEqual([{ type: 'closing', code: 1000, reason: '' }]);
      // The ping after the close frame is discarded (RFC 6455 §5.5.1).
      expect(written(handler)).toEqual(['text:echo a', 'close:1000']);
      expectCloseOnEof(conn, handler, { code: 1000, reason: '', wasClean: true });
    });
  });
});

describe('hold and release', () => {
  test('input that arrives while a control frame is held is parsed after it, in order', () => {
    const { conn, handler, deliver } = holdingClient();
    conn.receiveData(concat(frame(TEXT, 'a'), frame(PING, '1')));
    conn.receiveData(frame(TEXT, 'b'));
    conn.receiveData(frame(PING, '2'));
    expect(types(handler.eventsReceived())).toEqual(['message']);
    deliver();
    deliver();
    expect(types(handler.eventsReceived())).toEqual(['ping', 'message', 'ping']);
    expect(written(handler)).toEqual(['text:echo a', 'pong:1', 'text:echo b', 'pong:2']);
  });

  test('without a hold, the same input takes effect at once', () => {
    const { conn, handler } = client();
    conn.receiveData(concat(frame(TEXT, 'a'), frame(PING, 'p'), frame(TEXT, 'b', { rsv2: true })));
    expect(types(handler.eventsReceived())).toEqual(['message', 'ping', 'error']);
    expect(written(handler)).toEqual(['pong:p', 'close:1002']);
  });

  test('release() without a hold, or with nothing held, changes nothing', () => {
    const { conn, handler } = client();
    conn.release();
    conn.hold();
    conn.release();
    conn.receiveData(frame(PING, 'p'));
    expect(types(handler.eventsReceived())).toEqual(['ping']);
    expect(written(handler)).toEqual(['pong:p']);
  });

  test('the transport closing releases: a held error is reported before the close', () => {
    const { conn, handler } = holdingClient();
    conn.receiveData(concat(frame(TEXT, 'a'), frame(TEXT, 'b', { rsv3: true })));
    conn.receiveEof();
    const events = handler.eventsReceived();
    expect(types(events)).toEqual(['message', 'error', 'close']);
    expect(events.at(-1)).toEqual({ type: 'close', code: 1006, reason: '', wasClean: false });
  });

  test('an exception in a handler is not held: it fails the connection at once', () => {
    const { conn, handler } = holdingClient();
    const onMessage = handler.onMessage.bind(handler);
    handler.onMessage = (data, binary) => {
      onMessage(data, binary);
      if (decodeUtf8(data) === 'b') throw new Error('boom');
    };
    conn.receiveData(concat(frame(TEXT, 'a'), frame(TEXT, 'b'), frame(TEXT, 'c')));
    const events = handler.eventsReceived();
    expect(types(events)).toEqual(['message', 'message', 'error']);
    expect(errorOf(events)).toBeInstanceOf(InternalError);
    expect(written(handler)).toEqual(['close:1011']);
    expect(conn.state).toBe(ConnectionState.Closing);
  });

  test('a held ping after our own close frame gets no pong', () => {
    const { conn, handler, deliver } = holdingClient();
    conn.receiveData(concat(frame(TEXT, 'a'), frame(PING, 'p')));
    conn.close(1000);
    deliver();
    expect(written(handler)).toEqual(['close:1000']);
    expect(types(handler.eventsReceived())).toEqual(['message', 'ping']);
  });
});

describe('a held close frame is validated when released', () => {
  test.each([
    ['a one-byte body', frame(CLOSE, new Uint8Array([3])), 'WS_ERR_INVALID_CLOSE_PAYLOAD', 1002],
    [
      'a reason that is not UTF-8',
      frame(CLOSE, concat(closeBody(1000), new Uint8Array([0xff]))),
      'WS_ERR_INVALID_UTF8',
      1007,
    ],
  ])('%s fails the connection on release, never throws', (_name, close, code, closeCode) => {
    const { conn, handler, deliver } = holdingClient();
    conn.receiveData(concat(frame(TEXT, 'a'), close));
    expect(() => deliver()).not.toThrow();
    const events = handler.eventsReceived();
    expect(errorOf(events).code).toBe(code);
    expect(written(handler)).toEqual(['text:echo a', `close:${closeCode}`]);
  });

  test('on the transport closing, too', () => {
    const { conn, handler } = holdingClient();
    conn.receiveData(concat(frame(TEXT, 'a'), frame(CLOSE, new Uint8Array([3]))));
    expect(() => conn.receiveEof()).not.toThrow();
    expect(types(handler.eventsReceived())).toEqual(['message', 'error', 'close']);
  });
});

describe('receiveEnd: the peer sends nothing more', () => {
  test('what was held takes effect, input behind it too, and nothing is held after', () => {
    const { conn, handler } = holdingClient();
    conn.receiveData(
      concat(frame(TEXT, 'a'), frame(PING, 'p'), frame(TEXT, 'b'), frame(PING, 'q')),
    );
    expect(types(handler.eventsReceived())).toEqual(['message']);
    conn.receiveEnd();
    expect(types(handler.eventsReceived())).toEqual(['ping', 'message', 'ping']);
    // Replies can still be written on our half of the connection.
    expect(written(handler)).toEqual(['pong:p', 'pong:q']);
    expect(conn.state).toBe(ConnectionState.Open);
    conn.receiveEof();
    expect(types(handler.eventsReceived())).toEqual(['close']);
  });
});

describe('replyToPing', () => {
  test('false leaves a ping unanswered; it is still reported', () => {
    const { conn, handler } = client();
    let answer = false;
    (handler as ConnectionHandler).replyToPing = () => answer;
    conn.receiveData(frame(PING, 'skipped'));
    answer = true;
    conn.receiveData(frame(PING, 'answered'));
    expect(types(handler.eventsReceived())).toEqual(['ping', 'ping']);
    expect(written(handler)).toEqual(['pong:answered']);
  });
});
