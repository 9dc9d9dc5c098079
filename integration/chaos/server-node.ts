/**
 * The test's handle on one server node process (`node.mjs`): start it on a
 * fixed port (the load balancer's config names the port, so a restarted node
 * must come back on it), ask for its stats over IPC, SIGKILL it, start it
 * again, stop it.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./node.mjs', import.meta.url));

/** What `node.mjs`'s app counted (see its `app` object). */
export interface NodeAppStats {
  readonly sessions: number;
  readonly moved: number;
  readonly open: number;
  readonly received: number;
  readonly echoes: number;
  readonly ticks: number;
  readonly echoesRefused: number;
  readonly ticksRefused: number;
  readonly closed: Readonly<Record<string, number>>;
  readonly violations: number;
  readonly violationSamples: readonly unknown[];
  readonly errors: readonly string[];
}

/** The numbers of one session a node holds. */
export interface HeldSession {
  readonly id: string;
  readonly sent: number;
  readonly received: number;
  /** Whether a connection carries it now (else it is suspended). */
  readonly connected: boolean;
}

/** A node's answer to a stats request: its app's counts, its sessions, its server's `stats()`. */
export interface NodeStats {
  readonly name: string;
  readonly pid: number;
  readonly app: NodeAppStats;
  /**
   * Every session it holds, attached or suspended; a copy another node took
   * over stays here until this node's next store write fails.
   */
  readonly sessions: readonly HeldSession[];
  /** When each session that moved here arrived (ms since the epoch), in order. */
  readonly movedAt: readonly number[];
  /** Its longest event-loop delay since it listened, in ms. */
  readonly loopDelayMaxMs: number;
  /** `WebSocketServer.stats()`, as structured-cloned over IPC. */
  readonly server: Record<string, unknown>;
}

interface StatsReply {
  type: 'stats';
  id: number;
  stats: NodeStats;
}

/** One node process, started and restarted on the same port. */
export class ServerNode {
  readonly name: string;
  readonly port: number;
  readonly #redisUrl: string;
  readonly #env: Readonly<Record<string, string>>;
  #child: ChildProcess | undefined;
  #log = '';
  #nextRequest = 1;
  /** How many times it was started (1 for the first start). */
  #starts = 0;

  /** @param env - more of `node.mjs`'s environment (e.g. `TICK_MS`). */
  constructor(
    name: string,
    port: number,
    redisUrl: string,
    env: Readonly<Record<string, string>> = {},
  ) {
    this.name = name;
    this.port = port;
    this.#redisUrl = redisUrl;
    this.#env = env;
  }

  /** Whether the process is running. */
  get running(): boolean {
    const child = this.#child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** Everything it wrote on stdout and stderr, over all its runs. */
  get log(): string {
    return this.#log;
  }

  /** Starts the process and waits until it listens (rejects if it exits first, or after 30 s). */
  async start(): Promise<void> {
    if (this.running) throw new Error(`node ${this.name} is already running`);
    this.#starts++;
    const child = fork(SCRIPT, [], {
      env: {
        ...process.env,
        ...this.#env,
        NODE_NAME: this.name,
        PORT: String(this.port),
        REDIS_URL: this.#redisUrl,
      },
      // Not the test runner's flags (vm modules and the like).
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.#child = child;
    // Should the test runner exit without its teardown, the node goes with it.
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    const prefix = `[${this.name}#${this.#starts}] `;
    const append = (text: string): void => void (this.#log += prefix + text);
    child.stdout!.setEncoding('utf8').on('data', append);
    child.stderr!.setEncoding('utf8').on('data', append);
    // The test runner must not die of a node's broken IPC channel.
    child.on('error', (error) => append(`child error: ${error.message}\n`));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('did not listen within 30 s')), 30_000);
      const onMessage = (message: { type?: string }): void => {
        if (message.type !== 'listening') return;
        cleanup();
        resolve();
      };
      const onExit = (code: number | null, signal: string | null): void =>
        fail(new Error(`exited (${code ?? signal}) before listening`));
      const cleanup = (): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      const fail = (error: Error): void => {
        cleanup();
        reject(new Error(`node ${this.name}: ${error.message}\n${this.#log}`));
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
    });
  }

  /** Kills the process with SIGKILL (no chance to close anything) and waits for it to die. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** Its stats, over IPC (rejects after 10 s or if it exits meanwhile). */
  stats(): Promise<NodeStats> {
    const child = this.#child;
    if (!child || !this.running)
      return Promise.reject(new Error(`node ${this.name} is not running`));
    const id = this.#nextRequest++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error('no stats within 10 s')), 10_000);
      const onMessage = (message: Partial<StatsReply>): void => {
        if (message.type === 'stats' && message.id === id) done(undefined, message.stats);
      };
      const onExit = (): void => done(new Error('exited'));
      const done = (error?: Error, stats?: NodeStats): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (error) reject(new Error(`node ${this.name}: ${error.message}`));
        else resolve(stats!);
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
      child.send({ type: 'stats', id });
    });
  }

  /** Stops its ticks (echoes go on), so that the streams can come to rest. */
  quiet(): void {
    if (this.running && this.#child!.connected) this.#child!.send({ type: 'quiet' });
  }

  /**
   * Drains it (`server.drain` with these options) and waits for it to exit
   * once drained; SIGKILL if it has not after the window and 30 s more.
   */
  async drain(options: { window?: number; retryAfter?: number } = {}): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = once(child, 'exit');
    child.send({ type: 'drain', ...options });
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.window ?? 10_000) + 30_000);
    await exited;
    clearTimeout(timer);
  }

  /** Sends it a signal and waits for it to exit (SIGKILL after 30 s). */
  async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }

  /** Closes it gracefully (its server closes), with SIGKILL after 5 s; waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = once(child, 'exit');
    if (child.connected) child.send({ type: 'close' });
    else child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
