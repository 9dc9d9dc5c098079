// @ts-check
// One of the drain test's client processes. Why not every client in the
// test's own process: 5,000 clients there stall its event loop for hundreds
// of ms at a time, and each stall releases a bunch of reconnects at once,
// whatever the drain's schedule (measured: see `drain.test.ts`). Spread over
// a few processes, each stalls less, and not at the same moments.
//
// It runs the chaos test's `ChaosClient` (every message judged by
// `StreamCheck` as it arrives) over the BUILT `@proj/client`, for the
// clients `runner, runner + runners, ...` below `clients`. Forked with an
// IPC channel by `client-fleet.ts`; environment:
//   RUNNER, RUNNERS, CLIENTS   which clients are its own
//   SEND_MS, SLICES            each client sends `c:<n>` every SEND_MS, the
//                              clients spread over SLICES slices of it
//   CLIENT_OPTIONS             ReconnectingWebSocket options, as JSON
//   TARGET                     the URL the clients connect to, until told another
// IPC in: { type: 'target', id, url } (later attempts go there; answered),
// { type: 'stream', on } (start or stop sending), { type: 'query', id, full }
// (answered with { type: 'reply', id, data }: counts, or everything the test
// judges), { type: 'close', id } (every client ends its session; answered,
// then the process exits). It exits by itself if the channel is lost.
import { register } from 'node:module';
import { startLoopTimeline } from './loop-timeline.mjs';

register('./ts-hooks.mjs', import.meta.url);
const { ChaosClient } = await import('../chaos/chaos-client.js');

/** @param {string} name */
function integer(name) {
  const value = Number(process.env[name]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be an integer >= 0`);
  return value;
}

const runner = integer('RUNNER');
const runners = integer('RUNNERS');
const count = integer('CLIENTS');
const sendMs = integer('SEND_MS');
const slices = integer('SLICES');
const options = JSON.parse(process.env['CLIENT_OPTIONS'] ?? '{}');
let target = process.env['TARGET'] ?? '';

const loop = startLoopTimeline(100);
/** When each client's `close` came, by code, and each `reconnected` (ms since the epoch). */
const closes = /** @type {Record<number, number[]>} */ ({});
const reconnects = /** @type {number[]} */ ([]);
/** Each `reconnecting`: [when, the delay it chose, its attempt]. */
const retries = /** @type {Array<[number, number, number]>} */ ([]);
/** Each `error` event's time and message. */
const errors = /** @type {Array<[number, string]>} */ ([]);

/**
 * Clients connecting for the first time at once, per runner. Why a limit:
 * thousands of handshakes and session creations at once on a loaded 2-core
 * machine outlast `openTimeout`, and the retries pile onto the next ones
 * (seen: 2,205 of 5,000 open after 180 s, all at once from one process).
 * Why not lower: at 16 per runner under load 12, 4,242 of 5,000 were open
 * after 180 s. This is the setup, not what the test measures: the drain
 * starts once every client is open.
 */
const OPENING = 48;

/** @type {InstanceType<typeof ChaosClient>[]} */
const clients = [];
async function openAll() {
  /** @type {Set<Promise<void>>} */
  const opening = new Set();
  for (let i = runner; i < count; i += runners) {
    while (opening.size >= OPENING) await Promise.race(opening);
    const client = new ChaosClient(i, () => target, options);
    client.socket.addEventListener('reconnected', () => void reconnects.push(Date.now()));
    client.socket.addEventListener('reconnecting', (event) => {
      retries.push([Date.now(), event.delay, event.attempt]);
    });
    client.socket.addEventListener('error', (event) => {
      errors.push([Date.now(), String(/** @type {{ message?: string }} */ (event).message)]);
    });
    client.socket.addEventListener('close', ({ code }) => {
      (closes[code] ??= []).push(Date.now());
    });
    clients.push(client);
    /** @type {Promise<void>} */
    const opened = new Promise((resolve) => {
      client.socket.addEventListener('open', () => resolve(), { once: true });
    }).then(() => void opening.delete(opened));
    opening.add(opened);
  }
}
void openAll();

/** @type {NodeJS.Timeout | undefined} */
let sender;
function stream(/** @type {boolean} */ on) {
  clearInterval(sender);
  sender = undefined;
  if (!on) return;
  // One loop over every client each second would stall this process in bursts.
  let slice = 0;
  sender = setInterval(() => {
    for (let i = slice; i < clients.length; i += slices) clients[i]?.sendNext();
    slice = (slice + 1) % slices;
  }, sendMs / slices);
}

function summary() {
  let open = 0;
  let drained = 0;
  for (const c of clients) {
    if (c.open) open++;
    if (c.drained) drained++;
  }
  /** @type {Record<number, number>} */
  const closeCodes = {};
  for (const [code, times] of Object.entries(closes)) closeCodes[Number(code)] = times.length;
  return { clients: clients.length, open, drained, closeCodes, loopDelayMaxMs: loop.max() };
}

function full() {
  return {
    ...summary(),
    perClient: clients.map((c) => ({
      index: c.index,
      open: c.open,
      drained: c.drained,
      sessionId: c.sessionId,
      counts: c.counts,
      stream: c.stream.counts,
      samples: c.stream.samples,
      sendErrors: c.sendErrors,
    })),
    closes,
    reconnects,
    retries,
    errors: errors.slice(0, 50),
    errorCount: errors.length,
    loopDelayMaxMs: loop.max(),
    loop: loop.samples,
  };
}

async function closeAll() {
  stream(false);
  await Promise.allSettled(
    clients.map((c) =>
      Promise.race([c.close(), new Promise((resolve) => setTimeout(resolve, 10_000))]),
    ),
  );
}

process.on('message', (/** @type {any} */ message) => {
  switch (message.type) {
    case 'target':
      target = message.url;
      process.send?.({ type: 'reply', id: message.id, data: null });
      break;
    case 'stream':
      stream(Boolean(message.on));
      break;
    case 'query':
      process.send?.({ type: 'reply', id: message.id, data: message.full ? full() : summary() });
      break;
    case 'close':
      void closeAll().then(() => {
        process.send?.({ type: 'reply', id: message.id, data: summary() }, () => process.exit(0));
      });
      break;
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready' });
