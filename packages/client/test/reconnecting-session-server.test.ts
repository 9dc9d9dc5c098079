/**
 * ReconnectingWebSocket's `session` option against the real server side:
 * @proj/server with `sessions`, on 127.0.0.1, port 0. Connections are really
 * cut (the server side's TCP socket destroyed with terminate(), a link
 * stalled in a proxy) and the server really restarted; what each side's
 * application receives is checked to be exactly once and in order
 * (docs/session-protocol.md, section 8, guarantees 1 and 2).
 */
import type { AddressInfo } from 'node:net';
import { describe, expect, test } from 'vitest';
import {
  type CloseEvent,
  type ErrorEvent,
  type MessageEvent,
  ReconnectingWebSocket,
  type ReconnectingWebSocketOptions,
  type SessionLostEvent,
} from '@proj/client';
import {
  type ServerSession,
  type SessionCloseCause,
  type SessionOptions,
  WebSocketServer,
} from '@proj/server';
import { onCleanup, quiet, until, useCleanup } from '@proj/test-utils';
import {
  FAST,
  finalClose,
  next,
  record,
  startProxy,
  summary,
} from './reconnecting-session-peer.js';

useCleanup({ failOnUncaught: false });

/** What the server's application saw of its sessions. */
interface SessionServer {
  readonly server: WebSocketServer;
  readonly port: number;
  readonly url: string;
  /** Every session announced, in order. */
  readonly sessions: ServerSession[];
  /** Each session's messages, by id, as `seq:data`. */
  readonly received: Map<string, string[]>;
  /** Each session's end, by id. */
  readonly closed: Map<string, [number, string, SessionCloseCause]>;
  /** Resumes seen, by id. */
  readonly resumes: Map<string, number>;
  close(): Promise<void>;
}

/**
 * A @proj/server with sessions whose application echoes every message as
 * `echo:<data>` (with `echo: true`), closed after the test.
 */
async function startSessionServer(
  sessions: SessionOptions | true = true,
  {
    port = 0,
    echo = true,
    protocols,
  }: { port?: number; echo?: boolean; protocols?: string[] } = {},
): Promise<SessionServer> {
  const server = new WebSocketServer({ host: '127.0.0.1', port, sessions, protocols });
  await server.ready();
  const bound = (server.address() as AddressInfo).port;
  const all: ServerSession[] = [];
  const received = new Map<string, string[]>();
  const closed = new Map<string, [number, string, SessionCloseCause]>();
  const resumes = new Map<string, number>();
  server.on('session', (session) => {
    all.push(session);
    const log: string[] = [];
    received.set(session.id, log);
    session.on('message', (data, isBinary, seq) => {
      const text = isBinary ? `bin:${(data as Buffer).toString('hex')}` : (data as string);
      log.push(`${seq}:${text}`);
      if (echo) session.send(`echo:${text}`);
    });
    session.on('resume', () => resumes.set(session.id, (resumes.get(session.id) ?? 0) + 1));
    session.on('close', (code, reason, cause) => closed.set(session.id, [code, reason, cause]));
    session.on('error', () => {});
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= server.close({ timeout: 100 }));
  onCleanup(close);
  return {
    server,
    port: bound,
    url: `ws://127.0.0.1:${bound}`,
    sessions: all,
    received,
    closed,
    resumes,
    close,
  };
}

/** A ReconnectingWebSocket with a session, closed after the test. */
function open(
  url: string,
  protocols?: string[],
  options: ReconnectingWebSocketOptions = { ...FAST, session: true },
): ReconnectingWebSocket {
  const ws = new ReconnectingWebSocket(url, protocols, options);
  onCleanup(async () => {
    if (ws.readyState === ws.CLOSED) return;
    const closed = finalClose(ws);
    ws.close();
    await closed;
  });
  return ws;
}

/** Every message event's data and lastEventId, as `lastEventId:data`. */
function messages(ws: ReconnectingWebSocket): string[] {
  const seen: string[] = [];
  ws.addEventListener('message', (event: MessageEvent) =>
    seen.push(`${event.lastEventId}:${event.data as string}`),
  );
  return seen;
}

/** `1:<f(1)>`, `2:<f(2)>`, ... `n:<f(n)>`. */
function numbered(n: number, f: (i: number) => string): string[] {
  return Array.from({ length: n }, (_, i) => `${i + 1}:${f(i + 1)}`);
}

describe('exactly once, in order, both ways', () => {
  test('across many forced drops (the server side of each connection destroyed)', async () => {
    const peer = await startSessionServer({ keepAlive: 1000 });
    const ws = open(peer.url);
    const seen = record(ws);
    const got = messages(ws);
    const TOTAL = 600;
    const DROPS = 12;
    await next(ws, 'open');
    const session = peer.sessions[0]!;
    // The server sends its own stream too, numbered by the same sequence.
    let ticks = 0;
    const ticker = setInterval(() => session.send(`tick:${++ticks}`), 3);
    onCleanup(() => clearInterval(ticker));
    let sent = 0;
    let drops = 0;
    while (sent < TOTAL) {
      for (let i = 0; i < 10 && sent < TOTAL; i++) ws.send(`c:${++sent}`);
      if (drops < DROPS && sent >= ((drops + 1) * TOTAL) / (DROPS + 1)) {
        // Spread the drops over the stream: each waits for the resume
        // after the one before, however slow a loaded machine makes it.
        await until(() => session.connected, 20_000);
        session.socket!.terminate();
        drops++;
      }
      await quiet(2);
    }
    expect(drops).toBe(DROPS);
    const received = peer.received.get(session.id)!;
    await until(() => received.length === TOTAL, 20_000);
    // The last drop may come after everything was delivered: nothing
    // below would then wait for its resume.
    await until(() => peer.resumes.get(session.id) === DROPS, 20_000);
    clearInterval(ticker);
    // Every echo, and every tick, back at the client.
    await until(() => got.length === TOTAL + ticks, 20_000);
    await quiet(100);
    expect(received).toEqual(numbered(TOTAL, (i) => `c:${i}`));
    expect(got).toHaveLength(TOTAL + ticks);
    // lastEventId counts 1, 2, 3...: nothing missed, repeated or reordered.
    expect(got.map((m) => Number(m.split(':')[0]))).toEqual(
      Array.from({ length: got.length }, (_, i) => i + 1),
    );
    const echoes = got.map((m) => m.slice(m.indexOf(':') + 1)).filter((m) => m.startsWith('echo:'));
    expect(echoes).toEqual(Array.from({ length: TOTAL }, (_, i) => `echo:c:${i + 1}`));
    const tickTexts = got
      .map((m) => m.slice(m.indexOf(':') + 1))
      .filter((m) => m.startsWith('tick:'));
    expect(tickTexts).toEqual(Array.from({ length: ticks }, (_, i) => `tick:${i + 1}`));
    // One session throughout, resumed after each drop.
    expect(peer.sessions).toHaveLength(1);
    expect(peer.resumes.get(session.id)).toBe(DROPS);
    expect(seen.filter((s) => s.type === 'sessionlost')).toEqual([]);
    expect(seen.filter((s) => s.type === 'reconnected')).toHaveLength(DROPS);
    expect(ws.sessionId).toBe(session.id);
  });

  test('binary and NUL-led text arrive unchanged, with an application protocol', async () => {
    const peer = await startSessionServer(true, { protocols: ['app.v1'] });
    const ws = open(peer.url, ['app.v1']);
    ws.binaryType = 'arraybuffer';
    const data: unknown[] = [];
    ws.addEventListener('message', (event: MessageEvent) => data.push(event.data));
    await next(ws, 'open');
    expect(ws.protocol).toBe('app.v1');
    const session = peer.sessions[0]!;
    expect(session.protocol).toBe('app.v1');
    ws.send('\u0000nul');
    ws.send(new Uint8Array([0, 1, 2]));
    const received = peer.received.get(session.id)!;
    await until(() => received.length === 2);
    expect(received).toEqual(['1:\u0000nul', '2:bin:000102']);
    await until(() => data.length === 2);
    expect(data[0]).toBe('echo:\u0000nul');
    expect(data[1]).toBe('echo:bin:000102');
  });
});

describe('bufferedAmount', () => {
  test("counts only the application's bytes: the session's acknowledgements are left out", async () => {
    const { url, sessions } = await startSessionServer(true, { echo: false });
    // An ack for every message, written while its message event runs.
    const ws = open(url, undefined, { ...FAST, session: { ackEvery: 1 } });
    const seen: number[] = [];
    ws.addEventListener('message', () => seen.push(ws.bufferedAmount));
    await next(ws, 'open');
    await until(() => sessions.length > 0);
    for (let i = 0; i < 5; i++) sessions[0]!.send(`m${i}`);
    await until(() => seen.length === 5);
    expect(seen).toEqual([0, 0, 0, 0, 0]);
    // The application's own bytes still count, until they are written.
    ws.send('12345');
    expect(ws.bufferedAmount).toBe(5);
    await until(() => ws.bufferedAmount === 0);
  });
});

describe('when the session cannot be resumed', () => {
  test('a restarted server (a new WebSocketServer on the same port): sessionlost, then a new session', async () => {
    const first = await startSessionServer(true, { echo: false });
    const ws = open(first.url);
    const seen = record(ws);
    await next(ws, 'open');
    const oldId = ws.sessionId;
    for (let i = 1; i <= 5; i++) ws.send(`before:${i}`);
    const delivered = first.received.get(oldId!)!;
    await until(() => delivered.length === 5);
    await first.close();
    // Sent while no server runs: never acknowledged by anyone.
    for (let i = 1; i <= 3; i++) ws.send(`down:${i}`);
    const second = await startSessionServer(true, { port: first.port, echo: false });
    await until(() => seen.at(-1)?.type === 'reconnected');
    const lost = seen.find((s) => s.type === 'sessionlost')!.event as SessionLostEvent;
    const sent = [1, 2, 3, 4, 5].map((i) => `before:${i}`).concat(['down:1', 'down:2', 'down:3']);
    // Nothing lost silently: what the first server did not deliver is
    // reported, and what is reported is the tail of what was sent.
    expect(sent.slice(sent.length - lost.messages.length)).toEqual(lost.messages);
    expect(lost.messages.length).toBeGreaterThanOrEqual(3);
    expect(summary(seen).slice(-3)).toEqual(['sessionlost @0', 'open @1', 'reconnected @1']);
    expect(ws.sessionId).not.toBe(oldId);
    expect(ws.sessionId).toBe(second.sessions[0]!.id);
    ws.send('after');
    const now = second.received.get(ws.sessionId!)!;
    await until(() => now.length === 1);
    expect(now).toEqual(['1:after']);
  });

  test('a plain server (no sessions): a plain reconnecting WebSocket', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, protocols: ['app.v1'] });
    await server.ready();
    onCleanup(() => server.close({ timeout: 100 }));
    const received: string[] = [];
    server.on('connection', (socket) => {
      socket.on('message', (data) => {
        received.push(data as string);
        socket.send(`echo:${data as string}`);
      });
    });
    const port = (server.address() as AddressInfo).port;
    const ws = open(`ws://127.0.0.1:${port}`, ['app.v1']);
    const got = messages(ws);
    ws.send('\u0000queued');
    await next(ws, 'open');
    expect([ws.protocol, ws.sessionId]).toEqual(['app.v1', null]);
    ws.send('open');
    await until(() => got.length === 2);
    expect(received).toEqual(['\u0000queued', 'open']);
    expect(got).toEqual([':echo:\u0000queued', ':echo:open']);
  });
});

describe('ending', () => {
  test('close(code, reason) on the client: the server application sees session-ended with them', async () => {
    const peer = await startSessionServer();
    const ws = open(peer.url);
    await next(ws, 'open');
    ws.send('last');
    const close = finalClose(ws);
    ws.close(4000, 'bye');
    const event = await close;
    expect([event.code, event.reason, event.wasClean]).toEqual([4000, 'bye', true]);
    const session = peer.sessions[0]!;
    await until(() => peer.closed.has(session.id));
    expect(peer.closed.get(session.id)).toEqual([4000, 'bye', 'session-ended']);
    expect(peer.received.get(session.id)).toEqual(['1:last']);
  });

  test("the server's session.close(code, reason): the final close with them, no retry", async () => {
    const peer = await startSessionServer();
    const ws = open(peer.url);
    const seen = record(ws);
    await next(ws, 'open');
    const session = peer.sessions[0]!;
    session.send('goodbye');
    session.close(4001, 'done');
    const close = await finalClose(ws);
    expect([close.code, close.reason]).toEqual([4001, 'done']);
    expect(summary(seen)).toEqual(['open @1', 'message @1', 'close 4001 @3']);
    expect(ws.sessionId).toBeNull();
    await quiet(100);
    expect(peer.server.clients.size).toBe(0);
  });
});

describe('liveness against the real server', () => {
  test('a stalled link is dropped and the session resumed on a new connection', async () => {
    const peer = await startSessionServer({ keepAlive: 150 });
    const proxy = await startProxy(peer.port);
    const ws = open(proxy.url);
    const seen = record(ws);
    const got = messages(ws);
    await next(ws, 'open');
    ws.send('one');
    await until(() => got.length === 1);
    proxy.stall();
    ws.send('two');
    await next(ws, 'reconnected');
    const error = seen.find((s) => s.type === 'error')!.event as ErrorEvent;
    expect(error.message).toMatch(/No message from the server for \d+ ms/);
    const close = seen.find((s) => s.type === 'close')!.event as CloseEvent;
    expect([close.code, close.wasClean]).toEqual([1006, false]);
    await until(() => got.length === 2);
    expect(got).toEqual(['1:echo:one', '2:echo:two']);
    const session = peer.sessions[0]!;
    expect(peer.resumes.get(session.id)).toBe(1);
    expect(peer.sessions).toHaveLength(1);
  });
});
