// Shared by the benchmark scripts: statistics, machine details, and writing
// one script's section of RESULTS.md without touching the others.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const RESULTS = fileURLToPath(new URL('../RESULTS.md', import.meta.url));

/** The q-quantile of `values` (linear interpolation). */
export function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

export const median = (values) => quantile(values, 0.5);

/** Half the interquartile range, relative to the median. */
export function spread(values) {
  const mid = median(values);
  return mid === 0 ? 0 : (quantile(values, 0.75) - quantile(values, 0.25)) / 2 / mid;
}

export function formatRate(value) {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(0);
}

export function formatSize(size) {
  if (size >= 1024 * 1024) return `${size / (1024 * 1024)} MiB`;
  if (size >= 1024) return `${size / 1024} KiB`;
  return `${size} B`;
}

export const formatSpread = (value) => `±${(value * 100).toFixed(1)}%`;

function installed(name) {
  try {
    require.resolve(name);
    return 'installed';
  } catch {
    return 'not installed';
  }
}

/** Markdown bullet lines describing the machine and the versions compared. */
export function machineLines() {
  const cpus = os.cpus();
  const wsVersion = JSON.parse(readFileSync(require.resolve('ws/package.json'), 'utf8')).version;
  return [
    `- CPU: ${cpus[0]?.model.trim() ?? 'unknown'} (${cpus.length} logical cores), ` +
      `${os.type()} ${os.release()} ${os.arch()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- Node ${process.version} (V8 ${process.versions.v8}); ws ${wsVersion} ` +
      `(bufferutil ${installed('bufferutil')}, utf-8-validate ${installed('utf-8-validate')})`,
  ];
}

/** `YYYY-MM-DD HH:MM` UTC, for "Measured ..." lines. */
export function now() {
  return new Date().toISOString().slice(0, 16).replace('T', ' ');
}

/** Replaces the section headed `## <title>` of RESULTS.md (or appends it), keeping the others. */
export function writeSection(title, text) {
  let document = existsSync(RESULTS)
    ? readFileSync(RESULTS, 'utf8')
    : '# Benchmark results\n\nWritten by the scripts in this directory; numbers depend on the machine.\n';
  const heading = new RegExp(`^## ${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[ \\t]*$`, 'm');
  const start = document.search(heading);
  if (start === -1) {
    document = `${document.trimEnd()}\n\n${text}`;
  } else {
    const rest = document.slice(start + 1).search(/^## /m);
    const end = rest === -1 ? document.length : start + 1 + rest;
    document = `${document.slice(0, start)}${text}${rest === -1 ? '' : '\n'}${document.slice(end)}`;
  }
  writeFileSync(RESULTS, document.endsWith('\n') ? document : `${document}\n`);
}
