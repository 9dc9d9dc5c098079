/** `--help`, `--version` and the mistakes made before any command runs. */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { Cli, USAGE, useBuiltCli, usageError } from './helpers.js';

useBuiltCli();

const EXIT_CODES = /Exit codes:\n {2}0 .*\n[\s\S]* {2}1 [\s\S]* {2}2 [\s\S]* {2}3 [\s\S]* {2}130 /;

describe('--help', () => {
  test('lists the commands and the exit codes', async () => {
    const { code, stdout, stderr } = await Cli.run(['--help']);

    expect(code).toBe(0);
    expect(stdout).toMatch(/proj-ws connect <url> \[options\]/);
    expect(stdout).toMatch(/proj-ws listen <port> \[options\]/);
    expect(stdout).toMatch(EXIT_CODES);
    expect(stderr).toBe('');
  });

  test.each([
    // --help wins over anything else on the line, even a mistake.
    [
      'connect',
      ['connect', '--nope', '--help'],
      [
        '--header',
        '--subprotocol',
        '--origin',
        '--deflate',
        '--execute',
        '--wait',
        '--binary',
        '--quiet',
      ],
    ],
    [
      'listen',
      ['listen', '-h'],
      ['--host', '--mode', '--subprotocol', '--deflate', '--binary', '--quiet'],
    ],
  ] as const)('%s --help lists its options', async (command, args, options) => {
    const { code, stdout } = await Cli.run(args);
    const usage = `Usage: ${USAGE[command]}`;

    expect(code).toBe(0);
    expect(stdout.slice(0, usage.length)).toBe(usage);
    for (const option of options) {
      expect(stdout).toContain(option);
    }
    expect(stdout).toMatch(EXIT_CODES);
  });
});

test('--version prints the package version', async () => {
  const { version } = JSON.parse(
    readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  const { code, stdout } = await Cli.run(['--version']);

  expect(code).toBe(0);
  expect(stdout).toBe(`${version}\n`);
});

test('no command exits 2 with the usage', async () => {
  const { code, stdout, stderr } = await Cli.run([]);

  expect(code).toBe(2);
  expect(stdout).toBe('');
  expect(stderr).toBe(usageError('a command is required'));
});
