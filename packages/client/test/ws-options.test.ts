/**
 * Options a program ported from `ws` carries over: an option this client
 * does not have is a TypeError naming it (ws's names say what to do
 * instead), never silently ignored; `maxPayload: 0`, ws's "no limit", is
 * refused with the way to say it here.
 */
import { describe, expect, test } from 'vitest';
import { WebSocket } from '@proj/client';
import { thrown } from '@proj/test-utils';
import { resolveOptions } from '../src/options.js';
import { closedPort, connect } from './helpers.js';

/**
 * ws 8.23's client options with no key of the same name here: its own
 * (lib/websocket.js `initAsClient`), those @types/ws `ClientOptions` lists,
 * and the http.request / tls.connect ones it passes on that ports carry.
 */
const WS_NAMES = [
  'agent',
  'followRedirects',
  'maxRedirects',
  'protocolVersion',
  'protocol',
  'skipUTF8Validation',
  'autoPong',
  'maxPendingAutoPongs',
  'allowSynchronousEvents',
  'maxBufferedChunks',
  'finishRequest',
  'createConnection',
  'generateMask',
  'localAddress',
  'localPort',
  'family',
  'lookup',
  'hints',
  'autoSelectFamily',
  'socketPath',
  'timeout',
  'signal',
  'host',
  'hostname',
  'port',
  'path',
  'auth',
  'checkServerIdentity',
  'passphrase',
  'pfx',
  'ciphers',
  'minVersion',
  'maxVersion',
  'secureContext',
  'secureProtocol',
  'secureOptions',
  'sigalgs',
  'ecdhCurve',
  'crl',
  'ALPNProtocols',
  'session',
];

describe("ws's option names", () => {
  test('agent: a TypeError that points to the proxy option and the environment', () => {
    const error = thrown(() => resolveOptions({ agent: {} }));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe(
      'The WebSocket option "agent" is ws\'s; here: the Node client opens its own TCP or TLS ' +
        'connection, and takes no agent; for a proxy, give its URL as "proxy" ' +
        '(http://[user:pass@]host:port, HTTP CONNECT), or set HTTPS_PROXY / HTTP_PROXY / NO_PROXY, ' +
        'which are read by default',
    );
  });

  test('followRedirects and maxRedirects: redirects are not followed, as in browsers', () => {
    for (const name of ['followRedirects', 'maxRedirects']) {
      expect(() => resolveOptions({ [name]: true })).toThrow(
        `The WebSocket option "${name}" is ws's; here: redirects are not followed: as in browsers, ` +
          'an answer other than 101 fails the connection',
      );
    }
  });

  test('each of them is a TypeError naming it, with what to do instead', () => {
    for (const name of WS_NAMES) {
      const error = thrown(() => resolveOptions({ [name]: 1 }));
      expect(error, name).toBeInstanceOf(TypeError);
      expect((error as Error).message, name).toMatch(
        new RegExp(`^The WebSocket option "${name}" is ws's; here: .{20,}`),
      );
    }
  });

  test('the hints point at what exists here', () => {
    expect(() => resolveOptions({ timeout: 1000 })).toThrow('"handshakeTimeout"');
    expect(() => resolveOptions({ autoPong: false })).toThrow('pings are always answered');
    expect(() => resolveOptions({ protocolVersion: 8 })).toThrow('only version 13');
    expect(() => resolveOptions({ finishRequest: () => {} })).toThrow('"headers"');
    expect(() => resolveOptions({ protocol: 'chat' })).toThrow(
      '"protocols" in the init dictionary',
    );
    expect(() => resolveOptions({ maxBufferedChunks: 10 })).toThrow('"maxFragments"');
  });

  test('refused even when undefined: the key shows a port that needs a look', () => {
    expect(() => resolveOptions({ agent: undefined })).toThrow(TypeError);
  });

  test('the constructor refuses them before connecting', async () => {
    const port = await closedPort();
    const url = `ws://127.0.0.1:${port}/`;
    expect(() => new WebSocket(url, [], { agent: {} } as never)).toThrow(
      'The WebSocket option "agent" is ws\'s',
    );
    expect(() => new WebSocket(url, [], { followRedirects: true } as never)).toThrow(TypeError);
  });
});

describe('unknown options', () => {
  test('a typo is a TypeError that suggests the option meant', () => {
    expect(() => resolveOptions({ maxPayLoad: 5 })).toThrow(
      new RegExp(
        '^Unknown WebSocket option "maxPayLoad" \\(did you mean "maxPayload"\\?\\); ' +
          'the options are "headers", "origin", ',
      ),
    );
  });

  test('any other key is a TypeError listing the options', () => {
    const error = thrown(() => resolveOptions({ foo: 1 }));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/^Unknown WebSocket option "foo"; the options are /);
    expect((error as Error).message).toContain('"pingInterval"');
    // "protocols" is a key of the init dictionary only.
    expect((error as Error).message).not.toContain('"protocols"');
  });

  test('an unknown key set to undefined sets nothing and is let through (spread defaults)', () => {
    expect(() => resolveOptions({ foo: undefined, origin: undefined })).not.toThrow();
  });

  test('"protocols" in the third argument says where protocols go', () => {
    expect(() => resolveOptions({ protocols: ['a'] })).toThrow(
      'The "protocols" option belongs in the init dictionary',
    );
  });

  test('a valid option is still taken (the list is complete)', async () => {
    const port = await closedPort();
    const ws = connect(`ws://127.0.0.1:${port}`, [], {
      headers: { 'X-A': 'a' },
      origin: 'https://a.example',
      handshakeTimeout: 1000,
      closeTimeout: 1000,
      maxPayload: 1024,
      maxFragments: 10,
      perMessageDeflate: false,
      pingInterval: 1000,
      ca: 'x',
      cert: 'x',
      key: 'x',
      rejectUnauthorized: true,
      servername: 'x',
    });
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
  });
});

describe('maxPayload', () => {
  test("0 (ws's 'no limit') is a RangeError that says to use Infinity", () => {
    const error = thrown(() => resolveOptions({ maxPayload: 0 }));
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toContain('got 0');
    expect((error as Error).message).toContain('ws reads 0 as "no limit"; here that is Infinity');
    expect(() => new WebSocket('ws://127.0.0.1:1/', [], { maxPayload: 0 })).toThrow(RangeError);
  });

  test('Infinity is no limit', () => {
    expect(resolveOptions({ maxPayload: Infinity }).maxPayload).toBe(Infinity);
  });
});
