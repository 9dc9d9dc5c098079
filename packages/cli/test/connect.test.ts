/**
 * `proj-ws connect`, run as a process against a real @proj/server (or a raw
 * TCP server where the server must misbehave): what goes out, what is
 * printed, what reaches the server, and every exit code.
 */
import { buildFrame, collect, acceptRaw, readHead, startRawServer } from '@proj/test-utils';
import { reject } from '@proj/server';
import { describe, expect, test } from 'vitest';
import { Cli, STACK_LINE, closedPort, startServer, usageError, useBuiltCli } from './helpers.js';

useBuiltCli();

describe('messages', () => {
  test('sends each stdin line as a text message and prints text replies as "< text"', async () => {
    const { url, messages, closes } = await startServer({}, (socket) => {
      socket.on('message', (data) => socket.send(`echo: ${String(data)}`));
    });
    const cli = new Cli(['connect', url]);
    await cli.waitFor(/^connected to ws:\/\/127\.0\.0\.1:\d+\/$/m, 'stderr');
    cli.send('hello');
    cli.send('two words');
    await cli.waitFor(/< echo: two words\n/);
    cli.end();

    expect(await cli.exited).toBe(0);
    expect(cli.stdout).toBe('< echo: hello\n< echo: two words\n');
    expect(messages.items).toEqual([
      { data: 'hello', isBinary: false },
      { data: 'two words', isBinary: false },
    ]);
    // The end of stdin is a normal close.
    expect(await closes.until(1)).toEqual([{ code: 1000, reason: '' }]);
    expect(cli.stderr).toMatch(/^closed 1000$/m);
  });

  test('prints a binary message as "< [binary N bytes] <hex>"', async () => {
    const { url } = await startServer({}, (socket) => {
      socket.send(Buffer.from([0x00, 0x01, 0xfe, 0xff]));
      socket.send(Buffer.alloc(0));
      socket.send('after');
    });
    const cli = new Cli(['connect', url]);
    await cli.waitFor(/< after\n/);
    cli.end();

    expect(await cli.exited).toBe(0);
    expect(cli.stdout).toBe('< [binary 4 bytes] 0001feff\n< [binary 0 bytes]\n< after\n');
  });

  test('--binary sends stdin lines as binary messages', async () => {
    const { url, messages } = await startServer();
    const cli = new Cli(['connect', url, '--binary']);
    cli.send('héllo');
    cli.end();

    expect(await cli.exited).toBe(0);
    expect(messages.items).toEqual([{ data: Buffer.from('héllo'), isBinary: true }]);
  });

  test('a large input arrives in full and in order', async () => {
    const { url, messages } = await startServer();
    const lines = Array.from({ length: 2000 }, (_, i) => `${i}:${'x'.repeat(1000)}`);
    const { code } = await Cli.run(['connect', url], `${lines.join('\n')}\n`);

    expect(code).toBe(0);
    expect(messages.items.map((m) => m.data)).toEqual(lines);
  });
});

describe('--execute', () => {
  test('sends the messages in order, waits, then closes with 1000; stdin is not read', async () => {
    const { url, messages, closes } = await startServer();
    const cli = new Cli(['connect', url, '-x', 'one', '--execute', 'two', '--wait', '0.1']);
    cli.send('from stdin');

    expect(await cli.exited).toBe(0);
    expect(messages.items.map((m) => m.data)).toEqual(['one', 'two']);
    expect(await closes.until(1)).toEqual([{ code: 1000, reason: '' }]);
  });

  test('prints the replies that arrive while it waits', async () => {
    let count = 0;
    const { url } = await startServer({}, (socket) => {
      socket.on('message', (data) => {
        socket.send(`re: ${String(data)}`);
        if (++count === 2) socket.close(1000);
      });
    });
    // A long wait: the server's close ends it, so the replies came first.
    const { code, stdout } = await Cli.run(['connect', url, '-x', 'a', '-x', 'b', '-w', '30']);

    expect(code).toBe(0);
    expect(stdout).toBe('< re: a\n< re: b\n');
  });

  test('--binary sends them as binary', async () => {
    const { url, messages } = await startServer();
    const { code } = await Cli.run(['connect', url, '-b', '-x', 'bin', '-w', '0']);

    expect(code).toBe(0);
    expect(messages.items).toEqual([{ data: Buffer.from('bin'), isBinary: true }]);
  });
});

describe('the handshake', () => {
  test('--header, --origin and --subprotocol arrive at the server', async () => {
    const { url, connections } = await startServer({ protocols: ['chat.v1'] });
    const { code, stderr } = await Cli.run([
      'connect',
      url,
      '--header',
      'Authorization: Bearer abc',
      '-H',
      'X-Multi: one',
      '-H',
      'x-multi: two',
      '--origin',
      'https://app.example',
      '--subprotocol',
      'chat.v2',
      '-s',
      'chat.v1',
    ]);

    expect(code).toBe(0);
    const { request, socket } = (await connections.until(1))[0]!;
    expect(request.headers['authorization']).toBe('Bearer abc');
    expect(request.headers['x-multi']).toBe('one, two');
    expect(request.headers['origin']).toBe('https://app.example');
    expect(request.headers['sec-websocket-protocol']).toBe('chat.v2, chat.v1');
    expect(socket.protocol).toBe('chat.v1');
    expect(stderr).toMatch(/^connected to ws:\/\/127\.0\.0\.1:\d+\/ \(subprotocol "chat\.v1"\)$/m);
  });

  test('--deflate offers permessage-deflate, and compressed messages go both ways', async () => {
    const big = 'compressible '.repeat(200);
    const { url, connections, messages } = await startServer(
      { perMessageDeflate: true },
      (socket) =>
        socket.on('message', (data) => {
          socket.send(data);
          socket.close(1000);
        }),
    );
    const { code, stdout, stderr } = await Cli.run([
      'connect',
      url,
      '--deflate',
      '-x',
      big,
      '-w',
      '30',
    ]);

    expect(code).toBe(0);
    const { socket } = (await connections.until(1))[0]!;
    expect(socket.extensions).toMatch(/^permessage-deflate/);
    expect(stderr).toMatch(/extensions "permessage-deflate/);
    expect(messages.items).toEqual([{ data: big, isBinary: false }]);
    expect(stdout).toBe(`< ${big}\n`);
  });

  test('without --deflate nothing is offered', async () => {
    const { url, connections } = await startServer({ perMessageDeflate: true });
    const { code } = await Cli.run(['connect', url]);

    expect(code).toBe(0);
    const { socket, request } = (await connections.until(1))[0]!;
    expect(request.headers['sec-websocket-extensions']).toBeUndefined();
    expect(socket.extensions).toBe('');
  });
});

describe('exit codes', () => {
  test('0 when the server closes with 1001, reason shown', async () => {
    const { url } = await startServer({}, (socket) => socket.close(1001, 'restarting'));
    const cli = new Cli(['connect', url]);

    expect(await cli.exited).toBe(0);
    expect(cli.stderr).toMatch(/^closed 1001 "restarting"$/m);
  });

  test('--quiet prints no status lines', async () => {
    const { url } = await startServer({}, (socket) => socket.close(1000));
    const { code, stderr } = await Cli.run(['connect', url, '--quiet']);

    expect(code).toBe(0);
    expect(stderr).toBe('');
  });

  test('1 and the HTTP status when the handshake is refused', async () => {
    const { url } = await startServer({ authenticate: () => reject(403) });
    const { code, stderr } = await Cli.run(['connect', url, '-q']);

    expect(code).toBe(1);
    expect(stderr).toBe('proj-ws: handshake refused: HTTP 403 Forbidden\n');
  });

  test('1 when the connection is refused', async () => {
    const port = await closedPort();
    const { code, stderr } = await Cli.run(['connect', `ws://127.0.0.1:${port}`]);

    expect(code).toBe(1);
    expect(stderr).toBe(`proj-ws: connection refused by 127.0.0.1:${port}\n`);
  });

  test('1 when the host name does not resolve', async () => {
    // .invalid never resolves (RFC 6761 §6.4).
    const { code, stderr } = await Cli.run(['connect', 'ws://no-such-host.invalid:8080']);

    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^proj-ws: (host not found|could not resolve host):? no-such-host\.invalid/,
    );
    expect(stderr).not.toMatch(STACK_LINE);
  });

  test('1 when the server answers 101 with a wrong accept key', async () => {
    const { url } = await startRawServer((socket) => {
      void readHead(socket).then(() =>
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n',
        ),
      );
    });
    const { code, stderr } = await Cli.run(['connect', url]);

    expect(code).toBe(1);
    expect(stderr).toBe(
      'proj-ws: invalid handshake response: Sec-WebSocket-Accept does not match the key\n',
    );
  });

  test('1 when the server hangs up before answering', async () => {
    const { url } = await startRawServer((socket) => {
      void readHead(socket).then(() => socket.destroy());
    });
    const { code, stderr } = await Cli.run(['connect', url]);

    expect(code).toBe(1);
    expect(stderr).toMatch(/^proj-ws: handshake failed: /);
    expect(stderr).not.toMatch(STACK_LINE);
  });

  test('2 for a bad URL, with the usage and a hint', async () => {
    const { code, stdout, stderr } = await Cli.run(['connect', 'localhost:8080']);

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      usageError(
        "The URL's scheme must be either 'http', 'https', 'ws', or 'wss'. 'localhost:' is not allowed. (a URL starts with ws:// or wss://)",
        'connect',
      ),
    );
  });

  test('2 for an unknown option, before connecting', async () => {
    const { url, connections } = await startServer();
    const { code, stderr } = await Cli.run(['connect', url, '--nope']);

    expect(code).toBe(2);
    expect(stderr).toMatch(
      /^proj-ws: unknown option '--nope'\nUsage: proj-ws connect <url> \[options\]\n/,
    );
    expect(connections.items).toEqual([]);
  });

  test('3 when the server closes with another code, printing code and reason', async () => {
    const { url } = await startServer({}, (socket) => socket.close(4000, 'go away'));
    const { code, stderr } = await Cli.run(['connect', url, '-q']);

    expect(code).toBe(3);
    expect(stderr).toBe('proj-ws: the server closed the connection with code 4000 "go away"\n');
  });

  test('3 when the connection is lost without a close frame', async () => {
    // On the first message, so that the client surely saw the 101 and opened.
    const { url } = await startServer({}, (socket) =>
      socket.on('message', () => socket.terminate()),
    );
    const { code, stderr } = await Cli.run(['connect', url, '-q', '-x', 'hi', '-w', '30']);

    expect(code).toBe(3);
    expect(stderr).toBe('proj-ws: connection lost: closed without a close frame (1006)\n');
  });

  test('3 when the server breaks the protocol, naming the error', async () => {
    const { url } = await startRawServer((socket) => {
      void acceptRaw(socket).then(async ({ rest }) => {
        // A text frame that is not UTF-8.
        socket.write(buildFrame(0x1, new Uint8Array([0xff, 0xfe])));
        // The client's close frame: end the TCP connection, as a server does.
        await collect(socket, rest).until((bytes) => bytes.length > 0);
        socket.end();
      });
    });
    const { code, stderr } = await Cli.run(['connect', url, '-q']);

    expect(code).toBe(3);
    expect(stderr).toMatch(
      /^proj-ws: connection failed: .*\(WS_ERR_INVALID_UTF8, closed with 1007\)\n$/,
    );
  });

  test.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s closes with 1000, then exits %d', async (signal, exitCode) => {
    const { url, closes } = await startServer();
    const cli = new Cli(['connect', url]);
    await cli.waitFor(/^connected to /m, 'stderr');
    cli.kill(signal);

    expect(await cli.exited).toBe(exitCode);
    expect(await closes.until(1)).toEqual([{ code: 1000, reason: '' }]);
    expect(cli.stderr).toMatch(new RegExp(`^closed 1000 \\(${signal}\\)$`, 'm'));
  });
  test('141 when stdout is closed (as by "| head -1"), after closing with 1000', async () => {
    const { url, connections, closes } = await startServer();
    const cli = new Cli(['connect', url]);
    await cli.waitFor(/^connected to /m, 'stderr');
    cli.child.stdout.destroy();
    const { socket } = (await connections.until(1))[0]!;
    socket.send('nobody reads this');

    expect(await cli.exited).toBe(141);
    expect(await closes.until(1)).toEqual([{ code: 1000, reason: '' }]);
    expect(cli.stderr).not.toMatch(STACK_LINE);
  });
});
