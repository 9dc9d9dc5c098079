// @ts-check
// Prometheus metrics for a @proj/server WebSocketServer, with prom-client.
//
// Two sources, two prom-client patterns:
// - what `server.stats()` already counts (connections, handshakes accepted,
//   messages, bytes) is read at scrape time, in `collect()` callbacks:
//   nothing runs per message, and a scrape costs one `stats()`;
// - what only the diagnostics channels tell (the status of a refused
//   handshake, the cause and code of a close, backlog refusals, where the
//   application's code threw) increments labelled counters as it happens.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { CHANNELS } from '@proj/server';
import { Counter, Gauge } from 'prom-client';

/**
 * @typedef {import('@proj/server').ServerStats} ServerStats
 * @typedef {import('@proj/server').CloseMessage} CloseMessage
 * @typedef {import('@proj/server').HandshakeRejectedMessage} HandshakeRejectedMessage
 * @typedef {import('@proj/server').BacklogExceededMessage} BacklogExceededMessage
 * @typedef {import('@proj/server').UserErrorMessage} UserErrorMessage
 * @typedef {import('prom-client').Registry} Registry
 */

/**
 * What {@link registerWebSocketMetrics} returns.
 * @typedef {object} WebSocketMetrics
 * @property {() => void} close Stops counting: unsubscribes from the
 *   channels and removes these metrics from the registry.
 */

/**
 * Registers the metrics of `server` on `registry` (the names and their
 * meaning are tabled in README.md).
 *
 * Call it before the server accepts connections: the counters fed by the
 * channels count from this call, while `stats()` counts from the server's
 * creation. The channels are process-wide and their messages do not say
 * which server published them, so the channel counters (rejected
 * handshakes, closes, backlog refusals, user errors) count every
 * WebSocketServer of the process; the `stats()` metrics count `server` only.
 *
 * @param {Pick<import('@proj/server').WebSocketServer<unknown>, 'stats'>} server
 * @param {Registry} registry
 * @returns {WebSocketMetrics}
 * @example
 * const registry = new Registry();
 * const metrics = registerWebSocketMetrics(server, registry);
 * // GET /metrics: response.end(await registry.metrics());
 */
export function registerWebSocketMetrics(server, registry) {
  const stats = oncePerScrape(() => server.stats());
  /** @type {string[]} */
  const names = [];
  /**
   * What every metric here shares: the registry, and its name kept for
   * close() (prom-client renames counters in place for an OpenMetrics scrape).
   * @param {string} name
   */
  const on = (name) => {
    names.push(name);
    return { name, registers: [registry] };
  };

  new Gauge({
    ...on('websocket_connections'),
    help: 'Open (and closing) WebSocket connections.',
    collect() {
      this.set(stats().connections);
    },
  });
  new Gauge({
    ...on('websocket_pending_handshakes'),
    help: 'Handshakes waiting for an asynchronous authenticate.',
    collect() {
      this.set(stats().pendingHandshakes);
    },
  });
  mirroredCounter(
    on('websocket_handshakes_accepted_total'),
    'Handshakes answered with 101 Switching Protocols.',
    () => stats().handshakes.accepted,
  );
  mirroredCounter(
    on('websocket_messages_received_total'),
    'Whole messages received from peers.',
    () => stats().messages.received,
  );
  mirroredCounter(
    on('websocket_messages_sent_total'),
    'Whole messages sent to peers (a broadcast or publish counts each recipient).',
    () => stats().messages.sent,
  );
  mirroredCounter(
    on('websocket_received_bytes_total'),
    'Bytes read from WebSocket connections, handshake and frame headers included.',
    () => stats().bytes.received,
  );
  mirroredCounter(
    on('websocket_sent_bytes_total'),
    'Bytes written to WebSocket connections, handshake and frame headers included.',
    () => stats().bytes.sent,
  );

  const rejected = new Counter({
    ...on('websocket_handshakes_rejected_total'),
    help: 'Handshakes refused, by HTTP status.',
    labelNames: ['status'],
  });
  const closes = new Counter({
    ...on('websocket_closes_total'),
    help: 'Closed connections, by close cause and close code (3xxx, 4xxx: application codes).',
    labelNames: ['cause', 'code'],
  });
  const backlogExceeded = new Counter({
    ...on('websocket_backlog_exceeded_total'),
    help: 'Sends refused because they would pass maxBacklog, by backlogPolicy.',
    labelNames: ['policy'],
  });
  const userErrors = new Counter({
    ...on('websocket_user_errors_total'),
    help: "Errors thrown by the application's hooks and listeners, by where they were thrown.",
    labelNames: ['site'],
  });

  /** @type {Array<[string, (message: unknown) => void]>} */
  const subscriptions = [
    [
      CHANNELS.handshakeRejected,
      (message) => {
        const { status } = /** @type {HandshakeRejectedMessage} */ (message);
        rejected.inc({ status });
      },
    ],
    [
      CHANNELS.close,
      (message) => {
        const { cause, code } = /** @type {CloseMessage} */ (message);
        closes.inc({ cause, code: closeCodeLabel(code) });
      },
    ],
    [
      CHANNELS.backlogExceeded,
      (message) => {
        const { policy } = /** @type {BacklogExceededMessage} */ (message);
        backlogExceeded.inc({ policy });
      },
    ],
    [
      CHANNELS.userError,
      (message) => {
        const { site } = /** @type {UserErrorMessage} */ (message);
        userErrors.inc({ site });
      },
    ],
  ];
  for (const [name, listener] of subscriptions) subscribe(name, listener);

  return {
    close() {
      for (const [name, listener] of subscriptions) unsubscribe(name, listener);
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}

/**
 * A counter that follows a cumulative count of `stats()`: each scrape adds
 * what the count grew by since the last one, as prom-client's own
 * `process_cpu_seconds_total` does with `process.cpuUsage()`.
 *
 * @param {{ name: string, registers: Registry[] }} where
 * @param {string} help
 * @param {() => number} read
 * @returns {Counter<string>}
 */
function mirroredCounter(where, help, read) {
  let counted = 0;
  return new Counter({
    ...where,
    help,
    collect() {
      const value = read();
      // Only ever up. The wire byte counts are read off live sockets, and a
      // destroyed socket drops the bytes it had queued: the sum can dip for
      // a moment, and a counter that went down would read as a restart.
      if (value > counted) {
        this.inc(value - counted);
        counted = value;
      }
    },
  });
}

/**
 * `read()` at most once per scrape: `stats()` walks every open connection,
 * so the metrics of one scrape share one snapshot instead of taking one
 * each, and agree with each other.
 *
 * @param {() => ServerStats} read
 * @returns {() => ServerStats}
 */
function oncePerScrape(read) {
  /** @type {ServerStats | undefined} */
  let snapshot;
  return () => {
    if (snapshot === undefined) {
      snapshot = read();
      // Forgotten once the microtask queue drains, which every I/O callback
      // waits for: a snapshot never outlives a socket event it missed (a
      // setImmediate would: poll-phase I/O runs before it). prom-client
      // calls the collect() of every metric of a scrape in one synchronous
      // pass, so they all get this one.
      queueMicrotask(() => (snapshot = undefined));
    }
    return snapshot;
  };
}

/**
 * The `code` label of a close. 3000-4999 are chosen by applications and
 * peers (RFC 6455 §7.4.2): a peer could open a new series per code, so they
 * are grouped by thousand. Every other code a close can carry is one of the
 * few that RFC 6455 §7.4.1 defines.
 *
 * @param {number} code
 * @returns {string}
 */
function closeCodeLabel(code) {
  return code >= 3000 && code <= 4999 ? `${Math.floor(code / 1000)}xxx` : String(code);
}
