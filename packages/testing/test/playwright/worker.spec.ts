/**
 * Run by test/playwright-fixture.test.ts: the worker's shared server. Its
 * options are a worker option, so they are set at the top of the file.
 */
import { WebSocket } from '@proj/client';
import { expect, test } from '../../src/playwright.js';

test.use({ wsWorkerServerOptions: { parse: 'text' } });

/** A Node WebSocket to the server, open (the reset or the teardown closes it). */
async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve);
    ws.addEventListener('close', () => reject(new Error('closed before open')));
  });
  return ws;
}

test.describe('wsWorkerServer', () => {
  test.describe.configure({ mode: 'serial' });
  let port = 0;

  test('one test leaves a connection open', async ({ wsWorkerServer }) => {
    const ws = await open(wsWorkerServer.url);
    const peer = await wsWorkerServer.waitForConnection();
    ws.send('first');
    expect(await peer.nextMessage()).toBe('first');
    port = wsWorkerServer.port;
  });

  test('the next one gets the same server, reset', async ({ wsWorkerServer }) => {
    expect(wsWorkerServer.port).toBe(port);
    expect(wsWorkerServer.connectionCount).toBe(0);
    const ws = await open(wsWorkerServer.url);
    const peer = await wsWorkerServer.waitForConnection();
    expect(peer.id).toBe(1);
    ws.send('second');
    expect(await peer.nextMessage()).toBe('second');
  });
});
