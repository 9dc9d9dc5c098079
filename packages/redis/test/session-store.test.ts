/**
 * RedisSessionStore against a real redis-server (./redis-server.ts): every
 * method of the SessionStore contract, fencing by epoch, expiry, exact
 * round trips of text and binary messages, steps that do not fit, racing
 * claimers, and commands that reach Redis late.
 */
import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import type { SessionStep, StoredMessage, StoredSession } from '@proj/server';
import { RedisSessionStore, SessionStoreError } from '@proj/redis';
import { onCleanup, thrown, useCleanup } from '@proj/test-utils';
import { until, useRedis } from './helpers.js';
import { sessionId, testClient, testStore } from './session-store-helpers.js';

const redis = useRedis();

useCleanup({ failOnUncaught: false });

const TTL = 60_000;

function store(options: { prefix?: string; timeout?: number } = {}): RedisSessionStore {
  return testStore(redis.server.url, options);
}

function step(fields: Partial<SessionStep> = {}): SessionStep {
  return { received: 0, acked: 0, appended: [], ...fields };
}

/** Messages `from` to `to`, alternating text and binary. */
function messages(from: number, to: number): StoredMessage[] {
  const list: StoredMessage[] = [];
  for (let seq = from; seq <= to; seq++) {
    list.push({ seq, data: seq % 2 === 0 ? `text ${seq}` : Uint8Array.of(seq & 0xff, 0, 0xff) });
  }
  return list;
}

/** Claims `id` and returns its state, failing if the store does not have it. */
async function claimed(target: RedisSessionStore, id: string): Promise<StoredSession> {
  const state = await target.claim(id, TTL);
  if (state === null) throw new Error(`session ${id} is missing`);
  return state;
}

/** What a promise rejects with, failing if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('options', () => {
  test('takes a client, a prefix and a timeout, with defaults', () => {
    const client = testClient(redis.server.url);
    const plain = new RedisSessionStore({ client });
    expect(plain.prefix).toBe('proj:session:');
    expect(plain.timeout).toBe(5_000);
    const custom = new RedisSessionStore({ client, prefix: 'app:', timeout: 250 });
    expect(custom.prefix).toBe('app:');
    expect(custom.timeout).toBe(250);
    expect(custom.keysOf('abc')).toEqual({ state: 'app:{abc}', log: 'app:{abc}:log' });
  });

  test.each([
    [{ clinet: 1 }, TypeError, 'Unknown RedisSessionStore option "clinet"; the options are'],
    [
      { Prefix: 'x' },
      TypeError,
      'Unknown RedisSessionStore option "Prefix" (did you mean "prefix"?)',
    ],
    [{ client: undefined }, TypeError, 'The "client" option must be an ioredis client'],
    [{ client: {} }, TypeError, 'The "client" option must be an ioredis client'],
    [{ prefix: 1 }, TypeError, 'The "prefix" option must be a string without "{" or "}"'],
    [{ prefix: 'a{b}:' }, TypeError, 'got "a{b}:"'],
    [{ timeout: '5' }, TypeError, 'The "timeout" option must be an integer from 1 to 2147483647'],
    [{ timeout: 0 }, RangeError, 'got number 0'],
    [{ timeout: 1.5 }, RangeError, 'got number 1.5'],
    [{ timeout: Infinity }, RangeError, 'got number Infinity'],
  ])('refuses %o', (options, ErrorClass, message) => {
    const client = testClient(redis.server.url, { lazyConnect: true });
    const given: Record<string, unknown> = { client, ...options };
    const error = thrown(() => new RedisSessionStore(given as never));
    expect(error).toBeInstanceOf(ErrorClass);
    expect((error as Error).message).toContain(message);
  });

  test('refuses anything but an options object', () => {
    expect(() => new RedisSessionStore('redis://x' as never)).toThrow(
      /takes an options object .*got "redis:\/\/x"/,
    );
  });

  test('methods refuse malformed ids, ttls and epochs before reaching Redis', async () => {
    const target = store();
    for (const id of ['', 'a'.repeat(65), 'a b', 'x}', '{x']) {
      expect(await rejection(target.claim(id, TTL))).toBeInstanceOf(TypeError);
    }
    expect(await rejection(target.create(sessionId(), 0))).toBeInstanceOf(RangeError);
    expect(await rejection(target.touch(sessionId(), 1, 1.5))).toBeInstanceOf(RangeError);
    expect(await rejection(target.touch(sessionId(), 1, '10' as never))).toBeInstanceOf(TypeError);
    expect(await rejection(target.remove(sessionId(), 0))).toBeInstanceOf(RangeError);
  });
});

describe('create and claim', () => {
  test('a created session is empty at epoch 1; each claim bumps the epoch', async () => {
    const target = store();
    const id = sessionId();
    await target.create(id, TTL);
    const keys = target.keysOf(id);
    expect(await redis.ctl.hgetall(keys.state)).toEqual({
      epoch: '1',
      sent: '0',
      acked: '0',
      received: '0',
      topics: '[]',
      write: '0',
    });
    expect(await claimed(target, id)).toEqual({
      epoch: 2,
      sent: 0,
      acked: 0,
      received: 0,
      log: [],
      topics: [],
    });
    expect((await claimed(target, id)).epoch).toBe(3);
  });

  test('claim answers null for a session the store does not have', async () => {
    expect(await store().claim(sessionId(), TTL)).toBeNull();
  });

  test('a create for an id that exists changes nothing (a create sent twice)', async () => {
    const target = store();
    const id = sessionId();
    await target.create(id, TTL);
    const { epoch } = await claimed(target, id);
    await target.commit(id, epoch, step({ appended: messages(1, 2) }), TTL);
    await target.create(id, TTL);
    const state = await claimed(target, id);
    expect(state.epoch).toBe(epoch + 1);
    expect(state.log).toEqual(messages(1, 2));
  });

  test('both keys of a session carry its id as their hash tag (one Redis Cluster slot)', async () => {
    const target = store({ prefix: 'p:' });
    const id = sessionId();
    await target.create(id, TTL);
    const { epoch } = await claimed(target, id);
    await target.commit(id, epoch, step({ appended: messages(1, 1) }), TTL);
    const keys = (await redis.ctl.keys(`p:*${id}*`)).sort();
    expect(keys).toEqual([`p:{${id}}`, `p:{${id}}:log`]);
    // Redis Cluster hashes only what is between the first "{" and the next "}".
    for (const key of keys) expect(key.slice(key.indexOf('{') + 1, key.indexOf('}'))).toBe(id);
  });
});

describe('commit', () => {
  test('appends, raises received and acked, drops the log up to acked, sets topics', async () => {
    const target = store();
    const id = sessionId();
    await target.create(id, TTL);
    const { epoch } = await claimed(target, id);
    const first = step({ received: 3, appended: messages(1, 5), topics: ['a', 'b ✓'] });
    expect(await target.commit(id, epoch, first, TTL)).toBe('committed');
    expect(await target.commit(id, epoch, step({ received: 4, acked: 2 }), TTL)).toBe('committed');
    const keys = target.keysOf(id);
    expect(await redis.ctl.llen(keys.log)).toBe(3);
    // Topics left out stay as they were.
    expect(await target.commit(id, epoch, step({ appended: messages(6, 6) }), TTL)).toBe(
      'committed',
    );
    expect(await claimed(target, id)).toEqual({
      epoch: epoch + 1,
      sent: 6,
      acked: 2,
      received: 4,
      log: messages(3, 6),
      topics: ['a', 'b ✓'],
    });
  });

  test('smaller received and acked than stored are ignored', async () => {
    const target = store();
    const id = sessionId();
    await target.create(id, TTL);
    const { epoch } = await claimed(target, id);
    await target.commit(id, epoch, step({ received: 9, acked: 4, appended: messages(1, 6) }), TTL);
    expect(await target.commit(id, epoch, step({ received: 2, acked: 1 }), TTL)).toBe('committed');
    const state = await claimed(target, id);
    expect([state.received, state.acked, state.sent]).toEqual([9, 4, 6]);
    expect(state.log).toEqual(messages(5, 6));
  });

  test('acking everything empties the log; topics can be emptied', async () => {
    const target = store();
    const id = sessionId();
    await target.create(id, TTL);
    const { epoch } = await claimed(target, id);
    await target.commit(id, epoch, step({ appended: messages(1, 3), topics: ['t'] }), TTL);
    await target.commit(id, epoch, step({ acked: 3, topics: [] }), TTL);
    expect(await redis.ctl.exists(target.keysOf(id).log)).toBe(0);
    const state = await claimed(target, id);
    expect([state.sent, state.acked, state.log, state.topics]).toEqual([3, 3, [], []]);
    // Numbering goes on after an empty log.
    expect(await target.commit(id, state.epoch, step({ appended: messages(4, 4) }), TTL)).toBe(
      'committed',
    );
    expect((await claimed(target, id)).log).toEqual(messages(4, 4));
  });

  test('a step retried after its answer was lost is applied once', async () => {
    const target = store();
    const id = sessionId();
    await target.create(id, TTL);
    const { epoch } = await claimed(target, id);
    const once = step({ received: 1, appended: messages(1, 3) });
    expect(await target.commit(id, epoch, once, TTL)).toBe('committed');
    expect(await target.commit(id, epoch, once, TTL)).toBe('committed');
    // A retry that carries the lost step and newer messages: only the new are appended.
    expect(await target.commit(id, epoch, step({ appended: messages(2, 5) }), TTL)).toBe(
      'committed',
    );
    const state = await claimed(target, id);
    expect(state.sent).toBe(5);
    expect(state.log).toEqual(messages(1, 5));
  });

  test("a record behind the step (Redis lost writes) is missing: nothing is written, and restore writes the holder's copy", async () => {
    const target = store();
    const id = sessionId();
    await target.create(id, TTL);
    const { epoch } = await claimed(target, id);
    await target.commit(id, epoch, step({ appended: messages(1, 2) }), TTL);
    expect(
      await target.commit(
        id,
        epoch,
        step({ received: 7, appended: messages(4, 5), topics: ['x'] }),
        TTL,
      ),
    ).toBe('missing');
    expect(await claimed(target, id)).toMatchObject({ sent: 2, received: 0, topics: [] });
    // The claim above bumped the epoch: the old holder may not overwrite it.
    const holder = { epoch, sent: 5, acked: 0, received: 7, log: messages(1, 5), topics: ['x'] };
    expect(await target.restore(id, holder, TTL)).toBe(false);
    // Its own epoch's record, behind: written again.
    const current = await claimed(target, id);
    const copy = { ...holder, epoch: current.epoch };
    expect(await target.restore(id, copy, TTL)).toBe(true);
    expect(await claimed(target, id)).toMatchObject({
      sent: 5,
      received: 7,
      topics: ['x'],
      log: messages(1, 5),
    });
  });

  test.each([
    [
      'not consecutive',
      [
        { seq: 1, data: 'a' },
        { seq: 3, data: 'b' },
      ],
      'message 1 is numbered 3, expected 2',
    ],
    ['numbered from 0', [{ seq: 0, data: 'a' }], 'numbered from 1, got 0'],
    ['not a number', [{ seq: '1', data: 'a' }], 'numbered from 1, got 1'],
    ['neither text nor bytes', [{ seq: 1, data: 5 }], 'message 1 must be a string or a Uint8Array'],
  ])('appended messages %s are refused', async (_, appended, message) => {
    const target = store();
    const id = sessionId();
    await target.create(id, TTL);
    const { epoch } = await claimed(target, id);
    const error = await rejection(
      target.commit(id, epoch, step({ appended: appended as never }), TTL),
    );
    expect(error).toMatchObject({ code: 'WS_ERR_STORE_STEP' });
    expect((error as Error).message).toContain(message);
  });

  test('acked beyond sent is refused, and nothing is written', async () => {
    const target = store();
    const id = sessionId();
    await target.create(id, TTL);
    const { epoch } = await claimed(target, id);
    const error = await rejection(
      target.commit(id, epoch, step({ acked: 4, appended: messages(1, 3) }), TTL),
    );
    expect(error).toMatchObject({ code: 'WS_ERR_STORE_STEP' });
    expect((error as Error).message).toContain('"acked" (4) exceeds the last message produced (3)');
    expect(await claimed(target, id)).toMatchObject({ sent: 0, acked: 0, log: [] });
  });

  test('steps with numbers that are not counts are refused', async () => {
    const target = store();
    const id = sessionId();
    for (const bad of [{ received: -1 }, { acked: 1.5 }, { received: 2 ** 53 }, { topics: [1] }]) {
      const error = await rejection(target.commit(id, 1, step(bad as never), TTL));
      expect(error).toMatchObject({ code: 'WS_ERR_STORE_STEP' });
    }
  });
});

describe('on an ioredis client with enableAutoPipelining', () => {
  // ioredis sends `call('EVALSHA', ...)` without its command name when it
  // auto-pipelines (Redis answers "unknown command"): the store must not
  // depend on that path. Commands of one tick go in one write there, the
  // setting a node with thousands of sessions wants.
  test('create, claim, commit, touch, restore and remove work', async () => {
    const target = testStore(redis.server.url, {}, { enableAutoPipelining: true });
    const ids = Array.from({ length: 20 }, () => sessionId());
    await Promise.all(ids.map((id) => target.create(id, TTL)));
    const states = await Promise.all(ids.map((id) => claimed(target, id)));
    expect(states.map((state) => state.epoch)).toEqual(ids.map(() => 2));
    const results = await Promise.all(
      ids.map((id) => target.commit(id, 2, step({ appended: messages(1, 3) }), TTL)),
    );
    expect(results).toEqual(ids.map(() => 'committed'));
    expect(await target.touch(ids[0]!, 2, TTL)).toBe(true);
    const again = await claimed(target, ids[1]!);
    expect(again.log.map((message) => message.seq)).toEqual([1, 2, 3]);
    await target.remove(ids[2]!, 2);
    expect(await target.claim(ids[2]!, TTL)).toBeNull();
    const restoredId = sessionId();
    expect(await target.restore(restoredId, { ...again, epoch: 5 }, TTL)).toBe(true);
    expect((await claimed(target, restoredId)).log).toHaveLength(3);
  });
});

describe('fencing', () => {
  test('a second claim makes the first holder’s commit, touch and remove fail', async () => {
    const nodeA = store();
    const nodeB = store();
    const id = sessionId();
    await nodeA.create(id, TTL);
    const a = await claimed(nodeA, id);
    await nodeA.commit(id, a.epoch, step({ appended: messages(1, 2) }), TTL);
    const b = await claimed(nodeB, id);
    expect(b.epoch).toBe(a.epoch + 1);
    expect(b.log).toEqual(messages(1, 2));

    expect(await nodeA.commit(id, a.epoch, step({ appended: messages(3, 3) }), TTL)).toBe('taken');
    expect(await nodeA.touch(id, a.epoch, TTL)).toBe(false);
    await nodeA.remove(id, a.epoch);
    expect(await redis.ctl.exists(nodeB.keysOf(id).state)).toBe(1);

    expect(await nodeB.commit(id, b.epoch, step({ appended: messages(3, 3) }), TTL)).toBe(
      'committed',
    );
    expect(await nodeB.touch(id, b.epoch, TTL)).toBe(true);
    expect((await claimed(nodeA, id)).log).toEqual(messages(1, 3));
  });

  test('racing claimers: each claim gets its own epoch, and exactly one wins each write', async () => {
    const nodes = [store(), store(), store()];
    const id = sessionId();
    await nodes[0]!.create(id, TTL);
    let sent = 0;
    for (let round = 0; round < 25; round++) {
      const claims = await Promise.all(nodes.map((node) => claimed(node, id)));
      const epochs = claims.map((state) => state.epoch);
      expect(new Set(epochs).size).toBe(nodes.length);
      // Every claimer read the same state: the one the last round's winner left.
      for (const state of claims) expect(state.sent).toBe(sent);
      const results = await Promise.all(
        nodes.map((node, index) =>
          node.commit(
            id,
            claims[index]!.epoch,
            step({
              acked: sent,
              appended: [{ seq: sent + 1, data: `round ${round} node ${index}` }],
            }),
            TTL,
          ),
        ),
      );
      const winner = epochs.indexOf(Math.max(...epochs));
      expect(results).toEqual(nodes.map((_, index) => (index === winner ? 'committed' : 'taken')));
      sent++;
      const state = await claimed(nodes[0]!, id);
      expect(state.log).toEqual([{ seq: sent, data: `round ${round} node ${winner}` }]);
      // That claim bumped the epoch: the next round's claims see no holder.
    }
  });
});

describe('touch, remove, restore', () => {
  test('touch and commit refresh the expiry of both keys; claim too', async () => {
    const target = store();
    const id = sessionId();
    const keys = target.keysOf(id);
    await target.create(id, 1_000);
    const { epoch } = await claimed(target, id);
    await target.commit(id, epoch, step({ appended: messages(1, 1) }), 1_000);
    expect(await redis.ctl.pttl(keys.state)).toBeLessThanOrEqual(1_000);
    expect(await redis.ctl.pttl(keys.log)).toBeLessThanOrEqual(1_000);
    expect(await target.touch(id, epoch, 600_000)).toBe(true);
    for (const key of [keys.state, keys.log]) {
      expect(await redis.ctl.pttl(key)).toBeGreaterThan(500_000);
    }
    await target.commit(id, epoch, step({ appended: messages(2, 2) }), 900_000);
    for (const key of [keys.state, keys.log]) {
      expect(await redis.ctl.pttl(key)).toBeGreaterThan(800_000);
    }
  });

  test('a session nobody writes for ttl is forgotten', async () => {
    const target = store();
    const id = sessionId();
    const keys = target.keysOf(id);
    await target.create(id, 200);
    const { epoch } = await claimed(target, id);
    expect(await target.commit(id, epoch, step({ appended: messages(1, 2) }), 200)).toBe(
      'committed',
    );
    await until(
      async () => (await redis.ctl.exists(keys.state, keys.log)) === 0,
      'both keys to expire',
    );
    expect(await target.claim(id, TTL)).toBeNull();
    expect(await target.commit(id, epoch, step({ appended: messages(3, 3) }), TTL)).toBe('missing');
    expect(await target.touch(id, epoch, TTL)).toBe(false);
  });

  test('remove forgets the session under its epoch only', async () => {
    const target = store();
    const id = sessionId();
    const keys = target.keysOf(id);
    await target.create(id, TTL);
    const { epoch } = await claimed(target, id);
    await target.commit(id, epoch, step({ appended: messages(1, 2) }), TTL);
    await target.remove(id, epoch - 1);
    expect(await redis.ctl.exists(keys.state, keys.log)).toBe(2);
    await target.remove(id, epoch);
    expect(await redis.ctl.exists(keys.state, keys.log)).toBe(0);
    expect(await target.claim(id, TTL)).toBeNull();
    // Removing what is gone is no error.
    await target.remove(id, epoch);
  });

  test('restore writes the whole state when the store has no record, and only then', async () => {
    const target = store();
    const id = sessionId();
    const state: StoredSession = {
      epoch: 7,
      sent: 5,
      acked: 2,
      received: 11,
      log: messages(3, 5),
      topics: ['room:1'],
    };
    expect(await target.commit(id, 7, step({ appended: messages(6, 6) }), TTL)).toBe('missing');
    expect(await target.restore(id, state, TTL)).toBe(true);
    expect(await target.restore(id, { ...state, sent: 2, log: [] }, TTL)).toBe(false);
    // The holder goes on under its epoch, from where it restored.
    expect(await target.commit(id, 7, step({ appended: messages(6, 6) }), TTL)).toBe('committed');
    expect(await claimed(target, id)).toEqual({ ...state, epoch: 8, sent: 6, log: messages(3, 6) });
    expect(await redis.ctl.pttl(target.keysOf(id).log)).toBeGreaterThan(0);
  });

  test('restore refuses a state whose log does not match its numbers', async () => {
    const target = store();
    const base: StoredSession = {
      epoch: 1,
      sent: 3,
      acked: 1,
      received: 0,
      log: messages(2, 3),
      topics: [],
    };
    for (const [bad, message] of [
      [{ log: messages(2, 2) }, 'the log must hold messages 2 to 3, got 1 messages'],
      [{ log: messages(1, 2) }, 'the log must be numbered consecutively from 2'],
      [{ acked: 4 }, '"acked" (4) must not exceed "sent" (3)'],
      [{ epoch: 0 }, '"epoch" must be an integer of at least 1, got 0'],
    ] as const) {
      const error = await rejection(target.restore(sessionId(), { ...base, ...bad }, TTL));
      expect(error).toMatchObject({ code: 'WS_ERR_STORE_STEP' });
      expect((error as Error).message).toContain(message);
    }
  });
});

describe('messages round-trip exactly', () => {
  test('text (NUL first, empty, non-ASCII, 1 MiB) and binary (empty, every byte, 1 MiB)', async () => {
    const target = store();
    const id = sessionId();
    await target.create(id, TTL);
    const { epoch } = await claimed(target, id);
    const every = Uint8Array.from({ length: 512 }, (_, i) => i & 0xff);
    const big = new Uint8Array(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
    const data: Array<string | Uint8Array> = [
      '\u0000',
      '\u0000\u0000control-looking',
      '',
      new Uint8Array(0),
      'é ✓ 𝄞 \u{10FFFF}',
      every,
      // Bytes that would read as the text type byte, and as the binary one.
      Uint8Array.of(0x74, 0x62),
      'b',
      'ü'.repeat(512 * 1024),
      big,
    ];
    const appended = data.map((payload, index) => ({ seq: index + 1, data: payload }));
    expect(await target.commit(id, epoch, step({ appended }), TTL)).toBe('committed');
    const { log } = await claimed(target, id);
    expect(log.map((message) => message.seq)).toEqual(appended.map((message) => message.seq));
    log.forEach(({ data: read }, index) => {
      const written = data[index]!;
      if (typeof written === 'string') {
        expect(read).toBeTypeOf('string');
        expect(read === written, `text ${index + 1}`).toBe(true);
      } else {
        expect(read).toBeInstanceOf(Uint8Array);
        // A plain Uint8Array with its own memory, not a view into a reply buffer.
        expect(Buffer.isBuffer(read)).toBe(false);
        expect((read as Uint8Array).byteOffset).toBe(0);
        expect(Buffer.compare(read as Uint8Array, written), `binary ${index + 1}`).toBe(0);
      }
    });
  });

  test('a log longer than one Lua push batch', async () => {
    const target = store();
    const id = sessionId();
    await target.create(id, TTL);
    const { epoch } = await claimed(target, id);
    const long = messages(1, 2_500);
    expect(await target.commit(id, epoch, step({ appended: long }), TTL)).toBe('committed');
    expect(await target.commit(id, epoch, step({ acked: 1_200 }), TTL)).toBe('committed');
    const state = await claimed(target, id);
    expect(state.log).toEqual(long.slice(1_200));
    expect(await target.restore(sessionId(), { ...state, epoch: 1 }, TTL)).toBe(true);
  });
});

describe('records it cannot read', () => {
  test('a key of another type, or a mangled record, rejects with WS_ERR_STORE_RECORD', async () => {
    const target = store();
    const id = sessionId();
    const keys = target.keysOf(id);
    await redis.ctl.set(keys.state, 'not a hash');
    expect(await rejection(target.claim(id, TTL))).toMatchObject({
      code: 'WS_ERR_STORE_RECORD',
      sessionId: id,
    });
    await redis.ctl.del(keys.state);
    await target.create(id, TTL);
    await redis.ctl.hset(keys.state, 'topics', '{');
    const error = await rejection(target.claim(id, TTL));
    expect(error).toMatchObject({ code: 'WS_ERR_STORE_RECORD' });
    expect((error as Error).message).toContain('its topics cannot be read');
    await redis.ctl.hset(keys.state, 'topics', '[]', 'sent', '2');
    expect(await rejection(target.claim(id, TTL))).toMatchObject({ code: 'WS_ERR_STORE_RECORD' });
  });
});

describe('commands that reach Redis late', () => {
  test('a commit that timed out and runs after a later one changes nothing', async () => {
    // Two connections to the same session, as when ioredis resends a command
    // on a new connection: the first is held up behind a blocked command.
    const blocked = testClient(redis.server.url);
    const slow = new RedisSessionStore({ client: blocked, timeout: 200 });
    const fast = store();
    const id = sessionId();
    await fast.create(id, TTL);
    const { epoch } = await claimed(fast, id);
    const gate = `gate:${id}`;
    const held = blocked.blpop(gate, 0);
    const late = slow.commit(id, epoch, step({ appended: messages(1, 1), topics: ['old'] }), TTL);
    const error = await rejection(late);
    expect(error).toMatchObject({ code: 'WS_ERR_STORE_UNAVAILABLE', sessionId: id });
    expect((error as Error).message).toContain('Redis did not answer within 200 ms');
    // The server retries the step (through another connection), with more.
    expect(
      await fast.commit(id, epoch, step({ appended: messages(1, 2), topics: ['new'] }), TTL),
    ).toBe('committed');
    await redis.ctl.lpush(gate, 'go');
    await held;
    // The held commit has run now (one connection answers in order).
    expect(await blocked.ping()).toBe('PONG');
    const state = await claimed(fast, id);
    expect(state.topics).toEqual(['new']);
    expect(state.log).toEqual(messages(1, 2));
  });
});

describe('an unreachable Redis', () => {
  test('calls reject after timeout when Redis accepts the connection but never answers', async () => {
    const { createServer } = await import('node:net');
    const silent = createServer((socket) => socket.on('error', () => {}));
    silent.listen(0, '127.0.0.1');
    await new Promise((resolve) => silent.once('listening', resolve));
    const sockets = new Set<import('node:net').Socket>();
    silent.on('connection', (socket) => sockets.add(socket));
    onCleanup(
      () =>
        new Promise((resolve) => {
          for (const socket of sockets) socket.destroy();
          silent.close(resolve);
        }),
    );
    const { port } = silent.address() as { port: number };
    const client = new Redis(port, '127.0.0.1', { retryStrategy: () => 50 });
    client.on('error', () => {});
    onCleanup(() => client.disconnect());
    const target = new RedisSessionStore({ client, timeout: 150 });
    for (const call of [
      target.create(sessionId(), TTL),
      target.claim(sessionId(), TTL),
      target.commit(sessionId(), 1, step(), TTL),
      target.touch(sessionId(), 1, TTL),
      target.remove(sessionId(), 1),
    ]) {
      const error = await rejection(call);
      expect(error).toBeInstanceOf(SessionStoreError);
      expect(error).toMatchObject({ code: 'WS_ERR_STORE_UNAVAILABLE' });
      expect((error as Error).message).toContain('Redis did not answer within 150 ms');
    }
  });

  test('calls on a closed client reject at once', async () => {
    const client = testClient(redis.server.url);
    const target = new RedisSessionStore({ client, timeout: 60_000 });
    await client.ping();
    client.disconnect();
    await until(() => client.status === 'end', 'the client to end');
    const error = await rejection(target.claim(sessionId(), TTL));
    expect(error).toMatchObject({ code: 'WS_ERR_STORE_UNAVAILABLE' });
    expect((error as Error).message).toContain('the Redis client was closed');
  });
});
