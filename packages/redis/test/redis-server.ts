/**
 * A real `redis-server` for tests: found on PATH (or installed with apt-get
 * when running as root on Debian), started on a free port without
 * persistence, and stopped after the tests. Never touches a system Redis.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';

const INSTALL_HINT =
  'redis-server is missing: install it (Debian/Ubuntu: `apt-get install -y redis-server`; ' +
  'macOS: `brew install redis`) or put it on PATH';

let binary: string | undefined;

/** The path of `redis-server`, installing it on Debian as root when missing. */
export function findRedisServer(): string {
  if (binary) return binary;
  const found = which('redis-server');
  if (found) return (binary = found);
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && existsSync('/etc/debian_version')) {
    const result = spawnSync(
      'sh',
      [
        '-c',
        'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server',
      ],
      { stdio: 'pipe', encoding: 'utf8' },
    );
    const installed = which('redis-server');
    if (installed) return (binary = installed);
    throw new Error(`${INSTALL_HINT}. apt-get failed: ${result.stderr || result.stdout}`);
  }
  throw new Error(INSTALL_HINT);
}

function which(name: string): string | undefined {
  for (const candidate of [`/usr/bin/${name}`, `/usr/local/bin/${name}`]) {
    if (existsSync(candidate)) return candidate;
  }
  try {
    return (
      execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

/** A port that was free a moment ago (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** One running redis-server. */
export class RedisServer {
  readonly port: number;
  readonly url: string;
  #child: ChildProcess | undefined;
  #log = '';

  private constructor(port: number) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
  }

  /** Starts redis-server on a free port (retried on a collision) and waits for PING. */
  static async start(): Promise<RedisServer> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new RedisServer(await freePort());
      try {
        await server.#spawn();
        return server;
      } catch (error) {
        lastError = error;
        await server.stop();
      }
    }
    throw lastError;
  }

  /** Whether the process is running. */
  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null;
  }

  /** Output so far, for failure messages. */
  get log(): string {
    return this.#log;
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s). */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops and starts again on the same port: every connection is dropped, all state lost. */
  async restart(): Promise<void> {
    await this.stop();
    let lastError: unknown;
    // The port can be briefly unavailable after the old process exits.
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        await this.#spawn();
        return;
      } catch (error) {
        lastError = error;
        await this.stop();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    throw lastError;
  }

  async #spawn(): Promise<void> {
    const child = spawn(
      findRedisServer(),
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.#log += text));
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.#log += text));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) {
        throw new Error(`redis-server exited with ${child.exitCode}: ${this.#log}`);
      }
      // Our process answered (not one that took the port first and made ours exit).
      if ((await ping(this.port)) && child.exitCode === null) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`redis-server did not answer PING on port ${this.port}: ${this.#log}`);
  }
}

/** Whether a Redis on `port` answers PING with PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.setEncoding('utf8').on('data', (text: string) => {
      reply += text;
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
