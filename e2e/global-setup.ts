/**
 * Runs once before the suite:
 * 1. Makes sure both browsers exist. `playwright install` cannot download
 *    anything here, so the suite drives Debian's `chromium` and `firefox-esr`:
 *    installed with apt when we are root on Debian, otherwise a clear error
 *    naming what to install (or which variable to set).
 * 2. Bundles, once for all workers, with esbuild: the page harness, and
 *    `@proj/client` resolved the way a front-end bundler resolves it
 *    (platform "browser", so the package's `browser` export condition picks
 *    dist/browser.js), which bundle.spec.ts imports. The directory is handed
 *    to the workers through PROJ_E2E_BUNDLES and removed by the returned teardown.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { CHROMIUM_PATH, FIREFOX_PATH } from './browsers.js';

const here = fileURLToPath(new URL('.', import.meta.url));

function ensureBrowsers(): void {
  const missing = [
    { path: CHROMIUM_PATH, variable: 'CHROMIUM_PATH' },
    { path: FIREFOX_PATH, variable: 'FIREFOX_PATH' },
  ].filter(({ path }) => !existsSync(path));
  if (missing.length === 0) return;

  const list = missing.map(({ path }) => path).join(', ');
  const canInstall = existsSync('/etc/debian_version') && process.getuid?.() === 0;
  if (!canInstall) {
    throw new Error(
      `Browser(s) not found: ${list}. Install Debian's packages with ` +
        '`sudo apt-get install chromium firefox-esr`, or point CHROMIUM_PATH / FIREFOX_PATH ' +
        'at existing Chromium / Firefox ESR executables. (`playwright install` is not used: ' +
        'the suite drives the system browsers.)',
    );
  }
  console.log(`[e2e] ${list} missing: installing chromium and firefox-esr with apt-get`);
  execFileSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq chromium firefox-esr'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const still = missing.filter(({ path }) => !existsSync(path));
  if (still.length > 0) {
    throw new Error(
      `apt-get installed chromium and firefox-esr, but ${still.map((m) => m.path).join(', ')} ` +
        `still does not exist: set ${still.map((m) => m.variable).join(' / ')} to an existing executable.`,
    );
  }
}

async function bundle(outDir: string): Promise<void> {
  const common = {
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'warning',
  } as const;
  await Promise.all([
    build({
      ...common,
      stdin: {
        contents: "export { CloseEvent, ErrorEvent, MessageEvent, WebSocket } from '@proj/client';",
        resolveDir: here,
        sourcefile: 'client-entry.js',
      },
      outfile: join(outDir, 'client.js'),
    }),
    build({
      ...common,
      entryPoints: [join(here, 'page', 'harness.ts')],
      outfile: join(outDir, 'harness.js'),
    }),
  ]);
}

export default async function globalSetup(): Promise<() => void> {
  ensureBrowsers();
  const outDir = mkdtempSync(join(tmpdir(), 'proj-e2e-'));
  await bundle(outDir);
  process.env['PROJ_E2E_BUNDLES'] = outDir;
  return () => rmSync(outDir, { recursive: true, force: true });
}
