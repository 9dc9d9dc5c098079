/**
 * Typed messages: each parse option, the types the peer's messages take from
 * it, and the failure a malformed message gives (the raw text shown). The
 * Standard Schema validators here are written by hand from the
 * specification, as any library's would be seen: an object with a
 * `~standard` property, synchronous or not.
 */
import { describe, expect, expectTypeOf, test } from 'vitest';
import {
  MalformedMessageError,
  type ParseOption,
  type RawMessage,
  type ScriptedPeer,
  type StandardSchemaV1,
  type StandardSchemaV1Result,
  type TestServerOptions,
} from '../src/index.js';
import { connect, rejection, server } from './helpers.js';

interface Say {
  type: 'say';
  text: string;
}

/** `{ type: "say", text: string }`, with issues located by path. */
function saySchema({ async = false, callable = false } = {}): StandardSchemaV1<unknown, Say> {
  const validate = (value: unknown): StandardSchemaV1Result<Say> => {
    if (typeof value !== 'object' || value === null)
      return { issues: [{ message: 'Expected an object' }] };
    const record = value as Record<string, unknown>;
    const issues = [];
    if (record['type'] !== 'say') issues.push({ message: 'Expected "say"', path: ['type'] });
    if (typeof record['text'] !== 'string') {
      issues.push({ message: 'Expected a string', path: [{ key: 'text' }] });
    }
    return issues.length > 0
      ? { issues }
      : { value: { type: 'say', text: record['text'] as string } };
  };
  const props = {
    version: 1 as const,
    vendor: 'handmade',
    validate: async ? (value: unknown) => Promise.resolve(validate(value)) : validate,
  };
  // Some libraries' schemas are functions too (arktype's): still schemas.
  if (callable) return Object.assign(() => 'called as a function', { '~standard': props });
  return { '~standard': props };
}

async function peerWith<P extends ParseOption = 'json'>(options: TestServerOptions<P> = {}) {
  const wss = await server(options);
  const client = connect(wss.url);
  await client.opened;
  return { client, wss };
}

describe('parse options', () => {
  test("'json' by default: values typed unknown", async () => {
    const { client, wss } = await peerWith();
    const peer = await wss.waitForConnection();
    expectTypeOf(peer).toEqualTypeOf<ScriptedPeer<unknown>>();
    client.ws.send('[1,{"a":null}]');
    expect(await peer.nextMessage()).toEqual([1, { a: null }]);
  });

  test("'text': strings; 'raw': the message as it came, text or binary", async () => {
    const { client, wss } = await peerWith({ parse: 'text' });
    const text = await wss.waitForConnection();
    expectTypeOf(text).toEqualTypeOf<ScriptedPeer<string>>();
    client.ws.send('not JSON');
    expect(await text.nextMessage()).toBe('not JSON');

    const other = connect(wss.url);
    const raw = await wss.waitForConnection({ parse: 'raw' });
    expectTypeOf(raw).toEqualTypeOf<ScriptedPeer<RawMessage>>();
    await other.opened;
    other.ws.send(new Uint8Array([7, 8]));
    other.ws.send('hi');
    expect(await raw.nextMessage()).toEqual({ isBinary: true, data: Buffer.from([7, 8]) });
    expect(await raw.nextMessage()).toEqual({ isBinary: false, data: 'hi' });
  });

  for (const kind of ['synchronous', 'asynchronous', 'callable'] as const) {
    test(`a Standard Schema (${kind}): validated JSON, typed by the schema`, async () => {
      const schema = saySchema({ async: kind === 'asynchronous', callable: kind === 'callable' });
      const { client, wss } = await peerWith();
      const peer = await wss.waitForConnection({ parse: schema });
      expectTypeOf(peer).toEqualTypeOf<ScriptedPeer<Say>>();
      client.ws.send('{"type":"say","text":"hi","extra":1}');
      client.ws.send('{"type":"say","text":"again"}');
      // The schema's output, not the input: `extra` is gone.
      expect(await peer.nextMessage((say) => say.text === 'again')).toEqual({
        type: 'say',
        text: 'again',
      });
      expect(await peer.nextMessage()).toEqual({ type: 'say', text: 'hi' });
      expect(peer.messages).toEqual([
        { type: 'say', text: 'hi' },
        { type: 'say', text: 'again' },
      ]);
    });
  }

  test('a function, synchronous or not: its return type is the type of the messages', async () => {
    const { client, wss } = await peerWith({
      parse: (message: RawMessage) => String(message.data).length,
    });
    const lengths = await wss.waitForConnection();
    expectTypeOf(lengths).toEqualTypeOf<ScriptedPeer<number>>();
    client.ws.send('four');
    expect(await lengths.nextMessage()).toBe(4);

    const other = connect(wss.url);
    const upper = await wss.waitForConnection({
      parse: async (message) => String(message.data).toUpperCase(),
    });
    expectTypeOf(upper).toEqualTypeOf<ScriptedPeer<string>>();
    await other.opened;
    other.ws.send('shout');
    expect(await upper.nextMessage()).toBe('SHOUT');
  });
});

describe('a malformed message fails the test, showing the raw text', () => {
  test('text that is not JSON', async () => {
    const { client, wss } = await peerWith();
    const peer = await wss.waitForConnection();
    client.ws.send('{"ok":true}');
    client.ws.send('hello there');
    expect(await peer.nextMessage()).toEqual({ ok: true });
    const error = await rejection(peer.nextMessage());
    expect(error).toBeInstanceOf(MalformedMessageError);
    expect(error).toMatchObject({
      code: 'WS_ERR_TESTING_MALFORMED_MESSAGE',
      connection: 1,
      number: 2,
      raw: { isBinary: false, data: 'hello there' },
    });
    expect(error.cause).toBeInstanceOf(SyntaxError);
    const reason = (error.cause as SyntaxError).message;
    expect(error.message).toBe(
      [
        'Message #2 from connection #1 (GET /) is malformed:',
        `  - not JSON: ${reason}`,
        'Raw message: "hello there"',
      ].join('\n'),
    );
    // Reported once: the wait after it goes on with the next message.
    client.ws.send('3');
    expect(await peer.nextMessage()).toBe(3);
  });

  test('a message the schema refuses: every issue, with its path', async () => {
    const { client, wss } = await peerWith({ parse: saySchema() });
    const peer = await wss.waitForConnection();
    client.ws.send('{"type":"shout","text":5}');
    const error = (await rejection(peer.nextMessage())) as MalformedMessageError;
    expect(error.issues).toEqual(['type: Expected "say"', 'text: Expected a string']);
    expect(error.message).toBe(
      [
        'Message #1 from connection #1 (GET /) is malformed:',
        '  - type: Expected "say"',
        '  - text: Expected a string',
        'Raw message: "{\\"type\\":\\"shout\\",\\"text\\":5}"',
      ].join('\n'),
    );
  });

  test('binary where JSON or text was expected', async () => {
    const { client, wss } = await peerWith({ parse: 'text' });
    const peer = await wss.waitForConnection();
    client.ws.send(new Uint8Array([0xff, 0x00]));
    const error = await rejection(peer.nextMessage());
    expect(error.message).toBe(
      [
        'Message #1 from connection #1 (GET /) is malformed:',
        '  - a binary message (2 bytes) where text was expected',
        'Raw message: <binary, 2 bytes: ff 00>',
      ].join('\n'),
    );
    const other = connect(wss.url);
    const json = await wss.waitForConnection({ parse: 'json' });
    await other.opened;
    other.ws.send(new Uint8Array([1]));
    expect((await rejection(json.nextMessage())).message).toContain(
      '  - a binary message (1 bytes) where JSON text was expected',
    );
  });

  test('what a parser function throws, or rejects with, is the issue and the cause', async () => {
    const broken = new Error('no commas allowed');
    const { client, wss } = await peerWith({
      parse: (message: RawMessage) => {
        if (String(message.data).includes(',')) throw broken;
        return message.data;
      },
    });
    const peer = await wss.waitForConnection();
    client.ws.send('a,b');
    const error = await rejection(peer.nextMessage());
    expect(error.cause).toBe(broken);
    expect(error.message).toContain('  - no commas allowed\nRaw message: "a,b"');

    const other = connect(wss.url);
    const rejecting = await wss.waitForConnection({
      parse: () => Promise.reject(new Error('later')),
    });
    await other.opened;
    other.ws.send('x');
    expect((await rejection(rejecting.nextMessage())).message).toContain('  - later\n');
  });

  test('peer.messages throws too, rather than leave the message out', async () => {
    const { client, wss } = await peerWith();
    const peer = await wss.waitForConnection();
    client.ws.send('1');
    client.ws.send('oops');
    await peer.nextMessage();
    await expect(peer.nextMessage()).rejects.toThrow(MalformedMessageError);
    expect(() => peer.messages).toThrow(/^Message #2 from connection #1 \(GET \/\) is malformed:/);
    expect(peer.received.map((message) => message.data)).toEqual(['1', 'oops']);
  });

  test('the raw text is shown up to 2,000 characters', async () => {
    const { client, wss } = await peerWith();
    const peer = await wss.waitForConnection();
    client.ws.send('y'.repeat(3_000));
    const error = await rejection(peer.nextMessage());
    expect(error.message.split('\n').at(-1)).toBe(
      `Raw message: ${JSON.stringify('y'.repeat(2_000))} … (3000 characters in all)`,
    );
  });
});
