/**
 * @proj/testing: a real `@proj/server` that tests script. Start one per test
 * ({@link startTestServer}), point the code under test at its `url`, take
 * each connection as a {@link ScriptedPeer}, and send, expect, close, drop or
 * stall from the server's side. Works with any test runner; the Playwright
 * fixture is the separate entry `@proj/testing/playwright`.
 * @packageDocumentation
 */
export {
  DEFAULT_TIMEOUT,
  type RefusedHandshake,
  type StopOptions,
  type TestServer,
  type TestServerOptions,
  type WaitForConnectionOptions,
  type WebSocketServerOptions,
  startTestServer,
} from './test-server.js';
export type { NextMessageOptions, ScriptedPeer, WaitOptions } from './scripted-peer.js';
export type { PeerClose } from './recorded-connection.js';
export type { RawMessage } from './raw-message.js';
export type { MessageParser, ParseOption, Parsed } from './parsers.js';
export { type PageFile, servePages } from './pages.js';
export {
  type Expectation,
  MalformedMessageError,
  type MalformedMessageInit,
  PeerClosedError,
  ServerClosedError,
  TestingError,
  type TestingErrorCode,
  WaitTimeoutError,
} from './errors.js';
export type {
  InferOutput,
  StandardSchemaV1,
  StandardSchemaV1FailureResult,
  StandardSchemaV1Issue,
  StandardSchemaV1PathSegment,
  StandardSchemaV1Props,
  StandardSchemaV1Result,
  StandardSchemaV1SuccessResult,
  StandardSchemaV1Types,
} from './standard-schema.js';
