/**
 * The chaos test's one source of randomness: a seeded PRNG, so that a failing
 * run can be replayed with the seed it printed (`CHAOS_SEED=<seed>`).
 *
 * Why not `Math.random`: it cannot be seeded. Why mulberry32: 32 bits of state,
 * six lines, and statistically good enough to pick faults and delays (it
 * passes gjrand's and PractRand's smaller batteries; we need no more).
 *
 * A seed fixes the sequence of draws, not the run: faults are drawn as
 * connections open and time out, and the order of those events depends on
 * the scheduler. Replaying a seed gives the same decisions in the same order
 * of events, which is what makes a failure easier to chase.
 */

/** A seeded source of numbers. */
export interface Random {
  /** The seed this source started from. */
  readonly seed: number;
  /** A number in [0, 1). */
  next(): number;
  /** A number in [min, max). */
  between(min: number, max: number): number;
  /** A delay drawn from the exponential distribution with this mean (a Poisson process's gaps). */
  exponential(mean: number): number;
  /** `true` with probability `p`. */
  chance(p: number): boolean;
  /** One of `weights`' keys, each with probability proportional to its weight. */
  pick<K extends string>(weights: Readonly<Record<K, number>>): K;
}

/** The largest seed: seeds are unsigned 32-bit integers. */
const MAX_SEED = 0xffff_ffff;

/** A {@link Random} starting from `seed` (an unsigned 32-bit integer). */
export function seededRandom(seed: number): Random {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new RangeError(`a seed is an integer from 0 to ${MAX_SEED}, got ${seed}`);
  }
  let state = seed;
  // mulberry32 (Tommy Ettinger, public domain).
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    seed,
    next,
    between: (min, max) => min + next() * (max - min),
    // 1 - next() is in (0, 1]: the logarithm stays finite.
    exponential: (mean) => -Math.log(1 - next()) * mean,
    chance: (p) => next() < p,
    pick<K extends string>(weights: Readonly<Record<K, number>>): K {
      const entries = (Object.entries(weights) as Array<[K, number]>).filter(([, w]) => w > 0);
      const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
      if (entries.length === 0) throw new RangeError('pick needs at least one positive weight');
      let point = next() * total;
      for (const [key, weight] of entries) {
        point -= weight;
        if (point < 0) return key;
      }
      // Rounding left `point` at the very end of the range.
      return entries[entries.length - 1]![0];
    },
  };
}

/**
 * The seed of this run: `CHAOS_SEED` from the environment when set, else a
 * fresh random one (print it, so the run can be repeated).
 */
export function chaosSeed(env: NodeJS.ProcessEnv = process.env): number {
  const text = env['CHAOS_SEED'];
  if (text === undefined || text === '') return Math.floor(Math.random() * MAX_SEED);
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new RangeError(`CHAOS_SEED must be an integer from 0 to ${MAX_SEED}, got "${text}"`);
  }
  return seed;
}
