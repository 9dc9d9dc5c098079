/**
 * The Lua scripts of {@link RedisSessionStore}: each method of the store is
 * one script, so each is atomic in Redis, and a script runs by its SHA-1
 * (`EVALSHA`), falling back to its source (`EVAL`) when Redis does not have
 * it cached (first use, or after Redis restarted).
 *
 * A session is two keys with the same hash tag (`{id}`), so that a Redis
 * Cluster keeps them in one slot:
 *
 * - `<prefix>{<id>}`, a hash: `epoch`, `sent`, `acked`, `received` (decimal
 *   strings), `topics` (a JSON array of strings) and `write` (the stamp of
 *   the last write applied under this epoch; see `COMMIT`).
 * - `<prefix>{<id>}:log`, a list: the replay log, messages `acked + 1` to
 *   `sent`, one element each: a type byte (`t` text, `b` binary) followed by
 *   the payload's bytes (a text's UTF-8). The sequence numbers are not
 *   stored: `COMMIT` accepts only steps that keep the log consecutive, so
 *   element `i` is message `acked + 1 + i`.
 *
 * Why a list and not a stream (`XADD <seq>-0`, `XTRIM MINID`): a suspended
 * session holds a few messages, and there a stream costs ~30 times the
 * memory. Measured with `MEMORY USAGE` on redis-server 7.0, messages of 22
 * bytes: one message, list 160 B, stream 4,728 B (a stream node preallocates
 * its listpack); 100 messages, list 2,688 B, stream 4,728 B; a stream
 * trimmed empty stays at 372 B until it expires, where an empty list is
 * deleted. A stream's explicit ids would buy nothing: the numbering is
 * implicit in what `COMMIT` accepts.
 *
 * Both keys always get the same `PEXPIRE` in the same script, so they
 * expire at the same millisecond (Redis 7 freezes the clock during a
 * script, and a key past its expiry is never returned).
 *
 * Numbers are compared in Lua (doubles: exact up to 2^53, the protocol's
 * bound) but written back only as the decimal strings they arrived as, never
 * as Lua numbers, whose conversion to text differs between Redis versions.
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** One Lua script, run by its SHA-1 and loaded on a miss. */
/**
 * EVALSHA and EVAL with replies as Buffers: ioredis makes a `...Buffer`
 * variant of every command at run time, but its types leave these two out.
 */
interface BufferEvalCommands {
  evalshaBuffer(sha: string, keyCount: number, ...args: (string | Buffer)[]): Promise<unknown>;
  evalBuffer(script: string, keyCount: number, ...args: (string | Buffer)[]): Promise<unknown>;
}

export class LuaScript {
  /** What the script does, for error messages. */
  readonly name: string;
  readonly source: string;
  readonly sha: string;

  constructor(name: string, source: string) {
    this.name = name;
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /**
   * Runs the script with `keys` and `args`; replies come back as Buffers
   * (bulk strings) and numbers (integers).
   */
  async run(
    client: Redis,
    keys: readonly string[],
    args: ReadonlyArray<string | Buffer>,
  ): Promise<unknown> {
    // The named methods, not `callBuffer('EVALSHA', ...)`: a client with
    // `enableAutoPipelining` sends `call` without its command name.
    const commands = client as unknown as BufferEvalCommands;
    try {
      return await commands.evalshaBuffer(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      // EVAL caches the script too: the next EVALSHA finds it.
      return commands.evalBuffer(this.source, keys.length, ...keys, ...args);
    }
  }
}

/**
 * Lua's `unpack` puts every value on the C stack (8,000 slots), so long
 * logs are pushed in batches of this many elements.
 */
const PUSH_BATCH = 1000;

/** Appends `ARGV[from..]` to the log in batches (a Lua fragment). */
const PUSH_FROM = `
local function push(from)
  for i = from, #ARGV, ${PUSH_BATCH} do
    redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + ${PUSH_BATCH - 1}, #ARGV)))
  end
end`;

/**
 * `KEYS`: state, log. `ARGV`: ttl. Records a new, empty session at epoch 1;
 * does nothing if the id is taken (a create that ioredis sent again after a
 * reconnection must not wipe what followed it). Returns 1 if it created.
 */
export const CREATE = new LuaScript(
  'create',
  `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'epoch', '1', 'sent', '0', 'acked', '0', 'received', '0', 'topics', '[]', 'write', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`,
);

/**
 * `KEYS`: state, log. `ARGV`: ttl. Bumps the epoch, refreshes the expiry and
 * returns `{epoch, sent, acked, received, topics, log...}`, or nil for a
 * session Redis does not have.
 */
export const CLAIM = new LuaScript(
  'claim',
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'write', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
local state = redis.call('HMGET', KEYS[1], 'sent', 'acked', 'received', 'topics')
local reply = {epoch, state[1], state[2], state[3], state[4]}
local log = redis.call('LRANGE', KEYS[2], 0, -1)
for i = 1, #log do reply[#reply + 1] = log[i] end
return reply
`,
);

/**
 * `KEYS`: state, log. `ARGV`: epoch, ttl, write stamp, received, acked,
 * topics given (`1`/`0`), topics, first, last, then the appended messages
 * (encoded), numbered `first` to `last`.
 *
 * Returns `missing`, `taken` or `committed`, or `{'acked', sent}` for a
 * step that does not fit the stored session; every check comes before the
 * first write (Redis does not roll a script back). A record behind the
 * step (appended messages starting above its `sent + 1`: Redis lost
 * writes) is `missing` too: the holder writes its whole state again.
 *
 * Replays are harmless, so a step that ioredis resends after a reconnection,
 * or one the server retries after its reply was lost, is applied once:
 *
 * - The write stamp increases with every call of one store, and a call
 *   whose stamp is not above the last applied one is answered `committed`
 *   without effect: it was applied already, or a later step (which carried
 *   its content: the server retries a failed step before the next) was.
 *   Without it a step executed late would set older topics over newer ones.
 * - Appended messages numbered up to the stored `sent` are stored already
 *   and skipped.
 */
export const COMMIT = new LuaScript(
  'commit',
  `${PUSH_FROM}
local state = redis.call('HMGET', KEYS[1], 'epoch', 'sent', 'acked', 'received', 'write')
if not state[1] then return 'missing' end
if state[1] ~= ARGV[1] then return 'taken' end
if tonumber(state[5]) >= tonumber(ARGV[3]) then return 'committed' end
local sent = tonumber(state[2])
local acked = tonumber(state[3])
local newSent = state[2]
local from = 0
if #ARGV >= 10 then
  local first = tonumber(ARGV[8])
  if first > sent + 1 then return 'missing' end
  if tonumber(ARGV[9]) > sent then
    newSent = ARGV[9]
    from = 10 + sent + 1 - first
  end
end
local fields = {'write', ARGV[3], 'sent', newSent}
local drop = 0
if tonumber(ARGV[5]) > acked then
  if tonumber(ARGV[5]) > tonumber(newSent) then return {'acked', newSent} end
  drop = tonumber(ARGV[5]) - acked
  fields[#fields + 1] = 'acked'
  fields[#fields + 1] = ARGV[5]
end
if tonumber(ARGV[4]) > tonumber(state[4]) then
  fields[#fields + 1] = 'received'
  fields[#fields + 1] = ARGV[4]
end
if ARGV[6] == '1' then
  fields[#fields + 1] = 'topics'
  fields[#fields + 1] = ARGV[7]
end
if from > 0 then push(from) end
if drop > 0 then redis.call('LTRIM', KEYS[2], drop, -1) end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 'committed'
`,
);

/**
 * `KEYS`: state, log. `ARGV`: epoch, ttl, sent, acked, received, topics,
 * write stamp, then the log (encoded). Writes the whole session if Redis has
 * no record of it, or one under the same epoch that is not ahead of it (a
 * record behind its holder's copy); returns 1 if it wrote.
 */
export const RESTORE = new LuaScript(
  'restore',
  `${PUSH_FROM}
local stored = redis.call('HMGET', KEYS[1], 'epoch', 'sent', 'received')
if stored[1] then
  if stored[1] ~= ARGV[1] then return 0 end
  if tonumber(stored[2]) > tonumber(ARGV[3]) or tonumber(stored[3]) > tonumber(ARGV[5]) then return 0 end
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'sent', ARGV[3], 'acked', ARGV[4], 'received', ARGV[5], 'topics', ARGV[6], 'write', ARGV[7])
push(8)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`,
);

/** `KEYS`: state, log. `ARGV`: epoch, ttl. Refreshes the expiry under `epoch`; 1 if it did. */
export const TOUCH = new LuaScript(
  'touch',
  `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`,
);

/** `KEYS`: state, log. `ARGV`: epoch. Deletes the session under `epoch`; 1 if it did. */
export const REMOVE = new LuaScript(
  'remove',
  `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`,
);
