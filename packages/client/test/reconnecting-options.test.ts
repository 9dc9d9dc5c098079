/**
 * What the ReconnectingWebSocket constructor refuses, synchronously, before
 * anything starts: arguments a WebSocket would refuse (`SyntaxError`) and
 * options that are unknown or invalid (`TypeError`/`RangeError` naming them,
 * worded as every other option of the project).
 */
import { describe, expect, test } from 'vitest';
import { ReconnectingWebSocket } from '@proj/client';
import { onCleanup, useCleanup } from '@proj/test-utils';

useCleanup({ failOnUncaught: false });

type Options = ConstructorParameters<typeof ReconnectingWebSocket>[2];

/** Constructs, and closes it after the test if that worked. */
function make(url: unknown, protocols?: unknown, options?: unknown): ReconnectingWebSocket {
  const ws = new ReconnectingWebSocket(
    url as string,
    protocols as string[] | undefined,
    options as Options,
  );
  onCleanup(() => ws.close());
  return ws;
}

const URL_ = 'ws://127.0.0.1:1/';

describe('arguments, as the WebSocket constructor checks them', () => {
  test('no URL: TypeError', () => {
    expect(() => make(undefined)).toThrow(
      new TypeError(
        "Failed to construct 'ReconnectingWebSocket': 1 argument required, but only 0 present.",
      ),
    );
  });

  test.each(['ftp://example.com/', 'ws://example.com/#top', '/relative', 'not a url'])(
    'URL %j: SyntaxError',
    (url) => {
      expect(() => make(url)).toThrow(expect.objectContaining({ name: 'SyntaxError' }));
    },
  );

  test('http: and https: URLs show as ws: and wss:, as a WebSocket shows them', () => {
    expect(make('http://127.0.0.1:1/a?b').url).toBe('ws://127.0.0.1:1/a?b');
    expect(make(new URL('https://127.0.0.1:1/')).url).toBe('wss://127.0.0.1:1/');
  });

  test.each([[['a', 'a']], ['a b'], [['ok', '']]])('protocols %j: SyntaxError', (protocols) => {
    expect(() => make(URL_, protocols)).toThrow(expect.objectContaining({ name: 'SyntaxError' }));
  });
});

describe('options', () => {
  test.each<[string, unknown, new (...args: never[]) => Error, string]>([
    [
      'an unknown key, with the name meant',
      { maxdelay: 5 },
      TypeError,
      'Unknown ReconnectingWebSocket option "maxdelay" (did you mean "maxDelay"?)',
    ],
    [
      "another library's name, with ours",
      { minReconnectionDelay: 5 },
      TypeError,
      'The ReconnectingWebSocket option "minReconnectionDelay" is reconnecting-websocket\'s; here: use "minDelay"',
    ],
    [
      'minDelay 0',
      { minDelay: 0 },
      RangeError,
      'The "minDelay" option must be an integer from 1 to 2147483647, got 0',
    ],
    [
      'minDelay as a string',
      { minDelay: '5' },
      TypeError,
      'The "minDelay" option must be an integer from 1 to 2147483647, got "5"',
    ],
    [
      'maxDelay below minDelay',
      { minDelay: 500, maxDelay: 100 },
      RangeError,
      'The "maxDelay" option must be at least "minDelay" (500), got 100',
    ],
    [
      'factor below 1',
      { factor: 0.5 },
      RangeError,
      'The "factor" option must be a number of at least 1, got 0.5',
    ],
    ['factor Infinity', { factor: Infinity }, RangeError, 'got Infinity'],
    [
      'factor as a string',
      { factor: 'x' },
      TypeError,
      'The "factor" option must be a number of at least 1',
    ],
    [
      'maxRetries -1',
      { maxRetries: -1 },
      RangeError,
      'The "maxRetries" option must be an integer of at least 0 or Infinity, got -1',
    ],
    ['maxRetryTime 1.5', { maxRetryTime: 1.5 }, RangeError, 'The "maxRetryTime" option'],
    ['openTimeout -1', { openTimeout: -1 }, RangeError, 'The "openTimeout" option'],
    ['minUptime NaN', { minUptime: NaN }, RangeError, 'The "minUptime" option'],
    [
      'maxQueuedBytes as a string',
      { maxQueuedBytes: '1' },
      TypeError,
      'The "maxQueuedBytes" option',
    ],
    [
      'maxQueuedMessages 1.5',
      { maxQueuedMessages: 1.5 },
      RangeError,
      'The "maxQueuedMessages" option',
    ],
    [
      'finalCloseCodes not an array',
      { finalCloseCodes: 4001 },
      TypeError,
      'The "finalCloseCodes" option must be an array of close codes (1000-1003, 1007-1014, 3000-4999), got 4001',
    ],
    [
      'finalCloseCodes holding 1006',
      { finalCloseCodes: [4001, 1006] },
      RangeError,
      'got 1006 in it',
    ],
    ['finalCloseCodes holding a string', { finalCloseCodes: ['4001'] }, TypeError, 'got "4001"'],
    [
      'token not a function',
      { token: 'abc' },
      TypeError,
      'The "token" option must be a function, got "abc"',
    ],
    [
      'tokenIn elsewhere',
      { tokenIn: 'cookie' },
      TypeError,
      'The "tokenIn" option must be one of "query", "header", got "cookie"',
    ],
    [
      'tokenParam empty',
      { tokenParam: '' },
      TypeError,
      'The "tokenParam" option must be a non-empty string',
    ],
    [
      'protocols in socketOptions',
      { socketOptions: { protocols: ['a'] } },
      TypeError,
      'The "socketOptions" option must not hold "protocols": they are the second argument',
    ],
    [
      "a WebSocket option's own check",
      { socketOptions: { closeTimeout: 0 } },
      RangeError,
      'The "closeTimeout" option must be an integer from 1 to 2147483647, got 0',
    ],
    [
      'an unknown WebSocket option',
      { socketOptions: { agent: {} } },
      TypeError,
      'The WebSocket option "agent" is ws\'s',
    ],
    [
      'a header token beside an Authorization header',
      { token: () => 't', tokenIn: 'header', socketOptions: { headers: { Authorization: 'x' } } },
      TypeError,
      'The "token" option with tokenIn "header" sets the Authorization header',
    ],
    [
      'environment not an object',
      { environment: 5 },
      TypeError,
      'The "environment" option must be an object, got 5',
    ],
    [
      'an unknown environment key',
      { environment: { clock: () => 0 } },
      TypeError,
      'Unknown ReconnectingWebSocket environment option "clock"',
    ],
    [
      'setTimeout without clearTimeout',
      { environment: { setTimeout: () => 1 } },
      TypeError,
      '"setTimeout" and "clearTimeout" go together',
    ],
    [
      'random not a function',
      { environment: { random: 0.5 } },
      TypeError,
      'The "environment.random" option must be a function',
    ],
    [
      'a network without listeners',
      { environment: { network: { onLine: true } } },
      TypeError,
      'The "environment.network" option must be null or an object with "onLine", "addEventListener" and "removeEventListener", got an object',
    ],
  ])('%s', (_name, options, ErrorClass, message) => {
    let error: unknown;
    try {
      make(URL_, undefined, options);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ErrorClass);
    expect((error as Error).message).toContain(message);
  });

  test('options that are valid, including the limits Infinity and 0', () => {
    const ws = make(URL_, ['a'], {
      minDelay: 1,
      maxDelay: 1,
      factor: 1,
      maxRetries: Infinity,
      maxRetryTime: Infinity,
      minUptime: 0,
      openTimeout: 0,
      maxQueuedMessages: 0,
      maxQueuedBytes: Infinity,
      finalCloseCodes: [1000, 4999],
      token: () => null,
      tokenIn: 'header',
      tokenParam: 'jwt',
      socketOptions: { handshakeTimeout: 1000 },
      environment: { network: null, now: Date.now, random: Math.random },
      // An unknown key set to undefined sets nothing, as with the WebSocket's options.
      minRetries: undefined,
    });
    expect(ws.readyState).toBe(ReconnectingWebSocket.CONNECTING);
  });
});

describe('the interface object', () => {
  test('constants on the class and on instances, read-only', () => {
    const ws = make(URL_);
    for (const [name, value] of [
      ['CONNECTING', 0],
      ['OPEN', 1],
      ['CLOSING', 2],
      ['CLOSED', 3],
    ] as const) {
      expect(ReconnectingWebSocket[name]).toBe(value);
      expect(ws[name]).toBe(value);
    }
    expect(() => {
      (ReconnectingWebSocket as { OPEN: number }).OPEN = 5;
    }).toThrow(TypeError);
    expect(() => {
      (ws as { OPEN: number }).OPEN = 5;
    }).toThrow(TypeError);
  });

  test('on* attributes: a non-callable value is null; setting keeps the place among listeners', () => {
    const ws = make(URL_);
    const calls: string[] = [];
    ws.onopen = () => calls.push('first');
    ws.addEventListener('open', () => calls.push('listener'));
    ws.onopen = () => calls.push('second');
    ws.dispatchEvent(new Event('open'));
    expect(calls).toEqual(['second', 'listener']);
    ws.onopen = 'x' as never;
    expect(ws.onopen).toBeNull();
  });

  test('binaryType: "blob" by default, other values ignored', () => {
    const ws = make(URL_);
    expect(ws.binaryType).toBe('blob');
    ws.binaryType = 'arraybuffer';
    ws.binaryType = 'nodebuffer' as never;
    expect(ws.binaryType).toBe('arraybuffer');
  });
});
