// What limited a measured row: the process whose speed the row is about, the
// process that drives it (a load generator, the clients, a reference server),
// or neither. Read from the CPU share of its core each process used in ours'
// runs and in the reference's runs. A driver near a full core caps whichever
// side it drives, so the row then measures the driver as much as the library.

/** A process at or above this share of its core is taken as the limit. */
export const SATURATED = 0.8;

const percent = (share) => `${Math.round(share * 100)}%`;

/**
 * @param cpu `{ [name]: { [role]: share } }` for 'ours' and for `against`; a share is CPU seconds
 *   per second of the measured window (1 = one whole core; zlib's threads can take it past 1).
 * @param roles `{ measured, load }`: role names, as the keys of `cpu` use them (e.g. 'server' and
 *   'generator'; for the client benchmark 'client' and 'echo server').
 * @param against the reference's name (e.g. 'ws+addons'), or several (one README row can give
 *   ours against ws and ws+addons).
 * @returns `{ by, note }`: `by` is the role that set the pace ('none' where no process was near
 *   its core), `note` says so with the shares, and which way a saturated driver bends the ratio.
 */
export function limitOf(cpu, { measured, load }, against) {
  const sides = ['ours', ...[against].flat()].filter((name) => cpu[name]);
  const share = (name, role) => cpu[name][role];
  const known = (role) => sides.filter((name) => Number.isFinite(share(name, role)));
  const shares = (role) =>
    known(role)
      .map((name) => `${name} ${percent(share(name, role))}`)
      .join(', ');
  const saturated = (role) => sides.filter((name) => share(name, role) >= SATURATED);
  const drivers = saturated(load);
  const busy = saturated(measured);
  if (drivers.length > 0) {
    // The driver capped the side it was saturated for: that side's rate is a floor.
    const others = drivers.filter((name) => name !== 'ours');
    const bends = !drivers.includes('ours')
      ? `${others.join(' and ')} ${others.length > 1 ? 'are' : 'is'} capped: the ratio is overstated`
      : others.length === 0
        ? 'ours is capped: the ratio is understated'
        : `ours and ${others.join(' and ')} are capped: the ratio says little`;
    const where = drivers
      .map((name) => `${percent(share(name, load))} of its core while measuring ${name}`)
      .join(' and ');
    // Where the measured process was saturated too, both set the pace.
    const what = drivers.every((name) => busy.includes(name))
      ? `the ${load} as much as the ${measured}`
      : `the ${load}`;
    return {
      by: load,
      note: `${load} at ${where}: the row measures ${what}; ${bends} (${measured}: ${shares(measured)})`,
    };
  }
  if (busy.length > 0) {
    const which = busy.length === sides.length ? '' : ` while measuring ${busy[0]}`;
    const most = Math.max(...known(load).map((name) => share(name, load)));
    return {
      by: measured,
      note:
        `${measured}${which} (${shares(measured)} of its core` +
        (Number.isFinite(most) ? `; ${load} at most ${percent(most)})` : ')'),
    };
  }
  return {
    by: 'none',
    note:
      `neither process near a full core (${measured}: ${shares(measured)}; ${load}: ` +
      `${shares(load)}): waiting set the pace (round trips through the kernel, or other work on ` +
      'the machine)',
  };
}

/** The `limit` of a memory row: no pace to limit; results.json says so rather than leave it blank. */
export const MEMORY_ROW = { by: 'n/a', note: 'memory after full GCs, not a rate' };

/** Rounds every share of `cpu` to 2 decimals for results.json. */
export const roundCpu = (cpu) =>
  Object.fromEntries(
    Object.entries(cpu).map(([name, roles]) => [
      name,
      Object.fromEntries(
        Object.entries(roles).map(([role, share]) => [
          role,
          Number.isFinite(share) ? Number(share.toFixed(2)) : null,
        ]),
      ),
    ]),
  );
