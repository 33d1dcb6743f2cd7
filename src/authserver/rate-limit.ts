// Rate limits on the endpoints an attacker can hammer: /token, /register, /authorize and login, per IP
// and per client (RFC 6749 §10.10: guessing credentials and codes must be made hard). A refusal is 429
// with Retry-After (RFC 6585 §4, RFC 9110 §10.2.3) and an OAuth-shaped JSON body. The counter store sits
// behind `RateLimiter` so the scale-out issue can share it across processes (Redis).

import type { AuthServerContext } from './context.ts';
import { OAuthError } from './oauth-error.ts';

export type RateLimitResult = { ok: true } | { ok: false; retryAfterSec: number };

/** Counts hits per key; `limit` hits per `windowMs` are allowed. Implementations may be remote (async). */
export interface RateLimiter {
  hit(key: string, limit: number, windowMs: number, now: number): RateLimitResult | Promise<RateLimitResult>;
}

const OK: RateLimitResult = Object.freeze({ ok: true });

export interface MemoryRateLimiterOptions {
  /** Most keys tracked; beyond it the least recently hit are dropped. Default 100,000. */
  maxKeys?: number;
  /** How often (by the `now` passed to hit) idle keys are swept. Default 60 s. */
  sweepIntervalMs?: number;
}

/**
 * In-memory limiter using the generic cell rate algorithm: a sliding window that needs one number per
 * key (the "theoretical arrival time"). Allows bursts of up to `limit` hits, then one hit every
 * `windowMs / limit`. Keys whose window has fully drained hold no state and are swept.
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #tat = new Map<string, number>();
  readonly #maxKeys: number;
  readonly #sweepIntervalMs: number;
  #nextSweep = 0;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  }

  hit(key: string, limit: number, windowMs: number, now: number): RateLimitResult {
    if (now >= this.#nextSweep) this.#sweep(now);
    const interval = windowMs / limit;
    const tat = Math.max(this.#tat.get(key) ?? now, now);
    const next = tat + interval;
    if (next - now > windowMs) {
      // The hit that would fit is the one when `next - windowMs` has passed.
      return { ok: false, retryAfterSec: Math.max(1, Math.ceil((next - windowMs - now) / 1000)) };
    }
    // Re-insert so the Map's order is least-recently-hit first (for eviction).
    this.#tat.delete(key);
    this.#tat.set(key, next);
    if (this.#tat.size > this.#maxKeys) {
      const oldest = this.#tat.keys().next().value;
      if (oldest !== undefined) this.#tat.delete(oldest);
    }
    return OK;
  }

  /** Keys currently tracked (for tests and metrics). */
  get size(): number {
    return this.#tat.size;
  }

  #sweep(now: number): void {
    this.#nextSweep = now + this.#sweepIntervalMs;
    for (const [key, tat] of this.#tat) if (tat <= now) this.#tat.delete(key);
  }
}

/** An endpoint with a rate limit. */
export type RateLimitedEndpoint = 'token' | 'register' | 'authorize' | 'login' | 'revoke' | 'introspect';

const WINDOW_MS = 60_000;

/** What checkRateLimit needs from the authorization-server context. */
export type RateLimitContext = Pick<AuthServerContext, 'rateLimit' | 'events' | 'now'> & {
  readonly config: Pick<AuthServerContext['config'], 'rateLimitPerMinute'>;
};

/**
 * Counts one request to `endpoint` from `ip` (and `clientId` when known) against
 * `rateLimitPerMinute`, separately per endpoint. Resolves undefined when allowed, or the 429 error to
 * send (and emits `rate_limit.hit`). A request refused per IP does not count against its client.
 */
export async function checkRateLimit(
  ctx: RateLimitContext,
  endpoint: RateLimitedEndpoint,
  who: { ip: string; clientId?: string },
): Promise<OAuthError | undefined> {
  const limit = ctx.config.rateLimitPerMinute;
  const now = ctx.now();
  const byIp = await ctx.rateLimit.hit(`${endpoint}|ip|${who.ip}`, limit, WINDOW_MS, now);
  if (!byIp.ok) return refuse(ctx, endpoint, 'ip', who, byIp.retryAfterSec);
  if (who.clientId === undefined) return undefined;
  const byClient = await ctx.rateLimit.hit(`${endpoint}|client|${who.clientId}`, limit, WINDOW_MS, now);
  if (!byClient.ok) return refuse(ctx, endpoint, 'client', who, byClient.retryAfterSec);
  return undefined;
}

function refuse(
  ctx: RateLimitContext,
  endpoint: RateLimitedEndpoint,
  key: 'ip' | 'client',
  who: { ip: string; clientId?: string },
  retryAfterSec: number,
): OAuthError {
  ctx.events.emit(
    'rate_limit.hit',
    { endpoint, key, ip: who.ip, ...(who.clientId !== undefined ? { clientId: who.clientId } : {}) },
    ctx.now(),
  );
  // RFC 6585 §4: 429 MAY include Retry-After; RFC 9110 §10.2.3 delay-seconds.
  return new OAuthError('slow_down', `too many requests; retry after ${retryAfterSec} seconds`, {
    status: 429,
    headers: { 'retry-after': String(retryAfterSec) },
  });
}
