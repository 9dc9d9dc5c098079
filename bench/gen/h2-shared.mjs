// What http2.bench.mjs, gen/h2-server.mjs and the HTTP/2 load generators
// (gen/h2-open.mjs, gen/h2-echo.mjs) share: a run-time certificate, and one
// way to open a WebSocket in each of the three modes compared.
//
//   h2   an extended CONNECT stream (RFC 8441) of ONE node:http2 session per
//        process, to the http2.createSecureServer of gen/h2-server.mjs
//   tls  its own TLS connection with an HTTP/1.1 Upgrade, to the same server
//        and port (allowHTTP1; ALPN offers http/1.1 only)
//   tcp  its own plain TCP connection with an HTTP/1.1 Upgrade, to a plain
//        `WebSocketServer({ port })` in the same server process
//   h2w  as h2, to a second HTTP/2 server whose receive windows are raised
//        (WIDE, for the echo only)
//
// Like gen/raw.mjs, the load side validates nothing beyond the status: it must
// stay cheaper than the server it measures.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { buildConnectRequest } from '@proj/protocol';
import { makeTestCertificate } from '@proj/test-utils/certificate';
import { ACCEPT, upgradeRequest } from './raw.mjs';

/** The modes, as the tables name them. */
export const MODES = {
  h2: 'HTTP/2 stream',
  tls: 'HTTP/1.1 over TLS',
  tcp: 'HTTP/1.1 over TCP',
};

/**
 * "h2" again, to the HTTP/2 server of gen/h2-server.mjs whose receive windows are raised to
 * WIDE_WINDOW (not node's default of 64 KiB): how much node's default windows cost the echo.
 */
export const WIDE = { h2w: 'HTTP/2 stream, 16 MiB server windows' };
export const WIDE_WINDOW = 16 * 1024 * 1024;

/**
 * The load's receive windows, as Chromium sets its own (6 MiB per stream in its SETTINGS, 15 MiB
 * for the connection by WINDOW_UPDATE): node's 64 KiB defaults would make the load generator, not
 * the server, the flow-control bottleneck.
 */
const CLIENT_STREAM_WINDOW = 6 * 1024 * 1024;
const CLIENT_SESSION_WINDOW = 15 * 1024 * 1024;

/**
 * Writes a self-signed certificate for localhost and 127.0.0.1
 * (`@proj/test-utils/certificate`: made now with openssl, never checked in)
 * to a new temporary directory, as cert.pem and key.pem, for the processes
 * of the run to read.
 * @returns the directory, and `remove()` to delete it.
 */
export function makeCertificate() {
  const dir = mkdtempSync(join(tmpdir(), 'proj-bench-h2-'));
  const { cert, key } = makeTestCertificate();
  writeFileSync(join(dir, 'cert.pem'), cert);
  writeFileSync(join(dir, 'key.pem'), key);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The PEM certificate and key in `dir` (as makeCertificate wrote them). */
export const readCertificate = (dir) => ({
  cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
  key: readFileSync(join(dir, 'key.pem'), 'utf8'),
});

/**
 * Connects one node:http2 session to `port` (trusting `ca`) and resolves once
 * the server's SETTINGS arrived: before them node allows only 100 concurrent
 * streams and does not know that extended CONNECT is enabled.
 */
export function connectSession(port, ca) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://localhost:${port}`, {
      ca,
      settings: { initialWindowSize: CLIENT_STREAM_WINDOW },
    });
    session.once('connect', () => session.setLocalWindowSize(CLIENT_SESSION_WINDOW));
    session.once('remoteSettings', (settings) => {
      if (!settings.enableConnectProtocol) {
        reject(new Error('the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL'));
        return;
      }
      session.off('error', reject);
      session.on('error', () => {});
      resolve(session);
    });
    session.once('error', reject);
  });
}

/**
 * Opens one WebSocket in `mode` (a key of MODES or WIDE) and resolves with
 * `{ write(bytes), destroy() }` once it is open, or null if it failed; from
 * then on every byte the server sends goes to `onData(bytes)`.
 * @param target `{ session, port }` (h2: the shared session), `{ port, ca }` (tls) or `{ port }` (tcp).
 */
export function openWebSocket(mode, target, onData) {
  return mode === 'h2' || mode === 'h2w'
    ? openStream(target, onData)
    : openUpgrade(mode, target, onData);
}

function openStream({ session, port }, onData) {
  const headers = buildConnectRequest({
    scheme: 'https',
    authority: `localhost:${port}`,
    path: '/',
  });
  return new Promise((resolve) => {
    let stream;
    try {
      stream = session.request(headers, { endStream: false });
    } catch {
      resolve(null);
      return;
    }
    stream.on('error', () => resolve(null));
    stream.once('close', () => resolve(null));
    stream.once('response', (response) => {
      if (response[':status'] !== 200) {
        stream.destroy();
        return;
      }
      stream.on('data', onData);
      resolve({
        write: (bytes) => stream.write(bytes),
        // RST_STREAM (CANCEL) for this stream only: the session stays up.
        destroy: () => stream.close(http2.constants.NGHTTP2_CANCEL),
      });
    });
  });
}

function openUpgrade(mode, { port, ca }, onData) {
  return new Promise((resolve) => {
    const socket =
      mode === 'tls'
        ? tls.connect({
            port,
            host: '127.0.0.1',
            servername: 'localhost',
            ca,
            // The same port serves HTTP/2; offering http/1.1 only keeps this an Upgrade.
            ALPNProtocols: ['http/1.1'],
          })
        : net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let head = '';
    let opened = false;
    const onHead = (chunk) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (!head.startsWith('HTTP/1.1 101') || !head.includes(ACCEPT)) {
        socket.destroy();
        return;
      }
      opened = true;
      socket.off('data', onHead);
      socket.on('data', onData);
      resolve({
        write: (bytes) => socket.write(bytes),
        // RST, as gen/clients.mjs does: no TIME_WAIT piling up between runs.
        destroy: () => (mode === 'tcp' ? socket.resetAndDestroy() : socket.destroy()),
      });
      const rest = Buffer.from(head.slice(end + 4), 'latin1');
      if (rest.length > 0) onData(rest);
    };
    socket.once(mode === 'tls' ? 'secureConnect' : 'connect', () =>
      socket.write(upgradeRequest(port)),
    );
    socket.on('data', onHead);
    socket.on('error', () => {});
    socket.once('close', () => {
      if (!opened) resolve(null);
    });
  });
}
