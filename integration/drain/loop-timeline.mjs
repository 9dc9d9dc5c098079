// @ts-check
// How late a process runs its timers, over time: every `every` ms, the
// longest event-loop delay since the last sample. The drain test lines these
// up with its arrival buckets to tell a bunch the drain made from one a
// stalled process made. Used by the client runners and the nodes' probe.
import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Starts sampling; `unref`'d, so it never keeps a process alive.
 * @param {number} every - ms between samples.
 * @returns {{ samples: Array<[number, number]>, max: () => number, stop: () => void }}
 *   samples: [time (ms since the epoch), longest delay in ms]; max: over the whole run.
 */
export function startLoopTimeline(every = 100) {
  const whole = monitorEventLoopDelay({ resolution: 10 });
  const recent = monitorEventLoopDelay({ resolution: 10 });
  whole.enable();
  recent.enable();
  /** @type {Array<[number, number]>} */
  const samples = [];
  const timer = setInterval(() => {
    samples.push([Date.now(), Math.round(recent.max / 1e4) / 100]);
    recent.reset();
  }, every);
  timer.unref();
  return {
    samples,
    max: () => whole.max / 1e6,
    stop: () => {
      clearInterval(timer);
      whole.disable();
      recent.disable();
    },
  };
}
