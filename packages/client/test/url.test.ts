import { describe, expect, test } from 'vitest';
import { getURLRecord } from '../src/url.js';

function syntaxError(run: () => unknown): void {
  expect(run).toThrow(DOMException);
  try {
    run();
  } catch (error) {
    expect((error as DOMException).name).toBe('SyntaxError');
    expect((error as DOMException).code).toBe(DOMException.SYNTAX_ERR);
  }
}

describe('get a URL record (websockets.spec.whatwg.org)', () => {
  test('1-2. a URL that does not parse is a SyntaxError', () => {
    syntaxError(() => getURLRecord('ws://[::1'));
    syntaxError(() => getURLRecord('not a url'));
    syntaxError(() => getURLRecord(''));
  });

  test('1. a relative URL parses only against a base URL (Node has no document)', () => {
    syntaxError(() => getURLRecord('/chat'));
    expect(getURLRecord('/chat?x=1', 'ws://example.com/a/b').href).toBe(
      'ws://example.com/chat?x=1',
    );
  });

  test('3. http becomes ws, keeping host, port, path and query', () => {
    expect(getURLRecord('http://example.com:8080/a?b=c').href).toBe('ws://example.com:8080/a?b=c');
    expect(getURLRecord('http://example.com:80/').href).toBe('ws://example.com/');
  });

  test('4. https becomes wss', () => {
    expect(getURLRecord('https://example.com/x').href).toBe('wss://example.com/x');
    expect(getURLRecord('HTTPS://example.com:443/').href).toBe('wss://example.com/');
  });

  test('5. any scheme but ws and wss is a SyntaxError', () => {
    for (const url of [
      'ftp://example.com/',
      'file:///tmp/x',
      'javascript:alert(1)',
      'wss+unix://x/',
    ]) {
      syntaxError(() => getURLRecord(url));
    }
  });

  test('6. a fragment is a SyntaxError, even an empty one', () => {
    syntaxError(() => getURLRecord('ws://example.com/#frag'));
    syntaxError(() => getURLRecord('ws://example.com/#'));
    syntaxError(() => getURLRecord('http://example.com/path#x'));
  });

  test('6. an escaped "#" in the query is not a fragment', () => {
    expect(getURLRecord('ws://example.com/?q=%23').href).toBe('ws://example.com/?q=%23');
  });

  test('7. ws and wss URLs are returned as parsed', () => {
    expect(getURLRecord('ws://EXAMPLE.com').href).toBe('ws://example.com/');
    expect(getURLRecord('wss://[::1]:9000/p').href).toBe('wss://[::1]:9000/p');
  });
});
