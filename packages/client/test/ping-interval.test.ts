/**
 * The `pingInterval` option: a peer that vanished without closing (a
 * half-open connection) is found and the connection failed; a live peer,
 * whether it answers pings or just keeps talking, never is.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import type * as net from 'node:net';
import { describe, expect, test } from 'vitest';
import type { ErrorEvent } from '@proj/client';
import { type Collected, onCleanup, until, within } from '@proj/test-utils';
import {
  connect,
  frame,
  nextEvent,
  parseClientFrames,
  record,
  startAccepting,
  startPeer,
} from './helpers.js';

const PING = 0x9;
const CLOSE = 0x8;

/** A raw server that answers the handshake and then only does what `after` does. */
async function rawServer(
  after: (socket: net.Socket) => void = () => {},
): Promise<{ url: string; received: Promise<Collected>; closed: Promise<void> }> {
  let resolveReceived!: (value: Collected) => void;
  let resolveClosed!: () => void;
  const received = new Promise<Collected>((r) => (resolveReceived = r));
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const raw = await startAccepting((socket, fromClient) => {
    socket.on('close', () => resolveClosed());
    resolveReceived(fromClient);
    after(socket);
  });
  return { url: raw.url, received, closed };
}

const pingsIn = (bytes: Buffer): number =>
  parseClientFrames(bytes).filter((f) => f.opcode === PING).length;

/** Plays a peer that answers every ping with a pong, and does nothing else. */
function answerPings(socket: net.Socket): void {
  let bytes = Buffer.alloc(0);
  let answered = 0;
  socket.on('data', (chunk: Buffer) => {
    bytes = Buffer.concat([bytes, chunk]);
    for (const pings = pingsIn(bytes); answered < pings; answered++) socket.write(frame(0xa));
  });
}

/**
 * A `ws` server in a child process, so that it keeps running while this
 * process is blocked; it answers each ping `delay` ms late.
 */
async function childPeer(delay: number): Promise<string> {
  const wsPath = createRequire(import.meta.url).resolve('ws');
  const script = `
    const { WebSocketServer } = require(${JSON.stringify(wsPath)});
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: false });
    wss.on('connection', (socket) => {
      socket.on('ping', (data) => setTimeout(() => socket.pong(data), ${delay}));
    });
    wss.on('listening', () => console.log(wss.address().port));
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  onCleanup(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill();
    await exited;
  });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return `ws://127.0.0.1:${Number.parseInt(line.toString(), 10)}`;
}

/** Keeps this process's event loop busy for `ms`, as a long synchronous job would. */
function block(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // Busy: nothing else runs, no socket is read.
  }
}

describe('pingInterval', () => {
  test('a peer that stops answering: error, then close 1006, the socket destroyed', async () => {
    const interval = 100;
    // Answers the handshake, then reads but never writes: a vanished peer.
    const peer = await rawServer();
    const ws = connect(peer.url, [], { pingInterval: interval });
    const { events, closed } = record(ws);
    await nextEvent(ws, 'open');
    const opened = Date.now();
    const received = await peer.received;
    const close = await within(closed, 'the half-open connection to be failed', 5_000);
    const elapsed = Date.now() - opened;
    expect(events.map((e) => e.type)).toEqual(['open', 'error', 'close']);
    const error = (events[1]!.event as ErrorEvent).error as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe(
      `No pong within pingInterval: nothing was received for ${interval} ms after a ping, ` +
        'so the connection is taken as half-open',
    );
    expect((events[1]!.event as ErrorEvent).message).toBe(error.message);
    expect([close.code, close.wasClean, close.reason]).toEqual([1006, false, '']);
    // It pinged before judging, waited a whole interval after the ping, and
    // sent no close frame to a peer that is gone: the socket was destroyed.
    const frames = parseClientFrames(received.bytes).map((f) => f.opcode);
    expect(frames.filter((opcode) => opcode === PING).length).toBeGreaterThanOrEqual(1);
    expect(frames).not.toContain(CLOSE);
    expect(elapsed).toBeGreaterThanOrEqual(interval);
    await within(peer.closed, 'the socket to be closed', 5_000);
  });

  test('a peer that answers: no false positive over many intervals', async () => {
    const peer = await startPeer();
    // Long enough that a loaded machine stalling this process (peer included)
    // for a whole interval between a ping and its pong is not to be feared.
    const ws = connect(peer.url, [], { pingInterval: 100 });
    const { events } = record(ws);
    await nextEvent(ws, 'open');
    const server = await peer.connection();
    let pings = 0;
    server.on('ping', () => pings++);
    // ws answers every ping; six intervals pass.
    await until(() => pings >= 6);
    expect(events.map((e) => e.type)).toEqual(['open']);
    expect(ws.readyState).toBe(ws.OPEN);
  });

  test('anything received counts: a peer that never pongs but keeps sending is alive', async () => {
    let timer: NodeJS.Timeout | undefined;
    const peer = await rawServer((socket) => {
      timer = setInterval(() => socket.write(frame(0x1, 'tick')), 20);
      socket.on('close', () => clearInterval(timer));
    });
    const ws = connect(peer.url, [], { pingInterval: 100 });
    const { events } = record(ws);
    await nextEvent(ws, 'open');
    const received = await peer.received;
    try {
      await until(() => pingsIn(received.bytes) >= 5);
      expect(events.some((e) => e.type === 'error' || e.type === 'close')).toBe(false);
      expect(ws.readyState).toBe(ws.OPEN);
    } finally {
      clearInterval(timer);
    }
  });

  test("a blocked event loop is not the peer's silence: a pong that arrived meanwhile counts", async () => {
    const interval = 100;
    const url = await childPeer(20);
    const ws = connect(url, [], { pingInterval: interval });
    const { events } = record(ws);
    await nextEvent(ws, 'open');
    // A timer of the same duration runs right after the heartbeat's tick
    // (Node keeps one list per duration, in order) and blocks the loop for
    // 2.5 intervals from the check phase: the pong (20 ms late) arrives
    // unread, and the next tick, due during the block, runs before the poll
    // that reads it.
    let blocks = 0;
    const blocker = setInterval(() => {
      if (blocks++ < 3) setImmediate(block, 2.5 * interval);
    }, interval);
    onCleanup(() => clearInterval(blocker));
    await until(() => blocks >= 6);
    expect(events.map((e) => e.type)).toEqual(['open']);
    expect(ws.readyState).toBe(ws.OPEN);
  });

  test('once closing, no more pings: the close timeout bounds the wait, not pingInterval', async () => {
    // Answers pings, never our close frame: only closeTimeout ends the connection.
    const peer = await rawServer(answerPings);
    const ws = connect(peer.url, [], { pingInterval: 30, closeTimeout: 400 });
    const { events, closed } = record(ws);
    await nextEvent(ws, 'open');
    const received = await peer.received;
    await until(() => pingsIn(received.bytes) >= 1);
    ws.close();
    const close = await closed;
    const frames = parseClientFrames(received.bytes).map((f) => f.opcode);
    expect(frames.slice(frames.indexOf(CLOSE))).toEqual([CLOSE]);
    expect(events.map((e) => e.type)).toEqual(['open', 'close']);
    expect([close.code, close.wasClean]).toEqual([1006, false]);
  });

  test('0, the default, sends no pings', async () => {
    const peer = await rawServer();
    const ws = connect(peer.url, [], { pingInterval: 0 });
    await nextEvent(ws, 'open');
    const received = await peer.received;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(pingsIn(received.bytes)).toBe(0);
    expect(ws.readyState).toBe(ws.OPEN);
  });
});
