/**
 * The chaos test's judge of one session's stream from the server, as the
 * client's application receives it. The server (`node.mjs`) echoes each
 * client message `c:<n>` as `echo:<n>` and sends `tick:<k>` every 50 ms, k
 * being the tick's own sequence number. What breaks the guarantee (exactly
 * once and in order, both ways: `docs/session-protocol.md`, section 8) is a
 * violation:
 * - a message whose `lastEventId` (its session sequence number) is not one
 *   more than the previous message's: a gap, a repeat or disorder from the
 *   server;
 * - an echo that is not the next one: every `c:<n>` must come back once, in
 *   order (the server echoes what its application was delivered, so this is
 *   the client-to-server direction, seen from the client);
 * - a tick whose k is not its `lastEventId`;
 * - anything else (not a string, not an echo or a tick).
 *
 * Runtime-neutral and pure: no I/O, no clock.
 */

/** Something that breaks the guarantee. */
export interface Violation {
  readonly what: string;
  readonly data: string;
  readonly lastEventId: string;
}

/** What the judge counted. */
export interface StreamCounts {
  /** Messages the application was delivered. */
  delivered: number;
  /** The last echo's n: `c:1` to `c:<echoes>` each came back once, in order. */
  echoes: number;
  ticks: number;
  /** The last message's sequence number. */
  lastSeq: number;
  violations: number;
}

/** Checks one session's messages as they arrive. */
export class StreamCheck {
  readonly counts: StreamCounts = { delivered: 0, echoes: 0, ticks: 0, lastSeq: 0, violations: 0 };
  /** The first violations, in full. */
  readonly samples: Violation[] = [];
  readonly #maxSamples: number;

  /** @param maxSamples - how many violations to keep in full; the rest are only counted. */
  constructor(maxSamples = 5) {
    this.#maxSamples = maxSamples;
  }

  /** Judges one message: its data and its `lastEventId`. */
  check(data: unknown, lastEventId: string): void {
    const counts = this.counts;
    counts.delivered++;
    const text = typeof data === 'string' ? data : `<${Object.prototype.toString.call(data)}>`;
    const fail = (what: string): void => {
      counts.violations++;
      if (this.samples.length < this.#maxSamples)
        this.samples.push({ what, data: text, lastEventId });
    };
    const seq = Number(lastEventId);
    if (lastEventId !== String(counts.lastSeq + 1)) {
      fail(`lastEventId ${lastEventId} after ${counts.lastSeq}`);
    }
    // A repeat does not move it back: what follows is judged against the newest.
    if (Number.isSafeInteger(seq)) counts.lastSeq = Math.max(counts.lastSeq, seq);

    const match = /^(echo|tick):(\d+)$/.exec(text);
    if (!match) {
      fail('not an echo or a tick');
    } else if (match[1] === 'echo') {
      const n = Number(match[2]);
      if (n !== counts.echoes + 1) fail(`echo ${n} after ${counts.echoes}`);
      counts.echoes = Math.max(counts.echoes, n);
    } else {
      counts.ticks++;
      if (match[2] !== lastEventId) fail(`tick ${match[2]} with lastEventId ${lastEventId}`);
    }
  }
}
