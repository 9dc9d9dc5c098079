/**
 * Usage errors through `run()` in this process, with in-memory streams: the
 * command lines here never reach the network, and spawning a process for
 * each would only make the suite slower. The bin's own handling of them is
 * covered once per command in connect, listen and usage.test.ts.
 */
import { describe, expect, test } from 'vitest';
import { version } from '../package.json';
import { ExitCode } from '../src/index.js';
import { STACK_LINE, runInProcess } from './helpers.js';

describe('connect', () => {
  test.each([
    [['not a url'], "The URL 'not a url' is invalid. (a URL starts with ws:// or wss://)"],
    [['ftp://example.com'], "The URL's scheme must be either 'http', 'https', 'ws', or 'wss'."],
    [['ws://example.com/#top'], 'Fragment identifiers are not allowed in WebSocket URLs.'],
    [['ws://127.0.0.1:9', '--nope'], "proj-ws: unknown option '--nope'\n"],
    [['ws://127.0.0.1:9', '-x'], "Option '-x, --execute <value>' argument missing"],
    [[], 'proj-ws: missing <url>\n'],
    [['ws://a', 'ws://b'], "proj-ws: unexpected argument 'ws://b'\n"],
    [
      ['ws://127.0.0.1:9', '-H', 'no colon'],
      `--header must look like "Name: value", got 'no colon'`,
    ],
    [['ws://127.0.0.1:9', '-H', 'Sec-WebSocket-Key: x'], 'is set by the opening handshake itself'],
    [['ws://127.0.0.1:9', '-H', 'X: a\u0000b'], 'must not contain CR, LF or NUL'],
    [
      ['ws://127.0.0.1:9', '-o', 'https://a\u0000'],
      'The "origin" option is not a valid header value',
    ],
    [['ws://127.0.0.1:9', '-s', 'two words'], "The subprotocol 'two words' is invalid."],
    [['ws://127.0.0.1:9', '-s', 'a', '-s', 'a'], 'The subprotocols must not contain duplicates.'],
    [
      ['ws://127.0.0.1:9', '-x', 'a', '--wait', 'soon'],
      "--wait must be a number of seconds from 0 to 2147483, got 'soon'",
    ],
    [['ws://127.0.0.1:9', '--wait', '1'], '--wait applies only with --execute'],
  ])('2 for %j, with the usage', async (args, message) => {
    // Port 9 (discard): a line that got past the checks would fail with 1, not 2.
    const { code, stdout, stderr } = await runInProcess(['connect', ...args]);

    expect(code).toBe(ExitCode.Usage);
    expect(stdout).toBe('');
    expect(stderr).toContain(message);
    expect(stderr).toMatch(/^proj-ws: .*\nUsage: proj-ws connect <url> \[options\]\nRun /);
    expect(stderr).not.toMatch(STACK_LINE);
  });
});

describe('listen', () => {
  test.each([
    [['65536'], "<port> must be an integer from 0 to 65535, got '65536'"],
    [[], 'missing <port>'],
    [['0', '--mode', 'shout'], "--mode must be echo or print, got 'shout'"],
    [['0', '--host', ''], '--host must not be empty'],
    [['0', '--binary'], '--binary applies only with --mode print'],
    [['0', '--execute', 'x'], "unknown option '--execute'"],
  ])('2 for %j, with the usage', async (args, message) => {
    const { code, stderr } = await runInProcess(['listen', ...args]);

    expect(code).toBe(ExitCode.Usage);
    expect(stderr).toMatch(
      new RegExp(`^proj-ws: ${escape(message)}\nUsage: proj-ws listen <port> \\[options\\]\n`),
    );
  });
});

test.each([
  [['dial'], "proj-ws: unknown command 'dial' (the commands are connect and listen)"],
  [['--verbose'], "proj-ws: unknown option '--verbose'"],
])('%j exits 2 with the program usage', async (args, message) => {
  const { code, stderr } = await runInProcess(args);

  expect(code).toBe(ExitCode.Usage);
  expect(stderr).toBe(
    `${message}\nUsage: proj-ws connect <url> [options] | proj-ws listen <port> [options]\n` +
      "Run 'proj-ws --help' for the options and exit codes.\n",
  );
});

test.each([
  [['-h'], 'Usage:\n  proj-ws connect <url> [options]'],
  [['-v'], `${version}\n`],
])('%j is a short form: exit 0', async (args, output) => {
  const { code, stdout } = await runInProcess(args);

  expect(code).toBe(ExitCode.Ok);
  expect(stdout).toContain(output);
});

test('an aborted signal stops listen: 1001 to nobody, exit 0', async () => {
  const stop = new AbortController();
  const running = runInProcess(['listen', '0', '-q'], stop.signal);
  stop.abort('SIGTERM');

  expect((await running).code).toBe(ExitCode.Ok);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
