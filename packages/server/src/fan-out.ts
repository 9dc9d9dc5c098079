import { Opcode, encodeFrame } from '@proj/protocol';

/** Writes a frame encoded once for many to one recipient; returns whether it was written. */
export type WriteFrame<Recipient> = (recipient: Recipient, frame: readonly Uint8Array[]) => boolean;

/**
 * Frames `payload` once and writes the same bytes to every recipient that
 * `skip` does not exclude: the cost of one more recipient is a socket write,
 * not an encoding. Shared by `broadcast` and topic delivery.
 * @returns how many recipients it was written to.
 */
export function fanOut<Recipient>(
  payload: Uint8Array,
  binary: boolean,
  recipients: Iterable<Recipient>,
  write: WriteFrame<Recipient>,
  skip?: (recipient: Recipient) => boolean,
): number {
  const frame = encodeFrame(binary ? Opcode.Binary : Opcode.Text, payload);
  let sent = 0;
  for (const recipient of recipients) {
    if (skip?.(recipient)) continue;
    if (write(recipient, frame)) sent++;
  }
  return sent;
}
