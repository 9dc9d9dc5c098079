import { readFileSync } from 'node:fs';
import * as zlib from 'node:zlib';
import { describe, expect, test, vi } from 'vitest';
import {
  type DeflateParams,
  InvalidCompressedDataError,
  PayloadTooBigError,
  WebSocketError,
} from '@proj/protocol';
import {
  DEFLATE_DEFAULTS,
  IdleSweeper,
  Limiter,
  PerMessageDeflate,
  resolveDeflateOptions,
  sharedIdleSweeper,
  sharedLimiter,
} from '@proj/deflate';

const DEFAULT_PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function pair(params: DeflateParams = DEFAULT_PARAMS, maxPayload = 64 * 1024 * 1024) {
  const server = new PerMessageDeflate({ params, isServer: true, maxPayload });
  const client = new PerMessageDeflate({ params, isServer: false, maxPayload });
  return { server, client };
}

const compress = (pmd: PerMessageDeflate, data: Uint8Array) =>
  new Promise<Buffer>((resolve, reject) =>
    pmd.compress(data, (error, out) => (error ? reject(error) : resolve(out!))),
  );
const decompress = (pmd: PerMessageDeflate, data: Uint8Array) =>
  new Promise<Buffer>((resolve, reject) =>
    pmd.decompress(data, (error, out) => (error ? reject(error) : resolve(out!))),
  );

const json = (i: number) =>
  Buffer.from(
    JSON.stringify({ id: i, user: 'alice', text: 'hello world '.repeat(20), tags: ['a', 'b'] }),
  );

describe('PerMessageDeflate', () => {
  test('RFC 7692 §7.2.3.1: "Hello" compresses to f2 48 cd c9 c9 07 00, tail removed', async () => {
    const { server, client } = pair();
    const out = await compress(server, Buffer.from('Hello'));
    expect(out.toString('hex')).toBe('f248cdc9c90700');
    expect((await decompress(client, out)).toString()).toBe('Hello');
    // §7.2.3.2: the same message again, with context takeover, is shorter.
    const again = await compress(server, Buffer.from('Hello'));
    expect(again.toString('hex')).toBe('f200110000');
    expect((await decompress(client, again)).toString()).toBe('Hello');
    server.close();
    client.close();
  });

  test.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])(
    'round trips both ways, serverNoContextTakeover=%s clientNoContextTakeover=%s',
    async (s, c) => {
      const params = { ...DEFAULT_PARAMS, serverNoContextTakeover: s, clientNoContextTakeover: c };
      const { server, client } = pair(params);
      for (let i = 0; i < 20; i++) {
        expect((await decompress(client, await compress(server, json(i)))).equals(json(i))).toBe(
          true,
        );
        expect((await decompress(server, await compress(client, json(i)))).equals(json(i))).toBe(
          true,
        );
      }
      // Without context takeover the context is released after each message.
      expect(server.contexts).toEqual({ deflate: !s, inflate: !c });
      expect(client.contexts).toEqual({ deflate: !c, inflate: !s });
      server.close();
      client.close();
      expect(server.contexts).toEqual({ deflate: false, inflate: false });
    },
  );

  test('without context takeover, each message stands alone (a fresh inflater reads it)', async () => {
    const params = { ...DEFAULT_PARAMS, serverNoContextTakeover: true };
    const { server } = pair(params);
    await compress(server, json(1));
    const second = await compress(server, json(1));
    const fresh = zlib.inflateRawSync(Buffer.concat([second, Buffer.from([0, 0, 0xff, 0xff])]), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    expect(fresh.equals(json(1))).toBe(true);
    server.close();
  });

  test.each([8, 9, 10, 11, 12, 13, 14, 15])('window bits %i both ways', async (bits) => {
    const params = { ...DEFAULT_PARAMS, serverMaxWindowBits: bits, clientMaxWindowBits: bits };
    const { server, client } = pair(params);
    const big = Buffer.from(Array.from({ length: 2000 }, (_, i) => `item${i % 97},`).join(''));
    expect((await decompress(client, await compress(server, big))).equals(big)).toBe(true);
    expect((await decompress(server, await compress(client, big))).equals(big)).toBe(true);
    server.close();
    client.close();
  });

  test('an empty message round trips', async () => {
    const { server, client } = pair();
    const out = await compress(server, new Uint8Array(0));
    expect((await decompress(client, out)).length).toBe(0);
    server.close();
    client.close();
  });

  test('compressions complete in call order', async () => {
    const { server, client } = pair();
    const outs = await Promise.all(Array.from({ length: 50 }, (_, i) => compress(server, json(i))));
    for (let i = 0; i < 50; i++)
      expect((await decompress(client, outs[i]!)).equals(json(i))).toBe(true);
    server.close();
    client.close();
  });

  test('a decompression bomb: ~10 KiB that inflates to 10 MiB is refused with 1009 early', async () => {
    const bomb = zlib
      .deflateRawSync(Buffer.alloc(10 * 1024 * 1024), {
        level: 9,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      })
      .subarray(0, -4);
    expect(bomb.length).toBeLessThan(11 * 1024);
    const maxPayload = 1024 * 1024;
    const receiver = new PerMessageDeflate({ params: DEFAULT_PARAMS, isServer: true, maxPayload });
    const error = await decompress(receiver, bomb).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooBigError);
    expect((error as PayloadTooBigError).closeCode).toBe(1009);
    // At most one 16 KiB zlib output chunk past the limit was ever inflated.
    expect(receiver.inflatedBytes).toBeGreaterThan(maxPayload);
    expect(receiver.inflatedBytes).toBeLessThanOrEqual(maxPayload + 16 * 1024);
    console.log(
      `bomb: ${bomb.length} B compressed → stopped after inflating ${receiver.inflatedBytes} B (maxPayload ${maxPayload})`,
    );
    receiver.close();
  });

  test('data that does not inflate: 1007 WS_ERR_INVALID_COMPRESSED_DATA, and the next message works', async () => {
    const { server, client } = pair();
    const error = await decompress(server, Buffer.from([0xff, 0xff, 0xff])).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidCompressedDataError);
    expect(error).toBeInstanceOf(WebSocketError);
    expect((error as WebSocketError).code).toBe('WS_ERR_INVALID_COMPRESSED_DATA');
    expect((error as WebSocketError).cause).toBeInstanceOf(Error);
    expect((error as WebSocketError).closeCode).toBe(1007);
    const out = await compress(client, Buffer.from('after'));
    expect((await decompress(server, out)).toString()).toBe('after');
    server.close();
    client.close();
  });

  test('after close, jobs fail', async () => {
    const { server } = pair();
    const pending = compress(server, json(1));
    const queued = compress(server, json(2));
    server.close();
    await Promise.all([
      expect(pending).rejects.toThrow(/closed/),
      expect(queued).rejects.toThrow(/closed/),
    ]);
    await expect(decompress(server, Buffer.from([0]))).rejects.toThrow(/closed/);
    await expect(compress(server, json(3))).rejects.toThrow(/closed/);
  });
});

/** 1 KiB that does not compress. */
const noise = () => {
  let x = 7;
  return Buffer.from(
    Array.from({ length: 1024 }, () => (x = (x * 1103515245 + 12345) >>> 0) >>> 24),
  );
};

/** A client that inflates what the server sends with a window of `bits` (512 B for 9). */
const receiverWithWindow = (bits: number) =>
  new PerMessageDeflate({
    params: { ...DEFAULT_PARAMS, serverMaxWindowBits: bits },
    isServer: false,
    maxPayload: 1e6,
  });

const untilReleased = async (pmd: PerMessageDeflate) => {
  while (pmd.contexts.deflate) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('PerMessageDeflate memory', () => {
  test('compresses with `windowBits` (default 13) when the handshake allowed more', async () => {
    const wide = new PerMessageDeflate({ params: DEFAULT_PARAMS, isServer: true, maxPayload: 1e6 });
    expect(wide.windowBits).toBe(13);
    const narrow = new PerMessageDeflate({
      params: DEFAULT_PARAMS,
      isServer: true,
      maxPayload: 1e6,
      options: resolveDeflateOptions({ windowBits: 9 }, true)!,
    });
    expect(narrow.windowBits).toBe(9);
    const block = noise();
    // The same 1 KiB twice: the 13-bit compressor refers back to the first
    // message, which a 512-byte inflate window no longer holds...
    const wideReader = receiverWithWindow(9);
    await decompress(wideReader, await compress(wide, block));
    const repeat = await compress(wide, block);
    expect(repeat.length).toBeLessThan(100);
    await expect(decompress(wideReader, repeat)).rejects.toThrow(/distance too far back/);
    // ...while the 9-bit one never refers further back than 512 bytes.
    const narrowReader = receiverWithWindow(9);
    await decompress(narrowReader, await compress(narrow, block));
    const literal = await compress(narrow, block);
    expect(literal.length).toBeGreaterThan(1000);
    expect((await decompress(narrowReader, literal)).equals(block)).toBe(true);
    for (const pmd of [wide, narrow, wideReader, narrowReader]) pmd.close();
  });

  test('a smaller negotiated window wins over `windowBits`', async () => {
    const params = { ...DEFAULT_PARAMS, serverMaxWindowBits: 9 };
    const server = new PerMessageDeflate({ params, isServer: true, maxPayload: 1e6 });
    expect(server.windowBits).toBe(9);
    const reader = receiverWithWindow(9);
    const block = noise();
    for (let i = 0; i < 3; i++)
      expect((await decompress(reader, await compress(server, block))).equals(block)).toBe(true);
    server.close();
    reader.close();
  });

  test('`idleRelease`: an unused compressor drops its context; the peer keeps reading with takeover', async () => {
    const options = resolveDeflateOptions({ idleRelease: 30 }, true)!;
    const server = new PerMessageDeflate({
      params: DEFAULT_PARAMS,
      isServer: true,
      maxPayload: 1e6,
      options,
    });
    const client = new PerMessageDeflate({
      params: DEFAULT_PARAMS,
      isServer: false,
      maxPayload: 1e6,
    });
    const sweeper = sharedIdleSweeper(30);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) {
        const message = json(round * 10 + i);
        expect((await decompress(client, await compress(server, message))).equals(message)).toBe(
          true,
        );
      }
      expect(server.contexts.deflate).toBe(true);
      expect(sweeper.size).toBe(1);
      await untilReleased(server);
      // Released, and the shared interval stopped with no member left.
      expect(sweeper.size).toBe(0);
      expect(server.lastUsed).toBe(-1);
      // The client's inflater still holds the previous messages' window.
      expect(client.contexts.inflate).toBe(true);
    }
    server.close();
    client.close();
  });

  test('`idleRelease` never interrupts a busy compressor, nor leaves it idle when 0', async () => {
    const busy = new PerMessageDeflate({
      params: DEFAULT_PARAMS,
      isServer: true,
      maxPayload: 1e6,
      options: resolveDeflateOptions({ idleRelease: 1 }, true)!,
    });
    const keep = new PerMessageDeflate({
      params: DEFAULT_PARAMS,
      isServer: true,
      maxPayload: 1e6,
      options: resolveDeflateOptions({ idleRelease: 0 }, true)!,
    });
    const client = new PerMessageDeflate({
      params: DEFAULT_PARAMS,
      isServer: false,
      maxPayload: 1e6,
    });
    // 200 queued messages: the sweeper runs every millisecond meanwhile.
    const outs = await Promise.all(Array.from({ length: 200 }, (_, i) => compress(busy, json(i))));
    for (let i = 0; i < 200; i++)
      expect((await decompress(client, outs[i]!)).equals(json(i))).toBe(true);
    await compress(keep, json(1));
    await untilReleased(busy);
    expect(keep.contexts.deflate).toBe(true);
    busy.close();
    keep.close();
    client.close();
  });
});

describe('IdleSweeper', () => {
  test('releases members unused for the idle time, skips busy ones, stops when empty', () => {
    vi.useFakeTimers();
    try {
      const sweeper = new IdleSweeper(100);
      const released: string[] = [];
      const member = (name: string, lastUsed: number) => {
        const m = {
          lastUsed,
          releaseIdle: () => {
            released.push(name);
            sweeper.delete(m);
          },
        };
        return m;
      };
      const old = member('old', Date.now());
      const busy = member('busy', -1);
      sweeper.add(old);
      sweeper.add(busy);
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(50);
      expect(released).toEqual([]);
      vi.advanceTimersByTime(100);
      expect(released).toEqual(['old']);
      vi.advanceTimersByTime(1000);
      expect(released).toEqual(['old']);
      sweeper.delete(busy);
      expect(sweeper.size).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('Limiter', () => {
  test('runs at most `concurrency` jobs, in order', () => {
    const limiter = new Limiter(2);
    const started: number[] = [];
    const dones: (() => void)[] = [];
    for (let i = 0; i < 5; i++)
      limiter.add((done) => {
        started.push(i);
        dones.push(done);
      });
    expect(started).toEqual([0, 1]);
    expect(limiter.pending).toBe(3);
    dones[0]!();
    dones[0]!(); // a second call is ignored
    expect(started).toEqual([0, 1, 2]);
    dones[1]!();
    dones[2]!();
    expect(started).toEqual([0, 1, 2, 3, 4]);
  });

  test('shared per concurrency value; bad values are RangeErrors', () => {
    expect(sharedLimiter(3)).toBe(sharedLimiter(3));
    expect(sharedLimiter(3)).not.toBe(sharedLimiter(4));
    expect(() => new Limiter(0)).toThrow(RangeError);
    expect(new Limiter(Infinity).concurrency).toBe(Infinity);
  });
});

describe('resolveDeflateOptions', () => {
  test('DEFLATE_DEFAULTS are the defaults the README documents', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const rows = readme.matchAll(/^\| `(\w+)` +\| (\d+) +\|/gm);
    const documented = Object.fromEntries(
      [...rows].map(([, name, value]) => [name, Number(value)]),
    );
    expect(documented).toMatchObject(DEFLATE_DEFAULTS);
  });

  test('undefined follows the default; false is off; true the defaults', () => {
    expect(resolveDeflateOptions(undefined, false)).toBeNull();
    expect(resolveDeflateOptions(false, true)).toBeNull();
    expect(resolveDeflateOptions(true, false)).toMatchObject(DEFLATE_DEFAULTS);
    expect(
      resolveDeflateOptions(
        { threshold: 0, serverMaxWindowBits: 10, concurrency: Infinity },
        false,
      ),
    ).toMatchObject({
      threshold: 0,
      concurrency: Infinity,
      config: { serverMaxWindowBits: 10 },
    });
  });

  test.each([
    [{ threshold: -1 }, RangeError],
    [{ level: 10 }, RangeError],
    [{ memLevel: 0 }, RangeError],
    [{ windowBits: 8 }, RangeError],
    [{ windowBits: 16 }, RangeError],
    [{ idleRelease: -1 }, RangeError],
    [{ idleRelease: 1.5 }, RangeError],
    [{ concurrency: 0 }, RangeError],
    [{ serverMaxWindowBits: 7 }, RangeError],
    [{ clientMaxWindowBits: 16 }, RangeError],
    [{ serverNoContextTakeover: 'yes' }, TypeError],
    [{ level: '1' }, TypeError],
    ['on', TypeError],
  ])('%j is a %s', (value, Class) => {
    expect(() => resolveDeflateOptions(value as never, false)).toThrow(Class);
  });

  test('one wording with the server and client options (@proj/protocol integerOption)', () => {
    expect(() => resolveDeflateOptions({ level: 10 }, false)).toThrow(
      'The "perMessageDeflate.level" option must be an integer from -1 to 9, got 10',
    );
    expect(() => resolveDeflateOptions({ serverNoContextTakeover: 1 as never }, false)).toThrow(
      'The "perMessageDeflate.serverNoContextTakeover" option must be a boolean, got 1',
    );
    expect(() => new Limiter(0)).toThrow(
      'The "concurrency" option must be an integer of at least 1 or Infinity, got 0',
    );
  });

  test("unknown keys throw, naming them; ws's zlib keys say what to use instead", () => {
    expect(() => resolveDeflateOptions({ treshold: 10 } as never, false)).toThrow(
      /Unknown perMessageDeflate option "treshold"/,
    );
    expect(() => resolveDeflateOptions({ Level: 1 } as never, false)).toThrow(
      '(did you mean "level"?)',
    );
    expect(() =>
      resolveDeflateOptions({ zlibDeflateOptions: { level: 9 } } as never, false),
    ).toThrow('The perMessageDeflate option "zlibDeflateOptions" is ws\'s; here: use "level"');
    expect(() => resolveDeflateOptions({ concurrencyLimit: 4 } as never, false)).toThrow(
      'use "concurrency"',
    );
  });
});
