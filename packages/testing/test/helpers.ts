/**
 * The Node side of the kit's tests: @proj/client's WebSocket as the code
 * under test, recording what it receives, and the servers and sockets of a
 * test torn down after it.
 */
import { CloseEvent, WebSocket } from '@proj/client';
import { onCleanup, useCleanup } from '@proj/test-utils';
import {
  type ParseOption,
  type Parsed,
  type TestServer,
  type TestServerOptions,
  startTestServer,
} from '../src/index.js';

useCleanup();

/** A test server closed after the test. */
export async function server<P extends ParseOption = 'json'>(
  options?: TestServerOptions<P>,
): Promise<TestServer<Parsed<P>>> {
  const started = await startTestServer(options);
  onCleanup(() => started.close({ timeout: 1_000 }));
  return started;
}

/** A client connection, with what it received so far. */
export interface Client {
  readonly ws: WebSocket;
  /** Text as strings, binary as ArrayBuffers, in order. */
  readonly messages: Array<string | ArrayBuffer>;
  /** Resolves once open; rejects if the connection failed first. */
  readonly opened: Promise<void>;
  /** Resolves with the close event. */
  readonly closed: Promise<{ code: number; reason: string; wasClean: boolean }>;
  /** Resolves once `n` messages arrived, with the first `n`. */
  received(n: number): Promise<Array<string | ArrayBuffer>>;
}

/** Connects @proj/client's WebSocket to `path` under `url` (closed after the test). */
export function connect(
  url: string,
  {
    path = '',
    origin,
    protocols = [],
  }: { path?: string; origin?: string; protocols?: string[] } = {},
): Client {
  const ws = new WebSocket(
    new URL(path, url).href,
    protocols,
    origin === undefined ? {} : { origin },
  );
  ws.binaryType = 'arraybuffer';
  onCleanup(() => {
    if (ws.readyState < WebSocket.CLOSING) ws.close();
    return closed;
  });
  const messages: Array<string | ArrayBuffer> = [];
  const wakers = new Set<() => void>();
  ws.addEventListener('message', (event) => {
    messages.push(event.data as string | ArrayBuffer);
    for (const wake of [...wakers]) wake();
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('close', () => reject(new Error('closed before open')));
  });
  // Tests that expect a failed connection do not await `opened`.
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) =>
    ws.addEventListener('close', (event) => {
      const close = event as CloseEvent;
      resolve({ code: close.code, reason: close.reason, wasClean: close.wasClean });
    }),
  );
  return {
    ws,
    messages,
    opened,
    closed,
    async received(n) {
      while (messages.length < n) {
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            wakers.delete(wake);
            resolve();
          };
          wakers.add(wake);
        });
      }
      return messages.slice(0, n);
    },
  };
}

/** What a promise rejected with; fails the test if it resolved. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject');
}

/** The error's message with the server's port replaced by PORT, for exact comparisons. */
export function withoutPort(message: string, port: number): string {
  return message.replaceAll(`:${port}/`, ':PORT/');
}
