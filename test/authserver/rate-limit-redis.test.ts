// The shared rate limiter (issue #4 "shared rate limits"; RFC 6749 §10.10, RFC 6585 §4): the same
// sliding-window (GCRA) answers as MemoryRateLimiter, one budget shared by every connection, and
// counters that expire when drained. Needs Redis on 127.0.0.1:6379 (KEYHOLE_TEST_REDIS_URL overrides);
// without it these tests FAIL. Keys go under a random per-run prefix, deleted in `after`.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { MemoryRateLimiter, type RateLimitResult } from '../../src/authserver/rate-limit.ts';
import { RedisRateLimiter } from '../../src/authserver/rate-limit-redis.ts';
import { connectRedis, type RedisClient } from '../../src/storage/redis/client.ts';

const REDIS_URL = process.env.KEYHOLE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN = `keyhole-test:${randomUUID()}:`;
const MINUTE = 60_000;
let n = 0;
const freshPrefix = () => `${RUN}${n++}:`;

let a: RedisClient;
let b: RedisClient;
before(async () => {
  try {
    a = await connectRedis({ url: REDIS_URL, connectTimeoutMs: 2000 });
    b = await connectRedis({ url: REDIS_URL, connectTimeoutMs: 2000 });
  } catch (err) {
    throw new Error(
      `Redis is required for these tests and is not reachable at ${REDIS_URL} ` +
        '(start it, e.g. `redis-server --save "" --appendonly no`, or set KEYHOLE_TEST_REDIS_URL)',
      { cause: err },
    );
  }
});
after(async () => {
  if (a) {
    for await (const keys of a.scanIterator({ MATCH: `${RUN}*`, COUNT: 1000 })) {
      if (keys.length > 0) await a.unlink(keys);
    }
    await a.close();
  }
  if (b) await b.close();
});

describe('RedisRateLimiter (sliding window, GCRA, shared)', () => {
  test('answers exactly as MemoryRateLimiter on the same hits', async () => {
    const redis = new RedisRateLimiter(a, { prefix: freshPrefix() });
    const memory = new MemoryRateLimiter();
    const hits: [string, number, number][] = [
      ...Array.from({ length: 5 }, (): [string, number, number] => ['k', 3, 0]),
      ['k', 3, 10_000],
      ['k', 3, 19_999],
      ['k', 3, 20_000],
      ['k', 3, 20_000],
      ['other', 3, 20_000],
      ...Array.from({ length: 4 }, (): [string, number, number] => ['k', 3, 80_000]),
      // A limit that does not divide the window (fractional interval) and a burst of one.
      ...Array.from({ length: 9 }, (_, i): [string, number, number] => ['odd', 7, i * 1_000]),
      ['one', 1, 0],
      ['one', 1, 59_999],
      ['one', 1, 60_000],
    ];
    const got: RateLimitResult[] = [];
    const want: RateLimitResult[] = [];
    for (const [key, limit, now] of hits) {
      got.push(await redis.hit(key, limit, MINUTE, now));
      want.push(memory.hit(key, limit, MINUTE, now));
    }
    assert.deepEqual(got, want);
    assert.deepEqual(got.slice(0, 5), [
      { ok: true },
      { ok: true },
      { ok: true },
      { ok: false, retryAfterSec: 20 },
      { ok: false, retryAfterSec: 20 },
    ]);
  });

  test('steady traffic at the allowed rate is never refused', async () => {
    const l = new RedisRateLimiter(a, { prefix: freshPrefix() });
    for (let t = 0; t < 3 * MINUTE; t += 1_000) assert.equal((await l.hit('k', 60, MINUTE, t)).ok, true);
  });

  test('two connections share one budget, also when racing', async () => {
    const prefix = freshPrefix();
    const onA = new RedisRateLimiter(a, { prefix });
    const onB = new RedisRateLimiter(b, { prefix });
    // Alternating: 5 allowed in total, not 5 per connection.
    const seq: boolean[] = [];
    for (let i = 0; i < 8; i++) seq.push((await (i % 2 ? onB : onA).hit('seq', 5, MINUTE, 0)).ok);
    assert.deepEqual(seq, [true, true, true, true, true, false, false, false]);
    // 40 concurrent hits on a budget of 10, half per connection: exactly 10 pass.
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? onB : onA).hit('race', 10, MINUTE, 1_000)),
    );
    assert.equal(results.filter((r) => r.ok).length, 10);
    for (const r of results) if (!r.ok) assert.equal(r.retryAfterSec, 6);
  });

  test('prefixes are separate budgets', async () => {
    const x = new RedisRateLimiter(a, { prefix: freshPrefix() });
    const y = new RedisRateLimiter(a, { prefix: freshPrefix() });
    assert.equal((await x.hit('k', 1, MINUTE, 0)).ok, true);
    assert.equal((await x.hit('k', 1, MINUTE, 0)).ok, false);
    assert.equal((await y.hit('k', 1, MINUTE, 0)).ok, true);
  });

  test('a counter expires when its window has drained; refused hits store nothing', async () => {
    const prefix = freshPrefix();
    const l = new RedisRateLimiter(a, { prefix });
    await l.hit('k', 4, MINUTE, 0);
    await l.hit('k', 4, MINUTE, 0);
    const ttl = await a.pTTL(`${prefix}rl:k`);
    // Two hits of 15 s each are pending: the key lives until they drain.
    assert.ok(ttl > 25_000 && ttl <= 30_000, `PTTL ${ttl}`);
    assert.equal((await l.hit('refused', 1, MINUTE, 0)).ok, true);
    const before = await a.get(`${prefix}rl:refused`);
    assert.equal((await l.hit('refused', 1, MINUTE, 0)).ok, false);
    assert.equal(await a.get(`${prefix}rl:refused`), before);
  });

  test('Redis unavailable: hit rejects rather than letting the request through uncounted', async () => {
    const c = await connectRedis({ url: REDIS_URL });
    const l = new RedisRateLimiter(c, { prefix: freshPrefix() });
    await c.close();
    await assert.rejects(Promise.resolve().then(() => l.hit('k', 1, MINUTE, 0)));
  });
});
