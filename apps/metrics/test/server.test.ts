import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Exposition, parseExposition, valueOf } from './exposition.js';

// The example as users run it (node server.mjs, PORT=0 METRICS_PORT=0),
// driven by real `ws` clients, and scraped over HTTP like Prometheus does.

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

interface App {
  wsUrl: string;
  metricsUrl: string;
  child: ChildProcess;
  output: () => string;
}

/** Starts server.mjs on free ports; resolves with the URLs it prints. */
async function startApp(): Promise<App> {
  const child = spawn(process.execPath, ['server.mjs'], {
    cwd: appDir,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  return new Promise<App>((resolve, reject) => {
    child.stdout!.on('data', () => {
      const ws = /listening on (ws:\/\/\S+)/.exec(output);
      const metrics = /metrics on (http:\/\/\S+)/.exec(output);
      if (ws && metrics)
        resolve({ wsUrl: ws[1]!, metricsUrl: metrics[1]!, child, output: () => output });
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
}

/** An open client, with its TCP socket (whose byte counts are the server's, mirrored). */
async function connect(url: string): Promise<{ ws: WebSocket; socket: Socket }> {
  const ws = new WebSocket(url);
  clients.push(ws);
  let socket: Socket | undefined;
  // 'open' follows 'upgrade' in the same tick.
  ws.once('upgrade', (response) => (socket = response.socket));
  await once(ws, 'open');
  return { ws, socket: socket! };
}

/** Sends `data` and resolves with the echo. */
async function echo(ws: WebSocket, data: string | Buffer): Promise<string | Buffer> {
  const reply = once(ws, 'message') as Promise<[Buffer, boolean]>;
  ws.send(data);
  const [message, isBinary] = await reply;
  return isBinary ? message : message.toString();
}

/** Sends an upgrade request with `headers` over plain HTTP; resolves with the refusal's status. */
function refusedStatus(wsUrl: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(wsUrl.replace(/^ws:/, 'http:'), {
      headers: { connection: 'Upgrade', upgrade: 'websocket', ...headers },
    });
    req.once('response', (response) => {
      response.resume();
      resolve(response.statusCode!);
    });
    req.once('upgrade', () => reject(new Error('the handshake was accepted')));
    req.once('error', reject);
    req.end();
  });
}

async function scrape(metricsUrl: string): Promise<Exposition> {
  const response = await fetch(metricsUrl);
  expect(response.status).toBe(200);
  return parseExposition(await response.text());
}

describe('apps/metrics', () => {
  it('exports connections, handshakes, messages, bytes and closes of real traffic', async () => {
    const { wsUrl, metricsUrl } = await startApp();
    const a = await connect(wsUrl);
    const b = await connect(wsUrl);
    const c = await connect(wsUrl);

    expect(await echo(a.ws, 'one')).toBe('one');
    expect(await echo(a.ws, 'twö ✓')).toBe('twö ✓');
    expect(await echo(b.ws, Buffer.from([0, 1, 2, 255]))).toEqual(Buffer.from([0, 1, 2, 255]));
    for (const text of ['x', 'y', 'z'.repeat(300)]) expect(await echo(c.ws, text)).toBe(text);

    // No Sec-WebSocket-Key: 400. Another protocol version: 426.
    expect(await refusedStatus(wsUrl, { 'sec-websocket-version': '13' })).toBe(400);
    const key = randomBytes(16).toString('base64');
    expect(
      await refusedStatus(wsUrl, { 'sec-websocket-key': key, 'sec-websocket-version': '8' }),
    ).toBe(426);

    // One closes normally, one drops its TCP connection.
    const closed = once(a.ws, 'close') as Promise<[number]>;
    a.ws.close(1000, 'done');
    expect((await closed)[0]).toBe(1000);
    const droppedClosed = once(b.socket, 'close');
    b.ws.terminate();
    await droppedClosed;

    // The server learns of the drop when its read ends.
    await expect
      .poll(async () =>
        valueOf(await scrape(metricsUrl), 'websocket_closes_total', {
          cause: 'connection-lost',
          code: '1006',
        }),
      )
      .toBe(1);

    const metrics = await scrape(metricsUrl);
    expect(valueOf(metrics, 'websocket_connections')).toBe(1);
    expect(valueOf(metrics, 'websocket_pending_handshakes')).toBe(0);
    expect(valueOf(metrics, 'websocket_handshakes_accepted_total')).toBe(3);
    expect(valueOf(metrics, 'websocket_handshakes_rejected_total', { status: '400' })).toBe(1);
    expect(valueOf(metrics, 'websocket_handshakes_rejected_total', { status: '426' })).toBe(1);
    expect(valueOf(metrics, 'websocket_messages_received_total')).toBe(6);
    expect(valueOf(metrics, 'websocket_messages_sent_total')).toBe(6);
    expect(valueOf(metrics, 'websocket_closes_total', { cause: 'peer-close', code: '1000' })).toBe(
      1,
    );
    expect(
      metrics.samples.filter((s) => s.name === 'websocket_closes_total').map((s) => s.value),
    ).toEqual([1, 1]);

    // Every byte each client wrote the server read, and the other way round,
    // the handshakes and the close frames included: the clients' sockets
    // count what the server's counted.
    const sockets = [a.socket, b.socket, c.socket];
    const clientWrote = sockets.reduce((sum, socket) => sum + socket.bytesWritten, 0);
    const clientRead = sockets.reduce((sum, socket) => sum + socket.bytesRead, 0);
    expect(clientWrote).toBeGreaterThan(3 * 150); // three handshake requests at least
    expect(valueOf(metrics, 'websocket_received_bytes_total')).toBe(clientWrote);
    expect(valueOf(metrics, 'websocket_sent_bytes_total')).toBe(clientRead);

    // Prometheus conventions: counters end in _total, units in the name.
    const types = Object.fromEntries(
      [...metrics.types].filter(([name]) => name.startsWith('websocket_')),
    );
    expect(types).toEqual({
      websocket_connections: 'gauge',
      websocket_pending_handshakes: 'gauge',
      websocket_handshakes_accepted_total: 'counter',
      websocket_handshakes_rejected_total: 'counter',
      websocket_messages_received_total: 'counter',
      websocket_messages_sent_total: 'counter',
      websocket_received_bytes_total: 'counter',
      websocket_sent_bytes_total: 'counter',
      websocket_closes_total: 'counter',
      websocket_backlog_exceeded_total: 'counter',
      websocket_user_errors_total: 'counter',
    });
    for (const name of Object.keys(types)) expect(metrics.help.get(name)).toBeTruthy();

    // And prom-client's default Node metrics.
    expect(metrics.types.get('process_cpu_seconds_total')).toBe('counter');
    expect(valueOf(metrics, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(metrics.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect(metrics.types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
  });

  it('does not count a scrape twice: counters stay put between scrapes without traffic', async () => {
    const { wsUrl, metricsUrl } = await startApp();
    const { ws } = await connect(wsUrl);
    await echo(ws, 'hello');
    const first = await scrape(metricsUrl);
    const second = await scrape(metricsUrl);
    for (const name of [
      'websocket_handshakes_accepted_total',
      'websocket_messages_received_total',
      'websocket_messages_sent_total',
      'websocket_received_bytes_total',
      'websocket_sent_bytes_total',
    ]) {
      expect(valueOf(second, name), name).toBe(valueOf(first, name));
      expect(valueOf(second, name), name).toBeGreaterThan(0);
    }
    await echo(ws, 'again');
    const third = await scrape(metricsUrl);
    expect(valueOf(third, 'websocket_messages_received_total')).toBe(2);
    expect(valueOf(third, 'websocket_messages_sent_total')).toBe(2);
  });

  it('serves GET and HEAD /metrics in the text format, 404 elsewhere, 405 for other methods', async () => {
    const { wsUrl, metricsUrl } = await startApp();
    const response = await fetch(metricsUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await response.text()).toContain('# TYPE websocket_connections gauge');

    const head = await fetch(metricsUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(new URL('/', metricsUrl))).status).toBe(404);
    expect((await fetch(new URL('/metrics/x', metricsUrl))).status).toBe(404);
    const post = await fetch(metricsUrl, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    // The WebSocket port does not serve the metrics.
    expect((await fetch(new URL('/metrics', wsUrl.replace(/^ws:/, 'http:')))).status).toBe(426);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`drains on ${signal}: every client gets 1012 "retry-after=0", then it exits 0`, async () => {
      const { wsUrl, child } = await startApp();
      const { ws } = await connect(wsUrl);
      const closed = once(ws, 'close') as Promise<[number, Buffer]>;
      const exited = once(child, 'exit') as Promise<[number | null]>;
      child.kill(signal);
      const [code, reason] = await closed;
      expect([code, reason.toString()]).toEqual([1012, 'retry-after=0']);
      expect((await exited)[0]).toBe(0);
    });
  }
});
