/**
 * What ws's README examples leave to the reader, written once for both
 * versions of every example, so that they differ only by what MIGRATING.md
 * lists.
 */
import type { IncomingMessage } from 'node:http';

/**
 * Where an example reports what it saw, instead of ws's `console.log`: the
 * test reads it. `event` names what happened; `args` are the values the
 * library handed over, untouched, so their types can be compared.
 */
export type Log = (event: string, ...args: unknown[]) => void;

/** The token the authentication example accepts, and the user it stands for. */
export const GOOD_TOKEN = 'Bearer alice-token';
export const USER = 'alice';

/**
 * ws's README calls `authenticate(request, next)` and leaves it undefined
 * "on purpose". This one checks the `Authorization` header, answering in a
 * later turn of the event loop as a session store would.
 */
export function authenticate(
  request: IncomingMessage,
  next: (error: Error | null, client?: string) => void,
): void {
  const authorized = request.headers.authorization === GOOD_TOKEN;
  setImmediate(() => (authorized ? next(null, USER) : next(new Error('Unauthorized'))));
}

/** ws's README examples listen on 8080; these take a free port on loopback. */
export const LISTEN = { port: 0, host: '127.0.0.1' } as const;

/**
 * ws's heartbeat example keeps `isAlive` on the socket object itself, which
 * JavaScript allows on ws's sockets and on ours alike; TypeScript needs the
 * property declared, the same way in both versions.
 */
export type Alive<T> = T & { isAlive?: boolean };
