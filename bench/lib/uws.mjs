// uWebSockets.js, the second reference of the echo, latency and memory
// benchmarks (issue 21), from @trufflesuite/uws-js-unofficial 20.30 (the newer
// builds need glibc 2.38; ../shared/TOOLCHAIN.md). It is an optional
// dependency of bench/: where it is not installed, or its binary does not load
// on this platform or Node ABI, the benchmarks leave the column out and say why.
//
// The package's own entry point (src/uws.js) silently falls back to a pure
// JavaScript implementation over `ws` when its binary does not load (or when
// UWS_USE_FALLBACK is set), which would put a second `ws` in a column named
// uWebSockets.js. So the binary is required directly, and nothing else.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const PACKAGE = '@trufflesuite/uws-js-unofficial';

/**
 * Loads uWebSockets.js's native binary for this platform and Node ABI.
 * @returns `{ uws, version }` where it loads, else `{ uws: null, reason }`, `reason` saying why
 *   in words fit for a results note.
 */
export function loadUws() {
  // For runs without it, and to try the benchmarks' path where it does not load.
  if (process.env.BENCH_NO_UWS === '1') return { uws: null, reason: 'BENCH_NO_UWS=1 is set' };
  let root;
  try {
    root = dirname(require.resolve(`${PACKAGE}/package.json`));
  } catch {
    return { uws: null, reason: `${PACKAGE} is not installed (an optional dependency of bench/)` };
  }
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const binary = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  try {
    return { uws: require(join(root, 'binaries', binary)), version };
  } catch (error) {
    const first = String(error.message).split('\n')[0];
    return {
      uws: null,
      reason: `${PACKAGE} ${version} has no loadable binary ${binary} here (${first})`,
    };
  }
}

let cached;
/**
 * Whether uWebSockets.js loads here, without loading it into this process: the check runs
 * loadUws() in a child process (once per process), so that no benchmark that measures in its
 * own process carries the addon. Only echo/servers.mjs loads it for real.
 * @returns `{ loads: true, version }` or `{ loads: false, reason }`.
 */
export function uwsStatus() {
  if (cached) return cached;
  const script =
    `import(${JSON.stringify(import.meta.url)}).then(({ loadUws }) => {` +
    'const { uws, version, reason } = loadUws();' +
    'console.log(JSON.stringify({ loads: !!uws, version, reason }));' +
    '});';
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  try {
    cached = JSON.parse(child.stdout.trim().split('\n').pop());
  } catch {
    cached = {
      loads: false,
      reason: `the check failed (${child.error?.message ?? child.stderr.trim()})`,
    };
  }
  return cached;
}
