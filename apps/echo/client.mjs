// @ts-check
// A Node client for the echo server, using @proj/client: the same WebSocket
// API as in a browser.
//
//   pnpm --dir apps/echo client [ws://127.0.0.1:8080]
import { WebSocket } from '@proj/client';

const url = process.argv[2] ?? process.env['URL'] ?? 'ws://127.0.0.1:8080';
const socket = new WebSocket(url, ['echo']);
socket.binaryType = 'arraybuffer';

const messages = ['hello', 'héllo wörld ✓', new Uint8Array([1, 2, 3, 255]).buffer];
let received = 0;

socket.onopen = () => {
  console.log(`connected to ${socket.url} protocol=${socket.protocol || '(none)'}`);
  for (const message of messages) socket.send(message);
};

socket.addEventListener('message', (event) => {
  const data = event.data;
  if (typeof data === 'string') console.log(`text: ${data}`);
  else if (data instanceof ArrayBuffer)
    console.log(`binary: ${[...new Uint8Array(data)].join(',')}`);
  if (++received === messages.length) socket.close(1000, 'done');
});

socket.onerror = () => {
  console.error(`could not talk to ${url}`);
  process.exitCode = 1;
};

socket.addEventListener('close', (event) => {
  console.log(`closed ${event.code}${event.reason ? ` ${event.reason}` : ''}`);
});
