/**
 * Runs in the browser: the page of tests/sessions.spec.ts, which bundles it
 * with esbuild for platform "browser" (so `@proj/client` resolves to
 * dist/browser.js, over the browser's own WebSocket). It opens one
 * `ReconnectingWebSocket` with a resumable session and streams a counter both
 * ways: it sends `c:<n>` every 50 ms, whether or not a connection is open
 * (with a session every send is numbered and kept in the replay log until
 * the server acknowledges it), and the server (e2e/session-server.mjs)
 * echoes each as `echo:<n>` and sends `tick:<k>` every 50 ms, k being the
 * tick's own sequence number.
 *
 * Every message is checked as it arrives, and whatever breaks the guarantee
 * (exactly once, in order, both ways) is recorded as a violation:
 * - `lastEventId` (the session sequence number) is one more than the
 *   previous message's: no gap, no repeat, no disorder from the server;
 * - echoes come in order, one for each `c:<n>` (n = 1, 2, 3...): no gap,
 *   no repeat, no disorder towards the server (it echoes what it delivered);
 * - a tick's k equals its `lastEventId`.
 * The spec reads the counters, the violations and the events in order.
 */
import {
  ReconnectedEvent,
  ReconnectingEvent,
  ReconnectingWebSocket,
  SessionLostEvent,
} from '@proj/client';

/** One event, as the spec reads it; `at` is `performance.now()` in ms. */
export type SessionSeen =
  | { type: 'open' | 'offline'; at: number; sessionId: string | null }
  /** `message`: the ErrorEvent's (the socket's own error events have none: ''). */
  | { type: 'error'; at: number; sessionId: string | null; message: string }
  | {
      type: 'close';
      at: number;
      sessionId: string | null;
      code: number;
      reason: string;
      /** ms since the last message arrived (on any connection), or since `open()` if none did. */
      silence: number;
    }
  | { type: 'reconnecting'; at: number; sessionId: string | null; attempt: number }
  | { type: 'reconnected'; at: number; sessionId: string | null; attempts: number }
  | { type: 'sessionlost'; at: number; sessionId: string | null; messages: number }
  /** The window's own events, with `navigator.onLine` when they fired. */
  | { type: 'window-online' | 'window-offline'; at: number; onLine: boolean };

export type SessionSeenType = SessionSeen['type'];

/** Something that breaks the guarantee, as seen by the page. */
export interface Violation {
  what: string;
  data: string;
  lastEventId: string;
}

/** The counters the spec waits on. */
export interface Counters {
  /** `c:<n>` sent so far (the last n). */
  sent: number;
  /** Of those, sent while no connection was open: kept in the log, sent on the next one. */
  sentWhileDown: number;
  /** The last echo's n: every `c:1` to `c:<echoes>` came back once, in order. */
  echoes: number;
  /** Ticks received. */
  ticks: number;
  /** The last message's sequence number (its `lastEventId`): every message up to it arrived once, in order. */
  lastSeq: number;
}

export type Counter = keyof Counters;

export interface SessionsState extends Counters {
  /** Every session id the socket reported, once each, in order. */
  sessionIds: string[];
  violations: Violation[];
  /** What `send()` threw, if it ever did. */
  sendErrors: string[];
  /** Errors thrown and rejections not handled in the page (the window's `error` and `unhandledrejection`). */
  pageErrors: string[];
  readyState: number;
  events: SessionSeen[];
}

/** Options that cross `page.evaluate` (no functions). */
export interface SessionsPageOptions {
  minDelay: number;
  maxDelay: number;
}

export interface SessionsPage {
  /** Opens the ReconnectingWebSocket with `session: true` (one per page). */
  open(url: string, options: SessionsPageOptions): void;
  /** Sends `c:<n>` every `intervalMs`, from n = last + 1. */
  startSending(intervalMs: number): void;
  /** Stops sending; returns the last n sent. */
  stopSending(): number;
  state(): SessionsState;
  /** Resolves with the `count`-th event of `type`; rejects, listing what was seen, after `timeout` ms. */
  waitFor(type: SessionSeenType, count?: number, timeout?: number): Promise<SessionSeen>;
  /** Resolves once `counter` reached `atLeast`; rejects with the counters after `timeout` ms. */
  waitUntil(counter: Counter, atLeast: number, timeout?: number): Promise<SessionsState>;
  /** Ends the session (`end`, then the close handshake). */
  close(code?: number, reason?: string): void;
}

declare global {
  interface Window {
    sessions: SessionsPage;
  }
}

let ws: ReconnectingWebSocket | undefined;
let sender: ReturnType<typeof setInterval> | undefined;
const events: SessionSeen[] = [];
const counters: Counters = { sent: 0, sentWhileDown: 0, echoes: 0, ticks: 0, lastSeq: 0 };
const sessionIds: string[] = [];
const violations: Violation[] = [];
const sendErrors: string[] = [];
const pageErrors: string[] = [];
const waiters = new Set<() => void>();
/** When the last message arrived (`performance.now()`). */
let lastMessageAt = 0;

function wake(): void {
  for (const waiter of [...waiters]) waiter();
}

function socket(): ReconnectingWebSocket {
  if (!ws) throw new Error('sessions.open() was not called');
  return ws;
}

function noteSessionId(): string | null {
  const id = ws?.sessionId ?? null;
  if (id !== null && sessionIds[sessionIds.length - 1] !== id) sessionIds.push(id);
  return id;
}

function record(event: SessionSeen): void {
  events.push(event);
  wake();
}

/** Checks one message against the guarantee and counts it. */
function check(data: unknown, lastEventId: string): void {
  lastMessageAt = performance.now();
  const text = typeof data === 'string' ? data : `<${Object.prototype.toString.call(data)}>`;
  const fail = (what: string): void => {
    violations.push({ what, data: text, lastEventId });
  };
  const seq = Number(lastEventId);
  if (lastEventId !== String(counters.lastSeq + 1)) {
    fail(`lastEventId ${lastEventId} after ${counters.lastSeq}`);
  }
  // A repeat does not move it back: what follows is judged against the newest.
  if (Number.isSafeInteger(seq)) counters.lastSeq = Math.max(counters.lastSeq, seq);

  const match = /^(echo|tick):(\d+)$/.exec(text);
  if (!match) {
    fail('not an echo or a tick');
  } else if (match[1] === 'echo') {
    const n = Number(match[2]);
    if (n !== counters.echoes + 1) fail(`echo ${n} after ${counters.echoes}`);
    counters.echoes = Math.max(counters.echoes, n);
  } else {
    counters.ticks++;
    if (match[2] !== lastEventId) fail(`tick ${match[2]} with lastEventId ${lastEventId}`);
  }
  noteSessionId();
  wake();
}

function listen(current: ReconnectingWebSocket): void {
  const base = (): { at: number; sessionId: string | null } => ({
    at: performance.now(),
    sessionId: noteSessionId(),
  });
  for (const type of ['open', 'offline'] as const) {
    current.addEventListener(type, () => record({ type, ...base() }));
  }
  current.addEventListener('error', (event) => {
    const message = event instanceof ErrorEvent ? event.message : '';
    record({ type: 'error', ...base(), message });
  });
  current.addEventListener('close', (event) => {
    const { at, sessionId } = base();
    const { code, reason } = event;
    record({ type: 'close', at, sessionId, code, reason, silence: at - lastMessageAt });
  });
  current.addEventListener('reconnecting', (event) => {
    if (!(event instanceof ReconnectingEvent)) throw new Error('not a ReconnectingEvent');
    record({ type: 'reconnecting', ...base(), attempt: event.attempt });
  });
  current.addEventListener('reconnected', (event) => {
    if (!(event instanceof ReconnectedEvent)) throw new Error('not a ReconnectedEvent');
    record({ type: 'reconnected', ...base(), attempts: event.attempts });
  });
  current.addEventListener('sessionlost', (event) => {
    if (!(event instanceof SessionLostEvent)) throw new Error('not a SessionLostEvent');
    record({ type: 'sessionlost', ...base(), messages: event.messages.length });
  });
  current.addEventListener('message', (event) => check(event.data, event.lastEventId));
}

// Uncaught here, not the browser's own console reports (Firefox reports
// every refused WebSocket as an error, which Playwright calls a page error).
window.addEventListener('error', (event) => pageErrors.push(String(event.message)));
window.addEventListener('unhandledrejection', (event) => pageErrors.push(String(event.reason)));

for (const type of ['online', 'offline'] as const) {
  window.addEventListener(type, () =>
    record({ type: `window-${type}`, at: performance.now(), onLine: navigator.onLine }),
  );
}

function state(): SessionsState {
  return {
    ...counters,
    sessionIds: [...sessionIds],
    violations: [...violations],
    sendErrors: [...sendErrors],
    pageErrors: [...pageErrors],
    readyState: socket().readyState,
    events: [...events],
  };
}

function sendNext(): void {
  const current = socket();
  const n = counters.sent + 1;
  try {
    current.send(`c:${n}`);
  } catch (error) {
    // OfflineQueueFullError: the replay log is full. It must not be.
    sendErrors.push(String(error));
    return;
  }
  counters.sent = n;
  if (current.readyState !== ReconnectingWebSocket.OPEN) counters.sentWhileDown++;
  wake();
}

/** Waits until `done()` returns something; rejects with `describe()` after `timeout` ms. */
function until<T>(done: () => T | undefined, timeout: number, describe: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiters.delete(poll);
      reject(new Error(describe()));
    }, timeout);
    const poll = (): void => {
      const value = done();
      if (value === undefined) return;
      clearTimeout(timer);
      waiters.delete(poll);
      resolve(value);
    };
    waiters.add(poll);
    poll();
  });
}

window.sessions = {
  open(url, options) {
    if (ws) throw new Error('one ReconnectingWebSocket per page');
    ws = new ReconnectingWebSocket(url, [], { ...options, session: true });
    lastMessageAt = performance.now();
    listen(ws);
  },
  startSending(intervalMs) {
    if (sender !== undefined) throw new Error('already sending');
    sender = setInterval(sendNext, intervalMs);
  },
  stopSending() {
    clearInterval(sender);
    sender = undefined;
    return counters.sent;
  },
  state,
  waitFor: (type, count = 1, timeout = 15_000) =>
    until(
      () => events.filter((event) => event.type === type)[count - 1],
      timeout,
      () =>
        `No ${type} event #${count} within ${timeout} ms; seen: ${events.map((e) => e.type).join(', ')}`,
    ),
  waitUntil: (counter, atLeast, timeout = 15_000) =>
    until(
      () => (counters[counter] >= atLeast ? state() : undefined),
      timeout,
      () =>
        `${counter} did not reach ${atLeast} within ${timeout} ms: ${JSON.stringify(counters)}; ` +
        `events: ${events.map((e) => e.type).join(', ')}`,
    ),
  close: (code, reason) => socket().close(code, reason),
};
