import { readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import {
  type RawMessage,
  type TestServer,
  expect,
  servePages,
  test,
} from '@proj/testing/playwright';

// The test server serves the page too: same origin as its WebSocket.
const chat = readFileSync(new URL('../page/chat.html', import.meta.url), 'utf8');
test.use({ wsServerOptions: { http: servePages({ '/': chat }) } });

/** What the page sends. Every message is parsed with this: anything else fails the test. */
interface Say {
  type: 'say';
  text: string;
}
function parseSay({ data }: RawMessage): Say {
  const message = JSON.parse(String(data)) as Partial<Say>;
  if (message.type !== 'say' || typeof message.text !== 'string') {
    throw new Error('expected {"type":"say","text":string}');
  }
  return { type: 'say', text: message.text };
}

/** Opens the page; resolves with the server's end of its WebSocket once it says it is online. */
async function openChat(page: Page, wsServer: TestServer) {
  await page.goto(wsServer.httpUrl);
  const peer = await wsServer.waitForConnection({ parse: parseSay });
  await expect(page.locator('#status')).toHaveText('online');
  return peer;
}

test('connect: what the user sends reaches the server', async ({ page, wsServer }) => {
  const peer = await openChat(page, wsServer);
  expect(peer.request.url).toBe('/chat');

  await page.getByLabel('Message').fill('hello');
  await page.getByRole('button', { name: 'Send' }).click();
  expect(await peer.nextMessage()).toEqual({ type: 'say', text: 'hello' });
});

test('receive: the page shows what the server pushes', async ({ page, wsServer }) => {
  const peer = await openChat(page, wsServer);

  await peer.sendJson({ from: 'ada', text: 'hi there' });
  await peer.sendJson({ from: 'bob', text: 'hello!' });
  await expect(page.locator('#log li')).toHaveText(['ada: hi there', 'bob: hello!']);
});

test('a dropped connection: the page comes back by itself', async ({ page, wsServer }) => {
  const first = await openChat(page, wsServer);

  // No close frame, as when a network goes away: the page sees 1006.
  await first.drop();
  const second = await wsServer.waitForConnection({ parse: parseSay });
  await expect(page.locator('#status')).toHaveText('online');

  await second.sendJson({ from: 'ada', text: 'welcome back' });
  await expect(page.locator('#log li')).toHaveText(['ada: welcome back']);
});

test('a slow server: the page says what is still waiting to be sent', async ({
  page,
  wsServer,
}) => {
  const peer = await openChat(page, wsServer);

  // The server stops reading: a large message stays in the browser.
  void peer.stall();
  const size = 8 * 1024 * 1024;
  // A large paste, submitted in the same task (laying out 8 MiB in a text
  // field would take the browser a while).
  await page.locator('#say').evaluate((form, n) => {
    form.querySelector('input')!.value = 'x'.repeat(n);
    (form as HTMLFormElement).requestSubmit();
  }, size);
  await expect(page.locator('#backlog')).toContainText('bytes left');

  // Reading again: it arrives whole, and the page has nothing left to send.
  peer.resume();
  expect((await peer.nextMessage()).text).toHaveLength(size);
  await expect(page.locator('#backlog')).toBeHidden();
});
