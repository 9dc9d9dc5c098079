/**
 * The help texts. The exit codes here, in the README and in exit-code.ts
 * say the same thing; change them together.
 * @packageDocumentation
 */
import { type Command, DEFAULT_HOST, DEFAULT_WAIT_SECONDS } from './args.js';
import { PROGRAM } from './output.js';

const EXIT_CODES = `Exit codes:
  0    normal end: closed with 1000, 1001 or no code, or stdin ended;
       listen stopped by SIGINT or SIGTERM
  1    could not connect (refused, host not found, handshake refused: the
       HTTP status is printed) or could not listen (port in use...)
  2    usage error: unknown option or command, bad URL, port or value
  3    connected, then closed with another code (printed with the reason),
       or the connection failed or was lost (1006)
  130  connect interrupted by SIGINT, after closing with 1000 (143: SIGTERM;
       141: stdout was closed, as by '| head -1')
`;

const MAIN = `${PROGRAM}: WebSocket from the command line.

Usage:
  ${PROGRAM} connect <url> [options]   connect; stdin lines become messages
  ${PROGRAM} listen <port> [options]   run a server that echoes or prints messages
  ${PROGRAM} <command> --help          the options of a command
  ${PROGRAM} --version                 print the version

${EXIT_CODES}`;

const CONNECT = `Usage: ${PROGRAM} connect <url> [options]

Connects to a ws:// or wss:// URL (http:// and https:// mean the same). Each
line of stdin is sent as a text message; the end of stdin closes the
connection with 1000. Messages received are printed to stdout:
  < text                          a text message
  < [binary N bytes] 68656c6c6f   a binary message, in hex
Status lines (connected, closed) and errors go to stderr.

Options:
  -H, --header "Name: value"   add a request header (repeatable)
  -s, --subprotocol <name>     offer a subprotocol (repeatable, preferred first)
  -o, --origin <origin>        send an Origin header
      --deflate                offer permessage-deflate compression
  -x, --execute <message>      send this message once connected (repeatable),
                               wait, then close with 1000; stdin is not read
  -w, --wait <seconds>         with --execute: how long to wait for replies
                               (default ${DEFAULT_WAIT_SECONDS}; fractions allowed)
  -b, --binary                 send messages as binary instead of text
  -q, --quiet                  no status lines (errors are still printed)
  -h, --help                   this help

A second SIGINT exits at once, without waiting for the close.

${EXIT_CODES}`;

const LISTEN = `Usage: ${PROGRAM} listen <port> [options]

Runs a WebSocket server on the port (0 picks a free one) and prints
"listening on ws://HOST:PORT" to stderr once it is up. SIGINT or SIGTERM
closes every connection with 1001 and exits with 0 (a second one exits at once).

Options:
      --host <host>            address to listen on (default ${DEFAULT_HOST};
                               0.0.0.0 or :: for every interface)
  -m, --mode <mode>            echo: send every message back (default)
                               print: print what arrives to stdout, as
                                 < #1 text
                                 < #1 [binary N bytes] 68656c6c6f
                               (#1 is the connection), and send each line of
                               stdin to every client
  -s, --subprotocol <name>     a subprotocol this server speaks (repeatable);
                               the first the client offers is chosen
      --deflate                accept permessage-deflate compression
  -b, --binary                 with --mode print: send stdin lines as binary
  -q, --quiet                  no status lines (connections, closes); the
                               "listening on" line is still printed
  -h, --help                   this help

${EXIT_CODES}`;

/** The full help of a command, or of the program. */
export function helpText(topic: Command | undefined): string {
  if (topic === 'connect') return CONNECT;
  if (topic === 'listen') return LISTEN;
  return MAIN;
}

/** The short reminder printed after a usage error. */
export function usageHint(topic: Command | undefined): string {
  const line =
    topic === 'connect'
      ? `Usage: ${PROGRAM} connect <url> [options]`
      : topic === 'listen'
        ? `Usage: ${PROGRAM} listen <port> [options]`
        : `Usage: ${PROGRAM} connect <url> [options] | ${PROGRAM} listen <port> [options]`;
  const more = topic === undefined ? `${PROGRAM} --help` : `${PROGRAM} ${topic} --help`;
  return `${line}\nRun '${more}' for the options and exit codes.\n`;
}
