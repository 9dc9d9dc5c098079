// The "## Summary" section of RESULTS.md: the headline ratios against the
// targets of issue 6, with ✓ or ✗ for each, built from results.json (which
// every benchmark script writes next to its own RESULTS.md section); then the
// performance sections of the READMEs, from the same file (lib/readmes.mjs).
// Runs last in `pnpm bench`; on its own it summarises whatever results.json
// holds, and entries it lacks read "not measured".
//
//   node summary.mjs
import { writeReadmes } from './lib/readmes.mjs';
import {
  NOT_MEASURED,
  SETTINGS,
  boundOf,
  broadcastCeiling,
  echoQuery,
  compressionWindowNote,
  find,
  largeEchoCeiling,
  limitText,
  ratioText,
  referenceLines,
  runsText,
  settingsLines,
  timing,
  valueText,
} from './lib/report.mjs';
import { loadLine, now, readResultsJson, writeSection } from './lib/results.mjs';

const echo = echoQuery;
/** The echo entry of ours with `lendMessages: true` (echo.bench.mjs's "ours lent"). */
const lent = (size, connections, inflight) => ({
  ...echo(size, connections, inflight),
  metric: 'messages/s, lendMessages',
});

/** Issue 6's targets: `min` is the least "times better than ws" (results.json's ratio) that meets it. */
const TARGETS = [
  { goal: '16 B echo ≥ 2.5× ws', ...echo(16, 100, 16), against: 'ws', min: 2.5 },
  { goal: '1 KiB echo ≥ 2.5× ws', ...echo(1024, 100, 16), against: 'ws', min: 2.5 },
  { goal: '64 KiB echo ≥ 1.5× plain ws', ...echo(65536, 100, 1), against: 'ws', min: 1.5 },
  { goal: '64 KiB echo ≥ 1.0× ws+addons', ...echo(65536, 100, 1), against: 'ws+addons', min: 1 },
  { goal: '1 MiB echo ≥ 1.5× plain ws', ...echo(1048576, 1, 16), against: 'ws', min: 1.5 },
  { goal: '1 MiB echo ≥ 1.0× ws+addons', ...echo(1048576, 1, 16), against: 'ws+addons', min: 1 },
  {
    goal: 'memory per idle connection ≤ ws (RSS)',
    section: 'Memory',
    metric: 'RSS per connection',
    against: 'ws',
    min: 1,
  },
  {
    goal: 'memory per idle connection ≤ ws (heap)',
    section: 'Memory',
    metric: 'heap per connection',
    against: 'ws',
    min: 1,
  },
  {
    goal: 'handshakes/s ≥ 1.3× ws',
    section: 'Handshakes',
    metric: 'handshakes/s',
    against: 'ws',
    min: 1.3,
  },
  {
    goal: 'broadcast to 10,000 ≥ 2× ws (16 B)',
    section: 'Broadcast',
    point: '16 B to 10,000 clients',
    metric: 'time to last client',
    against: 'ws',
    min: 2,
  },
  {
    goal: 'broadcast to 10,000 ≥ 2× ws (1 KiB)',
    section: 'Broadcast',
    point: '1 KiB to 10,000 clients',
    metric: 'time to last client',
    against: 'ws',
    min: 2,
  },
  ...SETTINGS.flatMap((settings) =>
    [
      ['compressed 1 KiB JSON echo ≥ 1.0× ws', 'compressed messages/s', 1],
      ['deflate memory per idle connection ≤ 0.8× ws (RSS)', 'RSS per idle connection', 1.25],
      // As for issue 6's idle rows: the heap is what the connections retain;
      // RSS adds the V8 heap both processes commit while 10,000 handshakes run.
      ['deflate memory per idle connection ≤ 0.8× ws (heap)', 'heap per idle connection', 1.25],
      ['deflate memory per active connection ≤ 0.8× ws (RSS)', 'RSS per active connection', 1.25],
    ].map(([goal, metric, min]) => ({
      goal: `${goal}, ${settings}`,
      section: 'Compression',
      metric,
      settings,
      against: 'ws',
      min,
    })),
  ),
];

/**
 * Issue 21's targets against uWebSockets.js ("uWS"), and the floor it sets for idle memory: a bare
 * node:net server ("raw net"). The 1 MiB point is 100 × 1; echo.bench.mjs measures 1 MiB
 * at 1 × 16 (issue 6's point), and that is the row used here.
 */
const UWS_TARGETS = [
  { goal: '16 B echo ≥ 1.0× uWS', ...echo(16, 100, 16), against: 'uWS', min: 1 },
  { goal: '1 KiB echo ≥ 1.0× uWS', ...echo(1024, 100, 16), against: 'uWS', min: 1 },
  // The same with `lendMessages: true`: messages lent to the listener, as uWS lends its own.
  { goal: '16 B echo ≥ 1.0× uWS, lendMessages', ...lent(16, 100, 16), against: 'uWS', min: 1 },
  { goal: '1 KiB echo ≥ 1.0× uWS, lendMessages', ...lent(1024, 100, 16), against: 'uWS', min: 1 },
  { goal: '64 KiB echo ≥ 0.9× uWS', ...echo(65536, 100, 1), against: 'uWS', min: 0.9 },
  { goal: '1 MiB echo ≥ 0.9× uWS', ...echo(1048576, 1, 16), against: 'uWS', min: 0.9 },
  {
    goal: '64 KiB echo ≥ 0.9× uWS, lendMessages',
    ...lent(65536, 100, 1),
    against: 'uWS',
    min: 0.9,
  },
  {
    goal: '1 MiB echo ≥ 0.9× uWS, lendMessages',
    ...lent(1048576, 1, 16),
    against: 'uWS',
    min: 0.9,
  },
  {
    // "Within 10%": our p50 at most 1.1× theirs, i.e. uWS/ours at least 1/1.1.
    goal: 'round trip p50, 16 B, within 10% of uWS',
    section: 'Latency',
    point: '16 B, 1 conn × 1 in flight',
    metric: 'round trip p50',
    against: 'uWS',
    min: 1 / 1.1,
  },
  {
    goal: 'memory per idle connection within 10% of a bare net.Socket (RSS)',
    section: 'Memory',
    metric: 'RSS per connection',
    against: 'raw net',
    min: 1 / 1.1,
  },
  {
    goal: 'memory per idle connection within 10% of a bare net.Socket (heap)',
    section: 'Memory',
    metric: 'heap per connection',
    against: 'raw net',
    min: 1 / 1.1,
  },
];

/** Headline ratios without a target in issue 6. */
const OTHERS = [
  { goal: '16 B echo vs the raw node:net ceiling', ...echo(16, 100, 16), against: 'raw net' },
  { goal: '1 KiB echo vs the raw node:net ceiling', ...echo(1024, 100, 16), against: 'raw net' },
  ...[
    ['1 KiB', 1024, 100, 16],
    ['64 KiB', 65536, 100, 1],
    ['1 MiB', 1048576, 1, 16],
  ].map(([label, size, connections, inflight]) => ({
    goal: `${label} echo, lendMessages vs ours on its defaults`,
    ...lent(size, connections, inflight),
    against: 'ours on its defaults',
  })),
  { goal: '64 KiB echo vs uWebSockets.js', ...echo(65536, 100, 1), against: 'uWS' },
  { goal: '1 MiB echo vs uWebSockets.js', ...echo(1048576, 1, 16), against: 'uWS' },
  {
    goal: 'round trip p99, 16 B, vs uWebSockets.js',
    section: 'Latency',
    point: '16 B, 1 conn × 1 in flight',
    metric: 'round trip p99',
    against: 'uWS',
  },
  {
    goal: 'memory per idle connection vs uWebSockets.js (RSS)',
    section: 'Memory',
    metric: 'RSS per connection',
    against: 'uWS',
  },
  {
    goal: 'round trip p50, 16 B',
    section: 'Latency',
    point: '16 B, 1 conn × 1 in flight',
    metric: 'round trip p50',
    against: 'ws',
  },
  {
    goal: 'round trip p99, 16 B',
    section: 'Latency',
    point: '16 B, 1 conn × 1 in flight',
    metric: 'round trip p99',
    against: 'ws',
  },
  {
    goal: 'round trip p50, 1 KiB',
    section: 'Latency',
    point: '1 KiB, 1 conn × 1 in flight',
    metric: 'round trip p50',
    against: 'ws',
  },
  {
    goal: 'round trip p99, 1 KiB',
    section: 'Latency',
    point: '1 KiB, 1 conn × 1 in flight',
    metric: 'round trip p99',
    against: 'ws',
  },
  {
    goal: 'server CPU per handshake',
    section: 'Handshakes',
    metric: 'server CPU per handshake',
    against: 'ws',
  },
  {
    goal: 'broadcast to 10,000 vs the raw node:net floor (16 B)',
    section: 'Broadcast',
    point: '16 B to 10,000 clients',
    metric: 'time to last client',
    against: 'raw net',
  },
  {
    goal: 'broadcast to 10,000 vs the raw node:net floor (1 KiB)',
    section: 'Broadcast',
    point: '1 KiB to 10,000 clients',
    metric: 'time to last client',
    against: 'raw net',
  },
  {
    goal: 'broadcast to 10,000 vs the C floor, one write(2) per socket (16 B)',
    section: 'Broadcast',
    point: '16 B to 10,000 clients',
    metric: 'time to last client',
    against: 'C floor',
  },
  {
    goal: 'publish to a topic, 10,000 subscribers (1 KiB)',
    section: 'Broadcast',
    point: '1 KiB to 10,000 clients',
    metric: 'time to last client, via publish',
    against: 'ws',
  },
  {
    goal: 'broadcast to 1,000 (16 B)',
    section: 'Broadcast',
    point: '16 B to 1,000 clients',
    metric: 'time to last client',
    against: 'ws',
  },
  {
    goal: 'broadcast to 1,000 (1 KiB)',
    section: 'Broadcast',
    point: '1 KiB to 1,000 clients',
    metric: 'time to last client',
    against: 'ws',
  },
  {
    goal: 'client (@proj/client vs ws client), 16 B',
    section: 'Client',
    point: '16 B, 100 conns × 16 in flight',
    metric: 'client messages/s',
    against: 'ws',
  },
  {
    goal: 'client (@proj/client vs ws client), 1 KiB',
    section: 'Client',
    point: '1 KiB, 100 conns × 16 in flight',
    metric: 'client messages/s',
    against: 'ws',
  },
  ...SETTINGS.map((settings) => ({
    goal: `compression of the echoes (1 KiB JSON), ${settings}`,
    section: 'Compression',
    metric: 'compression of the echoes',
    settings,
    against: 'ws',
  })),
  {
    // Issue 17, point 1: the target is absolute (under 512 MiB), shown in the goal.
    goal: 'RSS growth under the memory attack (issue 17: ours < 512 MiB)',
    section: 'Memory attack',
    metric: 'RSS growth',
    against: 'ws',
  },
  {
    goal: 'pub/sub latency p50 through Redis, against the same node',
    section: 'Pub/sub',
    metric: 'latency p50',
    against: 'same node',
  },
  {
    // apps/cluster (node:cluster) with two workers against one, 16 B echo; on a 2-core
    // machine the second worker shares its core with the load generator (bench/RESULTS.md#cluster).
    goal: '16 B echo, node:cluster with 2 workers vs 1',
    ...echo(16, 100, 16),
    section: 'Cluster',
    against: '1 worker',
  },
];

/**
 * The session layer's cost (issue 16), from session.bench.mjs: @proj/server with `sessions: true`
 * ("ours" in its entries) against the same server without ("plain").
 */
const SESSION_ROWS = [
  ...[16, 1024].flatMap((size) => {
    const point = echo(size, 100, 16).point;
    const label = size === 16 ? '16 B' : '1 KiB';
    return [
      { goal: `echo messages/s, ${label}`, point, metric: 'messages/s' },
      {
        goal: `wire bytes per message beyond the payload, client to server, ${label}`,
        point,
        metric: 'wire bytes per message beyond the payload, client to server',
      },
      {
        goal: `wire bytes per message beyond the payload, server to client, ${label}`,
        point,
        metric: 'wire bytes per message beyond the payload, server to client',
      },
    ];
  }),
  { goal: 'memory per idle session (RSS)', metric: 'RSS per connection' },
  { goal: 'memory per idle session (heap)', metric: 'heap per connection' },
].map((row) => ({ ...row, section: 'Sessions', against: 'plain' }));

/**
 * WebSocket over HTTP/2 (issue 18, point 6), from http2.bench.mjs: WebSockets as streams of one
 * HTTP/2 connection ("ours" in its entries) against one TLS (and one plain TCP) connection each
 * with an HTTP/1.1 Upgrade, to the same @proj/server.
 */
const H2_SECTION = 'WebSocket over HTTP/2';
const [H2_TLS, H2_TCP, H2_WIDE] = [
  'HTTP/1.1 over TLS',
  'HTTP/1.1 over TCP',
  'HTTP/2 stream, 16 MiB server windows',
];
const H2_ROWS = [
  { goal: 'time to open them all', metric: 'time to open all' },
  { goal: 'server CPU per open', metric: 'server CPU per open' },
  { goal: 'server RSS per WebSocket', metric: 'server RSS per WebSocket' },
  { goal: 'server heap per WebSocket', metric: 'server heap per WebSocket' },
  ...[
    [16, 100, 16],
    [1024, 100, 16],
    [16, 1, 16],
    [1024, 1, 16],
  ].flatMap(([size, connections, inflight]) => {
    const { point } = echo(size, connections, inflight);
    const label = `${size === 16 ? '16 B' : '1 KiB'}, ${connections} × ${inflight}`;
    return [
      { goal: `echo messages/s, ${label}`, point, metric: 'messages/s' },
      { goal: `server CPU per message, ${label}`, point, metric: 'server CPU per message' },
    ];
  }),
].map((row) => ({ ...row, section: H2_SECTION }));

const document = readResultsJson();

/** The same comparison against ws with its native addons, for rows against plain ws. */
const withAddons = (target) =>
  target.against === 'ws' ? find(document, { ...target, against: 'ws+addons' }) : undefined;

function needs(entry, min) {
  if (entry.unit === 'bytes') return `≤ ${(1 / min).toFixed(2)}×`;
  if (entry.better === 'lower') return `≥ ${min.toFixed(2)}×`;
  return `≥ ${min.toFixed(1)}×`;
}

/** The mark of a row whose driver was saturated and whose bound does not settle the target. */
const UNSETTLED = '?';

/**
 * ✓ or ✗ for a target, or UNSETTLED where a saturated load generator makes the row measure the
 * generator (boundOf): a floor still proves ✓, a ceiling still proves ✗, nothing else is claimed.
 */
function verdict(entry, min) {
  const bound = boundOf(document, entry);
  const met = entry.ratio >= min;
  if (bound && (bound.kind === 'unknown' || (bound.kind === 'floor') !== met)) {
    return `${UNSETTLED} (${bound.role}-bound: the row measures the ${bound.role})`;
  }
  if (met) return '✓';
  const factor = (min / entry.ratio).toFixed(2);
  if (entry.unit === 'bytes') return `✗ (needs ${factor}× less)`;
  if (entry.better === 'lower') return `✗ (needs ${factor}× faster)`;
  return `✗ (needs ${factor}× more)`;
}

/** Columns every row ends with: the ws+addons ratio next to a plain-ws one, runs, the limit. */
function tail(target, entry) {
  const addons = withAddons(target);
  const addonsCell =
    target.against !== 'ws'
      ? '—'
      : addons
        ? ratioText(addons, boundOf(document, addons))
        : NOT_MEASURED;
  return `| ${addonsCell} | ${runsText(document, [entry, addons])} | ${limitText(document, [entry, addons])} |`;
}

function targetRow(target) {
  const entry = find(document, target);
  if (!entry) return `| ${target.goal} | — | — | — | — | ${NOT_MEASURED} | — | — | — |`;
  return (
    `| ${target.goal} | ${entry.point} | ${valueText(entry, entry.ours)} | ${valueText(entry, entry.ws)} ` +
    `| ${ratioCell(entry)} (${needs(entry, target.min)}) | ${verdict(entry, target.min)} ${tail(target, entry)}`
  );
}

/** A ratio in bold; one bounded by a saturated generator as its bound, not in bold. */
function ratioCell(entry) {
  const bound = boundOf(document, entry);
  return bound ? ratioText(entry, bound) : `**${ratioText(entry)}**`;
}

function otherRow(target) {
  const entry = find(document, target);
  if (!entry) return `| ${target.goal} | — | — | — | ${NOT_MEASURED} | — | — | — |`;
  return (
    `| ${target.goal} | ${entry.point} | ${valueText(entry, entry.ours)} | ${valueText(entry, entry.ws)} ` +
    `| ${ratioCell(entry)} ${tail(target, entry)}`
  );
}

/** A session row's value: bytes per message to the hundredth, where the acks show. */
const sessionValue = (entry, x) =>
  entry.unit === 'B/msg' ? `${x.toFixed(2)} B` : valueText(entry, x);

/** A row of the session layer's cost: session and plain values, and session/plain. */
function sessionRow(row) {
  const entry = find(document, row);
  if (!entry) return `| ${row.goal} | — | — | — | ${NOT_MEASURED} | — | — |`;
  return (
    `| ${row.goal} | ${entry.point} | ${sessionValue(entry, entry.ours)} | ${sessionValue(entry, entry.ws)} ` +
    `| **${(entry.ours / entry.ws).toFixed(2)}×** ` +
    `| ${runsText(document, [entry])} | ${limitText(document, [entry])} |`
  );
}

/** A row of the HTTP/2 comparison: h2, TLS and TCP values, h2/TLS and h2/TCP (value ratios). */
function h2Row(row) {
  const tls = find(document, { ...row, against: H2_TLS });
  const tcp = find(document, { ...row, against: H2_TCP });
  // Only the echo rows have it: the same streams to a server with raised receive windows.
  const wide = find(document, { ...row, against: H2_WIDE });
  if (!tls) return `| ${row.goal} | — | — | — | — | — | ${NOT_MEASURED} | — | — | — |`;
  const ratio = (entry) => (entry ? `${(entry.ours / entry.ws).toFixed(2)}×` : NOT_MEASURED);
  return (
    `| ${row.goal} | ${tls.point} | ${valueText(tls, tls.ours)} | ${valueText(tls, tls.ws)} ` +
    `| ${tcp ? valueText(tcp, tcp.ws) : NOT_MEASURED} | ${wide ? valueText(wide, wide.ws) : '—'} ` +
    `| **${ratio(tls)}** | ${ratio(tcp)} ` +
    `| ${runsText(document, [tls, tcp])} | ${limitText(document, [tls, tcp])} |`
  );
}

/** How many of `targets` were measured, met (✓), and left unsettled by a saturated generator. */
function tally(targets) {
  const entries = targets.map((t) => [t, find(document, t)]).filter(([, entry]) => entry);
  const marks = entries.map(([t, entry]) => verdict(entry, t.min));
  const unsettled = marks.filter((mark) => mark.startsWith(UNSETTLED)).length;
  return {
    measured: entries.length,
    met: marks.filter((mark) => mark === '✓').length,
    unsettled: unsettled > 0 ? `, ${unsettled} generator-bound (no verdict)` : '',
  };
}
const { met, measured, unsettled } = tally(TARGETS);
const uws = tally(UWS_TARGETS);
const time = timing(document);
const paragraphs = (lines) => lines.flatMap((line) => [line, '']);

const targetRows = TARGETS.map(targetRow);
writeSection(
  'Summary',
  [
    '## Summary',
    '',
    '<!-- Written by bench/summary.mjs from bench/results.json (`pnpm bench`); edits here are overwritten. -->',
    '',
    `Written ${now()} UTC from the sections measured ${time.from} to ${time.to} UTC ` +
      `(${time.bySection}: ${Math.round(time.seconds)} s of benchmarks, ${time.minutes} min).`,
    '',
    loadLine(),
    '- Each ratio compares ours with the reference named in its row, measured in the same run, the ' +
      'runs alternating; each value is the median of the number of runs in the "runs" column. The ' +
      'sections below give the spreads, the machine, and the CPU share of every process.',
    ...referenceLines(document),
    ...settingsLines(document),
    '- "limit" says which process set the pace: one at 80% or more of its core. Where it is the load ' +
      'generator (or, in the client rows, the echo server), the row measures that process rather than ' +
      'the library, and the note says which way the ratio is bent.',
    '',
    `### Targets (issue 6; compression rows: issue 7): ${met} of ${measured} met${unsettled}`,
    '',
    '| target | point | ours | reference | ratio (target) | met | vs ws+addons | runs | limit |',
    '|---|---|--:|--:|--:|:-:|--:|--:|---|',
    ...targetRows,
    '',
    ...paragraphs([
      ...compressionWindowNote(document),
      ...broadcastCeiling(document),
      ...largeEchoCeiling(document),
    ]),
    `### Targets against uWebSockets.js (issue 21): ${uws.met} of ${uws.measured} met${uws.unsettled}`,
    '',
    ...referenceLines(document, ['uWS', 'raw net']),
    '- A target row whose load generator ran at 80% or more of its core gets no ✓ or ✗ unless the ' +
      'bound settles it: a generator that capped ours makes the ratio a floor ("≥"), one that capped ' +
      'the reference a ceiling ("≤").',
    '',
    '| target | point | ours | reference | ratio (target) | met | vs ws+addons | runs | limit |',
    '|---|---|--:|--:|--:|:-:|--:|--:|---|',
    ...UWS_TARGETS.map(targetRow),
    '',
    '### Other headline ratios',
    '',
    '| measure | point | ours | compared with | ratio | vs ws+addons | runs | limit |',
    '|---|---|--:|--:|--:|--:|--:|---|',
    ...OTHERS.map(otherRow),
    '',
    "### The session layer's cost (issue 16)",
    '',
    '@proj/server with `sessions: true` against the same server without, through the same load ' +
      'generator (the Sessions section). session/plain: below 1× for a rate, above 1× for bytes, is ' +
      'what sessions cost. Wire bytes beyond the payload are frame headers and masks, plus, with ' +
      "sessions, the share of each `ack` (the client's every 64 messages, the server's every 64 or 50 ms).",
    '',
    '| measure | point | session | plain | session/plain | runs | limit |',
    '|---|---|--:|--:|--:|--:|---|',
    ...SESSION_ROWS.map(sessionRow),
    '',
    '### WebSocket over HTTP/2 (issue 18)',
    '',
    'WebSockets as extended CONNECT streams (RFC 8441) of one HTTP/2 connection ("h2") against one ' +
      'TLS connection each with an HTTP/1.1 Upgrade to the same server and port ("TLS"), and one plain ' +
      'TCP connection each ("TCP"), all to @proj/server (the WebSocket over HTTP/2 section); "h2, ' +
      'wide" is h2 to a server whose receive windows are raised to 16 MiB (node\'s default: 64 KiB). ' +
      'h2/TLS and h2/TCP are value ratios: below 1× for a time, a CPU cost or memory, above 1× for ' +
      'a rate, is where HTTP/2 wins.',
    '',
    '| measure | point | h2 | TLS | TCP | h2, wide | h2/TLS | h2/TCP | runs | limit |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|---|',
    ...H2_ROWS.map(h2Row),
    '',
  ].join('\n'),
  { first: true },
);
console.log(`Wrote bench/RESULTS.md (## Summary): ${met} of ${measured} targets met`);
for (const row of targetRows) console.log(row);
await writeReadmes(document);
