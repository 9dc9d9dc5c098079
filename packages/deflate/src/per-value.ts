/**
 * Process-wide instances keyed by an option's value.
 *
 * Why: zlib's thread pool and the sweep timer are per process, so every
 * connection configured with the same `concurrency` (or `idleRelease`) must
 * share one limiter (or sweeper). The values are few, one per distinct
 * setting in the process, so nothing is ever dropped.
 */

/**
 * Returns a lookup that creates the instance for a value on first use and
 * hands out that same instance ever after.
 * @param create builds the instance for a value; what it throws reaches the
 *   caller, and nothing is kept.
 */
export function perValue<T>(create: (value: number) => T): (value: number) => T {
  const instances = new Map<number, T>();
  return (value) => {
    let instance = instances.get(value);
    if (instance === undefined) {
      instance = create(value);
      instances.set(value, instance);
    }
    return instance;
  };
}
