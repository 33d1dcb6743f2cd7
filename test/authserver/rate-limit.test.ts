// Rate limits (RFC 6585 §4 429 + Retry-After; RFC 6749 §10.10): the in-memory limiter's window
// arithmetic with an injected clock, and the per-IP / per-client policy with its rate_limit.hit event.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkRateLimit, MemoryRateLimiter, type RateLimitContext } from '../../src/authserver/rate-limit.ts';
import { EventBus, type SecurityEvent } from '../../src/observability/events.ts';

const MINUTE = 60_000;

describe('MemoryRateLimiter (sliding window, GCRA)', () => {
  test('allows `limit` hits in a burst, then refuses with the wait until the next slot', () => {
    const l = new MemoryRateLimiter();
    for (let i = 0; i < 3; i++) assert.deepEqual(l.hit('k', 3, MINUTE, 0), { ok: true });
    assert.deepEqual(l.hit('k', 3, MINUTE, 0), { ok: false, retryAfterSec: 20 });
    // A refused hit does not push the window further.
    assert.deepEqual(l.hit('k', 3, MINUTE, 0), { ok: false, retryAfterSec: 20 });
    assert.deepEqual(l.hit('k', 3, MINUTE, 10_000), { ok: false, retryAfterSec: 10 });
    assert.deepEqual(l.hit('k', 3, MINUTE, 19_999), { ok: false, retryAfterSec: 1 });
    // One slot frees every windowMs / limit.
    assert.deepEqual(l.hit('k', 3, MINUTE, 20_000), { ok: true });
    assert.equal(l.hit('k', 3, MINUTE, 20_000).ok, false);
    // After a full idle window, the whole burst is available again.
    for (let i = 0; i < 3; i++) assert.equal(l.hit('k', 3, MINUTE, 80_000).ok, true);
    assert.equal(l.hit('k', 3, MINUTE, 80_000).ok, false);
  });

  test('steady traffic at the allowed rate is never refused', () => {
    const l = new MemoryRateLimiter();
    for (let t = 0; t < 10 * MINUTE; t += 1_000) assert.equal(l.hit('k', 60, MINUTE, t).ok, true, `t=${t}`);
  });

  test('keys are independent', () => {
    const l = new MemoryRateLimiter();
    assert.equal(l.hit('a', 1, MINUTE, 0).ok, true);
    assert.equal(l.hit('a', 1, MINUTE, 0).ok, false);
    assert.equal(l.hit('b', 1, MINUTE, 0).ok, true);
  });

  test('bounded memory: drained keys are swept, and the least recently hit dropped beyond maxKeys', () => {
    const l = new MemoryRateLimiter({ sweepIntervalMs: 1_000, maxKeys: 100 });
    for (let i = 0; i < 50; i++) l.hit(`ip-${i}`, 10, MINUTE, 0);
    assert.equal(l.size, 50);
    // Each key's window drained after windowMs / limit = 6 s; the next hit after the interval sweeps.
    l.hit('late', 10, MINUTE, 6_000);
    assert.equal(l.size, 1);
    for (let i = 0; i < 150; i++) l.hit(`flood-${i}`, 10, MINUTE, 6_000);
    assert.equal(l.size, 100);
  });
});

function context(perMinute: number) {
  const bus = new EventBus();
  const events: SecurityEvent[] = [];
  bus.on((e) => events.push(e));
  let now = 1_000;
  const ctx: RateLimitContext = {
    rateLimit: new MemoryRateLimiter(),
    events: bus,
    now: () => now,
    config: { rateLimitPerMinute: perMinute },
  };
  return { ctx, events, advance: (ms: number) => (now += ms) };
}

describe('checkRateLimit: per IP and per client, per endpoint', () => {
  test('within the limit: undefined, no event', async () => {
    const { ctx, events } = context(2);
    assert.equal(await checkRateLimit(ctx, 'token', { ip: '192.0.2.1', clientId: 'c1' }), undefined);
    assert.equal(await checkRateLimit(ctx, 'token', { ip: '192.0.2.1', clientId: 'c1' }), undefined);
    assert.deepEqual(events, []);
  });

  test('per IP: the 429 error is slow_down with Retry-After, and rate_limit.hit says key ip', async () => {
    const { ctx, events } = context(2);
    await checkRateLimit(ctx, 'token', { ip: '192.0.2.1' });
    await checkRateLimit(ctx, 'token', { ip: '192.0.2.1' });
    const err = await checkRateLimit(ctx, 'token', { ip: '192.0.2.1', clientId: 'c1' });
    assert.ok(err);
    assert.equal(err.status, 429);
    assert.equal(err.error, 'slow_down');
    assert.deepEqual(err.headers, { 'retry-after': '30' });
    assert.deepEqual(err.toJSON(), {
      error: 'slow_down',
      error_description: 'too many requests; retry after 30 seconds',
    });
    assert.deepEqual(events, [
      {
        type: 'rate_limit.hit',
        time: 1_000,
        data: { endpoint: 'token', key: 'ip', ip: '192.0.2.1', clientId: 'c1' },
      },
    ]);
  });

  test('per client: many addresses, one client', async () => {
    const { ctx, events } = context(2);
    assert.equal(await checkRateLimit(ctx, 'token', { ip: '192.0.2.1', clientId: 'c1' }), undefined);
    assert.equal(await checkRateLimit(ctx, 'token', { ip: '192.0.2.2', clientId: 'c1' }), undefined);
    const err = await checkRateLimit(ctx, 'token', { ip: '192.0.2.3', clientId: 'c1' });
    assert.equal(err?.status, 429);
    assert.equal(events[0]?.type === 'rate_limit.hit' && events[0].data.key, 'client');
    // Another client from a fresh address is unaffected.
    assert.equal(await checkRateLimit(ctx, 'token', { ip: '192.0.2.4', clientId: 'c2' }), undefined);
  });

  test('a request refused per IP does not use up its client budget', async () => {
    const { ctx } = context(1);
    assert.equal(await checkRateLimit(ctx, 'token', { ip: '192.0.2.1', clientId: 'c1' }), undefined);
    // The IP is now exhausted; these refusals must not count against c2.
    for (let i = 0; i < 3; i++)
      assert.ok(await checkRateLimit(ctx, 'token', { ip: '192.0.2.1', clientId: 'c2' }));
    assert.equal(await checkRateLimit(ctx, 'token', { ip: '192.0.2.9', clientId: 'c2' }), undefined);
  });

  test('endpoints have separate budgets, and time frees the limit', async () => {
    const { ctx, advance } = context(1);
    assert.equal(await checkRateLimit(ctx, 'register', { ip: '192.0.2.1' }), undefined);
    assert.ok(await checkRateLimit(ctx, 'register', { ip: '192.0.2.1' }));
    assert.equal(await checkRateLimit(ctx, 'authorize', { ip: '192.0.2.1' }), undefined);
    advance(MINUTE);
    assert.equal(await checkRateLimit(ctx, 'register', { ip: '192.0.2.1' }), undefined);
  });

  test('works with an asynchronous (remote) limiter behind the same interface', async () => {
    const calls: string[] = [];
    const bus = new EventBus();
    const ctx: RateLimitContext = {
      rateLimit: {
        hit: async (key) => {
          calls.push(key);
          return key.includes('|client|') ? { ok: false, retryAfterSec: 7 } : { ok: true };
        },
      },
      events: bus,
      now: () => 0,
      config: { rateLimitPerMinute: 5 },
    };
    const err = await checkRateLimit(ctx, 'introspect', { ip: '192.0.2.1', clientId: 'rs' });
    assert.deepEqual(err?.headers, { 'retry-after': '7' });
    assert.deepEqual(calls, ['introspect|ip|192.0.2.1', 'introspect|client|rs']);
  });
});
