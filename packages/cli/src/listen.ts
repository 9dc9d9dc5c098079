/**
 * `proj-ws listen <port>`: a WebSocket server for trying clients out. It
 * echoes every message back, or prints what arrives and sends stdin's lines
 * to every client; SIGINT or SIGTERM closes every connection with 1001.
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '@proj/server';
import type { ListenArgs } from './args.js';
import { ExitCode } from './exit-code.js';
import { describeListenFailure } from './failure.js';
import { formatClose, formatHost, formatMessage, formatSession } from './format.js';
import { readLines } from './lines.js';
import type { CliIO } from './io.js';
import { Output } from './output.js';
import { aborted } from './signals.js';

/** Runs `listen` until the signal; resolves with the exit code. */
export async function listen(args: ListenArgs, io: CliIO): Promise<number> {
  const out = new Output(io.stdout, io.stderr, args.quiet);
  const server = new WebSocketServer({
    port: args.port,
    host: args.host,
    protocols: args.subprotocols.length > 0 ? args.subprotocols : undefined,
    perMessageDeflate: args.deflate,
  });
  try {
    await server.ready();
  } catch (error) {
    out.error(describeListenFailure(error as Error, args.host, args.port));
    await server.close();
    return ExitCode.Failure;
  }
  // Once listening, an error concerns one request, not the server: say so and go on.
  server.on('error', (error) => out.error(error.message));
  const { port } = server.address() as AddressInfo;
  out.notice(`listening on ws://${formatHost(args.host)}:${port}`);

  let connections = 0;
  server.on('connection', (socket, request) => {
    const id = `#${++connections}`;
    const peer = `${formatHost(request.socket.remoteAddress ?? '?')}:${request.socket.remotePort}`;
    out.status(`${id} connected from ${peer}${formatSession(socket.protocol, socket.extensions)}`);
    socket.on('message', (data, isBinary) => {
      if (args.mode === 'echo') socket.send(data, { binary: isBinary });
      else out.data(formatMessage(data, id));
    });
    socket.on('error', (error) => out.status(`${id} error: ${error.message}`));
    socket.on('close', (code, reason) => out.status(`${id} closed ${formatClose(code, reason)}`));
  });

  const stopReading =
    args.mode === 'print'
      ? readLines(io.stdin, {
          line: (text) => {
            const sent = server.broadcast(args.binary ? Buffer.from(text) : text);
            if (sent === 0) out.status('no client connected: line not sent');
          },
          // A server outlives its input: `listen < /dev/null` keeps serving.
          end: () => {},
        })
      : () => {};

  const signal = await aborted(io.signal);
  stopReading();
  out.status(`${signal}: closing ${server.clients.size} connection(s) with 1001`);
  await server.close({ code: 1001 });
  return ExitCode.Ok;
}
