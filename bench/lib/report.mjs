// Reading bench/results.json for the reports written from it: the Summary of
// RESULTS.md (summary.mjs) and the performance sections of the READMEs
// (lib/readmes.mjs). Nothing here measures or types a number: every figure
// comes from an entry, and an entry that results.json lacks (an older run, a
// reference that was not installed) reads as "not measured".
import { SATURATED, limitOf } from './limit.mjs';
import { echoPoint, formatRate, references } from './results.mjs';

export const NOT_MEASURED = 'not measured';

/** The keys of the compression settings, as deflate.bench.mjs writes them. */
export const SETTINGS = ['each on its defaults', 'like for like'];

/**
 * The settings key of a compression entry. Entries written before the like-for-like runs have
 * none: those runs had each library on its defaults.
 */
const settingsOf = (entry) =>
  entry.settings ?? (entry.section === 'Compression' ? 'each on its defaults' : undefined);

/** The query of an echo entry (messages/s at one point). */
export const echoQuery = (size, connections, inflight) => ({
  section: 'Echo',
  point: echoPoint(size, connections, inflight),
  metric: 'messages/s',
});

/** The fields that identify an entry. */
const KEYS = ['section', 'point', 'metric', 'against', 'settings'];

/**
 * The entry of `document` matching the identifying fields `query` gives (others, and undefined
 * ones, are ignored: a row's `goal` or `label` may ride along).
 */
export function find(document, query) {
  return document.entries.find((entry) =>
    KEYS.every(
      (key) =>
        query[key] === undefined ||
        (key === 'settings' ? settingsOf(entry) : entry[key]) === query[key],
    ),
  );
}

/**
 * How many alternated runs an entry's medians come from. Entries written before `runs` was
 * recorded per entry take their section's count (the compression memory rows: `memoryRuns`).
 */
export function runsOf(document, entry) {
  if (entry.runs !== undefined) return entry.runs;
  const meta = document.sections?.[entry.section] ?? {};
  if (entry.section === 'Compression' && entry.unit === 'bytes') return meta.memoryRuns;
  return meta.runs;
}

/** A measured value with its unit. */
export function valueText(entry, x) {
  switch (entry.unit) {
    case 'bytes':
      return `${(x / 1024).toFixed(2)} KiB`;
    case 'ms':
      return `${x.toFixed(2)} ms`;
    case 'µs':
      return `${x.toFixed(1)} µs`;
    case '×':
      return `${x.toFixed(2)}×`;
    default:
      return `${formatRate(x)} ${entry.unit}`;
  }
}

/**
 * What a driver at SATURATED or more of its core (the section's `roles.load`: the load generator,
 * the clients) leaves of an entry's ratio (issue 21: such a row measures the driver, so it must
 * not be read as a ratio of the libraries). A driver that capped ours makes ours look slower: the
 * true advantage is at least the measured one ('floor'); one that capped the reference makes the
 * true advantage at most the measured one ('ceiling'); both: 'unknown'.
 * @returns `{ kind, role }`, or null where no driver was saturated or the CPU was not recorded.
 */
export function boundOf(document, entry) {
  const role = document.sections?.[entry.section]?.roles?.load;
  if (!role || !entry.cpu) return null;
  const capped = (name) => entry.cpu[name]?.[role] >= SATURATED;
  const ours = capped('ours');
  const reference = capped(entry.against);
  if (!ours && !reference) return null;
  return { kind: ours && reference ? 'unknown' : ours ? 'floor' : 'ceiling', role };
}

/**
 * The ratio as the tables state it: ours/ref for rates and sizes, ref/ours for times. With
 * `bound` (boundOf), a driver-bound ratio reads as the bound it is ("≥ 2.10×", "≤ 0.58×"), or as
 * no ratio at all where both sides were capped.
 */
export function ratioText(entry, bound = null) {
  const inverted = entry.unit === 'bytes';
  const shown = inverted ? 1 / entry.ratio : entry.ratio;
  const names =
    entry.better === 'lower' && !inverted ? `${entry.against}/ours` : `ours/${entry.against}`;
  if (bound?.kind === 'unknown') {
    return `no ratio: ${bound.role}-bound on both sides (measured ${names} ${shown.toFixed(2)}×)`;
  }
  // A floor of the advantage is a ceiling of ours/ref where less is better (sizes).
  const at = bound ? ((bound.kind === 'floor') !== inverted ? '≥ ' : '≤ ') : '';
  return `${names} ${at}${shown.toFixed(2)}×${bound ? ` (${bound.role}-bound)` : ''}`;
}

/**
 * The ratio in words, for a README cell. Amounts (memory, CPU time) as ours/ref, "0.60× the
 * memory"; times as ref/ours, "1.22× as fast"; rates as ours/ref, "5.44×".
 */
export function ratioWords(entry) {
  if (entry.unit === 'bytes') return `${(1 / entry.ratio).toFixed(2)}× the memory`;
  if (entry.better !== 'lower') return `${entry.ratio.toFixed(2)}×`;
  if (entry.metric.includes('CPU')) return `${(1 / entry.ratio).toFixed(2)}× the CPU`;
  return `${entry.ratio.toFixed(2)}× as fast`;
}

/**
 * A README cell: the ratio in bold, then both values; where a saturated driver bounds it
 * (boundOf), the bound instead, not in bold, and no ratio where it capped both sides.
 */
export function cellText(entry, document) {
  if (!entry) return NOT_MEASURED;
  const values = `${valueText(entry, entry.ours)} vs ${valueText(entry, entry.ws)}`;
  const bound = document && boundOf(document, entry);
  if (!bound) return `**${ratioWords(entry)}** (${values})`;
  if (bound.kind === 'unknown') return `${bound.role}-bound, no ratio (${values})`;
  // ratioWords states amounts (memory, CPU time) as ours/ref, the inverse of the advantage.
  const inverted =
    entry.unit === 'bytes' || (entry.better === 'lower' && entry.metric.includes('CPU'));
  const atLeast = (bound.kind === 'floor') !== inverted;
  return `${atLeast ? 'at least' : 'at most'} ${ratioWords(entry)}, ${bound.role}-bound (${values})`;
}

/**
 * What limited the comparisons `entries` (ours against one or more references at one point):
 * worked out again from their CPU shares together, so one note covers every reference; else the
 * first entry's own note (rows that are not rates); "not recorded" for entries written before
 * limits were.
 */
export function limitText(document, entries) {
  const present = entries.filter(Boolean);
  if (present.length === 0) return NOT_MEASURED;
  const roles = document.sections?.[present[0].section]?.roles;
  if (roles && present.every((entry) => entry.cpu)) {
    const cpu = Object.assign({}, ...present.map((entry) => entry.cpu));
    return (
      limitOf(
        cpu,
        roles,
        present.map((entry) => entry.against),
      ).note + faultsNote(present)
    );
  }
  return (present[0].limit?.note ?? 'not recorded') + faultsNote(present);
}

/**
 * A process taking page faults for this share of a message's pages (`messagePages`: 16 for 64 KiB)
 * is faulting in again memory its allocator gave back to the kernel; one that reuses its memory
 * takes far fewer (under 0.2 a 64 KiB message in the runs of 2026-12-08).
 */
const FAULTING_SHARE = 0.05;

/** Names the sides of `entries` that were faulting their memory in, or ''. */
function faultsNote(entries) {
  const faults = Object.assign({}, ...entries.map((entry) => entry.faults ?? {}));
  const pages = Math.max(1, ...entries.map((entry) => entry.messagePages ?? 1));
  const faulting = Object.entries(faults).filter(
    ([, perMessage]) => perMessage >= FAULTING_SHARE * pages,
  );
  if (faulting.length === 0) return '';
  const which = faulting.map(([name, perMessage]) => `${name} ${perMessage.toFixed(1)}`).join(', ');
  return (
    `; page faults per message: ${which}: memory the allocator gave back, faulted in again, so ` +
    'the rate depends on that process\'s state (bench/RESULTS.md, "A server that has run for a while")'
  );
}

/** The runs of `entries`, as one number where they agree. */
export function runsText(document, entries) {
  const runs = [...new Set(entries.filter(Boolean).map((entry) => runsOf(document, entry)))];
  return runs.length === 0 ? '—' : runs.map((n) => n ?? '?').join(' / ');
}

/** Total benchmark time and the span of the runs, from the sections' metadata. */
export function timing(document) {
  const sections = Object.entries(document.sections ?? {});
  const seconds = sections.reduce((sum, [, meta]) => sum + (meta.seconds ?? 0), 0);
  const stamps = sections.map(([, meta]) => meta.measured).sort();
  return {
    seconds,
    minutes: (seconds / 60).toFixed(1),
    from: stamps[0],
    to: stamps.at(-1),
    bySection: sections.map(([name, meta]) => `${name} ${meta.seconds ?? '?'} s`).join(', '),
  };
}

/**
 * The reference columns as results.json describes them, one Markdown bullet each (results
 * written before it did: as the harness defines them, which it did then too).
 */
export function referenceLines(document, names = ['ws', 'ws+addons']) {
  const described = document.references ?? references();
  // An older results.json may lack a newer reference (uWS): describe it as the harness does now.
  return names.map((name) => `- \`${name}\`: ${described[name] ?? references()[name]}`);
}

/**
 * How much faster than ws the floors of the broadcast were at 10,000 clients
 * (one write of a prebuilt frame per socket, nothing else; from node:net, and
 * from C): the most any server could score against the 2× target in the run.
 */
export function broadcastCeiling(document) {
  const ceiling = (against) =>
    ['16 B', '1 KiB'].flatMap((size) => {
      const point = `${size} to 10,000 clients`;
      const metric = 'time to last client';
      const ws = find(document, { section: 'Broadcast', point, metric, against: 'ws' });
      const floor = find(document, { section: 'Broadcast', point, metric, against });
      return ws && floor ? [`${(ws.ws / floor.ws).toFixed(2)}× (${size})`] : [];
    });
  const node = ceiling('raw net');
  const c = ceiling('C floor');
  if (node.length === 0) return [];
  return [
    'Broadcast to 10,000: a bare node:net server writing a prebuilt frame to every socket, with no ' +
      `WebSocket layer at all, was ${node.join(' and ')} as fast as plain ws in this run: the most ` +
      'any Node server can reach here' +
      (c.length > 0
        ? `; a C process doing only one \`write(2)\` per socket was ${c.join(' and ')} as fast as ` +
          'plain ws, the most any implementation can reach while writing to every socket'
        : '') +
      ' (times in the Broadcast section of bench/RESULTS.md).',
  ];
}

/**
 * How the raw node:net echo (frames parsed minimally, no validation, limits
 * or events) did against ws with its native addons at 64 KiB: where it is not
 * ahead, the kernel sets the pace for every Node server and "≥ 1.0× ws+addons"
 * turns on run-to-run noise. (At 1 MiB the raw server's naive buffering makes
 * it no ceiling.)
 */
export function largeEchoCeiling(document) {
  const query = echoQuery(64 * 1024, 100, 1);
  const raw = find(document, { ...query, against: 'raw net' });
  const addons = find(document, { ...query, against: 'ws+addons' });
  if (!raw || !addons) return [];
  return [
    '64 KiB echo against ws+addons: the raw node:net ceiling, which parses frames minimally with no ' +
      `validation or events, reached ${(raw.ws / addons.ws).toFixed(2)}× the rate of ws+addons in ` +
      'this run: the most any Node server could gain there. Reads, writes and the kernel copies ' +
      "behind them take most of every server's time at this size (µs CPU/msg in the Echo section).",
  ];
}

/**
 * How much of ours' memory advantage per active compressed connection is the window and level
 * default: the gap to ws on its defaults against the gap to ws on ours' settings.
 */
export function compressionWindowNote(document) {
  const query = { section: 'Compression', metric: 'RSS per active connection', against: 'ws' };
  const defaults = find(document, { ...query, settings: 'each on its defaults' });
  const like = find(document, { ...query, settings: 'like for like' });
  if (!defaults) return [];
  const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
  const gap = defaults.ws - defaults.ours;
  return [
    `Memory per active compressed connection (RSS; ${defaults.point}): ours ${kib(defaults.ours)}, ` +
      `plain ws on its defaults ${kib(defaults.ws)} (${(defaults.ours / defaults.ws).toFixed(2)}×)` +
      (like
        ? `, plain ws configured like ours ${kib(like.ws)} (${(like.ours / like.ws).toFixed(2)}×): of the ` +
          `${kib(gap)} gap each on its defaults, ${kib(defaults.ws - like.ws)} goes with the settings ` +
          `(window and level) and ${kib(like.ws - like.ours)} with the libraries.`
        : '; like for like: not measured in this results.json.'),
  ];
}

/** The compression settings as results.json describes them. */
export function settingsLines(document) {
  const settings = document.sections?.Compression?.settings ?? {};
  return SETTINGS.map(
    (key) =>
      `- Compression, **${key}**: ${settings[key] ?? (key === SETTINGS[0] ? 'settings not recorded in this results.json' : NOT_MEASURED)}.`,
  );
}
