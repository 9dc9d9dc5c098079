import { expect, test } from 'vitest';
import { RFC_ACCEPT, RFC_KEY, acceptKey, newKey } from '../src/index.js';

test('the accept value of the RFC 6455 §1.3 example key', () => {
  expect(acceptKey(RFC_KEY)).toBe(RFC_ACCEPT);
});

test('a new key is 16 random bytes in base64 (§4.1)', () => {
  const key = newKey();
  expect(Buffer.from(key, 'base64')).toHaveLength(16);
  expect(newKey()).not.toBe(key);
});
