/** servePages: the page under test from the test server's own origin. */
import { describe, expect, test } from 'vitest';
import { servePages } from '../src/index.js';
import { server } from './helpers.js';

describe('servePages', () => {
  test('serves each file with a content type from its extension, never cached', async () => {
    const wss = await server({
      http: servePages({
        '/': '<p>home</p>',
        '/chat': '<p>chat</p>',
        '/app.js': 'export {}',
        '/style.css': 'p {}',
        '/data.bin': { body: new Uint8Array([1, 2]), type: 'application/octet-stream' },
      }),
    });
    const get = async (path: string) => {
      const response = await fetch(new URL(path, wss.httpUrl));
      return {
        status: response.status,
        type: response.headers.get('content-type'),
        cache: response.headers.get('cache-control'),
        body: [...new Uint8Array(await response.arrayBuffer())],
      };
    };
    const text = (value: string) => [...new TextEncoder().encode(value)];
    expect(await get('/?ignored=query')).toEqual({
      status: 200,
      type: 'text/html; charset=utf-8',
      cache: 'no-store',
      body: text('<p>home</p>'),
    });
    expect(await get('/chat')).toMatchObject({ type: 'text/html; charset=utf-8' });
    expect(await get('/app.js')).toMatchObject({ type: 'text/javascript; charset=utf-8' });
    expect(await get('/style.css')).toMatchObject({ type: 'text/css; charset=utf-8' });
    expect(await get('/data.bin')).toMatchObject({
      type: 'application/octet-stream',
      body: [1, 2],
    });
    expect(await get('/missing.js')).toMatchObject({
      status: 404,
      body: text('Not found: /missing.js'),
    });
  });

  test('HEAD has no body; other methods are 405', async () => {
    const wss = await server({ http: servePages({ '/': 'page' }) });
    const head = await fetch(wss.httpUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(wss.httpUrl, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  test('refuses a path without a leading slash, or an extension it cannot type', () => {
    expect(() => servePages({ 'index.html': '' })).toThrow(
      new TypeError('servePages() paths start with "/", got "index.html"'),
    );
    expect(() => servePages({ '/logo.png': '' })).toThrow(
      new TypeError(
        'servePages() does not know the content type of "/logo.png": give { body, type }',
      ),
    );
  });
});
