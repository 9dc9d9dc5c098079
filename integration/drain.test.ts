/**
 * Issue 17, point 2: draining without a stampede.
 *
 *   clients ──> node a ──(server.drain: 1012 "retry-after=0", one by one over the window)
 *      │                                       └── sessions suspended, in redis-server
 *      └──────> node b   (the clients' URL provider points here once a drains)
 *
 * N clients (Node `ReconnectingWebSocket`s with a session, the chaos test's
 * `ChaosClient`, every message judged as it arrives) run in `DRAIN_RUNNERS`
 * child processes (`drain/client-runner.mjs`, default 4), not in this one:
 * 5,000 here stalled it for hundreds of ms, and a stalled client process
 * releases its reconnects in a bunch whatever the drain does. They open
 * their sessions on node a (`chaos/node.mjs`, the built packages,
 * RedisSessionStore on a real Redis) and stream both ways: each sends
 * `c:<n>` every `DRAIN_SEND_MS`, the node echoes it and ticks as often. Node a
 * is drained over the window; every client resumes its session on node b.
 * Then the contrast: node a is started again and node b closed the old way
 * (`server.close()`: everyone at once, 1001, no hint). At the end every
 * stream comes to rest and both ends are compared, as in the chaos test:
 * every message exactly once and in order, both ways, and no session lost.
 *
 * The rate: node b's arrivals (its `session` events), counted in buckets
 * from the first to the last; peak over average, the average taken over the
 * span (the last bucket is partial). The issue asks for at most 1.5;
 * `DRAIN_TARGET=1.5` asserts it in reconnects per second (1 s buckets,
 * `DRAIN_TARGET_BUCKET_MS`), and the 100 ms and 500 ms views are printed
 * beside it. Why a second: at the full size a 100 ms bucket holds 50
 * arrivals, and a pause of 100 to 200 ms in any one of the seven processes
 * sharing this box's two cores (a scavenge in a client runner, the
 * scheduler giving b's core to another) makes a peak of 2 or more there,
 * whatever the drain does.
 *
 * To tell where a bunch comes from, each stage is counted in 100 ms
 * buckets from the drain's start (`timeline` in the report): node a
 * starting each close (`drain/node-probe.mjs`, preloaded into the nodes:
 * the library's schedule), the clients getting their 1012, their retry
 * timers coming due (close + the delay they chose), node b completing their
 * handshakes, then their sessions; beside them, the longest event-loop
 * delay of every process per bucket. Under other jobs' load (load 10 to
 * 20), node a's and node b's stalls ran to 0.4 to 1.5 s and node b
 * completed about 10 handshakes a second while 100 retries a second came
 * due, catching up once node a exited (peak over average 7 to 27 in 100 ms
 * buckets).
 *
 * So what is asserted by default is what the library answers for, however
 * loaded the machine: node a started every close through the drain, over
 * the window, never faster than its catch-up allows (`CATCH_UP_RATE`) in
 * any 100 ms or 1 s. The arrival rate on b is printed, both runs'.
 *
 * The clients' backoff is `minDelay` 100 ms (factor 2): after the hint's
 * floor of 0 each waits a jitter in [0, 100 ms), so the arrivals follow the
 * drain's schedule at the scale of the buckets. With the default
 * `minDelay` of 1 s the jitter smooths them over a second instead.
 *
 * Size, from the environment: `DRAIN_CLIENTS` (default 500) and
 * `DRAIN_SECONDS`, the window (default 3). `DRAIN_SEND_MS` (default 1000)
 * spaces each client's sends and each session's ticks. `pnpm drain` is the
 * issue's full run (it builds first): 5,000 clients over 10 s, sends every
 * 5 s, `DRAIN_TARGET=1.5`. Sends every second at that size are 10,000
 * messages a second through two nodes, Redis and the clients on two cores,
 * more than this box carries beside the drain: node a stalled for 0.55 s
 * and its drain took 22 s for the 10 s window. The runners run at
 * niceness 5 (`DRAIN_CLIENT_NICE`): they stand in for machines of their
 * own, and should not take the CPU of the nodes they measure.
 *
 * Node b's listen queue (`backlog`) is sized for every client (see `env`
 * below). Measured at the full size on this 2-core box, quiet (load < 1):
 * - Until 2026-12-08, node a and node b stalled for 150 to 220 ms every
 *   5 s: their keep-alive tick wrote an `ack` to every session (and asked
 *   the store to `touch` the idle ones) and their heartbeat a ping to every
 *   connection, each in one turn of the event loop, and the clients' pongs
 *   came back together. Peak over average in 1 s buckets, two runs, 1.32
 *   and 1.41 with the average over the span (1.46 and 1.52 with the
 *   average then taken over the buckets touched; 100 ms: 3.02 and 3.25);
 *   earlier, before b's listen queue was sized, 1.8 to 2.6 (the old
 *   average).
 * - Both are spread over their interval now (`spread-sweep.ts` in the
 *   server: a tenth of the sessions every 500 ms here). The longest stalls
 *   of a and b during the drain fell to 30 to 120 ms. Peak over average in
 *   1 s buckets, eighteen runs: 1.03 to 1.32 in seventeen (median 1.16),
 *   1.63 in one, on a busy host (load 4.9: the runners missed whole 100 ms
 *   buckets); 500 ms: 1.13 to 1.87; 100 ms: 1.83 to 3.47. With the runners
 *   not niced (`DRAIN_CLIENT_NICE=0`), thirteen runs: 1.08 to 1.73, three
 *   of them above 1.5. What is left is
 *   node b's first seconds: a new process, its code not yet optimised, on
 *   a machine whose two cores are full (`/proc` CPU per process: the
 *   runners 0.9, b 0.5, a 0.35 to 0.5, Redis 0.1), completing 300 to 450
 *   handshakes a second against the 500 arriving, then catching up. The
 *   contrast, everyone closed at once: the peak second 2.9 to 4.8 times the
 *   drain's average, as fast as node a took them.
 *
 * What limits the rate on node b, measured (2,000 clients over 5 s, perf
 * and the clients' own timings): libuv accepts ONE connection per event-loop
 * iteration (libuv PR 3696, in Node 20), so a node takes over clients only
 * as fast as its loop turns: b's accept4 calls equalled its epoll_pwait
 * calls, 250 to 500 a second, while it got 40 to 70% of a core; its
 * listen queue filled to 511, the SYN/ACKs past it were dropped, and the
 * clients' TCP retransmissions (1 s, then 3 s) came back in bunches. Node
 * a's schedule and the clients' retry timers stayed even.
 *
 * Needs the built packages (the nodes and the clients run `dist/`) and
 * `redis-server`.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { densest } from '@proj/test-utils';
import { RedisServer, freePort } from '../packages/redis/test/redis-server.js';
import { CATCH_UP_RATE, MAX_CATCH_UP_MS } from '../packages/server/src/drain.js';
import { type NodeStats, ServerNode } from './chaos/server-node.js';
import { waitFor } from './chaos/wait-for.js';
import { ClientFleet, type RunnerReport } from './drain/client-fleet.js';

const CLIENTS = integerFrom('DRAIN_CLIENTS', 500);
const SECONDS = integerFrom('DRAIN_SECONDS', 3);
/** Client processes (`drain/client-runner.mjs`); 1 puts every client in one, as a stalled harness. */
const RUNNERS = integerFrom('DRAIN_RUNNERS', 4);
/**
 * The client runners' niceness (`DRAIN_CLIENT_NICE`, 0 to 19). The clients
 * stand in for 5,000 machines of their own; here they share two cores with
 * the nodes and Redis, and at 0 they take half the CPU in the drain's first
 * seconds, when node b is a new process with its code not yet optimised.
 */
const CLIENT_NICENESS = integerFrom('DRAIN_CLIENT_NICE', 5, 0, 19);
/** Each client sends `c:<n>` this often; each session ticks this often. */
const SEND_MS = Number(process.env['DRAIN_SEND_MS'] || 1000);
/** The sends of a second go out in this many slices. */
const SLICES = 20;
/** If set, the largest peak over average that the drain's arrivals on b may show (`TARGET_BUCKET_MS` buckets). */
const TARGET = optionalNumber('DRAIN_TARGET');
/**
 * The bucket the target is judged in: reconnects per second by default
 * (`DRAIN_TARGET_BUCKET_MS`). The 100 ms and 500 ms views are printed beside it.
 */
const TARGET_BUCKET_MS = integerFrom('DRAIN_TARGET_BUCKET_MS', 1000);
/** The width of a bucket of the timeline, and of the finest view of the rate. */
const BUCKET_MS = 100;
/** What the issue asks: the peak within 1.5x of the average (printed, see the end). */
const TARGET_PEAK_RATIO = 1.5;
/**
 * Upper bounds for a loaded 2-core machine, not measurements.
 * `DRAIN_CONNECT_TIMEOUT` (ms) shortens the first for an investigation.
 */
const CONNECT_TIMEOUT = integerFrom('DRAIN_CONNECT_TIMEOUT', 300_000);
const SETTLE_TIMEOUT = 120_000;
/**
 * `keepAliveTimeout`: the nodes send something every second, and by default
 * a client judges a link that carried nothing for 2 s dead. On a loaded
 * 2-core box a node stalls for longer, and every such false verdict is a
 * reconnect the drain did not ask for. (The nodes' own heartbeat, 1 s from
 * `node.mjs`'s keep-alive, judges the other way: a runner stalled past it,
 * 2.9 s under load 16, had 3,508 connections terminated with
 * `heartbeat-timeout` while 5,000 opened; `node.mjs` has no setting for it.)
 */
const CLIENT_OPTIONS = {
  minDelay: 100,
  maxDelay: 2000,
  minUptime: 1000,
  openTimeout: 30_000,
  session: { keepAliveTimeout: 10_000 },
};

/** An integer from the environment, `fallback` when unset. */
function integerFrom(name: string, fallback: number, min = 1, max = Infinity): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Infinity ? `>= ${min}` : `from ${min} to ${max}`;
    throw new RangeError(`${name} must be an integer ${range}, got "${text}"`);
  }
  return value;
}

/** What `drain/node-probe.mjs` wrote for one node process. */
interface NodeProbe {
  readonly opens: readonly number[];
  readonly closeStarts: readonly number[];
  readonly closeEnds: readonly number[];
  readonly loopDelayMaxMs: number;
  readonly loop: readonly (readonly [number, number])[];
}

/**
 * How busy a node's event loop was since the previous stats request
 * (`loopUtilization`, from `chaos/node.mjs`): Node accepts one connection per
 * loop iteration, so a loop busy near 100% leaves reconnects in its listen queue.
 */
function busy(stats: NodeStats): string {
  const utilization = (stats as NodeStats & { loopUtilization?: number }).loopUtilization;
  return utilization === undefined ? 'unknown' : `${Math.round(utilization * 100)}%`;
}

function optionalNumber(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!(value > 0)) throw new RangeError(`${name} must be a number > 0, got "${text}"`);
  return value;
}

let redis: RedisServer | undefined;
let a: ServerNode | undefined;
let b: ServerNode | undefined;
let fleet: ClientFleet | undefined;
const probeDir = mkdtempSync(join(tmpdir(), 'drain-probe-'));

/** The probe files of node `name`, oldest process first (a restarted node writes a second). */
function probes(name: string): NodeProbe[] {
  return readdirSync(probeDir)
    .filter((file) => file.startsWith(`${name}-`))
    .map((file) => JSON.parse(readFileSync(join(probeDir, file), 'utf8')) as NodeProbe)
    .sort((x, y) => (x.loop[0]?.[0] ?? 0) - (y.loop[0]?.[0] ?? 0));
}

beforeAll(async () => {
  for (const name of ['server/dist/index.js', 'redis/dist/index.js', 'client/dist/node.js']) {
    const built = fileURLToPath(new URL(`../packages/${name}`, import.meta.url));
    if (!existsSync(built)) {
      throw new Error(
        `${built} is missing: the nodes and the clients run the BUILT packages (\`pnpm build\`).`,
      );
    }
  }
  redis = await RedisServer.start();
  const probe = new URL('./drain/node-probe.mjs', import.meta.url).href;
  const env = {
    TICK_MS: String(SEND_MS),
    // Matches the clients' 10 s of silence before they judge a link dead.
    KEEP_ALIVE_MS: String(CLIENTS > 1000 ? 5000 : 1000),
    // Clients past Node's default listen queue (511) would have their SYNs
    // dropped and retried by TCP a second or more later, in bunches: the
    // queue is sized for every client at once (the kernel caps it at
    // net.core.somaxconn), as a node meant to take over a drained one's would be.
    BACKLOG: String(Math.max(511, CLIENTS)),
    DRAIN_PROBE_DIR: probeDir,
    NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import=${probe}`.trim(),
  };
  a = new ServerNode('a', await freePort(), redis.url, env);
  b = new ServerNode('b', await freePort(), redis.url, env);
  await Promise.all([a.start(), b.start()]);
}, 120_000);

afterAll(async () => {
  await fleet?.close();
  await Promise.allSettled([a?.stop(), b?.stop()]);
  await redis?.stop();
  rmSync(probeDir, { recursive: true, force: true });
}, 120_000);

/** The reconnect rate seen by a node: arrivals per bucket, from the first to the last. */
interface Rate {
  readonly bucketMs: number;
  readonly arrivals: number;
  readonly buckets: number;
  readonly average: number;
  readonly peak: number;
  readonly peakOverAverage: number;
  readonly spanMs: number;
  /** Arrivals per bucket, in order. */
  readonly histogram: string;
}

function rate(times: readonly number[], bucket: number): Rate {
  if (times.length === 0) {
    return {
      bucketMs: bucket,
      arrivals: 0,
      buckets: 0,
      average: 0,
      peak: 0,
      peakOverAverage: 0,
      spanMs: 0,
      histogram: '',
    };
  }
  const first = Math.min(...times);
  const last = Math.max(...times);
  const counts = new Array<number>(Math.floor((last - first) / bucket) + 1).fill(0);
  for (const time of times) counts[Math.floor((time - first) / bucket)]!++;
  // Over the span, not the buckets touched: the last one is partial.
  const average = (times.length * bucket) / Math.max(last - first, bucket);
  const peak = Math.max(...counts);
  return {
    bucketMs: bucket,
    arrivals: times.length,
    buckets: counts.length,
    average: round(average),
    peak,
    peakOverAverage: round(peak / average),
    spanMs: last - first,
    histogram: counts.join(' '),
  };
}

/** Counts of `times` in `bucket` ms steps from `from`, over `span` ms: series to line up. */
function series(times: readonly number[], from: number, span: number, bucket: number): number[] {
  const counts = new Array<number>(Math.ceil(span / bucket)).fill(0);
  for (const time of times) {
    const k = Math.floor((time - from) / bucket);
    if (k >= 0 && k < counts.length) counts[k]!++;
  }
  return counts;
}

/** The longest event-loop delay (ms) per bucket from `from`, from [time, delay] samples. */
function stallSeries(
  loop: readonly (readonly [number, number])[],
  from: number,
  span: number,
  bucket: number,
): number[] {
  const worst = new Array<number>(Math.ceil(span / bucket)).fill(0);
  for (const [time, delay] of loop) {
    const k = Math.floor((time - from) / bucket);
    if (k >= 0 && k < worst.length) worst[k] = Math.max(worst[k]!, Math.round(delay));
  }
  return worst;
}

test(
  `${CLIENTS} clients drained over ${SECONDS} s reconnect to a second node at an even rate, ` +
    'losing nothing; the old close for contrast',
  async () => {
    const nodeA = a!;
    const nodeB = b!;
    const urlA = `ws://127.0.0.1:${nodeA.port}/`;
    const urlB = `ws://127.0.0.1:${nodeB.port}/`;
    await nodeB.stats();
    const logs = (): string => `${nodeA.log}\n${nodeB.log}\n${fleet?.log ?? ''}`;
    // How late this process (the test's: IPC, polling) runs its timers.
    const testLoop: [number, number][] = [];
    const recent = monitorEventLoopDelay({ resolution: 10 });
    recent.enable();
    const sampler = setInterval(() => {
      testLoop.push([Date.now(), recent.max / 1e6]);
      recent.reset();
    }, 100);
    /** What the last check of {@link allOn} saw, for a timeout's message. */
    let progress = 'nothing yet';
    /** Every client open, and `node` holding every session. */
    const allOn = async (node: ServerNode): Promise<boolean> => {
      const clients = await fleet!.summary();
      const stats = await node.stats();
      const app = stats.app;
      progress =
        `${clients.open} of ${CLIENTS} clients open (their closes by code so far ` +
        `${JSON.stringify(clients.closeCodes)}, longest event-loop delay of a runner ` +
        `${Math.round(clients.loopDelayMaxMs)} ms), node ${node.name} holding ${app.open} ` +
        `sessions (${app.moved} moved there; sessions closed ${JSON.stringify(app.closed)}; ` +
        `connections closed ${JSON.stringify(stats.server['closes'])}; ` +
        `${String(stats.server['connections'])} connections, ` +
        `${String(stats.server['pendingHandshakes'])} handshakes pending, handshakes ` +
        `${JSON.stringify(stats.server['handshakes'])}, sessions ` +
        `${JSON.stringify(stats.server['sessions'])}; its event loop busy ` +
        `${busy(stats)} since the last check)`;
      return clients.open === CLIENTS && app.open === CLIENTS;
    };
    const waitAllOn = (node: ServerNode, what: string): Promise<void> =>
      waitFor(
        () => allOn(node),
        () => `${what}: ${progress}`,
        {
          timeout: CONNECT_TIMEOUT,
          interval: 250,
        },
      );
    try {
      // 1. Every client opens its session on a, and they stream both ways.
      fleet = await ClientFleet.start({
        clients: CLIENTS,
        runners: RUNNERS,
        target: urlA,
        sendMs: SEND_MS,
        slices: SLICES,
        clientOptions: CLIENT_OPTIONS,
        niceness: CLIENT_NICENESS,
      });
      await waitAllOn(nodeA, 'every client to open its session on node a');
      fleet.stream(true);

      // The streams run a while before the drain (warm: JIT, Redis, sockets).
      await new Promise((resolve) => setTimeout(resolve, 2 * SEND_MS));

      // 2. Node a drains; the clients' next attempts go to b.
      await fleet.target(urlB);
      const drainStart = Date.now();
      await nodeA.drain({ window: SECONDS * 1000 });
      const drainedIn = Date.now() - drainStart;
      await waitAllOn(nodeB, 'every client to resume its session on node b');
      const movedToB = (await nodeB.stats()).movedAt;
      const resumedOnB = Date.now();

      // 3. The contrast: a back, b closed the old way (all at once, no hint).
      await nodeA.start();
      await fleet.target(urlA);
      const contrastStart = Date.now();
      await nodeB.stop();
      await waitAllOn(nodeA, 'every client to resume its session on node a again');

      // 4. Everything comes to rest: no more sends or ticks, every echo
      // back, every client's last sequence number its session's `sent`.
      fleet.stream(false);
      nodeA.quiet();
      let final: NodeStats | undefined;
      let reports: RunnerReport[] = [];
      const clientsOf = (): RunnerReport['perClient'][number][] =>
        reports.flatMap((r) => r.perClient);
      const broken = (): boolean =>
        (final?.app.violations ?? 0) > 0 ||
        clientsOf().some((c) => c.stream.violations > 0 || c.counts.sessionLosses > 0);
      await waitFor(
        async () => {
          final = await nodeA.stats();
          reports = await fleet!.reports();
          const held = new Map(final.sessions.map((s) => [s.id, s]));
          return (
            broken() ||
            clientsOf().every((c) => {
              const copy = held.get(c.sessionId ?? '');
              return (
                c.open &&
                c.drained &&
                copy !== undefined &&
                copy.received === c.counts.sent &&
                c.stream.lastSeq === copy.sent
              );
            })
          );
        },
        'every stream to come to rest',
        { timeout: SETTLE_TIMEOUT, interval: 1000 },
      );
      clearInterval(sampler);
      recent.disable();
      const contrastMoves = final!.movedAt;

      // Where a bunch comes from: each stage of the drain, in the same
      // buckets from the drain's start. Node a starts a close (its
      // schedule) -> the client gets the 1012 -> node a sees the closing
      // handshake end -> the client, after its jitter, reopens on node b.
      // Beside them, each process's longest event-loop delay per bucket.
      const [probeA] = probes('a');
      const [probeB] = probes('b');
      const span = Math.max(...movedToB, resumedOnB) - drainStart + BUCKET_MS;
      const at = (times: readonly number[]): string =>
        series(times, drainStart, span, BUCKET_MS).join(' ');
      const stalls = (loop: readonly (readonly [number, number])[] | undefined): string =>
        loop ? stallSeries(loop, drainStart, span, BUCKET_MS).join(' ') : 'no probe';
      const clientCloses = (code: number): number[] =>
        reports.flatMap((r) => (r.closes[code] ?? []).filter((t) => t >= drainStart));
      const drainCloses = clientCloses(1012).filter((t) => t < contrastStart);
      const reopened = reports.flatMap((r) =>
        r.reconnects.filter((t) => t >= drainStart && t < contrastStart),
      );
      const within = (loop: readonly (readonly [number, number])[] | undefined): number =>
        Math.max(
          0,
          ...(loop ?? [])
            .filter(([t]) => t >= drainStart && t <= drainStart + span)
            .map(([, d]) => d),
        );
      const timeline = {
        bucketMs: BUCKET_MS,
        fromDrainStart: true,
        aStartsClose: probeA ? at(probeA.closeStarts) : 'no probe',
        clientsGet1012: at(drainCloses),
        aSeesCloseEnd: probeA ? at(probeA.closeEnds) : 'no probe',
        clientsRetryAt: at(
          reports.flatMap((r) =>
            r.retries.filter(([t]) => t < contrastStart).map(([t, delay]) => t + delay),
          ),
        ),
        bHandshakes: probeB ? at(probeB.opens) : 'no probe',
        clientsReconnect: at(reopened),
        bSeesResume: at(movedToB),
        stallMsA: stalls(probeA?.loop),
        stallMsB: stalls(probeB?.loop),
        stallMsRunners: reports.map((r) => stalls(r.loop)),
        stallMsTest: stalls(testLoop),
        retriesDuringDrain: mergeCounts(
          reports.map((r) => {
            const byAttempt: Record<number, number> = {};
            for (const [t, , attempt] of r.retries) {
              if (t >= drainStart && t < contrastStart)
                byAttempt[attempt] = (byAttempt[attempt] ?? 0) + 1;
            }
            return byAttempt;
          }),
        ),
        clientErrors: reports.reduce((n, r) => n + r.errorCount, 0),
        clientErrorSamples: reports.flatMap((r) => r.errors).slice(0, 10),
      };
      const drained = rate(movedToB, BUCKET_MS);
      const closed = rate(contrastMoves, BUCKET_MS);
      const judged = rate(movedToB, TARGET_BUCKET_MS);
      const closedJudged = rate(contrastMoves, TARGET_BUCKET_MS);
      const all = clientsOf();
      const report = {
        clients: CLIENTS,
        runners: RUNNERS,
        runnerNiceness: CLIENT_NICENESS,
        windowMs: SECONDS * 1000,
        drainTookMs: drainedIn,
        longestStallDuringDrainMs: {
          a: round(within(probeA?.loop)),
          b: round(within(probeB?.loop)),
          runners: reports.map((r) => round(within(r.loop))),
          test: round(within(testLoop)),
        },
        drained,
        drainedIn500MsBuckets: rate(movedToB, 500),
        drainedIn1sBuckets: rate(movedToB, 1000),
        aSchedule: rate(probeA?.closeStarts ?? [], BUCKET_MS),
        contrastCloseAllAtOnce: {
          ...closed,
          peakOverDrainAverage: round(closed.peak / drained.average),
        },
        [`contrastIn${TARGET_BUCKET_MS}MsBuckets`]: {
          ...closedJudged,
          peakOverDrainAverage: round(closedJudged.peak / judged.average),
        },
        clientToServer: {
          sent: sum(all, (c) => c.counts.sent),
          echoed: sum(all, (c) => c.stream.echoes),
        },
        serverToClient: { delivered: sum(all, (c) => c.stream.delivered) },
        closeCodes: mergeCounts(all.map((c) => c.counts.closeCodes)),
        sessionLosses: sum(all, (c) => c.counts.sessionLosses),
        violations: sum(all, (c) => c.stream.violations) + final!.app.violations,
      };
      console.log(`drain: ${JSON.stringify({ ...report, timeline }, null, 2)}`);

      expect(all).toHaveLength(CLIENTS);
      expect(all.flatMap((c) => c.samples)).toEqual([]);
      expect(final!.app.violationSamples).toEqual([]);
      expect(report.violations).toBe(0);
      expect(report.sessionLosses).toBe(0);
      expect(all.flatMap((c) => c.sendErrors)).toEqual([]);
      expect(final!.app.errors).toEqual([]);
      expect(report.clientToServer.echoed).toBe(report.clientToServer.sent);
      expect(report.clientToServer.sent).toBeGreaterThan(0);
      // Every session moved to b once during the drain (the clients were
      // told 1012 with the hint; a closing handshake a stalled machine did
      // not finish within closeTimeout shows as 1006 in closeCodes).
      expect(drained.arrivals).toBe(CLIENTS);
      expect(report.closeCodes[1012]).toBeGreaterThan(0);
      // The drain took its window (a lower bound: its timers never fire early).
      expect(drainedIn).toBeGreaterThanOrEqual(SECONDS * 1000 * (1 - 1 / CLIENTS) - 50);
      // The schedule, as node a carried it out: every connection closed by
      // the drain, over the window (its timers never fire early), and never
      // faster than the drain's catch-up allows in any 100 ms or 1 s, however
      // late its timers ran: the stampede the library is answerable for.
      // (Where the reconnects land on b also depends on how this shared box
      // schedules b and the clients: printed, see the header.)
      expect(probeA, 'node a wrote no probe (killed?)').toBeDefined();
      const starts = [...probeA!.closeStarts].sort((x, y) => x - y);
      const slot = (SECONDS * 1000) / CLIENTS;
      expect(starts).toHaveLength(CLIENTS);
      expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual((CLIENTS - 1) * slot - 2);
      for (const span of [100, 1000]) {
        expect(
          densest(starts, span),
          `closes node a started within ${span} ms`,
        ).toBeLessThanOrEqual(scheduleBound(span, slot));
      }
      // Where the reconnects land, judged when asked (`DRAIN_TARGET=1.5`):
      // not by default, for it measures the machine as much as the drain.
      if (TARGET !== undefined) expect(judged.peakOverAverage).toBeLessThanOrEqual(TARGET);
      console.log(
        `drain: peak over average ${judged.peakOverAverage} with the hint, ` +
          `${closedJudged.peakOverAverage} without (its peak ${round(closedJudged.peak / judged.average)} ` +
          `times the drain's average; target ${TARGET_PEAK_RATIO}), in ${TARGET_BUCKET_MS} ms buckets ` +
          `(in ${BUCKET_MS} ms buckets ${drained.peakOverAverage} and ${closed.peakOverAverage}); ` +
          `${report.clientToServer.sent} client messages and ` +
          `${report.serverToClient.delivered} server messages checked, ` +
          `lost ${report.clientToServer.sent - report.clientToServer.echoed}, ` +
          `violations ${report.violations}`,
      );
    } catch (error) {
      clearInterval(sampler);
      // What the clients that never came back are doing, and what the nodes hold.
      const stuck = await fleet?.stuck().catch((e: unknown) => String(e));
      console.error(`drain failed; clients not open: ${JSON.stringify(stuck, null, 1)}`);
      for (const node of [nodeA, nodeB]) {
        if (!node.running) continue;
        const stats = await node.stats().catch((e: unknown) => String(e));
        const server = typeof stats === 'string' ? stats : stats.server;
        console.error(`drain failed; node ${node.name} server.stats(): ${JSON.stringify(server)}`);
      }
      console.error(`drain failed; logs:\n${logs()}`);
      throw error;
    }
  },
  SECONDS * 1000 + 2 * CONNECT_TIMEOUT + SETTLE_TIMEOUT + 60_000,
);

/**
 * The most closes `spreadOver` (drain.ts) starts within `span` ms, one slot
 * every `slot` ms: an allowance it carries (at most 1), plus
 * {@link CATCH_UP_RATE} times the slots of the span and of one stall's
 * credit ({@link MAX_CATCH_UP_MS}), plus 2 ms for `Date.now()`'s rounding.
 */
function scheduleBound(span: number, slot: number): number {
  return Math.floor(1 + (CATCH_UP_RATE * (span + MAX_CATCH_UP_MS + 2)) / slot);
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function sum<T>(items: readonly T[], of: (item: T) => number): number {
  return items.reduce((total, item) => total + of(item), 0);
}

function mergeCounts(counts: readonly Record<number, number>[]): Record<number, number> {
  const merged: Record<number, number> = {};
  for (const count of counts) {
    for (const [code, n] of Object.entries(count)) {
      merged[Number(code)] = (merged[Number(code)] ?? 0) + n;
    }
  }
  return merged;
}
