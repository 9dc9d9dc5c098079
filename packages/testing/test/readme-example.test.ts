import { ReconnectingWebSocket } from '@proj/client';
import { type TestServer, startTestServer } from '@proj/testing';
import { afterEach, beforeEach, expect, test } from 'vitest';

// The code under test: a chat client that says who it is on every connection.
function joinChat(url: string, name: string) {
  const ws = new ReconnectingWebSocket(url, [], { minDelay: 50, maxDelay: 100 });
  const heard: string[] = [];
  ws.onopen = () => ws.send(JSON.stringify({ type: 'join', name }));
  ws.onmessage = (event) => heard.push((JSON.parse(event.data as string) as { text: string }).text);
  return {
    heard,
    say: (text: string) => ws.send(JSON.stringify({ type: 'say', text })),
    leave: () => ws.close(),
  };
}

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await server.close();
});

test('joins, speaks, hears, and joins again after a drop', async () => {
  const chat = joinChat(server.url, 'ada');
  const peer = await server.waitForConnection();
  expect(await peer.nextMessage()).toEqual({ type: 'join', name: 'ada' });

  chat.say('hello');
  expect(await peer.nextMessage()).toEqual({ type: 'say', text: 'hello' });

  await peer.sendJson({ text: 'welcome, ada' });
  await expect.poll(() => chat.heard).toEqual(['welcome, ada']);

  await peer.drop();
  const again = await server.waitForConnection();
  expect(await again.nextMessage()).toEqual({ type: 'join', name: 'ada' });
  chat.leave();
});
