/**
 * Autobahn sections 12 and 13 (permessage-deflate) against @proj/server and
 * @proj/client. The peer is `ws` 8.23, which implements RFC 7692 on its own
 * zlib code: a different implementation on each side of every connection.
 *
 * - fuzzingclient role: a `ws` client makes the case's offer to an echo
 *   `WebSocketServer` of @proj/server configured with the case's accept
 *   (what it asks of the client), sends the case's messages one at a time
 *   (in fragments where the case says so) and checks each echo.
 * - fuzzingserver role: a `ws` `WebSocketServer` with the case's accept
 *   sends the messages to a @proj/client `WebSocket` that makes the case's
 *   offer and echoes every message.
 *
 * Both sides compress every message (`threshold: 0`), as Autobahn does. A case
 * is OK when permessage-deflate was negotiated with the expected parameters,
 * every echo came back in order, of the right type and byte for byte, and the
 * closing handshake ended with 1000.
 */
import { once } from 'node:events';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from '@proj/client';
import { WebSocketServer } from '@proj/server';
import { afterAll, describe, expect, test } from 'vitest';
import { type RawData, WebSocket as WsClient, WebSocketServer as WsServer } from 'ws';
import {
  COMPRESSION_CASES,
  COMPRESSION_SECTIONS,
  type CompressionCase,
  type DeflateOffer,
  type NegotiatedDeflate,
  payloads,
} from './compression-cases.js';

interface Result {
  readonly id: string;
  readonly ok: boolean;
  readonly problems: string[];
  readonly ms: number;
}

/** The parameters of a permessage-deflate element of a Sec-WebSocket-Extensions header. */
function parseNegotiated(header: string | undefined): NegotiatedDeflate | string {
  if (!header) return 'permessage-deflate was not negotiated';
  const elements = header.split(',').map((e) => e.trim());
  if (elements.length !== 1) return `more than one extension: ${header}`;
  const [name, ...params] = elements[0]!.split(';').map((p) => p.trim());
  if (name !== 'permessage-deflate') return `not permessage-deflate: ${header}`;
  const result = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  for (const param of params) {
    const [key, value] = param.split('=').map((s) => s.trim());
    if (key === 'server_no_context_takeover') result.serverNoContextTakeover = true;
    else if (key === 'client_no_context_takeover') result.clientNoContextTakeover = true;
    else if (key === 'server_max_window_bits') result.serverMaxWindowBits = Number(value);
    else if (key === 'client_max_window_bits') result.clientMaxWindowBits = Number(value);
    else return `unknown parameter ${param}`;
  }
  return result;
}

function offerHeader(offers: readonly DeflateOffer[]): string {
  return offers
    .map((o) => {
      const params = ['permessage-deflate', 'client_max_window_bits'];
      if (o.serverNoContextTakeover) params.push('server_no_context_takeover');
      if (o.serverMaxWindowBits) params.push(`server_max_window_bits=${o.serverMaxWindowBits}`);
      return params.join('; ');
    })
    .join(', ');
}

function checkNegotiated(
  testCase: CompressionCase,
  header: string | undefined,
  problems: string[],
) {
  const got = parseNegotiated(header);
  if (typeof got === 'string') problems.push(got);
  else if (JSON.stringify(got) !== JSON.stringify(testCase.expected)) {
    problems.push(`negotiated ${header}, expected ${JSON.stringify(testCase.expected)}`);
  }
}

/** Messages in arrival order, awaited one at a time. */
class Inbox<T> {
  readonly #queue: T[] = [];
  #waiter: ((value: T | undefined) => void) | undefined;
  push(value: T): void {
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter(value);
    } else this.#queue.push(value);
  }
  /** Resolves undefined when the connection closed first. */
  end(): void {
    this.#waiter?.(undefined);
    this.#waiter = undefined;
    this.#ended = true;
  }
  #ended = false;
  next(): Promise<T | undefined> {
    if (this.#queue.length > 0) return Promise.resolve(this.#queue.shift());
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.#waiter = resolve));
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Sends one case message from a `ws` socket, cut into frames of `fragmentSize` if set. */
function sendMessage(ws: WsClient, testCase: CompressionCase, payload: Buffer): void {
  const binary = testCase.data.binary;
  const step = testCase.fragmentSize || payload.length;
  for (let at = 0; at < payload.length; at += step) {
    const fin = at + step >= payload.length;
    ws.send(payload.subarray(at, at + step), { binary, fin, compress: true });
  }
}

/** Sends the case's messages one at a time over `ws`, checking each echo in `inbox`. */
async function exchange(
  ws: WsClient,
  inbox: Inbox<{ data: Buffer; binary: boolean }>,
  testCase: CompressionCase,
  problems: string[],
): Promise<void> {
  let n = 0;
  for (const payload of payloads(testCase)) {
    n++;
    sendMessage(ws, testCase, payload);
    const echo = await inbox.next();
    if (!echo) {
      problems.push(`connection closed before the echo of message ${n}`);
      return;
    }
    if (echo.binary !== testCase.data.binary) {
      problems.push(`message ${n}: echoed as ${echo.binary ? 'binary' : 'text'}`);
      return;
    }
    if (!echo.data.equals(payload)) {
      problems.push(
        `message ${n}: echo of ${echo.data.length} bytes differs from the ${payload.length} sent`,
      );
      return;
    }
  }
}

const serverResults: Result[] = [];
const clientResults: Result[] = [];

/** fuzzingclient: a `ws` client against an @proj/server echo server. */
async function runAgainstServer(testCase: CompressionCase): Promise<Result> {
  const started = Date.now();
  const problems: string[] = [];
  const server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: { threshold: 0, ...testCase.accept },
  });
  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  await server.ready();
  const { port } = server.address() as AddressInfo;
  try {
    const url = `ws://127.0.0.1:${port}/`;
    // 13.7 offers three elements, which a `ws` client cannot; the handshake
    // alone is checked with Autobahn's full header, the messages go over the
    // first offer (the one the server must pick).
    if (testCase.offers.length > 1) {
      const header = await handshakeOnly(port, offerHeader(testCase.offers));
      checkNegotiated(testCase, header, problems);
    }
    const offer = testCase.offers[0]!;
    const ws = new WsClient(url, {
      perMessageDeflate: {
        threshold: 0,
        serverNoContextTakeover: offer.serverNoContextTakeover === true,
        ...(offer.serverMaxWindowBits ? { serverMaxWindowBits: offer.serverMaxWindowBits } : {}),
      },
    });
    let response: string | undefined;
    ws.on('upgrade', (res) => {
      response = res.headers['sec-websocket-extensions'];
    });
    const inbox = new Inbox<{ data: Buffer; binary: boolean }>();
    ws.on('message', (data, isBinary) => inbox.push({ data: toBuffer(data), binary: isBinary }));
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('close', () => inbox.end());
    ws.on('error', (error) => problems.push(`ws error: ${error.message}`));
    await Promise.race([once(ws, 'open'), closed]);
    if (ws.readyState === WsClient.OPEN) {
      checkNegotiated(testCase, response, problems);
      await exchange(ws, inbox, testCase, problems);
      ws.close(1000);
    }
    const code = await closed;
    if (code !== 1000) problems.push(`closed with ${code}`);
  } finally {
    await server.close();
  }
  return { id: testCase.id, ok: problems.length === 0, problems, ms: Date.now() - started };
}

/** A bare upgrade request with `offer`; resolves the Sec-WebSocket-Extensions answer. */
function handshakeOnly(port: number, offer: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/',
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Extensions': offer,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      const value = res.headers['sec-websocket-extensions'];
      resolve(Array.isArray(value) ? value.join(', ') : value);
    });
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

/** fuzzingserver: a `ws` server against a @proj/client WebSocket echo client. */
async function runAgainstClient(testCase: CompressionCase): Promise<Result> {
  const started = Date.now();
  const problems: string[] = [];
  const server = new WsServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: {
      threshold: 0,
      clientNoContextTakeover: testCase.accept.clientNoContextTakeover === true,
      ...(testCase.accept.clientMaxWindowBits
        ? { clientMaxWindowBits: testCase.accept.clientMaxWindowBits }
        : {}),
    },
  });
  let response: string | undefined;
  server.on('headers', (headers) => {
    const line = headers.find((h) => h.toLowerCase().startsWith('sec-websocket-extensions:'));
    response = line?.slice(line.indexOf(':') + 1).trim();
  });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    const connected = once(server, 'connection') as Promise<[WsClient]>;
    // @proj/client makes one offer; for 13.7 that is the first of the three.
    const offer = testCase.offers[0]!;
    const client = new WebSocket(`ws://127.0.0.1:${port}/`, [], {
      perMessageDeflate: {
        threshold: 0,
        serverNoContextTakeover: offer.serverNoContextTakeover === true,
        ...(offer.serverMaxWindowBits ? { serverMaxWindowBits: offer.serverMaxWindowBits } : {}),
      },
    });
    client.binaryType = 'arraybuffer';
    client.onmessage = (event) => client.send(event.data as string | ArrayBuffer);
    client.onerror = (event) =>
      problems.push(`client error: ${String((event as ErrorEvent).message)}`);
    const clientClosed = new Promise<CloseEvent>((resolve) =>
      client.addEventListener('close', (event) => resolve(event)),
    );
    const [ws] = await Promise.race([connected, clientClosed.then(() => [undefined] as const)]);
    if (ws) {
      await new Promise<void>((resolve) => {
        if (client.readyState === WebSocket.OPEN) resolve();
        else client.addEventListener('open', () => resolve());
        client.addEventListener('close', () => resolve());
      });
      checkNegotiated(testCase, response, problems);
      if (client.extensions !== response) {
        problems.push(
          `client.extensions is ${JSON.stringify(client.extensions)}, server sent ${response}`,
        );
      }
      const inbox = new Inbox<{ data: Buffer; binary: boolean }>();
      ws.on('message', (data, isBinary) => inbox.push({ data: toBuffer(data), binary: isBinary }));
      ws.on('close', () => inbox.end());
      await exchange(ws, inbox, testCase, problems);
      ws.close(1000);
    }
    const event = await clientClosed;
    if (event.code !== 1000 || !event.wasClean) {
      problems.push(`client closed with ${event.code}, wasClean ${event.wasClean}`);
    }
  } finally {
    for (const socket of server.clients) socket.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return { id: testCase.id, ok: problems.length === 0, problems, ms: Date.now() - started };
}

function summarize(title: string, results: readonly Result[]): string {
  const lines = [`${title}: ${results.length} cases`];
  for (const section of Object.keys(COMPRESSION_SECTIONS)) {
    const inSection = results.filter((r) => r.id.startsWith(`${section}.`));
    const ok = inSection.filter((r) => r.ok).length;
    const ms = inSection.reduce((sum, r) => sum + r.ms, 0);
    lines.push(
      `  ${section} ${COMPRESSION_SECTIONS[section]!.padEnd(46)} ${ok} OK, ` +
        `${inSection.length - ok} FAILED, ${ms} ms`,
    );
  }
  const slowest = [...results].sort((a, b) => b.ms - a.ms).slice(0, 3);
  lines.push(`  slowest: ${slowest.map((r) => `${r.id} ${r.ms} ms`).join(', ')}`);
  if (process.env['CONFORMANCE_VERBOSE']) {
    for (const r of results) lines.push(`  ${r.id.padEnd(8)} ${r.ok ? 'OK' : 'FAILED'} ${r.ms} ms`);
  }
  for (const r of results) if (!r.ok) lines.push(`  ${r.id}: ${r.problems.join('; ')}`);
  return lines.join('\n');
}

afterAll(() => {
  console.log(summarize('@proj/server (fuzzingclient, ws peer)', serverResults));
  console.log(summarize('@proj/client WebSocket (fuzzingserver, ws peer)', clientResults));
});

describe('Autobahn compression cases against @proj/server', () => {
  for (const testCase of COMPRESSION_CASES) {
    test(`${testCase.id} ${testCase.description}`, { timeout: testCase.timeoutMs }, async () => {
      const result = await runAgainstServer(testCase);
      serverResults.push(result);
      expect(result.problems).toEqual([]);
    });
  }
});

describe('Autobahn compression cases against a @proj/client WebSocket echo client', () => {
  for (const testCase of COMPRESSION_CASES) {
    test(`${testCase.id} ${testCase.description}`, { timeout: testCase.timeoutMs }, async () => {
      const result = await runAgainstClient(testCase);
      clientResults.push(result);
      expect(result.problems).toEqual([]);
    });
  }
});
