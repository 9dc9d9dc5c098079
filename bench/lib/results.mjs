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

/** The 1-minute load average now, with a warning when other work competes for the cores. */
export function loadLine() {
  const [one, five] = os.loadavg();
  const cores = os.cpus().length;
  // This benchmark itself keeps about two processes busy (server and generator).
  const busy = one > cores + 1;
  return (
    `- Load average when written: ${one.toFixed(1)} (1 min), ${five.toFixed(1)} (5 min) on ${cores} cores` +
    (busy
      ? ': other work was running on this machine. Numbers from a loaded machine are noisy; ' +
        'the implementations alternate run by run, so the ratios stay meaningful while absolute values drift.'
      : '.')
  );
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
    loadLine(),
  ];
}

/** `YYYY-MM-DD HH:MM` UTC, for "Measured ..." lines. */
export function now() {
  return new Date().toISOString().slice(0, 16).replace('T', ' ');
}

/**
 * Replaces the section headed `## <title>` of RESULTS.md (or adds it: at the end, or before the
 * other sections with `{ first: true }`), keeping the others.
 */
export function writeSection(title, text, { first = false } = {}) {
  let document = existsSync(RESULTS)
    ? readFileSync(RESULTS, 'utf8')
    : '# Benchmark results\n\nWritten by the scripts in this directory; numbers depend on the machine.\n';
  const heading = new RegExp(`^## ${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[ \\t]*$`, 'm');
  const start = document.search(heading);
  const firstSection = document.search(/^## /m);
  if (start === -1 && first && firstSection !== -1) {
    document = `${document.slice(0, firstSection)}${text}\n${document.slice(firstSection)}`;
  } else if (start === -1) {
    document = `${document.trimEnd()}\n\n${text}`;
  } else {
    const rest = document.slice(start + 1).search(/^## /m);
    const end = rest === -1 ? document.length : start + 1 + rest;
    document = `${document.slice(0, start)}${text}${rest === -1 ? '' : '\n'}${document.slice(end)}`;
  }
  writeFileSync(RESULTS, document.endsWith('\n') ? document : `${document}\n`);
}

export const RESULTS_JSON = fileURLToPath(new URL('../results.json', import.meta.url));

/** Sections in the order results.json lists them. */
const SECTION_ORDER = ['Parser', 'Echo', 'Latency', 'Handshakes', 'Memory', 'Broadcast', 'Client'];

/** The higher-is-better ratio of `ours` against `ws`, whatever the metric's direction. */
export const advantage = (ours, ws, better) => (better === 'lower' ? ws / ours : ours / ws);

/** Rounds to 4 significant digits, keeping results.json readable. */
const round = (value) => (Number.isFinite(value) ? Number(value.toPrecision(4)) : null);

/** Reads results.json (or an empty document). */
export function readResultsJson() {
  if (!existsSync(RESULTS_JSON)) return { about: '', sections: {}, entries: [] };
  return JSON.parse(readFileSync(RESULTS_JSON, 'utf8'));
}

/**
 * Replaces one section's entries in results.json, the machine-readable twin of RESULTS.md that
 * summary.mjs reads. Each entry: `{ point, metric, unit, better, ours, ws, against, ratio }`,
 * where `ws` is the value of the implementation named by `against` (default "ws") and `ratio`
 * is how many times better ours is (ours/ws when higher is better, ws/ours when lower is).
 * `meta` (e.g. `{ seconds, runs }`) describes the run.
 */
export function writeEntries(section, entries, meta = {}) {
  const document = readResultsJson();
  document.about =
    'Written by the bench/*.bench.mjs scripts (`pnpm bench`), one section each; summary.mjs ' +
    'turns it into the Summary of RESULTS.md. ratio = how many times better ours is than the ' +
    "implementation named by 'against' (ours/ws when higher is better, ws/ours when lower is).";
  document.sections = { ...document.sections, [section]: { measured: now(), ...meta } };
  const kept = document.entries.filter((entry) => entry.section !== section);
  const added = entries.map(({ point, metric, unit, better = 'higher', ours, ws, against }) => ({
    section,
    point,
    metric,
    unit,
    better,
    against: against ?? 'ws',
    ours: round(ours),
    ws: round(ws),
    ratio: round(advantage(ours, ws, better)),
  }));
  const rank = (name) => {
    const index = SECTION_ORDER.indexOf(name);
    return index === -1 ? SECTION_ORDER.length : index;
  };
  document.entries = [...kept, ...added].sort((a, b) => rank(a.section) - rank(b.section));
  const sorted = Object.keys(document.sections).sort((a, b) => rank(a) - rank(b));
  document.sections = Object.fromEntries(sorted.map((name) => [name, document.sections[name]]));
  writeFileSync(RESULTS_JSON, `${JSON.stringify(document, null, 2)}\n`);
}

/** The point name the echo entries use, shared with summary.mjs. */
export const echoPoint = (size, connections, inflight) =>
  `${formatSize(size)}, ${connections} conns × ${inflight} in flight`;
