/**
 * A TCP relay between the page and the WebSocket server that records what
 * crosses the wire: the opening handshake's heads and then every frame, each
 * way, read by hand (packages/client/test/wire.ts), not by `@proj/protocol`.
 * So a test can say that the browser really set RSV1 and really deflated, and
 * that the server did, instead of trusting either end's decoder.
 *
 * Bytes are forwarded unchanged and as they come; the relay reads copies.
 * One connection at a time is all the specs need; later ones are relayed too
 * and recorded in the same lists.
 */
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import {
  FrameReader,
  type RawFrame,
  type RawMessage,
  rawMessages,
} from '../packages/client/test/wire.js';

/** One direction of the relay: the HTTP head, then the frames. */
export interface TapDirection {
  /** The request head (browser → server) or the response head (server → browser). */
  head: string | undefined;
  readonly frames: RawFrame[];
}

export interface WireTap {
  /** `ws://127.0.0.1:PORT/`: connect the page here. */
  readonly url: string;
  readonly fromBrowser: TapDirection;
  readonly fromServer: TapDirection;
  /**
   * Resolves with the first `count` data messages that passed in `direction`
   * (control frames left out), once they all did; throws if the relay closes first.
   */
  messages(direction: 'fromBrowser' | 'fromServer', count: number): Promise<RawMessage[]>;
  close(): Promise<void>;
}

function record(direction: TapDirection, wake: () => void): (chunk: Buffer) => void {
  const reader = new FrameReader();
  let head = Buffer.alloc(0);
  return (chunk) => {
    if (direction.head === undefined) {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      direction.head = head.subarray(0, end).toString('latin1');
      chunk = head.subarray(end + 4);
    }
    for (const frame of reader.push(chunk)) direction.frames.push(frame);
    wake();
  };
}

/** Starts a relay on 127.0.0.1, port 0, to the WebSocket server on `port`. */
export async function startWireTap(port: number): Promise<WireTap> {
  const fromBrowser: TapDirection = { head: undefined, frames: [] };
  const fromServer: TapDirection = { head: undefined, frames: [] };
  const waiters = new Set<() => void>();
  const sockets = new Set<Socket>();
  let closed = false;
  const wake = (): void => {
    for (const waiter of [...waiters]) waiter();
  };

  const server: Server = createServer((browser) => {
    const upstream = connect(port, '127.0.0.1');
    for (const socket of [browser, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      // A reset on one side ends the other; the test judges what arrived.
      socket.on('error', () => {});
    }
    browser.setNoDelay(true);
    upstream.setNoDelay(true);
    const toServer = record(fromBrowser, wake);
    const toBrowser = record(fromServer, wake);
    browser.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      toServer(Buffer.from(chunk));
    });
    upstream.on('data', (chunk: Buffer) => {
      browser.write(chunk);
      toBrowser(Buffer.from(chunk));
    });
    browser.on('end', () => upstream.end());
    upstream.on('end', () => browser.end());
    browser.on('close', () => upstream.destroy());
    upstream.on('close', () => browser.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const tapPort = (server.address() as AddressInfo).port;
  const directions = { fromBrowser, fromServer };

  return {
    url: `ws://127.0.0.1:${tapPort}/`,
    fromBrowser,
    fromServer,
    async messages(direction, count) {
      const { frames } = directions[direction];
      for (;;) {
        const messages = rawMessages(frames);
        if (messages.length >= count) return messages.slice(0, count);
        if (closed) throw new Error(`wire tap closed with ${messages.length} of ${count} messages`);
        await new Promise<void>((resolve) => {
          const done = (): void => {
            waiters.delete(done);
            resolve();
          };
          waiters.add(done);
        });
      }
    },
    async close() {
      closed = true;
      wake();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
