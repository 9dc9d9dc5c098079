/**
 * @proj/test-utils: the peers and wire tools every package's tests share.
 * Private, never published; imported through the "source" condition.
 */
export * from './accept-key.js';
export * from './cleanup.js';
export * from './field-edits.js';
export * from './frames.js';
export * from './garbage.js';
export * from './fuzz.js';
export * from './raw-client.js';
export * from './raw-h2-client.js';
export * from './raw-server.js';
export * from './thrown.js';
export * from './times.js';
export * from './tls-cert.js';
export * from './wait.js';
export * from './wire.js';
