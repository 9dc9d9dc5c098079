/**
 * `new WebSocket(url, init)`: the init dictionary undici and Bun take (and
 * ws's `new WebSocket(url, options)`), beside WHATWG's protocols argument,
 * whose every shape keeps its browser meaning.
 */
import { describe, expect, test } from 'vitest';
import { WebSocket, type WebSocketInit } from '@proj/client';
import { expectDomException, thrown } from '@proj/test-utils';
import { closedPort, closeQuietly, connect, nextEvent, startPeer } from './helpers.js';

/** A WebSocket to `url`, closed after the test. */
function open(url: string, init?: WebSocketInit): WebSocket {
  const ws = new WebSocket(url, init);
  closeQuietly(ws);
  return ws;
}

describe('the init dictionary', () => {
  test("the README's example: { perMessageDeflate: true } offers permessage-deflate", async () => {
    const peer = await startPeer({ perMessageDeflate: true });
    const ws = open(peer.url, { perMessageDeflate: true });
    await nextEvent(ws, 'open');
    expect(ws.extensions).toContain('permessage-deflate');
    expect(peer.lastRequest()!.headers['sec-websocket-extensions']).toContain('permessage-deflate');
    expect(peer.lastRequest()!.headers['sec-websocket-protocol']).toBeUndefined();
  });

  test('protocols, headers and options together', async () => {
    const peer = await startPeer({ handleProtocols: () => 'b' });
    const ws = open(peer.url, {
      protocols: ['a', 'b'],
      headers: { Authorization: 'Bearer t' },
      origin: 'https://app.example',
      handshakeTimeout: 5000,
      closeTimeout: 1000,
    });
    await nextEvent(ws, 'open');
    const request = peer.lastRequest()!;
    expect(request.headers['sec-websocket-protocol']).toBe('a, b');
    expect(request.headers.authorization).toBe('Bearer t');
    expect(request.headers.origin).toBe('https://app.example');
    expect(ws.protocol).toBe('b');
  });

  test('protocols: a string is one protocol', async () => {
    const peer = await startPeer({ handleProtocols: () => 'chat' });
    const ws = open(peer.url, { protocols: 'chat' });
    await nextEvent(ws, 'open');
    expect(peer.lastRequest()!.headers['sec-websocket-protocol']).toBe('chat');
    expect(ws.protocol).toBe('chat');
  });

  test('protocols: any iterable of strings is a sequence, in order', async () => {
    const peer = await startPeer();
    const ws = open(peer.url, { protocols: new Set(['x', 'y']) });
    await nextEvent(ws, 'open');
    expect(peer.lastRequest()!.headers['sec-websocket-protocol']).toBe('x, y');
  });

  test('an empty dictionary, and one made by Object.create(null), are dictionaries', async () => {
    const peer = await startPeer();
    const empty = open(peer.url, {});
    await nextEvent(empty, 'open');
    expect(peer.lastRequest()!.headers['sec-websocket-protocol']).toBeUndefined();
    const bare = Object.assign(Object.create(null) as WebSocketInit, { protocols: 'p' });
    const ws = open(peer.url, bare);
    await nextEvent(ws, 'open');
    expect(peer.lastRequest()!.headers['sec-websocket-protocol']).toBe('p');
  });

  test('protocols that repeat or are not tokens: SyntaxError, as in the WHATWG form', () => {
    const invalid = () => new WebSocket('ws://127.0.0.1/', { protocols: ['ok', 'a b'] });
    expectDomException(invalid, 'SyntaxError');
    expect(invalid).toThrow("The subprotocol 'a b' is invalid.");
    const repeated = () => new WebSocket('ws://127.0.0.1/', { protocols: ['a', 'a'] });
    expectDomException(repeated, 'SyntaxError');
    expect(repeated).toThrow('The subprotocols must not contain duplicates.');
  });

  test('protocols of the wrong shape: a TypeError that says what went wrong', () => {
    for (const protocols of [5, null, true, { a: 1 }, () => 'a']) {
      const error = thrown(() => new WebSocket('ws://127.0.0.1/', { protocols } as never));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(
        /^The "protocols" option must be a string or a sequence of strings, got /,
      );
    }
    expect(() => new WebSocket('ws://127.0.0.1/', { protocols: ['a', 5] } as never)).toThrow(
      new TypeError(
        'The "protocols" option must be a string or a sequence of strings, got 5 at index 1',
      ),
    );
  });

  test('a dictionary and options both: a TypeError that says which to use', () => {
    const init = { protocols: 'a' };
    const options = { closeTimeout: 5 };
    // @ts-expect-error: the types refuse it too
    const error = thrown(() => new WebSocket('ws://127.0.0.1/', init, options));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain(
      'the options go either in the init dictionary, new WebSocket(url, { protocols, ...options }), ' +
        'or third, new WebSocket(url, protocols, options); not in both',
    );
  });

  test('an undefined third argument is no options', async () => {
    const peer = await startPeer();
    // The types take no third argument after a dictionary; JavaScript callers may pass one.
    const Untyped = WebSocket as new (...args: unknown[]) => WebSocket;
    const ws = new Untyped(peer.url, { protocols: 'a' }, undefined);
    closeQuietly(ws);
    await nextEvent(ws, 'open');
  });

  test('unknown keys are refused, ws names with their hints; "protocols" is known', () => {
    expect(() => new WebSocket('ws://127.0.0.1/', { protcols: ['a'] } as never)).toThrow(
      /^Unknown WebSocket option "protcols"; the options are "protocols", "headers", /,
    );
    expect(() => new WebSocket('ws://127.0.0.1/', { Protocols: 'a' } as never)).toThrow(
      'Unknown WebSocket option "Protocols" (did you mean "protocols"?)',
    );
    expect(() => new WebSocket('ws://127.0.0.1/', { agent: {} } as never)).toThrow(
      'The WebSocket option "agent" is ws\'s; here: ',
    );
    expect(() => new WebSocket('ws://127.0.0.1/', { protocol: 'a' } as never)).toThrow(
      '"protocols" in the init dictionary',
    );
  });

  test('options in the dictionary are checked as in the third argument', () => {
    expect(() => new WebSocket('ws://127.0.0.1/', { handshakeTimeout: 0 })).toThrow(
      new RangeError(
        'The "handshakeTimeout" option must be an integer from 1 to 2147483647, got 0',
      ),
    );
    expect(() => new WebSocket('ws://127.0.0.1/', { maxPayload: 0 })).toThrow(RangeError);
  });

  test('the URL is checked first, as with the third argument', () => {
    expectDomException(
      () => new WebSocket('ftp://x/', { handshakeTimeout: -5, agent: 1 } as never),
      'SyntaxError',
    );
  });
});

describe('the WHATWG shapes keep their meaning', () => {
  test('a string and an array are protocols', async () => {
    const peer = await startPeer({ handleProtocols: (offered) => [...offered][0]! });
    const one = connect(peer.url, 'one');
    await nextEvent(one, 'open');
    expect(one.protocol).toBe('one');
    const list = connect(peer.url, ['two', 'three']);
    await nextEvent(list, 'open');
    expect(peer.lastRequest()!.headers['sec-websocket-protocol']).toBe('two, three');
  });

  test('an object that is not plain is converted to a string, as WebIDL does', async () => {
    const peer = await startPeer({ handleProtocols: () => 'from-object' });
    class Name {
      toString(): string {
        return 'from-object';
      }
    }
    const ws = new WebSocket(peer.url, new Name() as unknown as string);
    closeQuietly(ws);
    await nextEvent(ws, 'open');
    expect(peer.lastRequest()!.headers['sec-websocket-protocol']).toBe('from-object');
    expect(ws.protocol).toBe('from-object');
  });

  test('null is the protocol "null", as in browsers', async () => {
    const peer = await startPeer();
    const ws = new WebSocket(peer.url, null as unknown as string);
    closeQuietly(ws);
    await nextEvent(ws, 'open');
    expect(peer.lastRequest()!.headers['sec-websocket-protocol']).toBe('null');
  });

  test('an iterable plain object is a sequence, not a dictionary', async () => {
    const peer = await startPeer();
    const iterable = {
      *[Symbol.iterator]() {
        yield 'it';
      },
    };
    const ws = new WebSocket(peer.url, iterable);
    closeQuietly(ws);
    await nextEvent(ws, 'open');
    expect(peer.lastRequest()!.headers['sec-websocket-protocol']).toBe('it');
  });

  test('the third argument still takes the options', async () => {
    const port = await closedPort();
    expect(() => new WebSocket(`ws://127.0.0.1:${port}`, 'a', { closeTimeout: 0 })).toThrow(
      RangeError,
    );
  });
});
