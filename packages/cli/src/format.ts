/**
 * How messages, close codes and addresses are written on a line. The message
 * format is part of the CLI's contract (README, `--help`): scripts parse it.
 * @packageDocumentation
 */
import { Buffer } from 'node:buffer';

/**
 * A received message as printed: `< text`, or `< [binary N bytes] <hex>`.
 * `from` (e.g. `#2`, the connection in `listen --mode print`) follows the `<`.
 */
export function formatMessage(data: string | Uint8Array, from?: string): string {
  const prefix = from === undefined ? '<' : `< ${from}`;
  if (typeof data === 'string') return `${prefix} ${data}`;
  const label = `${prefix} [binary ${data.byteLength} bytes]`;
  return data.byteLength === 0 ? label : `${label} ${toHex(data)}`;
}

/** Lower-case hex, two digits a byte, no separators. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** `1000`, or `4000 "reason"`: the reason quoted, so that control characters show. */
export function formatClose(code: number, reason: string): string {
  return reason === '' ? String(code) : `${code} ${JSON.stringify(reason)}`;
}

/** A host for a URL: an IPv6 literal in brackets. */
export function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** ` (subprotocol "chat", extensions "permessage-deflate")`, or `""` when neither was agreed. */
export function formatSession(protocol: string, extensions: string): string {
  const parts: string[] = [];
  if (protocol !== '') parts.push(`subprotocol ${JSON.stringify(protocol)}`);
  if (extensions !== '') parts.push(`extensions ${JSON.stringify(extensions)}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}
