/**
 * A message as it arrived, before any parser saw it, and how failures show
 * one: what a failing test prints is the first thing read when it fails, so
 * text is quoted as JSON (quotes, escapes, invisible characters visible) and
 * long messages are cut with their full length stated.
 */

/** One message a peer received: text as a string, binary as a `Buffer` of its own (a copy). */
export type RawMessage =
  | { readonly isBinary: false; readonly data: string }
  | { readonly isBinary: true; readonly data: Buffer };

/** How much of a message a list of messages shows (characters of text). */
export const PREVIEW_LENGTH = 200;

/** How much of a malformed message its error shows (characters of text). */
export const RAW_TEXT_LENGTH = 2_000;

/** Bytes of a binary message shown, in hex. */
const PREVIEW_BYTES = 16;

/**
 * One line for a message: text as a JSON string literal, binary as its size
 * and first bytes; cut after `limit` characters, saying how long it was.
 */
export function previewMessage(message: RawMessage, limit = PREVIEW_LENGTH): string {
  if (message.isBinary) {
    const bytes = message.data;
    const shown = Array.from(bytes.subarray(0, PREVIEW_BYTES), (byte) =>
      byte.toString(16).padStart(2, '0'),
    ).join(' ');
    const more = bytes.length > PREVIEW_BYTES ? ' …' : '';
    return `<binary, ${bytes.length} bytes${bytes.length > 0 ? `: ${shown}${more}` : ''}>`;
  }
  const text = message.data;
  if (text.length <= limit) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, limit))} … (${text.length} characters in all)`;
}

/** One entry of a list of messages: its number on the connection and a note such as "taken". */
export interface ListedMessage {
  readonly number: number;
  readonly message: RawMessage;
  readonly note?: string | undefined;
}

/** Most messages listed in a failure; earlier ones are counted, not shown. */
export const LISTED_MESSAGES = 20;

/**
 * The messages as indented lines, the last {@link LISTED_MESSAGES} of them,
 * e.g. `  #2 (taken) {"type":"hello"}`.
 */
export function listMessages(messages: readonly ListedMessage[]): string {
  const shown = messages.slice(-LISTED_MESSAGES);
  const lines = shown.map(
    ({ number, message, note }) =>
      `  #${number}${note ? ` (${note})` : ''} ${previewMessage(message)}`,
  );
  const hidden = messages.length - shown.length;
  if (hidden > 0) lines.unshift(`  … ${hidden} earlier message${hidden === 1 ? '' : 's'}`);
  return lines.join('\n');
}

/** `1 message`, `2 messages`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * What a predicate looks for, for a failure message: its source text on one
 * line (an arrow function reads as what it checks), cut to 160 characters.
 */
export function describePredicate(predicate: (value: never) => unknown): string {
  const source = Function.prototype.toString.call(predicate).replace(/\s+/g, ' ').trim();
  return source.length <= 160 ? source : `${source.slice(0, 159)}…`;
}
