/**
 * The one ordered send path: whatever waits (a message being deflated, a Blob
 * being read), everything sent after it waits too, and leaves in call order.
 * A real PerMessageDeflate does the compressing.
 */
import { constants, inflateRawSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { PerMessageDeflate } from '@proj/deflate';
import { SendQueue, type SendSink } from '@proj/transport';

const PARAMS = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

/** A sink that records what it is handed, as readable strings. */
function recordingSink(): SendSink & { log: string[]; refuseEncoded: boolean } {
  const log: string[] = [];
  return {
    log,
    refuseEncoded: false,
    writeMessage(payload, binary, fin, compressed) {
      const bytes = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
      const text = compressed
        ? inflateRawSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH }).toString()
        : bytes.toString();
      log.push(
        `${binary ? 'binary' : 'text'}${compressed ? ' deflated' : ''}${fin ? '' : ' fragment'}:${text}`,
      );
    },
    writeEncoded(chunks) {
      if (this.refuseEncoded) return false;
      log.push(`encoded:${Buffer.concat(chunks.map((c) => Buffer.from(c))).toString()}`);
      return true;
    },
    startClose(code, reason) {
      log.push(`close:${code}:${reason}`);
    },
  };
}

function deflater(threshold = 0): PerMessageDeflate {
  return new PerMessageDeflate({
    params: PARAMS,
    isServer: true,
    maxPayload: 1 << 20,
    options: {
      threshold,
      level: 1,
      memLevel: 8,
      windowBits: 13,
      concurrency: 10,
      idleRelease: 0,
      config: {},
    },
  });
}

/**
 * Resolves once the sink has logged `count` entries, or after 10 s (zlib runs
 * on the thread pool: under load that takes more than a few turns).
 */
async function logged(sink: { log: string[] }, count: number): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  while (sink.log.length < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return sink.log;
}

describe('SendQueue', () => {
  test('with nothing waiting, a send goes straight to the sink', () => {
    const sink = recordingSink();
    const queue = new SendQueue(sink);
    queue.message('a', false, true, undefined);
    expect(queue.encoded([Buffer.from('b')])).toBe(true);
    queue.close(1000, 'bye');
    expect(sink.log).toEqual(['text:a', 'encoded:b', 'close:1000:bye']);
    expect(queue.busy).toBe(false);
  });

  test('behind a message being deflated, plain messages, broadcasts and the close wait, in order', async () => {
    const sink = recordingSink();
    const queue = new SendQueue(sink);
    const deflate = deflater();
    queue.deflated(Buffer.from('first, compressed'), false, deflate, undefined);
    const reused = Buffer.from('second');
    queue.message(reused, true, true, undefined);
    reused.fill(0x78); // the caller may reuse its buffer once send returned
    queue.encoded([Buffer.from('third')]);
    queue.deflated(Buffer.from('fourth, compressed'), true, deflate, undefined);
    queue.close(1001, '');
    expect(sink.log).toEqual([]);
    expect(queue.busy).toBe(true);
    expect(await logged(sink, 5)).toEqual([
      'text deflated:first, compressed',
      'binary:second',
      'encoded:third',
      'binary deflated:fourth, compressed',
      'close:1001:',
    ]);
    expect(queue.busy).toBe(false);
    deflate.close();
  });

  test('a pending read (a Blob) holds back what follows; a failed read goes to its callback, in turn', async () => {
    const sink = recordingSink();
    const queue = new SendQueue(sink);
    let resolveRead!: (bytes: Uint8Array) => void;
    const errors: string[] = [];
    queue.pending(
      new Promise((resolve) => (resolveRead = resolve)),
      null,
      'read failed',
      undefined,
    );
    queue.pending(Promise.reject(new Error('gone')), null, 'read failed', (error) =>
      errors.push(`${error?.message} (${String((error?.cause as Error).message)})`),
    );
    queue.message('after', false, true, undefined);
    // Several turns, and the rejected read settled: still nothing may go.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sink.log).toEqual([]);
    resolveRead(Buffer.from('blob'));
    expect(await logged(sink, 2)).toEqual(['binary:blob', 'text:after']);
    expect(errors).toEqual(['read failed (gone)']);
  });

  test('a refused broadcast frame reports false when it could go at once', () => {
    const sink = recordingSink();
    sink.refuseEncoded = true;
    expect(new SendQueue(sink).encoded([Buffer.from('x')])).toBe(false);
  });

  test('abort drops what waits and tells each callback, in a later tick', async () => {
    const sink = recordingSink();
    const queue = new SendQueue(sink);
    const heard: string[] = [];
    queue.pending(new Promise(() => {}), null, 'never read', (error) => heard.push(error!.message));
    queue.message('x', false, true, (error) => heard.push(error!.message));
    queue.abort(new Error('closed'));
    expect(heard).toEqual([]);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(heard).toEqual(['closed', 'closed']);
    expect(queue.busy).toBe(false);
    expect(sink.log).toEqual([]);
  });
});
