import { expect, test } from '../fixtures.js';

// What a front-end app gets from `import { WebSocket } from '@proj/client'`:
// global-setup.ts bundles that import with esbuild for platform "browser"
// (the package's `browser` export condition, dist/browser.js) and the page
// server serves it as /client.js. In a browser the package re-exports the
// browser's own classes, so every other spec, run with the page's
// `WebSocket`, already covers what the bundle's would do; this one checks
// that the import resolves to those very classes, and works once.
test('the bundled @proj/client import resolves to the browser’s own WebSocket, which connects, echoes and closes', async ({
  page,
  serve,
}) => {
  const env = await serve();
  await env.open();
  const inPage = page.evaluate(
    async ({ bundle, url }) => {
      const client = (await import(bundle)) as {
        WebSocket: typeof WebSocket;
        CloseEvent: typeof CloseEvent;
        ErrorEvent: typeof ErrorEvent;
        MessageEvent: typeof MessageEvent;
      };
      const same = {
        WebSocket: client.WebSocket === window.WebSocket,
        CloseEvent: client.CloseEvent === window.CloseEvent,
        ErrorEvent: client.ErrorEvent === window.ErrorEvent,
        MessageEvent: client.MessageEvent === window.MessageEvent,
      };
      const ws = new client.WebSocket(url);
      const echoed = await new Promise<unknown>((resolve, reject) => {
        ws.onopen = () => ws.send('through the bundle');
        ws.onmessage = (event) => resolve(event.data);
        ws.onerror = () => reject(new Error('the bundled WebSocket failed'));
      });
      const closed = new Promise<number>((resolve) => {
        ws.onclose = (event) => resolve(event.code);
      });
      ws.close(1000);
      return { same, echoed, code: await closed };
    },
    { bundle: '/client.js', url: env.wsUrl },
  );
  const peer = await env.peer();
  expect((await peer.received(1))[0]!.text).toBe('through the bundle');
  peer.socket.send('back');
  expect(await inPage).toEqual({
    same: { WebSocket: true, CloseEvent: true, ErrorEvent: true, MessageEvent: true },
    echoed: 'back',
    code: 1000,
  });
  expect(await peer.closed).toEqual({ code: 1000, reason: '', wasClean: true });
});
