// Two echo servers on one core at the same time: an A/B comparison that the
// host's changing speed does not move.
//
// Both servers are pinned to core 0 and both copies of gen/echo.c to core 1,
// started together: the kernel's scheduler splits core 0 between the two
// servers, so the ratio of their echo rates is the ratio of their CPU cost
// per message, measured over the same seconds. On a shared machine whose
// speed swings by 1.5× between minutes (this one, see RESULTS.md), alternating
// runs need dozens of pairs to see a 3% change; this sees it in a few rounds
// (A against itself: within ±4% a round). It is a tool for A/B decisions,
// not a replacement for the Echo section: the two processes share the core's
// caches, and neither has a core of its own.
//
//   node duel.mjs [options] <A> <B>
//
// A and B: a server kind of echo/servers.mjs (ours, ours-lent, uws, ws, raw),
// or build:<dir>, a build of ours saved with `node duel.mjs --save <dir>` (the
// built dist of @proj/server and @proj/protocol, copied), run as the kind
// "ours" or, with build:<dir>#<kind>, as another kind of ours (ours-lent).
//
//   --size <bytes>        payload size (default 1024)
//   --connections <n>     connections per server (default 100)
//   --inflight <n>        messages in flight per connection (default 16)
//   --seconds <s>         length of a round (default 3)
//   --rounds <n>          rounds, a new pair of servers each (default 6)
//   --save <dir>          save the current build of ours as <dir> and exit
//
// Prints each round's rates and B/A, then the median and range of B/A. The
// rate ratio is the ratio of CPU cost only while core 0 is the limit: at
// 64 KiB and above the two generators can fill core 1 first, and then the
// rates say how the generators shared their core. So each round also gives
// each server's CPU time per message (from /proc, over the generators'
// measured window) and both cores' load, and the summary the median of
// A's CPU per message over B's (above 1: B costs less), with a note when
// core 0 was not full or core 1 was.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { hasTaskset, nativeGenerator, runGenerator, withWindowMicros } from './lib/harness.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const PACKAGES = path.join(BENCH, '..', 'packages');
/** The packages a saved build holds: the server bundles the transport; the protocol is its own. */
const SAVED = ['server', 'protocol'];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    size: { type: 'string', default: '1024' },
    connections: { type: 'string', default: '100' },
    inflight: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '6' },
    save: { type: 'string' },
  },
});

if (values.save !== undefined) {
  for (const name of SAVED) {
    cpSync(path.join(PACKAGES, name, 'dist'), path.join(values.save, name), { recursive: true });
  }
  console.log(`Saved the build of @proj/server and @proj/protocol in ${values.save}`);
  process.exit(0);
}

const numbers = Object.fromEntries(
  ['size', 'connections', 'inflight', 'seconds', 'rounds'].map((name) => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value <= 0) {
      console.error(`--${name} must be a positive integer, got ${values[name]}`);
      process.exit(2);
    }
    return [name, value];
  }),
);
if (positionals.length !== 2) {
  console.error('usage: node duel.mjs [options] <A> <B> (a server kind, or build:<dir>)');
  process.exit(2);
}
if (!hasTaskset) {
  console.error('duel.mjs needs taskset (util-linux) to pin both servers to one core');
  process.exit(2);
}
const generator = nativeGenerator('echo', 'the Node generator cannot keep up with two servers');
if (generator === null) process.exit(2);

/**
 * Where to run a contender from: the bench itself for a server kind, or a
 * private tree whose node_modules resolve @proj/server and @proj/protocol to
 * the saved build (everything else to the workspace's own packages).
 */
function prepare(spec) {
  if (!spec.startsWith('build:')) return { cwd: BENCH, kind: spec, label: spec };
  const [dir, kind = 'ours'] = spec.slice('build:'.length).split('#');
  const saved = path.resolve(dir);
  const tree = mkdtempSync(path.join(os.tmpdir(), 'proj-duel-'));
  for (const dir of ['echo', 'gen', 'lib']) {
    cpSync(path.join(BENCH, dir), path.join(tree, dir), { recursive: true });
  }
  const modules = path.join(tree, 'node_modules');
  mkdirSync(path.join(modules, '@proj'), { recursive: true });
  for (const name of SAVED) {
    const target = path.join(modules, '@proj', name);
    cpSync(path.join(PACKAGES, name, 'package.json'), path.join(target, 'package.json'));
    cpSync(path.join(saved, name), path.join(target, 'dist'), { recursive: true });
  }
  // The rest as the bench and the server see them.
  for (const from of [
    path.join(PACKAGES, 'server', 'node_modules'),
    path.join(BENCH, 'node_modules'),
  ]) {
    for (const entry of readdirSync(from)) {
      if (entry.startsWith('.')) continue;
      if (entry === '@proj') {
        for (const scoped of readdirSync(path.join(from, entry))) {
          const link = path.join(modules, '@proj', scoped);
          try {
            symlinkSync(path.join(from, entry, scoped), link);
          } catch {
            // Already there: the saved build, or the server's copy first.
          }
        }
        continue;
      }
      try {
        symlinkSync(path.join(from, entry), path.join(modules, entry));
      } catch {
        // Already linked from the first directory.
      }
    }
  }
  return { cwd: tree, kind, label: spec, cleanup: () => rmSync(tree, { recursive: true }) };
}

/** Starts one echo server on core 0; resolves with its process and port. */
function startServer({ cwd, kind }) {
  const child = spawn('taskset', ['-c', '0', process.execPath, 'echo/servers.mjs', kind, '0'], {
    cwd,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const ready = /READY (\d+)/.exec(output);
      if (ready) resolve({ child, port: Number(ready[1]) });
    });
    child.once('exit', (code) => reject(new Error(`the ${kind} server exited with ${code}`)));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Core 0 counts as full (the servers the limit) from this sum of their CPU shares. */
const SERVER_CORE_FULL = 0.9;
/** Core 1 counts as full (the generators the limit) from this sum of their CPU shares. */
const GENERATOR_CORE_FULL = 0.9;

const percent = (share) => `${Math.round(share * 100)}%`;

const median = (sorted) =>
  sorted.length % 2
    ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;

const [a, b] = positionals.map(prepare);
const { size, connections, inflight, seconds, rounds } = numbers;
console.log(
  `${size} B, ${connections} connections × ${inflight} in flight, ${rounds} rounds of ${seconds} s: ` +
    `A = ${a.label}, B = ${b.label}, both servers on core 0, both generators on core 1`,
);
const ratios = [];
const cpuRatios = [];
/** Rounds where core 0 was not full (the servers' CPU shares summed) or core 1 was (the generators'). */
let notServerBound = 0;
try {
  for (let round = 1; round <= rounds; round++) {
    const servers = await Promise.all([startServer(a), startServer(b)]);
    try {
      const [resultA, resultB] = await Promise.all(
        servers.map(({ child, port }) =>
          withWindowMicros(child.pid, () =>
            runGenerator(generator, [port, connections, inflight, size, seconds]),
          ),
        ),
      );
      const [perA, perB] = [resultA.serverMicros, resultB.serverMicros];
      const cpu = [resultA, resultB].map((result) => (result.serverMicros * result.rate) / 1e6);
      const ratio = resultB.rate / resultA.rate;
      ratios.push(ratio);
      const core0 = cpu[0] + cpu[1];
      const core1 = resultA.cpu + resultB.cpu;
      const serverBound = core0 >= SERVER_CORE_FULL && core1 < GENERATOR_CORE_FULL;
      if (!serverBound) notServerBound++;
      if (Number.isFinite(perA / perB)) cpuRatios.push(perA / perB);
      console.log(
        `round ${round}: A ${Math.round(resultA.rate)} msg/s, B ${Math.round(resultB.rate)} msg/s, B/A ${ratio.toFixed(3)}; ` +
          `CPU/msg A ${perA.toFixed(2)} µs, B ${perB.toFixed(2)} µs, A/B ${(perA / perB).toFixed(3)}; ` +
          `core 0 ${percent(core0)} (A ${percent(cpu[0])}, B ${percent(cpu[1])}), core 1 ${percent(core1)}` +
          (serverBound ? '' : ' (not server-bound)'),
      );
    } finally {
      await Promise.all(servers.map(({ child }) => stop(child)));
    }
  }
} finally {
  a.cleanup?.();
  b.cleanup?.();
}
ratios.sort((x, y) => x - y);
console.log(
  `B/A median ${median(ratios).toFixed(3)}, range ${ratios[0].toFixed(3)}–${ratios.at(-1).toFixed(3)}`,
);
if (cpuRatios.length > 0) {
  cpuRatios.sort((x, y) => x - y);
  console.log(
    `CPU per message A/B median ${median(cpuRatios).toFixed(3)}, range ` +
      `${cpuRatios[0].toFixed(3)}–${cpuRatios.at(-1).toFixed(3)} (above 1: B costs less)`,
  );
}
if (notServerBound > 0) {
  console.log(
    `${notServerBound} of ${rounds} rounds not server-bound (core 0 under ${percent(SERVER_CORE_FULL)} ` +
      `or core 1 at ${percent(GENERATOR_CORE_FULL)} or more): their B/A is how the generators shared ` +
      'core 1, not what the servers cost; read the CPU per message.',
  );
}
