// Where a message's time goes (issue 21): our echo server and uWebSockets.js's
// under the same echo load, profiled, each message's time split into buckets.
//
//   node profile.mjs                  # packages already built
//   BENCH_SECONDS=4 node profile.mjs
//
// For each size (16 B and 1 KiB, 100 connections × 16 in flight, the load of
// echo.bench.mjs's first rows from gen/echo.c), with the server pinned to
// core 0 and the generator to core 1:
//
// 1. `node --cpu-prof` of our server (echo/servers.mjs "ours"). The samples
//    of the generator's measured window are split by the function on top of
//    the stack: Node's native write/writev binding, the C++/libuv time V8 sees as
//    "(program)" (reads, the stream glue), Node's JavaScript stream layer,
//    our parser, our framing and send path, dispatch (the transport's
//    receive, ServerWebSocket, EventEmitter, the handler), GC, and idle. Our
//    functions are told apart by the `// src/<file>.ts` module comments that
//    tsup leaves in the bundles, so no source maps are needed.
// 2. Where `perf` works: `perf stat` of the server's system calls (calls per
//    message) and, in the same window, `perf record -g` (cpu-clock, call chains) of
//    ours (with --perf-basic-prof, so that JIT code has names) and of uWS,
//    split the same way for both: kernel time by the system call it serves
//    (a loopback send also runs the peer's TCP receive), user time by the
//    first frame up the chain that says what the work was for (V8's builtins
//    and runtime, malloc and free count for their caller).
//
// The profilers slow the servers down (the rates they reached are printed
// next to the buckets): read the buckets as shares of a message's time, the
// Echo section of RESULTS.md for the speeds. Writes "## Profile" into
// RESULTS.md (or BENCH_RESULTS_DIR); artefacts stay in a temporary directory.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import {
  benchFile,
  cpuSeconds,
  hasTaskset,
  nativeGenerator,
  pinned,
  runGenerator,
  secondsOr,
  sleep,
  spawnControlled,
  uwsNote,
  uwsServers,
} from './lib/harness.mjs';
import { formatRate, formatSize, sectionHead, writeSection } from './lib/results.mjs';

const UWS_SERVERS = uwsServers();
const UWS_NOTE = uwsNote();

const SIZES = [16, 1024];
const CONNECTIONS = 100;
const INFLIGHT = 16;
const SECONDS = secondsOr(3);
/** The generator's warm-up (gen/echo.c's WARMUP) plus a margin. */
const WARMUP = 0.7;
/** --cpu-prof-interval, µs: finer than the default 1 ms, for a few thousand samples per window. */
const INTERVAL = 250;
const FREQUENCY = 2000;
/** Seconds the generator runs on after perf's window: perf starts slowly on a busy machine. */
const MARGIN = 12;

const NATIVE = nativeGenerator('echo');
const GENERATOR = NATIVE ?? 'gen/echo.mjs';
const hasPerf = spawnSync('perf', ['stat', '-e', 'task-clock', 'true']).status === 0;
const dir = mkdtempSync(join(os.tmpdir(), 'proj-profile-'));
if (UWS_NOTE) console.warn(`${UWS_NOTE} Profiling ours only.`);
if (!hasPerf) console.warn('perf is not available here: the cpu-prof profile of ours only.');

/** The bundles whose functions are ours, and which source file each line came from. */
const BUNDLES = ['protocol', 'server'].map((name) => {
  const path = benchFile(`../packages/${name}/dist/index.js`);
  const starts = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, index) => {
      const match = /^\/\/ (?:\.\.\/\w+\/)?src\/([\w-]+)\.ts$/.exec(line);
      if (match) starts.push([index, match[1]]);
    });
  return { name, path, starts };
});

/** The source module (e.g. "frame-parser") of a 0-based line of one of our bundles, or null. */
function moduleOf(url, line) {
  const bundle = BUNDLES.find((b) => url.endsWith(b.path));
  if (!bundle) return null;
  let module = null;
  for (const [start, name] of bundle.starts) {
    if (start > line) break;
    module = name;
  }
  return module;
}

const BUCKETS = [
  'socket write (native write/writev binding + syscall)',
  'reads, libuv, C++ glue ("(program)")',
  'Node stream layer (JS)',
  'our parser',
  'our framing + send path',
  'dispatch (transport receive, ServerWebSocket, EventEmitter, handler)',
  'GC',
  'other',
  'idle',
];
const [WRITEV, PROGRAM, STREAM, PARSER, FRAMING, DISPATCH, GC, OTHER, IDLE] = BUCKETS;

const PARSER_MODULES = new Set([
  'frame-parser',
  'message-assembler',
  'mask',
  'mask-simd',
  'utf8',
  'bytes',
]);
const FRAMING_MODULES = new Set(['frame', 'send-queue']);
const RECEIVE = /^(receive|deliver|onControlFrame|hold|release|pause|resume|#receive)/;
const TRANSPORT_RECEIVE =
  /^(onSocketData|receive|#countInput|#cork|onMessage|#resumeReading|#runAfterTasks)$/;

/** Bucket of one of our functions, by source module and name. */
function ourBucket(module, name) {
  if (PARSER_MODULES.has(module)) return PARSER;
  if (FRAMING_MODULES.has(module)) return FRAMING;
  if (module === 'connection') {
    if (name === 'onMessage') return DISPATCH;
    return RECEIVE.test(name) ? PARSER : FRAMING;
  }
  if (module === 'socket-transport' || module === 'memory-budget') {
    return TRANSPORT_RECEIVE.test(name) ? DISPATCH : FRAMING;
  }
  return DISPATCH;
}

/** Bucket of a --cpu-prof call frame (the function on top of the stack). */
function frameBucket({ functionName: name, url, lineNumber }) {
  if (name === '(idle)') return IDLE;
  if (name === '(garbage collector)') return GC;
  if (name === '(program)') return PROGRAM;
  if (url === '' && /^write(v|Buffer|Utf8String|Latin1String|AsciiString)$/.test(name)) {
    return WRITEV;
  }
  const module = moduleOf(url, lineNumber);
  if (module) return ourBucket(module, name);
  if (url.endsWith('echo/servers.mjs') || url === 'node:events') return DISPATCH;
  if (/^node:(net|stream|buffer|internal\/(streams?|stream_base_commons|buffer))/.test(url)) {
    return STREAM;
  }
  if (url === '' && /Buffer|^slice$/.test(name)) return STREAM;
  return OTHER;
}

/**
 * Splits the samples of `profile` (a .cpuprofile) taken between `from` and `to` (µs of the
 * monotonic clock V8 stamps them with, as process.hrtime) into BUCKETS.
 * @returns `{ shares: { bucket: share of the window }, samples, top }`, top: the 12 busiest
 *   functions outside idle, as "name (file) share".
 */
function splitProfile(profile, from, to) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const counts = Object.fromEntries(BUCKETS.map((b) => [b, 0]));
  const byFunction = new Map();
  let time = profile.startTime;
  let samples = 0;
  profile.samples.forEach((id, i) => {
    time += profile.timeDeltas[i];
    if (time < from || time > to) return;
    const frame = nodes.get(id).callFrame;
    const bucket = frameBucket(frame);
    counts[bucket]++;
    samples++;
    if (bucket !== IDLE) {
      const module = moduleOf(frame.url, frame.lineNumber);
      const where = module ?? (frame.url.replace(/^.*\//, '') || 'native');
      const key = `${frame.functionName || '(anonymous)'} (${where})`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + 1);
    }
  });
  const shares = Object.fromEntries(BUCKETS.map((b) => [b, counts[b] / samples]));
  const top = [...byFunction]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([key, count]) => `${key} ${((count / samples) * 100).toFixed(1)}%`);
  return { shares, samples, top };
}

/** Runs `command args` to completion; resolves with its stderr and stdout. */
function run([command, args]) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    // 'close': stdout and stderr are read to their end by then, not at 'exit'.
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

/** An echo server of echo/servers.mjs on core 0 with `nodeArgs`, listening. */
async function start(kind, nodeArgs) {
  const server = spawnControlled('0', benchFile('echo/servers.mjs'), [kind, '0'], { nodeArgs });
  const port = Number(await server.next('READY', 30_000));
  return { ...server, port, pid: server.child.pid };
}

/** Step 1: our server under --cpu-prof; the buckets of the generator's measured window. */
async function cpuProfile(size) {
  const name = `ours-${size}.cpuprofile`;
  const server = await start('ours', [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    `--cpu-prof-name=${name}`,
    `--cpu-prof-interval=${INTERVAL}`,
  ]);
  let result, end, cpu;
  try {
    const before = cpuSeconds(server.pid);
    result = await runGenerator(GENERATOR, [server.port, CONNECTIONS, INFLIGHT, size, SECONDS]);
    end = Number(process.hrtime.bigint() / 1000n);
    cpu = cpuSeconds(server.pid) - before;
  } finally {
    // SIGTERM: the server exits, and Node writes the profile as it does.
    await server.stop();
  }
  const profile = JSON.parse(readFileSync(join(dir, name), 'utf8'));
  // The generator's window is its last SECONDS; keep 50 ms clear of either edge.
  const to = end - 50_000;
  const from = end - SECONDS * 1e6 + 50_000;
  const split = splitProfile(profile, from, to);
  const messages = (result.rate * (to - from)) / 1e6;
  const wall = (to - from) / messages;
  return {
    ...split,
    rate: result.rate,
    generatorCpu: result.cpu,
    wall,
    // CPU time over the whole generator run (warm-up included) per message it echoed.
    cpuPerMessage: (cpu / result.total) * 1e6,
    micros: Object.fromEntries(BUCKETS.map((b) => [b, split.shares[b] * wall])),
  };
}

const SYSCALLS = [
  'read',
  'readv',
  'recvfrom',
  'write',
  'writev',
  'sendto',
  'sendmsg',
  'epoll_wait',
  'epoll_pwait',
  'epoll_ctl',
];

const PERF_BUCKETS = [
  'kernel: send syscalls (write/writev/sendto, with the loopback delivery)',
  'kernel: receive syscalls (read/recvfrom)',
  'kernel: epoll, interrupts, scheduling, other',
  'event loop + syscall wrappers (libuv or uSockets, libc)',
  'Node stream layer (JS and C++)',
  'parser',
  'framing + send path',
  'dispatch into JS + handler',
  'GC',
  'malloc/free, caller not on the chain',
  'other user (V8 runtime not placed, other JS)',
];
const [
  K_SEND,
  K_RECV,
  K_OTHER,
  LOOP,
  P_STREAM,
  P_PARSER,
  P_FRAMING,
  P_DISPATCH,
  P_GC,
  P_ALLOC,
  P_OTHER,
] = PERF_BUCKETS;
/** The cpu-prof buckets of our functions, as perf buckets. */
const FROM_CPU_PROF = new Map([
  [STREAM, P_STREAM],
  [PARSER, P_PARSER],
  [FRAMING, P_FRAMING],
  [DISPATCH, P_DISPATCH],
  [OTHER, P_OTHER],
]);

const GC_SYMBOL =
  /Heap::|Scaveng|MarkCompact|GCTracer|SweepingJob|(?<!ArrayBuffer)Sweeper::|ConcurrentMarking|IncrementalMarking|MinorMC|Evacuat/;
const NODE_STREAM =
  /^node::(StreamBase|LibuvStreamWrap|EmitToJSStreamListener|StreamResource|StreamReq|WriteWrap|Buffer|CustomBufferJSListener|TCPWrap|ConnectionWrap)/;
/** Node's own executable (not a .node addon such as uWS's). */
const NODE_BINARY = /(^|\/)node$/;
const SYSCALL_WRAPPER =
  /^(__send|__libc_recv|__libc_read|read|__GI___writev|writev|__libc_write|write|epoll_wait|epoll_pwait|__GI_epoll_pwait)$/;

/** A JIT frame of --perf-basic-prof ("JS:*name url:line:col") placed like cpu-prof frames. */
function jitBucket(symbol) {
  const match = /^JS:[*~^]?(\S*) (.*):(\d+):(\d+)$/.exec(symbol);
  if (!match) return P_OTHER;
  const [, name, url, line] = match;
  const bucket = frameBucket({
    functionName: name,
    url: url.replace(/^file:\/\//, ''),
    lineNumber: Number(line) - 1,
  });
  return FROM_CPU_PROF.get(bucket) ?? P_OTHER;
}

/**
 * uWS's own C++, placed by symbol name (its binary has only dynamic symbols, much is inlined
 * into the socket's data handler): approximate.
 */
function uwsBucket(symbol) {
  if (/^(\[unknown\]|0x)/.test(symbol)) return P_OTHER;
  if (/^(us_|bsd_)|loop/.test(symbol)) return LOOP;
  if (/send|cork|write|formatMessage|AsyncSocket/i.test(symbol)) return P_FRAMING;
  if (/large_handler|uWS_App_ws|Callback|Wrapper/.test(symbol)) return P_DISPATCH;
  // The data handler (WebSocketContext's lambda) with the frame parser and unmasking inlined.
  return P_PARSER;
}

/**
 * Bucket of one perf sample from its call chain (leaf first, `{ symbol, dso }`): kernel time by
 * the system call it serves; user time by the first frame up the chain that says what the work
 * was for (V8's builtins and runtime, malloc and free count for their caller).
 */
function chainBucket(frames) {
  const [leaf] = frames;
  if (leaf.dso === '[kernel.kallsyms]') {
    // The system call's entry in the kernel's part of the chain; else (a sample taken as the
    // call returns, where a paravirtualised kernel re-enables interrupts and the timer's sample
    // lands) the libc wrapper that made it.
    // Where the kernel inlined the syscall's entry, its ksys_/do_ helper names it
    // (ksys_write, do_writev, ksys_read). Libc's names come as `__GI___writev`,
    // `__GI___libc_write`, `__libc_recv` or `read`.
    const call =
      frames.map((f) => /^(?:__x64_sys_|ksys_|do_)(\w+)$/.exec(f.symbol)?.[1]).find(Boolean) ??
      frames
        .filter((f) => /libc/.test(f.dso))
        .map((f) => f.symbol.replace(/^(?:__GI_)?_*(?:libc_)?/, ''))
        .find(Boolean);
    if (/^(writev|write|send|sendto|sendmsg)$/.test(call)) return K_SEND;
    if (/^(read|readv|recv|recvfrom|recvmsg)$/.test(call)) return K_RECV;
    return K_OTHER;
  }
  for (const frame of frames) {
    const { symbol, dso } = frame;
    if (symbol.startsWith('JS:')) return jitBucket(symbol);
    if (/uws_/.test(dso)) return NODE_BINARY.test(leaf.dso) ? P_DISPATCH : uwsBucket(symbol);
    if (/libc/.test(dso)) {
      if (frame === leaf && SYSCALL_WRAPPER.test(symbol)) return LOOP;
      continue;
    }
    if (NODE_BINARY.test(dso)) {
      if (GC_SYMBOL.test(symbol)) return P_GC;
      if (NODE_STREAM.test(symbol)) return P_STREAM;
      if (/^uv_|^uv__/.test(symbol)) return LOOP;
    }
  }
  // libc has no frame pointers: a malloc or free whose caller the chain lost.
  return /libc/.test(leaf.dso) && /alloc|free|chunk|consolidate|tcache/.test(leaf.symbol)
    ? P_ALLOC
    : P_OTHER;
}

/** The samples of `perf script` output (with call chains), by bucket. */
function splitPerfScript(text) {
  const samples = Object.fromEntries(PERF_BUCKETS.map((b) => [b, 0]));
  let total = 0;
  for (const block of text.split(/\n\s*\n/)) {
    const frames = block
      .split('\n')
      .map((line) => /^\s+[0-9a-f]+ (.*) \((.*)\)$/.exec(line))
      .filter(Boolean)
      .map(([, symbol, dso]) => ({ symbol: symbol.replace(/\+0x[0-9a-f]+$/, ''), dso }));
    if (frames.length === 0) continue;
    samples[chainBucket(frames)]++;
    total++;
  }
  return { samples, total };
}

/**
 * Step 2: `perf stat` (system calls, task-clock) and `perf record -g` of a server of `kind`, both
 * over the same window of one generator run.
 */
async function perfProfile(kind, size) {
  const server = await start(kind, kind === 'ours' ? ['--perf-basic-prof'] : []);
  // perf stat and perf record attach together, after the warm-up; the generator runs on for
  // a margin (perf can take a while to start on a busy machine), checked below.
  let generatorDone = false;
  const generator = runGenerator(GENERATOR, [
    server.port,
    CONNECTIONS,
    INFLIGHT,
    size,
    WARMUP + SECONDS + MARGIN,
  ]).then((result) => {
    generatorDone = true;
    return result;
  });
  try {
    await sleep(WARMUP * 1000);
    const events = [
      'task-clock',
      'raw_syscalls:sys_enter',
      ...SYSCALLS.map((call) => `syscalls:sys_enter_${call}`),
    ];
    const pid = String(server.pid);
    const data = join(dir, `${kind}-${size}.perf.data`);
    const [stat] = await Promise.all([
      run(
        pinned('1', 'perf', [
          'stat',
          '-x',
          ',',
          '-e',
          events.join(','),
          '-p',
          pid,
          '--',
          'sleep',
          String(SECONDS),
        ]),
      ),
      run(
        pinned('1', 'perf', [
          'record',
          '-g',
          '-F',
          String(FREQUENCY),
          '-p',
          pid,
          '-o',
          data,
          '--',
          'sleep',
          String(SECONDS),
        ]),
      ),
    ]);
    if (generatorDone) {
      throw new Error(
        `the generator ended before perf did (${kind}, ${formatSize(size)}): the machine is too busy`,
      );
    }
    return await analyse(await generator, stat, data);
  } finally {
    await server.stop();
  }
}

/** The buckets and system calls of one perf window (perfProfile). */
function analyse(result, stat, data) {
  const counted = Object.fromEntries(
    stat.err
      .trim()
      .split('\n')
      .map((line) => line.split(','))
      .filter((fields) => fields.length > 3)
      .map((fields) => [fields[2].replace(/^.*sys_enter_?/, '') || 'all', Number(fields[0])]),
  );
  const messages = result.rate * SECONDS;
  const script = spawnSync('perf', ['script', '-i', data, '-F', 'comm,ip,sym,dso'], {
    encoding: 'utf8',
    maxBuffer: 512 * 2 ** 20,
  });
  const { samples, total } = splitPerfScript(script.stdout);
  const taskClock = counted['task-clock'] / 1e3; // ms → s
  return {
    rate: result.rate,
    generatorCpu: result.cpu,
    wall: 1e6 / result.rate,
    cpu: (taskClock / messages) * 1e6,
    syscalls: Object.fromEntries(
      [['all', counted.all], ...SYSCALLS.map((call) => [call, counted[call]])]
        .filter(([, count]) => count > 0)
        .map(([call, count]) => [call, count / messages]),
    ),
    // Samples per bucket, scaled to the CPU time per message that task-clock measured.
    micros: Object.fromEntries(
      PERF_BUCKETS.map((b) => [
        b,
        total > 0 ? (samples[b] / total) * ((taskClock / messages) * 1e6) : NaN,
      ]),
    ),
    samples: total,
  };
}

const began = Date.now();
const results = [];
for (const size of SIZES) {
  const profile = await cpuProfile(size);
  console.log(
    `cpu-prof ours ${formatSize(size)}: ${formatRate(profile.rate)}msg/s, ${profile.wall.toFixed(2)} µs/msg wall, ` +
      BUCKETS.map((b) => `${b} ${profile.micros[b].toFixed(2)}`).join(', '),
  );
  const perf = {};
  if (hasPerf) {
    for (const kind of ['ours', ...UWS_SERVERS.map((s) => s.kind)]) {
      // One more try where a busy machine delayed perf past the generator's run.
      perf[kind] = await perfProfile(kind, size).catch((error) => {
        console.warn(`${error.message}; once more`);
        return perfProfile(kind, size);
      });
      console.log(
        `perf ${kind} ${formatSize(size)}: ${formatRate(perf[kind].rate)}msg/s, ${perf[kind].cpu.toFixed(2)} µs CPU/msg, ` +
          `syscalls/msg ${JSON.stringify(perf[kind].syscalls)}`,
      );
    }
  }
  results.push({ size, profile, perf });
}

const us = (value) => (Number.isFinite(value) ? value.toFixed(2) : '—');
const names = { ours: 'ours', uws: 'uWS' };
const kinds = hasPerf ? ['ours', ...UWS_SERVERS.map((s) => s.kind)] : [];
const lines = [
  ...sectionHead(
    'Profile',
    'profile.mjs',
    (Date.now() - began) / 1000,
    UWS_SERVERS.map((s) => s.name),
    {
      command: '`node bench/profile.mjs`, not part of `pnpm bench`',
    },
  ),
  ...(UWS_NOTE ? [`- ${UWS_NOTE}`] : []),
  ...(hasPerf
    ? []
    : ['- `perf` is not available on this machine: no system-call counts, no profile of uWS.']),
  `- ${hasTaskset ? 'Server pinned to core 0, the load generator to core 1' : 'Not pinned (taskset unavailable)'}; ` +
    `${NATIVE ? 'gen/echo.c' : 'gen/echo.mjs (no C compiler)'}, ${CONNECTIONS} connections × ${INFLIGHT} in flight, ` +
    `${SECONDS} s windows after a warm-up. The profilers slow the servers: rates here are not the Echo section's.`,
  `- **cpu-prof** (\`node --cpu-prof --cpu-prof-interval ${INTERVAL}\`, ours only): each message's wall time ` +
    "(1 / rate) split by the share of samples whose top frame falls in each bucket; our functions are placed by the `// src/<file>.ts` markers of the bundles. Idle is the server's thread waiting in epoll.",
  ...(hasPerf
    ? [
        `- **perf** (\`perf record -g -F ${FREQUENCY}\`, cpu-clock; ours with \`--perf-basic-prof\`): each ` +
          "message's CPU time (`perf stat` task-clock / messages) split by the share of samples in each bucket. " +
          'Kernel samples go by the system call on their chain (a loopback send also runs the TCP receive of the ' +
          'peer, in softirq, before it returns); user samples by the first frame up the chain that says what the ' +
          "work was for: V8's builtins and runtime, malloc and free count for their caller. Our JIT frames are " +
          "placed as in cpu-prof; uWS's C++ by its symbol names (stripped binary, much inlined into the socket's " +
          'data handler, which is counted as parser): approximate. In uWS, "dispatch" includes the ArrayBuffer ' +
          'it creates and detaches per message to hand the bytes to JavaScript.',
      ]
    : []),
  '',
  `| cpu-prof, ours: µs per message | ${SIZES.map(formatSize).join(' | ')} |`,
  `|---|${SIZES.map(() => '--:').join('|')}|`,
  `| rate under the profiler | ${results.map((r) => `${formatRate(r.profile.rate)}msg/s`).join(' | ')} |`,
  ...BUCKETS.map(
    (b) =>
      `| ${b} | ${results.map((r) => `${us(r.profile.micros[b])} (${(r.profile.shares[b] * 100).toFixed(0)}%)`).join(' | ')} |`,
  ),
  `| **wall time per message** | ${results.map((r) => `**${us(r.profile.wall)}**`).join(' | ')} |`,
  `| CPU time per message (/proc) | ${results.map((r) => us(r.profile.cpuPerMessage)).join(' | ')} |`,
  `| samples in the window | ${results.map((r) => r.profile.samples).join(' | ')} |`,
  '',
  ...results.flatMap((r) => [
    `Busiest functions, ${formatSize(r.size)} (share of all samples, idle included): ${r.profile.top.join('; ')}.`,
    '',
  ]),
];
if (kinds.length > 0) {
  const columns = SIZES.flatMap((size) =>
    kinds.map((kind) => `${names[kind]} ${formatSize(size)}`),
  );
  const cell = (fn) => results.flatMap((r) => kinds.map((kind) => fn(r.perf[kind])));
  lines.push(
    `| perf: µs per message | ${columns.join(' | ')} |`,
    `|---|${columns.map(() => '--:').join('|')}|`,
    `| rate under perf | ${cell((p) => `${formatRate(p.rate)}msg/s`).join(' | ')} |`,
    ...PERF_BUCKETS.map((b) => `| ${b} | ${cell((p) => us(p.micros[b])).join(' | ')} |`),
    `| **CPU time per message** | ${cell((p) => `**${us(p.cpu)}**`).join(' | ')} |`,
    `| idle per message (wall − CPU) | ${cell((p) => us(p.wall - p.cpu)).join(' | ')} |`,
    `| samples | ${cell((p) => p.samples).join(' | ')} |`,
    `| system calls per message | ${cell((p) => us(p.syscalls.all)).join(' | ')} |`,
    ...SYSCALLS.filter((call) =>
      results.some((r) => kinds.some((k) => r.perf[k].syscalls[call])),
    ).map((call) => `| — ${call} | ${cell((p) => us(p.syscalls[call] ?? 0)).join(' | ')} |`),
    '',
  );
}
writeSection('Profile', lines.join('\n'));
console.log(`Wrote ## Profile; profiles in ${dir}`);
