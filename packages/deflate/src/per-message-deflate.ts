import { Buffer } from 'node:buffer';
import process from 'node:process';
import * as zlib from 'node:zlib';
import {
  type DeflateConfig,
  type DeflateParams,
  InvalidCompressedDataError,
  PayloadTooBigError,
  booleanOption,
  checkWindowBits,
  integerOption,
  knownOptions,
  optionError,
} from '@proj/protocol';
import { type IdleReleasable, type IdleSweeper, sharedIdleSweeper } from './idle-sweeper.js';
import { type Limiter, sharedLimiter } from './limiter.js';

/** The empty stored block that ends every sync flush (RFC 7692 §7.2.1). */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * zlib refuses an 8-bit window for raw deflate and Node raises it to 9; a
 * peer told "8" may therefore use 9 as well. Inflating with 9 reads both.
 */
const ZLIB_MIN_WINDOW_BITS = 9;

/** Options of permessage-deflate, shared by `@proj/server` and `@proj/client`. */
export interface DeflateOptions extends DeflateConfig {
  /**
   * Messages smaller than this many bytes are sent uncompressed: below about
   * a kilobyte deflate saves little and costs a zlib round trip. Default 1024.
   */
  threshold?: number | undefined;
  /** zlib compression level, 0-9 (or -1 for zlib's default, 6). Default 1: fast. */
  level?: number | undefined;
  /**
   * zlib memLevel, 1-9: the compressor's hash table is 2^(memLevel + 9) bytes
   * and its window 2^(windowBits + 2). Default 8 (zlib's default).
   */
  memLevel?: number | undefined;
  /**
   * The LZ77 window this side compresses with, 9-15 (2^bits bytes), capped by
   * what the handshake allowed. Not negotiated: a compressor may always use
   * less window than the peer accepts, so this only saves memory. Default 13
   * (8 KiB): the compressor then takes about half the memory of a 15-bit one,
   * and on messages of a few KiB the ratio is within 1% of it.
   */
  windowBits?: number | undefined;
  /**
   * Milliseconds a compressor may sit unused before its zlib context is
   * released (0: keep it until the connection closes). Always valid, even
   * with context takeover: the next message simply starts a fresh context,
   * which the peer's inflater reads like any other. The inflate context is
   * kept (the peer may refer back to earlier messages) unless the peer resets
   * per message, in which case it is already released after each message.
   * Default 10,000.
   */
  idleRelease?: number | undefined;
  /**
   * Most zlib jobs in flight at once, shared by every connection configured
   * with the same value (see {@link Limiter}). Default 10.
   */
  concurrency?: number | undefined;
}

/** {@link DeflateOptions} with defaults applied and values checked. */
export interface ResolvedDeflateOptions {
  readonly threshold: number;
  readonly level: number;
  readonly memLevel: number;
  readonly windowBits: number;
  readonly concurrency: number;
  readonly idleRelease: number;
  readonly config: DeflateConfig;
}

/** Defaults of {@link DeflateOptions}. */
export const DEFLATE_DEFAULTS = {
  threshold: 1024,
  level: 1,
  memLevel: 8,
  windowBits: 13,
  concurrency: 10,
  idleRelease: 10_000,
} as const;

/**
 * Applies defaults to a `perMessageDeflate` option: `true` or an object turns
 * compression on, `false` off, `undefined` means `enabledByDefault`.
 * @returns `null` when compression is off.
 * @throws {TypeError} for a value of the wrong type; {@link RangeError} for
 *   a number that is not an integer in range (the wording of `@proj/protocol`'s
 *   option validators).
 */
export function resolveDeflateOptions(
  value: boolean | DeflateOptions | undefined,
  enabledByDefault: boolean,
): ResolvedDeflateOptions | null {
  if (value === undefined) value = enabledByDefault;
  if (value === false) return null;
  if (value === true) value = {};
  if (typeof value !== 'object' || value === null) {
    throw optionError(TypeError, 'perMessageDeflate', 'a boolean or an object', value);
  }
  knownOptions('perMessageDeflate', value, DEFLATE_OPTION_NAMES, WS_DEFLATE_OPTIONS);
  const int = (name: keyof DeflateOptions, fallback: number, min: number, max?: number): number =>
    integerOption(`perMessageDeflate.${name}`, value[name] ?? fallback, { min, max });
  const bool = (name: keyof DeflateConfig): boolean | undefined =>
    value[name] === undefined ? undefined : booleanOption(`perMessageDeflate.${name}`, value[name]);
  const bits = (name: 'serverMaxWindowBits' | 'clientMaxWindowBits'): number | undefined =>
    value[name] === undefined
      ? undefined
      : checkWindowBits(`perMessageDeflate.${name}`, value[name]);
  return {
    threshold: int('threshold', DEFLATE_DEFAULTS.threshold, 0),
    level: int('level', DEFLATE_DEFAULTS.level, -1, 9),
    memLevel: int('memLevel', DEFLATE_DEFAULTS.memLevel, 1, 9),
    windowBits: int('windowBits', DEFLATE_DEFAULTS.windowBits, ZLIB_MIN_WINDOW_BITS, 15),
    concurrency: integerOption(
      'perMessageDeflate.concurrency',
      value.concurrency ?? DEFLATE_DEFAULTS.concurrency,
      { min: 1, orInfinity: true },
    ),
    // Up to 2^31 - 1: the most setInterval takes.
    idleRelease: int('idleRelease', DEFLATE_DEFAULTS.idleRelease, 0, 0x7fffffff),
    config: {
      serverNoContextTakeover: bool('serverNoContextTakeover'),
      clientNoContextTakeover: bool('clientNoContextTakeover'),
      serverMaxWindowBits: bits('serverMaxWindowBits'),
      clientMaxWindowBits: bits('clientMaxWindowBits'),
    },
  };
}

/** Every key of {@link DeflateOptions}. */
const DEFLATE_OPTION_NAMES = [
  'threshold',
  'level',
  'memLevel',
  'windowBits',
  'idleRelease',
  'concurrency',
  'serverNoContextTakeover',
  'clientNoContextTakeover',
  'serverMaxWindowBits',
  'clientMaxWindowBits',
] as const satisfies readonly (keyof DeflateOptions)[];

/** ws's `perMessageDeflate` keys that are spelt differently here, and what to use. */
const WS_DEFLATE_OPTIONS: Readonly<Record<string, string>> = {
  zlibDeflateOptions: 'use "level", "memLevel" and "windowBits" directly',
  zlibInflateOptions: 'inflating uses the negotiated window and needs no settings; remove it',
  concurrencyLimit: 'use "concurrency"',
};

/** What a {@link PerMessageDeflate} is built from. */
export interface PerMessageDeflateInit {
  /** What the handshake settled. */
  params: DeflateParams;
  /** Our role: a server compresses with the server_* parameters, a client with the client_* ones. */
  isServer: boolean;
  /** Largest message accepted, counted in inflated bytes. */
  maxPayload: number;
  /** Resolved options; the defaults when omitted. */
  options?: ResolvedDeflateOptions | undefined;
  /** The limiter to run zlib jobs through; the shared one for `options.concurrency` by default. */
  limiter?: Limiter | undefined;
}

/** Called with the result of a (de)compression, or the error that prevented it. */
export type DeflateCallback = (error: Error | null, result?: Buffer) => void;

/**
 * permessage-deflate for one connection (RFC 7692 §7) over `node:zlib`:
 * raw DEFLATE with the negotiated window sizes, the `00 00 ff ff` tail
 * removed from what it compresses and restored before inflating, and the
 * context kept or dropped per message as negotiated.
 *
 * Memory: a zlib context is created on first use and released on
 * {@link close}; without context takeover it is also released after each
 * message, so an idle connection holds none, and the compressor's context is
 * released after `idleRelease` ms without use. It compresses with a window of
 * at most `windowBits`. Every job runs through a {@link Limiter} shared with
 * other connections. Messages compress one at a time, in the order given, and
 * callbacks run in that order.
 */
export class PerMessageDeflate implements IdleReleasable {
  readonly threshold: number;
  /** The window the compressor uses, in bits (the negotiated one or less). */
  readonly windowBits: number;
  readonly #options: ResolvedDeflateOptions;
  readonly #limiter: Limiter;
  readonly #maxPayload: number;
  /** Context takeover for what we send; window and takeover for what we receive. */
  readonly #sendReset: boolean;
  readonly #receiveBits: number;
  readonly #receiveReset: boolean;

  #deflate: zlib.DeflateRaw | null = null;
  #inflate: zlib.InflateRaw | null = null;
  /** Compressions waiting for the previous one of this connection, oldest first. */
  #compressQueue: { data: Uint8Array; callback: DeflateCallback }[] = [];
  #compressing = false;
  #closed = false;
  #inflated = 0;
  /** Watches the compressor while it holds a context with takeover; null when never released. */
  readonly #sweeper: IdleSweeper | null;
  #lastUsed = -1;

  constructor(init: PerMessageDeflateInit) {
    const options = init.options ?? resolveDeflateOptions(true, true)!;
    this.#options = options;
    this.threshold = options.threshold;
    this.#limiter = init.limiter ?? sharedLimiter(options.concurrency);
    this.#maxPayload = init.maxPayload;
    const { params } = init;
    const server = init.isServer;
    this.windowBits = Math.max(
      Math.min(
        server ? params.serverMaxWindowBits : params.clientMaxWindowBits,
        options.windowBits,
      ),
      ZLIB_MIN_WINDOW_BITS,
    );
    this.#sendReset = server ? params.serverNoContextTakeover : params.clientNoContextTakeover;
    this.#sweeper =
      options.idleRelease > 0 && !this.#sendReset ? sharedIdleSweeper(options.idleRelease) : null;
    this.#receiveBits = Math.max(
      server ? params.clientMaxWindowBits : params.serverMaxWindowBits,
      ZLIB_MIN_WINDOW_BITS,
    );
    this.#receiveReset = server ? params.clientNoContextTakeover : params.serverNoContextTakeover;
  }

  /** Bytes inflated over this connection's life (diagnostics and tests). */
  get inflatedBytes(): number {
    return this.#inflated;
  }

  /**
   * `Date.now()` when the compressor last finished, or -1 while it works or
   * holds no context. Read by the idle sweeper.
   */
  get lastUsed(): number {
    return this.#lastUsed;
  }

  /** Releases the compressor's context if it is not working; called by the idle sweeper. */
  releaseIdle(): void {
    if (!this.#compressing) this.#releaseDeflate();
  }

  /** Whether a zlib context is held, for compressing and for inflating. */
  get contexts(): { deflate: boolean; inflate: boolean } {
    return { deflate: this.#deflate !== null, inflate: this.#inflate !== null };
  }

  /**
   * Compresses one whole message; the result lacks the `00 00 ff ff` tail,
   * ready to send with RSV1. Calls back asynchronously, in call order.
   */
  compress(data: Uint8Array, callback: DeflateCallback): void {
    this.#compressQueue.push({ data, callback });
    if (!this.#compressing) this.#nextCompress();
  }

  #nextCompress(): void {
    const job = this.#compressQueue.shift();
    if (!job) {
      this.#compressing = false;
      if (this.#deflate !== null) this.#lastUsed = Date.now();
      return;
    }
    this.#compressing = true;
    this.#lastUsed = -1;
    this.#limiter.add((done) => {
      if (this.#closed) {
        done();
        job.callback(new Error('The connection is closed'));
        this.#nextCompress();
        return;
      }
      let deflate = this.#deflate;
      if (deflate === null) {
        deflate = this.#deflate = zlib.createDeflateRaw({
          level: this.#options.level,
          memLevel: this.#options.memLevel,
          windowBits: this.windowBits,
        });
        this.#sweeper?.add(this);
      }
      const chunks: Buffer[] = [];
      let length = 0;
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        length += chunk.length;
      };
      deflate.on('data', onData);
      deflate.write(job.data);
      deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        deflate.off('data', onData);
        done();
        if (this.#closed || this.#deflate !== deflate) {
          job.callback(new Error('The connection is closed'));
        } else {
          let out = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
          // "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail end" (§7.2.1).
          if (out.length >= 4 && endsWithTail(out)) out = out.subarray(0, out.length - 4);
          if (this.#sendReset) this.#releaseDeflate();
          job.callback(null, out);
        }
        this.#nextCompress();
      });
    });
  }

  /**
   * Inflates one whole message (its tail restored here). Fails with a
   * {@link PayloadTooBigError} (1009) as soon as the output passes
   * `maxPayload`, having inflated at most one zlib chunk (16 KiB) past it;
   * with an {@link InvalidCompressedDataError} (1007) for data that does
   * not inflate. Calls back asynchronously. One message at a time: the
   * connection pauses parsing until the callback.
   */
  decompress(data: Uint8Array, callback: DeflateCallback): void {
    this.#limiter.add((done) => {
      if (this.#closed) {
        done();
        callback(new Error('The connection is closed'));
        return;
      }
      const inflate = (this.#inflate ??= zlib.createInflateRaw({ windowBits: this.#receiveBits }));
      const chunks: Buffer[] = [];
      let length = 0;
      let failure: Error | null = null;
      let finished = false;
      // The message ended its DEFLATE stream with a BFINAL block (RFC 7692
      // §7.2.3.4 allows it): zlib reads nothing more from this context, so
      // the next message needs a fresh one.
      let streamEnded = false;
      const onEnd = (): void => {
        streamEnded = true;
      };
      const finish = (): void => {
        if (finished) return;
        finished = true;
        inflate.off('data', onData);
        inflate.off('error', onError);
        inflate.off('end', onEnd);
        inflate.off('close', finish);
        done();
        if (failure || this.#closed) {
          // A failed or interrupted context cannot serve the next message.
          this.#releaseInflate();
          callback(failure ?? new Error('The connection is closed'));
          return;
        }
        if (this.#receiveReset || streamEnded || inflate.readableEnded) this.#releaseInflate();
        callback(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length));
      };
      const onData = (chunk: Buffer): void => {
        this.#inflated += chunk.length;
        length += chunk.length;
        if (length > this.#maxPayload) {
          failure ??= new PayloadTooBigError(`Message exceeds the ${this.#maxPayload}-byte limit`);
          // Stop at once: the rest of the input is never expanded (a
          // decompression bomb costs at most one zlib chunk past the limit).
          this.#releaseInflate();
          return;
        }
        chunks.push(chunk);
      };
      const onError = (error: Error): void => {
        failure ??= new InvalidCompressedDataError(error.message, { cause: error });
      };
      inflate.on('data', onData);
      inflate.on('error', onError);
      inflate.on('end', onEnd);
      // Destroyed (by an error or by the limit above): no flush callback may come.
      inflate.once('close', finish);
      inflate.write(data);
      inflate.write(TAIL);
      inflate.flush(finish);
    });
  }

  /** Releases both zlib contexts; later jobs fail. Call when the connection closes. */
  close(): void {
    this.#closed = true;
    this.#releaseDeflate();
    this.#releaseInflate();
    const queued = this.#compressQueue;
    this.#compressQueue = [];
    for (const job of queued) process.nextTick(job.callback, new Error('The connection is closed'));
  }

  #releaseDeflate(): void {
    if (this.#deflate === null) return;
    this.#deflate.close();
    this.#deflate = null;
    this.#lastUsed = -1;
    this.#sweeper?.delete(this);
  }

  #releaseInflate(): void {
    this.#inflate?.close();
    this.#inflate = null;
  }
}

function endsWithTail(out: Buffer): boolean {
  const n = out.length;
  return out[n - 4] === 0x00 && out[n - 3] === 0x00 && out[n - 2] === 0xff && out[n - 1] === 0xff;
}
