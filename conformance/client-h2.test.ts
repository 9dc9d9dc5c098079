/**
 * Every case of cases.ts against our clients over HTTP/2 (RFC 8441), with the
 * fuzzer in Autobahn's "fuzzingserver" role: a `node:http2` secure server
 * (`enableConnectProtocol`, HTTP/2 only) that answers each client's extended
 * CONNECT with 200, plays the case's unmasked frames on the stream and reads
 * the client's masked answers byte for byte, judged by the same rules as over
 * TCP (END_STREAM standing for the FIN). The clients echo every message, as
 * in client.test.ts: first a minimal one on `ClientConnection` in its `http2`
 * mode driven by a `node:http2` session, then the WHATWG `WebSocket` of
 * @proj/client with its `http2` option.
 *
 * Each client keeps one HTTP/2 session for all its cases (the minimal one
 * here, @proj/client's WebSocket in its session pool), so a case that closes
 * or fails its WebSocket must leave the session up for the next one: the
 * last test of each group checks it is still the only one, and still open.
 */
import {
  type ClientHttp2Session,
  type IncomingHttpHeaders,
  connect as connectHttp2,
  constants as http2Constants,
} from 'node:http2';
import { WebSocket } from '@proj/client';
import { ClientConnection } from '@proj/protocol';
import { testCertificate } from '@proj/test-utils';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CASES, DEFAULT_WAIT_MS } from './cases.js';
import {
  type CaseResult,
  type ClientUnderTest,
  H2FuzzingServer,
  inCaseOrder,
  mayRunConcurrently,
  summarize,
} from './harness.js';

const { cert, key } = testCertificate();
let fuzzer: H2FuzzingServer;
/** The minimal client's one HTTP/2 session, made for the first case. */
let protocolSession: ClientHttp2Session | undefined;
/** The session being set up, shared by the cases that start meanwhile. */
let protocolSessionReady: Promise<ClientHttp2Session> | undefined;
const protocolResults: CaseResult[] = [];
const webSocketResults: CaseResult[] = [];

beforeAll(async () => {
  fuzzer = await H2FuzzingServer.listen({ cert, key });
});

afterAll(async () => {
  protocolSession?.destroy();
  await fuzzer?.close();
  console.log(
    summarize(
      'ClientConnection echo client over HTTP/2 (fuzzingserver)',
      inCaseOrder(protocolResults),
    ),
  );
  console.log(
    summarize(
      '@proj/client WebSocket echo client over HTTP/2 (fuzzingserver)',
      inCaseOrder(webSocketResults),
    ),
  );
});

/** Response header fields as `ClientConnection` takes them: strings, no pseudo-headers. */
function responseFields(headers: IncomingHttpHeaders): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    fields[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return fields;
}

/**
 * The minimal client's session to the fuzzer, opened on first use and kept:
 * an extended CONNECT may only be sent once the server's SETTINGS enabled it
 * (RFC 8441 §3), so the first case waits for them.
 */
function protocolSessionTo(origin: string): Promise<ClientHttp2Session> {
  protocolSessionReady ??= openProtocolSession(origin);
  return protocolSessionReady;
}

async function openProtocolSession(origin: string): Promise<ClientHttp2Session> {
  const session = connectHttp2(origin, { ca: cert });
  session.on('error', () => {}); // the session test reports a lost session
  await new Promise<void>((resolve, reject) => {
    session.once('remoteSettings', () => resolve());
    session.once('error', reject);
  });
  protocolSession = session;
  return session;
}

/**
 * An echo client: `ClientConnection` with `http2: { scheme: 'https' }` on a
 * stream of a `node:http2` session, nothing more (the HTTP/2 analogue of
 * protocolEchoClient in client.test.ts).
 */
function protocolEchoClient(session: ClientHttp2Session, url: string): ClientUnderTest {
  const { host, pathname, search } = new URL(url);
  let reportClosed!: () => void;
  const closed = new Promise<void>((resolve) => (reportClosed = resolve));
  const connection: ClientConnection = new ClientConnection({
    host,
    path: pathname + search,
    http2: { scheme: 'https' },
    handler: {
      write: (chunks) => {
        if (stream.destroyed) return;
        for (const chunk of chunks) stream.write(chunk);
      },
      end: () => stream.end(),
      onMessage: (data, binary) => {
        if (binary) connection.sendBinary(data);
        else connection.sendText(data);
      },
      onClose: () => reportClosed(),
    },
  });
  const stream = session.request(connection.connectHeaders!, { endStream: false });
  stream.on('response', (headers) => {
    connection.receiveConnectResponse(Number(headers[':status']), responseFields(headers));
    // Read only from here: node:http2 emits 'response' a tick after the
    // HEADERS frame, while DATA that came in the same read is emitted at once,
    // and `ClientConnection` refuses data before its response.
    stream.on('data', (chunk: Buffer) => connection.receiveData(chunk));
  });
  // END_STREAM is the server's FIN: the connection ends its side in turn.
  stream.on('end', () => connection.receiveEof());
  stream.on('close', () => connection.receiveEof());
  stream.on('error', () => {}); // 'close' follows
  return {
    closed,
    destroy: () => {
      if (!stream.closed) stream.close(http2Constants.NGHTTP2_CANCEL);
    },
  };
}

/**
 * An echo client on the WHATWG API with the `http2` option, trusting the
 * test certificate: `onmessage` sends the data back, binary as an ArrayBuffer.
 */
function webSocketEchoClient(url: string): ClientUnderTest {
  const socket = new WebSocket(url, [], { http2: true, ca: cert });
  socket.binaryType = 'arraybuffer';
  socket.onmessage = (event) => socket.send(event.data as string | ArrayBuffer);
  socket.onerror = () => {}; // the close event follows
  const closed = new Promise<void>((resolve) => socket.addEventListener('close', () => resolve()));
  return { closed, destroy: () => socket.close() };
}

/**
 * Registers the cases as tests, concurrent (vitest's `maxConcurrency`, 5, at
 * a time on the client's one session) where {@link mayRunConcurrently}.
 */
function eachCase(run: (testCase: (typeof CASES)[number]) => Promise<void>): void {
  for (const testCase of CASES) {
    const wait = testCase.waitMs ?? DEFAULT_WAIT_MS;
    const options = { timeout: 3 * wait + 5000, concurrent: mayRunConcurrently(testCase) };
    test(`${testCase.id} ${testCase.description}`, options, () => run(testCase));
  }
}

describe('Autobahn cases against a ClientConnection echo client over HTTP/2', () => {
  eachCase(async (testCase) => {
    const session = await protocolSessionTo(fuzzer.origin);
    const result = await fuzzer.run((url) => protocolEchoClient(session, url), testCase);
    protocolResults.push(result);
    expect(result.problems).toEqual([]);
    expect(result.verdict).toBe('OK');
  });
});

describe('the ClientConnection echo client', () => {
  test('ran every case on one HTTP/2 session, still open', () => {
    expect(protocolResults.length).toBeGreaterThan(0);
    expect(fuzzer.sessionsOpened).toBe(1);
    expect(fuzzer.openSessions).toBe(1);
    expect(protocolSession!.closed || protocolSession!.destroyed).toBe(false);
  });
});

/** Sessions the fuzzer had seen before the WebSocket's cases. */
let sessionsBefore = 0;

describe('Autobahn cases against a @proj/client WebSocket echo client over HTTP/2', () => {
  beforeAll(async () => {
    protocolSession?.destroy();
    while (fuzzer.openSessions > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    sessionsBefore = fuzzer.sessionsOpened;
  });

  eachCase(async (testCase) => {
    const result = await fuzzer.run(webSocketEchoClient, testCase);
    webSocketResults.push(result);
    expect(result.problems).toEqual([]);
    expect(result.verdict).toBe('OK');
  });
});

describe('the @proj/client WebSocket echo client', () => {
  test("ran every case on its pool's one HTTP/2 session, still open", async () => {
    expect(webSocketResults.length).toBeGreaterThan(0);
    expect(fuzzer.sessionsOpened - sessionsBefore).toBe(1);
    expect(fuzzer.openSessions).toBe(1);
  });
});
