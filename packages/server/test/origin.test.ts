/**
 * The `Origin` allow-list helper: exact origins (normalized as browsers
 * serialize them), `*.` subdomain wildcards, requests without `Origin`, and
 * entries that are not origins (refused when the list is built).
 */
import { describe, expect, test } from 'vitest';
import { originAllowList } from '@proj/server';
import { useCleanup } from '@proj/test-utils';
import { connectWs, handshakeResponse, startServer } from './helpers.js';

useCleanup();

describe('originAllowList', () => {
  const check = originAllowList([
    'https://app.example.com',
    'http://localhost:5173',
    'https://*.example.org',
    'HTTPS://Upper.Example.NET:443',
    'chrome-extension://abcdef',
  ]);

  test.each([
    ['https://app.example.com', true],
    ['HTTPS://APP.EXAMPLE.COM', true],
    ['http://app.example.com', false],
    ['https://app.example.com:8443', false],
    ['https://app.example.com.evil.com', false],
    ['https://evilapp.example.com', false],
    ['https://app.example.com/', false],
    ['http://localhost:5173', true],
    ['http://localhost:5174', false],
    ['http://localhost', false],
    ['https://a.example.org', true],
    ['https://a.b.example.org', true],
    ['https://example.org', false],
    ['https://evilexample.org', false],
    ['http://a.example.org', false],
    ['https://a.example.org:444', false],
    ['https://user@a.example.org', false],
    ['https://a.example.org/path', false],
    ['https://upper.example.net', true],
    ['chrome-extension://abcdef', true],
    ['chrome-extension://other', false],
    ['null', false],
    ['', false],
    ['not a url', false],
  ])('%j → %s', (origin, allowed) => {
    expect(check(origin)).toBe(allowed);
  });

  test('a missing Origin passes unless allowMissing is false', () => {
    expect(check(undefined)).toBe(true);
    expect(originAllowList(['https://a.example'], { allowMissing: false })(undefined)).toBe(false);
  });

  test('an empty list allows no origin', () => {
    expect(originAllowList([])('https://a.example')).toBe(false);
  });

  test.each([
    'https://app.example.com/',
    'https://app.example.com/path',
    'https://app.example.com?x',
    'https://user@app.example.com',
    'app.example.com',
    '*',
    'https://*',
    'https://a.*.example.com',
    'https://*example.com',
    'ws://*.example.com',
    '',
  ])('%j is not an origin → TypeError', (entry) => {
    expect(() => originAllowList([entry])).toThrow(TypeError);
  });

  test('a list that is not an array → TypeError', () => {
    expect(() => originAllowList('https://a.example' as unknown as string[])).toThrow(TypeError);
  });
});

describe('as the allowedOrigins option', () => {
  test('a wildcard list and a predicate built with it', async () => {
    const { url, port } = await startServer({ allowedOrigins: ['https://*.good.example'] });
    await connectWs(url, undefined, { origin: 'https://a.good.example' });
    const bad = await handshakeResponse(port, { headers: { Origin: 'https://good.example' } });
    expect(bad.status).toBe(403);

    const strict = await startServer({
      allowedOrigins: originAllowList(['https://good.example'], { allowMissing: false }),
    });
    await connectWs(strict.url, undefined, { origin: 'https://good.example' });
    expect((await handshakeResponse(strict.port)).status).toBe(403);
  });
});
