// Shared by the benchmarks that run servers and load generators as separate
// processes: core pinning, the implementations compared, line-based control
// of child processes, and CPU accounting from /proc.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { uwsStatus } from './uws.mjs';

const require = createRequire(import.meta.url);

/** Absolute path of a file in bench/. */
export const benchFile = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));

export const FULL = process.env.BENCH_FULL === '1';
/** `BENCH_RUNS` overrides every script's number of alternated runs (at least 5 by default). */
export const runsOr = (fallback) => Number(process.env.BENCH_RUNS ?? fallback);

export const hasTaskset =
  spawnSync('taskset', ['-c', '0', 'true']).status === 0 && os.cpus().length >= 2;

/** [command, args] running `command args` pinned to `core` when taskset is available. */
export const pinned = (core, command, args) =>
  hasTaskset ? ['taskset', ['-c', core, command, ...args]] : [command, args];

export const pinningNote = hasTaskset
  ? 'Servers pinned to core 0, clients and load generators to core 1'
  : 'Not pinned (taskset unavailable or a single core)';

/** Whether ws finds its optional native addons. */
export const addons = (() => {
  try {
    createRequire(require.resolve('ws')).resolve('bufferutil');
    return true;
  } catch {
    return false;
  }
})();

/** ws without its native addons, even where they are installed. */
export const PLAIN_WS = { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' };

/** The servers of echo/servers.mjs, named as in the tables. */
export const SERVERS = {
  ours: { name: 'ours', kind: 'ours', env: {} },
  // Ours with `lendMessages: true`: each message lent to its listener, not copied (issue 21).
  oursLent: { name: 'ours lent', kind: 'ours-lent', env: {} },
  // Ours with every connection subscribed to one topic; BROADCAST publishes to it.
  oursPublish: { name: 'ours publish', kind: 'ours-pubsub', env: {} },
  ws: { name: 'ws', kind: 'ws', env: PLAIN_WS },
  wsAddons: { name: 'ws+addons', kind: 'ws', env: {} },
  raw: { name: 'raw net', kind: 'raw', env: {} },
  uws: { name: 'uWS', kind: 'uws', env: {} },
};

/** ws as every table compares it: plain, and with its native addons where they are installed. */
export const WS_SERVERS = [SERVERS.ws, ...(addons ? [SERVERS.wsAddons] : [])];

/**
 * uWebSockets.js as the benchmarks compare it (issue 21): `[SERVERS.uws]` where its binary loads
 * here, else `[]`. Checked on first call only (a child process does the loading; see uwsStatus),
 * so that scripts that never compare with uWS pay nothing.
 */
export const uwsServers = () => (uwsStatus().loads ? [SERVERS.uws] : []);

/** Why uWebSockets.js is missing from a run, for its notes; null where it is there. */
export const uwsNote = () =>
  uwsStatus().loads ? null : `uWebSockets.js not measured: ${uwsStatus().reason}.`;

/** How long each measured run lasts, in seconds: BENCH_SECONDS, else `fallback`. */
export const secondsOr = (fallback) => Number(process.env.BENCH_SECONDS ?? fallback);

/** The fields of /proc/<pid>/stat after "pid (comm) " (state is [0]), or null where unreadable. */
function procStat(pid) {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  } catch {
    return null;
  }
}

/** CPU seconds a process has used, from /proc (Linux); NaN elsewhere. */
export function cpuSeconds(pid) {
  const fields = procStat(pid);
  // utime + stime, in clock ticks (USER_HZ, 100 on Linux).
  return fields ? (Number(fields[11]) + Number(fields[12])) / 100 : NaN;
}

/** Minor page faults a process has taken, from /proc (Linux); NaN elsewhere. */
export function minorFaults(pid) {
  const fields = procStat(pid);
  return fields ? Number(fields[7]) : NaN;
}

/**
 * Starts `node [nodeArgs] script args` pinned to `core`, stdin and stdout piped: commands go in
 * one per line, answers come back one per line. `next(prefix)` resolves with the rest of the next
 * line starting with `prefix` (lines wait in a queue until asked for).
 */
export function spawnControlled(core, script, args, { env = {}, nodeArgs = [] } = {}) {
  return controlled(core, process.execPath, [...nodeArgs, script, ...args], {
    env,
    label: [script, ...args].join(' '),
  });
}

/**
 * spawnControlled for any executable (`executable args`, e.g. a compiled gen/*.c): the same
 * piping and line protocol; `label` names it in errors.
 */
function controlled(core, executable, args, { env = {}, label }) {
  const [command, argv] = pinned(core, executable, args);
  const child = spawn(command, argv, {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const queue = [];
  const waiters = [];
  let exited = null;
  let pending = '';
  const deliver = () => {
    for (let w = 0; w < waiters.length; w++) {
      const index = queue.findIndex((line) => line.startsWith(waiters[w].prefix));
      if (index === -1) continue;
      const [line] = queue.splice(index, 1);
      const [waiter] = waiters.splice(w--, 1);
      clearTimeout(waiter.timer);
      waiter.resolve(line.slice(waiter.prefix.length).trim());
    }
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    pending += chunk;
    let end;
    while ((end = pending.indexOf('\n')) !== -1) {
      queue.push(pending.slice(0, end));
      pending = pending.slice(end + 1);
    }
    deliver();
  });
  child.stdin.on('error', () => {});
  const done = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exited = new Error(`${label} exited (${code ?? signal})`);
      for (const waiter of waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(exited);
      }
      resolve();
    });
  });
  const next = (prefix, timeoutMs = 120_000) =>
    new Promise((resolve, reject) => {
      if (exited) return reject(exited);
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`no "${prefix}" from ${label} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = { prefix, resolve, reject, timer };
      waiters.push(waiter);
      deliver();
    });
  const send = (line) => child.stdin.write(`${line}\n`);
  return {
    child,
    next,
    send,
    ask: (line, prefix = line.split(' ')[0], timeoutMs) => {
      const answer = next(prefix, timeoutMs);
      send(line);
      return answer;
    },
    stop: () => {
      if (!exited) child.kill('SIGTERM');
      return done;
    },
  };
}

/**
 * Starts a server on core 0, any free port; resolves once it listens. An echo/servers.mjs server,
 * or the executable `implementation.binary` (as from cFloor(), run as `binary 0`; `gc` does not
 * apply: it has no collector).
 */
export async function startServer(implementation, { gc = false } = {}) {
  const process_ = implementation.binary
    ? controlled('0', implementation.binary, ['0'], {
        env: implementation.env,
        label: `${implementation.name} (${implementation.binary})`,
      })
    : spawnControlled('0', benchFile('echo/servers.mjs'), [implementation.kind, '0'], {
        env: implementation.env,
        nodeArgs: gc ? ['--expose-gc'] : [],
      });
  const port = Number(await process_.next('READY', 30_000));
  return { ...implementation, ...process_, port };
}

/**
 * The C floor of the broadcast benchmark: gen/broadcaster.c, a native server with the control
 * channel of echo/servers.mjs that writes a frame built once to every socket, one write(2) each,
 * with no WebSocket layer; what one write per socket costs on this machine, in any language.
 * Compiled on first call (nativeGenerator).
 * @returns an entry like those of SERVERS, for startServer, or null where it cannot be compiled
 *   (callers then leave the column out).
 */
export function cFloor() {
  const binary = nativeGenerator('broadcaster', 'leaving out the C floor');
  return binary && { name: 'C floor', kind: 'c', env: {}, binary };
}

/**
 * Compiles the C generator `gen/<name>.c` (and the gen/raw.h it includes) with
 * the system's C compiler (`cc`, or `$CC`; `-O2`) into the temporary
 * directory, once per version of its sources.
 * @param fallback what the caller does without it, for the warning.
 * @returns the executable's path, or null where no compiler is found (or it
 *   fails): callers then fall back to their Node generator (or go without).
 */
export function nativeGenerator(name, fallback = 'using the Node generator') {
  const source = benchFile(`gen/${name}.c`);
  // The shared header is part of every generator's version.
  const digest = createHash('sha256')
    .update(readFileSync(source))
    .update(readFileSync(benchFile('gen/raw.h')))
    .digest('hex')
    .slice(0, 12);
  const binary = `${os.tmpdir()}/proj-bench-${name}-${digest}`;
  if (existsSync(binary)) return binary;
  const result = spawnSync(process.env.CC ?? 'cc', ['-O2', '-o', binary, source], {
    encoding: 'utf8',
  });
  if (result.status === 0) return binary;
  console.warn(
    `Could not compile gen/${name}.c (${result.error?.message ?? result.stderr}); ${fallback}`,
  );
  return null;
}

/**
 * Runs a generator to completion on core 1 and parses the JSON line it prints last:
 * `script` is a bench-relative .mjs file, or the path of a native executable.
 */
export function runGenerator(script, args, env = {}) {
  const argList = args.map(String);
  const [command, argv] = script.endsWith('.mjs')
    ? pinned('1', process.execPath, [benchFile(script), ...argList])
    : pinned('1', script, argList);
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    // 'close', not 'exit': the last of stdout can still be in the pipe at
    // 'exit' (seen once in about 30 two-server rounds, as a JSON parse error).
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`${script} failed (${code}): ${err}`));
      resolve(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

/** A client generator (`script`, bench-relative) on core 1, driven like spawnControlled's. */
export const spawnClients = (script, args) => spawnControlled('1', benchFile(script), args);

/**
 * A server of `implementation` that can run a full GC on demand, and gen/clients.mjs (idle raw
 * clients, driven by OPEN / ARM / RESET) for it, with no connection open yet.
 */
export async function startWithIdleClients(implementation) {
  const server = await startServer(implementation, { gc: true });
  return { server, clients: spawnClients('gen/clients.mjs', [server.port]) };
}

/** Polls a server of echo/servers.mjs until it tracks `count` connections. */
export async function waitForClients(server, count, timeoutMs = 30_000) {
  for (let waited = 0; waited < timeoutMs; waited += 20) {
    if (Number(await server.ask('CLIENTS')) === count) return;
    await sleep(20);
  }
  throw new Error(`${server.name} server never reached ${count} connections`);
}

/**
 * Runs `work()` (a generator run) and returns its result with `serverCpu`: the CPU seconds the
 * process `pid` used meanwhile over `seconds`, the generator's busy time (warm-up + window), i.e.
 * the share of its core.
 */
export async function withServerCpu(pid, seconds, work) {
  const before = cpuSeconds(pid);
  const result = await work();
  return { ...result, serverCpu: (cpuSeconds(pid) - before) / seconds };
}

/**
 * Runs `work()` (a generator run) and returns its result with `serverMicros`: the CPU time the
 * process `pid` used meanwhile, in µs per message (or cycle) of the result's `total`.
 */
export async function withServerMicros(pid, work) {
  const before = cpuSeconds(pid);
  const result = await work();
  return { ...result, serverMicros: ((cpuSeconds(pid) - before) / result.total) * 1e6 };
}

/**
 * Like {@link withServerMicros}, for a generator that reports the `seconds` of its measured window
 * and its `rate` there: the server's CPU time per message over that window only, leaving out the
 * connections' opening and the warm-up, where a new process also compiles its code, and its minor
 * page faults per message (`serverFaults`: a process whose allocator gives memory back to the
 * kernel and faults it in again shows there). Both are sampled every 50 ms; the window is taken to
 * end when `work` does.
 */
export async function withWindowMicros(pid, work) {
  const samples = [];
  const sample = () => samples.push([performance.now(), cpuSeconds(pid), minorFaults(pid)]);
  sample();
  const timer = setInterval(sample, 50);
  let result;
  try {
    result = await work();
  } finally {
    clearInterval(timer);
  }
  sample();
  const [endTime, endCpu, endFaults] = samples.at(-1);
  const windowStart = endTime - result.seconds * 1000;
  // The last sample taken at or before the window began.
  let start = samples[0];
  for (const entry of samples) {
    if (entry[0] > windowStart) break;
    start = entry;
  }
  const messages = result.rate * ((endTime - start[0]) / 1000);
  return {
    ...result,
    serverMicros: ((endCpu - start[1]) / messages) * 1e6,
    serverFaults: (endFaults - start[2]) / messages,
  };
}

/** The orders of alternated runs: A B C, C B A, A B C... */
export const alternate = (items, run) => (run % 2 === 0 ? items : [...items].reverse());

/**
 * `runs` alternated rounds of `measure(item)` over `items` (each with a `name`): the samples of
 * each item, by name, in the order they were taken.
 */
export async function alternatedRuns(items, runs, measure) {
  const samples = new Map(items.map((item) => [item.name, []]));
  for (let run = 0; run < runs; run++) {
    for (const item of alternate(items, run)) samples.get(item.name).push(await measure(item));
  }
  return samples;
}

/** Starts every server of `implementations`, one after the other (each on its own port). */
export async function startServers(implementations) {
  const servers = [];
  for (const implementation of implementations) servers.push(await startServer(implementation));
  return servers;
}

export const stopServers = (servers) => Promise.all(servers.map((server) => server.stop()));

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
