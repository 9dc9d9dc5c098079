// Parser benchmark: @proj/protocol's FrameParser + MessageAssembler against
// ws's Receiver, in the same process and on the same bytes.
//
// For each payload size (16 B, 1 KiB, 64 KiB, 1 MiB) and direction (masked
// frames parsed by a server, unmasked frames parsed by a client) it builds a
// stream of binary frames, cuts it into 64 KiB chunks as a socket would
// deliver it, and times how long each parser takes to turn the chunks into
// messages. Both parsers unmask in place, so every run gets a fresh copy of
// the chunks, made outside the timed region. Runs of the two alternate so
// drift (thermal, other load) hits both alike.
//
// The measurement is repeated in several fresh Node processes (`--child`)
// and the samples pooled: V8 does not always reach the same optimisation in
// two processes running the same code, and a single process would report
// whichever mode it happened to land in as the truth.
//
// Run with `pnpm bench` at the root (builds the packages first), or
// `pnpm --dir bench run bench` once they are built. The result replaces the
// "## Parser" section of RESULTS.md and leaves other sections alone.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { addons } from './lib/harness.mjs';
import {
  RESULTS,
  formatRate,
  formatSize,
  formatSpread,
  machineLines,
  now,
  quantile,
  writeEntries,
  writeSection,
} from './lib/results.mjs';

const require = createRequire(import.meta.url);

/** @type {typeof import('@proj/protocol')} */
let protocol;
try {
  protocol = await import('@proj/protocol');
} catch (error) {
  console.error(
    'Cannot load the built @proj/protocol. Build it first: `pnpm bench` at the repository ' +
      'root does, or run `pnpm build` in packages/protocol.\n',
  );
  throw error;
}
const { FrameParser, MessageAssembler, encodeFrame } = protocol;
// ws does not export lib/receiver.js; the package re-exports the class.
const { Receiver } = require('ws');

const SIZES = [16, 1024, 64 * 1024, 1024 * 1024];
const CHUNK_SIZE = 64 * 1024;
/** Payload bytes per timed run (fewer frames for big payloads), capped in frames. */
const BYTES_PER_RUN = 32 * 1024 * 1024;
const MAX_FRAMES_PER_RUN = 500_000;
const PROCESSES = 4;
const WARMUP_RUNS = 3;
const RUNS = 7;
const MAX_PAYLOAD = 16 * 1024 * 1024;
/**
 * ws's Receiver unmasks with bufferutil when it is installed (as in the other benchmarks' ws+addons
 * column): the reference column is named for what ran.
 */
const REFERENCE = addons ? 'ws+addons' : 'ws';
/** The parser's limit: one process parsing from memory, no I/O. */
const LIMIT = { by: 'parser', note: 'one process parsing from memory, no I/O: the parser itself' };

const gc = globalThis.gc ?? (() => {});

/** Deterministic filler so runs are comparable; content does not matter for binary frames. */
function payloadOf(size) {
  const payload = new Uint8Array(size);
  let x = 0x12345678;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    payload[i] = x & 0xff;
  }
  return payload;
}

/** The whole stream of `frames` binary frames, masked with varying keys when `masked`. */
function buildStream(size, frames, masked) {
  const payload = payloadOf(size);
  const mask = new Uint8Array(4);
  const parts = [];
  let length = 0;
  for (let i = 0; i < frames; i++) {
    if (masked) {
      mask[0] = i;
      mask[1] = i >>> 8;
      mask[2] = 0x5a;
      mask[3] = 0xa5;
    }
    for (const part of encodeFrame(0x2, payload, { mask: masked ? mask : undefined })) {
      parts.push(part);
      length += part.length;
    }
  }
  const stream = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    stream.set(part, offset);
    offset += part.length;
  }
  return stream;
}

/**
 * A fresh copy of `stream` cut into socket-sized chunks: Buffers for ws
 * (it relies on Buffer methods), plain Uint8Arrays for ours. Both are views
 * into one new ArrayBuffer, so neither pays for allocation while timed.
 */
function freshChunks(stream, asBuffer) {
  const copy = new ArrayBuffer(stream.length);
  new Uint8Array(copy).set(stream);
  const chunks = [];
  for (let offset = 0; offset < stream.length; offset += CHUNK_SIZE) {
    const length = Math.min(CHUNK_SIZE, stream.length - offset);
    chunks.push(
      asBuffer ? Buffer.from(copy, offset, length) : new Uint8Array(copy, offset, length),
    );
  }
  return chunks;
}

/** Times one pass of `chunks` through our parser; returns [seconds, messages, bytes]. */
function runOurs(chunks, masked) {
  let messages = 0;
  let bytes = 0;
  const assembler = new MessageAssembler(
    {
      onMessage(data) {
        messages++;
        bytes += data.length;
      },
      onControlFrame() {},
    },
    { maxPayload: MAX_PAYLOAD },
  );
  const parser = new FrameParser(assembler, { expectMasked: masked });
  const start = process.hrtime.bigint();
  for (let i = 0; i < chunks.length; i++) parser.push(chunks[i]);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return [seconds, messages, bytes];
}

/** Times one pass of `chunks` through ws's Receiver; returns [seconds, messages, bytes]. */
function runWs(chunks, masked) {
  let messages = 0;
  let bytes = 0;
  let failure = null;
  const receiver = new Receiver({ isServer: masked, maxPayload: MAX_PAYLOAD });
  receiver.on('message', (data) => {
    messages++;
    bytes += data.length;
  });
  receiver.on('error', (error) => {
    failure = error;
  });
  const start = process.hrtime.bigint();
  for (let i = 0; i < chunks.length; i++) receiver.write(chunks[i]);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (failure) throw failure;
  return [seconds, messages, bytes];
}

/**
 * Runs one point in this process; returns the frames/s of every timed run of
 * both parsers. With `warmUpOnly`, just exercises the code on a smaller input.
 */
function measure(size, masked, warmUpOnly = false) {
  const perRun = warmUpOnly ? BYTES_PER_RUN / 8 : BYTES_PER_RUN;
  const maxFrames = warmUpOnly ? MAX_FRAMES_PER_RUN / 8 : MAX_FRAMES_PER_RUN;
  const frames = Math.max(1, Math.min(maxFrames, Math.floor(perRun / size)));
  const stream = buildStream(size, frames, masked);
  const samples = { ours: [], ws: [] };
  const runners = { ours: runOurs, ws: runWs };
  const runs = warmUpOnly ? 2 : WARMUP_RUNS + RUNS;
  for (let run = 0; run < runs; run++) {
    const order = run % 2 ? ['ws', 'ours'] : ['ours', 'ws'];
    for (const name of order) {
      const chunks = freshChunks(stream, name === 'ws');
      gc();
      const [seconds, messages, bytes] = runners[name](chunks, masked);
      if (messages !== frames || bytes !== frames * size) {
        throw new Error(`${name} delivered ${messages} messages / ${bytes} bytes, not ${frames}`);
      }
      if (!warmUpOnly && run >= WARMUP_RUNS) samples[name].push(frames / seconds);
    }
  }
  return { size, masked, frames, samples };
}

/** One child process: every point, after a warm-up pass over all of them. */
function child() {
  // Both parsers see every frame size before anything is timed, so the first
  // point is not measured while the JIT is still settling on shapes.
  for (const size of SIZES) for (const masked of [true, false]) measure(size, masked, true);
  const points = [];
  for (const size of SIZES) for (const masked of [true, false]) points.push(measure(size, masked));
  process.stdout.write(JSON.stringify(points));
}

/** Median and spread (half the interquartile range, relative) of pooled samples. */
function summarise(rates, perProcess, size) {
  const framesPerSecond = quantile(rates, 0.5);
  return {
    framesPerSecond,
    megabytesPerSecond: (framesPerSecond * size) / 1e6,
    spread: (quantile(rates, 0.75) - quantile(rates, 0.25)) / 2 / framesPerSecond,
    processMedians: perProcess.map((list) => quantile(list, 0.5)),
  };
}

// ---- report ----------------------------------------------------------------

function formatMegabytes(value) {
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

function section(points, elapsed) {
  const direction = (point) => (point.masked ? 'masked (server)' : 'unmasked (client)');
  const rows = points.map((point) => {
    const ratio = point.ours.framesPerSecond / point.ws.framesPerSecond;
    return (
      `| ${formatSize(point.size)} | ${direction(point)} ` +
      `| ${formatRate(point.ours.framesPerSecond)} | ${formatMegabytes(point.ours.megabytesPerSecond)} ` +
      `| ${formatSpread(point.ours.spread)} ` +
      `| ${formatRate(point.ws.framesPerSecond)} | ${formatMegabytes(point.ws.megabytesPerSecond)} ` +
      `| ${formatSpread(point.ws.spread)} | **${ratio.toFixed(2)}×** |`
    );
  });
  // Points where the processes disagree by more than 1.5×: the median hides two modes.
  const unstable = [];
  for (const point of points) {
    for (const name of ['ours', 'ws']) {
      const medians = point[name].processMedians;
      if (Math.max(...medians) > 1.5 * Math.min(...medians)) {
        unstable.push(
          `- ${formatSize(point.size)} ${direction(point)}, ${name === 'ws' ? REFERENCE : name}: per-process medians ` +
            `${medians.map((m) => `${formatRate(m)}frames/s`).join(', ')}.`,
        );
      }
    }
  }
  return [
    '## Parser',
    '',
    '<!-- Written by bench/parser.bench.mjs (`pnpm bench`); edits here are overwritten. -->',
    '',
    `Measured ${now()} UTC in ${elapsed.toFixed(0)} s.`,
    '',
    ...machineLines([REFERENCE]),
    `- Binary frames (no UTF-8 validation) fed in ${CHUNK_SIZE / 1024} KiB chunks, ` +
      `up to ${BYTES_PER_RUN / (1024 * 1024)} MiB or ${MAX_FRAMES_PER_RUN.toLocaleString('en')} frames per run. ` +
      `${PROCESSES} fresh Node processes, each with a warm-up pass over every point, then per point ` +
      `${WARMUP_RUNS} warm-up runs and ${RUNS} timed runs; the table gives the median of the ` +
      `${PROCESSES * RUNS} pooled runs, and spread is ±half their interquartile range, relative to the median.`,
    '- Ours: `FrameParser` + `MessageAssembler` from the built `@proj/protocol`; ' +
      `${REFERENCE}: ` +
      '`Receiver` with synchronous events. Both get a fresh copy of the input for every run ' +
      '(both unmask in place), copied outside the timed region. MB/s counts payload bytes (10^6).',
    '',
    `| payload | direction | ours frames/s | ours MB/s | ours spread | ${REFERENCE} frames/s | ${REFERENCE} MB/s | ${REFERENCE} spread | ours/${REFERENCE} |`,
    '|---|---|--:|--:|--:|--:|--:|--:|--:|',
    ...rows,
    '',
    ...(unstable.length > 0
      ? [
          'Processes that disagree by more than 1.5× (V8 settling on a different optimisation, ' +
            'or other load on the machine):',
          '',
          ...unstable,
          '',
        ]
      : []),
  ].join('\n');
}

function parent() {
  const began = process.hrtime.bigint();
  const runs = [];
  for (let i = 0; i < PROCESSES; i++) {
    const result = spawnSync(
      process.execPath,
      ['--expose-gc', fileURLToPath(import.meta.url), '--child'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 },
    );
    if (result.status !== 0) throw new Error(`Benchmark process ${i + 1} failed`);
    runs.push(JSON.parse(result.stdout));
    console.log(`process ${i + 1}/${PROCESSES} done`);
  }
  const points = runs[0].map(({ size, masked, frames }, index) => {
    const pooled = (name) => runs.flatMap((run) => run[index].samples[name]);
    const perProcess = (name) => runs.map((run) => run[index].samples[name]);
    return {
      size,
      masked,
      frames,
      ours: summarise(pooled('ours'), perProcess('ours'), size),
      ws: summarise(pooled('ws'), perProcess('ws'), size),
    };
  });
  for (const point of points) {
    const byProcess = (stats) => stats.processMedians.map(formatRate).join(' / ');
    console.log(
      `${formatSize(point.size).padStart(7)} ${point.masked ? 'masked  ' : 'unmasked'}  ` +
        `ours ${formatRate(point.ours.framesPerSecond)}frames/s ` +
        `${formatMegabytes(point.ours.megabytesPerSecond)} MB/s  ` +
        `ws ${formatRate(point.ws.framesPerSecond)}frames/s ` +
        `${formatMegabytes(point.ws.megabytesPerSecond)} MB/s  ` +
        `ours/ws ${(point.ours.framesPerSecond / point.ws.framesPerSecond).toFixed(2)}  ` +
        `(per process: ours ${byProcess(point.ours)}; ws ${byProcess(point.ws)})`,
    );
  }
  const elapsed = Number(process.hrtime.bigint() - began) / 1e9;
  writeSection('Parser', section(points, elapsed));
  writeEntries(
    'Parser',
    points.map((point) => ({
      point: `${formatSize(point.size)}, ${point.masked ? 'masked (server)' : 'unmasked (client)'}`,
      metric: 'frames/s',
      unit: 'frames/s',
      better: 'higher',
      ours: point.ours.framesPerSecond,
      ws: point.ws.framesPerSecond,
      against: REFERENCE,
      limit: LIMIT,
    })),
    {
      seconds: Math.round(elapsed),
      runs: PROCESSES * RUNS,
      generator: 'none: each parser fed from memory in one process',
    },
  );
  console.log(`Wrote ${RESULTS} and results.json`);
}

if (!globalThis.gc) console.warn('Run with --expose-gc for steadier numbers.');
if (process.argv.includes('--child')) child();
else parent();
