import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const children: ChildProcess[] = [];
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.terminate();
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
});

/** Starts the cluster with two workers on a free port; resolves once every worker listens. */
async function startCluster(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['server.mjs'], {
    cwd: appDir,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', WORKERS: '2' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', () => {
      const match = /cluster listening on (ws:\/\/\S+) with 2 workers/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`cluster exited with ${code}: ${output}`)));
  });
  return { url, child };
}

interface Client {
  ws: WebSocket;
  worker: string;
  received: string[];
}

/** Connects until it has one client on each of the two workers (the X-Worker header says which). */
async function oneClientPerWorker(url: string): Promise<[Client, Client]> {
  const byWorker = new Map<string, Client>();
  for (let attempt = 0; byWorker.size < 2; attempt++) {
    if (attempt === 20) throw new Error('20 connections, all on one worker');
    const ws = new WebSocket(url);
    clients.push(ws);
    // Both at once: ws emits `open` in the same tick as `upgrade`.
    const upgraded = once(ws, 'upgrade') as Promise<[{ headers: Record<string, string> }]>;
    await once(ws, 'open');
    const [response] = await upgraded;
    const worker = response.headers['x-worker']!;
    if (byWorker.has(worker)) continue;
    const client: Client = { ws, worker, received: [] };
    ws.on('message', (data: Buffer) => client.received.push(data.toString()));
    byWorker.set(worker, client);
  }
  return [...byWorker.values()] as [Client, Client];
}

describe('apps/cluster', () => {
  it('publishes "lobby:" messages to the clients of every worker and echoes the rest', async () => {
    const { url } = await startCluster();
    const [a, b] = await oneClientPerWorker(url);
    expect(a.worker).not.toBe(b.worker);

    // Through two workers and the primary's IPC: poll's default second is
    // too short on a loaded 2-core CI machine (it failed there once).
    const within = { timeout: 10_000 };
    a.ws.send('lobby:hello from worker ' + a.worker);
    await expect.poll(() => b.received, within).toEqual([`hello from worker ${a.worker}`]);
    await expect.poll(() => a.received, within).toEqual([`hello from worker ${a.worker}`]);

    b.ws.send('just me');
    await expect.poll(() => b.received.at(-1), within).toBe('just me');
  });

  it('on SIGTERM every worker closes its clients with 1001, then the primary exits 0', async () => {
    const { url, child } = await startCluster();
    const [a, b] = await oneClientPerWorker(url);
    const closes = [a, b].map((c) => once(c.ws, 'close') as Promise<[number, Buffer]>);
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    child.kill('SIGTERM');
    const codes = (await Promise.all(closes)).map(([code]) => code);
    expect(codes).toEqual([1001, 1001]);
    expect(await exited).toEqual([0, null]);
  });
});
