/**
 * The drain test's handle on its clients, spread over a few processes
 * (`client-runner.mjs`): start them, move their target, start and stop their
 * streams, ask what they counted, close them.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ClientCounts } from '../chaos/chaos-client.js';
import type { StreamCounts, Violation } from '../chaos/stream-check.js';

const SCRIPT = fileURLToPath(new URL('./client-runner.mjs', import.meta.url));

/** The counts a runner answers a plain query with. */
export interface RunnerSummary {
  readonly clients: number;
  /** Clients with an open connection now. */
  readonly open: number;
  /** Clients every `c:<n>` of which came back. */
  readonly drained: number;
  /** How many connections closed, by close code. */
  readonly closeCodes: Readonly<Record<number, number>>;
  /** The longest event-loop delay of a runner (the longest of all, summed up). */
  readonly loopDelayMaxMs: number;
}

/** One client's state, as `ChaosClient` has it. */
export interface ClientReport {
  readonly index: number;
  readonly open: boolean;
  readonly drained: boolean;
  readonly sessionId: string | null;
  readonly counts: ClientCounts;
  readonly stream: StreamCounts;
  readonly samples: readonly Violation[];
  readonly sendErrors: readonly string[];
}

/** Everything a runner knows: its clients, their events' times, its event-loop delay. */
export interface RunnerReport extends RunnerSummary {
  readonly perClient: readonly ClientReport[];
  /** When a client's connection closed (ms since the epoch), by close code. */
  readonly closes: Readonly<Record<number, readonly number[]>>;
  /** When a client's `reconnected` came (ms since the epoch). */
  readonly reconnects: readonly number[];
  /** Each `reconnecting` event: [when, its delay, its attempt]. */
  readonly retries: readonly (readonly [number, number, number])[];
  /** The first `error` events: [when, message]; `errorCount` counts them all. */
  readonly errors: readonly (readonly [number, string])[];
  readonly errorCount: number;
  readonly loopDelayMaxMs: number;
  /** [time, longest event-loop delay since the previous sample (ms)], every 100 ms. */
  readonly loop: readonly (readonly [number, number])[];
}

/** How to start the fleet. */
export interface FleetOptions {
  readonly clients: number;
  readonly runners: number;
  readonly target: string;
  readonly sendMs: number;
  readonly slices: number;
  /** `ReconnectingWebSocket` options, as JSON (no functions). */
  readonly clientOptions: Readonly<Record<string, unknown>>;
  /**
   * The runners' niceness (`os.setPriority`, 0 to 19), so that on a machine
   * they share with the nodes they yield the CPU to them. Default 0.
   */
  readonly niceness?: number;
}

interface Reply {
  type: 'reply' | 'ready';
  id?: number;
  data?: unknown;
}

/** N clients in R processes, client i in runner i mod R. */
export class ClientFleet {
  readonly #children: ChildProcess[] = [];
  #log = '';
  #nextId = 1;

  private constructor() {}

  /** Forks the runners; resolves once each has created its clients (they connect meanwhile). */
  static async start(options: FleetOptions): Promise<ClientFleet> {
    const fleet = new ClientFleet();
    await Promise.all(
      Array.from({ length: options.runners }, (_, runner) => fleet.#fork(runner, options)),
    );
    return fleet;
  }

  /** What the runners wrote on stdout and stderr. */
  get log(): string {
    return this.#log;
  }

  async #fork(runner: number, options: FleetOptions): Promise<void> {
    const child = fork(SCRIPT, [], {
      env: {
        ...process.env,
        RUNNER: String(runner),
        RUNNERS: String(options.runners),
        CLIENTS: String(options.clients),
        SEND_MS: String(options.sendMs),
        SLICES: String(options.slices),
        CLIENT_OPTIONS: JSON.stringify(options.clientOptions),
        TARGET: options.target,
      },
      // Not the test runner's flags.
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.#children.push(child);
    if (options.niceness && child.pid !== undefined) setPriority(child.pid, options.niceness);
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    const append = (text: string): void => void (this.#log += `[runner ${runner}] ${text}`);
    child.stdout!.setEncoding('utf8').on('data', append);
    child.stderr!.setEncoding('utf8').on('data', append);
    child.on('error', (error) => append(`child error: ${error.message}\n`));
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: Reply): void => {
        if (message.type !== 'ready') return;
        child.off('exit', onExit);
        child.off('message', onMessage);
        resolve();
      };
      const onExit = (code: number | null): void =>
        reject(
          new Error(`client runner ${runner} exited (${code}) before it was ready\n${this.#log}`),
        );
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }

  /** Later connection attempts go to `url`; resolves once every runner has it. */
  async target(url: string): Promise<void> {
    await this.#ask({ type: 'target', url });
  }

  /** Starts (or stops) every client's `c:<n>` once per `sendMs`. */
  stream(on: boolean): void {
    for (const child of this.#children) child.send({ type: 'stream', on });
  }

  /** The runners' counts, summed. */
  async summary(): Promise<RunnerSummary> {
    const replies = await this.#ask<RunnerSummary>({ type: 'query', full: false });
    const closeCodes: Record<number, number> = {};
    for (const reply of replies) {
      for (const [code, n] of Object.entries(reply.closeCodes)) {
        closeCodes[Number(code)] = (closeCodes[Number(code)] ?? 0) + n;
      }
    }
    return {
      clients: replies.reduce((n, r) => n + r.clients, 0),
      open: replies.reduce((n, r) => n + r.open, 0),
      drained: replies.reduce((n, r) => n + r.drained, 0),
      closeCodes,
      loopDelayMaxMs: Math.max(...replies.map((r) => r.loopDelayMaxMs)),
    };
  }

  /**
   * What each runner's clients that are not open are doing (readyState, last
   * event and when, attempt, last error, URL), one entry per runner.
   */
  stuck(): Promise<unknown[]> {
    return this.#ask<unknown>({ type: 'stuck' });
  }

  /** Every runner's full report. */
  reports(): Promise<RunnerReport[]> {
    return this.#ask<RunnerReport>({ type: 'query', full: true });
  }

  /** Ends every client's session and waits for the runners to exit. */
  async close(): Promise<void> {
    const exits = this.#children.map((child) =>
      child.exitCode === null && child.signalCode === null ? once(child, 'exit') : undefined,
    );
    await this.#ask({ type: 'close' }, 30_000).catch(() => {
      for (const child of this.#children) child.kill('SIGKILL');
    });
    await Promise.all(exits);
  }

  /** Sends `message` to every runner; resolves with their replies (rejects after `timeout` ms). */
  #ask<T>(message: Record<string, unknown>, timeout = 30_000): Promise<T[]> {
    return Promise.all(
      this.#children.map((child, runner) => {
        const id = this.#nextId++;
        return new Promise<T>((resolve, reject) => {
          const timer = setTimeout(
            () => done(new Error(`client runner ${runner}: no reply within ${timeout} ms`)),
            timeout,
          );
          const onMessage = (reply: Reply): void => {
            if (reply.type === 'reply' && reply.id === id) done(undefined, reply.data as T);
          };
          const onExit = (): void => done(new Error(`client runner ${runner} exited`));
          const done = (error?: Error, data?: T): void => {
            clearTimeout(timer);
            child.off('message', onMessage);
            child.off('exit', onExit);
            if (error) reject(error);
            else resolve(data!);
          };
          child.on('message', onMessage);
          child.once('exit', onExit);
          child.send({ ...message, id });
        });
      }),
    );
  }
}
