// @ts-check
// Preloaded into the drain test's server nodes (`NODE_OPTIONS=--import`),
// so that the node's own schedule is measured without changing the chaos
// test's `node.mjs`: when its server STARTS each drain close (the call that
// sends 1012: what `spreadOver` decides), when each closing handshake ENDS
// (the `close` diagnostics channel, cause `drain`: that waits for the
// client's answer, so a stalled client shows here and not above), when each
// opening handshake completes (the `open` channel: on the node the clients
// move to, their arrival before the session store is asked), and its
// event-loop delay over time. Written as JSON to
// `$DRAIN_PROBE_DIR/<NODE_NAME>-<pid>.json` when the process exits.
//
// The start of a close is taken by wrapping ServerWebSocket's internal
// close-with-cause method, found by its symbol's description: test
// instrumentation of the built package, which fails loudly if it is renamed.
import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHANNELS, ServerWebSocket } from '@proj/server';
import { startLoopTimeline } from './loop-timeline.mjs';

const dir = process.env['DRAIN_PROBE_DIR'];
if (!dir) throw new Error('node-probe.mjs needs DRAIN_PROBE_DIR');

/** @type {number[]} */
const closeStarts = [];
/** @type {number[]} */
const closeEnds = [];
/** @type {number[]} */
const opens = [];

const proto = /** @type {Record<symbol, unknown>} */ (ServerWebSocket.prototype);
const key = Object.getOwnPropertySymbols(proto).find((s) => s.description === 'closeAs');
const original = key === undefined ? undefined : proto[key];
if (key === undefined || typeof original !== 'function') {
  throw new Error(
    'node-probe.mjs: ServerWebSocket has no [closeAs] method any more; update the probe',
  );
}
proto[key] = function (/** @type {string} */ cause, /** @type {unknown[]} */ ...rest) {
  if (cause === 'drain') closeStarts.push(Date.now());
  return original.call(this, cause, ...rest);
};
subscribe(CHANNELS.open, () => void opens.push(Date.now()));
subscribe(CHANNELS.close, (message) => {
  if (/** @type {{ cause?: string }} */ (message).cause === 'drain') closeEnds.push(Date.now());
});

const loop = startLoopTimeline(100);
process.on('exit', () => {
  const file = join(dir, `${process.env['NODE_NAME'] ?? 'node'}-${process.pid}.json`);
  const report = { opens, closeStarts, closeEnds, loopDelayMaxMs: loop.max(), loop: loop.samples };
  writeFileSync(file, JSON.stringify(report));
});
