/**
 * Runs in the browser: the page of tests/reconnecting.spec.ts, which bundles
 * it with esbuild for platform "browser", so `@proj/client` resolves through
 * its `browser` export condition to dist/browser.js, as a front-end bundler
 * resolves it. It opens one `ReconnectingWebSocket` over the browser's own
 * WebSocket and records, in order and with the page's clock, every event it
 * dispatches and the window's `online`/`offline` events.
 */
import {
  GiveUpEvent,
  ReconnectedEvent,
  ReconnectingEvent,
  ReconnectingWebSocket,
  type ReconnectingWebSocketOptions,
} from '@proj/client';

/** One event, as the spec reads it; `at` is `performance.now()` in ms. */
export type Seen =
  | { type: 'open' | 'error' | 'offline'; at: number; readyState: number }
  | { type: 'message'; at: number; readyState: number; data: string }
  | { type: 'close'; at: number; readyState: number; code: number; reason: string }
  | {
      type: 'reconnecting';
      at: number;
      readyState: number;
      attempt: number;
      delay: number;
      retryAfter: number | null;
    }
  | { type: 'reconnected'; at: number; readyState: number; attempts: number; downtime: number }
  | { type: 'giveup'; at: number; readyState: number; reason: string }
  /** The window's own events, with `navigator.onLine` when they fired. */
  | { type: 'window-online' | 'window-offline'; at: number; onLine: boolean };

export type SeenType = Seen['type'];

/** Options that cross `page.evaluate` (no functions). */
export interface PageOptions extends Pick<
  ReconnectingWebSocketOptions,
  'minDelay' | 'maxDelay' | 'factor' | 'minUptime'
> {
  /** Draw every delay at the bottom of its window (`environment.random` 0). */
  noJitter?: boolean;
}

export interface ReconnectingPage {
  /** Opens the ReconnectingWebSocket (one per page). */
  open(url: string, options?: PageOptions): void;
  events(): Seen[];
  /** Resolves with the `count`-th event of `type`; rejects, listing what was seen, after `timeout` ms. */
  waitFor(type: SeenType, count?: number, timeout?: number): Promise<Seen>;
  /** Sends text; returns `readyState` and `bufferedAmount` right after the call. */
  send(text: string): { readyState: number; bufferedAmount: number };
  /** Once `count` events of `type` were seen, sends `texts` at once, in that task. */
  sendAfter(
    type: SeenType,
    count: number,
    texts: string[],
  ): Promise<{ readyState: number; bufferedAmount: number }>;
  state(): { readyState: number; bufferedAmount: number; url: string; onLine: boolean };
  close(): void;
}

declare global {
  interface Window {
    reconnecting: ReconnectingPage;
  }
}

let ws: ReconnectingWebSocket | undefined;
const seen: Seen[] = [];
const waiters = new Set<() => void>();

function record(event: Seen): void {
  seen.push(event);
  for (const wake of [...waiters]) wake();
}

function socket(): ReconnectingWebSocket {
  if (!ws) throw new Error('reconnecting.open() was not called');
  return ws;
}

function waitFor(type: SeenType, count = 1, timeout = 10_000): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiters.delete(check);
      const types = seen.map((event) => event.type).join(', ');
      reject(new Error(`No ${type} event #${count} within ${timeout} ms; seen: ${types}`));
    }, timeout);
    const check = (): void => {
      const found = seen.filter((event) => event.type === type)[count - 1];
      if (!found) return;
      clearTimeout(timer);
      waiters.delete(check);
      resolve(found);
    };
    waiters.add(check);
    check();
  });
}

function listen(current: ReconnectingWebSocket): void {
  const base = (): { at: number; readyState: number } => ({
    at: performance.now(),
    readyState: current.readyState,
  });
  for (const type of ['open', 'error', 'offline'] as const) {
    current.addEventListener(type, () => record({ type, ...base() }));
  }
  current.addEventListener('message', (event) =>
    record({ type: 'message', ...base(), data: String(event.data) }),
  );
  current.addEventListener('close', (event) =>
    record({ type: 'close', ...base(), code: event.code, reason: event.reason }),
  );
  current.addEventListener('reconnecting', (event) => {
    if (!(event instanceof ReconnectingEvent)) throw new Error('not a ReconnectingEvent');
    const { attempt, delay, retryAfter } = event;
    record({ type: 'reconnecting', ...base(), attempt, delay, retryAfter });
  });
  current.addEventListener('reconnected', (event) => {
    if (!(event instanceof ReconnectedEvent)) throw new Error('not a ReconnectedEvent');
    record({ type: 'reconnected', ...base(), attempts: event.attempts, downtime: event.downtime });
  });
  current.addEventListener('giveup', (event) => {
    if (!(event instanceof GiveUpEvent)) throw new Error('not a GiveUpEvent');
    record({ type: 'giveup', ...base(), reason: event.reason });
  });
}

for (const type of ['online', 'offline'] as const) {
  window.addEventListener(type, () =>
    record({ type: `window-${type}`, at: performance.now(), onLine: navigator.onLine }),
  );
}

function sent(): { readyState: number; bufferedAmount: number } {
  return { readyState: socket().readyState, bufferedAmount: socket().bufferedAmount };
}

window.reconnecting = {
  open(url, { noJitter, ...options } = {}) {
    if (ws) throw new Error('one ReconnectingWebSocket per page');
    ws = new ReconnectingWebSocket(url, undefined, {
      ...options,
      ...(noJitter ? { environment: { random: () => 0 } } : {}),
    });
    listen(ws);
  },
  events: () => seen,
  waitFor,
  send(text) {
    socket().send(text);
    return sent();
  },
  async sendAfter(type, count, texts) {
    await waitFor(type, count);
    // For an event that comes after this call, the promise settles in the
    // microtask checkpoint right after the listener that recorded it: in
    // that event's task, before any timer (the retry) can run.
    for (const text of texts) socket().send(text);
    return sent();
  },
  state: () => ({
    readyState: socket().readyState,
    bufferedAmount: socket().bufferedAmount,
    url: socket().url,
    onLine: navigator.onLine,
  }),
  close: () => socket().close(),
};
