// The rate limiter shared by every replica: the same generic cell rate algorithm as MemoryRateLimiter
// (bursts of up to `limit`, then one hit every `windowMs / limit`), with each key's theoretical arrival
// time in Redis, read and advanced by one Lua script so concurrent hits from any number of processes
// are counted exactly once each (RFC 6749 §10.10). A key expires when its window has fully drained, so
// idle keys hold no memory. If Redis is unreachable `hit` rejects: the caller answers an error rather
// than letting requests through uncounted. The client is the storage's (Storage.redis), borrowed: the
// limiter never closes it.

import { type RedisClient, Script } from '../storage/redis/client.ts';
import { DEFAULT_REDIS_PREFIX } from '../storage/redis/index.ts';
import type { RateLimiter, RateLimitResult } from './rate-limit.ts';

// KEYS: the key's TAT. ARGV: now, interval, window. Returns {1} when allowed, else {0, ms until the
// next hit would fit}. Numbers go back as strings: Redis truncates Lua numbers to integers.
const HIT = new Script(`
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '')
if not tat or tat < now then tat = now end
local nxt = tat + tonumber(ARGV[2])
if nxt - now > window then return {0, string.format('%.17g', nxt - window - now)} end
redis.call('SET', KEYS[1], string.format('%.17g', nxt), 'PX', math.ceil(nxt - now))
return {1}
`);

const OK: RateLimitResult = Object.freeze({ ok: true });

export interface RedisRateLimiterOptions {
  /** Key prefix, shared with the Redis stores (default `keyhole:`); counters live under `<prefix>rl:`. */
  prefix?: string;
}

export class RedisRateLimiter implements RateLimiter {
  readonly #client: RedisClient;
  readonly #prefix: string;

  constructor(client: RedisClient, options: RedisRateLimiterOptions = {}) {
    this.#client = client;
    this.#prefix = `${options.prefix ?? DEFAULT_REDIS_PREFIX}rl:`;
  }

  async hit(key: string, limit: number, windowMs: number, now: number): Promise<RateLimitResult> {
    const reply = (await HIT.run(
      this.#client,
      [this.#prefix + key],
      [String(now), String(windowMs / limit), String(windowMs)],
    )) as [number, string?];
    if (reply[0] === 1) return OK;
    return { ok: false, retryAfterSec: Math.max(1, Math.ceil(Number(reply[1]) / 1000)) };
  }
}
