// @ts-check
// The one place a test certificate is made: the packages' tests (through
// tls-cert.ts), the browser tests and the HTTP/2 bench all import it. Plain
// JavaScript, so that e2e and bench (which run the built packages, with no
// TypeScript loader) can import it as it is.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A self-signed certificate for `localhost` and `127.0.0.1`, made now with
 * `openssl` (EC P-256: fast; valid for a day), never checked in. Clients
 * trust it by passing `cert` as `ca`; browsers need `ignoreHTTPSErrors`.
 * @returns {{ cert: string, key: string }} the certificate and its key, PEM
 */
export function makeTestCertificate() {
  const dir = mkdtempSync(join(tmpdir(), 'proj-cert-'));
  try {
    // prettier-ignore
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-subj', '/CN=localhost', '-days', '1',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'pipe' });
    return {
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
