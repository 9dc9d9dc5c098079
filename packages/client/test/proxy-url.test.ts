/**
 * Proxy URLs, from the `proxy` option and from environment variables: what
 * is taken, what dialing gets from it, and what is refused with which words.
 */
import { describe, expect, test } from 'vitest';
import { proxyFromVariable, proxyOption } from '../src/proxy-url.js';

/** `Basic base64(text)`. */
function basic(text: string): string {
  return `Basic ${Buffer.from(text, 'utf8').toString('base64')}`;
}

describe('proxyOption', () => {
  test('undefined (the environment) and false (none) pass through', () => {
    expect(proxyOption(undefined)).toBeUndefined();
    expect(proxyOption(false)).toBe(false);
  });

  test('host and port; port 80 by default, as for any http: URL', () => {
    expect(proxyOption('http://proxy.internal:3128')).toEqual({
      host: 'proxy.internal',
      port: 3128,
      authorization: undefined,
      username: undefined,
      url: 'http://proxy.internal:3128',
    });
    expect(proxyOption('http://proxy.internal/')).toMatchObject({ port: 80 });
    expect(proxyOption('HTTP://Proxy.Internal:3128')).toMatchObject({ host: 'proxy.internal' });
  });

  test('an IPv6 proxy is dialed without brackets, shown with them', () => {
    expect(proxyOption('http://[::1]:3128')).toMatchObject({
      host: '::1',
      port: 3128,
      url: 'http://[::1]:3128',
    });
  });

  test('a URL object, copied', () => {
    const url = new URL('http://proxy.internal:3128');
    const endpoint = proxyOption(url);
    url.port = '1';
    expect(endpoint).toMatchObject({ port: 3128 });
  });

  test('credentials: percent-decoded, as UTF-8, never in `url`', () => {
    expect(proxyOption('http://alice:s%40cret%2F%C3%A9@proxy.internal:3128')).toEqual({
      host: 'proxy.internal',
      port: 3128,
      authorization: basic('alice:s@cret/é'),
      username: 'alice',
      url: 'http://proxy.internal:3128',
    });
    expect(proxyOption('http://alice@proxy.internal:3128')).toMatchObject({
      authorization: basic('alice:'),
      username: 'alice',
    });
    expect(proxyOption('http://:token@proxy.internal:3128')).toMatchObject({
      authorization: basic(':token'),
      username: '',
    });
  });

  test('a ":" in the password is fine: only the user name ends at the first one', () => {
    expect(proxyOption('http://alice:a:b@proxy.internal:3128')).toMatchObject({
      authorization: basic('alice:a:b'),
    });
  });

  test.each([
    [0, /got 0$/],
    [null, /got null$/],
    [['http://proxy:1'], /got an array$/],
    [() => 'http://proxy:1', /got a function$/],
  ])('%s: a TypeError naming the option and what it takes', (value, message) => {
    expect(() => proxyOption(value)).toThrow(TypeError);
    expect(() => proxyOption(value)).toThrow(
      /^The "proxy" option must be an http:\/\/\[user:pass@\]host:port URL \(a string or a URL\) or false, /,
    );
    expect(() => proxyOption(value)).toThrow(message);
  });

  test('an https: proxy URL is refused, saying why and what to give instead', () => {
    expect(() => proxyOption('https://proxy.internal:8443')).toThrow(
      new TypeError(
        'The "proxy" option is an https: URL, "https://proxy.internal:8443/": TLS to the ' +
          'proxy is not supported; give its http: URL (http://[user:pass@]host:port), a wss: ' +
          'connection stays encrypted end to end through the tunnel',
      ),
    );
  });

  test('messages hide credentials, also those of a URL that does not parse', () => {
    for (const value of [
      'https://alice:secret@proxy.internal',
      'http://alice:secret@proxy.internal/path',
      'http://alice:sec@ret@proxy.internal/path',
      'http://alice:secret@proxy internal',
      'alice:secret@proxy.internal:3128',
    ]) {
      let message = '';
      try {
        proxyOption(value);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain('***@');
      expect(message).not.toMatch(/secret|sec@ret/);
    }
  });
});

describe('proxyFromVariable', () => {
  test('a value without a scheme is an http: URL, as curl reads it', () => {
    expect(proxyFromVariable('HTTP_PROXY', 'proxy.internal:3128')).toMatchObject({
      host: 'proxy.internal',
      port: 3128,
    });
    expect(proxyFromVariable('HTTP_PROXY', 'alice:pw@proxy.internal:3128')).toMatchObject({
      authorization: basic('alice:pw'),
    });
  });

  test('surrounding whitespace is ignored', () => {
    expect(proxyFromVariable('HTTP_PROXY', '  http://proxy.internal:3128\n')).toMatchObject({
      port: 3128,
    });
  });

  test('errors name the variable and say how to go around it', () => {
    expect(() => proxyFromVariable('HTTPS_PROXY', 'http://proxy.internal:3128/path')).toThrow(
      new TypeError(
        'The HTTPS_PROXY environment variable must be an http://[user:pass@]host:port URL, ' +
          'without a path, query or fragment, got "http://proxy.internal:3128/path"; fix it, ' +
          'or pass { proxy: false } to connect directly',
      ),
    );
  });
});
