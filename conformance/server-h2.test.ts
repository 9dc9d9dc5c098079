/**
 * Every case of cases.ts against @proj/server over HTTP/2 (RFC 8441), with
 * the fuzzer in Autobahn's "fuzzingclient" role: the same echo server as
 * server.test.ts, attached to a `node:http2` secure server that also serves
 * HTTP/1.1, and one HTTP/2 session from the fuzzer. Each case is an extended
 * CONNECT stream of that session, with the case's masked frames played on it
 * and the server's answers read byte for byte, judged by the same rules as
 * over TCP (the stream's END_STREAM standing for the TCP FIN).
 *
 * One session for all 301 cases shows, besides each case, that a WebSocket
 * closing or failing ends only its own stream: the session must still be up,
 * with no GOAWAY, after the last case.
 */
import { type Http2SecureServer, type Http2Session, createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { type UpgradeRequest, WebSocketServer, isHttp2Request } from '@proj/server';
import { testCertificate } from '@proj/test-utils';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CASES, DEFAULT_WAIT_MS } from './cases.js';
import {
  type CaseResult,
  H2FuzzingClient,
  inCaseOrder,
  mayRunConcurrently,
  summarize,
} from './harness.js';

/** Autobahn's test servers accept messages up to 16 MiB (9.1.6 / 9.2.6 are exactly that). */
const MAX_PAYLOAD = 16 * 1024 * 1024;

let h2: Http2SecureServer;
let server: WebSocketServer<undefined, UpgradeRequest>;
let fuzzer: H2FuzzingClient;
/** Server-side HTTP/2 sessions, to show every case came over the one. */
const serverSessions = new Set<Http2Session>();
/** Connections that did not come as an HTTP/2 stream (there must be none). */
let notHttp2 = 0;
const results: CaseResult[] = [];

beforeAll(async () => {
  const { cert, key } = testCertificate();
  h2 = createSecureServer({ cert, key, allowHTTP1: true });
  h2.on('session', (session) => serverSessions.add(session));
  server = new WebSocketServer<undefined, UpgradeRequest>({ server: h2, maxPayload: MAX_PAYLOAD });
  server.on('connection', (socket, request) => {
    if (!isHttp2Request(request)) notHttp2++;
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
  fuzzer = await H2FuzzingClient.connect((h2.address() as AddressInfo).port, cert);
});

afterAll(async () => {
  await fuzzer?.close();
  await server?.close();
  await new Promise<void>((resolve) => (h2 ? h2.close(() => resolve()) : resolve()));
  console.log(summarize('@proj/server over HTTP/2 streams (fuzzingclient)', inCaseOrder(results)));
});

// Concurrent where the harness allows (vitest's `maxConcurrency`, 5, at a
// time): several streams at once is what one session is for, and it keeps
// the file's runtime near server.test.ts's.
describe('Autobahn cases against @proj/server over HTTP/2', () => {
  for (const testCase of CASES) {
    const wait = testCase.waitMs ?? DEFAULT_WAIT_MS;
    const options = { timeout: 3 * wait + 5000, concurrent: mayRunConcurrently(testCase) };
    test(`${testCase.id} ${testCase.description}`, options, async () => {
      const result = await fuzzer.run(testCase);
      results.push(result);
      expect(result.problems).toEqual([]);
      expect(result.verdict).toBe('OK');
    });
  }
});

describe('the HTTP/2 session under the cases', () => {
  test('carried every case as a stream and is still open, with no GOAWAY', () => {
    expect(fuzzer.streamsOpened).toBe(results.length);
    expect(results.length).toBeGreaterThan(0);
    expect(serverSessions.size).toBe(1);
    expect(notHttp2).toBe(0);
    expect(fuzzer.goaways).toBe(0);
    expect(fuzzer.session.closed || fuzzer.session.destroyed).toBe(false);
    expect(fuzzer.session.state.localWindowSize).toBeGreaterThan(0);
  });
});
