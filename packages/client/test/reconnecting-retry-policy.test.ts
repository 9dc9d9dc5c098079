/**
 * The decision after each failed attempt or lost connection
 * (src/retry-policy.ts), on a clock moved by hand.
 */
import { describe, expect, test } from 'vitest';
import { type RetrySettings, RetryPolicy } from '../src/retry-policy.js';

function policy(
  overrides: Partial<RetrySettings> = {},
  draw = 0,
): { policy: RetryPolicy; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  const settings: RetrySettings = {
    minDelay: 100,
    maxDelay: 1000,
    factor: 2,
    maxRetries: Infinity,
    maxRetryTime: Infinity,
    minUptime: 5000,
    finalCloseCodes: new Set([1008]),
    ...overrides,
  };
  return {
    policy: new RetryPolicy(
      settings,
      () => clock.now,
      () => draw,
    ),
    clock,
  };
}

describe('retries', () => {
  test('count 1, 2, 3 within an outage, with the backoff delay', () => {
    const { policy: p } = policy({}, 0.5);
    expect([p.ended({}), p.ended({ code: 1006 }), p.ended({})]).toEqual([
      { retry: true, attempt: 1, delay: 150, retryAfter: null },
      { retry: true, attempt: 2, delay: 250, retryAfter: null },
      { retry: true, attempt: 3, delay: 450, retryAfter: null },
    ]);
    expect(p.retries).toBe(3);
  });

  test('a connection that stayed up minUptime ends the outage: counting restarts', () => {
    const { policy: p, clock } = policy();
    p.ended({});
    p.ended({});
    p.opened();
    clock.now += 5000;
    expect(p.ended({ code: 1006 })).toMatchObject({ attempt: 1 });
  });

  test('one that closed sooner does not', () => {
    const { policy: p, clock } = policy();
    p.ended({});
    p.ended({});
    p.opened();
    clock.now += 4999;
    expect(p.ended({ code: 1006 })).toMatchObject({ attempt: 3 });
  });
});

describe('giving up', () => {
  test('maxRetries: the retry past it is refused, with the count made', () => {
    const { policy: p } = policy({ maxRetries: 2 });
    p.ended({});
    p.ended({});
    expect(p.ended({})).toEqual({ retry: false, reason: 'max-retries', attempts: 2 });
  });

  test('maxRetries 0: no retry at all', () => {
    const { policy: p } = policy({ maxRetries: 0 });
    expect(p.ended({})).toEqual({ retry: false, reason: 'max-retries', attempts: 0 });
  });

  test('a final close code, whatever the counts', () => {
    const { policy: p } = policy();
    expect(p.ended({ code: 1008 })).toEqual({ retry: false, reason: 'close-code', attempts: 0 });
  });

  test('maxRetryTime: an attempt that would start past it, counted from the outage start', () => {
    const { policy: p, clock } = policy({ maxRetryTime: 1000, factor: 1 });
    clock.now += 800;
    // 800 + 100 is within 1000.
    expect(p.ended({})).toMatchObject({ retry: true, delay: 100 });
    clock.now += 101;
    expect(p.ended({})).toEqual({ retry: false, reason: 'max-retry-time', attempts: 1 });
  });

  test('maxRetryTime counts from the loss of a connection that had stayed up', () => {
    const { policy: p, clock } = policy({ maxRetryTime: 1000, factor: 1 });
    p.opened();
    clock.now += 60_000;
    expect(p.ended({ code: 1006 })).toMatchObject({ retry: true, attempt: 1 });
    expect(p.expired()).toBe(false);
    clock.now += 1001;
    expect(p.expired()).toBe(true);
  });
});

describe("a server's hint", () => {
  test('is the delay, plus the jitter of the backoff window on top', () => {
    const { policy: p } = policy({}, 0);
    expect(p.ended({ code: 1012, retryAfter: 3000 })).toEqual({
      retry: true,
      attempt: 1,
      delay: 3000,
      retryAfter: 3000,
    });
    const { policy: q } = policy({}, 0.5);
    // Window [100, 200): jitter 50.
    expect(q.ended({ code: 1013, retryAfter: 3000 })).toMatchObject({ delay: 3050 });
  });

  test('may ask for longer than maxDelay, but not past maxRetryTime', () => {
    const { policy: p } = policy({ maxDelay: 1000 });
    expect(p.ended({ retryAfter: 60_000 })).toMatchObject({ retry: true, delay: 60_000 });
    const { policy: q } = policy({ maxRetryTime: 30_000 });
    expect(q.ended({ retryAfter: 60_000 })).toMatchObject({
      retry: false,
      reason: 'max-retry-time',
    });
  });
});
