/**
 * How a peer turns each message it receives into the value a test reads:
 * JSON by default, or text, or the raw message, or your function, or any
 * Standard Schema validator (applied to the message's JSON). A message the
 * parser refuses is malformed: the test fails on it, showing the raw text.
 */
import type { RawMessage } from './raw-message.js';
import {
  type InferOutput,
  type StandardSchemaV1,
  type StandardSchemaV1Issue,
  isStandardSchema,
} from './standard-schema.js';

/**
 * Your own parser: returns (or resolves to) the value, throws (or rejects)
 * when the message is malformed; the error's message becomes the failure's.
 */
export type MessageParser<T> = (message: RawMessage) => T | Promise<T>;

/**
 * How a peer reads messages:
 * - `'json'` (the default): text parsed with `JSON.parse`, typed `unknown`;
 *   binary messages and text that is not JSON are malformed.
 * - `'text'`: the text as a `string`; binary messages are malformed.
 * - `'raw'`: the {@link RawMessage} itself, text or binary; never malformed.
 * - a Standard Schema (zod, valibot, arktype...): text parsed as JSON, then
 *   validated; the schema's output type is the messages' type.
 * - a {@link MessageParser} function.
 */
export type ParseOption = 'json' | 'text' | 'raw' | StandardSchemaV1 | MessageParser<unknown>;

/** The type of the messages a {@link ParseOption} gives. */
export type Parsed<P> = P extends 'json'
  ? unknown
  : P extends 'text'
    ? string
    : P extends 'raw'
      ? RawMessage
      : P extends StandardSchemaV1
        ? InferOutput<P>
        : P extends MessageParser<infer T>
          ? T
          : never;

/** What parsing one message gave: its value, or why it is malformed. */
export type ParseOutcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issues: readonly string[]; readonly cause?: unknown };

/** A parser in the one shape peers use. Synchronous parsers answer synchronously. */
export type Parse<T> = (message: RawMessage) => ParseOutcome<T> | Promise<ParseOutcome<T>>;

/**
 * The parser an option names.
 * @throws {TypeError} for anything that is not a {@link ParseOption}.
 */
export function parserFor<P extends ParseOption>(option: P): Parse<Parsed<P>> {
  return parserOf(option) as Parse<Parsed<P>>;
}

function parserOf(option: unknown): Parse<unknown> {
  // Before the function check: arktype's schemas are callable.
  if (isStandardSchema(option)) return schemaParser(option);
  if (typeof option === 'function') return functionParser(option as MessageParser<unknown>);
  switch (option) {
    case 'json':
      return parseJson;
    case 'text':
      return parseText;
    case 'raw':
      return (message) => ({ ok: true, value: message });
  }
  throw new TypeError(
    `The "parse" option must be "json", "text", "raw", a Standard Schema or a function, got ${
      typeof option === 'string' ? JSON.stringify(option) : String(option)
    }`,
  );
}

const parseText = (message: RawMessage): ParseOutcome<string> =>
  message.isBinary
    ? {
        ok: false,
        issues: [`a binary message (${message.data.length} bytes) where text was expected`],
      }
    : { ok: true, value: message.data };

const parseJson = (message: RawMessage): ParseOutcome<unknown> => {
  if (message.isBinary) {
    return {
      ok: false,
      issues: [`a binary message (${message.data.length} bytes) where JSON text was expected`],
    };
  }
  try {
    return { ok: true, value: JSON.parse(message.data) as unknown };
  } catch (error) {
    return { ok: false, issues: [`not JSON: ${(error as Error).message}`], cause: error };
  }
};

function schemaParser(schema: StandardSchemaV1): Parse<unknown> {
  return (message) => {
    const json = parseJson(message);
    if (!json.ok) return json;
    try {
      const result = schema['~standard'].validate(json.value);
      return isPromiseLike(result)
        ? Promise.resolve(result).then(fromSchemaResult).catch(thrown)
        : fromSchemaResult(result);
    } catch (error) {
      return thrown(error);
    }
  };
}

function fromSchemaResult(
  result: Awaited<ReturnType<StandardSchemaV1['~standard']['validate']>>,
): ParseOutcome<unknown> {
  return result.issues === undefined
    ? { ok: true, value: result.value }
    : { ok: false, issues: result.issues.map(describeIssue) };
}

/** `text: Expected string, received number`; an issue without a path reads as it is. */
function describeIssue(issue: StandardSchemaV1Issue): string {
  const path = (issue.path ?? [])
    .map((segment) => (typeof segment === 'object' ? segment.key : segment))
    .map(String)
    .join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

function functionParser(parse: MessageParser<unknown>): Parse<unknown> {
  return (message) => {
    try {
      const value = parse(message);
      return isPromiseLike(value)
        ? Promise.resolve(value).then(succeeded).catch(thrown)
        : succeeded(value);
    } catch (error) {
      return thrown(error);
    }
  };
}

function succeeded(value: unknown): ParseOutcome<unknown> {
  return { ok: true, value };
}

/** A promise, or anything that behaves as one (from another realm, or a library's own). */
function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function thrown(error: unknown): ParseOutcome<never> {
  const text = error instanceof Error ? error.message : String(error);
  return { ok: false, issues: [text], cause: error };
}
