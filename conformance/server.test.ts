/**
 * Every case of cases.ts against @proj/server, with the fuzzer in Autobahn's
 * "fuzzingclient" role: a raw TCP client that masks its frames and reads the
 * server's answers byte for byte. The server is the echo server Autobahn
 * expects: every message goes back as it came, text as text, binary as binary.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '@proj/server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CASES, DEFAULT_WAIT_MS } from './cases.js';
import { type CaseResult, fuzzServer, summarize } from './harness.js';

/** Autobahn's test servers accept messages up to 16 MiB (9.1.6 / 9.2.6 are exactly that). */
const MAX_PAYLOAD = 16 * 1024 * 1024;

let server: WebSocketServer;
let port: number;
const results: CaseResult[] = [];

beforeAll(async () => {
  server = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: MAX_PAYLOAD });
  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  await server.ready();
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await server.close();
  console.log(summarize('@proj/server (fuzzingclient)', results));
});

describe('Autobahn cases against @proj/server', () => {
  for (const testCase of CASES) {
    const wait = testCase.waitMs ?? DEFAULT_WAIT_MS;
    test(`${testCase.id} ${testCase.description}`, { timeout: 3 * wait + 5000 }, async () => {
      const result = await fuzzServer(port, testCase);
      results.push(result);
      expect(result.problems).toEqual([]);
      expect(result.verdict).toBe('OK');
    });
  }
});
