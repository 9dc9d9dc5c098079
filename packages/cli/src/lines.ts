/**
 * stdin, a line at a time, with a brake: reading pauses while the consumer
 * says it is busy, so a large file piped in does not pile up in memory.
 * @packageDocumentation
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** What {@link readLines} calls. */
export interface LineHandlers {
  /** A line, without its `\n` or `\r\n`. */
  line(text: string): void;
  /** The input ended (not called after the returned stop function ran). */
  end(): void;
  /** Whether to stop reading for now; asked after each line. */
  busy?(): boolean;
}

/**
 * How often a paused reader asks `busy()` again. Polling, because the WHATWG
 * `WebSocket` has no drain event: `bufferedAmount` is all it tells.
 */
const BUSY_POLL_MS = 10;

/** Reads `input` line by line until it ends; returns a function that stops reading. */
export function readLines(input: Readable, handlers: LineHandlers): () => void {
  const reader = createInterface({ input, crlfDelay: Infinity, terminal: false });
  let poll: NodeJS.Timeout | undefined;
  reader.on('line', (text) => {
    handlers.line(text);
    if (poll === undefined && handlers.busy?.()) {
      reader.pause();
      poll = setInterval(() => {
        if (handlers.busy?.()) return;
        clearInterval(poll);
        poll = undefined;
        reader.resume();
      }, BUSY_POLL_MS);
    }
  });
  const onClose = (): void => handlers.end();
  reader.on('close', onClose);
  return () => {
    clearInterval(poll);
    reader.off('close', onClose);
    reader.close();
  };
}
