/**
 * Drives apps/live from Playwright specs: builds its page bundle, starts
 * `node apps/live/server.mjs` on a free port (as many as a test needs), and
 * reads the page's documented test hooks (`window.liveState`).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Page, TestInfo } from '@playwright/test';

const liveDir = fileURLToPath(new URL('../apps/live/', import.meta.url));
/** Servers started and not yet stopped. */
const children: ChildProcess[] = [];
/** What each server started by this test printed, for a failed test's report. */
const logs: Array<() => string> = [];

/** One player of a world state, as a spec reads it. */
export interface LivePlayer {
  id: string;
  x: number;
  y: number;
}

/** What a spec reads of `window.liveState`. */
export interface LiveView {
  status: string;
  id: string | null;
  count: number;
  rtt: number | null;
  received: number;
  sentPerSecond: number;
  connections: number;
  session: boolean;
  sessionsLost: number;
  mode: string;
  position: { x: number; y: number };
  players: LivePlayer[];
}

/** A world state the page received (its `liveworld` event). */
export interface LiveWorld {
  count: number;
  players: LivePlayer[];
}

/** A running apps/live server. */
export interface LiveServer {
  child: ChildProcess;
  url: string;
  log: () => string;
}

/** Builds the bundle the server serves (what `pnpm --dir apps/live start` does first). */
export function buildLivePage(): void {
  execFileSync(process.execPath, ['build.mjs'], { cwd: liveDir, stdio: 'pipe' });
}

/**
 * Starts a server on 127.0.0.1:0 with `env` added, and resolves with its URL
 * once it printed it and `ready(log)` holds (e.g. Redis connected).
 */
export async function startLiveServer(
  env: Record<string, string> = {},
  ready: (log: string) => boolean = () => true,
): Promise<LiveServer> {
  const child = spawn(process.execPath, ['server.mjs'], {
    cwd: liveDir,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let log = '';
  logs.push(() => log);
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (log += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (log += text));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 10_000);
    child.stdout!.on('data', () => {
      const match = /live demo: open (http:\/\/\S+)/.exec(log);
      if (match && ready(log)) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${log}`)));
  });
  return { child, url, log: () => log };
}

/**
 * Stops every server still running; call from `test.afterEach`, so a failed
 * test cleans up too. Given the test's info, a failed test gets what each
 * server printed as an attachment.
 */
export async function stopLiveServers(testInfo?: TestInfo): Promise<void> {
  const printed = logs.splice(0).map((log) => log());
  if (testInfo && testInfo.status !== testInfo.expectedStatus) {
    for (const [index, log] of printed.entries())
      await testInfo.attach(`server ${index + 1} log`, { body: log, contentType: 'text/plain' });
  }
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
}

/** The page's state, as plain values (a Map does not cross `page.evaluate`). */
export function readLiveState(page: Page): Promise<LiveView> {
  return page.evaluate(() => {
    const state = (window as unknown as { liveState: LiveView & { players: Map<number, never> } })
      .liveState;
    return {
      status: state.status,
      id: state.id,
      count: state.count,
      rtt: state.rtt,
      received: state.received,
      sentPerSecond: state.sentPerSecond,
      connections: state.connections,
      session: state.session,
      sessionsLost: state.sessionsLost,
      mode: state.mode,
      position: { ...state.position },
      players: [...state.players.values()].map(({ id, x, y }) => ({ id, x, y })),
    };
  });
}

/**
 * Starts recording every world state `page` receives (its `liveworld`
 * events), from now on; {@link recordedWorlds} reads them.
 */
export function recordWorlds(page: Page): Promise<void> {
  return page.evaluate(() => {
    const worlds: LiveWorld[] = [];
    (window as unknown as { recordedWorlds: LiveWorld[] }).recordedWorlds = worlds;
    window.addEventListener('liveworld', (event) => {
      const { count, players } = (event as CustomEvent<LiveWorld>).detail;
      worlds.push({ count, players: players.map(({ id, x, y }) => ({ id, x, y })) });
    });
  });
}

/** The world states `page` received since {@link recordWorlds}, oldest first. */
export function recordedWorlds(page: Page): Promise<LiveWorld[]> {
  return page.evaluate(() => (window as unknown as { recordedWorlds: LiveWorld[] }).recordedWorlds);
}

/** Where `page` sees player `id`, or undefined when it does not see it. */
export async function positionOf(page: Page, id: string): Promise<string | undefined> {
  const player = (await readLiveState(page)).players.find((p) => p.id === id);
  return player && `${player.x},${player.y}`;
}

/** Collects page errors and console errors of `pages` into the returned array. */
export function collectErrors(pages: readonly Page[]): string[] {
  const errors: string[] = [];
  for (const page of pages) {
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
  }
  return errors;
}
