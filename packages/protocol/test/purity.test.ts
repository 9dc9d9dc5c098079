/**
 * The sans-I/O contract, checked on what ships: the BUILT bundle runs in a bare
 * `node:vm` context that has nothing but the ECMAScript built-ins plus
 * TextEncoder, TextDecoder and `crypto.getRandomValues` (no require, process,
 * Buffer, timers or DOM), and the bundle imports nothing.
 *
 * Needs `dist/` (the test command runs `turbo run build` first). The bundle
 * (ESM only: `import` and `require()` load the same file) is loaded through
 * `vm.SourceTextModule`, which needs the runner started with
 * `--experimental-vm-modules` (vitest.config.ts passes it).
 */
import { webcrypto } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';

const ESM_PATH = fileURLToPath(new URL('../dist/index.js', import.meta.url));

function readBundle(path: string): string {
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing. These tests check the built bundle: run the build first ` +
        '(`pnpm build` at the repository root, or `pnpm build` in packages/protocol).',
    );
  }
  return readFileSync(path, 'utf8');
}

/** A context with the ECMAScript built-ins and only the three host APIs the contract allows. */
function bareContext(): vm.Context {
  return vm.createContext({
    TextEncoder,
    TextDecoder,
    crypto: {
      getRandomValues: (array: Uint8Array): Uint8Array => webcrypto.getRandomValues(array),
    },
  });
}

/**
 * Runs inside the context, against the bundle's exports: a client and a
 * server complete the handshake, exchange a text message and close. It is
 * plain JavaScript source, not a function of this file, so that nothing the
 * test runner adds to transformed code can leak into the bare context. It
 * returns JSON so no object crosses back between realms.
 */
const SCENARIO = String.raw`(protocol) => {
  const out = {};
  out.globals = ['require', 'process', 'Buffer', 'setTimeout', 'setImmediate', 'queueMicrotask',
    'window', 'document', 'navigator', 'fetch', 'module', 'exports']
    .filter((name) => typeof globalThis[name] !== 'undefined');
  out.accept = protocol.acceptKey('dGhlIHNhbXBsZSBub25jZQ==');

  const clientEvents = new protocol.EventCollector();
  const client = new protocol.ClientConnection({
    handler: clientEvents,
    host: 'example.test',
    protocols: ['chat'],
  });
  client.connect();
  const split = protocol.splitHead(clientEvents.dataToSend());
  const request = protocol.validateRequest(protocol.parseRequestHead(split.head));
  out.keyLength = protocol.decodeBase64(request.key).length;

  const serverEvents = new protocol.EventCollector();
  const server = new protocol.ServerConnection({ handler: serverEvents, protocol: 'chat' });
  const response = protocol.buildAcceptResponse({ key: request.key, protocol: 'chat' });
  client.receiveData(new TextEncoder().encode(response));
  out.opened = clientEvents.eventsReceived().map((e) => e.type + ':' + e.info.protocol);

  client.sendText('héllo, wörld ✓');
  const wire = clientEvents.dataToSend();
  out.masked = (wire[1] & 0x80) !== 0;
  server.receiveData(wire);
  out.received = serverEvents.eventsReceived().map((e) =>
    e.type === 'message' ? { binary: e.binary, text: protocol.decodeUtf8(e.data) } : e.type,
  );

  server.close(1000, 'bye');
  client.receiveData(serverEvents.dataToSend());
  out.clientClosing = clientEvents.eventsReceived();
  server.receiveData(clientEvents.dataToSend());
  out.serverEnded = serverEvents.ended;
  server.receiveEof();
  client.receiveEof();
  out.serverClose = serverEvents.eventsReceived();
  out.clientClose = clientEvents.eventsReceived();
  return JSON.stringify(out);
}`;

function checkScenario(json: string): void {
  expect(JSON.parse(json)).toEqual({
    globals: [],
    accept: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
    keyLength: 16,
    opened: ['open:chat'],
    masked: true,
    received: [{ binary: false, text: 'héllo, wörld ✓' }],
    clientClosing: [{ type: 'closing', code: 1000, reason: 'bye' }],
    serverEnded: true,
    serverClose: [{ type: 'close', code: 1000, reason: 'bye', wasClean: true }],
    clientClose: [{ type: 'close', code: 1000, reason: 'bye', wasClean: true }],
  });
}

/** Masks 100,000 bytes at an odd offset and counts bytes that differ from RFC 6455 §5.3. */
const MASK_SCENARIO = String.raw`(protocol) => {
  const mask = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  const buffer = new Uint8Array(100003);
  for (let i = 0; i < buffer.length; i++) buffer[i] = (i * 7) & 0xff;
  const data = buffer.subarray(3);
  protocol.applyMask(data, mask, 1);
  let wrong = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== ((((i + 3) * 7) & 0xff) ^ mask[(i + 1) & 3])) wrong++;
  }
  return JSON.stringify({ wasm: typeof WebAssembly, wrong });
}`;

/** `vm.SourceTextModule` exists only under `--experimental-vm-modules`. */
type SourceTextModuleClass = new (
  source: string,
  options: { context: vm.Context; identifier: string },
) => {
  link(linker: (specifier: string) => unknown): Promise<void>;
  evaluate(): Promise<unknown>;
  readonly namespace: Record<string, unknown>;
};
const SourceTextModule = (vm as unknown as { SourceTextModule?: SourceTextModuleClass })
  .SourceTextModule;

/**
 * Runs `scenario` (the source of a function of the bundle's exports) in a
 * module of `context` that imports the bundle; returns what it returned.
 */
async function runScenario(context: vm.Context, scenario: string): Promise<string> {
  if (!SourceTextModule) {
    throw new Error('vm.SourceTextModule is missing: run vitest with --experimental-vm-modules');
  }
  const bundle = new SourceTextModule(readBundle(ESM_PATH), { context, identifier: 'protocol.js' });
  const module = new SourceTextModule(
    `import * as protocol from '@proj/protocol';\nexport const result = (${scenario})(protocol);`,
    { context, identifier: 'scenario.js' },
  );
  await module.link((specifier) => {
    if (specifier === '@proj/protocol') return bundle;
    throw new Error(`The bundle imports "${specifier}"; it must import nothing`);
  });
  await module.evaluate();
  return module.namespace['result'] as string;
}

describe('the built bundle in a bare vm context', () => {
  it('runs a handshake, a message and a close', async () => {
    checkScenario(await runScenario(bareContext(), SCENARIO));
  });

  // WebAssembly is a built-in of every V8 context; the SIMD masking path must
  // use it only when present (mask-simd.ts) and give the same bytes without it.
  it.each([
    ['with', 'object'],
    ['without', 'undefined'],
  ])('masks a 100 kB payload %s WebAssembly', async (_name, wasmType) => {
    const context = bareContext();
    if (wasmType === 'undefined') vm.runInContext('delete globalThis.WebAssembly', context);
    expect(JSON.parse(await runScenario(context, MASK_SCENARIO))).toEqual({
      wasm: wasmType,
      wrong: 0,
    });
  });
});

describe('the built bundle imports nothing', () => {
  it('dist/index.js has no require(), import or export-from', () => {
    const source = readBundle(ESM_PATH);
    expect(source.match(/\brequire\s*\(/g) ?? []).toEqual([]);
    // Static `import ... from 'x'`, bare `import 'x'`, `export ... from 'x'`, dynamic `import('x')`.
    expect(source.match(/\bimport\s*(?:[\w*{},\s]+\bfrom\s*)?["'][^"']+["']/g) ?? []).toEqual([]);
    expect(source.match(/\bexport\s*[\w*{},\s]*\bfrom\s*["'][^"']+["']/g) ?? []).toEqual([]);
    expect(source.match(/\bimport\s*\(/g) ?? []).toEqual([]);
    expect(
      source.match(/["'](?:node:[\w/]+|buffer|events|stream|zlib|crypto|net|tls|https?|ws)["']/g) ??
        [],
    ).toEqual([]);
  });
});
