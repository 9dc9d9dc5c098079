/**
 * The chaos test's judge: a clean stream passes, and each way of breaking
 * the guarantee is caught (so a chaos run that reports no violation means
 * none happened, not that none could be seen).
 */
import { describe, expect, test } from 'vitest';
import { StreamCheck } from './stream-check.js';

/** Feeds `[data, lastEventId]` pairs; returns the judge. */
function judge(messages: ReadonlyArray<readonly [unknown, string]>): StreamCheck {
  const check = new StreamCheck();
  for (const [data, id] of messages) check.check(data, id);
  return check;
}

test('a clean stream of ticks and echoes passes', () => {
  const check = judge([
    ['tick:1', '1'],
    ['echo:1', '2'],
    ['echo:2', '3'],
    ['tick:4', '4'],
  ]);
  expect(check.counts).toEqual({ delivered: 4, echoes: 2, ticks: 2, lastSeq: 4, violations: 0 });
  expect(check.samples).toEqual([]);
});

describe('violations', () => {
  test.each([
    [
      'a repeated message',
      [
        ['tick:1', '1'],
        ['tick:1', '1'],
      ],
      'lastEventId 1 after 1',
    ],
    [
      'a gap',
      [
        ['tick:1', '1'],
        ['tick:3', '3'],
      ],
      'lastEventId 3 after 1',
    ],
    ['the first message not 1', [['tick:2', '2']], 'lastEventId 2 after 0'],
    [
      'a skipped echo',
      [
        ['echo:1', '1'],
        ['echo:3', '2'],
      ],
      'echo 3 after 1',
    ],
    [
      'a repeated echo',
      [
        ['echo:1', '1'],
        ['echo:1', '2'],
      ],
      'echo 1 after 1',
    ],
    ['a tick that is not its own number', [['tick:5', '1']], 'tick 5 with lastEventId 1'],
    ['something else', [['hello', '1']], 'not an echo or a tick'],
    ['binary data', [[new Uint8Array(1), '1']], 'not an echo or a tick'],
  ] as const)('%s', (_name, messages, what) => {
    const check = judge(messages);
    expect(check.counts.violations).toBe(1);
    expect(check.samples[0]?.what).toBe(what);
  });

  test('only the first few are kept in full; all are counted', () => {
    const check = new StreamCheck(2);
    for (let i = 0; i < 5; i++) check.check('tick:1', '1');
    expect(check.counts.violations).toBe(4);
    expect(check.samples).toHaveLength(2);
  });
});
