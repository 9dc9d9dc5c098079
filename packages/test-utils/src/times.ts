/** The most of the sorted `times` (ms) that fall within any `span` ms: how bunched events are. */
export function densest(times: readonly number[], span: number): number {
  let most = 0;
  for (let first = 0, last = 0; last < times.length; last++) {
    while (times[last]! - times[first]! >= span) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}
