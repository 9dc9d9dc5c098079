/**
 * The fuzzer: the Autobahn "fuzzingclient" (against a server) and
 * "fuzzingserver" (against a client) over raw `node:net` sockets. It does the
 * opening handshake by hand, plays a case's steps, reads everything the peer
 * sends through @proj/test-utils' `FrameDecoder` (so a masked frame from a
 * server, an unmasked one from a client, a bad header or a frame after the
 * close are caught byte for byte), and judges the run. The decoder is written
 * from RFC 6455 §5.2 on its own and imports nothing of @proj/protocol: our
 * parser must not judge our peers, or a bug in it could pass on both sides.
 *
 * Verdicts, strictest first as Autobahn names them: OK (everything as the
 * case expects), NON-STRICT (the right end result, but not at the right time,
 * e.g. no fail-fast on invalid UTF-8), UNCLEAN (the TCP connection did not
 * close properly), WRONG CODE (a close frame with another code), FAILED.
 * Only OK passes.
 */
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
  connect as connectHttp2,
  constants as http2Constants,
  createSecureServer,
} from 'node:http2';
import { type AddressInfo, type Socket, connect, createServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { HandshakeError, acceptConnectRequest, validateConnectRequest } from '@proj/protocol';
import {
  FrameDecoder,
  OP as Opcode,
  type WireFrame,
  type WireHeader,
  acceptKey as accept,
  headerFields,
  newKey,
  readHead as readHeadOf,
} from '@proj/test-utils';
import {
  CASES,
  CHECKPOINT_MS,
  type ConformanceCase,
  DEFAULT_WAIT_MS,
  type Encode,
  type PeerEvent,
  type Role,
  type Script,
  type Step,
  SECTIONS,
  encoderFor,
  sectionOf,
} from './cases.js';

/** Autobahn's names for case results, best first. */
export type Verdict = 'OK' | 'NON-STRICT' | 'UNCLEAN' | 'WRONG CODE' | 'FAILED';
const SEVERITY: readonly Verdict[] = ['OK', 'NON-STRICT', 'UNCLEAN', 'WRONG CODE', 'FAILED'];

/** The result of one case. */
export interface CaseResult {
  readonly id: string;
  readonly verdict: Verdict;
  /** What went wrong, one line each; empty when OK. */
  readonly problems: readonly string[];
  /** Wall time from the end of the handshake to the end of the TCP connection. */
  readonly ms: number;
}

/** Everything the peer sent, as the case compares it. */
type Received = PeerEvent | { readonly type: 'ping'; readonly data: Uint8Array };

/** Reads the peer's frames with the independent decoder and reassembles messages. */
class Receiver {
  readonly events: Received[] = [];
  /** The peer's close frame: its code (`null` for an empty body) and reason bytes. */
  close: { readonly code: number | null; readonly reason: Uint8Array } | null = null;
  /** Frames the peer sent after its close frame; RFC 6455 §5.5.1 allows none. */
  framesAfterClose = 0;
  /** The first rule of RFC 6455 the peer's bytes broke. */
  violation: string | null = null;

  readonly #decoder: FrameDecoder;
  #message: { binary: boolean; pieces: Uint8Array[] } | null = null;

  /** @param fromClient - the peer is a client, so its frames must be masked. */
  constructor(fromClient: boolean) {
    this.#decoder = new FrameDecoder(
      { expectMasked: fromClient },
      { onHeader: (header) => this.#onHeader(header), onFrame: (frame) => this.#onFrame(frame) },
    );
  }

  push(chunk: Uint8Array): void {
    if (this.violation) return;
    try {
      this.#decoder.push(chunk);
    } catch (error) {
      this.violation = `the peer sent an invalid frame: ${(error as Error).message}`;
    }
  }

  /** RFC 6455 §5.4: continuation frames continue a message, data frames start one. */
  #onHeader(header: WireHeader): void {
    if (this.close) this.framesAfterClose++;
    if (header.opcode === Opcode.Continuation) {
      if (!this.#message) throw new Error('continuation frame with no message in progress');
    } else if (header.opcode === Opcode.Text || header.opcode === Opcode.Binary) {
      if (this.#message) throw new Error('new data frame inside a fragmented message');
      this.#message = { binary: header.opcode === Opcode.Binary, pieces: [] };
    }
  }

  #onFrame(frame: WireFrame): void {
    const payload = frame.payload;
    if (frame.opcode >= Opcode.Close) {
      if (frame.opcode === Opcode.Ping) this.events.push({ type: 'ping', data: payload });
      else if (frame.opcode === Opcode.Pong) this.events.push({ type: 'pong', data: payload });
      else if (!this.close) {
        this.close = {
          code: payload.length >= 2 ? payload.readUInt16BE(0) : null,
          reason: payload.subarray(2),
        };
        if (payload.length === 1) this.violation = 'the peer sent a close frame with a 1-byte body';
      }
      return;
    }
    this.#message!.pieces.push(payload);
    if (!frame.fin) return;
    const message = this.#message!;
    this.#message = null;
    this.events.push({
      type: 'message',
      data: Buffer.concat(message.pieces),
      binary: message.binary,
    });
  }
}

/**
 * What the fuzzer plays a case over once the opening handshake is done: a TCP
 * connection after an HTTP/1.1 Upgrade, or an HTTP/2 stream after an RFC 8441
 * extended CONNECT. The case logic does not care which; only the words of a
 * verdict and how an abort shows differ.
 */
export interface Link {
  /** The bytes both ways. Its `end` is the peer's FIN or END_STREAM. */
  readonly duplex: Duplex;
  /** What closes at the end, for verdicts: "TCP connection", "HTTP/2 stream". */
  readonly name: string;
  /** How the link was torn down instead of closed in order (an RST_STREAM), if it was. */
  readonly abortReason?: () => string | null;
}

/** A TCP socket as a {@link Link}. */
function tcpLink(socket: Socket): Link {
  return { duplex: socket, name: 'TCP connection' };
}

/**
 * An HTTP/2 stream as a {@link Link}. RFC 8441 §6: END_STREAM is the orderly
 * TCP close of RFC 6455, RST_STREAM its abortive one.
 */
function h2Link(stream: ClientHttp2Stream | ServerHttp2Stream): Link {
  return {
    duplex: stream,
    name: 'HTTP/2 stream',
    abortReason: () =>
      stream.closed && stream.rstCode !== undefined && stream.rstCode !== 0
        ? `it was reset: RST_STREAM ${rstName(stream.rstCode)}`
        : null,
  };
}

/** RFC 9113 §7's error codes, by value: what an RST_STREAM said. */
const H2_ERROR_CODES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

function rstName(code: number): string {
  const name = H2_ERROR_CODES[code];
  return name ? `${name} (${code})` : String(code);
}

/** One fuzzer connection after the opening handshake. */
class Session {
  readonly #link: Link;
  readonly #socket: Duplex;
  readonly #role: Role;
  readonly #case: ConformanceCase;
  readonly #encode: Encode;
  readonly #script: Script;
  readonly #receiver: Receiver;
  readonly #wait: number;
  readonly #problems: { verdict: Verdict; text: string }[] = [];
  readonly #waiters = new Set<() => void>();
  /** Our close frame is out (`reply` cases send it in their first write). */
  #closeSent: boolean;
  /** The peer's close frame arrived while ours was not yet sent. */
  #peerClosedFirst = false;
  /** The peer sent FIN. */
  #peerEnded = false;
  /** We half-closed the connection ourselves (the client role, after the closing handshake). */
  #weEnded = false;
  /** The peer sent FIN before we did. */
  #peerEndedFirst = false;
  #socketClosed = false;

  constructor(link: Link, role: Role, testCase: ConformanceCase) {
    const socket = link.duplex;
    this.#link = link;
    this.#socket = socket;
    this.#role = role;
    this.#case = testCase;
    this.#encode = encoderFor(role);
    this.#script = testCase.build(this.#encode);
    this.#receiver = new Receiver(role === 'client');
    this.#wait = testCase.waitMs ?? DEFAULT_WAIT_MS;
    this.#closeSent = testCase.outcome.kind === 'reply';
    socket.on('data', (chunk: Buffer) => {
      this.#receiver.push(chunk);
      this.#afterInput();
    });
    socket.on('end', () => {
      // node:http2 also ends a stream's readable side when it is reset: that
      // is the abortive close (RFC 8441 §6), not the peer's FIN.
      if (link.abortReason?.()) {
        this.#notify();
        return;
      }
      this.#peerEnded = true;
      this.#peerEndedFirst = !this.#weEnded;
      // Answer the peer's FIN with ours. node:net does that itself (its
      // sockets here are not half-open); an HTTP/2 stream is, and closes
      // only once both sides sent END_STREAM.
      if (!this.#weEnded) {
        this.#weEnded = true;
        socket.end();
      }
      this.#notify();
    });
    socket.on('close', () => {
      this.#socketClosed = true;
      this.#notify();
    });
  }

  /** Feeds bytes that arrived with the handshake, then starts reading. */
  start(rest: Uint8Array): void {
    if (rest.length > 0) {
      this.#receiver.push(rest);
      this.#afterInput();
    }
    this.#socket.resume();
  }

  /** Plays the case and judges it. */
  async run(): Promise<CaseResult> {
    const started = performance.now();
    for (const step of this.#script.steps) {
      if (this.#stopped) break;
      await this.#step(step);
    }
    const receiver = this.#receiver;
    if (this.#case.outcome.kind === 'echo') {
      // Autobahn "closedByMe": we close once the expected events are in.
      await this.#waitFor(() => receiver.events.length >= this.#script.events.length);
      if (!this.#stopped) this.#writeClose(1000);
    }
    await this.#waitFor(() => receiver.close !== null);
    await this.#waitFor(() => this.#socketClosed);
    if (!this.#socketClosed) {
      this.#problem('UNCLEAN', `the ${this.#link.name} was still open after ${this.#wait} ms`);
      this.#socket.destroy();
    }
    return this.#judge(performance.now() - started);
  }

  /** The peer closed, failed or broke the protocol: stop sending (Autobahn checks STATE_OPEN). */
  get #stopped(): boolean {
    return (
      this.#receiver.close !== null ||
      this.#receiver.violation !== null ||
      this.#peerEnded ||
      this.#socket.destroyed
    );
  }

  async #step(step: Step): Promise<void> {
    const receiver = this.#receiver;
    switch (step.kind) {
      case 'write':
        await this.#write(step.bytes, step.chop);
        return;
      case 'pause':
        await sleep(step.ms);
        return;
      case 'expectOpen':
        if (receiver.close || this.#peerEnded) {
          this.#problem('FAILED', 'the peer closed although everything sent so far was valid');
        }
        return;
      case 'awaitEvents':
        await this.#waitFor(
          () => receiver.events.length >= step.count || this.#stopped,
          CHECKPOINT_MS,
        );
        if (receiver.events.length < step.count) {
          this.#problem(
            'NON-STRICT',
            `only ${receiver.events.length} of ${step.count} answers arrived before the rest was sent`,
          );
        }
        return;
      case 'awaitClose':
        await this.#waitFor(() => receiver.close !== null || this.#peerEnded, CHECKPOINT_MS);
        if (!receiver.close) {
          this.#problem(
            'NON-STRICT',
            `no fail-fast: no close within ${CHECKPOINT_MS} ms of the invalid data, before the rest was sent`,
          );
        }
        return;
      case 'roundtrips':
        for (let i = 0; i < step.count && !this.#stopped; i++) {
          const before = receiver.events.length;
          await this.#write(step.next());
          if (!(await this.#waitFor(() => receiver.events.length > before || this.#stopped))) break;
        }
        return;
    }
  }

  /** Writes bytes at once, or in chops with a turn of the event loop between them. */
  async #write(bytes: Uint8Array, chop?: number): Promise<void> {
    if (chop === undefined || chop >= bytes.length) {
      if (!this.#stopped) this.#socket.write(bytes);
      await nextTurn();
      return;
    }
    for (let offset = 0; offset < bytes.length && !this.#stopped; offset += chop) {
      this.#socket.write(bytes.subarray(offset, offset + chop));
      await nextTurn();
    }
  }

  #writeClose(code: number | null): void {
    this.#closeSent = true;
    const body = code === null ? new Uint8Array(0) : Uint8Array.of(code >>> 8, code & 0xff);
    this.#socket.write(this.#encode({ opcode: Opcode.Close, payload: body }));
  }

  #afterInput(): void {
    const close = this.#receiver.close;
    if (close && !this.#closeSent) {
      // Answer the peer's close as any endpoint does, echoing its code.
      this.#peerClosedFirst = true;
      if (!this.#socket.destroyed) this.#writeClose(close.code);
    }
    // Closing handshake done: as the server, we close the TCP connection first.
    if (close && this.#closeSent && this.#role === 'client' && !this.#weEnded) {
      this.#weEnded = true;
      this.#socket.end();
    }
    this.#notify();
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /**
   * Resolves `true` once `condition` holds, `false` after `ms` (the case's
   * wait by default) or when the socket closes.
   */
  #waitFor(condition: () => boolean, ms = this.#wait): Promise<boolean> {
    if (condition()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (result: boolean): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(result);
      };
      const check = (): void => {
        if (condition()) done(true);
        else if (this.#socketClosed) done(false);
      };
      const timer = setTimeout(() => done(condition()), ms);
      this.#waiters.add(check);
    });
  }

  #problem(verdict: Verdict, text: string): void {
    this.#problems.push({ verdict, text });
  }

  #judge(ms: number): CaseResult {
    const receiver = this.#receiver;
    const outcome = this.#case.outcome;
    if (receiver.violation) this.#problem('FAILED', receiver.violation);
    const mismatch = compareEvents(receiver.events, this.#script.events);
    const alternative = this.#script.nonStrictEvents;
    if (mismatch && alternative && !compareEvents(receiver.events, alternative)) {
      this.#problem(
        'NON-STRICT',
        `${mismatch} (Autobahn's NON-STRICT alternative: no answer, the peer had closed or failed first)`,
      );
    } else if (mismatch) {
      this.#problem('FAILED', mismatch);
    }
    const close = receiver.close;
    if (!close) {
      const abort = this.#link.abortReason?.();
      const dropped = abort
        ? ` (${abort})`
        : this.#peerEnded
          ? ` (it dropped the ${this.#link.name})`
          : '';
      this.#problem('FAILED', `no close frame from the peer${dropped}`);
    } else {
      const codes =
        outcome.kind === 'echo'
          ? [1000]
          : outcome.kind === 'reply'
            ? outcome.codes
            : [outcome.code];
      if (!codes.includes(close.code)) {
        this.#problem(
          'WRONG CODE',
          `close code ${close.code ?? '(none)'}, expected ${codes.map((c) => c ?? '(none)').join(' or ')}`,
        );
      }
      if (!isUtf8(close.reason)) this.#problem('FAILED', 'the close reason is not valid UTF-8');
      if (outcome.kind === 'echo' && this.#peerClosedFirst) {
        this.#problem('FAILED', `the peer closed first (code ${close.code ?? '(none)'})`);
      }
      if (outcome.kind === 'fail' && !this.#peerClosedFirst) {
        this.#problem('FAILED', 'the peer did not fail the connection itself');
      }
    }
    if (receiver.framesAfterClose > 0) {
      this.#problem('FAILED', `${receiver.framesAfterClose} frame(s) after the close frame`);
    }
    const name = this.#link.name;
    if (this.#role === 'server' && !this.#peerEnded) {
      // Autobahn: "It is preferred that the server close the TCP connection".
      const abort = this.#link.abortReason?.();
      this.#problem('UNCLEAN', `the server did not close the ${name}${abort ? ` (${abort})` : ''}`);
    }
    if (this.#role === 'client' && outcome.kind !== 'fail' && this.#peerEndedFirst) {
      // RFC 6455 §7.1.1: after the closing handshake the client SHOULD wait for the server.
      this.#problem('UNCLEAN', `the client closed the ${name} before the server did`);
    }
    if (this.#role === 'client' && outcome.kind !== 'fail' && !this.#peerEnded) {
      // Over TCP the FIN shows up as 'end'; only a reset skips it.
      const abort = this.#link.abortReason?.();
      if (abort) this.#problem('UNCLEAN', `the client did not close the ${name} (${abort})`);
    }
    const verdict = this.#problems.reduce<Verdict>(
      (worst, p) => (SEVERITY.indexOf(p.verdict) > SEVERITY.indexOf(worst) ? p.verdict : worst),
      'OK',
    );
    return {
      id: this.#case.id,
      verdict,
      problems: this.#problems.map((p) => `${p.verdict}: ${p.text}`),
      ms: Math.round(ms),
    };
  }
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true });
function isUtf8(bytes: Uint8Array): boolean {
  try {
    strictDecoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function describeEvent(event: Received): string {
  const kind =
    event.type === 'message' ? (event.binary ? 'binary message' : 'text message') : event.type;
  const preview = Buffer.from(event.data.subarray(0, 16)).toString('hex');
  return `${kind} of ${event.data.length} bytes (${preview}${event.data.length > 16 ? '…' : ''})`;
}

/** The first difference between what the peer sent and what the case expects, or null. */
function compareEvents(actual: readonly Received[], expected: readonly PeerEvent[]): string | null {
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
    const got = actual[i];
    const want = expected[i];
    if (!got) {
      return `missing answer #${i + 1}: ${describeEvent(want!)} (got ${actual.length} answers)`;
    }
    if (!want) return `unexpected answer #${i + 1}: ${describeEvent(got)}`;
    const sameKind =
      got.type === want.type &&
      (got.type !== 'message' || want.type !== 'message' || got.binary === want.binary);
    if (!sameKind || !Buffer.from(got.data).equals(want.data)) {
      return `answer #${i + 1} is a ${describeEvent(got)}, expected a ${describeEvent(want)}`;
    }
  }
  return null;
}

/** Reads an HTTP head off the socket; pauses it so nothing after the head is lost. */
function readHead(socket: Socket, timeoutMs: number): Promise<{ head: string; rest: Buffer }> {
  return readHeadOf(socket, { timeoutMs, pause: true });
}

function failed(id: string, problem: string): CaseResult {
  return {
    id,
    verdict: 'FAILED',
    problems: [`FAILED: ${problem}`],
    ms: 0,
  };
}

/**
 * Runs one case against a server on 127.0.0.1:`port`, as Autobahn's
 * fuzzingclient: handshake, masked frames, and the server must close the TCP
 * connection after the closing handshake.
 */
export async function fuzzServer(port: number, testCase: ConformanceCase): Promise<CaseResult> {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true });
  socket.on('error', () => {}); // resets after a failure show up as 'close'
  try {
    const key = newKey();
    socket.write(
      `GET /runCase?case=${testCase.id} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
        'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const { head, rest } = await readHead(socket, DEFAULT_WAIT_MS);
    if (!/^HTTP\/1\.1 101 /.test(head)) {
      return failed(testCase.id, `handshake: ${head.split('\r\n')[0]}`);
    }
    const fields = headerFields(head);
    if (
      fields.get('upgrade')?.toLowerCase() !== 'websocket' ||
      !/\bupgrade\b/i.test(fields.get('connection') ?? '') ||
      fields.get('sec-websocket-accept') !== accept(key)
    ) {
      return failed(testCase.id, `handshake: not a valid 101 response:\n${head}`);
    }
    const session = new Session(tcpLink(socket), 'server', testCase);
    session.start(rest);
    return await session.run();
  } catch (error) {
    return failed(testCase.id, (error as Error).message);
  } finally {
    socket.destroy();
  }
}

/** A client under test, connected to the fuzzer's URL. */
export interface ClientUnderTest {
  /** Settles once the client reports its connection closed. */
  readonly closed: Promise<unknown>;
  /** Tears the client down after a failed case. */
  destroy(): void;
}

/**
 * Runs one case against a client, as Autobahn's fuzzingserver: listens on
 * 127.0.0.1, lets `startClient` connect, accepts the handshake, sends the
 * case's unmasked frames and closes the TCP connection after the closing
 * handshake, as a server does.
 */
export async function fuzzClient(
  startClient: (url: string) => ClientUnderTest,
  testCase: ConformanceCase,
): Promise<CaseResult> {
  const server = createServer({ noDelay: true });
  let client: ClientUnderTest | undefined;
  try {
    const connection = new Promise<Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    client = startClient(`ws://127.0.0.1:${port}/runCase?case=${testCase.id}`);
    const socket = await Promise.race([connection, sleep(DEFAULT_WAIT_MS).then(() => null)]);
    if (!socket) return failed(testCase.id, 'the client did not connect');
    socket.on('error', () => {});
    const { head, rest } = await readHead(socket, DEFAULT_WAIT_MS);
    const fields = headerFields(head);
    const key = fields.get('sec-websocket-key');
    if (
      !/^GET \S+ HTTP\/1\.1$/.test(head.split('\r\n')[0]!) ||
      fields.get('upgrade')?.toLowerCase() !== 'websocket' ||
      !/\bupgrade\b/i.test(fields.get('connection') ?? '') ||
      fields.get('sec-websocket-version') !== '13' ||
      !key
    ) {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      return failed(testCase.id, `handshake: not a WebSocket request:\n${head}`);
    }
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept(key)}\r\n\r\n`,
    );
    const session = new Session(tcpLink(socket), 'client', testCase);
    session.start(rest);
    return await clientReported(client, testCase, await session.run());
  } catch (error) {
    return failed(testCase.id, (error as Error).message);
  } finally {
    client?.destroy();
    server.close();
  }
}

/** A client's case is OK only once the client itself reported the close. */
async function clientReported(
  client: ClientUnderTest,
  testCase: ConformanceCase,
  result: CaseResult,
): Promise<CaseResult> {
  const settled = await Promise.race([
    client.closed.then(() => true),
    sleep(testCase.waitMs ?? DEFAULT_WAIT_MS).then(() => false),
  ]);
  if (!settled && result.verdict === 'OK') {
    return { ...result, verdict: 'FAILED', problems: ['FAILED: the client never reported close'] };
  }
  return result;
}

/** Resolves with `promise`'s value, or `null` after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Response header fields as strings, pseudo-headers left out. */
function plainFields(headers: IncomingHttpHeaders): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    fields[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return fields;
}

/**
 * The receive windows Chromium announces on an HTTP/2 connection (6 MiB per
 * stream, 15 MiB for the session), so the server's echoes flow as they
 * would to a browser page rather than 64 KiB per round trip (RFC 9113's
 * default).
 */
const BROWSER_STREAM_WINDOW = 6 * 1024 * 1024;
const BROWSER_SESSION_WINDOW = 15 * 1024 * 1024;

/**
 * The fuzzingclient over HTTP/2 (RFC 8441): one `node:http2` session to a
 * server, each case an extended CONNECT stream of it, its frames played on
 * the stream exactly as {@link fuzzServer} plays them on a TCP connection.
 * Cases may run concurrently on the one session; a case that fails its
 * WebSocket must end (or reset) only its own stream.
 */
export class H2FuzzingClient {
  /** The HTTP/2 session every case's stream belongs to. */
  readonly session: ClientHttp2Session;
  /** Extended CONNECT streams opened so far, one per case run. */
  streamsOpened = 0;
  /** GOAWAY frames the server sent on the session (none is expected). */
  goaways = 0;
  readonly #authority: string;

  private constructor(session: ClientHttp2Session, authority: string) {
    this.session = session;
    this.#authority = authority;
    session.on('error', () => {}); // shows up as 'close', which the test checks
    session.on('goaway', () => this.goaways++);
  }

  /**
   * Connects to `https://127.0.0.1:port` and waits for the server's
   * SETTINGS: an extended CONNECT may be sent only after
   * `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (RFC 8441 §3).
   * @param ca - the certificate to trust (the test certificate's `cert`).
   * @throws {Error} if the session fails or the server does not enable the extended CONNECT.
   */
  static async connect(port: number, ca: string): Promise<H2FuzzingClient> {
    // The fuzzer writes a case's frames without waiting for flow control, as
    // over TCP; node:http2 counts what waits in its queue against
    // `maxSessionMemory` (10 MB by default) and past it resets a stream with
    // ENHANCE_YOUR_CALM as its response arrives: a 16 MiB case queues more.
    const session = connectHttp2(`https://127.0.0.1:${port}`, {
      ca,
      maxSessionMemory: 256,
      settings: { initialWindowSize: BROWSER_STREAM_WINDOW },
    });
    session.once('connect', () => session.setLocalWindowSize(BROWSER_SESSION_WINDOW));
    await new Promise<void>((resolve, reject) => {
      session.once('remoteSettings', () => resolve());
      session.once('error', reject);
    });
    if (!session.remoteSettings.enableConnectProtocol) {
      session.destroy();
      throw new Error('the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL = 1');
    }
    return new H2FuzzingClient(session, `127.0.0.1:${port}`);
  }

  /** Runs one case on a new extended CONNECT stream of the session. */
  async run(testCase: ConformanceCase): Promise<CaseResult> {
    this.streamsOpened++;
    const stream = this.session.request(
      {
        ':method': 'CONNECT',
        ':protocol': 'websocket',
        ':scheme': 'https',
        ':authority': this.#authority,
        ':path': `/runCase?case=${testCase.id}`,
        'sec-websocket-version': '13',
      },
      { endStream: false },
    );
    stream.on('error', () => {}); // a reset shows up as 'close', judged by the session
    try {
      const response = await within(
        new Promise<IncomingHttpHeaders | null>((resolve) => {
          stream.once('response', resolve);
          stream.once('close', () => resolve(null));
        }),
        DEFAULT_WAIT_MS,
      );
      if (!response) {
        const reset = stream.closed
          ? ` (the stream was reset: ${rstName(stream.rstCode ?? 0)})`
          : '';
        return failed(testCase.id, `handshake: no response to the extended CONNECT${reset}`);
      }
      const status = Number(response[':status']);
      // RFC 8441 §5: any 2xx accepts; nothing was offered, so nothing may be chosen.
      const fields = plainFields(response);
      if (status < 200 || status > 299) return failed(testCase.id, `handshake: status ${status}`);
      for (const name of ['sec-websocket-protocol', 'sec-websocket-extensions']) {
        if (fields[name] !== undefined) {
          return failed(testCase.id, `handshake: ${name}: ${fields[name]} was not offered`);
        }
      }
      const session = new Session(h2Link(stream), 'server', testCase);
      session.start(new Uint8Array(0));
      return await session.run();
    } catch (error) {
      return failed(testCase.id, (error as Error).message);
    } finally {
      if (!stream.closed) stream.close(http2Constants.NGHTTP2_CANCEL);
    }
  }

  /** Closes the session once its streams are done. */
  close(): Promise<void> {
    if (this.session.closed) return Promise.resolve();
    return new Promise((resolve) => this.session.close(resolve));
  }
}

/** An extended CONNECT stream the fuzzing server received, waiting for its case. */
interface Arrival {
  readonly stream: ServerHttp2Stream;
  /** Why the request is not a valid extended CONNECT, if it is not. */
  readonly refused: string | null;
  readonly protocols: readonly string[];
}

/**
 * The fuzzingserver over HTTP/2 (RFC 8441): a `node:http2` secure server
 * (`enableConnectProtocol`, no HTTP/1.1, so a client that falls back to an
 * Upgrade fails the case) that answers each client's extended CONNECT with
 * 200 and plays the case on the stream, as {@link fuzzClient} does on a TCP
 * connection. One server for every case: each URL names its run, so clients
 * that share one session (as @proj/client's pool does) and concurrent runs
 * are told apart.
 */
export class H2FuzzingServer {
  readonly #server: Http2SecureServer;
  readonly #port: number;
  readonly #waiting = new Map<string, (arrival: Arrival) => void>();
  readonly #sessions = new Set<ServerHttp2Session>();
  #runs = 0;
  /** HTTP/2 sessions clients opened so far. */
  sessionsOpened = 0;

  private constructor(server: Http2SecureServer, port: number) {
    this.#server = server;
    this.#port = port;
    server.on('session', (session) => {
      this.sessionsOpened++;
      this.#sessions.add(session);
      session.on('error', () => {});
      session.once('close', () => this.#sessions.delete(session));
    });
    server.on('stream', (stream, headers) => this.#onStream(stream, headers));
  }

  /** Listens on 127.0.0.1 (a port from listen(0)) with the given certificate. */
  static async listen(credentials: { cert: string; key: string }): Promise<H2FuzzingServer> {
    const server = createSecureServer({
      ...credentials,
      // As in H2FuzzingClient: frames are queued without waiting for flow control.
      maxSessionMemory: 256,
      settings: { enableConnectProtocol: true },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new H2FuzzingServer(server, (server.address() as AddressInfo).port);
  }

  /** `https://127.0.0.1:port`. */
  get origin(): string {
    return `https://127.0.0.1:${this.#port}`;
  }

  /** HTTP/2 sessions open now. */
  get openSessions(): number {
    return this.#sessions.size;
  }

  /**
   * Runs one case against a client that `startClient` makes for a `wss:`
   * URL of this server.
   */
  async run(
    startClient: (url: string) => ClientUnderTest,
    testCase: ConformanceCase,
  ): Promise<CaseResult> {
    const run = String(++this.#runs);
    const arrived = new Promise<Arrival>((resolve) => this.#waiting.set(run, resolve));
    let client: ClientUnderTest | undefined;
    let stream: ServerHttp2Stream | undefined;
    try {
      client = startClient(`wss://127.0.0.1:${this.#port}/runCase?case=${testCase.id}&run=${run}`);
      const arrival = await within(arrived, DEFAULT_WAIT_MS);
      if (!arrival)
        return failed(testCase.id, 'the client did not open an extended CONNECT stream');
      stream = arrival.stream;
      if (arrival.refused) return failed(testCase.id, `handshake: ${arrival.refused}`);
      stream.respond(acceptConnectRequest(arrival));
      const session = new Session(h2Link(stream), 'client', testCase);
      session.start(new Uint8Array(0));
      return await clientReported(client, testCase, await session.run());
    } catch (error) {
      return failed(testCase.id, (error as Error).message);
    } finally {
      this.#waiting.delete(run);
      client?.destroy();
      if (stream && !stream.closed) stream.close(http2Constants.NGHTTP2_CANCEL);
    }
  }

  /** Closes every session and the server. */
  async close(): Promise<void> {
    for (const session of this.#sessions) session.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => {}); // a reset shows up as 'close', judged by the session
    const run = new URL(headers[':path'] ?? '/', 'https://fuzzer').searchParams.get('run');
    const waiter = run === null ? undefined : this.#waiting.get(run);
    if (!waiter) {
      stream.respond({ ':status': 404 });
      stream.end('no case runs at this path');
      return;
    }
    this.#waiting.delete(run!);
    try {
      // The protocol's check of the request is fine here: the fuzzer judges
      // the client's frames, not its own handshake code.
      const { protocols } = validateConnectRequest(headers);
      waiter({ stream, refused: null, protocols });
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      stream.respond({ ':status': error.status, ...error.headers });
      stream.end(error.message);
      waiter({ stream, refused: `${error.status} ${error.message}`, protocols: [] });
    }
  }
}

/** A per-section table of verdicts, for the log and README.md. */
export function summarize(title: string, results: readonly CaseResult[]): string {
  const sections = new Map<string, Map<Verdict, number>>();
  for (const result of results) {
    const section = sectionOf(result.id);
    const counts = sections.get(section) ?? new Map<Verdict, number>();
    counts.set(result.verdict, (counts.get(result.verdict) ?? 0) + 1);
    sections.set(section, counts);
  }
  const lines = [`${title}: ${results.length} cases`];
  for (const [section, counts] of sections) {
    const parts = SEVERITY.filter((v) => counts.has(v)).map((v) => `${counts.get(v)} ${v}`);
    lines.push(
      `  ${section.padEnd(3)} ${(SECTIONS[section] ?? '').padEnd(26)} ${parts.join(', ')}`,
    );
  }
  const slowest = [...results].sort((a, b) => b.ms - a.ms).slice(0, 3);
  lines.push(`  slowest: ${slowest.map((r) => `${r.id} ${r.ms} ms`).join(', ')}`);
  // CONFORMANCE_VERBOSE=1: one line per case, as in Autobahn's report index.
  if (process.env['CONFORMANCE_VERBOSE']) {
    for (const r of results) lines.push(`  ${r.id.padEnd(8)} ${r.verdict.padEnd(10)} ${r.ms} ms`);
  }
  for (const r of results) {
    if (r.verdict !== 'OK') lines.push(`  ${r.id}: ${r.problems.join('; ')}`);
  }
  return lines.join('\n');
}

/**
 * Whether a case may share an HTTP/2 session with others running at the same
 * time: all but section 9, whose megabytes would only share the session's
 * flow-control window and push its 16 MiB cases towards their 30 s budget on
 * a busy 2-core machine.
 */
export function mayRunConcurrently(testCase: ConformanceCase): boolean {
  return sectionOf(testCase.id) !== '9';
}

/** Results of concurrent runs, back in the order of the case table. */
export function inCaseOrder(results: readonly CaseResult[]): CaseResult[] {
  const order = new Map(CASES.map((c, i) => [c.id, i]));
  return [...results].sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
}
