/**
 * `SpreadSweep`, the periodic visit behind the heartbeat and the sessions'
 * keep-alive: every item once per period, exactly a period apart, a slice of
 * the items per tick, the slices kept even as items come and go.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { SpreadSweep, sliceCount } from '../src/spread-sweep.js';

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

/** A sweep of `period` over `items`, recording when each item is visited. */
function recorded(period: number, items: readonly number[]) {
  const visits = new Map<number, number[]>(items.map((item) => [item, []]));
  /** Each tick: its time (ms from the start), then the items it visited. */
  const ticks: number[][] = [];
  const start = Date.now();
  const sweep = new SpreadSweep<number>(period, (item) => {
    const now = Date.now() - start;
    visits.get(item)!.push(now);
    const last = ticks.at(-1);
    if (last !== undefined && last[0] === now) last.push(item);
    else ticks.push([now, item]);
  });
  for (const item of items) sweep.add(item);
  return { sweep, visits, ticks };
}

describe('sliceCount', () => {
  test('the most slices, up to 16, that split the period into whole ms of at least 100', () => {
    expect(sliceCount(1000)).toBe(10);
    expect(sliceCount(5000)).toBe(10);
    expect(sliceCount(15_000)).toBe(15);
    expect(sliceCount(30_000)).toBe(16);
    expect(sliceCount(999)).toBe(9);
    expect(sliceCount(250)).toBe(2);
  });

  test('one slice (everything at once) for a short period, or one no count divides', () => {
    expect(sliceCount(100)).toBe(1);
    expect(sliceCount(30)).toBe(1);
    expect(sliceCount(1009)).toBe(1);
  });
});

describe('SpreadSweep', () => {
  test('each item once per period, exactly a period apart, a tenth of them per tick', () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const { sweep, visits, ticks } = recorded(1000, items);
    vi.advanceTimersByTime(3000);
    for (const times of visits.values()) {
      expect(times).toHaveLength(3);
      expect(times[1]! - times[0]!).toBe(1000);
      expect(times[2]! - times[1]!).toBe(1000);
    }
    expect(ticks).toHaveLength(30);
    for (const [time, ...visited] of ticks) {
      expect(time! % 100).toBe(0);
      expect(visited).toHaveLength(10);
    }
    sweep.stop();
  });

  test('a deleted item is not visited again; a new one joins the smallest slice', () => {
    const { sweep, visits, ticks } = recorded(1000, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    vi.advanceTimersByTime(1000);
    // One item per slice; the first slice loses its item, the next item fills it.
    const [firstTick] = ticks;
    const gone = firstTick![1]!;
    sweep.delete(gone);
    visits.set(10, []);
    sweep.add(10);
    ticks.length = 0;
    vi.advanceTimersByTime(1000);
    expect(visits.get(gone)).toHaveLength(1);
    expect(visits.get(10)).toEqual([firstTick![0]! + 1000]);
    expect(ticks.map((tick) => tick.length - 1)).toEqual(new Array(10).fill(1));
    sweep.stop();
  });

  test('an item may delete itself while its slice is visited', () => {
    const seen: number[] = [];
    const sweep: SpreadSweep<number> = new SpreadSweep<number>(100, (item) => {
      seen.push(item);
      sweep.delete(item);
    });
    for (const item of [1, 2, 3]) sweep.add(item);
    vi.advanceTimersByTime(300);
    expect(seen).toEqual([1, 2, 3]);
    sweep.stop();
  });

  test('stop() ends the visits, and the timer never holds the process open', () => {
    const visit = vi.fn();
    const sweep = new SpreadSweep<number>(1000, visit);
    sweep.add(1);
    expect(vi.getTimerCount()).toBe(1);
    sweep.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(visit).not.toHaveBeenCalled();
  });
});
