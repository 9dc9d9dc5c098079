/**
 * A real load balancer for the chaos test: Debian's HAProxy
 * (`/usr/sbin/haproxy`, or `HAPROXY_PATH`), run in the foreground with a
 * config generated into a temporary directory, in front of the test's
 * server nodes.
 *
 * The config is what an operator would put in front of WebSocket nodes:
 * - `mode http`: HAProxy reads the upgrade request, picks a node, and after
 *   the `101` tunnels the bytes (`timeout tunnel` then governs the idle time;
 *   the nodes' keep-alives keep it busy).
 * - Health checks every 250 ms (`check inter 250`, down after 2 failures, up
 *   after 2 successes): a killed node leaves the rotation within about half
 *   a second, and a restarted one comes back as fast.
 * - `retries 3` with `option redispatch 1`: an upgrade request that meets a
 *   refused connection (a node killed before its checks caught up) is
 *   retried on the other node instead of failing.
 * An admin socket in the same directory answers `show stat`, so the test can
 * wait until HAProxy sees a node up or down ({@link Haproxy.serverStates}).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../packages/redis/test/redis-server.js';

/** Where Debian's package installs it; `HAPROXY_PATH` overrides. */
const DEFAULT_BINARY = '/usr/sbin/haproxy';

/** One server behind the load balancer. */
export interface Backend {
  /** Its name in the config and in {@link Haproxy.serverStates} (letters, digits, `-`, `_`). */
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** A server's state as HAProxy's health checks see it: `UP`, `DOWN`, or a transition such as `UP 1/2`. */
export type ServerState = string;

/** A running HAProxy; {@link Haproxy.stop} it on teardown. */
export class Haproxy {
  /** The frontend's port, on 127.0.0.1. */
  readonly port: number;
  readonly #directory: string;
  readonly #child: ChildProcess;
  #log = '';

  private constructor(port: number, directory: string, child: ChildProcess) {
    this.port = port;
    this.#directory = directory;
    this.#child = child;
    // Should the test runner exit without its teardown, HAProxy goes with it.
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.#log += text));
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.#log += text));
  }

  /**
   * Starts HAProxy in front of `backends` on a free port (retried when
   * another process takes the port first) and waits until its frontend
   * accepts connections.
   */
  static async start(backends: readonly Backend[]): Promise<Haproxy> {
    const binary = process.env['HAPROXY_PATH'] || DEFAULT_BINARY;
    if (!existsSync(binary)) {
      throw new Error(
        `HAProxy is missing (${binary}): install Debian's package, \`apt-get install -y haproxy\`, ` +
          'or set HAPROXY_PATH to its binary',
      );
    }
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const directory = await mkdtemp(join(tmpdir(), 'proj-haproxy-'));
      const port = await freePort();
      const config = join(directory, 'haproxy.cfg');
      await writeFile(config, haproxyConfig(port, join(directory, 'admin.sock'), backends));
      // -db: stay in the foreground, logs on stderr; no master process.
      const child = spawn(binary, ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
      const haproxy = new Haproxy(port, directory, child);
      try {
        await haproxy.#waitUntilListening();
        return haproxy;
      } catch (error) {
        lastError = error;
        await haproxy.stop();
      }
    }
    throw lastError;
  }

  /** Whether the process is running. */
  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Its output so far (warnings, alerts), for failure messages. */
  get log(): string {
    return this.#log;
  }

  /** Each backend server's state, by name, from the admin socket's `show stat`. */
  async serverStates(): Promise<Record<string, ServerState>> {
    const csv = await this.#admin('show stat');
    // "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,..."
    const [header, ...rows] = csv.trim().split('\n');
    const columns = header!.replace(/^# /, '').split(',');
    const svname = columns.indexOf('svname');
    const status = columns.indexOf('status');
    const states: Record<string, ServerState> = {};
    for (const row of rows) {
      const fields = row.split(',');
      const name = fields[svname]!;
      if (name !== 'FRONTEND' && name !== 'BACKEND') states[name] = fields[status]!;
    }
    return states;
  }

  /** Stops HAProxy (SIGTERM: a hard stop; SIGKILL after 5 s) and removes its directory. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (this.running) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.#directory, { recursive: true, force: true });
  }

  async #waitUntilListening(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`haproxy exited (${this.#child.exitCode}): ${this.#log}`);
      if ((await accepts(this.port)) && this.running) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`haproxy did not listen on port ${this.port} within 10 s: ${this.#log}`);
  }

  /** Sends one command to the admin socket and returns the whole answer. */
  #admin(command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(join(this.#directory, 'admin.sock'));
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (text: string) => (answer += text));
      socket.on('error', reject);
      // HAProxy closes the socket after answering a single command.
      socket.on('end', () => resolve(answer));
      socket.end(`${command}\n`);
    });
  }
}

/** HAProxy's config for a frontend on `port` balancing WebSocket connections over `backends`. */
export function haproxyConfig(
  port: number,
  adminSocket: string,
  backends: readonly Backend[],
): string {
  for (const { name } of backends) {
    if (!/^[\w-]+$/.test(name))
      throw new RangeError(`backend name "${name}" is not a config token`);
  }
  const servers = backends.map(
    ({ name, host, port: backendPort }) =>
      `  server ${name} ${host}:${backendPort} check inter 250 fall 2 rise 2`,
  );
  return [
    'global',
    '  maxconn 4096',
    `  stats socket ${adminSocket} mode 600 level admin`,
    '',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 30s',
    // An upgraded connection is a tunnel: the nodes' 1 s keep-alives keep it well inside this.
    '  timeout tunnel 30s',
    '  timeout client-fin 5s',
    '  timeout server-fin 5s',
    '  retries 3',
    // Every retry may go to another server, not only the last one.
    '  option redispatch 1',
    '',
    'frontend chaos',
    `  bind 127.0.0.1:${port}`,
    '  default_backend nodes',
    '',
    'backend nodes',
    '  balance roundrobin',
    ...servers,
    '',
  ].join('\n');
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => done(true));
  });
}
