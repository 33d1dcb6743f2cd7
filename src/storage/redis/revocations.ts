// Revoked token ids (jti) and `grant:<gid>` entries in Redis. Each id is a key holding its expiresAt
// with a PX expiry (what `isRevoked` reads: one GET), and a sorted set scored by expiresAt indexes them
// for `listActive`, which then reads only the unexpired range (no keyspace SCAN) — its cost follows the
// number of active revocations. Both keys share a hash tag so each script touches one Cluster slot.

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

export class RedisRevocationStore implements RevocationStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #index: string;
  readonly #expiry: RedisExpiry;
  readonly #channel: string;

  /** `channel`: the change feed's channel (feed.ts), told of every new revocation. */
  constructor(client: RedisClient, prefix: string, expiry: RedisExpiry, channel: string) {
    this.#client = client;
    this.#prefix = prefix;
    this.#index = `${prefix}{rev}:index`;
    this.#expiry = expiry;
    this.#channel = channel;
  }

  async revoke(id: string, expiresAt: number): Promise<void> {
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
    const expiresAt = await redisCommand(this.#client, () => this.#client.get(this.#key(id)));
    return expiresAt !== null && Number(expiresAt) > now;
  }

  async listActive(now: number): Promise<{ id: string; expiresAt: number }[]> {
    const flat = (await LIST_ACTIVE.run(
      this.#client,
      [this.#index],
      [String(now), String(this.#purgeBefore(now))],
    )) as string[];
    const out: { id: string; expiresAt: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, expiresAt: Number(flat[i + 1]) });
    return out;
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
