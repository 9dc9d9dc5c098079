import { makeTestCertificate } from './certificate.mjs';

/** A self-signed certificate and its key, PEM. */
export interface TestCertificate {
  readonly cert: string;
  readonly key: string;
}

let cached: TestCertificate | undefined;

/**
 * A certificate for `localhost` and `127.0.0.1`, made at run time with
 * `openssl` (P-256, valid for a day), never checked in: for TLS and HTTP/2
 * tests. One per process. Clients trust it by passing `cert` as `ca`;
 * browsers need `ignoreHTTPSErrors`.
 */
export function testCertificate(): TestCertificate {
  return (cached ??= makeTestCertificate());
}
