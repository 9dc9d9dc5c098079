/**
 * One read buffer for every plain TCP socket (issue 21).
 *
 * Node allocates a new buffer for every read of a socket: a malloc, the
 * stream machinery's `Buffer`, and the free a garbage collection later. On a
 * busy server that is the biggest cost left per read, and freeing thousands
 * of them at once is what sends glibc's heap through the trim-and-fault cycle
 * the server README describes. `net.connect({ onread })` lets a socket read
 * into a buffer its owner keeps instead, but only for sockets the caller
 * creates; a server's sockets come from `http.Server`. The same mechanism is
 * switched on here for a socket that already exists: its handle is given the
 * buffer (`useUserBuffer`, what `onread` calls) and the socket the two
 * properties `onread` would have set, found by name on a probe socket.
 *
 * The buffer is lent for the duration of one callback: the connection copies
 * each message out and anything it must keep (`Connection.receiveData`'s
 * `lent`). JavaScript runs one callback at a time and nothing reads a plain
 * TCP socket synchronously from inside another's callback, so one buffer
 * serves every socket of the process. TLS sockets are left alone: their
 * cleartext can be delivered from inside a write. Where Node does not have
 * what this needs, nothing changes: the socket's 'data' events carry its
 * input, as they do for TLS and HTTP/2 streams.
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { simdMaskArena } from '@proj/protocol';
import { bufferView } from './message-slab.js';

/**
 * Most bytes one read brings: twice Node's own 64 KiB, so that a 64 KiB
 * message and its header arrive in one read rather than two (issue 21: +11%
 * at 64 KiB with `lendMessages`, where the message is then lent as it lies
 * instead of gathered). uWebSockets.js reads up to 512 KiB; past 128 KiB
 * nothing more was measured at 64 KiB or 1 MiB. One read is also what a
 * connection may bring past the memory budget before it is paused (the
 * server README's "What is not counted").
 */
export const READ_SIZE = 128 * 1024;

/**
 * The buffer every lent read goes into, for as long as the process runs (the
 * handles keep its address). Where the protocol's SIMD mask kernel runs, it
 * is the kernel's arena (`simdMaskArena`): a client's masked payloads are
 * then unmasked where they were read and copied once, to the message, rather
 * than copied into the kernel's memory and out again.
 */
export const readBuffer: Buffer = makeReadBuffer();

function makeReadBuffer(): Buffer {
  const arena = simdMaskArena();
  if (arena === null || arena.bytes.length !== READ_SIZE) {
    return Buffer.allocUnsafeSlow(READ_SIZE);
  }
  const { bytes } = arena;
  return bufferView(bytes.buffer, bytes.byteOffset, bytes.length);
}

const readMemory = readBuffer.buffer;
const readOffset = readBuffer.byteOffset;

/**
 * The first `length` bytes of {@link readBuffer} as a plain `Uint8Array`,
 * which is what a read is handed on as: the parser takes a view of it per
 * frame, and a view of a `Buffer` goes through Node's `Buffer` subclass
 * constructor (V8's fast path is only for the built-in typed arrays).
 * Messages are copied out into `Buffer`s. Made with the constructor rather
 * than `subarray`, which V8 11.3 looks up through its generic load IC (see
 * `copyInto` in @proj/protocol's bytes.ts).
 */
export function readView(length: number): Uint8Array {
  return new Uint8Array(readMemory, readOffset, length);
}

/** Where a `net.Socket` keeps `onread`'s buffer and callback. */
interface ReadKeys {
  readonly buffer: symbol;
  readonly callback: symbol;
}

/** What this module touches of a socket's internals. */
type SocketInternals = Record<symbol, unknown> & {
  _handle?: { useUserBuffer?: (buffer: Uint8Array) => void } | null;
  encrypted?: boolean;
};

const keys = findReadKeys();

/**
 * Node's keys, or null when this Node does not have them as this module
 * expects (a plain socket starts with all three set to null).
 */
function findReadKeys(): ReadKeys | null {
  try {
    const probe = new net.Socket() as unknown as SocketInternals;
    const symbols = Object.getOwnPropertySymbols(probe);
    const named = (name: string) => symbols.find((symbol) => symbol.description === name);
    const buffer = named('kBuffer');
    const callback = named('kBufferCb');
    const generator = named('kBufferGen');
    if (buffer === undefined || callback === undefined || generator === undefined) return null;
    if (probe[buffer] !== null || probe[callback] !== null || probe[generator] !== null)
      return null;
    return { buffer, callback };
  } catch {
    return null;
  }
}

/**
 * Makes `socket` read into {@link readBuffer} and call `onRead` with the
 * length of each read (with the socket as `this`), instead of emitting
 * 'data'. Returns whether it did: only a plain TCP (or IPC) socket, not TLS,
 * not an HTTP/2 stream, not one already reading into a buffer of its own.
 * Anything the socket had already read still comes as 'data'.
 */
export function lendReads(socket: Duplex, onRead: (length: number) => void): boolean {
  if (keys === null || !(socket instanceof net.Socket)) return false;
  const internals = socket as unknown as SocketInternals;
  if (internals.encrypted === true || internals[keys.buffer] !== null) return false;
  const handle = internals._handle;
  if (handle == null || typeof handle.useUserBuffer !== 'function') return false;
  internals[keys.buffer] = readBuffer;
  internals[keys.callback] = onRead;
  handle.useUserBuffer(readBuffer);
  return true;
}
