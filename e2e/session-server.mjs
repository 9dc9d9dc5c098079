// @ts-check
// The server process of tests/sessions.spec.ts: a separate process, so the
// spec can SIGKILL it and start another on the same port, and the built
// packages (dist), as an application would run them:
//
//   PORT=0 REDIS_URL=redis://127.0.0.1:6379 node e2e/session-server.mjs
//
// `new WebSocketServer({ port, sessions: { store: new RedisSessionStore(...) } })`:
// a session survives this process through the store, and the next process
// takes it over when the page resumes (the `session` event, `moved` true).
//
// The app, on every session it holds (new, or moved here):
// - echoes each client message `c:<n>` as `echo:<n>`, after checking that
//   it is the next one: n is its sequence number, one more than the last
//   delivered (a moved session starts from the stored `received`);
// - sends `tick:<k>` every 50 ms, k = session.sent + 1, so a tick's text is
//   its own sequence number and the page can check one against the other.
//
// It reports on stdout, one JSON object a line: `listening` (with the port),
// and `session`, `resume`, `suspend`, `violation`, `error` and `close` with
// the session's numbers. SIGTERM closes it gracefully.
import { RedisSessionStore } from '@proj/redis';
import { WebSocketServer } from '@proj/server';
import { Redis } from 'ioredis';

const port = Number(process.env['PORT'] ?? 0);
const redisUrl = process.env['REDIS_URL'];
if (!redisUrl) throw new Error('REDIS_URL is required');

/** The server's keep-alive (and heartbeat) period: short, so a dead link is found in about a second. */
const KEEP_ALIVE_MS = 500;
/** A tick every 50 ms. */
const TICK_MS = 50;
/** Tries of `listen` on a port a killed process just freed. */
const LISTEN_TRIES = 50;

/** @param {Record<string, unknown>} line */
const report = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

const client = new Redis(redisUrl);
const store = new RedisSessionStore({ client });

/** @returns {Promise<WebSocketServer<unknown>>} */
async function listen() {
  for (let attempt = 1; ; attempt++) {
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port,
      sessions: { store, keepAlive: KEEP_ALIVE_MS },
    });
    try {
      return await server.ready();
    } catch (error) {
      await server.close({ timeout: 0 }).catch(() => {});
      const code = /** @type {NodeJS.ErrnoException} */ (error).code;
      if (code !== 'EADDRINUSE' || attempt === LISTEN_TRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

const server = await listen();

server.on('session', (session) => {
  const { id } = session;
  const numbers = () => ({ id, sent: session.sent, received: session.received });
  report({ event: 'session', moved: session.moved, ...numbers() });

  let expected = session.received + 1;
  session.on('message', (data, isBinary, seq) => {
    const text = isBinary ? undefined : String(data);
    if (seq !== expected || text !== `c:${seq}`) {
      report({ event: 'violation', id, expected, seq, data: text ?? `<${data.length} bytes>` });
    }
    expected = seq + 1;
    if (!session.send(`echo:${seq}`)) report({ event: 'violation', id, full: `echo:${seq}` });
  });

  const ticker = setInterval(() => {
    // false: the replay log is full; nothing was numbered, the next tick tries again.
    session.send(`tick:${session.sent + 1}`);
  }, TICK_MS);

  session.on('resume', () => report({ event: 'resume', ...numbers() }));
  session.on('suspend', (code, reason) => report({ event: 'suspend', code, reason, ...numbers() }));
  session.on('error', (error) => report({ event: 'error', id, message: String(error) }));
  session.on('close', (code, reason, cause) => {
    clearInterval(ticker);
    report({ event: 'close', code, reason, cause, ...numbers() });
  });
});
server.on('error', (error) => report({ event: 'error', message: String(error) }));

process.once('SIGTERM', async () => {
  await server.close({ timeout: 0 });
  client.disconnect();
  process.exit(0);
});

const address = server.address();
report({ event: 'listening', port: typeof address === 'object' && address ? address.port : port });
