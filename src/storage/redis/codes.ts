// Authorization codes in Redis: one hash per code, `r` (the record as JSON), `e` (expiresAt), `c`
// (consumedAt, once consumed) and `g` (grant id, once redeemed), with a PX expiry. Consumption is one
// Lua script, so the check and the mark are a single atomic step on the server, whatever the number of
// clients or replicas racing (RFC 6749 §4.1.2 "The client MUST NOT use the authorization code more than
// once"). Expiry is judged against the caller's `now` (issue #4: same semantics as every adapter); the
// key's own TTL only reclaims memory, and outlives `expiresAt` by a grace so clock skew between
// replicas never drops a record early.

import { StorageConflictError } from '../errors.ts';
import type { AuthorizationCodeRecord, AuthorizationCodeStore, ConsumeResult } from '../types.ts';
import { type RedisClient, Script } from './client.ts';

const PUT = new Script(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'r', ARGV[1], 'e', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`);

// A consumed record is kept (with its TTL untouched) so later callers are told 'replayed' until expiry.
const CONSUME = new Script(`
local h = redis.call('HMGET', KEYS[1], 'r', 'e', 'c', 'g')
if not h[1] or tonumber(h[2]) <= tonumber(ARGV[1]) then return {'missing'} end
if h[3] then return {'replayed', h[1], h[4]} end
redis.call('HSET', KEYS[1], 'c', ARGV[1])
return {'ok', h[1], h[4]}
`);

// Only an existing hash: HSET alone would create a key without expiry.
const MARK_REDEEMED = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'g', ARGV[1])
return 1
`);

export interface RedisExpiry {
  /** The adapter clock, for turning `expiresAt` into a TTL. */
  clock: () => number;
  /** Extra TTL beyond `expiresAt`, ms: the clock skew tolerated between replicas. */
  graceMs: number;
}

/** TTL for a record expiring at `expiresAt` (at least 1 ms: Redis refuses 0). */
export function ttlMs(expiresAt: number, expiry: RedisExpiry): number {
  return Math.max(1, Math.ceil(expiresAt - expiry.clock())) + expiry.graceMs;
}

export class RedisCodeStore implements AuthorizationCodeStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #expiry: RedisExpiry;

  constructor(client: RedisClient, prefix: string, expiry: RedisExpiry) {
    this.#client = client;
    this.#prefix = prefix;
    this.#expiry = expiry;
  }

  async put(code: AuthorizationCodeRecord): Promise<void> {
    const stored = await PUT.run(
      this.#client,
      [this.#key(code.codeHash)],
      [JSON.stringify(code), String(code.expiresAt), String(ttlMs(code.expiresAt, this.#expiry))],
    );
    if (stored !== 1) throw new StorageConflictError('authorization code');
  }

  async consume(codeHash: string, now: number): Promise<ConsumeResult<AuthorizationCodeRecord>> {
    const reply = (await CONSUME.run(this.#client, [this.#key(codeHash)], [String(now)])) as [
      'ok' | 'replayed' | 'missing',
      string?,
      (string | null)?,
    ];
    const [status, json, grantId] = reply;
    if (status === 'missing' || json === undefined) return { status: 'missing' };
    const record = JSON.parse(json) as AuthorizationCodeRecord;
    if (typeof grantId === 'string') record.grantId = grantId;
    return { status, record };
  }

  async markRedeemed(codeHash: string, grantId: string): Promise<void> {
    await MARK_REDEEMED.run(this.#client, [this.#key(codeHash)], [grantId]);
  }

  #key(codeHash: string): string {
    return `${this.#prefix}code:${codeHash}`;
  }
}
