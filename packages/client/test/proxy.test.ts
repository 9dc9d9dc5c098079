/**
 * The Node client through a real HTTP proxy (Debian's tinyproxy, started per
 * test): `ws:` and `wss:` through the `proxy` option and through the
 * environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), Basic authentication
 * accepted and refused, a proxy that is down, and option values refused.
 * What a hostile or broken proxy sends is in proxy-tunnel.test.ts.
 */
import { describe, expect, test } from 'vitest';
import { type ErrorEvent, WebSocket } from '@proj/client';
import { onCleanup, useCleanup } from '@proj/test-utils';
import { ProxyError } from '../src/proxy-error.js';
import {
  TLS_CERT,
  closedPort,
  connect,
  connectOpen,
  nextEvent,
  record,
  startPeer,
  startTlsPeer,
} from './helpers.js';
import { type Tinyproxy, startTinyproxy } from './tinyproxy.js';

// An error no listener took (a socket the tunnel let go of) fails the test.
useCleanup();

/** Every variable the client reads, in both spellings. */
const PROXY_VARIABLES = [
  'http_proxy',
  'HTTP_PROXY',
  'https_proxy',
  'HTTPS_PROXY',
  'no_proxy',
  'NO_PROXY',
] as const;

type ProxyVariable = (typeof PROXY_VARIABLES)[number];

/**
 * Sets the proxy variables to `values` for the current test (the others
 * unset, whatever the machine's environment holds) and restores them after.
 */
function useProxyEnv(values: Partial<Record<ProxyVariable, string>>): void {
  const saved = PROXY_VARIABLES.map((name) => [name, process.env[name]] as const);
  onCleanup(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  for (const name of PROXY_VARIABLES) {
    const value = values[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}

/** The `host:port` a CONNECT to the peer at `url` names. */
function authority(url: string): string {
  return new URL(url).host;
}

/** Echoes every message back, on every connection of `server`'s `ws` server. */
function echo(server: { wss: import('ws').WebSocketServer }): void {
  server.wss.on('connection', (peer) =>
    peer.on('message', (data, binary) => peer.send(data, { binary })),
  );
}

/** Sends `text` on an open `ws` and waits for the echo. */
async function roundTrip(ws: WebSocket, text: string): Promise<unknown> {
  const message = nextEvent(ws, 'message');
  ws.send(text);
  return (await message).data;
}

/** Connects and waits for the end: error, then close 1006, as every failure to connect. */
async function expectFailure(
  ...args: Parameters<typeof connect>
): Promise<{ error: unknown; event: ErrorEvent }> {
  const ws = connect(...args);
  const { events, closed } = record(ws);
  const close = await closed;
  expect(events.map((e) => e.type)).toEqual(['error', 'close']);
  expect([close.code, close.wasClean]).toEqual([1006, false]);
  const event = events[0]!.event as ErrorEvent;
  return { error: event.error, event };
}

/**
 * Opens a connection through `proxy` to a fresh peer and waits for the
 * proxy to log its CONNECT: every connection made before it has been logged
 * by then (tinyproxy logs in order), so its list of requests is complete.
 * `proxyUrl`: the proxy's URL with the credentials it wants, if any.
 */
async function control(proxy: Tinyproxy, proxyUrl = proxy.url): Promise<string> {
  const peer = await startPeer();
  await connectOpen(peer.url, [], { proxy: proxyUrl });
  const target = authority(peer.url);
  await waitFor(
    () => proxy.requests().includes(target),
    () => proxy.log,
  );
  return target;
}

/** Polls until `condition` holds, failing with `detail()` after 10 s. */
async function waitFor(condition: () => boolean, detail: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met in time:\n${detail()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('the proxy option', () => {
  test('ws: goes through the proxy (CONNECT host:port), and messages flow', async () => {
    useProxyEnv({});
    const proxy = await startTinyproxy();
    const peer = await startPeer();
    echo(peer);
    const ws = await connectOpen(peer.url, [], { proxy: proxy.url });
    expect(await roundTrip(ws, 'through the tunnel')).toBe('through the tunnel');
    expect(proxy.requests()).toEqual([authority(peer.url)]);
  });

  test('wss: TLS with the server runs inside the tunnel, checked against the server', async () => {
    useProxyEnv({});
    const proxy = await startTinyproxy();
    const peer = await startTlsPeer();
    echo(peer);
    const ws = await connectOpen(peer.url, [], { proxy: proxy.url, ca: TLS_CERT });
    expect(await roundTrip(ws, 'encrypted end to end')).toBe('encrypted end to end');
    expect(proxy.requests()).toEqual([authority(peer.url)]);
  });

  test('wss: a certificate that does not verify still fails, with the TLS error', async () => {
    useProxyEnv({});
    const proxy = await startTinyproxy();
    const peer = await startTlsPeer();
    // No `ca`: the test certificate is self-signed.
    const { error } = await expectFailure(peer.url, [], { proxy: proxy.url });
    expect(error).not.toBeInstanceOf(ProxyError);
    expect((error as NodeJS.ErrnoException).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  test('a URL object is taken as well', async () => {
    useProxyEnv({});
    const proxy = await startTinyproxy();
    const peer = await startPeer();
    await connectOpen(peer.url, [], { proxy: new URL(proxy.url) });
    expect(proxy.requests()).toEqual([authority(peer.url)]);
  });

  test('an explicit proxy is used for every host: NO_PROXY is not consulted', async () => {
    useProxyEnv({ NO_PROXY: '*' });
    const proxy = await startTinyproxy();
    const peer = await startPeer();
    await connectOpen(peer.url, [], { proxy: proxy.url });
    expect(proxy.requests()).toEqual([authority(peer.url)]);
  });

  test('proxy: false connects directly, whatever the environment names', async () => {
    const down = await closedPort();
    useProxyEnv({
      HTTP_PROXY: `http://127.0.0.1:${down}`,
      HTTPS_PROXY: `http://127.0.0.1:${down}`,
    });
    const peer = await startPeer();
    const ws = await connectOpen(peer.url, [], { proxy: false });
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  test('ReconnectingWebSocket passes it on through socketOptions', async () => {
    useProxyEnv({});
    const { ReconnectingWebSocket } = await import('@proj/client');
    const proxy = await startTinyproxy();
    const peer = await startPeer();
    const ws = new ReconnectingWebSocket(peer.url, [], { socketOptions: { proxy: proxy.url } });
    onCleanup(() => ws.close());
    await new Promise((resolve) => ws.addEventListener('open', resolve, { once: true }));
    expect(proxy.requests()).toEqual([authority(peer.url)]);
  });
});

describe('the environment', () => {
  test('ws: HTTP_PROXY', async () => {
    const proxy = await startTinyproxy();
    useProxyEnv({ HTTP_PROXY: proxy.url });
    const peer = await startPeer();
    echo(peer);
    const ws = await connectOpen(peer.url);
    expect(await roundTrip(ws, 'hello')).toBe('hello');
    expect(proxy.requests()).toEqual([authority(peer.url)]);
  });

  test('wss: HTTPS_PROXY (HTTP_PROXY is for ws:)', async () => {
    const proxy = await startTinyproxy();
    useProxyEnv({ HTTPS_PROXY: proxy.url, HTTP_PROXY: `http://127.0.0.1:${await closedPort()}` });
    const peer = await startTlsPeer();
    echo(peer);
    const ws = await connectOpen(peer.url, [], { ca: TLS_CERT });
    expect(await roundTrip(ws, 'hello')).toBe('hello');
    expect(proxy.requests()).toEqual([authority(peer.url)]);
  });

  test('wss: HTTP_PROXY when no HTTPS_PROXY is set, as undici does', async () => {
    const proxy = await startTinyproxy();
    useProxyEnv({ HTTP_PROXY: proxy.url });
    const peer = await startTlsPeer();
    await connectOpen(peer.url, [], { ca: TLS_CERT });
    expect(proxy.requests()).toEqual([authority(peer.url)]);
  });

  test('ws: HTTPS_PROXY alone is not used', async () => {
    useProxyEnv({ HTTPS_PROXY: `http://127.0.0.1:${await closedPort()}` });
    const peer = await startPeer();
    const ws = await connectOpen(peer.url);
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  test('the lower-case spelling wins over the upper-case one', async () => {
    const proxy = await startTinyproxy();
    useProxyEnv({ http_proxy: proxy.url, HTTP_PROXY: `http://127.0.0.1:${await closedPort()}` });
    const peer = await startPeer();
    await connectOpen(peer.url);
    expect(proxy.requests()).toEqual([authority(peer.url)]);
  });

  test('a value without a scheme is an http: URL, as in curl', async () => {
    const proxy = await startTinyproxy();
    useProxyEnv({ HTTP_PROXY: `127.0.0.1:${proxy.port}` });
    const peer = await startPeer();
    await connectOpen(peer.url);
    expect(proxy.requests()).toEqual([authority(peer.url)]);
  });

  test('is read when the WebSocket is made, not when the module was loaded', async () => {
    const proxy = await startTinyproxy();
    const peer = await startPeer();
    useProxyEnv({});
    await connectOpen(peer.url);
    process.env['HTTP_PROXY'] = proxy.url;
    await connectOpen(peer.url);
    await waitFor(
      () => proxy.requests().length > 0,
      () => proxy.log,
    );
    // The first connection, made before HTTP_PROXY was set, went direct.
    expect(proxy.requests()).toEqual([authority(peer.url)]);
  });

  test('NO_PROXY: a listed host is reached directly; the proxy sees no connection', async () => {
    const proxy = await startTinyproxy();
    const peer = await startPeer();
    // Host and port: another port of the same host still goes through the proxy.
    useProxyEnv({ HTTP_PROXY: proxy.url, NO_PROXY: `example.com, 127.0.0.1:${peer.port}` });
    await connectOpen(peer.url);
    expect(proxy.connections()).toBe(0);
    // Proof that the first connection would have shown by now: tinyproxy logs
    // in order, and the one after it is in the log.
    const other = await control(proxy);
    expect(proxy.requests()).toEqual([other]);
    expect(proxy.connections()).toBe(1);
  });

  test('NO_PROXY=* turns the environment proxy off for every host', async () => {
    const proxy = await startTinyproxy();
    const peer = await startTlsPeer();
    useProxyEnv({ https_proxy: proxy.url, no_proxy: '*' });
    await connectOpen(peer.url, [], { ca: TLS_CERT });
    expect(proxy.requests()).toEqual([]);
    const other = await control(proxy);
    expect(proxy.requests()).toEqual([other]);
  });

  test('an invalid variable is a TypeError naming it, without its credentials', async () => {
    useProxyEnv({ HTTPS_PROXY: 'https://user:secret@proxy.example:443' });
    const thrown = (() => {
      try {
        new WebSocket('wss://127.0.0.1:1/');
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as Error).message).toMatch(
      /^The HTTPS_PROXY environment variable is an https: URL/,
    );
    expect((thrown as Error).message).toContain('proxy: false');
    expect((thrown as Error).message).not.toContain('secret');
  });
});

describe('Basic authentication', () => {
  const basicAuth = { user: 'alice', password: 'opensesame' };

  test('credentials in the URL are sent, percent-decoded, and accepted', async () => {
    useProxyEnv({});
    const proxy = await startTinyproxy({ basicAuth });
    const peer = await startPeer();
    echo(peer);
    // %61 is "a", %65 is "e": what the proxy checks is the decoded text.
    const url = `http://%61lice:op%65nsesame@127.0.0.1:${proxy.port}`;
    const ws = await connectOpen(peer.url, [], { proxy: url });
    expect(await roundTrip(ws, 'authenticated')).toBe('authenticated');
  });

  test('from the environment too', async () => {
    const proxy = await startTinyproxy({ basicAuth });
    useProxyEnv({ HTTP_PROXY: `http://alice:opensesame@127.0.0.1:${proxy.port}` });
    const peer = await startPeer();
    await connectOpen(peer.url);
    expect(proxy.requests()).toEqual([authority(peer.url)]);
  });

  test('none sent: 407 fails the connection once, saying the proxy wants them', async () => {
    useProxyEnv({});
    const proxy = await startTinyproxy({ basicAuth });
    const peer = await startPeer();
    const { error, event } = await expectFailure(peer.url, [], { proxy: proxy.url });
    expect(error).toBeInstanceOf(ProxyError);
    expect(error).toMatchObject({
      name: 'ProxyError',
      code: 'WS_ERR_PROXY_STATUS',
      status: 407,
      proxy: proxy.url,
    });
    expect(event.message).toBe(
      `The proxy ${proxy.url} wants authentication (407 Proxy Authentication Required) ` +
        'and no credentials were sent: put them in the proxy URL, http://user:pass@host:port',
    );
    // No second try: the next CONNECT the proxy logs is the control's.
    const other = await control(proxy, `http://alice:opensesame@127.0.0.1:${proxy.port}`);
    expect(proxy.requests()).toEqual([authority(peer.url), other]);
  });

  test('wrong ones: refused (tinyproxy answers 401), naming the user, never the password', async () => {
    useProxyEnv({});
    const proxy = await startTinyproxy({ basicAuth });
    const peer = await startPeer();
    const url = `http://alice:wrong-password@127.0.0.1:${proxy.port}`;
    const { error, event } = await expectFailure(peer.url, [], { proxy: url });
    expect(error).toMatchObject({ code: 'WS_ERR_PROXY_STATUS', status: 401, proxy: proxy.url });
    expect(event.message).toBe(
      `The proxy ${proxy.url} refused the credentials sent for user "alice" (401 Unauthorized)`,
    );
    expect(event.message).not.toContain('wrong-password');
  });
});

describe('a proxy that is down', () => {
  test('the option: ECONNREFUSED, reported as the proxy being unreachable', async () => {
    useProxyEnv({});
    const port = await closedPort();
    const peer = await startPeer();
    const { error } = await expectFailure(peer.url, [], { proxy: `http://127.0.0.1:${port}` });
    expect(error).toBeInstanceOf(ProxyError);
    expect(error).toMatchObject({ code: 'WS_ERR_PROXY_UNREACHABLE', status: 0 });
    expect((error as Error).message).toBe(
      `Could not connect to the proxy http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    // Nothing reached the server.
    expect(peer.wss.clients.size).toBe(0);
  });

  test('the environment: the same', async () => {
    const port = await closedPort();
    useProxyEnv({ HTTPS_PROXY: `http://127.0.0.1:${port}` });
    const { error } = await expectFailure('wss://127.0.0.1:1/');
    expect(error).toMatchObject({ code: 'WS_ERR_PROXY_UNREACHABLE' });
    expect((error as Error).message).toMatch(
      /^Could not connect to the proxy http:\/\/127\.0\.0\.1:/,
    );
  });
});

describe('bad option values: a TypeError naming the option', () => {
  const cases: [string, unknown, RegExp][] = [
    [
      'a number',
      3128,
      /^The "proxy" option must be an http:\/\/\[user:pass@\]host:port URL \(a string or a URL\) or false, got 3128$/,
    ],
    ['true', true, /^The "proxy" option must be .* or false, got true$/],
    ['an object', { host: 'proxy' }, /^The "proxy" option must be .*, got an object$/],
    [
      'an empty string',
      '',
      /^The "proxy" option must be an http:\/\/\[user:pass@\]host:port URL, with its scheme, got ""$/,
    ],
    [
      'no scheme',
      'proxy.internal:3128',
      /^The "proxy" option must be .*, with its scheme, got "proxy\.internal:3128"$/,
    ],
    [
      'not a URL',
      'http://',
      /^The "proxy" option must be an http:\/\/\[user:pass@\]host:port URL, got "http:\/\/"$/,
    ],
    [
      'an https: proxy',
      'https://proxy.internal:443',
      /^The "proxy" option is an https: URL, "https:\/\/proxy\.internal\/": TLS to the proxy is not supported/,
    ],
    ['a socks proxy', 'socks5://127.0.0.1:1080', /socks5: proxies are not supported$/],
    ['a path', 'http://proxy.internal:3128/path', /without a path, query or fragment/],
    ['a query', 'http://proxy.internal:3128/?x=1', /without a path, query or fragment/],
    [
      'bad percent-encoding',
      'http://us%zzer:pw@proxy.internal:3128',
      /holds credentials that are not valid percent-encoding/,
    ],
    ['a colon in the user name', 'http://a%3Ab:pw@proxy.internal:3128', /a user name with a ":"/],
  ];

  test.each(cases)('%s', (_label, proxy, message) => {
    let thrown: unknown;
    try {
      new WebSocket('ws://127.0.0.1:1/', [], { proxy } as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as Error).message).toMatch(message);
  });

  test('credentials never appear in the message', () => {
    for (const proxy of [
      'ftp://user:secret@proxy:21',
      'https://user:secret@proxy',
      'http://user:secret@proxy/x',
    ]) {
      expect(() => new WebSocket('ws://127.0.0.1:1/', { proxy })).toThrow(/\*\*\*@/);
      expect(() => new WebSocket('ws://127.0.0.1:1/', { proxy })).not.toThrow(/secret/);
    }
  });

  test('in the init dictionary and in ReconnectingWebSocket socketOptions alike', async () => {
    const { ReconnectingWebSocket } = await import('@proj/client');
    expect(() => new WebSocket('ws://127.0.0.1:1/', { proxy: 1 } as never)).toThrow(TypeError);
    expect(
      () =>
        new ReconnectingWebSocket('ws://127.0.0.1:1/', [], {
          socketOptions: { proxy: 1 } as never,
        }),
    ).toThrow(/The "proxy" option/);
  });
});
