/**
 * Every case of cases.ts against our clients, with the fuzzer in Autobahn's
 * "fuzzingserver" role: a raw TCP server that accepts the handshake, sends the
 * case's unmasked frames and reads the client's masked answers byte for byte.
 * The client under test echoes every message back, as Autobahn's test clients
 * do: first a minimal client on `ClientConnection` from @proj/protocol over
 * `node:net`, then the WHATWG `WebSocket` of @proj/client.
 */
import { connect } from 'node:net';
import { WebSocket } from '@proj/client';
import { ClientConnection } from '@proj/protocol';
import { afterAll, describe, expect, test } from 'vitest';
import { CASES, DEFAULT_WAIT_MS } from './cases.js';
import { type CaseResult, type ClientUnderTest, fuzzClient, summarize } from './harness.js';

/** An echo client: `ClientConnection` driven by a `node:net` socket, nothing more. */
function protocolEchoClient(url: string): ClientUnderTest {
  const { hostname, port, pathname, search } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port), noDelay: true });
  let reportClosed!: () => void;
  const closed = new Promise<void>((resolve) => (reportClosed = resolve));
  const connection: ClientConnection = new ClientConnection({
    host: `${hostname}:${port}`,
    path: pathname + search,
    handler: {
      write: (chunks) => {
        if (socket.destroyed) return;
        for (const chunk of chunks) socket.write(chunk);
      },
      end: () => socket.end(),
      onMessage: (data, binary) => {
        if (binary) connection.sendBinary(data);
        else connection.sendText(data);
      },
      onClose: () => reportClosed(),
    },
  });
  socket.on('connect', () => connection.connect());
  socket.on('data', (chunk: Buffer) => connection.receiveData(chunk));
  socket.on('close', () => connection.receiveEof());
  socket.on('error', () => {}); // 'close' follows
  return { closed, destroy: () => socket.destroy() };
}

/**
 * An echo client on the WHATWG API, as a browser test page would be:
 * `onmessage` sends the data back, binary as an ArrayBuffer.
 */
function webSocketEchoClient(url: string): ClientUnderTest {
  const socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  socket.onmessage = (event) => socket.send(event.data as string | ArrayBuffer);
  socket.onerror = () => {}; // the close event follows
  const closed = new Promise<void>((resolve) => socket.addEventListener('close', () => resolve()));
  return { closed, destroy: () => socket.close() };
}

const protocolResults: CaseResult[] = [];
const webSocketResults: CaseResult[] = [];

afterAll(() => {
  console.log(summarize('ClientConnection echo client (fuzzingserver)', protocolResults));
  console.log(summarize('@proj/client WebSocket echo client (fuzzingserver)', webSocketResults));
});

describe('Autobahn cases against a ClientConnection echo client', () => {
  for (const testCase of CASES) {
    const wait = testCase.waitMs ?? DEFAULT_WAIT_MS;
    test(`${testCase.id} ${testCase.description}`, { timeout: 3 * wait + 5000 }, async () => {
      const result = await fuzzClient(protocolEchoClient, testCase);
      protocolResults.push(result);
      expect(result.problems).toEqual([]);
      expect(result.verdict).toBe('OK');
    });
  }
});

describe('Autobahn cases against a @proj/client WebSocket echo client', () => {
  for (const testCase of CASES) {
    const wait = testCase.waitMs ?? DEFAULT_WAIT_MS;
    test(`${testCase.id} ${testCase.description}`, { timeout: 3 * wait + 5000 }, async () => {
      const result = await fuzzClient(webSocketEchoClient, testCase);
      webSocketResults.push(result);
      expect(result.problems).toEqual([]);
      expect(result.verdict).toBe('OK');
    });
  }
});
