/**
 * Which proxy a connection takes, given the `proxy` option and an
 * environment: the rules of proxy-env.ts, with the environment passed in
 * (the socket tests in proxy.test.ts set `process.env` itself).
 */
import { describe, expect, test } from 'vitest';
import { type Environment, selectProxy } from '../src/proxy-env.js';
import { proxyOption } from '../src/proxy-url.js';

/** The URL of the proxy chosen for `target`, or `null`. */
function chosen(target: string, env: Environment, option?: unknown): string | null {
  return selectProxy(new URL(target), proxyOption(option), env)?.url ?? null;
}

const HTTP = 'http://http-proxy.internal:3128';
const HTTPS = 'http://https-proxy.internal:3129';

describe('which variable', () => {
  test('ws: HTTP_PROXY; wss: HTTPS_PROXY', () => {
    const env = { HTTP_PROXY: HTTP, HTTPS_PROXY: HTTPS };
    expect(chosen('ws://example.com/', env)).toBe(HTTP);
    expect(chosen('wss://example.com/', env)).toBe(HTTPS);
  });

  test('wss: HTTP_PROXY when no HTTPS_PROXY is set (undici); ws: never HTTPS_PROXY', () => {
    expect(chosen('wss://example.com/', { HTTP_PROXY: HTTP })).toBe(HTTP);
    expect(chosen('ws://example.com/', { HTTPS_PROXY: HTTPS })).toBeNull();
  });

  test('the lower-case spelling wins when both are set', () => {
    const env = {
      http_proxy: HTTP,
      HTTP_PROXY: 'http://upper.internal:1',
      https_proxy: HTTPS,
      HTTPS_PROXY: 'http://upper.internal:2',
    };
    expect(chosen('ws://example.com/', env)).toBe(HTTP);
    expect(chosen('wss://example.com/', env)).toBe(HTTPS);
    expect(chosen('ws://example.com/', { HTTP_PROXY: HTTP })).toBe(HTTP);
  });

  test('a blank value is no proxy, and hides the other spelling', () => {
    expect(chosen('ws://example.com/', { http_proxy: '  ', HTTP_PROXY: HTTP })).toBeNull();
    // A blank HTTPS_PROXY is "not set": wss: falls back to HTTP_PROXY.
    expect(chosen('wss://example.com/', { HTTPS_PROXY: '', HTTP_PROXY: HTTP })).toBe(HTTP);
  });

  test('none set: no proxy', () => {
    expect(chosen('wss://example.com/', {})).toBeNull();
  });
});

describe('NO_PROXY', () => {
  test('a listed host goes direct; others through the proxy', () => {
    const env = { HTTPS_PROXY: HTTPS, NO_PROXY: '.internal.example' };
    expect(chosen('wss://feed.internal.example/', env)).toBeNull();
    expect(chosen('wss://example.com/', env)).toBe(HTTPS);
  });

  test('a port entry compares with the scheme’s default port when the URL has none', () => {
    const env = { HTTP_PROXY: HTTP, NO_PROXY: 'a.example:443, b.example:80' };
    expect(chosen('wss://a.example/', env)).toBeNull();
    expect(chosen('ws://a.example/', env)).toBe(HTTP);
    expect(chosen('ws://b.example/', env)).toBeNull();
    expect(chosen('wss://a.example:8443/', env)).toBe(HTTP);
  });

  test('IPv6 targets', () => {
    expect(chosen('ws://[::1]:8080/', { HTTP_PROXY: HTTP, NO_PROXY: '[::1]:8080' })).toBeNull();
  });

  test('the lower-case spelling wins', () => {
    const env = { HTTP_PROXY: HTTP, no_proxy: 'a.example', NO_PROXY: 'b.example' };
    expect(chosen('ws://a.example/', env)).toBeNull();
    expect(chosen('ws://b.example/', env)).toBe(HTTP);
  });
});

describe('the proxy option', () => {
  test('a proxy is used for every host, whatever the environment says', () => {
    const env = { HTTP_PROXY: HTTP, NO_PROXY: '*' };
    expect(chosen('ws://example.com/', env, 'http://option.internal:8080')).toBe(
      'http://option.internal:8080',
    );
  });

  test('false: no proxy, and the environment is not even read', () => {
    expect(chosen('ws://example.com/', { HTTP_PROXY: 'https://broken' }, false)).toBeNull();
  });
});

describe('an invalid variable', () => {
  test('is a TypeError naming it', () => {
    expect(() => chosen('wss://example.com/', { https_proxy: 'socks5://127.0.0.1:1080' })).toThrow(
      new TypeError(
        'The https_proxy environment variable must be an http://[user:pass@]host:port URL, ' +
          'got "socks5://127.0.0.1:1080": socks5: proxies are not supported; fix it, or pass ' +
          '{ proxy: false } to connect directly',
      ),
    );
  });

  test('even for a host NO_PROXY would bypass: a broken variable fails alike', () => {
    expect(() =>
      chosen('ws://example.com/', { HTTP_PROXY: 'http://proxy/x', NO_PROXY: '*' }),
    ).toThrow(/^The HTTP_PROXY environment variable must be .* without a path/);
  });

  test('only the variable that applies is read', () => {
    expect(chosen('ws://example.com/', { HTTPS_PROXY: 'socks5://broken', HTTP_PROXY: HTTP })).toBe(
      HTTP,
    );
  });
});
