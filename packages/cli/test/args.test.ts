/** The command line, parsed in process: what each option becomes, and what is refused. */
import { describe, expect, test } from 'vitest';
import { thrown } from '@proj/test-utils';
import { UsageError, collectHeaders, parseInvocation, parsePort, parseWait } from '../src/args.js';

describe('parseInvocation', () => {
  test.each([
    [
      'connect: every option, short and long',
      [
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
      ],
      {
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
      },
    ],
    [
      'connect: the defaults',
      ['connect', 'ws://h/'],
      {
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
      },
    ],
  ])('%s', (_, argv, parsed) => {
    expect(parseInvocation(argv)).toEqual(parsed);
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

/** A number option's parser: the value each accepted text gives (`title`), and the texts it refuses. */
function numberParser<T extends string | undefined>(
  parse: (text: T) => number,
  title: string,
  accepted: [T, number][],
  refused: T[],
  error: RegExp,
): void {
  test.each(accepted)(title, (text, value) => {
    expect(parse(text)).toBe(value);
  });

  test.each(refused)('refuses %j', (text) => {
    expect(() => parse(text)).toThrow(error);
  });
}

describe('parseWait', () => {
  numberParser(
    parseWait,
    '%j is %d seconds',
    [
      [undefined, 2],
      ['0', 0],
      ['1.5', 1.5],
      ['2147483', 2147483],
    ],
    ['', ' ', '-1', 'abc', 'Infinity', '2147484', '1e9'],
    /--wait must be a number of seconds from 0 to 2147483/,
  );
});

describe('parsePort', () => {
  numberParser(
    parsePort,
    '%j is %d',
    [
      ['0', 0],
      ['8080', 8080],
      ['65535', 65535],
    ],
    ['65536', '-1', '80.5', '0x50', '', '123456', ' 80'],
    /<port> must be an integer from 0 to 65535/,
  );
});
