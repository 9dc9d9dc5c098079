/**
 * Test helpers for @proj/cli: the bin, built from the sources before the
 * tests of a file and run as a child process, as a shell runs it; servers
 * (@proj/server) and clients (@proj/client) on 127.0.0.1 port 0 for it to
 * talk to. Everything made here is registered for cleanup, run after each
 * test of a file that calls `useBuiltCli()`.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll } from 'vitest';
import { WebSocket, type WebSocketOptions } from '@proj/client';
import { type ServerOptions, type ServerWebSocket, WebSocketServer } from '@proj/server';
import { onCleanup, useCleanup } from '@proj/test-utils';
import { Collector } from '../../server/test/collector.js';
import { run } from '../src/index.js';

export { onCleanup } from '@proj/test-utils';

// ---- the bin ----------------------------------------------------------------

const entry = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
let bin: string | undefined;

/**
 * Call at the top of a test file: bundles src/cli.ts with the workspace
 * packages it uses, all resolved through the "source" condition, into one
 * file that node runs. The tests so run the sources as they are now, with
 * no `pnpm build` first and no stale dist/ of @proj/client or @proj/server.
 * The processes, servers and clients a test starts are stopped after it.
 */
export function useBuiltCli(): void {
  useCleanup();
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proj-ws-test-'));
    const outfile = join(dir, 'cli.mjs');
    await build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['source'],
      logLevel: 'error',
    });
    bin = outfile;
  });
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
}

/** A stack trace line, which no expected failure may print. */
export const STACK_LINE = /^\s+at /m;

/** The usage line of each command. */
export const USAGE = {
  connect: 'proj-ws connect <url> [options]',
  listen: 'proj-ws listen <port> [options]',
} as const;

/**
 * What the bin writes to stderr for a mistake on its command line (exit
 * code 2): the message, the usage of `command` (of both without one), and
 * where its options are.
 */
export function usageError(message: string, command?: keyof typeof USAGE): string {
  const usage = command ? USAGE[command] : `${USAGE.connect} | ${USAGE.listen}`;
  const help = command ? `proj-ws ${command} --help` : 'proj-ws --help';
  return `proj-ws: ${message}\nUsage: ${usage}\nRun '${help}' for the options and exit codes.\n`;
}

/** One run of the bin. */
export class Cli {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  /** The exit code once the process ended and its output was read (`null` if a signal killed it). */
  readonly exited: Promise<number | null>;
  #changed: Array<() => void> = [];
  #ended = false;

  constructor(args: readonly string[]) {
    if (bin === undefined) throw new Error('useBuiltCli() must be called in the test file');
    this.child = spawn(process.execPath, [bin, ...args], { stdio: 'pipe' });
    this.child.stdout.setEncoding('utf8').on('data', (text: string) => {
      this.stdout += text;
      this.#notify();
    });
    this.child.stderr.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text;
      this.#notify();
    });
    // The child may exit before it reads what a test wrote.
    this.child.stdin.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code) => {
        this.#ended = true;
        this.#notify();
        resolve(code);
      });
    });
    onCleanup(() => {
      if (!this.#ended) this.child.kill('SIGKILL');
      return this.exited;
    });
  }

  /** Runs the bin to its end, with `input` on stdin (stdin is closed either way). */
  static async run(
    args: readonly string[],
    input = '',
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const cli = new Cli(args);
    cli.child.stdin.end(input);
    const code = await cli.exited;
    return { code, stdout: cli.stdout, stderr: cli.stderr };
  }

  /**
   * Resolves with the match once the stream's output matches `pattern`;
   * rejects, showing the output, if the process ends first.
   */
  async waitFor(
    pattern: RegExp,
    stream: 'stdout' | 'stderr' = 'stdout',
  ): Promise<RegExpMatchArray> {
    for (;;) {
      const match = pattern.exec(this[stream]);
      if (match) return match;
      if (this.#ended) {
        throw new Error(
          `exited (${this.child.exitCode}) before ${stream} matched ${pattern}\n` +
            `stdout: ${this.stdout}\nstderr: ${this.stderr}`,
        );
      }
      await new Promise<void>((resolve) => this.#changed.push(resolve));
    }
  }

  /** Writes `line` and a newline to stdin. */
  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Closes stdin (EOF). */
  end(): void {
    this.child.stdin.end();
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  #notify(): void {
    for (const resolve of this.#changed.splice(0)) resolve();
  }
}

/**
 * Runs `run()` in this process with an empty stdin and in-memory stdout and
 * stderr: for command lines that never reach the network.
 */
export async function runInProcess(
  argv: readonly string[],
  signal?: AbortSignal,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = { stdout: '', stderr: '' };
  const sink = (name: 'stdout' | 'stderr'): Writable =>
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        output[name] += chunk.toString();
        callback();
      },
    });
  const code = await run(argv, {
    stdin: Readable.from([]),
    stdout: sink('stdout'),
    stderr: sink('stderr'),
    signal,
  });
  return { code, ...output };
}

// ---- a server for `connect` to talk to ----------------------------------------

/** What a test server saw. */
export interface Received {
  readonly data: string | Buffer;
  readonly isBinary: boolean;
}

/** A @proj/server on 127.0.0.1, port 0, recording what happens; closed after the test. */
export interface TestServer {
  readonly server: WebSocketServer;
  readonly url: string;
  readonly port: number;
  readonly connections: Collector<{ socket: ServerWebSocket; request: IncomingMessage }>;
  readonly messages: Collector<Received>;
  readonly closes: Collector<{ code: number; reason: string }>;
}

type StandaloneOptions = Omit<ServerOptions, 'port' | 'host' | 'server' | 'noServer'>;

/** Starts a server; `onConnection` plays its part (nothing by default). */
export async function startServer(
  options: StandaloneOptions = {},
  onConnection: (socket: ServerWebSocket, request: IncomingMessage) => void = () => {},
): Promise<TestServer> {
  const server = new WebSocketServer({ ...options, port: 0, host: '127.0.0.1' });
  onCleanup(() => server.close({ timeout: 100 }));
  await server.ready();
  const { port } = server.address() as { port: number };
  const started: TestServer = {
    server,
    port,
    url: `ws://127.0.0.1:${port}`,
    connections: new Collector(),
    messages: new Collector(),
    closes: new Collector(),
  };
  server.on('connection', (socket, request) => {
    socket.on('message', (data, isBinary) => {
      // A Buffer is a view of the read chunk: copy what outlives the event.
      started.messages.push({ data: isBinary ? Buffer.from(data as Buffer) : data, isBinary });
    });
    socket.on('close', (code, reason) => started.closes.push({ code, reason }));
    // A standalone server speaks HTTP/1.1 only: the request is an IncomingMessage.
    started.connections.push({ socket, request: request as IncomingMessage });
    onConnection(socket, request as IncomingMessage);
  });
  return started;
}

/** A port nothing listens on: one the system just handed out and took back. */
export async function closedPort(): Promise<number> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await server.ready();
  const { port } = server.address() as { port: number };
  await server.close();
  return port;
}

// ---- a client for `listen` to talk to -----------------------------------------

/** A @proj/client WebSocket that records what it receives; closed after the test. */
export class Peer {
  readonly ws: WebSocket;
  readonly messages = new Collector<string | Uint8Array>();
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (event) => {
      const data = event.data;
      this.messages.push(typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer));
    };
    this.closed = new Promise((resolve) => {
      ws.onclose = (event) => resolve({ code: event.code, reason: event.reason });
    });
    onCleanup(() => ws.close());
  }

  /** Connects and resolves once open; rejects with the error if it fails. */
  static open(
    url: string,
    protocols: string[] = [],
    options: WebSocketOptions = {},
  ): Promise<Peer> {
    const peer = new Peer(new WebSocket(url, protocols, options));
    return new Promise((resolve, reject) => {
      peer.ws.onopen = () => resolve(peer);
      peer.ws.onerror = (event) => reject(event.error as Error);
    });
  }
}

/**
 * Starts `proj-ws listen 0 ...args` and resolves once it printed its
 * address: `listening on ws://HOST:PORT`.
 */
export async function startListen(
  args: readonly string[] = [],
): Promise<{ cli: Cli; url: string; port: number }> {
  const cli = new Cli(['listen', '0', ...args]);
  const match = await cli.waitFor(/^listening on (ws:\/\/\S+:(\d+))$/m, 'stderr');
  return { cli, url: match[1]!, port: Number(match[2]) };
}
