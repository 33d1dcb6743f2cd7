// Revoked token ids (jti) and `grant:<gid>` entries in Redis. Each id is a key holding its expiresAt
// with a PX expiry (what `isRevoked` reads: one GET), and a sorted set scored by expiresAt indexes them
// for `listActive`, which then reads only the unexpired range (no keyspace SCAN) — its cost follows the
// number of active revocations. Both keys share a hash tag so each script touches one Cluster slot.
//
// Backed by a durable store (`backedBy`, what composeStorage uses over PostgreSQL or SQLite), every
// revocation is written to the database first and to Redis second, and Redis is only a fast copy: a
// marker key, holding the run id of the server when the copy was last made complete, tells whether
// Redis still holds everything. A Redis that restarted (empty, or from an older snapshot), was flushed,
// failed over, or evicted the marker fails that check; the next read then restores every unexpired
// revocation from the database before answering, so a revoked token is never taken for live because
// Redis forgot it (issue #4 "Failure": an unknown revocation state is never "not revoked").

import { StorageUnavailableError } from '../errors.ts';
import type { RevocationStore, StorageChange } from '../types.ts';
import { type RedisClient, redisCommand, Script } from './client.ts';
import { type RedisExpiry, ttlMs } from './codes.ts';

// KEYS: id key, index. ARGV: id, expiresAt, ttl, purgeBefore, channel, message. Keeps the later expiry
// (idempotent). A new or extended revocation is published on the change feed in the same script, so
// no replica can miss it between the write and the notification (feed.ts).
const REVOKE = new Script(`
local old = tonumber(redis.call('GET', KEYS[1]) or '')
local exp = tonumber(ARGV[2])
if old and old >= exp then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
`);

// KEYS: index. ARGV: now, purgeBefore. Flat [id, expiresAt, ...] of the entries expiring after now.
const LIST_ACTIVE = new Script(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES')
`);

// The marker holds the run id of the Redis server that holds the complete copy. A server restarted
// with no data has neither; one restarted from an older snapshot (RDB, a lagging replica promoted)
// has the marker but a new run id: both read as "not complete". INFO is allowed in scripts (Redis 5+).
const RUN_ID = `local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')`;

// KEYS: id key, marker. -1 when Redis does not hold the complete copy, else the id's expiresAt (or nil).
const IS_REVOKED_CHECKED = new Script(`
${RUN_ID}
if redis.call('GET', KEYS[2]) ~= run_id then return -1 end
return redis.call('GET', KEYS[1])
`);

// KEYS: index, marker. ARGV: now, purgeBefore. As LIST_ACTIVE; nil when Redis does not hold the copy.
const LIST_ACTIVE_CHECKED = new Script(`
${RUN_ID}
if redis.call('GET', KEYS[2]) ~= run_id then return false end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES')
`);

// KEYS: index, marker. ARGV: id key prefix, purgeBefore, the run id the first batch returned ('' on
// the first), '1' on the last batch (sets the marker), then (id, expiresAt, ttl) triples. Returns the
// server's run id, or nil if it changed since the first batch (the server restarted mid-restore and
// the earlier batches may be gone). Each entry is written as REVOKE would (the later expiry wins),
// without publishing: the reader that restores answers from what it restored, and other replicas hold
// the entries already or re-read the whole list when their feed comes back.
const RESTORE = new Script(`
${RUN_ID}
if ARGV[3] ~= '' and ARGV[3] ~= run_id then return false end
for i = 5, #ARGV, 3 do
  local key = ARGV[1] .. ARGV[i]
  local old = tonumber(redis.call('GET', key) or '')
  if not old or old < tonumber(ARGV[i + 1]) then
    redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[i + 2])
    redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
    local ttl = tonumber(ARGV[i + 2])
    if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if ARGV[4] == '1' then redis.call('SET', KEYS[2], run_id) end
return run_id
`);

/** Entries per RESTORE call: bounded script arguments and server time per call. */
const RESTORE_BATCH = 500;

export class RedisRevocationStore implements RevocationStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #index: string;
  readonly #expiry: RedisExpiry;
  readonly #channel: string;
  readonly #marker: string;
  readonly #durable: RevocationStore | undefined;
  /** The restore under way in this process, shared by every reader that found the marker missing. */
  #restoring: Promise<void> | undefined;

  /** `channel`: the change feed's channel (feed.ts), told of every new revocation. */
  constructor(
    client: RedisClient,
    prefix: string,
    expiry: RedisExpiry,
    channel: string,
    durable?: RevocationStore,
  ) {
    this.#client = client;
    this.#prefix = prefix;
    this.#index = `${prefix}{rev}:index`;
    this.#marker = `${prefix}{rev}:complete`;
    this.#expiry = expiry;
    this.#channel = channel;
    this.#durable = durable;
  }

  /**
   * This store as a fast copy of `durable`: revocations are written there first, and restored from
   * there into Redis whenever Redis has lost them (see the top of this file).
   */
  backedBy(durable: RevocationStore): RedisRevocationStore {
    return new RedisRevocationStore(this.#client, this.#prefix, this.#expiry, this.#channel, durable);
  }

  async revoke(id: string, expiresAt: number): Promise<void> {
    // Database first: if Redis fails after it, the revocation is kept and a retry (or the next
    // restore) completes it; the other way round, a Redis restart could lose a revocation that
    // the database never saw.
    await this.#durable?.revoke(id, expiresAt);
    const message: StorageChange = { type: 'revoked', id, expiresAt };
    await REVOKE.run(
      this.#client,
      [this.#key(id), this.#index],
      [
        id,
        String(expiresAt),
        String(ttlMs(expiresAt, this.#expiry)),
        String(this.#purgeBefore()),
        this.#channel,
        JSON.stringify(message),
      ],
    );
  }

  async isRevoked(id: string, now: number): Promise<boolean> {
    let expiresAt: unknown;
    if (this.#durable === undefined) {
      expiresAt = await redisCommand(this.#client, () => this.#client.get(this.#key(id)));
    } else {
      const keys = [this.#key(id), this.#marker];
      expiresAt = await IS_REVOKED_CHECKED.run(this.#client, keys, []);
      if (expiresAt === -1) {
        await this.#restore();
        expiresAt = await IS_REVOKED_CHECKED.run(this.#client, keys, []);
        if (expiresAt === -1) throw lostAgain();
      }
    }
    return expiresAt !== null && expiresAt !== undefined && Number(expiresAt) > now;
  }

  async listActive(now: number): Promise<{ id: string; expiresAt: number }[]> {
    const args = [String(now), String(this.#purgeBefore(now))];
    let flat: unknown;
    if (this.#durable === undefined) {
      flat = await LIST_ACTIVE.run(this.#client, [this.#index], args);
    } else {
      const keys = [this.#index, this.#marker];
      flat = await LIST_ACTIVE_CHECKED.run(this.#client, keys, args);
      if (flat === null) {
        await this.#restore();
        flat = await LIST_ACTIVE_CHECKED.run(this.#client, keys, args);
        if (flat === null) throw lostAgain();
      }
    }
    return pairs(flat as string[]);
  }

  /** Copies every unexpired revocation of the durable store into Redis, then sets the marker. */
  #restore(): Promise<void> {
    this.#restoring ??= (async () => {
      const durable = this.#durable as RevocationStore;
      // Read before writing: a revocation made meanwhile is in the database before Redis, and REVOKE
      // and RESTORE both keep the later expiry, so the copy never loses one.
      const entries = await durable.listActive(this.#expiry.clock());
      const idPrefix = this.#key('');
      let runId = '';
      let i = 0;
      do {
        const batch = entries.slice(i, i + RESTORE_BATCH);
        i += RESTORE_BATCH;
        const args = [idPrefix, String(this.#purgeBefore()), runId, i >= entries.length ? '1' : '0'];
        for (const e of batch) args.push(e.id, String(e.expiresAt), String(ttlMs(e.expiresAt, this.#expiry)));
        const ran = await RESTORE.run(this.#client, [this.#index, this.#marker], args);
        if (typeof ran !== 'string') throw lostAgain();
        runId = ran;
      } while (i < entries.length);
    })().finally(() => {
      this.#restoring = undefined;
    });
    return this.#restoring;
  }

  /** For tests and operators: whether this Redis server holds the complete copy. */
  async isComplete(): Promise<boolean> {
    return (await IS_REVOKED_CHECKED.run(this.#client, [this.#key(''), this.#marker], [])) !== -1;
  }

  // Index entries are dropped only once expired by both clocks (the caller's and the adapter's) less the
  // skew grace, so a replica whose clock runs ahead never hides a revocation still live for another.
  #purgeBefore(now = Number.POSITIVE_INFINITY): number {
    return Math.min(now, this.#expiry.clock()) - this.#expiry.graceMs;
  }

  #key(id: string): string {
    return `${this.#prefix}{rev}:id:${id}`;
  }
}

function pairs(flat: string[]): { id: string; expiresAt: number }[] {
  const out: { id: string; expiresAt: number }[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, expiresAt: Number(flat[i + 1]) });
  return out;
}

/** The marker vanished again right after a restore (Redis flushed or restarted once more): not trusted. */
function lostAgain(): StorageUnavailableError {
  return new StorageUnavailableError(
    'redis',
    'Redis lost the revocation list again while it was being restored',
  );
}
