import {
  MAX_CONTROL_PAYLOAD,
  MAX_HEADER_SIZE,
  isControlOpcode,
  isKnownOpcode,
} from './constants.js';
import { bufferOf, byteOffsetOf, copyBytes, copyInto } from './bytes.js';
import { PayloadTooBigError, ProtocolError } from './errors.js';
import type { FrameHeader } from './frame.js';
import { applyMask } from './mask.js';

/** Receives what {@link FrameParser} finds, synchronously and in order. */
export interface FrameSink {
  /** A complete, valid header. Throwing here fails the stream before any payload is read. */
  onFrameHeader(header: FrameHeader): void;
  /**
   * The next piece of the current frame's payload, already unmasked. It is a
   * view into the chunk given to {@link FrameParser.push}, valid until that
   * call returns; pieces of one frame arrive in order and sum to its length.
   */
  onFramePayload(data: Uint8Array): void;
  /**
   * Optional: takes a masked frame's payload pieces still masked, instead of
   * {@link onFramePayload}, to unmask them while copying them where they go
   * (one pass instead of an in-place pass and a copy). `maskOffset` is the
   * mask position of the piece's first byte. Same view rules as
   * {@link onFramePayload}; the sink may unmask the piece in place.
   */
  onMaskedFramePayload?(data: Uint8Array, mask: Uint8Array, maskOffset: number): void;
  /** The current frame's payload is complete (also called for empty frames). */
  onFrameEnd(): void;
}

/** Which frames a parser accepts. */
export interface FrameParserOptions {
  /**
   * `true` on a server: every frame must be masked. `false` on a client:
   * no frame may be (RFC 6455 §5.1).
   */
  expectMasked: boolean;
  /** RSV1 is allowed (an extension such as permessage-deflate was negotiated). */
  allowRsv1?: boolean;
  /**
   * Makes the copy of a lent chunk's unparsed rest kept by {@link
   * FrameParser.suspend} (see {@link FrameParser.push}). Default `new
   * Uint8Array(size)`; on Node, `Buffer.allocUnsafe`, so that what is later
   * handed out of the copy is a `Buffer` like the rest of the input.
   */
  allocate?: ((size: number) => Uint8Array) | undefined;
}

const READ_HEADER = 0;
const READ_PAYLOAD = 1;

/**
 * An incremental frame parser: bytes in, in chunks of any size, and header /
 * payload / end callbacks out. It checks every per-frame rule of RFC 6455
 * §5.2-5.5 and throws a {@link ProtocolError} at the first byte that breaks
 * one; message-level rules live in the message assembler.
 *
 * Only a partial header (at most {@link MAX_HEADER_SIZE} bytes) is ever copied across chunks;
 * payloads are unmasked in place and handed out as views. `push` therefore
 * takes ownership of the chunk and may modify it.
 *
 * After it throws, the parser's state is undefined: stop feeding it
 * (RFC 6455 §7.1.7 says to discard all further input).
 */
export class FrameParser<Sink extends FrameSink = FrameSink> {
  readonly #sink: Sink;
  readonly #expectMasked: boolean;
  readonly #allocate: ((size: number) => Uint8Array) | undefined;
  #allowRsv1: boolean;

  #state = READ_HEADER;
  /**
   * Header bytes carried over from an earlier chunk; made the first time a
   * header spans two chunks, which most connections never see.
   */
  #spill: Uint8Array | undefined;
  #spillLength = 0;
  /** Payload bytes of the current frame not yet seen. */
  #remaining = 0;
  /** The current frame's masking key; made with the first masked frame (an idle connection has none). */
  #mask: Uint8Array | undefined;
  #masked = false;
  #maskOffset = 0;
  #halted = false;
  #suspended = false;
  /** The rest of the chunk that was being parsed when {@link suspend} was called. */
  #rest: Uint8Array | null = null;

  constructor(sink: Sink, options: FrameParserOptions) {
    this.#sink = sink;
    this.#expectMasked = options.expectMasked;
    this.#allowRsv1 = options.allowRsv1 ?? false;
    this.#allocate = options.allocate;
  }

  /** The sink it was made with. */
  get sink(): Sink {
    return this.#sink;
  }

  /** Allows or forbids RSV1 from now on (set once an extension is negotiated). */
  set allowRsv1(value: boolean) {
    this.#allowRsv1 = value;
  }

  /**
   * Stops parsing for good: the rest of the chunk being pushed and every later
   * chunk are ignored. For a connection that failed or received a close frame
   * (RFC 6455 §7.1.7: "MUST NOT continue to attempt to process data").
   */
  halt(): void {
    this.#halted = true;
  }

  /**
   * Stops parsing after the current callback returns, keeping the rest of the
   * chunk for {@link resume}. The connection does this while an asynchronous
   * step (inflating a compressed message) must finish before the next frame.
   */
  suspend(): void {
    this.#suspended = true;
  }

  /**
   * Continues after {@link suspend}, synchronously, with the rest of the
   * chunk that was being parsed. Throws as {@link push}.
   */
  resume(): void {
    this.#suspended = false;
    const rest = this.#rest;
    this.#rest = null;
    if (rest !== null) this.push(rest);
  }

  /** Whether the parser stopped between frames (no partial header or payload pending). */
  get atFrameBoundary(): boolean {
    return this.#state === READ_HEADER && this.#spillLength === 0;
  }

  /**
   * Parses the next chunk of the byte stream. With `lent`, the chunk is only
   * lent for the call (the I/O layer reads into the same buffer again): what
   * {@link suspend} keeps of it is copied. The sink is told nothing: it must
   * know as well (`MessageAssembler.lent`).
   * @throws {ProtocolError} when a frame breaks a rule of RFC 6455.
   * @throws {PayloadTooBigError} for a 64-bit length beyond 2^53 bytes.
   * Anything the sink throws propagates unchanged.
   */
  push(chunk: Uint8Array, lent = false): void {
    const length = chunk.length;
    let offset = 0;
    // Where a lent chunk lies in its memory, read once per chunk: its pieces
    // are made with the constructor, about a third of `subarray`'s cost
    // (see `copyInto` in bytes.ts). A lent piece is copied before `push`
    // returns, or lent on only for the sink's call (`lendMessages`), so a
    // plain `Uint8Array` serves; the pieces of a chunk that is
    // not lent may become messages, and keep `subarray`'s type (a `Buffer`'s
    // pieces are `Buffer`s).
    let memory: ArrayBufferLike | null = null;
    let base = 0;
    while (offset < length && !this.#halted) {
      if (this.#suspended) {
        const rest = chunk.subarray(offset);
        this.#rest = lent ? copyBytes(rest, this.#allocate) : rest;
        return;
      }
      if (this.#state === READ_HEADER) {
        offset = this.#readHeader(chunk, offset);
      } else {
        const take = Math.min(this.#remaining, length - offset);
        let piece: Uint8Array;
        if (lent) {
          if (memory === null) {
            memory = bufferOf(chunk);
            base = byteOffsetOf(chunk);
          }
          piece = new Uint8Array(memory, base + offset, take);
        } else {
          piece = chunk.subarray(offset, offset + take);
        }
        offset += take;
        this.#remaining -= take;
        if (!this.#masked) {
          this.#sink.onFramePayload(piece);
        } else if (this.#sink.onMaskedFramePayload) {
          const maskOffset = this.#maskOffset;
          this.#maskOffset = (maskOffset + take) & 3;
          this.#sink.onMaskedFramePayload(piece, this.#mask!, maskOffset);
        } else {
          this.#maskOffset = applyMask(piece, this.#mask!, this.#maskOffset);
          this.#sink.onFramePayload(piece);
        }
        if (this.#remaining === 0) this.#endFrame();
      }
    }
  }

  /** Reads a header starting at `offset`; returns the new offset. */
  #readHeader(chunk: Uint8Array, offset: number): number {
    const available = chunk.length - offset;
    if (this.#spillLength === 0 && available >= 2) {
      const size = headerSize(chunk[offset + 1]!);
      // Fast path: the whole header lies in this chunk; parse it in place.
      if (available >= size) {
        this.#parseHeader(chunk, offset);
        return offset + size;
      }
    }
    // Slow path: gather the header in the spill buffer across chunks.
    const spill = (this.#spill ??= new Uint8Array(MAX_HEADER_SIZE));
    if (this.#spillLength < 2) {
      const take = Math.min(2 - this.#spillLength, available);
      copyInto(spill, chunk.subarray(offset, offset + take), this.#spillLength);
      this.#spillLength += take;
      offset += take;
      if (this.#spillLength < 2) return offset;
    }
    const size = headerSize(spill[1]!);
    const take = Math.min(size - this.#spillLength, chunk.length - offset);
    copyInto(spill, chunk.subarray(offset, offset + take), this.#spillLength);
    this.#spillLength += take;
    offset += take;
    if (this.#spillLength === size) {
      this.#spillLength = 0;
      this.#parseHeader(spill, 0);
    }
    return offset;
  }

  /** Validates a complete header at `bytes[offset]` and starts its payload. */
  #parseHeader(bytes: Uint8Array, offset: number): void {
    const first = bytes[offset]!;
    const second = bytes[offset + 1]!;
    const fin = (first & 0x80) !== 0;
    const rsv1 = (first & 0x40) !== 0;
    const rsv2 = (first & 0x20) !== 0;
    const rsv3 = (first & 0x10) !== 0;
    const opcode = first & 0x0f;
    const masked = (second & 0x80) !== 0;
    let length = second & 0x7f;

    // "MUST be 0 unless an extension is negotiated that defines meanings for
    // non-zero values" (RFC 6455 §5.2).
    if ((rsv1 && !this.#allowRsv1) || rsv2 || rsv3) {
      throw new ProtocolError('WS_ERR_UNEXPECTED_RSV', 'Reserved bits must be 0');
    }
    if (!isKnownOpcode(opcode)) {
      throw new ProtocolError('WS_ERR_INVALID_OPCODE', `Invalid opcode ${opcode}`);
    }
    const control = isControlOpcode(opcode);
    if (control) {
      // "All control frames MUST have a payload length of 125 bytes or less
      // and MUST NOT be fragmented" (RFC 6455 §5.5).
      if (!fin)
        throw new ProtocolError('WS_ERR_EXPECTED_FIN', 'Control frames must not be fragmented');
      if (length > MAX_CONTROL_PAYLOAD) {
        throw new ProtocolError(
          'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
          'Control frame payloads must not exceed 125 bytes',
        );
      }
      if (rsv1)
        throw new ProtocolError('WS_ERR_UNEXPECTED_RSV', 'RSV1 must be 0 on control frames');
    }
    if (masked !== this.#expectMasked) {
      throw this.#expectMasked
        ? new ProtocolError('WS_ERR_EXPECTED_MASK', 'Frames from a client must be masked')
        : new ProtocolError('WS_ERR_UNEXPECTED_MASK', 'Frames from a server must not be masked');
    }

    let cursor = offset + 2;
    if (length === 126) {
      length = (bytes[cursor]! << 8) | bytes[cursor + 1]!;
      cursor += 2;
    } else if (length === 127) {
      const high = readUint32(bytes, cursor);
      const low = readUint32(bytes, cursor + 4);
      cursor += 8;
      // "the most significant bit MUST be 0" (RFC 6455 §5.2).
      if (high >= 0x8000_0000) {
        throw new ProtocolError(
          'WS_ERR_INVALID_PAYLOAD_LENGTH',
          'The most significant bit of a 64-bit payload length must be 0',
        );
      }
      if (high > 0x1f_ffff) {
        throw new PayloadTooBigError('Payload length exceeds 2^53 - 1 bytes');
      }
      length = high * 0x1_0000_0000 + low;
    }
    if (masked) {
      const mask = (this.#mask ??= new Uint8Array(4));
      mask[0] = bytes[cursor]!;
      mask[1] = bytes[cursor + 1]!;
      mask[2] = bytes[cursor + 2]!;
      mask[3] = bytes[cursor + 3]!;
    }
    this.#masked = masked;
    this.#maskOffset = 0;
    this.#remaining = length;

    this.#sink.onFrameHeader({ fin, rsv1, rsv2, rsv3, opcode, masked, length });
    if (length === 0) {
      this.#sink.onFrameEnd();
    } else {
      this.#state = READ_PAYLOAD;
    }
  }

  #endFrame(): void {
    this.#state = READ_HEADER;
    this.#sink.onFrameEnd();
  }
}

/** Header size implied by the second header byte (mask bit and 7-bit length). */
function headerSize(second: number): number {
  const length = second & 0x7f;
  const base = length < 126 ? 2 : length === 126 ? 4 : 10;
  return second & 0x80 ? base + 4 : base;
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset]! << 24) |
      (bytes[offset + 1]! << 16) |
      (bytes[offset + 2]! << 8) |
      bytes[offset + 3]!) >>>
    0
  );
}
