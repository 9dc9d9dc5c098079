/**
 * A server ported from ws, line by line: what ws's idioms do here. Each case
 * is a silent surprise a port ran into; now each does what ws does, or fails
 * loudly saying what to write instead.
 */
import { type IncomingMessage, createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { type ServerWebSocket, WebSocketServer } from '@proj/server';
import { onCleanup, useCleanup } from '@proj/test-utils';
import { Collector } from './collector.js';
import {
  connectWs,
  listen,
  serverErrors,
  startServer,
  warningsWithCode,
  wsClient,
  wsClose,
  wsMessage,
} from './helpers.js';

useCleanup();

/**
 * A `noServer` server and a node:http server whose `upgrade` listener is
 * `onUpgrade`, listening; both are closed after the test.
 */
async function behindHttp(
  onUpgrade: (wss: WebSocketServer, request: IncomingMessage, socket: Duplex, head: Buffer) => void,
): Promise<{ wss: WebSocketServer; port: number }> {
  const wss = new WebSocketServer({ noServer: true });
  onCleanup(() => wss.close({ timeout: 100 }));
  const http = createServer();
  http.on('upgrade', (request, socket, head) => onUpgrade(wss, request, socket, head));
  return { wss, port: await listen(http) };
}

describe('handleUpgrade(request, socket, head, callback)', () => {
  test("ws's idiom (emit 'connection' in the callback) delivers each connection once", async () => {
    const { wss, port } = await behindHttp((wss, request, socket, head) => {
      wss.handleUpgrade(request, socket, head, (ws, req) => {
        wss.emit('connection', ws, req);
      });
    });
    const connections = new Collector<ServerWebSocket>();
    wss.on('connection', (ws) => {
      connections.push(ws);
      ws.send('welcome');
    });
    const client = wsClient(`ws://127.0.0.1:${port}`);
    const texts: string[] = [];
    client.on('message', (data) => texts.push(data.toString()));
    await new Promise((resolve) => client.once('open', resolve));
    // A round trip after the welcome: a second welcome would be here by now.
    client.send('ping?');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(connections.items).toHaveLength(1);
    expect(texts).toEqual(['welcome']);
  });

  test("without a callback, the server emits 'connection' itself", async () => {
    const { wss, port } = await behindHttp((wss, request, socket, head) =>
      wss.handleUpgrade(request, socket, head),
    );
    const connections = new Collector<ServerWebSocket>();
    wss.on('connection', (ws) => connections.push(ws));
    await connectWs(`ws://127.0.0.1:${port}`);
    expect(await connections.until(1)).toHaveLength(1);
  });
});

describe('ready()', () => {
  test('rejects with EADDRINUSE when the port is taken, with no error listener', async () => {
    const { port } = await startServer();
    const second = new WebSocketServer({ port, host: '127.0.0.1' });
    onCleanup(() => second.close({ timeout: 100 }));
    await expect(second.ready()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // Asked again later, it rejects the same way.
    await expect(second.ready()).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  test("the listen error reaches 'error' listeners too", async () => {
    const { port } = await startServer();
    const second = new WebSocketServer({ port, host: '127.0.0.1' });
    onCleanup(() => second.close({ timeout: 100 }));
    const errors = serverErrors(second);
    await expect(second.ready()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect((await errors.until(1))[0]).toMatchObject({ code: 'EADDRINUSE' });
  });
});

describe('options that ws has and this server spells differently', () => {
  test.each([
    ['verifyClient', () => false, /"verifyClient" is ws's; here: use "authenticate"/],
    ['clientTracking', false, /"clients" is always kept/],
    ['skipUTF8Validation', true, /always validated/],
    ['autoPong', false, /always answered/],
    ['WebSocket', class {}, /custom connection class/],
  ])('%s throws a TypeError saying what to use instead', (name, value, message) => {
    const create = (): WebSocketServer => new WebSocketServer({ noServer: true, [name]: value });
    expect(create).toThrow(TypeError);
    expect(create).toThrow(message);
  });

  test('a misspelt option throws a TypeError naming it and the right spelling', () => {
    const create = (): WebSocketServer =>
      new WebSocketServer({ noServer: true, maxPayLoad: 1024 } as never);
    expect(create).toThrow(TypeError);
    expect(create).toThrow(
      'Unknown WebSocketServer option "maxPayLoad" (did you mean "maxPayload"?)',
    );
  });

  test('an unknown option with no near name lists the options', () => {
    expect(() => new WebSocketServer({ noServer: true, colour: 'red' } as never)).toThrow(
      /Unknown WebSocketServer option "colour"; the options are "port", "host"/,
    );
  });

  test('maxPayload: 0 (unlimited in ws) is refused, saying so; Infinity means no limit', () => {
    expect(() => new WebSocketServer({ noServer: true, maxPayload: 0 })).toThrow(RangeError);
    expect(() => new WebSocketServer({ noServer: true, maxPayload: 0 })).toThrow(
      /ws reads 0 as "no limit"; here that is Infinity/,
    );
    const unlimited = new WebSocketServer({ noServer: true, maxPayload: Infinity });
    onCleanup(() => unlimited.close({ timeout: 100 }));
  });
});

describe('subprotocols as ws chooses them', () => {
  test('handleProtocols gets a Set in the client order, as in ws', async () => {
    const seen: unknown[] = [];
    const { url } = await startServer({
      handleProtocols: (offered) => {
        seen.push(offered);
        return offered.has('chat.v2') ? 'chat.v2' : false;
      },
    });
    const ws = await connectWs(url, ['chat.v1', 'chat.v2']);
    expect(ws.protocol).toBe('chat.v2');
    expect(seen[0]).toBeInstanceOf(Set);
    expect([...(seen[0] as Set<string>)]).toEqual(['chat.v1', 'chat.v2']);
  });

  test('handleProtocols returning false chooses none (ws), instead of answering 500', async () => {
    const { url } = await startServer({ handleProtocols: () => false });
    // A browser-style offer that accepts no answer: the raw ws handshake succeeds
    // only when nothing is chosen and the client allows it, so check the header.
    const ws = wsClient(url, ['a']);
    const response = await new Promise<string | undefined>((resolve) => {
      ws.once('upgrade', (res) => resolve(res.headers['sec-websocket-protocol']));
      ws.once('unexpected-response', (_req, res) => resolve(`status ${res.statusCode}`));
    });
    expect(response).toBeUndefined();
  });

  test('an offer the server cannot answer (no protocols option) is warned about once', async () => {
    const warnings = warningsWithCode('WS_SUBPROTOCOL_UNANSWERED');
    const { url } = await startServer();
    for (let i = 0; i < 2; i++) {
      const ws = wsClient(url, ['chat']);
      await new Promise((resolve) => ws.once('error', resolve));
    }
    const [warning] = await warnings.until(1);
    expect(warning!.message).toContain('"chat"');
    expect(warning!.message).toContain('"protocols"');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(warnings.items).toHaveLength(1);
  });

  test('handleProtocols is not called when the client offers none (ws), so a fixed choice works', async () => {
    const calls: unknown[] = [];
    const { url } = await startServer({
      handleProtocols: (offered) => {
        calls.push(offered);
        return 'chat';
      },
    });
    expect((await connectWs(url)).protocol).toBe('');
    expect((await connectWs(url, ['chat'])).protocol).toBe('chat');
    expect(calls).toHaveLength(1);
  });

  test('with protocols listed, a ws client that offers one connects', async () => {
    const { url } = await startServer({ protocols: ['chat'] });
    expect((await connectWs(url, ['chat'])).protocol).toBe('chat');
  });
});

describe('message data as ws code reads it', () => {
  test('text arrives as a string, on which the Buffer idioms of ws code still work', async () => {
    const { server, url } = await startServer();
    const received = new Collector<[string | Buffer, boolean]>();
    server.on('connection', (socket) => {
      socket.on('message', (data, isBinary) => {
        received.push([data, isBinary]);
        // What ws handlers write: toString() and JSON.parse(data).
        socket.send(JSON.stringify({ echo: JSON.parse(data.toString()) }));
      });
    });
    const ws = await connectWs(url);
    const reply = wsMessage(ws);
    ws.send(JSON.stringify({ n: 1 }));
    expect(JSON.parse((await reply).data.toString())).toEqual({ echo: { n: 1 } });
    const [[data, isBinary]] = (await received.until(1)) as [[string | Buffer, boolean]];
    expect(typeof data).toBe('string');
    expect(isBinary).toBe(false);
  });
});

describe('other ws habits', () => {
  test("close(callback), ws's form, calls the callback once everything is closed", async () => {
    const { server, url } = await startServer();
    const client = await connectWs(url);
    const clientClosed = wsClose(client);
    const done = await new Promise<unknown[]>((resolve) => {
      void server.close((...args: unknown[]) => resolve(args));
    });
    expect(done).toEqual([]);
    expect(server.clients.size).toBe(0);
    expect((await clientClosed).code).toBe(1001);
  });

  test("binaryType other than 'nodebuffer' throws instead of being ignored", async () => {
    const { server, url } = await startServer();
    const sockets = new Collector<ServerWebSocket>();
    server.on('connection', (socket) => sockets.push(socket));
    await connectWs(url);
    const [socket] = await sockets.until(1);
    expect(socket!.binaryType).toBe('nodebuffer');
    expect(() => {
      socket!.binaryType = 'arraybuffer' as 'nodebuffer';
    }).toThrow(
      /binaryType "arraybuffer" is not supported: binary messages always arrive as a Buffer/,
    );
    socket!.binaryType = 'nodebuffer';
  });
});
