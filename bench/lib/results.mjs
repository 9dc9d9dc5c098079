// Shared by the benchmark scripts: statistics, machine details, and writing
// one script's section of RESULTS.md without touching the others.
import { isUtf8 } from 'node:buffer';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { limitOf, roundCpu } from './limit.mjs';
import { uwsStatus } from './uws.mjs';

const require = createRequire(import.meta.url);
/**
 * Where RESULTS.md and results.json are written: bench/, or BENCH_RESULTS_DIR (for smoke runs
 * that must not touch the committed results).
 */
const resultsFile = (name) =>
  process.env.BENCH_RESULTS_DIR
    ? `${process.env.BENCH_RESULTS_DIR}/${name}`
    : fileURLToPath(new URL(`../${name}`, import.meta.url));
export const RESULTS = resultsFile('RESULTS.md');

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

/**
 * The median of each of `keys` over `runs` (objects with those keys), and its spread as
 * `<key>Spread`.
 */
export function mediansOf(runs, keys) {
  const result = {};
  for (const key of keys) {
    const values = runs.map((run) => run[key]);
    result[key] = median(values);
    result[`${key}Spread`] = spread(values);
  }
  return result;
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

/** The version of an installed package, or null where it is not installed. */
function versionOf(name) {
  try {
    return JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;
  } catch {
    return null;
  }
}

/**
 * What each reference column measured, by the name the tables and results.json give it. ws
 * loads its native addons whenever they are installed unless told not to, so "plain ws" is
 * only plain because the harness sets WS_NO_BUFFER_UTIL / WS_NO_UTF_8_VALIDATE for it.
 */
export function references() {
  const ws = `ws ${versionOf('ws')}`;
  const bufferutil = versionOf('bufferutil');
  const utf8 = versionOf('utf-8-validate');
  // ws prefers Node's own buffer.isUtf8 (Node >= 18.14) to utf-8-validate.
  const utf8Used = typeof isUtf8 !== 'function';
  return {
    ws: `${ws} without its native addons (WS_NO_BUFFER_UTIL=1, WS_NO_UTF_8_VALIDATE=1)`,
    'ws+addons': bufferutil
      ? `${ws} with bufferutil ${bufferutil} (masking)` +
        (utf8
          ? ` and utf-8-validate ${utf8}${utf8Used ? '' : " (installed; ws uses Node's buffer.isUtf8 instead)"}`
          : '')
      : 'not measured: bufferutil is not installed',
    'raw net': 'a bare node:net server: minimal framing, no validation, limits or events',
    uWS: uwsLine(),
    'C floor': 'gen/broadcaster.c: one write(2) of a prebuilt frame per socket, nothing else',
    'same node': "ours again, the same publish made on the subscriber's own node (no Redis hop)",
    undici: `undici ${versionOf('undici')}'s WebSocket (the WHATWG client Node's own global WebSocket is built on)`,
  };
}

/** What the "uWS" column is, or why a run has none. */
function uwsLine() {
  const { loads, version, reason } = uwsStatus();
  return loads
    ? `uWebSockets.js 20.30 (@trufflesuite/uws-js-unofficial ${version}: its native binary for ` +
        `Node ABI ${process.versions.modules}, never the package's ws-based fallback), its echo ` +
        'with compression off, maxBackpressure and idleTimeout lifted'
    : `not measured: ${reason}`;
}

/** The machine line naming the references (`ws` variants, uWS) a section compares with (`columns`). */
function wsLine(columns) {
  const notes = references();
  const used = columns.filter((name) => ['ws', 'ws+addons', 'uWS', 'undici'].includes(name));
  return used.map((name) => `\`${name}\` = ${notes[name]}`).join('; ');
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

/**
 * Markdown bullet lines describing the machine and the versions compared.
 * @param columns the reference columns of the section (e.g. `['ws', 'ws+addons']`), so that the
 *   line says which `ws` each one is.
 */
export function machineLines(columns = ['ws']) {
  const cpus = os.cpus();
  return [
    `- CPU: ${cpus[0]?.model.trim() ?? 'unknown'} (${cpus.length} logical cores), ` +
      `${os.type()} ${os.release()} ${os.arch()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- Node ${process.version} (V8 ${process.versions.v8})` +
      (columns.length > 0 ? `; ${wsLine(columns)}.` : '.'),
    loadLine(),
    ...mallocLines(),
  ];
}

/**
 * A line saying so when glibc's malloc was tuned for every process of the run (the servers
 * inherit this script's environment): such a run measures a tuned deployment, see the
 * "glibc's trim threshold" section.
 */
function mallocLines() {
  const tuned = [
    'MALLOC_TRIM_THRESHOLD_',
    'MALLOC_TOP_PAD_',
    'MALLOC_MMAP_THRESHOLD_',
    'GLIBC_TUNABLES',
  ]
    .filter((name) => process.env[name])
    .map((name) => `\`${name}=${process.env[name]}\``);
  return tuned.length === 0
    ? []
    : [`- glibc malloc tuned for every process of this run: ${tuned.join(', ')}.`];
}

/** `YYYY-MM-DD HH:MM` UTC, for "Measured ..." lines. */
export function now() {
  return new Date().toISOString().slice(0, 16).replace('T', ' ');
}

/**
 * The lines every measured section of RESULTS.md opens with: its heading, which script wrote it,
 * when and in how long, and the machine (`columns` as for machineLines).
 */
export function sectionHead(
  title,
  script,
  seconds,
  columns,
  { command = '`pnpm bench`', took = '' } = {},
) {
  return [
    `## ${title}`,
    '',
    `<!-- Written by bench/${script} (${command}); edits here are overwritten. -->`,
    '',
    `Measured ${now()} UTC in ${seconds.toFixed(0)} s${took}.`,
    '',
    ...machineLines(columns),
  ];
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

export const RESULTS_JSON = resultsFile('results.json');

/** Sections in the order results.json lists them. */
const SECTION_ORDER = [
  'Parser',
  'Echo',
  'Latency',
  'Handshakes',
  'Memory',
  'Broadcast',
  'Client',
  'Compression',
  'Pub/sub',
];

/** The higher-is-better ratio of `ours` against `ws`, whatever the metric's direction. */
export const advantage = (ours, ws, better) => (better === 'lower' ? ws / ours : ours / ws);

/** Rounds to 4 significant digits, keeping results.json readable. */
const round = (value) => (Number.isFinite(value) ? Number(value.toPrecision(4)) : null);

/** Reads results.json (or an empty document). */
export function readResultsJson() {
  if (!existsSync(RESULTS_JSON)) return { about: '', sections: {}, entries: [] };
  return JSON.parse(readFileSync(RESULTS_JSON, 'utf8'));
}

const ABOUT =
  'Written by the bench/*.bench.mjs scripts (`pnpm bench`), one section each; summary.mjs turns ' +
  'it into the Summary of RESULTS.md and the performance sections of the READMEs. Each entry ' +
  'compares ours with the implementation named by `against` (described in `references`): `ws` is ' +
  "that implementation's value, ratio = how many times better ours is (ours/ws when higher is " +
  'better, ws/ours when lower is), `runs` = how many alternated runs the medians come from, ' +
  "`settings` (where present) = a key of the section's `settings`, `cpu` = the CPU share of its " +
  "core each process used, by implementation and role (the section's `roles`), and `limit` = " +
  'which role set the pace, with a note.';

/** One entry as results.json stores it; see ABOUT. */
function stored(section, entry, { runs, roles }) {
  const { point, metric, unit, better = 'higher', ours, ws, against = 'ws', settings } = entry;
  const cpu = entry.cpu && roundCpu(entry.cpu);
  return {
    section,
    point,
    metric,
    unit,
    better,
    against,
    ...(settings && { settings }),
    ours: round(ours),
    ws: round(ws),
    // Six digits, so that rounding it for a README agrees with the bench's own table.
    ratio: Number.isFinite(advantage(ours, ws, better))
      ? Number(advantage(ours, ws, better).toPrecision(6))
      : null,
    runs: entry.runs ?? runs,
    ...(cpu && { cpu }),
    ...(entry.faults && { faults: roundFaults(entry.faults), messagePages: entry.messagePages }),
    limit: entry.limit ?? (cpu && roles ? limitOf(entry.cpu, roles, against) : null),
  };
}

/** Page faults per message of each side, to two decimals. */
const roundFaults = (faults) =>
  Object.fromEntries(Object.entries(faults).map(([name, n]) => [name, Number(n.toFixed(2))]));

/**
 * Replaces one section's entries in results.json, the machine-readable twin of RESULTS.md that
 * summary.mjs reads. Each entry: `{ point, metric, unit, better, ours, ws, against }`, where `ws`
 * is the value of the implementation named by `against` (default "ws"); optionally `runs` (else
 * `meta.runs`), `settings`, `faults` (the measured process's page faults per message, by side) with
 * `messagePages` (the 4 KiB pages of one message), and either
 * `cpu` (then `limit` is worked out from it and `meta.roles`)
 * or `limit` itself (`{ by, note }`, for rows that are not rates). `meta` (e.g. `{ seconds, runs,
 * roles }`) describes the run.
 */
export function writeEntries(section, entries, meta = {}) {
  const document = readResultsJson();
  document.about = ABOUT;
  document.references = references();
  document.sections = { ...document.sections, [section]: { measured: now(), ...meta } };
  const kept = document.entries.filter((entry) => entry.section !== section);
  const added = entries.map((entry) => stored(section, entry, meta));
  const rank = (name) => {
    const index = SECTION_ORDER.indexOf(name);
    return index === -1 ? SECTION_ORDER.length : index;
  };
  document.entries = [...kept, ...added].sort((a, b) => rank(a.section) - rank(b.section));
  const sorted = Object.keys(document.sections).sort((a, b) => rank(a) - rank(b));
  document.sections = Object.fromEntries(sorted.map((name) => [name, document.sections[name]]));
  writeFileSync(RESULTS_JSON, `${JSON.stringify(document, null, 2)}\n`);
}

/**
 * Writes one benchmark's results: its section of RESULTS.md (`lines`, as sectionHead begins them)
 * and its entries in results.json (`entries` and `meta` as for writeEntries), and says so.
 */
export function publish(title, lines, entries, meta) {
  writeSection(title, lines.join('\n'));
  writeEntries(title, entries, meta);
  console.log(`Wrote bench/RESULTS.md (## ${title}) and bench/results.json`);
}

/** The point name the echo entries use, shared with summary.mjs. */
export const echoPoint = (size, connections, inflight) =>
  `${formatSize(size)}, ${connections} conns × ${inflight} in flight`;
