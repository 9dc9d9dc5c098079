/** `--help`, `--version` and the mistakes made before any command runs. */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { Cli, useBuiltCli, useCleanup } from './helpers.js';

useCleanup();
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

  test('connect --help lists its options', async () => {
    // --help wins over anything else on the line, even a mistake.
    const { code, stdout } = await Cli.run(['connect', '--nope', '--help']);

    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: proj-ws connect <url> \[options\]/);
    for (const option of [
      '--header',
      '--subprotocol',
      '--origin',
      '--deflate',
      '--execute',
      '--wait',
      '--binary',
      '--quiet',
    ]) {
      expect(stdout).toContain(option);
    }
    expect(stdout).toMatch(EXIT_CODES);
  });

  test('listen --help lists its options', async () => {
    const { code, stdout } = await Cli.run(['listen', '-h']);

    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: proj-ws listen <port> \[options\]/);
    for (const option of [
      '--host',
      '--mode',
      '--subprotocol',
      '--deflate',
      '--binary',
      '--quiet',
    ]) {
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
  expect(stderr).toBe(
    'proj-ws: a command is required\n' +
      'Usage: proj-ws connect <url> [options] | proj-ws listen <port> [options]\n' +
      "Run 'proj-ws --help' for the options and exit codes.\n",
  );
});
