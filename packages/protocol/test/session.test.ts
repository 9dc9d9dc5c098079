/**
 * The session protocol's sans-I/O core (`src/session.ts`) against
 * `docs/session-protocol.md`: negotiation (section 1), the text escape and
 * control messages (section 2), sequence numbers and the replay log
 * (sections 3 to 5).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  ProtocolError,
  SESSION_PROTOCOL,
  type SessionControl,
  SessionLog,
  decodeSessionControl,
  encodeSessionControl,
  escapeSessionText,
  isSessionData,
  isSessionId,
  isSessionToken,
  parseSelectedProtocol,
  readSessionText,
  sessionOffer,
  sessionOffers,
} from '@proj/protocol';
import { expectWsError, thrown } from './helpers.js';

const LIMITS = { maxMessages: 4, maxBytes: 100 };

describe('negotiation (section 1)', () => {
  test('without application protocols the offer is the session token alone', () => {
    expect(sessionOffer([])).toEqual(['proj-session.v1']);
  });

  test('each application protocol is offered combined, then on its own', () => {
    expect(sessionOffer(['chat', 'chat.v2'])).toEqual([
      'proj-session.v1+chat',
      'proj-session.v1+chat.v2',
      'chat',
      'chat.v2',
    ]);
  });

  test('a selected protocol reads as session or plain, with the application part', () => {
    expect(parseSelectedProtocol(SESSION_PROTOCOL)).toEqual({ session: true, app: '' });
    expect(parseSelectedProtocol('proj-session.v1+chat')).toEqual({ session: true, app: 'chat' });
    expect(parseSelectedProtocol('chat')).toEqual({ session: false, app: 'chat' });
    expect(parseSelectedProtocol('')).toEqual({ session: false, app: '' });
    // Another version is not this one.
    expect(parseSelectedProtocol('proj-session.v2+chat')).toEqual({
      session: false,
      app: 'proj-session.v2+chat',
    });
  });

  test('a server finds the session offers in the client order, ignoring the rest', () => {
    const offered = ['x', 'proj-session.v1+chat', 'proj-session.v1', 'proj-session.v1+', 'chat'];
    expect(sessionOffers(offered)).toEqual([
      { token: 'proj-session.v1+chat', app: 'chat' },
      { token: 'proj-session.v1', app: '' },
    ]);
    expect(sessionOffers(new Set(['chat']))).toEqual([]);
  });

  test('session tokens are told apart from application protocols', () => {
    expect(isSessionToken('proj-session.v1')).toBe(true);
    expect(isSessionToken('proj-session.v1+chat')).toBe(true);
    expect(isSessionToken('proj-session.v10')).toBe(false);
    expect(isSessionToken('chat')).toBe(false);
  });
});

describe('messages (section 2)', () => {
  test('text that does not begin with NUL is sent and read unchanged', () => {
    for (const text of ['', 'hello', '{"a":1}', 'a\u0000b']) {
      expect(escapeSessionText(text)).toBe(text);
      expect(readSessionText(text)).toEqual({ kind: 'data', text });
      expect(isSessionData(text)).toBe(true);
    }
  });

  test('text that begins with NUL gets one more NUL, and reads back as it was', () => {
    expect(escapeSessionText('\u0000ack 1')).toBe('\u0000\u0000ack 1');
    expect(readSessionText('\u0000\u0000ack 1')).toEqual({ kind: 'data', text: '\u0000ack 1' });
    expect(readSessionText('\u0000\u0000')).toEqual({ kind: 'data', text: '\u0000' });
    expect(isSessionData('\u0000\u0000')).toBe(true);
    expect(isSessionData('\u0000ack 1')).toBe(false);
  });

  test('any application text survives the escape', () => {
    fc.assert(
      // Leading NULs are what the escape is about: make them common.
      fc.property(fc.nat(3), fc.string({ unit: 'binary' }), (nuls, rest) => {
        const text = '\u0000'.repeat(nuls) + rest;
        const wire = escapeSessionText(text);
        expect(isSessionData(wire)).toBe(true);
        expect(readSessionText(wire)).toEqual({ kind: 'data', text });
      }),
    );
  });

  const CONTROLS: [SessionControl, string][] = [
    [{ type: 'hello' }, '\u0000hello'],
    [{ type: 'lost' }, '\u0000lost'],
    [{ type: 'end' }, '\u0000end'],
    [{ type: 'ack', received: 0 }, '\u0000ack 0'],
    [{ type: 'ack', received: 9007199254740991 }, '\u0000ack 9007199254740991'],
    [{ type: 'resume', id: 'Ab-_9', received: 12, acked: 3 }, '\u0000resume Ab-_9 12 3'],
    [{ type: 'ready', id: 'x', received: 0, keepAlive: 15000 }, '\u0000ready x 0 15000'],
  ];

  test.each(CONTROLS)('%o is written %j and read back', (control, wire) => {
    expect(encodeSessionControl(control)).toBe(wire);
    expect(decodeSessionControl(wire)).toEqual(control);
    expect(readSessionText(wire)).toEqual({ kind: 'control', control });
  });

  const MALFORMED = [
    ['\u0000', /unknown session control message ""/],
    ['\u0000bogus', /unknown session control message "bogus"/],
    ['\u0000Hello', /unknown session control message "Hello"/],
    ['\u0000hello ', /"hello" takes 0 argument\(s\), got 1/],
    ['\u0000ack', /"ack" takes 1 argument\(s\), got 0/],
    ['\u0000ack 1 2', /"ack" takes 1 argument\(s\), got 2/],
    ['\u0000ack  1', /"ack" takes 1 argument\(s\), got 2/],
    ['\u0000ack -1', /"ack" has a malformed number "-1"/],
    ['\u0000ack 01', /malformed number "01"/],
    ['\u0000ack 1.5', /malformed number/],
    ['\u0000ack 9007199254740992', /malformed number/],
    ['\u0000ack 99999999999999999999', /malformed number/],
    ['\u0000resume bad!id 1 1', /"resume" has a malformed id/],
    [`\u0000resume ${'a'.repeat(65)} 1 1`, /malformed id/],
    ['\u0000ready id 1', /"ready" takes 3 argument\(s\), got 2/],
    ['\u0000toString', /unknown session control message "toString"/],
  ] as const;

  test.each(MALFORMED)('%j is a protocol error (1002): %s', (wire, message) => {
    const error = thrown(() => readSessionText(wire));
    expectWsError(error, ProtocolError, 'WS_ERR_SESSION_PROTOCOL', 1002);
    expect((error as Error).message).toMatch(message);
  });

  test('a malformed id is refused when writing, too', () => {
    expect(() => encodeSessionControl({ type: 'resume', id: '', received: 0, acked: 0 })).toThrow(
      RangeError,
    );
    expect(isSessionId('a'.repeat(64))).toBe(true);
    expect(isSessionId('a b')).toBe(false);
  });
});

describe('SessionLog (sections 3 to 5)', () => {
  test('numbers outgoing messages from 1 and keeps them until acknowledged', () => {
    const log = new SessionLog<string>(LIMITS);
    expect(log.record('a', 1)).toBe(1);
    expect(log.record('bb', 2)).toBe(2);
    expect(log.record('ccc', 3)).toBe(3);
    expect([log.sent, log.acked, log.unackedMessages, log.unackedBytes]).toEqual([3, 0, 3, 6]);
    expect(log.acknowledge(2)).toBe(true);
    expect(log.logged().map((e) => e.message)).toEqual(['ccc']);
    expect([log.acked, log.unackedMessages, log.unackedBytes]).toEqual([2, 1, 3]);
  });

  test('a smaller or repeated acknowledgement is ignored', () => {
    const log = new SessionLog<string>(LIMITS);
    log.record('a', 1);
    log.record('b', 1);
    log.acknowledge(2);
    expect(log.acknowledge(1)).toBe(false);
    expect(log.acknowledge(2)).toBe(false);
    expect(log.acked).toBe(2);
  });

  test('acknowledging more than was sent is a protocol error (1002)', () => {
    const log = new SessionLog<string>(LIMITS);
    log.record('a', 1);
    const error = thrown(() => log.acknowledge(2));
    expectWsError(error, ProtocolError, 'WS_ERR_SESSION_PROTOCOL', 1002);
    expect((error as Error).message).toMatch(/acknowledged 2 data messages, but only 1 were sent/);
  });

  test('the log is bounded by messages and bytes; one message larger than the bytes bound fits alone', () => {
    const log = new SessionLog<string>(LIMITS);
    for (let i = 0; i < 4; i++) log.record('x', 1);
    expect(log.canSend(1)).toBe(false);
    expect(() => log.record('x', 1)).toThrow(/replay log is full \(4 messages, 4 bytes/);
    log.acknowledge(4);
    log.record('big', 90);
    expect(log.canSend(10)).toBe(true);
    expect(log.canSend(11)).toBe(false);
    log.acknowledge(5);
    expect(log.canSend(1000)).toBe(true);
  });

  test('replays exactly what the peer has not delivered', () => {
    const log = new SessionLog<string>(LIMITS);
    for (const m of ['a', 'b', 'c', 'd']) log.record(m, 1);
    log.acknowledge(1);
    expect(log.replayFrom(1).map((e) => [e.seq, e.message])).toEqual([
      [2, 'b'],
      [3, 'c'],
      [4, 'd'],
    ]);
    expect(log.replayFrom(3).map((e) => e.seq)).toEqual([4]);
    expect(log.replayFrom(4)).toEqual([]);
  });

  test('cannot replay from before what it forgot, or past what it sent', () => {
    const log = new SessionLog<string>(LIMITS);
    for (const m of ['a', 'b', 'c']) log.record(m, 1);
    log.acknowledge(2);
    expect(log.canReplayFrom(1)).toBe(false);
    expect(log.canReplayFrom(2)).toBe(true);
    expect(log.canReplayFrom(3)).toBe(true);
    expect(log.canReplayFrom(4)).toBe(false);
    expect(() => log.replayFrom(1)).toThrow(/Cannot replay after 1: the log holds 3 to 3/);
  });

  test('incoming messages are delivered once: a replay of delivered ones is discarded', () => {
    const log = new SessionLog<string>(LIMITS);
    log.startInbound(1);
    expect([log.inbound(), log.inbound(), log.inbound()]).toEqual([1, 2, 3]);
    // A new connection: the peer resumes at 2 (it had seen our ack of 1 only).
    log.startInbound(2);
    expect([log.inbound(), log.inbound(), log.inbound()]).toEqual([0, 0, 4]);
    expect(log.received).toBe(4);
  });

  test('a connection that would skip messages is a protocol error (1002)', () => {
    const log = new SessionLog<string>(LIMITS);
    log.startInbound(1);
    log.inbound();
    const error = thrown(() => log.startInbound(3));
    expectWsError(error, ProtocolError, 'WS_ERR_SESSION_PROTOCOL', 1002);
  });

  test('starts from a stored state, and refuses an inconsistent one', () => {
    const log = new SessionLog<string>(LIMITS, {
      sent: 7,
      acked: 5,
      received: 9,
      log: [
        { seq: 6, message: 'f', bytes: 1 },
        { seq: 7, message: 'g', bytes: 2 },
      ],
    });
    expect([log.sent, log.acked, log.received, log.unackedBytes]).toEqual([7, 5, 9, 3]);
    expect(log.record('h', 1)).toBe(8);
    expect(log.replayFrom(6).map((e) => e.message)).toEqual(['g', 'h']);
    expect(
      () => new SessionLog<string>(LIMITS, { sent: 7, acked: 5, received: 0, log: [] }),
    ).toThrow(/Inconsistent session state: sent 7, acked 5, 0 logged/);
  });

  test('any interleaving of sends and acknowledgements keeps exactly the unacknowledged messages', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant('send' as const), fc.nat(40)), { maxLength: 3000 }),
        (steps) => {
          const log = new SessionLog<number>({ maxMessages: 1e9, maxBytes: 1e12 });
          let acked = 0;
          for (const step of steps) {
            if (step === 'send') log.record(log.sent + 1, 1);
            else {
              const upTo = Math.min(log.sent, acked + step);
              log.acknowledge(upTo);
              acked = Math.max(acked, upTo);
            }
          }
          const expected = Array.from({ length: log.sent - acked }, (_, i) => acked + i + 1);
          expect(log.logged().map((e) => e.message)).toEqual(expected);
          expect(log.logged().map((e) => e.seq)).toEqual(expected);
          expect(log.unackedBytes).toBe(expected.length);
        },
      ),
      { numRuns: 200 },
    );
  });
});
