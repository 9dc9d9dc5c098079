import { expect, test } from 'vitest';
import { collectedAfter } from '../src/index.js';

test('an object nothing references any more is collected', async () => {
  expect(await collectedAfter(() => ({ payload: new Uint8Array(1024) }))).toBe(true);
});

test('an object something still references is not', async () => {
  const kept: object[] = [];
  expect(
    await collectedAfter(async () => {
      const object = {};
      kept.push(object);
      await Promise.resolve();
      return object;
    }),
  ).toBe(false);
  expect(kept).toHaveLength(1);
});
