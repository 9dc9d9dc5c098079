/**
 * Option validation: a TypeError (wrong type, missing or ambiguous mode) or a
 * RangeError (a number that is not an integer in range, as Node's own
 * validators have it), each naming the option, thrown by the constructor
 * before anything listens.
 */
import { createServer } from 'node:http';
import { describe, expect, test } from 'vitest';
import { DEFAULTS, type ServerOptions, WebSocketServer } from '@proj/server';

/** Builds a server from options the types would refuse. */
function make(options: unknown): WebSocketServer {
  return new WebSocketServer(options as ServerOptions);
}

describe('modes', () => {
  test.each<[string, unknown]>([
    ['no mode', {}],
    ['port and server', { port: 0, server: createServer() }],
    ['port and noServer', { port: 0, noServer: true }],
    ['server and noServer', { server: createServer(), noServer: true }],
    ['noServer: false alone', { noServer: false }],
  ])('%s → TypeError naming the three modes', (_, options) => {
    expect(() => make(options)).toThrow(TypeError);
    expect(() => make(options)).toThrow(/"port".*"server".*"noServer"/);
  });

  test.each([null, undefined, 'port', 8080])('options %s → TypeError', (options) => {
    expect(() => make(options)).toThrow(TypeError);
  });
});

describe('each option names itself', () => {
  const base = { noServer: true };
  test.each<[string, Record<string, unknown>, typeof TypeError | typeof RangeError]>([
    ['port', { port: 70000, noServer: undefined }, RangeError],
    ['port', { port: -1, noServer: undefined }, RangeError],
    ['port', { port: 80.5, noServer: undefined }, RangeError],
    ['port', { port: '8080', noServer: undefined }, TypeError],
    ['host', { port: 0, host: 1, noServer: undefined }, TypeError],
    ['backlog', { port: 0, backlog: 0, noServer: undefined }, RangeError],
    ['backlog', { port: 0, backlog: 2 ** 31, noServer: undefined }, RangeError],
    ['backlog', { port: 0, backlog: 1.5, noServer: undefined }, RangeError],
    ['backlog', { port: 0, backlog: '511', noServer: undefined }, TypeError],
    ['backlog', { backlog: 511 }, TypeError],
    ['backlog', { server: createServer(), backlog: 511, noServer: undefined }, TypeError],
    ['path', { path: 'ws' }, TypeError],
    ['path', { path: 5 }, TypeError],
    ['authenticate', { authenticate: 'yes' }, TypeError],
    ['handleProtocols', { handleProtocols: {} }, TypeError],
    ['headers', { headers: { 'x-a': 'b' } }, TypeError],
    ['allowedOrigins', { allowedOrigins: 'https://a.example' }, TypeError],
    ['allowedOrigins', { allowedOrigins: [1] }, TypeError],
    ['protocols', { protocols: 'chat' }, TypeError],
    ['protocols', { protocols: ['chat', 2] }, TypeError],
    ['maxPayload', { maxPayload: -1 }, RangeError],
    ['maxPayload', { maxPayload: 1.5 }, RangeError],
    ['maxPayload', { maxPayload: Number.NaN }, RangeError],
    ['maxPayload', { maxPayload: 0 }, RangeError],
    ['maxPayload', { maxPayload: '1' }, TypeError],
    ['maxFragments', { maxFragments: 0 }, RangeError],
    ['lendMessages', { lendMessages: 'yes' }, TypeError],
    ['lendMessages', { lendMessages: 1 }, TypeError],
    ['maxHeadSize', { maxHeadSize: 100 }, RangeError],
    ['maxHeadSize', { maxHeadSize: 2 ** 30 }, RangeError],
    ['handshakeTimeout', { handshakeTimeout: 0 }, RangeError],
    ['handshakeTimeout', { handshakeTimeout: 2 ** 31 }, RangeError],
    ['closeTimeout', { closeTimeout: -5 }, RangeError],
    ['closeTimeout', { closeTimeout: '1s' }, TypeError],
    ['heartbeatInterval', { heartbeatInterval: -1 }, RangeError],
    ['maxHeaderCount', { maxHeaderCount: 0 }, RangeError],
    ['maxHeaderCount', { maxHeaderCount: 2.5 }, RangeError],
    ['maxConnections', { maxConnections: 0 }, RangeError],
    ['maxConnections', { maxConnections: '10' }, TypeError],
    ['maxConnections', { maxConnections: -Infinity }, RangeError],
    ['idleTimeout', { idleTimeout: -1 }, RangeError],
    ['idleTimeout', { idleTimeout: 2 ** 31 }, RangeError],
    ['idleTimeout', { idleTimeout: Infinity }, RangeError],
    ['maxBacklog', { maxBacklog: -1 }, RangeError],
    ['maxBacklog', { maxBacklog: 1.5 }, RangeError],
    ['backlogPolicy', { backlogPolicy: 'drop' }, TypeError],
    ['backlogPolicy', { backlogPolicy: 1 }, TypeError],
    ['allowedOrigins', { allowedOrigins: ['https://a.example/'] }, TypeError],
    ['allowedOrigins', { allowedOrigins: ['a.example'] }, TypeError],
  ])('%s: %j', (name, options, ErrorClass) => {
    const attempt = (): WebSocketServer => make({ ...base, ...options });
    expect(attempt).toThrow(ErrorClass);
    expect(attempt).toThrow(`"${name}"`);
  });
});

describe('one wording for each kind of mistake (@proj/protocol integerOption, oneOf)', () => {
  test('backlog outside standalone mode says where a listen queue is set instead', () => {
    expect(() => make({ noServer: true, backlog: 1024 })).toThrow(
      new TypeError(
        'The "backlog" option applies only with "port": a server you listen with yourself ' +
          '(the "server" or "noServer" modes) sets its own in listen({ backlog })',
      ),
    );
  });

  test('a number out of range and a value of the wrong type', () => {
    expect(() => make({ noServer: true, maxPayload: 'abc' })).toThrow(
      new TypeError(
        'The "maxPayload" option must be an integer of at least 1 or Infinity, got "abc"',
      ),
    );
    expect(() => make({ noServer: true, closeTimeout: 0 })).toThrow(
      new RangeError('The "closeTimeout" option must be an integer from 1 to 2147483647, got 0'),
    );
    expect(() => make({ noServer: true, backlogPolicy: 'drop' })).toThrow(
      new TypeError('The "backlogPolicy" option must be one of "close", "reject", got "drop"'),
    );
  });
});

describe('valid options', () => {
  test('defaults are documented safe values', () => {
    expect(DEFAULTS).toEqual({
      backlog: 511,
      maxPayload: 16 * 1024 * 1024,
      maxFragments: 131_072,
      maxHeadSize: 16 * 1024,
      handshakeTimeout: 10_000,
      closeTimeout: 10_000,
      heartbeatInterval: 0,
      maxHeaderCount: 100,
      maxConnections: Infinity,
      idleTimeout: 0,
      maxBacklog: 16 * 1024 * 1024,
      backlogPolicy: 'close',
      memoryBudget: 256 * 1024 * 1024,
    });
  });

  test('boundary values are accepted', async () => {
    const server = new WebSocketServer({
      noServer: true,
      path: '/',
      maxPayload: 1,
      maxFragments: 1,
      maxHeadSize: 1024,
      handshakeTimeout: 1,
      closeTimeout: 1,
      heartbeatInterval: 0,
      maxHeaderCount: 1,
      maxConnections: 1,
      idleTimeout: 0,
      maxBacklog: 0,
      backlogPolicy: 'reject',
      allowedOrigins: [],
      protocols: [],
      authenticate: () => undefined,
      handleProtocols: () => undefined,
      headers: () => {},
    });
    await server.close();
    const withPredicate = new WebSocketServer({ noServer: true, allowedOrigins: () => true });
    await withPredicate.close();
    const unlimited = new WebSocketServer({
      noServer: true,
      maxPayload: Infinity,
      maxConnections: Infinity,
      maxBacklog: Infinity,
      idleTimeout: 2 ** 31 - 1,
      backlogPolicy: 'close',
    });
    await unlimited.close();
  });
});

describe('types', () => {
  test('a server typed with connection data requires authenticate, which gives data its value', () => {
    // @ts-expect-error: nothing would give `socket.data` its `{ user: string }`.
    const untyped = () => new WebSocketServer<{ user: string }>({ noServer: true });
    expect(untyped).toBeTypeOf('function');
    const typed = new WebSocketServer<{ user: string }>({
      noServer: true,
      authenticate: () => ({ user: 'ada' }),
    });
    // Inferred from authenticate, without a type argument.
    const inferred = new WebSocketServer({ noServer: true, authenticate: () => ({ id: 1 }) });
    inferred.on('connection', (socket) => {
      const id: number = socket.data.id;
      expect(id).toBeTypeOf('number');
    });
    // Without data, authenticate stays optional.
    const plain = new WebSocketServer({ noServer: true });
    void typed.close();
    void inferred.close();
    void plain.close();
  });
});
