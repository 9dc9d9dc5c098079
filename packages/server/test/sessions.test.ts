/**
 * Resumable sessions on one server (`docs/session-protocol.md`), spoken by
 * hand from `ws` clients with the protocol's codec: negotiation (section 1),
 * hello/resume/lost (section 4), messages exactly once and in order across
 * drops (sections 3 and 8), acknowledgements and the replay log's bounds
 * (section 5), keep-alive (section 6), ending (section 7), breaches (1002),
 * errors in the application's listeners, and what `stats()` counts.
 */
import { performance } from 'node:perf_hooks';
import { describe, expect, test } from 'vitest';
import { SESSION_PROTOCOL, encodeSessionControl, sessionOffer } from '@proj/protocol';
import { type ServerOptions, type ServerSession, WebSocketServer } from '@proj/server';
import { densest, nextEmit, quiet, turns, until, useCleanup } from '@proj/test-utils';
import { Collector } from './collector.js';
import {
  connectWs,
  echo,
  handshakeResponse,
  serverErrors,
  startServer,
  warningsWithCode,
  wsMessage,
} from './helpers.js';
import {
  ResumingClient,
  SessionPeer,
  sessionClose,
  sessionMessages,
  startSessionServer,
} from './session-peer.js';

useCleanup();

/** A session server and one client that said `hello`: both sides of one session. */
async function openSession(
  sessions: Parameters<typeof startSessionServer>[0] = true,
  options: Parameters<typeof startSessionServer>[1] = {},
): Promise<
  Awaited<ReturnType<typeof startSessionServer>> & {
    peer: SessionPeer;
    id: string;
    session: ServerSession;
  }
> {
  const started = await startSessionServer(sessions, options);
  const { peer, id } = await SessionPeer.hello(started.url);
  const [session] = await started.sessions.until(1);
  return { ...started, peer, id, session: session! };
}

describe('negotiation (section 1)', () => {
  test('the bare token: a session connection, emitted as `session` once `hello` came, never as `connection`', async () => {
    const { server, url, sessions } = await startSessionServer();
    const connections = new Collector<unknown>();
    server.on('connection', (socket) => connections.push(socket));
    const peer = await SessionPeer.open(url);
    expect(peer.ws.protocol).toBe(SESSION_PROTOCOL);
    await turns();
    expect(sessions.items).toHaveLength(0);
    peer.control({ type: 'hello' });
    await peer.nextControl('ready');
    const [session] = await sessions.until(1);
    expect(session!.protocol).toBe('');
    expect(connections.items).toHaveLength(0);
    expect(server.clients.size).toBe(1);
    expect([...server.clients][0]).toBe(session!.socket);
  });

  test('with application protocols, the token carrying the one `protocols` picks', async () => {
    const { url, sessions } = await startSessionServer(true, { protocols: ['chat', 'echo'] });
    const peer = await SessionPeer.open(url, sessionOffer(['v0', 'echo', 'chat']));
    expect(peer.ws.protocol).toBe(`${SESSION_PROTOCOL}+echo`);
    peer.control({ type: 'hello' });
    const [session] = await sessions.until(1);
    expect(session!.protocol).toBe('echo');
  });

  test('handleProtocols sees only the application offers; its choice is carried by the token', async () => {
    const seen: string[][] = [];
    const { url, sessions } = await startSessionServer(true, {
      handleProtocols: (offered) => {
        seen.push([...offered]);
        return offered.has('chat') ? 'chat' : false;
      },
    });
    const peer = await SessionPeer.open(url, sessionOffer(['echo', 'chat']));
    expect(seen).toEqual([['echo', 'chat']]);
    expect(peer.ws.protocol).toBe(`${SESSION_PROTOCOL}+chat`);
    peer.control({ type: 'hello' });
    expect((await sessions.until(1))[0]!.protocol).toBe('chat');
  });

  test('plain clients of a session server are plain connections, as before', async () => {
    const { server, url } = await startSessionServer(true, { protocols: ['chat'] });
    server.on('connection', (socket) => {
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    const plain = await connectWs(url);
    expect(plain.protocol).toBe('');
    expect(await echo(plain, '\u0000not a control message')).toBe('\u0000not a control message');
    const chat = await connectWs(url, ['chat']);
    expect(chat.protocol).toBe('chat');
    expect(await echo(chat, 'hi')).toBe('hi');
  });

  test('a client offering combined tokens to a server that picks no application protocol gets a plain connection', async () => {
    const { server, url } = await startSessionServer(true, { protocols: ['other'] });
    const connected = nextEmit(server, 'connection');
    const response = await handshakeResponse(Number(new URL(url).port), {
      headers: { 'Sec-WebSocket-Protocol': sessionOffer(['chat']).join(', ') },
    });
    expect(response.status).toBe(101);
    expect(response.headers['sec-websocket-protocol']).toBeUndefined();
    await connected;
  });

  test('a server without sessions ignores the tokens, and does not warn of them', async () => {
    const warnings = warningsWithCode('WS_SUBPROTOCOL_UNANSWERED');
    const { port } = await startServer();
    const bare = await handshakeResponse(port, {
      headers: { 'Sec-WebSocket-Protocol': SESSION_PROTOCOL },
    });
    expect(bare.status).toBe(101);
    expect(bare.headers['sec-websocket-protocol']).toBeUndefined();
    await turns();
    expect(warnings.items).toEqual([]);
    // The application's own offer still warns as before: nothing chose it.
    await handshakeResponse(port, {
      headers: { 'Sec-WebSocket-Protocol': sessionOffer(['chat']).join(', ') },
    });
    await warnings.until(1);
    expect(warnings.items[0]!.message).toContain('"chat"');
    expect(warnings.items[0]!.message).not.toContain(SESSION_PROTOCOL);
  });

  test('a server without sessions picks the application protocol from a session offer', async () => {
    const { url } = await startServer({ protocols: ['chat'] });
    const ws = await connectWs(url, sessionOffer(['chat']));
    expect(ws.protocol).toBe('chat');
  });
});

describe('hello and ready (section 4)', () => {
  test('hello: a new unguessable id, `ready ID 0 KEEPALIVE`, and `session` with the request', async () => {
    const { server, url } = await startSessionServer({ keepAlive: 1234 });
    const emitted = nextEmit<[ServerSession, { url?: string }]>(server, 'session');
    const peer = await SessionPeer.open(`${url}/room?x=1`);
    peer.control({ type: 'hello' });
    const ready = await peer.nextControl('ready');
    expect(ready.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(ready.received).toBe(0);
    expect(ready.keepAlive).toBe(1234);
    const [session, request] = await emitted;
    expect(request.url).toBe('/room?x=1');
    expect(session.id).toBe(ready.id);
    expect(session.connected).toBe(true);
    expect(server.sessions.get(ready.id)).toBe(session);
    expect([session.sent, session.received, session.acked, session.moved]).toEqual([
      0,
      0,
      0,
      false,
    ]);
    const other = await SessionPeer.hello(url);
    expect(other.id).not.toBe(ready.id);
  });

  test.each([
    ['a text data message', 'hi'],
    ['a binary data message', Buffer.from([1, 2])],
    ['an ack', encodeSessionControl({ type: 'ack', received: 0 })],
    ['a ready', encodeSessionControl({ type: 'ready', id: 'abc', received: 0, keepAlive: 1 })],
    ['an unknown control message', '\u0000bogus'],
  ])('%s before hello or resume: 1002', async (_, message) => {
    const { url, sessions } = await startSessionServer();
    const peer = await SessionPeer.open(url);
    peer.ws.send(message);
    const { code, reason } = await peer.closed();
    expect(code).toBe(1002);
    expect(reason.length).toBeGreaterThan(0);
    expect(sessions.items).toHaveLength(0);
  });
});

describe('messages exactly once, in order (sections 3 and 8)', () => {
  test('text (escaped where it begins with NUL) and binary, both ways, numbered from 1', async () => {
    const { peer, session } = await openSession();
    const received = sessionMessages(session);
    peer.data('one');
    peer.data('\u0000two');
    peer.data(Buffer.from([0, 1, 2]));
    const items = await received.until(3);
    expect(items).toEqual([
      ['one', false, 1],
      ['\u0000two', false, 2],
      [Buffer.from([0, 1, 2]), true, 3],
    ]);
    expect(Buffer.isBuffer(items[2]![0])).toBe(true);
    expect(session.received).toBe(3);
    expect(session.send('\u0000three')).toBe(true);
    expect(session.send(new Uint8Array([9]))).toBe(true);
    expect(session.send('four')).toBe(true);
    expect(session.sent).toBe(3);
    expect(await peer.nextData()).toBe('\u0000three');
    expect(await peer.nextData()).toEqual(Buffer.from([9]));
    expect(await peer.nextData()).toBe('four');
  });

  test('binary data is copied into the log: changing the buffer after send changes nothing', async () => {
    const { url, peer, id, session } = await openSession();
    const bytes = Buffer.from('abc');
    session.send(bytes);
    bytes.fill(0);
    expect(await peer.nextData()).toEqual(Buffer.from('abc'));
    peer.drop();
    await nextEmit(session, 'suspend');
    const again = await SessionPeer.open(url);
    again.control({ type: 'resume', id, received: 0, acked: 0 });
    await again.nextControl('ready');
    expect(await again.nextData()).toEqual(Buffer.from('abc'));
  });

  test(
    'an echo across 20 forced drops: every message once and in order both ways, replays pipelined, duplicates discarded',
    { timeout: 60_000 },
    async () => {
      // The server never acknowledges on its own within the test (ackEvery,
      // ackDelay, keepAlive all large), so each resume replays the client's
      // whole log and the server must discard every message it has.
      const { server, url } = await startSessionServer({
        ackEvery: 1_000_000,
        ackDelay: 600_000,
        keepAlive: 600_000,
      });
      const seqs: number[] = [];
      const texts: string[] = [];
      server.on('session', (session) => {
        session.on('message', (data, _isBinary, seq) => {
          seqs.push(seq);
          texts.push(data as string);
          session.send(`echo:${data}`);
        });
      });
      const client = new ResumingClient(url);
      await client.resume();
      const total = 400;
      let sent = 0;
      for (let drop = 0; drop < 20; drop++) {
        for (const end = sent + total / 20; sent < end; sent++) client.send(`m${sent}`);
        // Half the drops before the echoes arrive, half after some did; the
        // client's TCP socket destroyed, or the server's.
        if (drop % 2 === 1) await client.delivered.until(Math.max(1, sent - 10));
        if (drop % 4 < 2) client.drop();
        else [...server.sessions.values()][0]!.socket!.terminate();
        await client.closed();
        const answer = await client.resume();
        expect(answer.type).toBe('ready');
      }
      const delivered = await client.delivered.until(total);
      expect(delivered).toEqual(Array.from({ length: total }, (_, i) => `echo:m${i}`));
      expect(texts).toEqual(Array.from({ length: total }, (_, i) => `m${i}`));
      expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect(client.duplicates).toBe(0);
      const stats = server.stats().sessions;
      expect(stats.duplicatesDiscarded).toBeGreaterThan(0);
      expect(stats.replayedMessages).toBeGreaterThan(0);
      expect(stats.resumed).toBe(20);
      expect(stats.created).toBe(1);
      await turns();
      expect(texts).toHaveLength(total);
    },
  );

  test('a resume replays exactly what the client has not delivered, then new messages', async () => {
    const { url, peer, id, session } = await openSession();
    for (let i = 1; i <= 5; i++) session.send(`s${i}`);
    for (let i = 1; i <= 5; i++) expect(await peer.nextData()).toBe(`s${i}`);
    peer.control({ type: 'ack', received: 2 });
    peer.drop();
    await nextEmit(session, 'suspend');
    expect(session.connected).toBe(false);
    session.send('s6');
    const again = await SessionPeer.open(url);
    const resumed = nextEmit(session, 'resume');
    // The client delivered 4 of the 6.
    again.control({ type: 'resume', id, received: 4, acked: 0 });
    const ready = await again.nextControl('ready');
    expect(ready).toMatchObject({ id, received: 0 });
    expect(await again.nextData()).toBe('s5');
    expect(await again.nextData()).toBe('s6');
    await resumed;
    expect(session.acked).toBe(4);
    expect(session.connected).toBe(true);
  });

  test('a resume whose ACKED skips messages the server never received: 1002, the session untouched', async () => {
    const { url, peer, id, session } = await openSession();
    peer.data('a');
    await nextEmit(session, 'message');
    const again = await SessionPeer.open(url);
    again.control({ type: 'resume', id, received: 0, acked: 2 });
    expect((await again.closed()).code).toBe(1002);
    expect(session.socket).toBeDefined();
    expect(session.received).toBe(1);
  });
});

describe('lost (section 4)', () => {
  test('an unknown id, or a malformed one: `lost`; data discarded until `hello`, which starts afresh', async () => {
    const { url, server } = await startSessionServer();
    const received = new Collector<[string, string | Buffer, number]>();
    server.on('session', (session) =>
      session.on('message', (data, _isBinary, seq) => received.push([session.id, data, seq])),
    );
    for (const [i, id] of ['unknown', 'not.well-formed!'].entries()) {
      const peer = await SessionPeer.open(url);
      peer.ws.send(`\u0000resume ${id} 3 2`);
      await peer.nextControl('lost');
      peer.data('discarded');
      peer.data(Buffer.from('discarded too'));
      peer.control({ type: 'hello' });
      peer.data('kept');
      const ready = await peer.nextControl('ready');
      expect((await received.until(i + 1))[i]).toEqual([ready.id, 'kept', 1]);
    }
    await turns();
    expect(received.items).toHaveLength(2);
    expect(server.stats().sessions.lost).toBe(2);
  });

  test('after `lost`, anything but data or `hello` is a breach', async () => {
    const { url } = await startSessionServer();
    const peer = await SessionPeer.open(url);
    peer.control({ type: 'resume', id: 'gone', received: 0, acked: 0 });
    await peer.nextControl('lost');
    peer.control({ type: 'resume', id: 'gone', received: 0, acked: 0 });
    expect((await peer.closed()).code).toBe(1002);
  });

  test('a client that claims messages the server never sent, or already forgot: `lost`', async () => {
    const { url, peer, id, session } = await openSession();
    session.send('a');
    session.send('b');
    await peer.nextData();
    const ahead = await SessionPeer.open(url);
    ahead.control({ type: 'resume', id, received: 3, acked: 0 });
    await ahead.nextControl('lost');
    peer.control({ type: 'ack', received: 1 });
    await until(() => session.acked === 1);
    const behind = await SessionPeer.open(url);
    behind.control({ type: 'resume', id, received: 0, acked: 0 });
    await behind.nextControl('lost');
    // The session itself is untouched, still on its first connection.
    expect(session.socket).toBeDefined();
    expect(session.connected).toBe(true);
  });

  test('a session suspended past `timeout` expires: `close` session-expired, then `lost`', async () => {
    const { url, peer, id, session, server } = await openSession({ timeout: 50 });
    const suspended = nextEmit<[number, string]>(session, 'suspend');
    const closed = sessionClose(session);
    peer.drop();
    const [code] = await suspended;
    expect(code).toBe(1006);
    const [, reason, cause] = await closed;
    expect([reason, cause]).toEqual(['Session expired', 'session-expired']);
    expect(server.sessions.size).toBe(0);
    expect(server.stats().sessions.expired).toBe(1);
    const again = await SessionPeer.open(url);
    again.control({ type: 'resume', id, received: 0, acked: 0 });
    await again.nextControl('lost');
  });

  test('a resume in time stops the expiry', async () => {
    const { url, peer, id, session } = await openSession({ timeout: 1500 });
    const closes = new Collector<unknown>();
    session.on('close', (...args) => closes.push(args));
    peer.drop();
    await nextEmit(session, 'suspend');
    const again = await SessionPeer.open(url);
    again.control({ type: 'resume', id, received: 0, acked: 0 });
    await again.nextControl('ready');
    await quiet(2000);
    expect(closes.items).toEqual([]);
    expect(session.connected).toBe(true);
  });
});

describe('takeover', () => {
  test('a resume on a new connection detaches the old one (1000, no `end`), without a suspend in between', async () => {
    const { url, peer, id, session } = await openSession();
    const events = new Collector<string>();
    session.on('suspend', () => events.push('suspend'));
    session.on('resume', () => events.push('resume'));
    const first = session.socket;
    const newer = await SessionPeer.open(url);
    newer.control({ type: 'resume', id, received: 0, acked: 0 });
    await newer.nextControl('ready');
    const closed = await peer.closed();
    expect(closed).toEqual({ code: 1000, reason: 'Replaced by a newer connection' });
    expect(peer.received.items.map((item) => item.kind)).toEqual(['control']);
    await turns();
    expect(events.items).toEqual(['resume']);
    expect(session.socket).not.toBe(first);
    expect(first!.closeCause).toBe('session-replaced');
    session.send('to the newer one');
    expect(await newer.nextData()).toBe('to the newer one');
    newer.data('from the newer one');
    const [data, , seq] = await nextEmit<[string, boolean, number]>(session, 'message');
    expect([data, seq]).toEqual(['from the newer one', 1]);
    // The old connection's data after the takeover is not the session's.
    expect(session.received).toBe(1);
  });
});

describe('acknowledgements (section 5) and keep-alive (section 6)', () => {
  test('after `ackEvery` delivered messages', async () => {
    const { peer, session } = await openSession({
      ackEvery: 3,
      ackDelay: 600_000,
      keepAlive: 600_000,
    });
    const received = sessionMessages(session);
    peer.data('1');
    peer.data('2');
    await received.until(2);
    await quiet(50);
    expect(peer.received.items).toHaveLength(1);
    peer.data('3');
    expect(await peer.nextControl('ack')).toEqual({ type: 'ack', received: 3 });
    peer.data('4');
    await received.until(4);
    await quiet(50);
    expect(peer.received.items).toHaveLength(2);
  });

  test('or `ackDelay` after the first unacknowledged one', async () => {
    const { peer, session } = await openSession({
      ackEvery: 1000,
      ackDelay: 30,
      keepAlive: 600_000,
    });
    const received = sessionMessages(session);
    peer.data('1');
    peer.data('2');
    await received.until(2);
    expect(await peer.nextControl('ack')).toEqual({ type: 'ack', received: 2 });
  });

  test('no ack before either (the two tests above can fail)', async () => {
    const { peer, session } = await openSession({
      ackEvery: 1000,
      ackDelay: 600_000,
      keepAlive: 600_000,
    });
    const received = sessionMessages(session);
    peer.data('1');
    await received.until(1);
    await quiet(200);
    expect(peer.received.items.map((item) => item.kind)).toEqual(['control']);
  });

  test('keep-alive: `ack RECEIVED` every keepAlive ms while attached, and pings at the same pace', async () => {
    // Long enough for a busy machine to answer each ping within one period.
    const { peer } = await openSession({ keepAlive: 400 });
    const pings = new Collector<unknown>();
    peer.ws.on('ping', () => pings.push(true));
    peer.data('x');
    const acks: unknown[] = [];
    for (let i = 0; i < 3; i++) acks.push(await peer.nextControl('ack'));
    expect(acks.at(-1)).toEqual({ type: 'ack', received: 1 });
    await pings.until(2);
    // Alive all along: the pings were answered.
    expect(peer.ws.readyState).toBe(peer.ws.OPEN);
  });

  test('the keep-alives of many sessions are spread over the interval, a slice at a time', async () => {
    // 1,000 ms: ten slices, one every 100 ms, of 5 sessions each. All at once,
    // the 50 acks (and, with a store, 50 touches) would go in one turn of the loop.
    const { url } = await startSessionServer({ keepAlive: 1000 }, { heartbeatInterval: 0 });
    const peers = await Promise.all(Array.from({ length: 50 }, () => SessionPeer.hello(url)));
    const firsts = await Promise.all(
      peers.map(async ({ peer }) => {
        await peer.nextControl('ack');
        return performance.now();
      }),
    );
    firsts.sort((x, y) => x - y);
    expect(densest(firsts, 50)).toBeLessThanOrEqual(10);
    expect(firsts.at(-1)! - firsts[0]!).toBeGreaterThanOrEqual(700);
  });

  test('an explicit heartbeatInterval wins over keepAlive', async () => {
    const { peer } = await openSession({ keepAlive: 30 }, { heartbeatInterval: 0 });
    const pings = new Collector<unknown>();
    peer.ws.on('ping', () => pings.push(true));
    await peer.nextControl('ack');
    await peer.nextControl('ack');
    await quiet(100);
    expect(pings.items).toEqual([]);
  });
});

describe('the replay log bound (section 5)', () => {
  test('send returns false when it is full (messages), nothing logged; `drain` once acks free room', async () => {
    const { peer, session } = await openSession({ maxMessages: 3 });
    expect([session.send('1'), session.send('2'), session.send('3')]).toEqual([true, true, true]);
    expect(session.send('4')).toBe(false);
    expect(session.sent).toBe(3);
    const drained = nextEmit(session, 'drain');
    peer.control({ type: 'ack', received: 1 });
    await drained;
    expect(session.acked).toBe(1);
    expect(session.send('4')).toBe(true);
    expect(session.sent).toBe(4);
    const data = [];
    for (let i = 0; i < 4; i++) data.push(await peer.nextData());
    expect(data).toEqual(['1', '2', '3', '4']);
  });

  test('and when it is full (bytes); a suspended session fills it too', async () => {
    const { peer, session } = await openSession({ maxBytes: 10 });
    peer.drop();
    await nextEmit(session, 'suspend');
    expect(session.send('12345')).toBe(true);
    expect(session.send('€€')).toBe(false); // 6 bytes: 11 in all
    expect(session.send('12345')).toBe(true);
    expect(session.send('x')).toBe(false);
  });

  test('a topic message that does not fit ends the session: no silent gap', async () => {
    const { server, url, peer, id, session } = await openSession({ maxMessages: 2 });
    const errors = serverErrors(server);
    expect(session.subscribe('news')).toBe(true);
    expect(session.subscribe('news')).toBe(false);
    expect([...session.topics]).toEqual(['news']);
    const closed = sessionClose(session);
    expect(server.publish('news', 'n1')).toBe(1);
    expect(server.publish('news', Buffer.from('n2'))).toBe(1);
    expect(server.publish('news', 'n3')).toBe(0);
    expect(await closed).toEqual([1011, 'Session window full', 'session-window-full']);
    expect(await peer.nextData()).toBe('n1');
    expect(await peer.nextData()).toEqual(Buffer.from('n2'));
    expect(await peer.closed()).toEqual({ code: 1011, reason: 'Session window full' });
    expect(
      peer.received.items.some((item) => item.kind === 'control' && item.control.type === 'end'),
    ).toBe(false);
    expect(server.sessions.size).toBe(0);
    expect(server.publish('news', 'n4')).toBe(0);
    const again = await SessionPeer.open(url);
    again.control({ type: 'resume', id, received: 2, acked: 0 });
    await again.nextControl('lost');
    expect(errors.items).toEqual([]);
  });
});

describe('topics and broadcast', () => {
  test('publish reaches subscribed sessions as their own messages, and plain subscribers as frames', async () => {
    const { server, url, peer, session } = await openSession();
    const plainSocket = nextEmit<[import('@proj/server').ServerWebSocket]>(server, 'connection');
    const plain = await connectWs(url);
    (await plainSocket)[0].subscribe('t');
    session.subscribe('t');
    // A session that did not subscribe gets nothing.
    const other = await SessionPeer.hello(url);
    const plainMessage = wsMessage(plain);
    expect(server.publish('t', '\u0000nul first')).toBe(2);
    expect(await peer.nextData()).toBe('\u0000nul first');
    expect((await plainMessage).data.toString()).toBe('\u0000nul first');
    expect(server.publish('t', 'not to the sender', { except: session })).toBe(1);
    expect(session.sent).toBe(1);
    session.unsubscribe('t');
    expect(server.publish('t', 'after')).toBe(1);
    expect(session.sent).toBe(1);
    expect(other.peer.received.items).toHaveLength(1);
  });

  test('messages from the adapter (other nodes) reach sessions', async () => {
    const { server, peer, session } = await openSession();
    session.subscribe('t');
    server.adapter.emit('message', 't', Buffer.from('from afar'), false);
    server.adapter.emit('message', 't', Buffer.from([1, 2]), true);
    expect(await peer.nextData()).toBe('from afar');
    expect(await peer.nextData()).toEqual(Buffer.from([1, 2]));
  });

  test('broadcast reaches every session once, through the session, and plain clients as before', async () => {
    const { server, url, peer, session, sessions } = await openSession();
    const plain = await connectWs(url);
    const suspended = await SessionPeer.hello(url);
    const other = (await sessions.until(2))[1]!;
    suspended.peer.drop();
    await nextEmit(other, 'suspend');
    const plainMessage = wsMessage(plain);
    expect(server.broadcast('\u0000all')).toBe(3);
    expect(await peer.nextData()).toBe('\u0000all');
    expect((await plainMessage).data.toString()).toBe('\u0000all');
    expect(session.sent).toBe(1);
    expect(other.sent).toBe(1);
    expect(server.broadcast('some', { filter: (recipient) => recipient !== session })).toBe(2);
    expect(session.sent).toBe(1);
    await turns();
    expect(peer.received.items).toHaveLength(2);
  });
});

describe('bufferedAmount', () => {
  test("a suspended session's is its replay log's bytes; broadcast's filter reads it to skip one that is behind", async () => {
    const { server, url, sessions } = await openSession();
    const behind = await SessionPeer.hello(url);
    const session = (await sessions.until(2))[1]!;
    expect(session.bufferedAmount).toBe(0);
    behind.peer.drop();
    await nextEmit(session, 'suspend');
    session.send('12345');
    session.send(Buffer.alloc(10));
    expect(session.bufferedAmount).toBe(15);
    const seen: number[] = [];
    const sent = server.broadcast('tick', {
      filter: (recipient) => {
        seen.push(recipient.bufferedAmount);
        return recipient.bufferedAmount <= 10;
      },
    });
    expect(sent).toBe(1);
    expect(seen.sort((a, b) => a - b)).toEqual([0, 15]);
    expect(session.sent).toBe(2);
  });
});

describe('ending (section 7)', () => {
  test('the client ends it: `close` with the code and reason of the close frame that follows', async () => {
    const { server, url, peer, id, session } = await openSession();
    const closed = sessionClose(session);
    peer.control({ type: 'end' });
    peer.ws.close(4000, 'bye');
    expect(await closed).toEqual([4000, 'bye', 'session-ended']);
    expect(server.sessions.size).toBe(0);
    const again = await SessionPeer.open(url);
    again.control({ type: 'resume', id, received: 0, acked: 0 });
    await again.nextControl('lost');
  });

  test('the server ends it: every message, then `end`, then the close code and reason', async () => {
    const { server, peer, session } = await openSession();
    const closes = new Collector<unknown[]>();
    session.on('close', (...args) => closes.push(args));
    session.send('last words');
    session.close(4001, 'done');
    expect(closes.items).toEqual([[4001, 'done', 'session-ended']]);
    expect(await peer.nextData()).toBe('last words');
    await peer.nextControl('end');
    expect(await peer.closed()).toEqual({ code: 4001, reason: 'done' });
    expect(session.send('too late')).toBe(false);
    session.close();
    expect(closes.items).toHaveLength(1);
    expect(server.sessions.size).toBe(0);
    expect(() => session.subscribe(42 as unknown as string)).toThrow(TypeError);
  });

  test('the server ends it after acknowledging every message it delivered (section 7)', async () => {
    // A long ackDelay: without the ack before `end`, the client could not
    // tell which of its last messages were delivered.
    const { peer, session } = await openSession({ ackDelay: 60_000, ackEvery: 1000 });
    const delivered = new Collector<unknown>();
    session.on('message', (data) => delivered.push(data));
    peer.data('one');
    peer.data('two');
    await delivered.until(2);
    session.close();
    expect(await peer.nextControl('ack')).toEqual({ type: 'ack', received: 2 });
    await peer.nextControl('end');
  });

  test('close() validates its code first', async () => {
    const { session } = await openSession();
    expect(() => session.close(1005)).toThrow(RangeError);
    expect(() => session.close(1000, 'x'.repeat(124))).toThrow(RangeError);
    expect(session.connected).toBe(true);
  });

  test('close() of a suspended session ends it at once; its resume is `lost`', async () => {
    const { url, peer, id, session } = await openSession();
    peer.drop();
    await nextEmit(session, 'suspend');
    const closed = sessionClose(session);
    session.close();
    expect(await closed).toEqual([1000, '', 'session-ended']);
    const again = await SessionPeer.open(url);
    again.control({ type: 'resume', id, received: 0, acked: 0 });
    await again.nextControl('lost');
  });

  test('server.close(): sessions end here with server-closed, clients get 1001 and no `end`', async () => {
    const { server, peer, session } = await openSession();
    const closed = sessionClose(session);
    const clientClosed = peer.closed();
    await server.close();
    expect(await closed).toEqual([1001, '', 'server-closed']);
    expect((await clientClosed).code).toBe(1001);
    expect(peer.received.items.map((item) => item.kind === 'control' && item.control.type)).toEqual(
      ['ready'],
    );
    expect(server.sessions.size).toBe(0);
  });
});

describe('breaches: 1002 (section 2)', () => {
  test.each([
    ['a malformed ack', '\u0000ack x'],
    ['an unknown control message', '\u0000bogus 1'],
    ['an ack of more than was sent', encodeSessionControl({ type: 'ack', received: 5 })],
    ['a second hello', encodeSessionControl({ type: 'hello' })],
    ['a lost from the client', encodeSessionControl({ type: 'lost' })],
  ])(
    '%s on an attached session: 1002, the session suspended, its `error` told',
    async (_, message) => {
      const { peer, session } = await openSession();
      const errors = new Collector<Error>();
      session.on('error', (error) => errors.push(error));
      const suspended = nextEmit<[number, string]>(session, 'suspend');
      peer.ws.send(message);
      const { code } = await peer.closed();
      expect(code).toBe(1002);
      expect((await suspended)[0]).toBe(1002);
      const [error] = await errors.until(1);
      expect(error).toMatchObject({ code: 'WS_ERR_SESSION_PROTOCOL', closeCode: 1002 });
      expect(session.socket).toBeUndefined();
    },
  );
});

describe('errors thrown by the application', () => {
  test('a throwing `message` listener ends the session with 1011 and is reported to the server', async () => {
    const { server, peer, session } = await openSession();
    const errors = serverErrors(server);
    const closed = sessionClose(session);
    session.on('message', () => {
      throw new Error('boom');
    });
    peer.data('x');
    expect((await errors.until(1))[0]!.message).toBe('boom');
    expect(await closed).toEqual([1011, 'Internal error', 'session-ended']);
    // It was delivered (its listener ran): acknowledged before the end.
    expect(await peer.nextControl('ack')).toEqual({ type: 'ack', received: 1 });
    await peer.nextControl('end');
    expect((await peer.closed()).code).toBe(1011);
    expect(server.stats().userErrors).toBe(1);
  });

  test("the session's own `error` listener gets it first", async () => {
    const { server, peer, session } = await openSession();
    const serverSeen = serverErrors(server);
    const sessionSeen = new Collector<Error>();
    session.on('error', (error) => sessionSeen.push(error));
    session.on('message', () => {
      throw new Error('boom');
    });
    peer.data('x');
    const [error] = await sessionSeen.until(1);
    expect(error).toMatchObject({ code: 'WS_ERR_INTERNAL' });
    expect((error!.cause as Error).message).toBe('boom');
    await peer.closed();
    expect(serverSeen.items).toEqual([]);
  });

  test('a throwing `session` listener ends that session with 1011; without any listener, a warning', async () => {
    const warnings = warningsWithCode('WS_USER_CODE_ERROR');
    const { server, url } = await startSessionServer();
    server.on('session', () => {
      throw new Error('bad session listener');
    });
    const peer = await SessionPeer.open(url);
    peer.control({ type: 'hello' });
    await peer.nextControl('ready');
    await peer.nextControl('end');
    expect((await peer.closed()).code).toBe(1011);
    const [warning] = await warnings.until(1);
    expect(warning!.message).toContain("'session' listener");
    expect(warning!.message).toContain('bad session listener');
  });
});

describe('stats() and options', () => {
  test('stats().sessions counts', async () => {
    const { server, url, peer, id, session } = await openSession({ timeout: 60_000 });
    await SessionPeer.hello(url);
    peer.drop();
    await nextEmit(session, 'suspend');
    expect(server.stats().sessions).toMatchObject({
      held: 2,
      attached: 1,
      suspended: 1,
      created: 2,
      resumed: 0,
      lost: 0,
    });
    session.send('a');
    const again = await SessionPeer.open(url);
    again.control({ type: 'resume', id, received: 0, acked: 0 });
    await again.nextControl('ready');
    await again.nextData();
    expect(server.stats().sessions).toMatchObject({
      held: 2,
      attached: 2,
      suspended: 0,
      resumed: 1,
      replayedMessages: 1,
    });
    const plain = new WebSocketServer({ noServer: true });
    expect(plain.stats().sessions).toEqual({
      held: 0,
      attached: 0,
      suspended: 0,
      created: 0,
      resumed: 0,
      lost: 0,
      expired: 0,
      replayedMessages: 0,
      duplicatesDiscarded: 0,
      storeErrors: 0,
    });
    expect(plain.sessions.size).toBe(0);
    await plain.close();
  });

  test.each<[string, unknown, typeof TypeError | typeof RangeError, string]>([
    ['an unknown key', { timeOut: 5 }, TypeError, '"timeOut"'],
    ['a string', 'yes', TypeError, '"sessions"'],
    ['timeout 0', { timeout: 0 }, RangeError, '"sessions.timeout"'],
    ['keepAlive 1.5', { keepAlive: 1.5 }, RangeError, '"sessions.keepAlive"'],
    ['maxMessages 0', { maxMessages: 0 }, RangeError, '"sessions.maxMessages"'],
    ['maxBytes "1"', { maxBytes: '1' }, TypeError, '"sessions.maxBytes"'],
    ['ackEvery 0', { ackEvery: 0 }, RangeError, '"sessions.ackEvery"'],
    ['ackDelay -1', { ackDelay: -1 }, RangeError, '"sessions.ackDelay"'],
    ['a store without methods', { store: {} }, TypeError, '"sessions.store"'],
  ])('sessions: %s is refused', (_, sessions, ErrorClass, named) => {
    const make = (): WebSocketServer =>
      new WebSocketServer({ noServer: true, sessions } as unknown as ServerOptions);
    expect(make).toThrow(ErrorClass);
    expect(make).toThrow(named);
  });

  test('sessions: false is off', async () => {
    const server = new WebSocketServer({ noServer: true, sessions: false });
    expect(server.sessions.size).toBe(0);
    await server.close();
  });
});
