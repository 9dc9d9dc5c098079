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
// judges), { type: 'stuck', id } (answered: what every client that is not
// open is doing, for a timeout's message), { type: 'close', id } (every client ends its session; answered,
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

/**
 * What each client did last, by index: a client that never comes back must
 * say whether it waits for a retry, for an attempt, or for nothing.
 * @typedef {{ event: string, at: number, attempt: number, delay: number,
 *   error: string, errorAt: number, errors: number, closeCode: number }} Trace
 */
/** @type {Map<number, Trace>} */
const traces = new Map();
async function openAll() {
  /** @type {Set<Promise<void>>} */
  const opening = new Set();
  for (let i = runner; i < count; i += runners) {
    while (opening.size >= OPENING) await Promise.race(opening);
    const client = new ChaosClient(i, () => target, options);
    /** @type {Trace} */
    const trace = {
      event: 'created',
      at: Date.now(),
      attempt: 0,
      delay: 0,
      error: '',
      errorAt: 0,
      errors: 0,
      closeCode: 0,
    };
    traces.set(i, trace);
    const note = (/** @type {string} */ event) => {
      trace.event = event;
      trace.at = Date.now();
    };
    client.socket.addEventListener('open', () => note('open'));
    client.socket.addEventListener('reconnected', () => {
      note('reconnected');
      reconnects.push(Date.now());
    });
    client.socket.addEventListener('reconnecting', (event) => {
      note('reconnecting');
      trace.attempt = event.attempt;
      trace.delay = event.delay;
      retries.push([Date.now(), event.delay, event.attempt]);
    });
    client.socket.addEventListener('error', (event) => {
      note('error');
      const message = String(/** @type {{ message?: string }} */ (event).message);
      trace.error = message;
      trace.errorAt = Date.now();
      trace.errors++;
      errors.push([Date.now(), message]);
    });
    client.socket.addEventListener('close', ({ code }) => {
      note('close');
      trace.closeCode = code;
      (closes[code] ??= []).push(Date.now());
    });
    for (const type of ['sessionlost', 'giveup', 'offline', 'online']) {
      client.socket.addEventListener(type, () => note(type));
    }
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

/**
 * What the clients that are not open are doing: counts by readyState, last
 * event, last error and URL, and the first `limit` in full (times as ms ago).
 */
function stuck(limit = 20) {
  const now = Date.now();
  /** @type {Record<string, Record<string, number>>} */
  const by = { readyState: {}, lastEvent: {}, lastError: {}, url: {}, attempt: {} };
  const count = (/** @type {string} */ key, /** @type {string} */ value) => {
    const table = /** @type {Record<string, number>} */ (by[key]);
    table[value] = (table[value] ?? 0) + 1;
  };
  /** @type {unknown[]} */
  const samples = [];
  let n = 0;
  /** Of the last events: the oldest, ms ago. */
  let oldestEventMsAgo = 0;
  for (const c of clients) {
    if (c.open) continue;
    n++;
    const t = /** @type {Trace} */ (traces.get(c.index));
    const ws = c.socket;
    count('readyState', String(ws.readyState));
    count('lastEvent', t.event);
    count('lastError', t.error.replace(/\d+/g, 'N').slice(0, 120));
    count('url', ws.url);
    count('attempt', t.attempt > 10 ? '>10' : String(t.attempt));
    oldestEventMsAgo = Math.max(oldestEventMsAgo, now - t.at);
    if (samples.length < limit) {
      samples.push({
        index: c.index,
        readyState: ws.readyState,
        url: ws.url,
        sessionId: ws.sessionId,
        lastEvent: t.event,
        lastEventMsAgo: now - t.at,
        attempt: t.attempt,
        delay: t.delay,
        errors: t.errors,
        lastError: t.error,
        lastErrorMsAgo: t.errorAt ? now - t.errorAt : null,
        lastCloseCode: t.closeCode,
        opens: c.counts.opens,
      });
    }
  }
  /** @type {Record<string, number>} */
  const resources = {};
  for (const type of process.getActiveResourcesInfo()) resources[type] = (resources[type] ?? 0) + 1;
  return { runner, pid: process.pid, target, notOpen: n, oldestEventMsAgo, resources, by, samples };
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
    case 'stuck':
      process.send?.({ type: 'reply', id: message.id, data: stuck() });
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
