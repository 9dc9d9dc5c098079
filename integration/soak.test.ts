/**
 * Load and leaks, sized for CI: about 2,000 connections exchanging numbered
 * messages with one echo server for about 20 s, then closing.
 *
 * The soak runs in a child process, `node --expose-gc bench/soak.mjs
 * --source` (the same script as `pnpm soak`, on the TypeScript sources): its
 * heap is then the server's alone, measured after full collections, and the
 * load never competes with the test runner's own memory. The server is that
 * process; the raw clients run in a process of their own (see soak.mjs).
 * What must hold, from its JSON report:
 * - every connection opened, and closed cleanly (close frames both ways);
 * - zero messages lost, reordered (checked by each client on its echoes, and
 *   by the server on what each connection sent), or corrupted;
 * - afterwards, `clients` is empty, no connection object (ServerWebSocket,
 *   request, socket) is still reachable, the process has the same active
 *   handles (sockets, timers, ...) and the same listeners as at the baseline,
 *   and the heap is back to the baseline within 1 MiB (code compiled during
 *   the run included; the peak is tens of MiB above it).
 *
 * `SOAK_CONNECTIONS` and `SOAK_SECONDS` resize it. Every connection takes a
 * descriptor in the server process: when `ulimit -n` is too low (the hard
 * limit: Node raises its soft limit to it at startup), soak.mjs stops and
 * this test fails saying so. It never runs fewer connections than the test's
 * name says: the count is checked below.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CONNECTIONS = Number(process.env['SOAK_CONNECTIONS'] ?? 2000);
const SECONDS = Number(process.env['SOAK_SECONDS'] ?? 20);
const HEAP_TOLERANCE = 1024 * 1024;

interface SoakResult {
  connections: { requested: number; opened: number; failed: number; peak: number };
  messages: {
    sent: number;
    echoed: number;
    serverReceived: number;
    lost: number;
    reordered: number;
    serverReordered: number;
    corrupted: number;
    protocolErrors: number;
  };
  close: { clean: number; unclean: number; serverClientsLeft: number };
  memory: { heapBefore: number; heapPeak: number; heapAfter: number; heapGrowth: number };
  leaks: {
    objectsAlive: number;
    resources: Record<string, [number, number]>;
    listeners: Record<string, [number, number]>;
    timersBefore: number;
    timersAfter: number;
    socketsAfter: number;
  };
}

function runSoak(): Promise<{ result: SoakResult; log: string }> {
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      'bench/soak.mjs',
      '--source',
      '--json',
      '--connections',
      String(CONNECTIONS),
      '--seconds',
      String(SECONDS),
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      try {
        resolve({ result: JSON.parse(line) as SoakResult, log: stderr });
      } catch {
        reject(new Error(`soak.mjs exited with ${code} and no result:\n${stderr}\n${stdout}`));
      }
    });
  });
}

test(
  `${CONNECTIONS} connections for ${SECONDS} s: nothing lost or reordered, then memory, sockets, timers and listeners back to baseline`,
  async () => {
    const { result, log } = await runSoak();
    // The human-readable summary, for the CI log.
    console.log(log.trim());
    const { connections, messages, close, memory, leaks } = result;
    // As many connections as the name says, every one of them opened.
    const expected = CONNECTIONS;
    expect(connections.requested).toBe(expected);
    expect(connections.opened).toBe(expected);
    expect(connections.failed).toBe(0);
    expect(connections.peak).toBe(expected);

    // Traffic: every message came back, in order, intact.
    expect(messages.sent).toBeGreaterThan(expected * SECONDS);
    expect(messages.echoed).toBe(messages.sent);
    expect(messages.serverReceived).toBe(messages.sent);
    expect(messages.lost).toBe(0);
    expect(messages.reordered).toBe(0);
    expect(messages.serverReordered).toBe(0);
    expect(messages.corrupted).toBe(0);
    expect(messages.protocolErrors).toBe(0);

    // Closing: a clean closing handshake each, and nothing left behind.
    expect(close.clean).toBe(expected);
    expect(close.serverClientsLeft).toBe(0);
    expect(leaks.objectsAlive).toBe(0);
    expect(leaks.socketsAfter).toBe(0);
    expect(leaks.timersAfter).toBe(leaks.timersBefore);
    expect(leaks.resources).toEqual({});
    expect(leaks.listeners).toEqual({});
    expect(memory.heapPeak - memory.heapBefore).toBeGreaterThan(memory.heapGrowth);
    expect(memory.heapGrowth).toBeLessThanOrEqual(HEAP_TOLERANCE);
  },
  SECONDS * 1000 + 120_000,
);
