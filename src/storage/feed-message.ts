// What the change feeds carry (Redis pub/sub in redis/feed.ts, PostgreSQL NOTIFY in postgres/feed.ts):
// JSON StorageChange messages, and the probes a feed publishes to itself to confirm it is subscribed.
// Both feeds read their messages here, so they accept exactly the same things.

import type { StorageChange } from './types.ts';

/** A StorageChange from a parsed message, 'probe', or undefined for anything else (ignored). */
export function toChange(v: unknown): StorageChange | 'probe' | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.type === 'probe') return 'probe';
  if (o.type === 'keys') return { type: 'keys' };
  if (o.type === 'revoked' && typeof o.id === 'string' && Number.isSafeInteger(o.expiresAt)) {
    return { type: 'revoked', id: o.id, expiresAt: o.expiresAt as number };
  }
  return undefined;
}
