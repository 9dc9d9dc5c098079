import { EMPTY, copyBytes, copyInto } from './bytes.js';
import {
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_PAYLOAD,
  Opcode,
  isControlOpcode,
} from './constants.js';
import { InvalidUtf8Error, PayloadTooBigError, PolicyError, ProtocolError } from './errors.js';
import type { FrameHeader } from './frame.js';
import type { FrameSink } from './frame-parser.js';
import { applyMask, maskInto, maskLentInto, unmaskLent } from './mask.js';
import { Utf8Validator } from './utf8.js';

/** Receives whole messages and control frames from a {@link MessageAssembler}. */
export interface MessageSink {
  /**
   * A complete data message. `data` may be a view into input chunks; text
   * has been validated as UTF-8 and is still bytes (decode with `decodeUtf8`).
   * `compressed`: the first frame had RSV1 set (permessage-deflate); `data`
   * is then still compressed and its UTF-8 is checked only once inflated.
   */
  onMessage(data: Uint8Array, binary: boolean, compressed: boolean): void;
  /** A ping, pong or close frame with its (at most 125-byte) payload. */
  onControlFrame(opcode: number, payload: Uint8Array): void;
}

/** Limits applied while assembling messages. */
export interface MessageLimits {
  /** Largest message in bytes, summed over fragments. Default 16 MiB. */
  maxPayload?: number;
  /** Most frames in one message. Default 131,072. */
  maxFragments?: number;
  /**
   * Makes the buffer a message is gathered into (every byte of it is written
   * before the message is handed out). Default `new Uint8Array(size)`, which
   * zero-fills first; on Node, `Buffer.allocUnsafe` skips that pass, and the
   * message is then a `Buffer` view.
   */
  allocate?: ((size: number) => Uint8Array) | undefined;
  /**
   * With lent input (`receiveData(chunk, true)`), hand out a message that
   * lies whole in one lent piece as a view of that piece, unmasked where it
   * lies, instead of copying it out: the sink must be done with it before
   * its `onMessage` returns, since the input's memory is then reused. A
   * message gathered across pieces, a compressed one (inflated later) and
   * one under {@link LEND_MIN} bytes are copied as without this. Default
   * `false`.
   */
  lendMessages?: boolean | undefined;
  /**
   * With `lendMessages` and lent input, where a message gathered from several
   * pieces (reads, or frames) is gathered when it is at least
   * {@link LentBuffers.min} bytes: a buffer
   * the I/O layer recycles, lent to the sink like a message that lay whole in
   * one piece, and given back once `onMessage` returned. Without it such
   * messages are gathered with `allocate`.
   */
  lentBuffers?: LentBuffers | undefined;
}

/**
 * Buffers an I/O layer recycles for lent messages gathered across pieces
 * ({@link MessageLimits.lentBuffers}).
 */
export interface LentBuffers {
  /**
   * The smallest message gathered into one of these, by its length declared
   * so far (the frame headers seen); smaller ones use `allocate`.
   */
  readonly min: number;
  /** A buffer of at least `size` bytes (its bytes need not be zeroed). */
  take(size: number): Uint8Array;
  /**
   * The assembler is done with `buffer`: the sink's `onMessage` returned, or
   * the message outgrew it. The I/O layer decides when it may be taken
   * again. (One whose message never ended, on a failure, is never given
   * back: it is garbage once the connection is.)
   */
  give(buffer: Uint8Array): void;
}

/**
 * The smallest message {@link MessageLimits.lendMessages} lends. Below it a
 * copy costs less than what lending saves: on Node a small message is a
 * slice of Node's pool, and echoing 16-byte messages lent was 3-4% slower
 * than copied (two servers on one core, issue 21).
 */
export const LEND_MIN = 64;

const allocateZeroed = (size: number): Uint8Array => new Uint8Array(size);

/**
 * Turns frames into messages: reassembles fragments (with control frames
 * interleaved, RFC 6455 §5.4), enforces the message-level rules and limits,
 * and validates text incrementally so bad UTF-8 fails as soon as it arrives.
 *
 * A message that arrives as one piece is handed out as a view, never copied,
 * unless the input is only lent ({@link MessageAssembler.lent}) and the
 * limits do not say to lend such messages on
 * ({@link MessageLimits.lendMessages}). Otherwise
 * its bytes are gathered into one buffer sized from the frame headers (grown
 * by doubling across fragments), so a message of many tiny fragments costs
 * one amortised copy and no per-fragment allocation.
 */
export class MessageAssembler implements FrameSink {
  readonly #sink: MessageSink;
  readonly #maxPayload: number;
  readonly #maxFragments: number;
  readonly #allocate: (size: number) => Uint8Array;
  readonly #lendMessages: boolean;
  readonly #lentBuffers: LentBuffers | undefined;
  readonly #utf8 = new Utf8Validator();

  // Current frame.
  #opcode = 0;
  #fin = false;
  #control = false;
  /** Made on the first control frame: most connections never see one, and idle ones cost less. */
  #controlBuffer: Uint8Array | undefined;
  #controlLength = 0;

  // Current data message.
  #inMessage = false;
  #binary = false;
  #compressed = false;
  #fragments = 0;
  /** Declared size so far: every started frame's full length. */
  #declared = 0;
  /** The message's only piece so far, kept as a view. */
  #first: Uint8Array | null = null;
  #buffer: Uint8Array = EMPTY;
  #length = 0;
  /** {@link #buffer} came from {@link MessageLimits.lentBuffers}. */
  #recycled = false;

  /**
   * Whether the pieces given now are only lent for the call, as when the I/O
   * layer reads every socket into one buffer it reuses: a message is then
   * copied out (unmasked on the way) instead of handed out as a view, unless
   * {@link MessageLimits.lendMessages} lends it on for the sink's call, and
   * no view is kept past the call. Set by the owner before each push; what
   * was gathered under either setting stays valid under the other.
   */
  lent = false;

  constructor(sink: MessageSink, limits: MessageLimits = {}) {
    this.#sink = sink;
    this.#maxPayload = limits.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.#maxFragments = limits.maxFragments ?? DEFAULT_MAX_FRAGMENTS;
    this.#allocate = limits.allocate ?? allocateZeroed;
    this.#lendMessages = limits.lendMessages === true;
    this.#lentBuffers = this.#lendMessages ? limits.lentBuffers : undefined;
  }

  /** Whether a fragmented message is in progress. */
  get inMessage(): boolean {
    return this.#inMessage;
  }

  /**
   * Bytes of the unfinished message held now: gathered into its buffer, or
   * kept as a view of an input chunk. The buffer's spare capacity is not
   * counted (allocated, not yet written: no resident memory on Node, except
   * in a recycled buffer from {@link MessageLimits.lentBuffers}, which the
   * I/O layer bounds). For a process-wide memory budget in the I/O layer.
   */
  get bufferedBytes(): number {
    const first = this.#first;
    return first === null ? this.#length : this.#length + first.length;
  }

  onFrameHeader(header: FrameHeader): void {
    const opcode = header.opcode;
    this.#opcode = opcode;
    this.#fin = header.fin;
    if (isControlOpcode(opcode)) {
      this.#control = true;
      this.#controlLength = 0;
      return;
    }
    this.#control = false;
    if (opcode === Opcode.Continuation) {
      if (!this.#inMessage) {
        throw new ProtocolError(
          'WS_ERR_UNEXPECTED_CONTINUATION',
          'Continuation frame with no message in progress',
        );
      }
      // RFC 7692 §6.1: RSV1 marks a compressed message on its first frame
      // only; "An endpoint MUST NOT set the "Per-Message Compressed" bit of
      // control frames and non-first fragments of a data message."
      if (header.rsv1) {
        throw new ProtocolError('WS_ERR_UNEXPECTED_RSV', 'RSV1 must be 0 on continuation frames');
      }
    } else {
      if (this.#inMessage) {
        throw new ProtocolError(
          'WS_ERR_EXPECTED_CONTINUATION',
          'New data frame before the fragmented message was finished',
        );
      }
      this.#inMessage = true;
      this.#binary = opcode === Opcode.Binary;
      this.#compressed = header.rsv1;
      this.#fragments = 0;
      this.#declared = 0;
      this.#utf8.reset();
    }
    if (++this.#fragments > this.#maxFragments) {
      throw new PolicyError(
        'WS_ERR_TOO_MANY_FRAGMENTS',
        `Message has more than ${this.#maxFragments} fragments`,
      );
    }
    // Decided from the header, before any of the payload is buffered.
    this.#declared += header.length;
    if (this.#declared > this.#maxPayload) {
      throw new PayloadTooBigError(`Message exceeds the ${this.#maxPayload}-byte limit`);
    }
  }

  onFramePayload(data: Uint8Array): void {
    if (this.#control) {
      copyInto((this.#controlBuffer ??= new Uint8Array(125)), data, this.#controlLength);
      this.#controlLength += data.length;
      return;
    }
    this.#check(data);
    if (this.#first === null && this.#length === 0) {
      if (!this.lent) {
        this.#first = data;
        return;
      }
      if (this.#fin && data.length === this.#declared) {
        this.#first = this.#lends(data.length) ? data : copyBytes(data, this.#allocate);
        return;
      }
    }
    this.#append(data);
  }

  /**
   * A masked piece: unmasked in place when it is the whole message (handed
   * out as a view), otherwise unmasked straight into the message buffer, so
   * a large message costs one pass over its bytes rather than an in-place
   * pass and a copy. Lent input in the SIMD kernel's arena is the exception
   * (`maskLentInto`): there the kernel's pass is in place and the copy the
   * only other one.
   */
  onMaskedFramePayload(data: Uint8Array, mask: Uint8Array, maskOffset: number): void {
    const length = data.length;
    if (this.#control) {
      const control = (this.#controlBuffer ??= new Uint8Array(125));
      maskInto(
        data,
        control.subarray(this.#controlLength, this.#controlLength + length),
        mask,
        maskOffset,
      );
      this.#controlLength += length;
      return;
    }
    if (this.#first === null && this.#length === 0 && this.#fin && length === this.#declared) {
      let message = data;
      if (this.lent) {
        if (this.#lends(length)) {
          unmaskLent(data, mask, maskOffset);
        } else {
          message = this.#allocate(length);
          maskLentInto(data, message, mask, maskOffset);
        }
      } else {
        applyMask(data, mask, maskOffset);
      }
      this.#check(message);
      this.#first = message;
      return;
    }
    this.#reserve(length);
    const target = this.#buffer.subarray(this.#length, this.#length + length);
    if (this.lent) maskLentInto(data, target, mask, maskOffset);
    else maskInto(data, target, mask, maskOffset);
    this.#check(target);
    this.#length += length;
  }

  /**
   * Whether the lent piece that is the whole current message, `length`
   * bytes, is handed out as it lies ({@link MessageLimits.lendMessages}).
   */
  #lends(length: number): boolean {
    return this.#lendMessages && !this.#compressed && length >= LEND_MIN;
  }

  /** Validates text as it arrives: bad UTF-8 fails the message at the first bad byte. */
  #check(data: Uint8Array): void {
    if (!this.#binary && !this.#compressed && !this.#utf8.push(data)) throw new InvalidUtf8Error();
  }

  onFrameEnd(): void {
    if (this.#control) {
      this.#control = false;
      const payload = this.#controlBuffer?.slice(0, this.#controlLength) ?? EMPTY;
      this.#sink.onControlFrame(this.#opcode, payload);
      return;
    }
    if (!this.#fin) return;
    if (!this.#binary && !this.#compressed && !this.#utf8.complete) throw new InvalidUtf8Error();
    const data =
      this.#first ?? (this.#length === 0 ? EMPTY : this.#buffer.subarray(0, this.#length));
    const binary = this.#binary;
    const recycled = this.#recycled ? this.#buffer : null;
    this.#inMessage = false;
    this.#first = null;
    this.#buffer = EMPTY;
    this.#length = 0;
    this.#recycled = false;
    if (recycled === null) {
      this.#sink.onMessage(data, binary, this.#compressed);
      return;
    }
    try {
      this.#sink.onMessage(data, binary, false);
    } finally {
      this.#lentBuffers!.give(recycled);
    }
  }

  #append(data: Uint8Array): void {
    this.#reserve(data.length);
    copyInto(this.#buffer, data, this.#length);
    this.#length += data.length;
  }

  /** Makes room for `more` bytes after what is gathered, moving the first view in. */
  #reserve(more: number): void {
    const first = this.#first;
    const needed = this.#length + (first ? first.length : 0) + more;
    if (needed > this.#buffer.length) {
      // The headers seen so far tell the size exactly for a single frame;
      // across fragments, double so the total copying stays linear.
      const capacity = Math.min(
        Math.max(this.#declared, this.#buffer.length * 2, needed),
        this.#maxPayload,
      );
      const size = Math.max(capacity, needed);
      const lentBuffers = this.#lentBuffers;
      const recycle =
        lentBuffers !== undefined &&
        this.lent &&
        !this.#compressed &&
        this.#declared >= lentBuffers.min;
      const grown = recycle ? lentBuffers.take(size) : this.#allocate(size);
      copyInto(grown, this.#buffer.subarray(0, this.#length));
      if (this.#recycled) lentBuffers!.give(this.#buffer);
      this.#buffer = grown;
      this.#recycled = recycle;
    }
    if (first) {
      copyInto(this.#buffer, first, this.#length);
      this.#length += first.length;
      this.#first = null;
    }
  }
}
