/**
 * new WebSocket(url, protocols): one test per step of the constructor, plus
 * the WebIDL shape of the interface.
 * @see https://websockets.spec.whatwg.org/#dom-websocket-websocket
 */
import { describe, expect, test } from 'vitest';
import { WebSocket } from '@proj/client';
import { expectDomException as domException } from '@proj/test-utils';
import { closedPort, connect, connectOpen, nextEvent, startPeer } from './helpers.js';

describe('WebIDL', () => {
  test('the url argument is required', () => {
    // @ts-expect-error: testing the missing argument
    expect(() => new WebSocket()).toThrow(TypeError);
  });

  test('url is a USVString: a URL object is used by its serialization', async () => {
    const peer = await startPeer();
    const ws = connect(new URL(peer.url + '/from-url') as unknown as string);
    expect(ws.url).toBe(peer.url + '/from-url');
    await nextEvent(ws, 'open');
  });

  test('the constants are on the interface and the instance, read-only', async () => {
    expect([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED]).toEqual([
      0, 1, 2, 3,
    ]);
    const port = await closedPort();
    const ws = connect(`ws://127.0.0.1:${port}`);
    expect([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED]).toEqual([0, 1, 2, 3]);
    expect(Object.getOwnPropertyDescriptor(WebSocket, 'OPEN')).toMatchObject({
      writable: false,
      enumerable: true,
      configurable: false,
    });
    expect(Object.hasOwn(ws, 'OPEN')).toBe(false);
    expect(() => {
      (WebSocket as unknown as { OPEN: number }).OPEN = 5;
    }).toThrow(TypeError);
  });

  test('it is an EventTarget with the IDL attributes on its prototype', async () => {
    const port = await closedPort();
    const ws = connect(`ws://127.0.0.1:${port}`);
    expect(ws).toBeInstanceOf(EventTarget);
    expect(Object.prototype.toString.call(ws)).toBe('[object WebSocket]');
    // The members of the IDL interface, in its order: attributes are
    // accessors (a getter), operations are methods (a value).
    const members = {
      url: 'get',
      readyState: 'get',
      bufferedAmount: 'get',
      onopen: 'get',
      onerror: 'get',
      onclose: 'get',
      extensions: 'get',
      protocol: 'get',
      close: 'value',
      onmessage: 'get',
      binaryType: 'get',
      send: 'value',
    } as const;
    for (const [name, kind] of Object.entries(members)) {
      const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, name)!;
      expect(descriptor[kind], name).toBeTypeOf('function');
      expect(descriptor.enumerable, name).toBe(true);
    }
    expect(Object.keys(ws)).toEqual([]);
  });

  test('attributes and methods check their receiver', () => {
    const getter = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'readyState')!.get!;
    expect(() => getter.call({})).toThrow(TypeError);
    expect(() => WebSocket.prototype.send.call({}, 'x')).toThrow(TypeError);
  });
});

describe('constructor steps', () => {
  test('2. a URL that does not parse is a SyntaxError', () => {
    domException(() => new WebSocket('ws://[::1'), 'SyntaxError');
    domException(() => new WebSocket('/relative'), 'SyntaxError');
  });

  test('2. a scheme other than ws, wss, http, https is a SyntaxError', () => {
    domException(() => new WebSocket('ftp://127.0.0.1/'), 'SyntaxError');
    domException(() => new WebSocket('file:///etc/passwd'), 'SyntaxError');
  });

  test('2. a URL with a fragment is a SyntaxError', () => {
    domException(() => new WebSocket('ws://127.0.0.1/#x'), 'SyntaxError');
    domException(() => new WebSocket('ws://127.0.0.1/#'), 'SyntaxError');
  });

  test('2. http: and https: URLs become ws: and wss:', async () => {
    const peer = await startPeer();
    const ws = connect(peer.url.replace('ws:', 'http:') + '/path?q=1');
    expect(ws.url).toBe(peer.url + '/path?q=1');
    await nextEvent(ws, 'open');
    expect(peer.lastRequest()!.url).toBe('/path?q=1');
  });

  test('3. a string protocol is a list of that one protocol', async () => {
    const peer = await startPeer({ handleProtocols: (protocols) => [...protocols][0]! });
    const ws = await connectOpen(peer.url, 'chat.v1');
    expect(peer.lastRequest()!.headers['sec-websocket-protocol']).toBe('chat.v1');
    expect(ws.protocol).toBe('chat.v1');
  });

  test('3. any iterable is a sequence of protocols, in order', async () => {
    const peer = await startPeer({ handleProtocols: () => 'b' });
    const ws = new WebSocket(peer.url, new Set(['a', 'b']));
    await nextEvent(ws, 'open');
    expect(peer.lastRequest()!.headers['sec-websocket-protocol']).toBe('a, b');
    ws.close();
    await nextEvent(ws, 'close');
  });

  test('4. a protocol that occurs twice is a SyntaxError', () => {
    domException(() => new WebSocket('ws://127.0.0.1/', ['chat', 'chat']), 'SyntaxError');
  });

  test('4. duplicates are compared case-sensitively', async () => {
    const peer = await startPeer();
    const ws = connect(peer.url, ['chat', 'Chat']);
    await nextEvent(ws, 'open');
    expect(peer.lastRequest()!.headers['sec-websocket-protocol']).toBe('chat, Chat');
  });

  test('4. a protocol that is not an HTTP token is a SyntaxError', () => {
    for (const protocol of ['', 'a b', 'a,b', 'a/b', 'ch\u00e2t', '"q"', 'a\tb']) {
      domException(() => new WebSocket('ws://127.0.0.1/', protocol), 'SyntaxError');
      domException(() => new WebSocket('ws://127.0.0.1/', ['ok', protocol]), 'SyntaxError');
    }
  });

  test('5. url returns the URL record, serialized', async () => {
    const port = await closedPort();
    const ws = connect(`ws://127.0.0.1:${port}`);
    expect(ws.url).toBe(`ws://127.0.0.1:${port}/`);
  });

  test('7. the connection is established in parallel: the object starts CONNECTING', async () => {
    const peer = await startPeer();
    const ws = connect(peer.url);
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    expect(ws.protocol).toBe('');
    expect(ws.extensions).toBe('');
    expect(ws.bufferedAmount).toBe(0);
    expect(ws.binaryType).toBe('blob');
    await nextEvent(ws, 'open');
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  test('7. the opening handshake asks for the URL path and query with the Host header', async () => {
    const peer = await startPeer();
    await connectOpen(`${peer.url}/chat/room?id=7&x=%20`);
    const request = peer.lastRequest()!;
    expect(request.url).toBe('/chat/room?id=7&x=%20');
    expect(request.headers.host).toBe(`127.0.0.1:${peer.port}`);
    expect(request.headers['sec-websocket-version']).toBe('13');
    // Node has no document: no Origin unless the option asks for one.
    expect(request.headers.origin).toBeUndefined();
    expect(request.headers['sec-websocket-protocol']).toBeUndefined();
  });
});
