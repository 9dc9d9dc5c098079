/**
 * Socket-level fuzzing (fast-check) of one running @proj/server echo server:
 * random and mutated opening handshakes, and random and mutated frame
 * streams after a valid one, each on its own raw TCP connection, written in
 * random splits with random pauses. Meanwhile a few healthy `ws` clients
 * echo in a background loop that checks every reply.
 *
 * What must hold, case by case:
 * - Handshakes. A request built from a model (headers deleted, duplicated,
 *   set to wrong values, broken lines, wrong methods and versions, oversize
 *   heads) gets exactly the status the model predicts, then the server
 *   closes the socket by itself: node:http answers what its parser refuses
 *   (400; 431 for a head over `maxHeadSize`; 408 for a head that stalls),
 *   the request handler 426 for a request that is no upgrade, and the
 *   upgrade path what `validateRequest` decides (400, 405, 426). A 101 must
 *   carry the right accept key, then echo and close cleanly. Bytes mutated
 *   at random, then our FIN, get `101` or a 4xx status line, then a closed
 *   socket. No status line at all comes back only (a) when the bytes held
 *   nothing but CR/LF (no request started), or (b) after a parse error of
 *   node:http while our bytes were still arriving: it writes the status and
 *   destroys the socket at once, and the kernel answers our unread bytes with
 *   a reset that may discard the status (we then see ECONNRESET or EPIPE).
 * - Frame streams. The frames the server sends back are exactly those that
 *   the protocol's own FrameParser + MessageAssembler, run on the same bytes,
 *   predict (the oracle): an echo per message, a pong per ping, then a close
 *   frame with the oracle's code and reason on a broken rule (1002, 1007,
 *   1008, 1009), or the echo of a valid close frame; or, when the stream
 *   broke nothing and we end with FIN or RST, no close frame but a dropped
 *   TCP connection. The server side reports the same failure (`error` with
 *   the same code) and `close` exactly once.
 * - Compressed frame streams, on a second server with permessage-deflate
 *   negotiated (context takeover or not, as the handshake offers): valid,
 *   truncated, mutated and garbage DEFLATE data, BFINAL blocks, bombs that
 *   inflate far past `maxPayload`, RSV1 on continuation and control frames
 *   (../../protocol/test/deflate-arbitraries.ts). The oracle inflates with
 *   node:zlib on its own, and the server must deliver and echo exactly its
 *   messages, then close with its code: 1007 for data that does not inflate
 *   or text that inflates to invalid UTF-8, 1009 once the output passes
 *   `maxPayload` (both as @proj/deflate documents), 1002 for RSV1 out of place.
 *   Healthy `ws` clients with compression echo alongside.
 * - Throughout: no uncaught exception or unhandled rejection, zero echo
 *   mismatches on the healthy clients, and progress on each of them.
 *
 * Every property is seeded. Environment:
 * - `FUZZ_RUNS=<n>` runs each property n times instead of its short default
 *   (`pnpm fuzz` at the root runs 20,000 each).
 * - `FUZZ_SEED=<n>` explores another seed; a failure prints its seed and path.
 */
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import {
  EMPTY,
  HandshakeError,
  type HttpHeaders,
  type MessageLimits,
  Opcode,
  WebSocketError,
  encodeBase64,
  encodeFrame,
  encodeUtf8,
  validateRequest,
} from '@proj/protocol';
import {
  type CloseCause,
  type ServerSettings,
  type ServerWebSocket,
  WebSocketServer,
  type UpgradeRequest,
} from '@proj/server';
import {
  type Mutation,
  cutsArb,
  encodeStream,
  expand,
  hex,
  hostileArb,
  mutate,
  mutationArb,
  prng,
  scriptArb,
  split,
  type StreamOracle,
  streamOracle,
} from '../../protocol/test/arbitraries.js';
import {
  type DeflateOracle,
  compressedTallyTitle,
  deflateCaseArb,
  deflateMessage,
  deflateOracle,
  stepKinds,
} from '../../protocol/test/deflate-arbitraries.js';
import {
  CASE_TIMEOUT,
  FIELD_EDIT_ARBS,
  FUZZ_LIMITS,
  FUZZ_RUNS,
  type FieldEdit,
  type HeaderField,
  type Pause,
  RawClient,
  type Tally,
  acceptKey as acceptFor,
  applyFieldEdit,
  assertTallied,
  buildFrame,
  closeBody,
  fuzzOptions as options,
  fuzzTimeout,
  handshakeRequest,
  pausesArb,
  useCleanup,
  within,
  writePaced,
} from '@proj/test-utils';

useCleanup();

/** Per-test timeout: the short runs take seconds; long runs (`pnpm fuzz`) as long as they need. */
const TIMEOUT = fuzzTimeout(60_000);
/** The fuzzed server's limits: small enough that 1008 and 1009 come up often. */
const LIMITS = FUZZ_LIMITS satisfies MessageLimits;
/** Short, so that a stalled head is answered (408) within a second or two. */
const HANDSHAKE_TIMEOUT = 1000;

// ---- the server, its connections, and the healthy clients ----------------

/** What the server reported for one fuzzed connection, keyed by the client's port. */
interface Tracked {
  /** `undefined` when no error listener was attached (odd ports). */
  readonly errors: WebSocketError[] | undefined;
  /** The messages delivered, as the oracle writes them (binary flag and hex). */
  readonly messages: { opcode: number; payload: string }[];
  readonly closes: [number, string, boolean, CloseCause][];
  readonly closed: Promise<void>;
}

let server: WebSocketServer;
let port: number;
const tracked = new Map<number, Tracked>();

/**
 * Healthy `ws` clients, each echoing in a loop: a message (text or binary,
 * of varying size, carrying its client and sequence number), then its echo,
 * compared byte for byte, then the next.
 */
class HealthyLoad {
  readonly clients: WebSocket[] = [];
  /** Echoes received and checked, per client. */
  readonly echoed: number[] = [];
  readonly mismatches: string[] = [];
  #running = true;
  #loops: Promise<void>[] = [];

  async start(url: string, count: number, options: WebSocket.ClientOptions = {}): Promise<void> {
    for (let id = 0; id < count; id++) {
      const ws = new WebSocket(url, options);
      ws.on('error', (error) => this.mismatches.push(`client ${id}: ${String(error)}`));
      ws.on('close', (code) => {
        if (this.#running) this.mismatches.push(`client ${id}: closed with ${code}`);
      });
      await new Promise((resolve) => ws.once('open', resolve));
      // The server tracked this connection as it opened; nobody asks about it.
      tracked.delete((ws as unknown as { _socket: { localPort: number } })._socket.localPort);
      this.clients.push(ws);
      this.echoed.push(0);
    }
    this.#loops = this.clients.map((ws, id) => this.#loop(ws, id));
  }

  async #loop(ws: WebSocket, id: number): Promise<void> {
    const next = prng(id + 1);
    for (let seq = 0; this.#running; seq++) {
      const size = next() % 4 === 0 ? next() % 8192 : next() % 64;
      const binary = next() % 2 === 0;
      const body = Buffer.alloc(size, `${id}.${seq}.`);
      const sent = binary ? body : body.toString('latin1');
      const reply = new Promise<[Buffer, boolean] | 'timeout' | 'closed'>((resolve) => {
        const timer = setTimeout(() => resolve('timeout'), CASE_TIMEOUT);
        const done = (value: [Buffer, boolean] | 'closed'): void => {
          clearTimeout(timer);
          ws.off('message', onMessage);
          ws.off('close', onClose);
          resolve(value);
        };
        const onMessage = (data: Buffer, isBinary: boolean): void => done([data, isBinary]);
        const onClose = (): void => done('closed');
        ws.on('message', onMessage);
        ws.on('close', onClose);
      });
      ws.send(sent);
      const got = await reply;
      if (got === 'closed') return;
      if (got === 'timeout') {
        this.mismatches.push(`client ${id}, message ${seq}: no echo`);
        return;
      }
      const [data, isBinary] = got;
      if (isBinary !== binary || !data.equals(body)) {
        this.mismatches.push(`client ${id}, message ${seq}: wrong echo`);
      }
      this.echoed[id]!++;
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    await Promise.all(
      this.clients.map(
        (ws) =>
          new Promise<void>((resolve) => {
            ws.once('close', () => resolve());
            ws.close(1000);
          }),
      ),
    );
  }
}

const healthy = new HealthyLoad();

/**
 * Echoes every message (never compressed, so the echoes read as they are)
 * and records, by the client's port, what the server reported.
 */
function echoAndTrack(socket: ServerWebSocket<unknown>, request: UpgradeRequest): void {
  const messages: Tracked['messages'] = [];
  const remotePort = request.socket.remotePort ?? 0;
  socket.on('message', (data, isBinary) => {
    // Recorded while someone may ask: not for the healthy clients, whose
    // connections are untracked once open (a long FUZZ_RUNS run would
    // otherwise keep every echo they ever made).
    if (tracked.has(remotePort)) {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      messages.push({ opcode: isBinary ? Opcode.Binary : Opcode.Text, payload: hex(bytes) });
    }
    socket.send(data, { binary: isBinary, compress: false });
  });
  // Half the connections listen for errors; without a listener the server
  // must fail the connection all the same, silently.
  const errors = remotePort % 2 === 0 ? ([] as WebSocketError[]) : undefined;
  if (errors) socket.on('error', (error) => errors.push(error));
  const closes: [number, string, boolean, CloseCause][] = [];
  const closed = new Promise<void>((resolve) =>
    socket.on('close', (...args) => {
      closes.push(args);
      resolve();
    }),
  );
  tracked.set(remotePort, { errors, messages, closes, closed });
}

/**
 * Starts a server with the fuzz limits that echoes and tracks every
 * connection, and `count` healthy clients (made with `clientOptions`) on it.
 */
async function startFuzzServer(
  load: HealthyLoad,
  count: number,
  options: Pick<ServerSettings, 'perMessageDeflate'> = {},
  clientOptions?: WebSocket.ClientOptions,
): Promise<{ server: WebSocketServer; port: number }> {
  const started = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    ...LIMITS,
    handshakeTimeout: HANDSHAKE_TIMEOUT,
    ...options,
  });
  started.on('connection', echoAndTrack);
  await started.ready();
  const { port } = started.address() as { port: number };
  await load.start(`ws://127.0.0.1:${port}`, count, clientOptions);
  return { server: started, port };
}

beforeAll(async () => {
  ({ server, port } = await startFuzzServer(healthy, 4));
});

afterAll(async () => {
  await healthy.stop();
  await server.close({ timeout: 1000 });
  expect(healthy.mismatches).toEqual([]);
  expect(server.clients.size).toBe(0);
});

/**
 * A test of a property, run while the healthy clients keep echoing (checked
 * after it, on the main server unless `on` names another); its outcomes are
 * tallied under `title`.
 */
function fuzzWhileHealthy<Ts>(
  name: string,
  title: string | (() => string),
  property: (tally: Tally) => fc.IAsyncProperty<Ts>,
  params: fc.Parameters<unknown>,
  on?: () => { server: WebSocketServer; healthy: HealthyLoad },
): void {
  test(name, () => whileHealthyEcho(() => assertTallied(title, property, params), on?.()), TIMEOUT);
}

/** Runs `run` (a property) and checks that each healthy client kept echoing all along. */
async function whileHealthyEcho(
  run: () => Promise<void>,
  on: { server: WebSocketServer; healthy: HealthyLoad } = { server, healthy },
): Promise<void> {
  const before = [...on.healthy.echoed];
  await run();
  expect(on.healthy.mismatches).toEqual([]);
  for (const [id, count] of on.healthy.echoed.entries()) {
    expect(count, `healthy client ${id} made progress`).toBeGreaterThan(before[id]!);
  }
  // Every fuzzed connection is gone: only the healthy clients remain.
  expect(on.server.clients.size).toBe(on.healthy.clients.length);
}

// ---- helpers ----------------------------------------------------------------

/** Writes `chunks` one by one with the given pauses between them. */
async function writeChunks(
  raw: RawClient,
  chunks: readonly Uint8Array[],
  pauses: readonly Pause[],
): Promise<void> {
  await writePaced(
    (chunk) => raw.write(chunk),
    chunks,
    pauses,
    () => raw.socket.destroyed,
  );
}

/** Records whether the connection was reset under us (ECONNRESET, or EPIPE on a write). */
function watchReset(raw: RawClient): { readonly reset: boolean } {
  const state = { reset: false };
  raw.socket.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNRESET' || error.code === 'EPIPE') state.reset = true;
  });
  return state;
}

/** Resolves once the socket is closed or a response head arrived, whichever comes first. */
async function settled(raw: RawClient): Promise<void> {
  try {
    await raw.until(() => (raw.isClosed || raw.data.includes('\r\n\r\n') ? true : undefined));
  } catch {
    // Closed: settled too.
  }
}

/** The server-side `close` of the connection `raw` opened (at once if there is none). */
async function serverClosed(localPort: number): Promise<void> {
  await within(tracked.get(localPort)?.closed ?? Promise.resolve(), 'server-side close event');
  tracked.delete(localPort);
}

/** The status of the first response line, or `undefined` when nothing arrived. */
function statusOf(data: Buffer): number | undefined {
  if (data.length === 0) return undefined;
  const match = /^HTTP\/1\.1 (\d{3}) /.exec(data.subarray(0, 16).toString('latin1'));
  if (!match) throw new Error(`not a status line: ${JSON.stringify(data.toString('latin1'))}`);
  return Number(match[1]);
}

/** A masked frame, mask from `seed`. */
function masked(
  opcode: number,
  payload: Uint8Array | string,
  seed = 0x1234_5678,
  fin = true,
): Uint8Array {
  const mask = new Uint8Array([
    seed >>> 24,
    (seed >>> 16) & 0xff,
    (seed >>> 8) & 0xff,
    seed & 0xff,
  ]);
  return buildFrame(opcode, payload, { mask, fin });
}

// ---- handshakes: the request model and what node:http + the server answer -------

/** One header line; `raw` replaces the whole line with bytes node:http refuses. */
interface Line extends HeaderField {
  readonly raw?: string;
}

interface RequestModel {
  readonly method: string;
  readonly target: string;
  readonly version: string;
  readonly lines: readonly Line[];
  /** Size of a filler header put first, past `maxHeadSize` (431). */
  readonly oversize?: number;
}

/** Methods llhttp knows (others, lower case included, are a parse error: 400). */
const NODE_METHODS = new Set(['GET', 'POST', 'PUT', 'HEAD', 'OPTIONS', 'DELETE', 'PATCH']);
/** HTTP versions llhttp accepts; others are a parse error (400). */
const NODE_VERSIONS = new Set(['0.9', '1.0', '1.1', '2.0']);
/** Fields IncomingMessage keeps the first of, dropping repeats (`_addHeaderLine`). */
const FIRST_WINS = new Set(['host', 'user-agent', 'content-type', 'authorization', 'referer']);

/** A valid key derived from `seed`, so runs reproduce. */
function keyFrom(seed: number): string {
  const next = prng(seed);
  return encodeBase64(Uint8Array.from({ length: 16 }, () => next() & 0xff));
}

/** Values to set each field to: valid ones, wrong ones, and edge cases. */
function valuesFor(name: string, seed: number): readonly string[] {
  switch (name.toLowerCase()) {
    case 'host':
      return ['127.0.0.1', 'example.com:8080', '[::1]:80', ''];
    case 'upgrade':
      return ['websocket', 'WebSocket', 'websocket, h2c', 'h2c', 'websocket2', ''];
    case 'connection':
      return ['Upgrade', 'upgrade', 'keep-alive, Upgrade', 'keep-alive', 'close', 'Upgradex', ''];
    case 'sec-websocket-key':
      return [
        keyFrom(seed + 1),
        '',
        'short',
        'not base64 at all!!!!!!!',
        encodeBase64(new Uint8Array(15)),
        encodeBase64(new Uint8Array(17)),
        keyFrom(seed).replace(/=+$/, ''),
      ];
    case 'sec-websocket-version':
      return ['13', '8', '7', '14', '0', '', 'abc', '13, 8', '1300', '013'];
    case 'sec-websocket-protocol':
      return ['chat', 'chat, superchat', 'chat, chat', '', 'a b', 'x/y'];
    case 'sec-websocket-extensions':
      return [
        'permessage-deflate',
        'permessage-deflate; client_max_window_bits',
        'x; y="z',
        '',
        'a, b',
      ];
    default:
      return ['http://example.com', 'null', '', 'a\tb', 'caf\xe9'];
  }
}

/** Optional fields a client may add. */
const EXTRA_FIELDS: readonly (readonly [string, string])[] = [
  ['Origin', 'http://example.com'],
  ['Sec-WebSocket-Protocol', 'chat, superchat'],
  ['Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits'],
  ['User-Agent', 'fuzz/1.0'],
  ['X-Filler', 'x'.repeat(100)],
  ['Cookie', 'a=b'],
];

/** Ways to make one line unparsable for llhttp. */
const BREAKS: readonly ((line: Line) => string)[] = [
  (l) => `${l.name}: a\x01${l.value}`,
  (l) => `${l.name}: ${l.value}\0`,
  (l) => `${l.name}: \x7f${l.value}`,
  (l) => `${l.name} : ${l.value}`,
  (l) => `${l.name}${l.value.replace(/[:\s]/g, '')}`,
  (l) => `${l.name}: ${l.value}\r\n folded`,
  (l) => `${l.name}(x): ${l.value}`,
  (l) => `${l.name}\xff: ${l.value}`,
  (l) => `: ${l.value}`,
];

type HeaderOp = FieldEdit | { readonly op: 'break'; readonly at: number; readonly how: number };

const headerOpArb: fc.Arbitrary<HeaderOp> = fc.oneof(...FIELD_EDIT_ARBS, {
  weight: 1,
  arbitrary: fc.record({ op: fc.constant('break' as const), at: fc.nat(), how: fc.nat() }),
});

function applyOps(lines: readonly Line[], ops: readonly HeaderOp[], seed: number): Line[] {
  const out = [...lines];
  for (const op of ops) {
    if (op.op !== 'break') {
      applyFieldEdit(out, op, (name) => valuesFor(name, seed), EXTRA_FIELDS);
    } else if (out.length > 0) {
      const at = op.at % out.length;
      out[at] = { ...out[at]!, raw: BREAKS[op.how % BREAKS.length]!(out[at]!) };
    }
  }
  return out;
}

const requestModelArb: fc.Arbitrary<RequestModel> = fc
  .record({
    seed: fc.integer(),
    method: fc.oneof(
      { weight: 12, arbitrary: fc.constant('GET') },
      fc.constantFrom(
        'POST',
        'PUT',
        'HEAD',
        'OPTIONS',
        'DELETE',
        'PATCH',
        'get',
        'GETS',
        'CONNECT',
      ),
    ),
    target: fc.oneof(
      { weight: 8, arbitrary: fc.constant('/') },
      fc.constantFrom('/chat?room=1', '*', 'http://127.0.0.1/ws', '/%7Euser', '', '/a b'),
    ),
    version: fc.oneof(
      { weight: 10, arbitrary: fc.constant('1.1') },
      fc.constantFrom('1.0', '2.0', '1.2', '0.9', '3.0'),
    ),
    ops: fc.array(headerOpArb, { maxLength: 4 }),
    oversize: fc.oneof(
      { weight: 20, arbitrary: fc.constant(undefined) },
      fc.integer({ min: 17_000, max: 40_000 }),
    ),
  })
  .map(({ seed, method, target, version, ops, oversize }) => {
    const base: Line[] = [
      { name: 'Host', value: '127.0.0.1' },
      { name: 'Upgrade', value: 'websocket' },
      { name: 'Connection', value: 'Upgrade' },
      { name: 'Sec-WebSocket-Key', value: keyFrom(seed) },
      { name: 'Sec-WebSocket-Version', value: '13' },
    ];
    return {
      method,
      target: method === 'CONNECT' ? 'example.com:443' : target,
      version,
      lines: applyOps(base, ops, seed),
      oversize,
    };
  });

function serialize(model: RequestModel): Uint8Array {
  let text = `${model.method} ${model.target} HTTP/${model.version}\r\n`;
  if (model.oversize !== undefined) text += `X-Oversize: ${'a'.repeat(model.oversize)}\r\n`;
  for (const line of model.lines) text += `${line.raw ?? `${line.name}: ${line.value}`}\r\n`;
  return new Uint8Array(Buffer.from(text + '\r\n', 'latin1'));
}

/** The headers as IncomingMessage has them: lower-case names, repeats joined or dropped. */
function nodeHeaders(lines: readonly Line[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const { name, value } of lines) {
    const key = name.toLowerCase();
    const old = headers[key];
    if (old === undefined) headers[key] = value;
    else if (!FIRST_WINS.has(key)) headers[key] = `${old}, ${value}`;
  }
  return headers;
}

/**
 * What must come back: a status (then the server closes), or nothing at all
 * (CONNECT). `parseError`: node:http's parser refused the bytes before the
 * head ended; it writes the status and destroys the socket at once, so when
 * our bytes are still arriving the kernel answers them with a reset, which
 * may discard the status (the one case where nothing comes back but a reset).
 */
type HandshakeOutcome = {
  readonly status: number;
  readonly key?: string;
  readonly parseError?: boolean;
};

function expectedOutcome(model: RequestModel): HandshakeOutcome {
  // node:http's parser: request line, size, then each field line.
  const refused = (status: number): HandshakeOutcome => ({ status, parseError: true });
  if (!NODE_METHODS.has(model.method) && model.method !== 'CONNECT') return refused(400);
  if (model.target === '' || /\s/.test(model.target)) return refused(400);
  if (!NODE_VERSIONS.has(model.version)) return refused(400);
  if (model.oversize !== undefined) return refused(431);
  if (model.lines.some((line) => line.raw !== undefined)) return refused(400);
  // CONNECT goes to the server's 'connect' listener: 405, like any wrong method.
  if (model.method === 'CONNECT') return { status: 405 };
  const lines = model.lines;
  const upgrade =
    lines.some((l) => l.name.toLowerCase() === 'upgrade' && l.value !== '') &&
    lines.some(
      (l) =>
        l.name.toLowerCase() === 'connection' &&
        l.value.split(',').some((token) => token.trim().toLowerCase() === 'upgrade'),
    );
  const headers = nodeHeaders(lines);
  if (!upgrade) {
    // The request handler answers 426, unless node:http first refuses an
    // HTTP/1.1 request without Host (its requireHostHeader).
    return { status: model.version === '1.1' && headers['host'] === undefined ? 400 : 426 };
  }
  try {
    const { key } = validateRequest({
      method: model.method,
      httpVersion: model.version,
      headers: headers as HttpHeaders,
    });
    return { status: 101, key };
  } catch (error) {
    if (error instanceof HandshakeError) return { status: error.status };
    throw error;
  }
}

/** After a 101: one echo and a clean close must follow. */
async function checkOpenConnection(raw: RawClient, localPort: number): Promise<void> {
  raw.write(
    Buffer.concat([masked(Opcode.Text, 'after the fuzz'), masked(Opcode.Close, closeBody(1000))]),
  );
  await within(raw.closed, 'server closes after the closing handshake');
  await serverClosed(localPort);
  expect(raw.parseError).toBeUndefined();
  expect(raw.frames.map((f) => [f.opcode, f.payload.toString()])).toEqual([
    [Opcode.Text, 'after the fuzz'],
    [Opcode.Close, closeBody(1000).toString()],
  ]);
}

describe('handshakes', () => {
  fuzzWhileHealthy(
    'requests built from a model: the predicted status, then the socket is closed',
    'model handshakes',
    (tally) =>
      fc.asyncProperty(requestModelArb, cutsArb, pausesArb, async (model, cuts, pauses) => {
        const expected = expectedOutcome(model);
        const raw = await RawClient.connect(port);
        const localPort = raw.socket.localPort!;
        const connection = watchReset(raw);
        raw.socket.setNoDelay(true);
        await writeChunks(raw, split(serialize(model), cuts), pauses);
        let lost = false;
        if (expected.status === 101) {
          const response = await within(raw.response(), '101 response');
          expect(response.status).toBe(101);
          expect(response.headers['sec-websocket-accept']).toBe(acceptFor(expected.key!));
          expect(response.headers['sec-websocket-protocol']).toBeUndefined();
          await checkOpenConnection(raw, localPort);
        } else {
          await within(settled(raw), 'a response or the socket closed');
          const status = statusOf(raw.data);
          lost = status === undefined && connection.reset;
          if (lost) expect(expected.parseError).toBe(true);
          else expect(status ?? 'nothing').toBe(expected.status);
          // The server closes the socket by itself: no FIN from us.
          await within(raw.closed, `socket closed after ${status ?? 'nothing'}`);
        }
        tally.add(`${expected.status}${lost ? ' lost to a reset' : ''}`);
      }),
    options(500),
  );

  /** A valid request, serialized, then mutated byte by byte. */
  const mutatedRequestArb = fc
    .tuple(requestModelArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }))
    .map(([model, mutations]: [RequestModel, Mutation[]]) => mutate(serialize(model), mutations));

  /** Bytes that are barely HTTP or not at all. */
  const garbageArb = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.string({ maxLength: 200 }).map((s) => encodeUtf8(s)),
    fc
      .array(
        fc.constantFrom(
          'GET',
          ' ',
          '/',
          'HTTP/1.1',
          '\r\n',
          '\n',
          ':',
          'Upgrade',
          'websocket',
          'Host',
        ),
        { maxLength: 30 },
      )
      .map((parts) => encodeUtf8(parts.join(''))),
    { weight: 1, arbitrary: fc.constantFrom(EMPTY, encodeUtf8('\r\n'), encodeUtf8('\r\n\r\n\n')) },
  );

  fuzzWhileHealthy(
    'mutated and random bytes, then FIN: 101 or a 4xx status line, and the socket is closed',
    'mutated handshakes',
    (tally) =>
      fc.asyncProperty(
        fc.oneof({ weight: 3, arbitrary: mutatedRequestArb }, garbageArb),
        cutsArb,
        pausesArb,
        async (bytes, cuts, pauses) => {
          const raw = await RawClient.connect(port);
          const localPort = raw.socket.localPort!;
          const connection = watchReset(raw);
          raw.socket.setNoDelay(true);
          await writeChunks(raw, split(bytes, cuts), pauses);
          raw.socket.end();
          await within(raw.closed, 'socket closed');
          const status = statusOf(raw.data);
          if (status === undefined) {
            // No request ever started (llhttp skips CR/LF between
            // requests), or a parse error whose status our next bytes'
            // reset discarded.
            const text = Buffer.from(bytes).toString('latin1');
            const idle = /^[\r\n]*$/.test(text);
            expect(idle || connection.reset).toBe(true);
            tally.add(idle ? 'nothing (no request)' : 'reset');
            return;
          }
          if (status === 101) {
            await serverClosed(localPort);
            const response = await raw.response();
            expect(response.headers['sec-websocket-accept']).toBeDefined();
            // Whatever followed the head was read as frames: any close
            // frame carries a receive-side code.
            expect(raw.parseError).toBeUndefined();
            for (const frame of raw.frames.filter((f) => f.opcode === Opcode.Close)) {
              expect([1002, 1007, 1008, 1009]).toContain(frame.payload.readUInt16BE(0));
            }
          } else {
            expect(status).toBeGreaterThanOrEqual(400);
            expect(status).toBeLessThan(500);
          }
          tally.add(String(status));
        },
      ),
    options(600),
  );

  fuzzWhileHealthy(
    'a head that stalls part-way (no FIN) gets 408 within the handshake timeout, then the socket is closed',
    'stalled handshakes',
    (tally) =>
      fc.asyncProperty(requestModelArb, fc.nat(), async (model, at) => {
        const bytes = serialize({
          ...model,
          method: 'GET',
          version: '1.1',
          oversize: undefined,
          target: '/',
        });
        // Any proper prefix of a valid head: llhttp waits for the rest.
        const prefix = bytes.subarray(0, 1 + (at % (bytes.length - 1)));
        fc.pre(!model.lines.some((line) => line.raw !== undefined));
        const raw = await RawClient.connect(port);
        const started = performance.now();
        raw.write(prefix);
        await within(raw.closed, 'stalled head dropped', HANDSHAKE_TIMEOUT * 3 + 2000);
        expect(statusOf(raw.data)).toBe(408);
        expect(performance.now() - started).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT - 50);
        tally.add('408');
      }),
    { ...options(3), numRuns: FUZZ_RUNS ? Math.ceil(FUZZ_RUNS / 500) : 3 },
  );
});

// ---- frame streams: the oracle and the fuzzed connection ------------------

/** The oracle: the protocol's parser on the same bytes, with the server's limits. */
const frameOracle = (stream: Uint8Array) => {
  const { frames: replies, ...rest } = streamOracle(stream, LIMITS, true);
  return { replies, ...rest };
};

/** One message in many fragments (with pings between), to reach `maxFragments`. */
const fragmentedArb = fc
  .record({
    binary: fc.boolean(),
    text: fc.string({ maxLength: 60 }),
    fragments: fc.integer({ min: 1, max: 8 }),
    pings: fc.boolean(),
    seed: fc.integer(),
  })
  .map(({ binary, text, fragments, pings, seed }) => {
    const data = encodeUtf8(text);
    const frames = [];
    for (let i = 0; i < fragments; i++) {
      const piece = data.subarray(
        Math.floor((i * data.length) / fragments),
        Math.floor(((i + 1) * data.length) / fragments),
      );
      const opcode = i > 0 ? Opcode.Continuation : binary ? Opcode.Binary : Opcode.Text;
      frames.push({ opcode, fin: i === fragments - 1, payload: piece });
      if (pings && i < fragments - 1)
        frames.push({ opcode: Opcode.Ping, fin: true, payload: piece.subarray(0, 125) });
    }
    return encodeStream(frames, seed);
  });

/**
 * Messages at and over `maxPayload`: one frame header announcing a length
 * from just under the limit up to 2^62, or a first fragment plus a
 * continuation announcing the rest; only the first bytes of the payload follow.
 */
const oversizeArb = fc
  .record({
    length: fc.oneof(
      fc.integer({ min: LIMITS.maxPayload - 2, max: 2 ** 32 }),
      fc.constantFrom(2 ** 40, 2 ** 53 - 1, 2 ** 53, 2 ** 62),
    ),
    first: fc.nat({ max: LIMITS.maxPayload }),
    fragmented: fc.boolean(),
    binary: fc.boolean(),
    seed: fc.integer(),
  })
  .map(({ length, first, fragmented, binary, seed }) => {
    const opcode = binary ? Opcode.Binary : Opcode.Text;
    const head = (code: number, fin: boolean, size: number): Uint8Array => {
      const bytes = Buffer.alloc(14);
      bytes[0] = (fin ? 0x80 : 0) | code;
      bytes[1] = 0x80 | 127;
      bytes.writeBigUInt64BE(BigInt(size), 2);
      bytes.writeInt32BE(seed, 10);
      return bytes;
    };
    if (!fragmented)
      return new Uint8Array(Buffer.concat([head(opcode, true, length), Buffer.alloc(16, 0x61)]));
    // A first fragment of 'a's (valid text), then a continuation announcing the rest.
    const firstFrame = masked(opcode, Buffer.alloc(first, 0x61), seed, false);
    return new Uint8Array(Buffer.concat([firstFrame, head(Opcode.Continuation, true, length)]));
  });

/** How we end a stream that broke nothing: a close frame, FIN, or RST. */
type Ending = 'close' | 'fin' | 'reset';

const frameCaseArb = fc.record({
  stream: fc.oneof(
    { weight: 4, arbitrary: hostileArb(true) },
    // Valid traffic, to check every echo and the closing handshake.
    {
      weight: 2,
      arbitrary: fc
        .tuple(scriptArb, fc.integer())
        .map(([script, seed]) => encodeStream(expand(script).frames, seed)),
    },
    { weight: 1, arbitrary: fragmentedArb },
    { weight: 1, arbitrary: oversizeArb },
  ),
  cuts: cutsArb,
  pauses: pausesArb,
  ending: fc.constantFrom<Ending>('close', 'close', 'fin', 'reset'),
  /** Send the first chunk in the same write as the handshake request. */
  pipelined: fc.boolean(),
});

/**
 * Plays one frame stream on a fresh connection to `port` after a valid
 * handshake (`extensions` offered, if any) and checks everything against
 * `oracle`: the replies, the close, what the server reported. Returns the
 * outcome's name for the tally.
 *
 * After our FIN, a compressed message that arrived whole is still delivered:
 * the end waits for its inflation.
 */
async function playFrameCase(
  port: number,
  oracle: StreamOracle,
  kase: { stream: Uint8Array; cuts: number[]; pauses: Pause[]; ending: Ending; pipelined: boolean },
  { extensions }: { extensions?: string } = {},
): Promise<string> {
  const { stream, cuts, pauses, ending, pipelined } = kase;
  const chunks = split(stream, cuts);
  const raw = await RawClient.connect(port);
  const localPort = raw.socket.localPort!;
  raw.socket.setNoDelay(true);
  const { text, key } = handshakeRequest(
    extensions ? { headers: { 'Sec-WebSocket-Extensions': extensions } } : {},
  );
  if (pipelined && chunks.length > 0)
    raw.write(Buffer.concat([Buffer.from(text), chunks.shift()!]));
  else raw.write(text);
  const response = await within(raw.response(), '101 response');
  expect(response.status).toBe(101);
  expect(response.headers['sec-websocket-accept']).toBe(acceptFor(key));
  // An offer without parameters is accepted as it is; client_no_context_takeover is echoed.
  expect(response.headers['sec-websocket-extensions']).toBe(extensions);
  const serverSide = tracked.get(localPort);
  expect(serverSide).toBeDefined();

  await writeChunks(raw, chunks, pauses);
  const ended = oracle.failure !== undefined || oracle.peerClose !== undefined;
  const how: Ending | 'server' = ended
    ? 'server'
    : ending === 'close' && !oracle.atBoundary
      ? 'fin'
      : ending;
  const expectedReplies = [...oracle.frames];
  if (how === 'close') {
    raw.write(masked(Opcode.Close, closeBody(1000)));
    expectedReplies.push({ opcode: Opcode.Close, payload: hex(closeBody(1000)) });
  } else if (how === 'fin') {
    raw.socket.end();
  } else if (how === 'reset') {
    raw.socket.resetAndDestroy();
  }
  await within(raw.closed, 'connection closed');
  await serverClosed(localPort);

  // What the server sent back (unreadable after our RST), and the messages it delivered.
  const { errors, messages, closes } = serverSide!;
  const expectedMessages = oracle.frames.filter(
    (f) => f.opcode === Opcode.Text || f.opcode === Opcode.Binary,
  );
  if (how !== 'reset') {
    expect(raw.parseError).toBeUndefined();
    expect(raw.frames.every((f) => f.fin && f.rsv === 0 && !f.masked)).toBe(true);
    const replies = raw.frames.map((f) => ({
      opcode: f.opcode,
      payload: f.payload.toString('hex'),
    }));
    expect(replies).toEqual(expectedReplies);
    expect(messages).toEqual(expectedMessages);
  }
  if (errors) {
    expect(errors.map((e) => [e.code, e.closeCode])).toEqual(
      oracle.failure ? [[oracle.failure.code, oracle.failure.closeCode]] : [],
    );
  }
  if (oracle.peerClose) {
    expect(closes).toEqual([[oracle.peerClose.code, oracle.peerClose.reason, true, 'peer-close']]);
  } else if (how === 'close') {
    expect(closes).toEqual([[1000, '', true, 'peer-close']]);
  } else {
    expect(closes).toEqual([
      [1006, '', false, oracle.failure ? 'protocol-error' : 'connection-lost'],
    ]);
  }
  return oracle.failure
    ? `close ${oracle.failure.closeCode} (${oracle.failure.code})`
    : oracle.peerClose
      ? 'peer close echoed'
      : `clean stream, then ${how}`;
}

describe('frame streams after a valid handshake', () => {
  fuzzWhileHealthy(
    'the replies and close code the oracle predicts, or a dropped connection; the server reports the same',
    'frame streams',
    (tally) =>
      fc.asyncProperty(frameCaseArb, async (kase) => {
        const { replies, ...rest } = frameOracle(kase.stream);
        tally.add(await playFrameCase(port, { frames: replies, ...rest }, kase));
      }),
    options(600),
  );
});

describe('compressed frame streams (permessage-deflate negotiated)', () => {
  let deflateServer: WebSocketServer;
  let deflatePort: number;
  const deflateHealthy = new HealthyLoad();

  beforeAll(async () => {
    // Healthy clients that compress (ws's threshold: messages of 1 KiB and more).
    ({ server: deflateServer, port: deflatePort } = await startFuzzServer(
      deflateHealthy,
      2,
      { perMessageDeflate: { threshold: 0 } },
      { perMessageDeflate: true },
    ));
  });

  afterAll(async () => {
    await deflateHealthy.stop();
    await deflateServer.close({ timeout: 1000 });
    expect(deflateHealthy.mismatches).toEqual([]);
  });

  let afterBfinal = 0;
  fuzzWhileHealthy(
    'messages inflated and echoed as the oracle predicts; 1007 for bad DEFLATE data or UTF-8, 1009 past maxPayload, 1002 for RSV1 out of place',
    () => compressedTallyTitle(afterBfinal),
    (tally) =>
      fc.asyncProperty(
        deflateCaseArb(LIMITS.maxPayload, true),
        fc.boolean(),
        cutsArb,
        pausesArb,
        fc.constantFrom<Ending>('close', 'close', 'fin', 'reset'),
        fc.boolean(),
        async ({ steps, stream }, contextTakeover, cuts, pauses, ending, pipelined) => {
          const oracle: DeflateOracle = deflateOracle(stream, LIMITS, true, contextTakeover);
          if (oracle.afterStreamEnd) afterBfinal++;
          const extensions = contextTakeover
            ? 'permessage-deflate'
            : 'permessage-deflate; client_no_context_takeover';
          const outcome = await playFrameCase(
            deflatePort,
            oracle,
            { stream, cuts, pauses, ending, pipelined },
            { extensions },
          );
          for (const kind of new Set(stepKinds(steps))) tally.add(`${kind}: ${outcome}`);
        },
      ),
    options(300),
    () => ({ server: deflateServer, healthy: deflateHealthy }),
  );

  // RFC 7692 §7.2.3.4 lets a sender end a message with a BFINAL block. That
  // ends the DEFLATE stream, so the next message starts a new one (this once
  // went into the ended zlib stream and was delivered empty).
  test(
    'a compressed message after one that ended in a BFINAL block is inflated in full',
    async () => {
      const raw = await RawClient.connect(deflatePort);
      const { text } = handshakeRequest({
        headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' },
      });
      raw.write(text);
      expect((await within(raw.response(), '101 response')).status).toBe(101);
      const frame = (payload: Uint8Array): Uint8Array =>
        Buffer.concat(encodeFrame(Opcode.Text, payload, { mask: new Uint8Array(4), rsv1: true }));
      raw.write(
        Buffer.concat([
          frame(deflateRawSync(Buffer.from('first, then BFINAL'))),
          frame(deflateMessage(encodeUtf8('second'))),
          masked(Opcode.Close, closeBody(1000)),
        ]),
      );
      await within(raw.closed, 'connection closed');
      expect(raw.frames.map((f) => [f.opcode, f.payload.toString()])).toEqual([
        [Opcode.Text, 'first, then BFINAL'],
        [Opcode.Text, 'second'],
        [Opcode.Close, closeBody(1000).toString()],
      ]);
    },
    TIMEOUT,
  );
});
