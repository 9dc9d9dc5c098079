/**
 * Frames that break a rule of RFC 6455, written on a raw socket after a valid
 * handshake: the server answers with a close frame carrying the right code,
 * closes the socket, reports the error, and every other connection keeps
 * echoing meanwhile.
 */
import { describe, expect, test } from 'vitest';
import type WebSocket from 'ws';
import type { ServerOptions, WebSocketError } from '@proj/server';
import { Opcode } from '@proj/protocol';
import { RawClient, useCleanup } from '@proj/test-utils';
import { Collector } from './collector.js';
import {
  type CloseArgs,
  connectWs,
  echo,
  nextConnectionClose,
  sendHandshake,
  startEchoServer,
} from './helpers.js';

useCleanup();

/** Writes the header of a masked frame announcing `length` bytes, and no payload. */
function headerOnly(raw: RawClient, opcode: number, length: number): void {
  const header = Buffer.alloc(14);
  header[0] = 0x80 | opcode;
  header[1] = 0x80 | 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  header.writeUInt32BE(0x12345678, 10);
  raw.write(header);
}

function invalidUtf8(raw: RawClient, bytes: number[], opcode: number = Opcode.Text): void {
  raw.sendFrame(opcode, Buffer.from(bytes));
}

interface Case {
  name: string;
  options?: Omit<ServerOptions, 'port' | 'server' | 'noServer'>;
  send: (raw: RawClient) => void;
  closeCode: number;
  errorCode: string;
}

/** Cases that break one rule, by name: each must get `closeCode` and an error with `errorCode`. */
function breaking(
  errorCode: string,
  closeCode: number,
  sends: Record<string, Case['send']>,
  options?: Case['options'],
): Case[] {
  return Object.entries(sends).map(([name, send]) => ({
    name,
    options,
    send,
    closeCode,
    errorCode,
  }));
}

const cases: Case[] = [
  ...breaking('WS_ERR_EXPECTED_MASK', 1002, {
    'an unmasked frame': (raw) => raw.sendFrame(Opcode.Text, 'hi', { mask: false }),
  }),
  ...breaking('WS_ERR_UNEXPECTED_RSV', 1002, {
    'RSV1 without an extension': (raw) => raw.sendFrame(Opcode.Text, 'hi', { rsv1: true }),
    RSV2: (raw) => raw.sendFrame(Opcode.Binary, 'hi', { rsv2: true }),
    'RSV3 on a ping': (raw) => raw.sendFrame(Opcode.Ping, '', { rsv3: true }),
  }),
  ...breaking('WS_ERR_INVALID_OPCODE', 1002, {
    'reserved data opcode 3': (raw) => raw.sendFrame(3, 'x'),
    'reserved control opcode 0xB': (raw) => raw.sendFrame(0xb),
  }),
  ...breaking('WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 1002, {
    'a ping of 126 bytes': (raw) => raw.sendFrame(Opcode.Ping, Buffer.alloc(126)),
    'a close frame of 126 bytes': (raw) => raw.sendFrame(Opcode.Close, Buffer.alloc(126, 0x41)),
  }),
  ...breaking('WS_ERR_EXPECTED_FIN', 1002, {
    'a fragmented ping': (raw) => raw.sendFrame(Opcode.Ping, 'a', { fin: false }),
  }),
  ...breaking('WS_ERR_UNEXPECTED_CONTINUATION', 1002, {
    'a continuation without a start': (raw) => raw.sendFrame(Opcode.Continuation, 'x'),
  }),
  ...breaking('WS_ERR_EXPECTED_CONTINUATION', 1002, {
    'a new message while a fragmented one is open': (raw) => {
      raw.sendFrame(Opcode.Text, 'a', { fin: false });
      raw.sendFrame(Opcode.Text, 'b');
    },
  }),
  ...breaking('WS_ERR_INVALID_PAYLOAD_LENGTH', 1002, {
    'a 64-bit length with the most significant bit set': (raw) => {
      const header = Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
      raw.write(header);
    },
  }),
  ...breaking('WS_ERR_INVALID_UTF8', 1007, {
    'a text message with 0xFF': (raw) => invalidUtf8(raw, [0x61, 0xff]),
    'an overlong encoding': (raw) => invalidUtf8(raw, [0xc0, 0x80]),
    'an encoded surrogate': (raw) => invalidUtf8(raw, [0xed, 0xa0, 0x80]),
    'a text message ending inside a 4-byte character, over fragments': (raw) => {
      raw.sendFrame(Opcode.Text, Buffer.from([0x61, 0xf0, 0x9f]), { fin: false });
      raw.sendFrame(Opcode.Continuation, Buffer.from([0x98]));
    },
    'a close reason that is not UTF-8': (raw) => invalidUtf8(raw, [0x03, 0xe8, 0xff], Opcode.Close),
  }),
  ...breaking('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009, {
    'the header of a 1 TiB frame (default maxPayload)': (raw) =>
      headerOnly(raw, Opcode.Binary, 2 ** 40),
  }),
  ...breaking(
    'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
    1009,
    {
      'the header of a frame one byte over maxPayload': (raw) => headerOnly(raw, Opcode.Text, 1001),
      'fragments that sum to more than maxPayload': (raw) => {
        raw.sendFrame(Opcode.Binary, Buffer.alloc(600), { fin: false });
        headerOnly(raw, Opcode.Continuation, 401);
      },
    },
    { maxPayload: 1000 },
  ),
  ...breaking(
    'WS_ERR_TOO_MANY_FRAGMENTS',
    1008,
    {
      'more fragments than maxFragments': (raw) => {
        raw.sendFrame(Opcode.Text, 'a', { fin: false });
        raw.sendFrame(Opcode.Continuation, 'b', { fin: false });
        raw.sendFrame(Opcode.Continuation, 'c', { fin: false });
        raw.sendFrame(Opcode.Continuation, 'd', { fin: false });
      },
    },
    { maxFragments: 3 },
  ),
  ...breaking(
    'WS_ERR_INVALID_CLOSE_CODE',
    1002,
    Object.fromEntries(
      [1005, 1006, 1015, 999, 0, 1004, 1016, 2999, 5000].map((code) => [
        `close code ${code}`,
        (raw: RawClient) => raw.sendClose(code),
      ]),
    ),
  ),
  ...breaking('WS_ERR_INVALID_CLOSE_PAYLOAD', 1002, {
    'a 1-byte close payload': (raw) => raw.sendFrame(Opcode.Close, Buffer.from([0x03])),
  }),
];

/** An echo server, its sockets' errors and closes, and a healthy `ws` client. */
async function setup(options: Case['options'] = {}) {
  const started = await startEchoServer(options);
  const errors = new Collector<WebSocketError>();
  const closes = new Collector<CloseArgs>();
  started.server.on('connection', (socket) => {
    socket.on('error', (error) => errors.push(error));
    socket.on('close', (...args) => closes.push(args));
  });
  const healthy = await connectWs(started.url);
  return { ...started, errors, closes, healthy };
}

/** Echoes `count` messages on `ws` one after another and checks each. */
async function keepEchoing(ws: WebSocket, count: number, until?: Promise<unknown>) {
  let done = false;
  const stop = (): void => void (done = true);
  void until?.then(stop, stop);
  let sent = 0;
  while (sent < count || (until && !done)) {
    const text = `msg ${sent++} ✓`;
    expect(await echo(ws, text)).toBe(text);
  }
  return sent;
}

describe('each broken rule → its close code, while another client keeps echoing', () => {
  test.each(cases)('$name → $closeCode', async ({ options, send, closeCode, errorCode }) => {
    const { port, errors, closes, healthy } = await setup(options);
    const raw = await RawClient.open(port);
    const failed = (async () => {
      send(raw);
      const close = await raw.closeFrame();
      await raw.closed;
      return close;
    })();
    const echoed = await keepEchoing(healthy, 5, failed);
    const close = await failed;
    expect(close.code).toBe(closeCode);
    expect(raw.parseError).toBeUndefined();
    expect(echoed).toBeGreaterThanOrEqual(5);

    const [error] = await errors.until(1);
    expect(error!.code).toBe(errorCode);
    expect(error!.closeCode).toBe(closeCode);
    expect(close.reason).toBe(error!.message);
    // No close frame came from the peer: the closing handshake never completed.
    expect(await closes.until(1)).toEqual([[1006, '', false, 'protocol-error']]);
    expect(healthy.readyState).toBe(healthy.OPEN);
    expect(await echo(healthy, 'still here')).toBe('still here');
  });

  test('without an error listener, a broken rule closes the connection all the same', async () => {
    const { server, port } = await startEchoServer();
    const closed = nextConnectionClose(server);
    const raw = await RawClient.open(port);
    raw.sendFrame(3);
    expect((await raw.closeFrame()).code).toBe(1002);
    await raw.closed;
    expect((await closed)[0]).toBe(1006);
  });

  test('many bad clients at once: every one gets its code, the healthy one echoes throughout', async () => {
    const { port, healthy } = await setup();
    const plain = cases.filter((c) => c.options === undefined);
    const storm = Promise.all(
      plain.map(async ({ send, closeCode }) => {
        const raw = await RawClient.open(port);
        send(raw);
        const { code } = await raw.closeFrame();
        await raw.closed;
        return code === closeCode;
      }),
    );
    const echoed = await keepEchoing(healthy, 10, storm);
    expect(await storm).toEqual(plain.map(() => true));
    expect(echoed).toBeGreaterThanOrEqual(10);
  });

  test('bytes after the broken frame are ignored: no message, no pong', async () => {
    const { port, server } = await startEchoServer();
    const messages = new Collector<unknown>();
    server.on('connection', (socket) => socket.on('message', (data) => messages.push(data)));
    const raw = await RawClient.open(port);
    raw.sendFrame(Opcode.Text, 'before');
    raw.sendFrame(Opcode.Text, 'x', { rsv2: true });
    raw.sendFrame(Opcode.Text, 'after');
    raw.sendFrame(Opcode.Ping, 'p');
    const first = await raw.nextFrame();
    expect(first.payload.toString()).toBe('before');
    expect((await raw.closeFrame()).code).toBe(1002);
    await raw.closed;
    expect(raw.frames.map((frame) => frame.opcode)).toEqual([Opcode.Text, Opcode.Close]);
    expect(messages.items).toEqual(['before']);
  });

  test('a broken frame pipelined with the handshake still gets its close code', async () => {
    const { port } = await startEchoServer();
    const raw = await sendHandshake(port);
    raw.sendFrame(Opcode.Text, 'x', { mask: false });
    expect((await raw.response()).status).toBe(101);
    expect((await raw.closeFrame()).code).toBe(1002);
    await raw.closed;
  });
});

describe('valid but unusual input is accepted', () => {
  test('frames split at every byte, control frames between fragments', async () => {
    const { port, server } = await startEchoServer();
    const pings = new Collector<string>();
    server.on('connection', (socket) => socket.on('ping', (data) => pings.push(data.toString())));
    const raw = await RawClient.open(port);
    const frames: Buffer[] = [];
    const capture = (opcode: number, payload: string, fin = true): void => {
      const write = raw.write.bind(raw);
      raw.write = (data) => void frames.push(Buffer.from(data));
      raw.sendFrame(opcode, payload, { fin });
      raw.write = write;
    };
    capture(Opcode.Text, 'hé', false);
    capture(Opcode.Ping, 'p1');
    capture(Opcode.Continuation, 'llo 😀', false);
    capture(Opcode.Pong, 'unsolicited');
    capture(Opcode.Continuation, '!');
    for (const byte of Buffer.concat(frames)) raw.write(Buffer.from([byte]));
    const pong = await raw.nextFrame();
    expect([pong.opcode, pong.payload.toString()]).toEqual([Opcode.Pong, 'p1']);
    const message = await raw.nextFrame();
    expect([message.opcode, message.payload.toString()]).toEqual([Opcode.Text, 'héllo 😀!']);
    expect(pings.items).toEqual(['p1']);
    expect(raw.frames.every((frame) => !frame.masked && frame.rsv === 0)).toBe(true);
  });

  test('a close frame answered: our close echoes the code, then the server closes TCP', async () => {
    const { port, server } = await startEchoServer();
    const closed = nextConnectionClose(server);
    const raw = await RawClient.open(port);
    raw.sendClose(4321, 'done');
    expect((await raw.closeFrame()).code).toBe(4321);
    await raw.closed;
    expect(await closed).toEqual([4321, 'done', true, 'peer-close']);
  });
});
