import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
});

/** Starts the echo server on a free port and returns its URL. */
async function startServer(): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['server.mjs'], {
    cwd: appDir,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (): void => {
      const match = /listening on (ws:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
  return { url, child, output: () => output };
}

function run(script: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: appDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

describe('apps/echo', () => {
  it('echoes text as text and binary as binary, choosing the first subprotocol offered', async () => {
    const { url } = await startServer();
    const client = new WebSocket(url, ['first', 'second']);
    await once(client, 'open');
    expect(client.protocol).toBe('first');

    const received: Array<[string | Buffer, boolean]> = [];
    client.on('message', (data: Buffer, isBinary) =>
      received.push([isBinary ? data : data.toString(), isBinary]),
    );
    client.send('héllo ✓');
    client.send(Buffer.from([0, 1, 2, 255]));
    await expect.poll(() => received.length).toBe(2);
    expect(received[0]).toEqual(['héllo ✓', false]);
    expect(received[1]).toEqual([Buffer.from([0, 1, 2, 255]), true]);
    client.close(1000);
    await once(client, 'close');
  });

  it('accepts a 16 MiB message and refuses a larger one with 1009', async () => {
    const { url } = await startServer();
    const client = new WebSocket(url);
    await once(client, 'open');
    const big = Buffer.alloc(16 * 1024 * 1024, 0x61);
    client.send(big);
    const [echo] = (await once(client, 'message')) as [Buffer];
    expect(echo.equals(big)).toBe(true);

    client.send(Buffer.alloc(16 * 1024 * 1024 + 1));
    const [code] = (await once(client, 'close')) as [number];
    expect(code).toBe(1009);
  });

  it('logs connections and the client script round-trips through it', async () => {
    const server = await startServer();
    const { code, output } = await run('client.mjs', [server.url]);
    expect(code).toBe(0);
    expect(output).toContain('protocol=echo');
    expect(output).toContain('text: hello');
    expect(output).toContain('text: héllo wörld ✓');
    expect(output).toContain('binary: 1,2,3,255');
    expect(output).toContain('closed 1000 done');
    await expect.poll(() => server.output()).toMatch(/#1 closed 1000 done/);
    expect(server.output()).toMatch(/#1 connected from 127\.0\.0\.1 \/ protocol=echo/);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`drains on ${signal}: every client gets 1012 "retry-after=0", then it exits 0`, async () => {
      const { url, child, output } = await startServer();
      const client = new WebSocket(url);
      await once(client, 'open');
      const closed = once(client, 'close') as Promise<[number, Buffer]>;
      const exited = once(child, 'exit') as Promise<[number | null]>;
      child.kill(signal);
      const [closeCode, reason] = await closed;
      expect([closeCode, reason.toString()]).toEqual([1012, 'retry-after=0']);
      expect((await exited)[0]).toBe(0);
      expect(output()).toMatch(/draining 1 connections over 10000 ms/);
    });
  }
});
