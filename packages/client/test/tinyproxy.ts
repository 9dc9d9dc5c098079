/**
 * A real HTTP proxy for the proxy tests: Debian's `tinyproxy`, started with
 * a config of our own in a temporary directory, listening on 127.0.0.1 on a
 * free port, and stopped after the test. Its log (LogLevel Info, on stdout
 * with `-d`) tells when it accepts and which CONNECTs it saw.
 *
 * tinyproxy takes a fixed `Port` from its config, not port 0: a free port is
 * picked first, and another one tried when something took it meanwhile
 * (tinyproxy then exits with "Could not create listening sockets").
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from '@proj/test-utils';
import { closedPort } from './helpers.js';

const BINARY = '/usr/bin/tinyproxy';

const MISSING =
  `${BINARY} is missing: the proxy tests run a real tinyproxy. Install it ` +
  '(Debian/Ubuntu: `apt-get install tinyproxy`)';

/** What tinyproxy prints once it listens (LogLevel Info). */
const READY = 'Accepting connections';

/** What it prints when the port is taken (then it exits). */
const PORT_TAKEN = 'Could not create listening sockets';

/** How a tinyproxy is configured. */
export interface TinyproxyOptions {
  /**
   * `BasicAuth user password`: the proxy then wants these credentials
   * (tinyproxy's grammar: letters, digits, `-`, `.` and `_` only).
   */
  readonly basicAuth?: { readonly user: string; readonly password: string } | undefined;
}

/** One running tinyproxy. */
export class Tinyproxy {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly #directory: string;
  #child: ChildProcess | undefined;
  #log = '';

  private constructor(port: number, directory: string) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.#directory = directory;
  }

  /**
   * Starts tinyproxy on a free port (another one when that was taken
   * meanwhile), and resolves once it accepts connections.
   * @throws {Error} naming `apt-get install tinyproxy` when it is not installed.
   */
  static async start(options: TinyproxyOptions = {}): Promise<Tinyproxy> {
    if (!existsSync(BINARY)) throw new Error(MISSING);
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const proxy = new Tinyproxy(await closedPort(), mkdtempSync(join(tmpdir(), 'tinyproxy-')));
      try {
        await proxy.#spawn(options);
        return proxy;
      } catch (error) {
        lastError = error;
        await proxy.stop();
        if (!proxy.log.includes(PORT_TAKEN)) break;
      }
    }
    throw lastError;
  }

  /** Its output so far, for failure messages. */
  get log(): string {
    return this.#log;
  }

  /** The connections it accepted so far. */
  connections(): number {
    return this.#log.match(/Connect \(file descriptor \d+\)/g)?.length ?? 0;
  }

  /** The targets (`host:port`) of the CONNECT requests it read so far, in order. */
  requests(): string[] {
    return [...this.#log.matchAll(/Request \(file descriptor \d+\): CONNECT (\S+)/g)].map(
      (match) => match[1]!,
    );
  }

  /** Stops it (SIGTERM, then SIGKILL after 5 s) and removes its directory. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.#directory, { recursive: true, force: true });
  }

  async #spawn(options: TinyproxyOptions): Promise<void> {
    const config = join(this.#directory, 'tinyproxy.conf');
    const lines = [
      `Port ${this.port}`,
      'Listen 127.0.0.1',
      'Timeout 60',
      'MaxClients 50',
      // Info: the "Accepting connections" line, and one line per connection and request.
      'LogLevel Info',
    ];
    if (options.basicAuth) {
      lines.push(`BasicAuth ${options.basicAuth.user} ${options.basicAuth.password}`);
    }
    writeFileSync(config, `${lines.join('\n')}\n`);
    // -d: stay in the foreground and log to stdout; the process is ours to stop.
    const child = spawn(BINARY, ['-d', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    const ready = new Promise<void>((resolve, reject) => {
      const onOutput = (text: string): void => {
        this.#log += text;
        if (this.#log.includes(READY)) resolve();
      };
      child.stdout!.setEncoding('utf8').on('data', onOutput);
      child.stderr!.setEncoding('utf8').on('data', onOutput);
      child.once('error', reject);
      child.once('exit', (code, signal) =>
        reject(new Error(`tinyproxy exited (${code ?? signal}) before accepting:\n${this.#log}`)),
      );
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`tinyproxy did not start within 10 s:\n${this.#log}`)),
        10_000,
      );
    });
    try {
      await Promise.race([ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Starts a tinyproxy that is stopped after the current test. */
export async function startTinyproxy(options: TinyproxyOptions = {}): Promise<Tinyproxy> {
  const proxy = await Tinyproxy.start(options);
  onCleanup(() => proxy.stop());
  return proxy;
}
