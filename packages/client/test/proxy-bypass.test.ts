/**
 * The NO_PROXY matcher, rule by rule as proxy-bypass.ts and the README's
 * "Proxies" state them.
 */
import { describe, expect, test } from 'vitest';
import { NoProxyList } from '../src/proxy-bypass.js';

/** Which of `targets` (`host port`) `value` sends around the proxy. */
function bypassed(value: string, targets: readonly string[]): string[] {
  const list = NoProxyList.parse(value);
  return targets.filter((target) => {
    const [host, port] = target.split(' ');
    return list.matches(host!, Number(port));
  });
}

describe('the list', () => {
  test('empty, or only separators: nothing is bypassed', () => {
    expect(bypassed('', ['example.com 443'])).toEqual([]);
    expect(bypassed(' , ,, ', ['example.com 443'])).toEqual([]);
  });

  test('entries are separated by commas, whitespace, or both', () => {
    const targets = [
      'a.example 80',
      'b.example 80',
      'c.example 80',
      'd.example 80',
      'e.example 80',
    ];
    expect(bypassed('a.example,b.example c.example\td.example', targets)).toEqual([
      'a.example 80',
      'b.example 80',
      'c.example 80',
      'd.example 80',
    ]);
    expect(bypassed(' a.example , b.example ', targets)).toEqual(['a.example 80', 'b.example 80']);
  });

  test('* matches every host, name or address, on every port', () => {
    expect(bypassed('*', ['example.com 443', '10.0.0.1 80', '::1 8080'])).toHaveLength(3);
    // As an entry among others too.
    expect(bypassed('example.org, *', ['example.com 443'])).toEqual(['example.com 443']);
  });
});

describe('host names', () => {
  const targets = [
    'example.com 443',
    'www.example.com 443',
    'a.b.example.com 80',
    'badexample.com 443',
    'example.com.evil.test 443',
    'example.org 443',
  ];
  const matched = ['example.com 443', 'www.example.com 443', 'a.b.example.com 80'];

  test.each(['example.com', '.example.com', '*.example.com'])(
    '%s matches the name and every name below it, nothing else',
    (entry) => {
      expect(bypassed(entry, targets)).toEqual(matched);
    },
  );

  test('a name below the entry does not match the entry’s parent', () => {
    expect(bypassed('www.example.com', targets)).toEqual(['www.example.com 443']);
  });

  test('case and a trailing dot do not matter, on either side', () => {
    expect(bypassed('EXAMPLE.Com.', ['example.com 443', 'www.example.com. 443'])).toEqual([
      'example.com 443',
      'www.example.com. 443',
    ]);
  });

  test('international names are compared in their ASCII form, as URLs give them', () => {
    const host = new URL('wss://bücher.example/').hostname;
    expect(host).toBe('xn--bcher-kva.example');
    expect(bypassed('bücher.example', [`${host} 443`])).toEqual([`${host} 443`]);
  });

  test(':port restricts the entry to that port', () => {
    expect(
      bypassed('example.com:8443', ['example.com 8443', 'www.example.com 8443', 'example.com 443']),
    ).toEqual(['example.com 8443', 'www.example.com 8443']);
  });

  test('a name never matches an address: nothing is resolved', () => {
    expect(bypassed('localhost', ['127.0.0.1 80', '::1 80', 'localhost 80'])).toEqual([
      'localhost 80',
    ]);
  });
});

describe('IP addresses', () => {
  test('an IPv4 address matches itself, never by suffix', () => {
    expect(bypassed('127.0.0.1', ['127.0.0.1 80', '127.0.0.10 80', '10.127.0.0.1 80'])).toEqual([
      '127.0.0.1 80',
    ]);
    expect(bypassed('0.0.1', ['127.0.0.1 80'])).toEqual([]);
  });

  test('an IPv6 address in any notation, brackets optional on either side', () => {
    const targets = ['::1 80', '[::1] 80', '0:0:0:0:0:0:0:1 80', '::2 80'];
    const matched = ['::1 80', '[::1] 80', '0:0:0:0:0:0:0:1 80'];
    expect(bypassed('::1', targets)).toEqual(matched);
    expect(bypassed('[::1]', targets)).toEqual(matched);
    expect(bypassed('0:0::1', targets)).toEqual(matched);
  });

  test('with a port: 10.0.0.1:8080, and [::1]:8080 for IPv6', () => {
    expect(bypassed('10.0.0.1:8080', ['10.0.0.1 8080', '10.0.0.1 80'])).toEqual(['10.0.0.1 8080']);
    expect(bypassed('[::1]:8080', ['::1 8080', '::1 80'])).toEqual(['::1 8080']);
  });

  test('CIDR: a subnet, IPv4 or IPv6', () => {
    expect(bypassed('10.0.0.0/8', ['10.1.2.3 80', '11.0.0.1 80', 'ten.example 80'])).toEqual([
      '10.1.2.3 80',
    ]);
    expect(bypassed('fd00::/8', ['fd12::1 443', 'fe80::1 443'])).toEqual(['fd12::1 443']);
    expect(bypassed('192.168.1.7/32', ['192.168.1.7 80', '192.168.1.8 80'])).toEqual([
      '192.168.1.7 80',
    ]);
  });

  test('an address never matches a name', () => {
    expect(bypassed('127.0.0.1', ['localhost 80'])).toEqual([]);
  });
});

describe('entries that are none of these never match', () => {
  test.each([
    ['a port out of range', 'example.com:70000', 'example.com 443'],
    ['a port of 0', 'example.com:0', 'example.com 443'],
    ['a prefix too long', '10.0.0.0/33', '10.0.0.1 80'],
    ['a CIDR of a name', 'example.com/8', 'example.com 80'],
    ['a bracketed name', '[example.com]', 'example.com 80'],
    ['only dots', '.', 'example.com 80'],
    ['a lone *.', '*.', 'example.com 80'],
  ])('%s (%s)', (_label, entry, target) => {
    expect(bypassed(entry, [target])).toEqual([]);
    // And they do not stop the entries after them.
    expect(bypassed(`${entry}, ${target.split(' ')[0]}`, [target])).toEqual([target]);
  });
});
