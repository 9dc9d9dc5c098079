/**
 * `proj-ws listen`, run as a process and driven by real @proj/client
 * WebSockets: echo and print modes, subprotocols, compression, the graceful
 * stop on SIGINT/SIGTERM, and its exit codes.
 */
import { WebSocketServer } from '@proj/server';
import { describe, expect, test } from 'vitest';
import { Cli, Peer, onCleanup, startListen, usageError, useBuiltCli } from './helpers.js';

useBuiltCli();

describe('echo mode (the default)', () => {
  test('prints its address and echoes text as text and binary as binary', async () => {
    const { cli, url } = await startListen();
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    const peer = await Peer.open(url);
    peer.ws.send('hello');
    peer.ws.send(new Uint8Array([1, 2, 255]));

    expect(await peer.messages.until(2)).toEqual(['hello', new Uint8Array([1, 2, 255])]);
    await cli.waitFor(/^#1 connected from 127\.0\.0\.1:\d+$/m, 'stderr');
    expect(cli.stdout).toBe('');
  });

  test.each(['SIGINT', 'SIGTERM'] as const)(
    '%s closes every connection with 1001 and exits 0',
    async (signal) => {
      const { cli, url } = await startListen();
      const peers = [await Peer.open(url), await Peer.open(url)];
      cli.kill(signal);

      expect(await cli.exited).toBe(0);
      for (const peer of peers) expect((await peer.closed).code).toBe(1001);
      expect(cli.stderr).toMatch(
        new RegExp(`^${signal}: closing 2 connection\\(s\\) with 1001$`, 'm'),
      );
    },
  );
});

describe('print mode', () => {
  test('prints what arrives with the connection id, and sends stdin lines to every client', async () => {
    const { cli, url } = await startListen(['--mode', 'print']);
    const first = await Peer.open(url);
    const second = await Peer.open(url);
    first.ws.send('from one');
    await cli.waitFor(/< #1 from one\n/);
    second.ws.send(new Uint8Array([0xca, 0xfe]));
    await cli.waitFor(/< #2 \[binary 2 bytes\] cafe\n/);
    cli.send('to everyone');

    expect(await first.messages.until(1)).toEqual(['to everyone']);
    expect(await second.messages.until(1)).toEqual(['to everyone']);
    // Nothing is echoed in print mode.
    expect(first.messages.items).toHaveLength(1);
    expect(cli.stdout).toBe('< #1 from one\n< #2 [binary 2 bytes] cafe\n');
  });

  test('--binary sends stdin lines as binary', async () => {
    const { cli, url } = await startListen(['-m', 'print', '--binary']);
    const peer = await Peer.open(url);
    await cli.waitFor(/^#1 connected/m, 'stderr');
    cli.send('raw');

    expect(await peer.messages.until(1)).toEqual([new TextEncoder().encode('raw')]);
  });

  test('the end of stdin does not stop the server', async () => {
    const { cli, url } = await startListen(['--mode', 'print']);
    cli.end();
    const peer = await Peer.open(url);
    peer.ws.send('still here');

    await cli.waitFor(/< #1 still here\n/);
  });
});

describe('options', () => {
  test('--subprotocol: the first the client offers that the server speaks is chosen', async () => {
    const { url } = await startListen(['--subprotocol', 'b', '-s', 'c']);
    const peer = await Peer.open(url, ['a', 'c', 'b']);

    expect(peer.ws.protocol).toBe('c');
  });

  test('--deflate accepts permessage-deflate', async () => {
    const { url } = await startListen(['--deflate']);
    const peer = await Peer.open(url, [], { perMessageDeflate: true });
    const big = 'compressible '.repeat(200);
    peer.ws.send(big);

    expect(peer.ws.extensions).toMatch(/^permessage-deflate/);
    expect(await peer.messages.until(1)).toEqual([big]);
  });

  test('without --deflate the offer is declined', async () => {
    const { url } = await startListen();
    const peer = await Peer.open(url, [], { perMessageDeflate: true });

    expect(peer.ws.extensions).toBe('');
  });

  test('--host sets the address it listens on', async () => {
    const { url, port } = await startListen(['--host', '0.0.0.0']);
    expect(url).toBe(`ws://0.0.0.0:${port}`);
    const peer = await Peer.open(`ws://127.0.0.1:${port}`);
    peer.ws.send('any interface');

    expect(await peer.messages.until(1)).toEqual(['any interface']);
  });

  test('--quiet hides connections and closes, not the address', async () => {
    const { cli, url } = await startListen(['--quiet']);
    const peer = await Peer.open(url);
    peer.ws.send('x');
    await peer.messages.until(1);
    cli.kill('SIGTERM');

    expect(await cli.exited).toBe(0);
    expect(cli.stderr).toBe(`listening on ${url}\n`);
  });
});

describe('exit codes', () => {
  test('1 when the port is in use', async () => {
    const taken = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    onCleanup(() => taken.close());
    await taken.ready();
    const { port } = taken.address() as { port: number };
    const { code, stderr } = await Cli.run(['listen', String(port)]);

    expect(code).toBe(1);
    expect(stderr).toBe(
      `proj-ws: cannot listen on 127.0.0.1:${port}: the port is already in use\n`,
    );
  });

  test('2 for a bad port, with the usage', async () => {
    const { code, stderr } = await Cli.run(['listen', 'http']);

    expect(code).toBe(2);
    expect(stderr).toBe(
      usageError("<port> must be an integer from 0 to 65535, got 'http'", 'listen'),
    );
  });
});
