/** The command line, parsed in process: what each option becomes, and what is refused. */
import { describe, expect, test } from 'vitest';
import { UsageError, collectHeaders, parseInvocation, parsePort, parseWait } from '../src/args.js';

describe('parseInvocation', () => {
  test('connect: every option, short and long', () => {
    expect(
      parseInvocation([
        'connect',
        'ws://h/',
        '-H',
        'A: 1',
        '--subprotocol',
        'p1',
        '-s',
        'p2',
        '-o',
        'https://o',
        '--deflate',
        '-x',
        'm1',
        '--execute',
        'm2',
        '-w',
        '0.5',
        '-b',
        '-q',
      ]),
    ).toEqual({
      command: 'connect',
      url: 'ws://h/',
      headers: { A: '1' },
      subprotocols: ['p1', 'p2'],
      origin: 'https://o',
      deflate: true,
      execute: ['m1', 'm2'],
      waitMs: 500,
      binary: true,
      quiet: true,
    });
  });

  test('connect: the defaults', () => {
    expect(parseInvocation(['connect', 'ws://h/'])).toEqual({
      command: 'connect',
      url: 'ws://h/',
      headers: {},
      subprotocols: [],
      origin: undefined,
      deflate: false,
      execute: undefined,
      waitMs: 2000,
      binary: false,
      quiet: false,
    });
  });

  test('listen: the defaults, and every option', () => {
    expect(parseInvocation(['listen', '8080'])).toEqual({
      command: 'listen',
      port: 8080,
      host: '127.0.0.1',
      mode: 'echo',
      subprotocols: [],
      deflate: false,
      binary: false,
      quiet: false,
    });
    expect(
      parseInvocation([
        'listen',
        '0',
        '--host',
        '::',
        '-m',
        'print',
        '-s',
        'a',
        '--deflate',
        '-b',
        '-q',
      ]),
    ).toEqual({
      command: 'listen',
      port: 0,
      host: '::',
      mode: 'print',
      subprotocols: ['a'],
      deflate: true,
      binary: true,
      quiet: true,
    });
  });

  test('a message that starts with a dash goes after "="', () => {
    expect(parseInvocation(['connect', 'ws://h/', '--execute=-1'])).toMatchObject({
      execute: ['-1'],
    });
  });

  test('--help anywhere before "--" asks for the command help', () => {
    expect(parseInvocation(['listen', 'nope', '-h'])).toEqual({ command: 'help', topic: 'listen' });
    expect(() => parseInvocation(['connect', 'ws://h/', '--', '--help'])).toThrow(
      "unexpected argument '--help'",
    );
  });

  test('usage errors name the command whose usage to show', () => {
    const error = thrown(() => parseInvocation(['listen', '0', '--deflate=yes']));
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).command).toBe('listen');
    expect((thrown(() => parseInvocation(['dial'])) as UsageError).command).toBeUndefined();
  });
});

describe('collectHeaders', () => {
  test('splits at the first colon and trims', () => {
    expect(collectHeaders(['Authorization:  Bearer a:b ', 'X-Empty:'])).toEqual({
      Authorization: 'Bearer a:b',
      'X-Empty': '',
    });
  });

  test('a name repeated in any case collects its values under its first spelling', () => {
    expect(collectHeaders(['Cookie: a=1', 'cookie: b=2', 'COOKIE: c=3'])).toEqual({
      Cookie: ['a=1', 'b=2', 'c=3'],
    });
  });

  test.each(['no colon', ': value', '  : value'])('refuses %j', (text) => {
    expect(() => collectHeaders([text])).toThrow(UsageError);
  });
});

describe('parseWait', () => {
  test.each([
    [undefined, 2],
    ['0', 0],
    ['1.5', 1.5],
    ['2147483', 2147483],
  ])('%j is %d seconds', (value, seconds) => {
    expect(parseWait(value)).toBe(seconds);
  });

  test.each(['', ' ', '-1', 'abc', 'Infinity', '2147484', '1e9'])('refuses %j', (value) => {
    expect(() => parseWait(value)).toThrow(/--wait must be a number of seconds from 0 to 2147483/);
  });
});

describe('parsePort', () => {
  test.each([
    ['0', 0],
    ['8080', 8080],
    ['65535', 65535],
  ])('%j is %d', (value, port) => {
    expect(parsePort(value)).toBe(port);
  });

  test.each(['65536', '-1', '80.5', '0x50', '', '123456', ' 80'])('refuses %j', (value) => {
    expect(() => parsePort(value)).toThrow(/<port> must be an integer from 0 to 65535/);
  });
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
}
