/** Checks that the library lets go of what it no longer needs. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { turns } from './wait.js';

/**
 * Whether the object `make` returns (or resolves to) is garbage once `make`
 * is done with it: a full garbage collection finds nothing that still
 * references it. For tests that something (a registry, a pool, a map) keeps
 * no reference it should have dropped. Turns on `--expose-gc` for the call.
 */
export async function collectedAfter(make: () => object | Promise<object>): Promise<boolean> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const ref = new WeakRef(await make());
  // A WeakRef's target lives until the end of the job that made (or read) it.
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    await turns(1);
    gc();
  }
  return ref.deref() === undefined;
}
