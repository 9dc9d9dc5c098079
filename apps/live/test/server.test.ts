import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ReconnectingWebSocket, WebSocket } from '@proj/client';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

// The live demo's server, run as users run it (node server.mjs, PORT=0), and
// talked to with @proj/client's Node WebSocket (a plain player) and
// ReconnectingWebSocket with `session: true` (a player as the page is one):
// the protocol of README.md.

const appDir = fileURLToPath(new URL('..', import.meta.url));
const children: ChildProcess[] = [];
const sockets: Array<WebSocket | ReconnectingWebSocket> = [];
const relays: Relay[] = [];
/** Waits that span a reconnect: generous, for a loaded machine. */
const RECONNECT = { timeout: 15_000 };

interface Player {
  id: string;
  color: string;
  x: number;
  y: number;
  seq: number;
  t: number;
  held: number;
}
interface Welcome {
  type: 'welcome';
  id: string;
  color: string;
  x: number;
  y: number;
}
interface World {
  type: 'world';
  count: number;
  players: Player[];
}

beforeAll(() => {
  // The server serves dist/page.js; build it as `pnpm start` does.
  execFileSync(process.execPath, ['build.mjs'], { cwd: appDir, stdio: 'pipe' });
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await Promise.all(relays.splice(0).map((relay) => relay.close()));
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
});

/** Starts server.mjs on a free port; resolves with the URL it prints. */
async function startServer(): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['server.mjs'], {
    cwd: appDir,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', () => {
      const match = /live demo: open (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
  return { url, child, output: () => output };
}

/** A player: a WebSocket to /updates that records what it receives. */
async function join(url: string) {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}updates`);
  sockets.push(socket);
  const worlds: Array<{ at: number; world: World }> = [];
  let welcome: Welcome | undefined;
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(event.data as string) as Welcome | World;
    if (message.type === 'welcome') welcome = message;
    else worlds.push({ at: performance.now(), world: message });
  });
  await once(socket, 'open');
  await expect.poll(() => welcome).toBeDefined();
  let seq = 0;
  return {
    socket,
    welcome: welcome!,
    worlds,
    latest: () => worlds.at(-1)?.world,
    move(x: number, y: number, t = performance.now()) {
      seq++;
      socket.send(JSON.stringify({ type: 'move', x, y, seq, t }));
      return { seq, t };
    },
  };
}

/**
 * A player as the page is one: a ReconnectingWebSocket with a resumable
 * session, at `url` (the server, or a relay to it), retrying every 50-200 ms.
 */
async function joinSession(url: string) {
  const socket = new ReconnectingWebSocket(url, [], { session: true, minDelay: 50, maxDelay: 200 });
  sockets.push(socket);
  const welcomes: Welcome[] = [];
  const worlds: Array<{ connection: number; world: World }> = [];
  let connections = 0;
  let lost = 0;
  socket.addEventListener('open', () => connections++);
  socket.addEventListener('sessionlost', () => lost++);
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(event.data as string) as Welcome | World;
    if (message.type === 'welcome') welcomes.push(message);
    else worlds.push({ connection: connections, world: message });
  });
  await expect.poll(() => welcomes.length).toBe(1);
  let seq = 0;
  return {
    socket,
    welcome: welcomes[0]!,
    welcomes,
    worlds,
    connections: () => connections,
    lost: () => lost,
    move(x: number, y: number) {
      socket.send(JSON.stringify({ type: 'move', x, y, seq: ++seq, t: performance.now() }));
    },
  };
}

/** Where `world` shows the player `id`: `[x, y]` once per time it lists it. */
const placesOf = (world: World | undefined, id: string) =>
  (world?.players ?? []).filter((p) => p.id === id).map((p) => [p.x, p.y]);

/**
 * A TCP relay on 127.0.0.1:0 to `port`; `cut()` destroys the connections it
 * carries (a lost network, as the client and the server see it) and keeps
 * relaying new ones.
 */
class Relay {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(port: number): Promise<Relay> {
    const server = createServer();
    const relay = new Relay(server);
    server.on('connection', (client) => {
      const upstream = connect(port, '127.0.0.1');
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        relay.#sockets.add(from);
        from.pipe(to);
        from.on('error', () => {});
        from.on('close', () => {
          relay.#sockets.delete(from);
          to.destroy();
        });
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    relays.push(relay);
    return relay;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.#server.address() as AddressInfo).port}/updates`;
  }

  cut(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

describe('apps/live server', () => {
  it('serves the page, the bundle and the stylesheet with their content types', async () => {
    const { url } = await startServer();
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/page.js"></script>');
    expect(html).toContain('<link rel="stylesheet" href="/style.css" />');
    expect(html).toContain('<canvas id="field"');

    const bundle = await fetch(new URL('page.js', url));
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const code = await bundle.text();
    expect(code).toContain('/updates');
    expect(code).toContain('bufferedAmount');
    expect(code).not.toMatch(/from\s*["']node:|require\(/);

    const css = await fetch(new URL('style.css', url));
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');

    const map = await fetch(new URL('page.js.map', url));
    expect(map.headers.get('content-type')).toBe('application/json; charset=utf-8');

    expect((await fetch(new URL('nothing-here', url))).status).toBe(404);
    expect((await fetch(new URL('../server.mjs', url))).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
    const plain = await fetch(new URL('updates', url));
    expect(plain.status).toBe(426);
  });

  it('welcomes each player and broadcasts the world to everyone about 20 times a second', async () => {
    const { url, output } = await startServer();
    const a = await join(url);
    const b = await join(url);
    expect(a.welcome.id).not.toBe(b.welcome.id);
    expect(a.welcome.color).not.toBe(b.welcome.color);
    expect(a.welcome.x).toBeGreaterThanOrEqual(0);
    expect(a.welcome.x).toBeLessThanOrEqual(1);

    a.move(0.25, 0.75);
    b.move(0.8, 0.1);
    const positions = (world: World | undefined) =>
      Object.fromEntries((world?.players ?? []).map((p) => [p.id, [p.x, p.y]]));
    const expected = { [a.welcome.id]: [0.25, 0.75], [b.welcome.id]: [0.8, 0.1] };
    await expect.poll(() => positions(a.latest())).toEqual(expected);
    await expect.poll(() => positions(b.latest())).toEqual(expected);
    expect(a.latest()!.count).toBe(2);
    expect(b.latest()!.players.find((p) => p.id === a.welcome.id)!.color).toBe(a.welcome.color);

    // 20 ticks a second: count what each client got over one second.
    const start = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const end = performance.now();
    for (const client of [a, b]) {
      const ticks = client.worlds.filter(({ at }) => at >= start && at < end).length;
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThanOrEqual(30);
    }
    // One encoding per tick: both clients see the very same messages.
    const seenByA = new Set(a.worlds.map(({ world }) => JSON.stringify(world)));
    const shared = b.worlds.filter(({ world }) => seenByA.has(JSON.stringify(world)));
    expect(shared.length).toBeGreaterThan(b.worlds.length / 2);

    expect(a.welcome.id).toMatch(/^[0-9a-hjkmnp-tv-z]{6}$/);
    expect(output()).toContain(`#${a.welcome.id} connected from 127.0.0.1 (1 online)`);
    expect(output()).toContain(`#${b.welcome.id} connected from 127.0.0.1 (2 online)`);
  });

  it("echoes each player's last move, and how long it was held, for the page's RTT", async () => {
    const { url } = await startServer();
    const a = await join(url);
    a.move(0.1, 0.1, 1000.5);
    const last = a.move(0.2, 0.3, 1234.25);
    // An older move arriving late never replaces a newer one.
    a.socket.send(JSON.stringify({ type: 'move', x: 0.9, y: 0.9, seq: 1, t: 1 }));
    const own = () => a.latest()?.players.find((p) => p.id === a.welcome.id);
    await expect.poll(() => own()?.seq).toBe(last.seq);
    expect(own()).toMatchObject({ x: 0.2, y: 0.3, t: 1234.25 });
    expect(own()!.held).toBeGreaterThanOrEqual(0);
    expect(own()!.held).toBeLessThan(1000);
  });

  it('clamps positions, ignores malformed moves, refuses binary with 1003 and non-JSON with 1007', async () => {
    const { url } = await startServer();
    const a = await join(url);
    a.move(-5, 7);
    a.socket.send(JSON.stringify({ type: 'move', x: 'left', y: 0.5, seq: 99, t: 0 }));
    a.socket.send(JSON.stringify({ type: 'chat', text: 'unknown types are ignored' }));
    a.socket.send('[]');
    const own = () => a.latest()?.players.find((p) => p.id === a.welcome.id);
    await expect.poll(() => own()?.seq).toBe(1);
    expect(own()).toMatchObject({ x: 0, y: 1 });
    expect(a.socket.readyState).toBe(WebSocket.OPEN);

    const closed = once(a.socket, 'close') as Promise<[{ code: number }]>;
    a.socket.send(new Uint8Array([1, 2, 3]));
    expect((await closed)[0].code).toBe(1003);

    const b = await join(url);
    const closedB = once(b.socket, 'close') as Promise<[{ code: number }]>;
    b.socket.send('not json');
    expect((await closedB)[0].code).toBe(1007);
  });

  it('lets pages of its own origin in and refuses others with 403', async () => {
    const { url, output } = await startServer();
    const wsUrl = `${url.replace(/^http/, 'ws')}updates`;
    const own = new WebSocket(wsUrl, [], { origin: new URL(url).origin });
    sockets.push(own);
    await once(own, 'open');

    const foreign = new WebSocket(wsUrl, [], { origin: 'https://elsewhere.example' });
    sockets.push(foreign);
    const [error] = (await once(foreign, 'error')) as [{ error?: { status?: number } }];
    expect(error.error?.status).toBe(403);
    await expect.poll(() => output()).toMatch(/refused 127\.0\.0\.1 \/updates: 403/);
  });

  it('removes a player that closes from the next world state', async () => {
    const { url, output } = await startServer();
    const a = await join(url);
    const b = await join(url);
    await expect.poll(() => a.latest()?.count).toBe(2);
    b.socket.close(1000, 'bye');
    await once(b.socket, 'close');
    await expect.poll(() => a.latest()?.count).toBe(1);
    expect(a.latest()!.players.map((p) => p.id)).toEqual([a.welcome.id]);
    await expect.poll(() => output()).toContain(`#${b.welcome.id} closed 1000 bye (1 online)`);
  });

  it('drains on SIGTERM: every client closed with 1012, sessions suspended (not ended), exit 0', async () => {
    const { url, child, output } = await startServer();
    const a = await join(url);
    const b = await join(url);
    const s = await joinSession(`${url.replace(/^http/, 'ws')}updates`);
    const closes = [a, b].map((c) => once(c.socket, 'close') as Promise<[{ code: number }]>);
    const sessionClosed = new Promise<{ code: number; reason: string }>((resolve) =>
      s.socket.addEventListener('close', resolve, { once: true }),
    );
    const exited = once(child, 'exit') as Promise<[number | null]>;
    child.kill('SIGTERM');
    for (const closed of closes) expect((await closed)[0].code).toBe(1012);
    // The page is told to come back at once (to the next process); its
    // session was not ended: no `end`, so it goes on retrying.
    const closed = await sessionClosed;
    expect(closed).toMatchObject({ code: 1012, reason: 'retry-after=0' });
    expect(s.socket.readyState).toBe(ReconnectingWebSocket.CONNECTING);
    expect((await exited)[0]).toBe(0);
    expect(output()).toContain(`#${s.welcome.id} suspended 1012 retry-after=0`);
  });

  it("keeps a session's player (id, colour, position) across a lost connection, hidden while it is away", async () => {
    const { url, output } = await startServer();
    const relay = await Relay.start(Number(new URL(url).port));
    const observer = await join(url);
    const s = await joinSession(relay.url);
    const { id, color } = s.welcome;
    expect(id).toMatch(/^[0-9a-hjkmnp-tv-z]{6}$/);
    s.move(0.25, 0.75);
    await expect.poll(() => placesOf(observer.latest(), id)).toEqual([[0.25, 0.75]]);
    expect(observer.latest()!.players.find((p) => p.id === id)!.color).toBe(color);

    // The network drops: the session is suspended, its player leaves the world...
    relay.cut();
    await expect.poll(() => output(), RECONNECT).toMatch(new RegExp(`#${id} suspended \\d+`));
    const away = observer.worlds.length;
    await expect.poll(() => observer.latest()?.count, RECONNECT).toBe(1);
    expect(placesOf(observer.latest(), id)).toEqual([]);

    // ...and comes back with the resume: the same player where it was, at
    // once (nothing was sent after the drop), never twice, never renamed.
    await expect.poll(() => s.connections(), RECONNECT).toBe(2);
    await expect.poll(() => output()).toContain(`#${id} resumed from 127.0.0.1`);
    await expect.poll(() => placesOf(observer.latest(), id), RECONNECT).toEqual([[0.25, 0.75]]);
    const back = observer.worlds.slice(away).findIndex(({ world }) => world.count === 2);
    for (const { world } of observer.worlds.slice(away + back)) {
      expect(world.count).toBe(2);
      expect(placesOf(world, id)).toEqual([[0.25, 0.75]]);
    }
    await expect.poll(() => s.worlds.filter((w) => w.connection === 2).length).toBeGreaterThan(2);
    for (const { world } of s.worlds.filter((w) => w.connection === 2)) {
      expect(placesOf(world, id)).toEqual([[0.25, 0.75]]);
    }
    expect(s.welcomes).toHaveLength(1);
    expect(s.lost()).toBe(0);
    expect(output()).not.toMatch(new RegExp(`#${id} closed`));
    expect(output().match(new RegExp(`#${id} connected`, 'g'))).toHaveLength(1);

    // Moves go on from there.
    s.move(0.5, 0.5);
    await expect.poll(() => placesOf(observer.latest(), id)).toEqual([[0.5, 0.5]]);
  });

  it('serves plain WebSocket clients and sessions in one world; a session that ends leaves it', async () => {
    const { url, output } = await startServer();
    const plain = await join(url);
    const s = await joinSession(`${url.replace(/^http/, 'ws')}updates`);
    expect(s.socket.sessionId).not.toBeNull();
    expect(s.socket.protocol).toBe('');
    expect(plain.socket.protocol).toBe('');
    plain.move(0.1, 0.2);
    s.move(0.3, 0.4);
    const expected = { [plain.welcome.id]: [0.1, 0.2], [s.welcome.id]: [0.3, 0.4] };
    const positions = (world: World | undefined) =>
      Object.fromEntries((world?.players ?? []).map((p) => [p.id, [p.x, p.y]]));
    await expect.poll(() => positions(plain.latest())).toEqual(expected);
    await expect.poll(() => positions(s.worlds.at(-1)?.world)).toEqual(expected);

    // The session ends (the page's close(): `end`), and its player is gone at once.
    s.socket.close(1000, 'bye');
    await expect.poll(() => plain.latest()?.count).toBe(1);
    await expect
      .poll(() => output())
      .toContain(`#${s.welcome.id} closed 1000 bye, session-ended (1 online)`);
  });
});
