// Redis holds Keyhole's fast, expiring state (issue #4 "Adapters"): authorization codes and revoked
// token ids here. Its two connections, `keyhole:storage` for commands and `keyhole:subscriber` for the
// change feed, are lent (`redis`, Storage.redis) to the rate limiter, the CIMD cache and the session
// backplane, which never close them. Durable records stay in the SQL store; `composeStorage`
// (../compose.ts) joins the two into one Storage. Every key lives under one prefix (default
// `keyhole:`), so several deployments can share a server.

import {
  closeRedis,
  connectRedis,
  type RedisClient,
  type RedisConnections,
  type RedisConnectOptions,
  redisCommand,
  redisConnectionName,
} from './client.ts';
import { RedisCodeStore } from './codes.ts';
import { RedisChangeFeed } from './feed.ts';
import { RedisRevocationStore } from './revocations.ts';

export { type RedisConnections, RedisUnavailableError } from './client.ts';

export interface RedisStoresOptions extends RedisConnectOptions {
  /** Prefix of every key (default `keyhole:`). */
  prefix?: string;
  /** Clock used to turn `expiresAt` into a key TTL (default Date.now). */
  now?: () => number;
  /** Keys outlive their `expiresAt` by this much, ms: the clock skew tolerated between replicas (default 5000). */
  expiryGraceMs?: number;
}

export const DEFAULT_REDIS_PREFIX = 'keyhole:';

export class RedisStores {
  readonly client: RedisClient;
  readonly prefix: string;
  readonly codes: RedisCodeStore;
  readonly revocations: RedisRevocationStore;
  /** Cross-replica change notifications (revocations are published by `revocations.revoke`). */
  readonly changes: RedisChangeFeed;
  /** The command connection and the feed's subscriber, lent to others; closed by close() only. */
  readonly redis: RedisConnections;
  #closed = false;

  constructor(client: RedisClient, options: Omit<RedisStoresOptions, 'url'> = {}) {
    this.client = client;
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    const expiry = { clock: options.now ?? Date.now, graceMs: options.expiryGraceMs ?? 5000 };
    this.codes = new RedisCodeStore(client, this.prefix, expiry);
    this.changes = new RedisChangeFeed(client, this.prefix, options.onError);
    this.revocations = new RedisRevocationStore(client, this.prefix, expiry, this.changes.channel);
    this.redis = { client, subscriber: () => this.changes.subscriber() };
  }

  /** Resolves if Redis answers. */
  async ping(): Promise<void> {
    if (this.#closed) throw new Error('storage is closed');
    await redisCommand(this.client, () => this.client.ping());
  }

  /** Closes the connection after replies to commands already sent have arrived (bounded). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.changes.close();
    await closeRedis(this.client);
  }
}

/**
 * Connects to Redis (rejecting with RedisUnavailableError if it cannot) and returns its stores. The
 * connection is named `keyhole:storage` unless `name` says otherwise.
 */
export async function openRedisStores(options: RedisStoresOptions): Promise<RedisStores> {
  const client = await connectRedis({ ...options, name: options.name ?? redisConnectionName('storage') });
  return new RedisStores(client, options);
}
