/**
 * The signal behind an abort. `run()` is stopped through an `AbortSignal`
 * whose reason names the process signal (the bin passes `'SIGINT'` or
 * `'SIGTERM'`); any other reason counts as SIGINT, an interruption.
 * @packageDocumentation
 */
import { constants } from 'node:os';

/** `reason` if it names a signal, else `'SIGINT'`. */
export function signalName(reason: unknown): NodeJS.Signals {
  return typeof reason === 'string' && Object.hasOwn(constants.signals, reason)
    ? (reason as NodeJS.Signals)
    : 'SIGINT';
}

/** Resolves with the signal's name once `signal` aborts; never without one. */
export function aborted(signal: AbortSignal | undefined): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) resolve(signalName(signal.reason));
    else signal.addEventListener('abort', () => resolve(signalName(signal.reason)), { once: true });
  });
}
