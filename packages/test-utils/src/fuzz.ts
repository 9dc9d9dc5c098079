/**
 * What every fuzz suite shares: the run count and seed from the environment,
 * the per-test timeout, pauses between writes, and a tally of outcomes.
 *
 * `FUZZ_RUNS=<n>` runs each property n times instead of its short default
 * (`pnpm fuzz` runs 20,000); `FUZZ_SEED=<n>` explores another seed.
 */
import process from 'node:process';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';

/** `FUZZ_RUNS`, or 0 for each property's short default. */
export const FUZZ_RUNS = Number(process.env['FUZZ_RUNS']) || 0;
/** `FUZZ_SEED`, or 0x6455. */
export const FUZZ_SEED = Number(process.env['FUZZ_SEED']) || 0x6455;

/** Per-test timeout: `short` for the default runs, a day for long runs (`pnpm fuzz`). */
export function fuzzTimeout(short: number): number {
  return FUZZ_RUNS ? 24 * 3_600_000 : short;
}

/** fast-check options: the fixed seed, and `FUZZ_RUNS` or the default number of runs. */
export function fuzzOptions(defaultRuns: number): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns: FUZZ_RUNS || defaultRuns };
}

/** The limits of a fuzzed endpoint: small enough that 1008 and 1009 come up often. */
export const FUZZ_LIMITS = { maxPayload: 65_536, maxFragments: 4 } as const;

/** No pause, one event-loop turn, or a 1 ms timer between two writes. */
export type Pause = 0 | 1 | 2;
export const pausesArb: fc.Arbitrary<Pause[]> = fc.array(fc.constantFrom<Pause>(0, 0, 0, 1, 2), {
  maxLength: 16,
});

/**
 * Writes `chunks` one by one through `write`, waiting `pauses[i]` after the
 * i-th (cycling); stops early once `stopped()` says the socket is gone.
 */
export async function writePaced(
  write: (chunk: Uint8Array) => void,
  chunks: readonly Uint8Array[],
  pauses: readonly Pause[],
  stopped: () => boolean,
): Promise<boolean> {
  for (const [i, chunk] of chunks.entries()) {
    if (stopped()) return false;
    write(chunk);
    const pause = pauses.length > 0 ? pauses[i % pauses.length] : 0;
    if (pause === 1) await nextTurn();
    else if (pause === 2) await sleep(1);
  }
  return true;
}

/** Tallies outcomes, printed after each property so a run shows what it covered. */
export class Tally {
  readonly counts = new Map<string, number>();
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  print(title: string): void {
    const total = [...this.counts.values()].reduce((sum, n) => sum + n, 0);
    const rows = [...this.counts].sort(([a], [b]) => a.localeCompare(b));
    console.log(`${title}: ${total} cases\n${rows.map(([k, n]) => `  ${k}: ${n}`).join('\n')}`);
  }
}

/**
 * Asserts the property `make` builds around a fresh {@link Tally} (each case
 * adds its outcome), then prints the tally under `title` (a function, for a
 * title that counts something the run found).
 */
export async function assertTallied<Ts>(
  title: string | (() => string),
  make: (tally: Tally) => fc.IAsyncProperty<Ts>,
  params: fc.Parameters<unknown>,
): Promise<void> {
  const tally = new Tally();
  await fc.assert(make(tally), params);
  tally.print(typeof title === 'string' ? title : title());
}

/**
 * mulberry32: a tiny seeded PRNG of 32-bit integers, so that "random" inputs,
 * masks and splits reproduce, and a big payload costs one integer of shrinking.
 */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
