/**
 * Runs in the browser (bundled by global-setup.ts into /harness.js). It opens
 * one WebSocket at a time with the browser's own `WebSocket` (which is what
 * `@proj/client` exports in a browser bundle: bundle.spec.ts checks that),
 * records every event in order, and summarizes messages so that tests
 * compare checksums instead of shipping megabytes through `page.evaluate`.
 */
import { pattern } from './pattern.js';
import type { Harness, LoggedEvent, MessageSummary } from './types.js';

async function sha256(bytes: ArrayBuffer): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

let ws: WebSocket | undefined;
const events: LoggedEvent[] = [];
/** Message summaries settle asynchronously (Blob reads, digests) but keep arrival order. */
let pending: Promise<unknown> = Promise.resolve();
const waiters = new Set<() => void>();

function wakeWaiters(): void {
  for (const wake of [...waiters]) wake();
}

function record(event: LoggedEvent): void {
  events.push(event);
  wakeWaiters();
}

async function summarize(data: unknown): Promise<MessageSummary> {
  if (typeof data === 'string') return { kind: 'text', text: data, size: data.length };
  if (data instanceof ArrayBuffer) {
    return { kind: 'arraybuffer', size: data.byteLength, sha256: await sha256(data) };
  }
  if (data instanceof Blob) {
    const buffer = await data.arrayBuffer();
    return { kind: 'blob', size: buffer.byteLength, sha256: await sha256(buffer) };
  }
  return { kind: 'other', type: Object.prototype.toString.call(data) };
}

function socket(): WebSocket {
  if (!ws) throw new Error('harness.open() was not called');
  return ws;
}

const harness: Harness = {
  open(url, protocols, binaryType) {
    events.length = 0;
    ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
    if (binaryType) ws.binaryType = binaryType;
    const current = ws;
    current.addEventListener('open', () =>
      record({
        type: 'open',
        protocol: current.protocol,
        extensions: current.extensions,
        readyState: current.readyState,
      }),
    );
    current.addEventListener('message', (event: MessageEvent) => {
      // Reserve the slot now, fill it in when the summary is ready.
      const slot: LoggedEvent = { type: 'message', summary: { kind: 'pending' } };
      events.push(slot);
      pending = pending.then(async () => {
        slot.summary = await summarize(event.data);
        wakeWaiters();
      });
    });
    current.addEventListener('error', () =>
      record({ type: 'error', readyState: current.readyState }),
    );
    current.addEventListener('close', (event: CloseEvent) =>
      record({
        type: 'close',
        code: event.code,
        reason: event.reason,
        wasClean: event.wasClean,
        readyState: current.readyState,
      }),
    );
  },

  events() {
    return events.slice();
  },

  types() {
    return harness.events().map((event) => event.type);
  },

  async waitFor(type, count = 1) {
    const matches = (): LoggedEvent[] => {
      const found = harness.events().filter((event) => event.type === type);
      if (
        type === 'message' &&
        found.some((e) => e.type === 'message' && e.summary.kind === 'pending')
      )
        return [];
      return found;
    };
    while (matches().length < count) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          waiters.delete(wake);
          resolve();
        };
        waiters.add(wake);
      });
    }
    return matches()[count - 1]!;
  },

  async messages(count) {
    await harness.waitFor('message', count);
    return harness
      .events()
      .flatMap((event) => (event.type === 'message' ? [event.summary] : []))
      .slice(0, count);
  },

  state() {
    const current = socket();
    return {
      readyState: current.readyState,
      bufferedAmount: current.bufferedAmount,
      protocol: current.protocol,
      extensions: current.extensions,
      binaryType: current.binaryType,
      url: current.url,
    };
  },

  sendText(text) {
    const current = socket();
    current.send(text);
    return current.bufferedAmount;
  },

  async sendPattern(size, seed, as) {
    const bytes = pattern(size, seed);
    const current = socket();
    if (as === 'blob') current.send(new Blob([bytes]));
    else if (as === 'view') current.send(bytes.subarray(0));
    else current.send(bytes.buffer);
    return { bufferedAmount: current.bufferedAmount, sha256: await sha256(bytes.buffer) };
  },

  close(code, reason) {
    socket().close(code, reason);
  },

  startUpdates(intervalMs, total, padding = 0) {
    const current = socket();
    const pad = 'x'.repeat(padding);
    const stats = { sent: 0, skipped: 0, done: false };
    const timer = setInterval(() => {
      if (current.readyState !== WebSocket.OPEN || stats.sent >= total) {
        clearInterval(timer);
        stats.done = true;
        return;
      }
      if (current.bufferedAmount === 0) {
        current.send(JSON.stringify({ seq: stats.sent, pad }));
        stats.sent += 1;
      } else {
        stats.skipped += 1;
      }
    }, intervalMs);
    window.updateStats = stats;
  },
};

window.harness = harness;
