/**
 * Run by test/playwright-fixture.test.ts in Playwright's runner, which checks
 * each result: one test here fails on purpose, to show the failure and the
 * transcript attached to it.
 */
import { WebSocket } from '@proj/client';
import { expect, test } from '../../src/playwright.js';

/** A Node WebSocket to `path` on the server, open; closed at the end of the test. */
async function open(url: string, path = ''): Promise<WebSocket> {
  const ws = new WebSocket(new URL(path, url).href);
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve);
    ws.addEventListener('close', () => reject(new Error('closed before open')));
  });
  return ws;
}

test('wsServer: a failing wait fails the test with its message, and the transcript is attached', async ({
  wsServer,
}) => {
  const ws = await open(wsServer.url, 'nested?room=1');
  const peer = await wsServer.waitForConnection();
  ws.send('{"type":"hello"}');
  ws.send('{"type":"typing"}');
  expect(await peer.nextMessage()).toEqual({ type: 'hello' });
  await peer.nextMessage((message) => message === 'never', {
    timeout: 100,
    description: '"never"',
  });
});

test.describe('wsServerOptions', () => {
  test.use({ wsServerOptions: { parse: 'text' } });

  test('reach the server: messages are text here', async ({ wsServer }) => {
    const ws = await open(wsServer.url);
    const peer = await wsServer.waitForConnection();
    ws.send('{"not":"parsed"}');
    expect(await peer.nextMessage()).toBe('{"not":"parsed"}');
  });
});
