/**
 * The Playwright fixtures in Playwright's own runner: test/playwright/ holds
 * a config and specs that use `wsServer` and `wsWorkerServer` with
 * @proj/client's Node WebSocket (no browser is launched; e2e/ runs the
 * fixtures in Chromium and Firefox). This runs them and reads the JSON
 * report: one test fails on purpose, and its report must carry the kit's
 * failure message and the server's transcript; the others pass.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify, stripVTControlCharacters } from 'node:util';
import { beforeAll, describe, expect, test } from 'vitest';

const run = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));
const packageDir = join(here, '..');
const cli = join(packageDir, 'node_modules', '@playwright', 'test', 'cli.js');

interface Attachment {
  name: string;
  contentType: string;
  body?: string;
}
interface Result {
  status: string;
  errors: Array<{ message?: string }>;
  attachments: Attachment[];
}
interface Spec {
  title: string;
  tests: Array<{ results: Result[] }>;
}
interface Suite {
  title: string;
  specs: Spec[];
  suites?: Suite[];
}

/** Every test's first result, by title. */
function results(suites: Suite[]): Map<string, Result> {
  const found = new Map<string, Result>();
  const walk = (suite: Suite): void => {
    for (const spec of suite.specs) found.set(spec.title, spec.tests[0]!.results[0]!);
    for (const inner of suite.suites ?? []) walk(inner);
  };
  suites.forEach(walk);
  return found;
}

let byTitle: Map<string, Result>;

beforeAll(async () => {
  const output = await mkdtemp(join(tmpdir(), 'proj-testing-pw-'));
  const env: NodeJS.ProcessEnv = { ...process.env, PROJ_TESTING_OUTPUT: output };
  // vitest's own settings must not reach the runner under test.
  delete env['NODE_OPTIONS'];
  let stdout: string;
  try {
    ({ stdout } = await run(
      process.execPath,
      [cli, 'test', '-c', join('test', 'playwright', 'playwright.config.ts')],
      { cwd: packageDir, env, maxBuffer: 16 * 1024 * 1024 },
    ));
  } catch (error) {
    // One test fails on purpose: the runner exits with 1 and still reports.
    stdout = (error as { stdout?: string }).stdout ?? '';
    if (!stdout.trim().startsWith('{')) throw error;
  } finally {
    await rm(output, { recursive: true, force: true });
  }
  byTitle = results((JSON.parse(stdout) as { suites: Suite[] }).suites);
}, 120_000);

describe('the Playwright fixtures, in Playwright', () => {
  test('a failing wait fails the test with the kit’s message, and attaches the transcript', () => {
    const result = byTitle.get(
      'wsServer: a failing wait fails the test with its message, and the transcript is attached',
    )!;
    expect(result.status).toBe('failed');
    // Terminal colours out, as a reader sees the message.
    const message = stripVTControlCharacters(result.errors[0]!.message!);
    const expected = [
      'WaitTimeoutError: Timed out after 100 ms waiting for a message matching "never" from connection #1 (GET /nested?room=1).',
      '2 messages arrived:',
      '  #1 (taken) "{\\"type\\":\\"hello\\"}"',
      '  #2 (did not match) "{\\"type\\":\\"typing\\"}"',
      'The connection is open.',
    ].join('\n');
    // Then Playwright's own: the source line and the stack.
    expect(message.slice(0, expected.length + 1)).toBe(`${expected}\n`);
    const transcript = result.attachments.find(({ name }) => name === 'websocket transcript');
    expect(transcript?.contentType).toBe('text/plain');
    const body = Buffer.from(transcript!.body!, 'base64').toString('utf8');
    expect(body.replace(/:\d+\//, ':PORT/')).toBe(
      [
        'Test server ws://127.0.0.1:PORT/ (running): 1 connection',
        'connection #1 (GET /nested?room=1), open, received 2 messages',
        '  #1 "{\\"type\\":\\"hello\\"}"',
        '  #2 "{\\"type\\":\\"typing\\"}"',
      ].join('\n'),
    );
  });

  test('wsServerOptions reach the server; passing tests get no transcript', () => {
    const result = byTitle.get('reach the server: messages are text here')!;
    expect(result.errors).toEqual([]);
    expect(result.status).toBe('passed');
    expect(result.attachments).toEqual([]);
  });

  test('wsWorkerServer: one server per worker, reset before each test', () => {
    for (const title of [
      'one test leaves a connection open',
      'the next one gets the same server, reset',
    ]) {
      const result = byTitle.get(title)!;
      expect(result.errors, title).toEqual([]);
      expect(result.status, title).toBe('passed');
    }
  });
});
