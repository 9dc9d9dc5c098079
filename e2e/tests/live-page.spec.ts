/**
 * apps/live's PAGE against a scripted server (`@proj/testing`'s `wsServer`):
 * the test plays the server of the live demo's protocol (apps/live/README.md,
 * "The protocol"), pushes `welcome` and `world` messages and reads the page's
 * moves through a typed parser, so it can do what the real server never does
 * on cue: stop reading, drop the connection, restart.
 *
 * The kit's server has no sessions: it selects the demo's own subprotocol
 * (`live.v1`), which the page offers next to `proj-session.v1+live.v1`, and
 * the page's ReconnectingWebSocket (`session: true`) goes on as a plain
 * connection: a player per connection, as the README says of plain clients.
 * apps/live's own server is tested by apps/live/test/server.test.ts and
 * live*.spec.ts.
 */
import { readFileSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import type { Page } from '@playwright/test';
import { SESSION_PROTOCOL } from '@proj/protocol';
import {
  type RawMessage,
  type ScriptedPeer,
  type TestServer,
  expect,
  servePages,
  test,
} from '@proj/testing/playwright';
import { buildLivePage, collectErrors } from '../live-app.js';

const MiB = 1024 * 1024;

/**
 * What the stall test pushes through the page's own socket while the server
 * does not read: more than the socket buffers of both ends hold on loopback
 * (tcp_rmem's ceiling here is 32 MiB, but a receive buffer grows only while
 * its reader reads), so the page's `bufferedAmount` stays above 0 until the
 * server reads again. The page's own moves (about 70 bytes every 50 ms) would
 * take hours to fill them.
 */
const FILLER_BYTES = 32 * MiB;

// ---------------------------------------------------------------------------
// The page, served by the test server itself (same origin as its WebSocket).

const liveDir = new URL('../../apps/live/', import.meta.url);
/** Serves index.html, style.css and the bundle; set in beforeAll, once the bundle is built. */
let livePages: RequestListener | undefined;

test.beforeAll(() => {
  // Always rebuilt (esbuild, a fraction of a second): a stale dist/page.js
  // would test yesterday's page. build.mjs renames into place, so workers
  // and other specs building at the same time never read half a bundle.
  buildLivePage();
  const read = (path: string) => readFileSync(new URL(path, liveDir), 'utf8');
  livePages = servePages({
    '/': read('index.html'),
    '/style.css': read('style.css'),
    '/page.js': read('dist/page.js'),
  });
});

test.use({
  wsServerOptions: {
    http: (request, response) => livePages!(request, response),
    maxPayload: 2 * FILLER_BYTES,
    // The demo's subprotocol: the page offers it next to the session's.
    protocols: ['live.v1'],
  },
});

// ---------------------------------------------------------------------------
// What the page sends, parsed: anything else fails the test with its raw text.

/** A move (README: "Page → server, every 50 ms while `bufferedAmount === 0`"). */
interface Move {
  type: 'move';
  /** 0..1, left to right. */
  x: number;
  /** 0..1, top to bottom. */
  y: number;
  /** Numbers the page's moves from 1 over its whole life, across connections. */
  seq: number;
  /** The page's `performance.now()` when it sent the move. */
  t: number;
}

const MOVE_KEYS = ['seq', 't', 'type', 'x', 'y'].join();

/** Accepts exactly a move: those five fields, nothing more, each in its range. */
function parseMove(message: RawMessage): Move {
  if (message.isBinary) throw new Error('expected a text message, got binary');
  const value = JSON.parse(message.data) as Record<string, unknown>;
  const { type, x, y, seq, t } = value;
  const fraction = (n: unknown): n is number => typeof n === 'number' && n >= 0 && n <= 1;
  if (
    Object.keys(value).sort().join() !== MOVE_KEYS ||
    type !== 'move' ||
    !fraction(x) ||
    !fraction(y) ||
    !Number.isSafeInteger(seq) ||
    (seq as number) < 1 ||
    typeof t !== 'number' ||
    !(t >= 0)
  ) {
    throw new Error('expected {"type":"move","x":0..1,"y":0..1,"seq":integer ≥ 1,"t":number ≥ 0}');
  }
  return { type, x, y, seq: seq as number, t };
}

/** The stall test's filler: binary, exactly {@link FILLER_BYTES}; the page itself sends none. */
interface Filler {
  type: 'filler';
}

/** A move, or the stall test's filler. */
function parseMoveOrFiller(message: RawMessage): Move | Filler {
  if (message.isBinary && message.data.length === FILLER_BYTES) return { type: 'filler' };
  return parseMove(message);
}

// ---------------------------------------------------------------------------
// What the server sends (README: "Server → page").

interface Player {
  id: string;
  color: string;
  x: number;
  y: number;
  seq: number;
  t: number;
  held: number;
}

function welcome(id: string, x = 0.42, y = 0.61) {
  return { type: 'welcome', id, color: colorOf(id), x, y };
}

function world(players: readonly Player[]) {
  return { type: 'world', count: players.length, players };
}

/** Another player, as the server would list it: its `t` is another page's clock. */
function player(id: string, x: number, y: number): Player {
  return { id, color: colorOf(id), x, y, seq: 7, t: 1234.5, held: 20 };
}

/** This page's own entry: the `seq` and `t` of a move of its own, held 10 ms. */
function own(id: string, move: Move): Player {
  return { id, color: colorOf(id), x: move.x, y: move.y, seq: move.seq, t: move.t, held: 10 };
}

function colorOf(id: string): string {
  return `hsl(${id.length * 40} 70% 47%)`;
}

// ---------------------------------------------------------------------------
// The page's test hooks (README: "Test hooks"), as plain values.

/** What this spec reads of `window.liveState`. */
interface PageView {
  status: string;
  id: string | null;
  color: string | null;
  count: number;
  players: Player[];
  rtt: number | null;
  sent: number;
  held: number;
  connections: number;
  session: boolean;
  mode: string;
}

function readPage(page: Page): Promise<PageView> {
  return page.evaluate(() => {
    const state = (
      window as unknown as {
        liveState: Omit<PageView, 'players'> & { players: Map<string, Player> };
      }
    ).liveState;
    return {
      status: state.status,
      id: state.id,
      color: state.color,
      count: state.count,
      players: [...state.players.values()].map((p) => ({ ...p })),
      rtt: state.rtt,
      sent: state.sent,
      held: state.held,
      connections: state.connections,
      session: state.session,
      mode: state.mode,
    };
  });
}

/**
 * Opens the page; resolves with the server's end of its connection once the
 * page says it is connected. `query` is the page's (`?auto=1`: the dot moves
 * by itself, whatever the mouse does).
 */
async function openLive<T>(
  page: Page,
  wsServer: TestServer,
  parse: (message: RawMessage) => T,
  query = '?auto=1',
): Promise<ScriptedPeer<T>> {
  const errors = collectErrors([page]);
  await page.goto(`${wsServer.httpUrl}${query}`);
  const peer = await wsServer.waitForConnection({ parse });
  // Opened, or refused: fail at once (saying why) rather than at the timeout.
  await expect.poll(async () => (await readPage(page)).status).not.toBe('connecting');
  const { status } = await readPage(page);
  expect(status, `the page’s WebSocket did not open: ${errors.join('\n')}`).toBe('open');
  await expect(page.locator('#status')).toHaveText('connected');
  return peer;
}

/** The next `n` moves, checked to be numbered one after another, each later than the last. */
async function nextMoves(peer: ScriptedPeer<Move>, n: number): Promise<Move[]> {
  const moves: Move[] = [];
  for (let i = 0; i < n; i++) moves.push(await peer.nextMessage());
  for (const [i, move] of moves.entries()) {
    if (i === 0) continue;
    expect(move.seq).toBe(moves[i - 1]!.seq + 1);
    expect(move.t).toBeGreaterThan(moves[i - 1]!.t);
  }
  return moves;
}

// ---------------------------------------------------------------------------

test('welcome and world states: the page draws its id, the count and the players', async ({
  page,
  wsServer,
}) => {
  const errors = collectErrors([page]);
  const peer = await openLive(page, wsServer, parseMove);
  expect(peer.request.url).toBe('/updates');
  // The page offers a session and the demo's protocol; this server takes
  // the latter, so the page carries on over a plain WebSocket.
  expect(peer.request.headers['sec-websocket-protocol']).toBe(
    `${SESSION_PROTOCOL}+live.v1, live.v1`,
  );
  expect(peer.socket.protocol).toBe('live.v1');
  expect(await readPage(page)).toMatchObject({ status: 'open', session: false, connections: 1 });

  // No id yet: the page sends nothing until it is welcomed.
  expect((await readPage(page)).sent).toBe(0);
  await peer.sendJson(welcome('k3x9q2'));
  await expect(page.locator('#you')).toHaveText('#k3x9q2');
  expect(await readPage(page)).toMatchObject({ id: 'k3x9q2', color: colorOf('k3x9q2') });

  // Then every 50 ms, its position, numbered from 1.
  const moves = await nextMoves(peer, 3);
  expect(moves[0]!.seq).toBe(1);

  // A world state with this page and another player: both drawn, the count
  // shown, and the round trip measured from the page's own entry.
  const other = player('7wd0ra', 0.13, 0.8);
  await peer.sendJson(world([own('k3x9q2', moves[2]!), other]));
  await expect(page.locator('#count')).toHaveText('2');
  await expect(page.locator('#rtt')).toHaveText(/^\d+\.\d ms$/);
  const view = await readPage(page);
  expect(view.count).toBe(2);
  expect(view.players).toEqual([own('k3x9q2', moves[2]!), other]);
  expect(view.rtt).toBeGreaterThanOrEqual(0);

  // The other player leaves: gone from the next world state.
  const later = await nextMoves(peer, 1);
  await peer.sendJson(world([own('k3x9q2', later[0]!)]));
  await expect(page.locator('#count')).toHaveText('1');
  expect((await readPage(page)).players.map((p) => p.id)).toEqual(['k3x9q2']);
  expect(errors).toEqual([]);
});

test('the pointer: the moves carry where it is over the field, as fractions', async ({
  page,
  wsServer,
}) => {
  const errors = collectErrors([page]);
  const peer = await openLive(page, wsServer, parseMove, '');
  await peer.sendJson(welcome('p0int3'));
  await nextMoves(peer, 1);

  const field = (await page.locator('#field').boundingBox())!;
  await page.mouse.move(field.x + field.width * 0.25, field.y + field.height * 0.75);
  await expect(page.locator('#mode')).toHaveText('pointer');
  // Moves from before the pointer came are passed over; the first one after
  // it is where the pointer is (the page rounds to 0.001).
  const at = await peer.nextMessage(
    (move) => Math.abs(move.x - 0.25) <= 0.002 && Math.abs(move.y - 0.75) <= 0.002,
    { description: 'a move at x 0.25, y 0.75' },
  );
  // The pointer stays: so does the dot.
  const next = await peer.nextMessage((move) => move.seq > at.seq);
  expect(next).toMatchObject({ seq: at.seq + 1, x: at.x, y: at.y });
  expect(await readPage(page)).toMatchObject({ mode: 'pointer' });
  expect(errors).toEqual([]);
});

test('a server that stops reading: the page holds its moves back, then sends a fresh one', async ({
  page,
  wsServer,
}) => {
  // The page's socket, to push the filler through it: the bundled client
  // takes `window.WebSocket` when it loads, and gets this subclass, which
  // only records its instances.
  await page.addInitScript(() => {
    const Native = window.WebSocket;
    const sockets: WebSocket[] = [];
    (window as unknown as { liveSockets: WebSocket[] }).liveSockets = sockets;
    window.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    };
  });
  const errors = collectErrors([page]);
  const peer = await openLive(page, wsServer, parseMoveOrFiller);
  await peer.sendJson(welcome('st4ll1'));
  await peer.nextMessage((message) => message.type === 'move');

  void peer.stall();
  const before = await page.evaluate((size) => {
    const socket = (window as unknown as { liveSockets: WebSocket[] }).liveSockets.at(-1)!;
    socket.send(new Uint8Array(size));
    const state = (window as unknown as { liveState: PageView }).liveState;
    return { sent: state.sent, held: state.held };
  }, FILLER_BYTES);

  // The 50 ms loop skips its ticks: "Held back" rises, on the page too...
  await expect.poll(async () => (await readPage(page)).held).toBeGreaterThan(before.held + 3);
  await expect(page.locator('#held')).not.toHaveText(String(before.held));
  // ...and nothing is queued behind the filler meanwhile.
  const atResume = await page.evaluate(() => ({
    now: performance.now(),
    sent: (window as unknown as { liveState: PageView }).liveState.sent,
  }));
  expect(atResume.sent).toBe(before.sent);

  // Reading again: the filler arrives whole, and the move right behind it is
  // a fresh one, made after the server read again (not one that waited).
  peer.resume();
  await peer.nextMessage((message) => message.type === 'move' && message.seq > before.sent, {
    description: 'a move after the filler',
  });
  const messages = peer.messages;
  const filler = messages.findIndex((message) => message.type === 'filler');
  expect(filler).toBeGreaterThan(0);
  expect(messages.slice(0, filler).every((m) => m.type === 'move' && m.seq <= before.sent)).toBe(
    true,
  );
  const next = messages[filler + 1] as Move;
  expect(next).toMatchObject({ type: 'move', seq: before.sent + 1 });
  expect(next.t).toBeGreaterThan(atResume.now);
  await expect
    .poll(() =>
      page.evaluate(
        () =>
          (window as unknown as { liveSockets: WebSocket[] }).liveSockets.at(-1)!.bufferedAmount,
      ),
    )
    .toBe(0);
  expect(errors).toEqual([]);
});

/** Cuts the page's connection in the way `lose` does; checks that the page comes back and carries on. */
async function reconnects(
  page: Page,
  wsServer: TestServer,
  lose: (peer: ScriptedPeer<Move>) => Promise<void>,
): Promise<void> {
  const first = await openLive(page, wsServer, parseMove);
  await first.sendJson(welcome('f1rst0'));
  const [lastBefore] = await nextMoves(first, 1);

  await lose(first);
  const second = await wsServer.waitForConnection({ parse: parseMove });
  await expect(page.locator('#status')).toHaveText('connected');
  expect(await readPage(page)).toMatchObject({ status: 'open', session: false, connections: 2 });

  // No session: a new player, welcomed again; the moves go on numbered from
  // where they were (at most one, queued while away, comes first).
  await second.sendJson(welcome('s3c0nd', 0.2, 0.3));
  await expect(page.locator('#you')).toHaveText('#s3c0nd');
  const moves = await nextMoves(second, 3);
  expect(moves[0]!.seq).toBeGreaterThan(lastBefore!.seq);
  await second.sendJson(world([own('s3c0nd', moves[2]!)]));
  await expect(page.locator('#count')).toHaveText('1');
  expect((await readPage(page)).players.map((p) => p.id)).toEqual(['s3c0nd']);
}

test('a dropped connection (1006): the page reconnects and carries on', async ({
  page,
  wsServer,
}) => {
  const errors = collectErrors([page]);
  await reconnects(page, wsServer, async (peer) => {
    expect(await peer.drop()).toMatchObject({ code: 1006, cause: 'terminated' });
  });
  // Firefox logs the cut connection as a console error naming the URL.
  const endpoint = `${wsServer.url}updates`;
  expect(errors.filter((error) => !error.includes(endpoint))).toEqual([]);
});

test('a server restart (1012): the page reconnects and carries on', async ({ page, wsServer }) => {
  const errors = collectErrors([page]);
  await reconnects(page, wsServer, async (peer) => {
    await wsServer.restart();
    expect(peer.closed).toMatchObject({ code: 1012, cause: 'server-shutdown' });
  });
  const endpoint = `${wsServer.url}updates`;
  expect(errors.filter((error) => !error.includes(endpoint))).toEqual([]);
});
