/**
 * Liveness of a session connection (docs/session-protocol.md, section 6).
 *
 * First the check itself, `Liveness`, on a clock and timers driven by hand:
 * the detection bound, healthy connections over many periods, and what a
 * page that was frozen or throttled sees (timers late, messages queued).
 * Then over real sockets: a scripted server sending keep-alive acks through
 * a TCP proxy that stalls (the link dies without a word, TCP stays up): the
 * client drops that connection and resumes on a new one; a healthy idle
 * connection is never dropped.
 */
import { describe, expect, test } from 'vitest';
import {
  type CloseEvent,
  type ErrorEvent,
  ReconnectingWebSocket,
  type ReconnectingWebSocketOptions,
} from '@proj/client';
import { onCleanup, quiet, until, useCleanup } from '@proj/test-utils';
import { Liveness } from '../src/session-liveness.js';
import {
  FAST,
  type ScriptedConnection,
  ack,
  finalClose,
  next,
  ready,
  record,
  startProxy,
  startScripted,
  summary,
} from './reconnecting-session-peer.js';

useCleanup({ failOnUncaught: false });

// ---- the check, on a clock driven by hand ----

/** A clock and one-shot timers that run only when the test advances time. */
class ManualClock {
  time = 0;
  readonly now = (): number => this.time;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();
  #next = 1;

  readonly setTimeout = (callback: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.#timers.set(id, { at: this.time + ms, callback });
    return id;
  };

  readonly clearTimeout = (handle: unknown): void => {
    this.#timers.delete(handle as number);
  };

  /** Timers pending. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time to `to`, running each timer due on the way at its time. */
  advance(to: number): void {
    for (;;) {
      const due = [...this.#timers]
        .filter(([, t]) => t.at <= to)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].callback();
    }
    this.time = to;
  }

  /**
   * Jumps to `to` with every timer held back meanwhile (a frozen page, a
   * sleeping machine): the timers due run late, at `to`, in order.
   */
  freezeUntil(to: number): void {
    this.time = to;
    this.advance(to);
  }
}

/** A Liveness on a manual clock, and when it judged the connection dead. */
function watch(timeout: number): { clock: ManualClock; liveness: Liveness; deaths: number[] } {
  const clock = new ManualClock();
  const deaths: number[] = [];
  const liveness = new Liveness(clock, () => deaths.push(clock.time));
  liveness.start(timeout);
  return { clock, liveness, deaths };
}

describe('Liveness: judged by timestamps, checked every timeout / 2', () => {
  test('silence: dead at the first check past the timeout, within timeout + timeout / 2', () => {
    for (const last of [0, 1, 499, 500, 777]) {
      const { clock, liveness, deaths } = watch(1000);
      clock.advance(last);
      liveness.received();
      clock.advance(10_000);
      expect(deaths).toHaveLength(1);
      expect(deaths[0]! - last).toBeGreaterThan(1000);
      expect(deaths[0]! - last).toBeLessThanOrEqual(1500);
      // Judged once; no timer left.
      expect(clock.pending).toBe(0);
    }
  });

  test('a message every keep-alive period: never dead, over many periods', () => {
    const { clock, liveness, deaths } = watch(1000);
    for (let t = 500; t <= 60_000; t += 500) {
      clock.advance(t);
      liveness.received();
    }
    expect(deaths).toEqual([]);
  });

  test('throttled timers (once a minute) with messages still delivered: never dead', () => {
    const { clock, liveness, deaths } = watch(30_000);
    // A background page: the check runs once a minute instead of every
    // 15 s (before the message due at the same time), while the server's
    // keep-alive still arrives every 15 s.
    for (let t = 15_000; t <= 600_000; t += 15_000) {
      if (t % 60_000 === 0) clock.freezeUntil(t);
      clock.time = t;
      liveness.received();
    }
    expect(deaths).toEqual([]);
    // The server gone: found at the next check that runs (a minute later, plus the grace).
    clock.freezeUntil(660_000);
    clock.advance(661_000);
    expect(deaths).toEqual([661_000]);
  });

  test('a frozen page: the late check waits a short grace for the messages queued meanwhile', () => {
    const { clock, liveness, deaths } = watch(1000);
    // Frozen from 0 to 30 s; the server kept sending, the messages wait.
    clock.freezeUntil(30_000);
    expect(deaths).toEqual([]);
    // The queued messages are dispatched within the grace.
    clock.advance(30_010);
    liveness.received();
    clock.advance(31_000);
    expect(deaths).toEqual([]);
  });

  test('a frozen page whose server is gone: dead after the one grace', () => {
    const { clock, deaths } = watch(1000);
    clock.freezeUntil(30_000);
    expect(deaths).toEqual([]);
    clock.advance(30_500);
    expect(deaths).toEqual([30_500]);
  });

  test('stop(): no timer left, no verdict', () => {
    const { clock, liveness, deaths } = watch(1000);
    liveness.stop();
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    expect(deaths).toEqual([]);
  });
});

// ---- over real sockets ----

/** The scripted server's keep-alive period, ms: the client's timeout is twice that. */
const KEEPALIVE = 150;

/**
 * Plays a session server on `conn`: answers hello or resume with `ready`
 * (keep-alive {@link KEEPALIVE}), then sends `ack 0` every KEEPALIVE ms
 * until the connection closes. Returns how many keep-alives it sent.
 */
function serveKeepAlive(conn: ScriptedConnection): { sent: number } {
  const count = { sent: 0 };
  void conn.receive(1).then(([first]) => {
    conn.send(ready('s-1', 0, KEEPALIVE));
    expect(first).toMatch(/^<(hello|resume s-1 0 0)>$/);
    const timer = setInterval(() => {
      conn.send(ack(0));
      count.sent++;
    }, KEEPALIVE);
    conn.socket.on('close', () => clearInterval(timer));
    onCleanup(() => clearInterval(timer));
  });
  return count;
}

/** A ReconnectingWebSocket with a session, closed after the test. */
function open(
  url: string,
  options: ReconnectingWebSocketOptions = { ...FAST, session: true },
): ReconnectingWebSocket {
  const ws = new ReconnectingWebSocket(url, undefined, options);
  onCleanup(async () => {
    if (ws.readyState === ws.CLOSED) return;
    const closed = finalClose(ws);
    ws.close();
    await closed;
  });
  return ws;
}

describe('a session connection that goes silent', () => {
  test('a stalled link: dropped (error, close 1006), then resumed on a new connection', async () => {
    const peer = await startScripted();
    const proxy = await startProxy(peer.port);
    const ws = open(proxy.url);
    const seen = record(ws);
    const first = serveKeepAlive(await peer.connection());
    await next(ws, 'open');
    await until(() => first.sent >= 2);
    proxy.stall();
    const second = peer.connection();
    serveKeepAlive(await second);
    await next(ws, 'reconnected');
    expect(summary(seen)).toEqual([
      'open @1',
      'error @0',
      'close 1006 @0',
      'reconnecting @0',
      'open @1',
      'reconnected @1',
    ]);
    const error = seen[1]!.event as ErrorEvent;
    const silence = Number(/for (\d+) ms/.exec(error.message)?.[1]);
    expect(silence).toBeGreaterThan(2 * KEEPALIVE);
    expect(error.error).toBeInstanceOf(Error);
    expect((seen[2]!.event as CloseEvent).wasClean).toBe(false);
    // The new connection resumed the session.
    expect((await second).received[0]).toBe('<resume s-1 0 0>');
    expect(proxy.connections).toBe(2);
  });

  test('keepAliveTimeout overrides twice the keep-alive period', async () => {
    const peer = await startScripted();
    const proxy = await startProxy(peer.port);
    const ws = open(proxy.url, { ...FAST, session: { keepAliveTimeout: 1200 } });
    const seen = record(ws);
    serveKeepAlive(await peer.connection());
    await next(ws, 'open');
    proxy.stall();
    const error = (await next(ws, 'error')) as ErrorEvent;
    // Twice the keep-alive period would have found it after some 300 ms.
    expect(Number(/for (\d+) ms/.exec(error.message)?.[1])).toBeGreaterThan(1200);
    expect(summary(seen).slice(0, 2)).toEqual(['open @1', 'error @0']);
  });

  test('a healthy idle connection is never dropped, over many keep-alive periods', async () => {
    const peer = await startScripted();
    const proxy = await startProxy(peer.port);
    const ws = open(proxy.url);
    const seen = record(ws);
    const served = serveKeepAlive(await peer.connection());
    await next(ws, 'open');
    // Ten periods: five times the timeout.
    await until(() => served.sent >= 10);
    expect(summary(seen)).toEqual(['open @1']);
    expect(proxy.connections).toBe(1);
  });

  test('without keep-alives announced (ready with 0) and no keepAliveTimeout: no check', async () => {
    const peer = await startScripted();
    const proxy = await startProxy(peer.port);
    // Closing over the stalled link waits for closeTimeout: a short one.
    const ws = open(proxy.url, { ...FAST, session: true, socketOptions: { closeTimeout: 100 } });
    const seen = record(ws);
    const conn = await peer.connection();
    await conn.receive(1);
    conn.send(ready('s-1', 0, 0));
    await next(ws, 'open');
    proxy.stall();
    // Silence far beyond twice any keep-alive period above.
    await quiet(1000);
    expect(summary(seen)).toEqual(['open @1']);
  });
});
