// The one test command (`pnpm test`, run by .ci/run). Why a script and not a
// `&&` chain: CI reads only the final `N passed, N failed` line, so every step
// must run even after an earlier one fails, and the count must combine vitest's
// per-test results with the pass/fail of each tooling check (build, lint,
// typecheck, package shape). Vitest tests count one each; every other step
// counts as one check.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const env = {
  ...process.env,
  PATH: `${join(root, 'node_modules', '.bin')}${delimiter}${process.env.PATH}`,
  TURBO_TELEMETRY_DISABLED: '1',
  DO_NOT_TRACK: '1',
};
const results = { passed: 0, failed: 0, failedSteps: [] };

function run(cmd, args) {
  console.log(`\n> ${[cmd, ...args].join(' ')}`);
  const { status, error } = spawnSync(cmd, args, { cwd: root, env, stdio: 'inherit' });
  if (error) console.error(error.message);
  return status === 0;
}

function check(label, cmd, args) {
  if (run(cmd, args)) results.passed += 1;
  else {
    results.failed += 1;
    results.failedSteps.push(label);
  }
}

// (a)–(d) tooling checks; turbo caches them, so a green rerun is cheap.
check('build', 'turbo', ['run', 'build']);
check('eslint', 'eslint', ['.']);
check('prettier', 'prettier', ['--check', '.']);
check('typecheck', 'turbo', ['run', 'typecheck']);
check('check:package', 'turbo', ['run', 'check:package']);
// The layer boundaries of docs/architecture.md: no import cycles, no frame bits read outside the protocol.
check('imports', 'node', ['scripts/check-imports.mjs']);

// (e) unit tests with coverage thresholds; the JSON report gives the per-test counts.
const report = join(root, '.vitest-results.json');
rmSync(report, { force: true });
const vitestOk = run('vitest', ['run', '--coverage']);
let tests = { numPassedTests: 0, numFailedTests: 0 };
if (existsSync(report)) tests = JSON.parse(readFileSync(report, 'utf8'));
results.passed += tests.numPassedTests;
results.failed += tests.numFailedTests;
if (tests.numFailedTests > 0) results.failedSteps.push(`vitest (${tests.numFailedTests} tests)`);
if (!vitestOk && tests.numFailedTests === 0) {
  // Every test passed (or none ran) yet vitest failed: coverage below the
  // thresholds, no test files, or a crash. Count it as one failed check.
  results.failed += 1;
  results.failedSteps.push('vitest (coverage/setup)');
}

// (f) e2e: Playwright in Chromium and Firefox (turbo builds the packages first).
// Each Playwright test counts one, from its JSON report: stats.expected passed,
// stats.unexpected + stats.flaky failed (retries are off, so flaky means a
// test that failed once). A run that failed outside any test (browsers
// missing, global setup, a crash, no report) counts as one failed check.
const e2eReport = join(root, 'e2e', 'test-results', 'results.json');
rmSync(e2eReport, { force: true });
const e2eOk = run('turbo', ['run', 'e2e']);
let e2e = null;
if (existsSync(e2eReport)) {
  try {
    e2e = JSON.parse(readFileSync(e2eReport, 'utf8'));
  } catch (error) {
    console.error(`Unreadable ${e2eReport}: ${error.message}`);
  }
}
const e2ePassed = e2e?.stats?.expected ?? 0;
const e2eFailed = (e2e?.stats?.unexpected ?? 0) + (e2e?.stats?.flaky ?? 0);
results.passed += e2ePassed;
results.failed += e2eFailed;
if (e2eFailed > 0) results.failedSteps.push(`e2e (${e2eFailed} tests)`);
if (!e2eOk && e2eFailed === 0) {
  results.failed += 1;
  results.failedSteps.push(e2e ? 'e2e (setup)' : 'e2e (no report)');
} else if (e2eOk && e2ePassed === 0) {
  // Green but nothing ran: not a pass.
  results.failed += 1;
  results.failedSteps.push('e2e (no test ran)');
}

if (results.failedSteps.length > 0) console.log(`\nFailed: ${results.failedSteps.join(', ')}`);
console.log(`${results.passed} passed, ${results.failed} failed`);
process.exit(results.failed > 0 ? 1 : 0);
