/**
 * `proj-ws connect <url>`: one WebSocket connection from the terminal or a
 * script. Lines of stdin (or the `--execute` messages) go out as messages;
 * messages received are printed to stdout.
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import { WebSocket } from '@proj/client';
import { type ConnectArgs, UsageError } from './args.js';
import { formatMessage, formatSession } from './format.js';
import { readLines } from './lines.js';
import type { CliIO } from './io.js';
import { Output } from './output.js';
import { judgeSessionEnd } from './session-end.js';
import { signalName } from './signals.js';

/**
 * Stop reading stdin while more than this is queued for the socket; resume
 * below {@link LOW_WATER}. Bounds memory when a large file is piped in.
 */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

/**
 * How long the server has to answer our close frame. The client's default
 * (30 s) is for programs; a person who typed Ctrl-D should not wait that long.
 */
const CLOSE_TIMEOUT = 5_000;

/** Runs `connect` to its end; resolves with the exit code. */
export function connect(args: ConnectArgs, io: CliIO): Promise<number> {
  const out = new Output(io.stdout, io.stderr, args.quiet);
  const ws = open(args);
  ws.binaryType = 'arraybuffer';
  const url = new URL(ws.url);
  const encode = (text: string): string | Uint8Array => (args.binary ? Buffer.from(text) : text);

  return new Promise((resolve) => {
    let opened = false;
    let failure: Error | undefined;
    let interrupted: NodeJS.Signals | undefined;
    let stopReading = (): void => {};
    let waitTimer: NodeJS.Timeout | undefined;

    const closeNormally = (): void => ws.close(1000);
    const onAbort = (): void => {
      interrupted = signalName(io.signal?.reason);
      // While connecting this abandons the attempt; once open it is a clean 1000.
      closeNormally();
    };
    if (io.signal?.aborted) onAbort();
    else io.signal?.addEventListener('abort', onAbort, { once: true });

    ws.onopen = () => {
      opened = true;
      out.status(`connected to ${ws.url}${formatSession(ws.protocol, ws.extensions)}`);
      if (args.execute !== undefined) {
        // Sent in order, and all before the close frame, whatever the wait.
        for (const message of args.execute) ws.send(encode(message));
        waitTimer = setTimeout(closeNormally, args.waitMs);
      } else {
        // Once braking above HIGH_WATER, read again only below LOW_WATER,
        // not at the first byte written.
        let braking = false;
        stopReading = readLines(io.stdin, {
          line: (text) => ws.send(encode(text)),
          end: closeNormally,
          busy: () => {
            const limit = braking ? LOW_WATER : HIGH_WATER;
            braking = ws.readyState === WebSocket.OPEN && ws.bufferedAmount > limit;
            return braking;
          },
        });
      }
    };
    ws.onmessage = (event) => {
      const data = event.data;
      out.data(
        formatMessage(typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer)),
      );
    };
    ws.onerror = (event) => {
      failure = event.error instanceof Error ? event.error : new Error(event.message);
    };
    ws.onclose = (event) => {
      clearTimeout(waitTimer);
      stopReading();
      io.signal?.removeEventListener('abort', onAbort);
      const verdict = judgeSessionEnd({
        url,
        opened,
        failure,
        interrupted,
        code: event.code,
        reason: event.reason,
      });
      if (verdict.status !== undefined) out.status(verdict.status);
      if (verdict.error !== undefined) out.error(verdict.error);
      resolve(verdict.exitCode);
    };
  });
}

/**
 * The WebSocket, or a usage error for what the constructor refuses: a URL
 * that does not parse or has another scheme (`SyntaxError`), a subprotocol
 * that is not a token, a header the handshake owns (`TypeError`).
 */
function open(args: ConnectArgs): WebSocket {
  try {
    return new WebSocket(args.url, args.subprotocols, {
      headers: args.headers,
      origin: args.origin,
      perMessageDeflate: args.deflate,
      closeTimeout: CLOSE_TIMEOUT,
    });
  } catch (error) {
    if (
      error instanceof TypeError ||
      (error instanceof DOMException && error.name === 'SyntaxError')
    ) {
      throw new UsageError(withHint(error.message, args.url), 'connect');
    }
    throw error;
  }
}

/** A URL without a scheme (`localhost:8080`) is the usual slip: say what was meant. */
function withHint(message: string, url: string): string {
  return url.includes('://') ? message : `${message} (a URL starts with ws:// or wss://)`;
}
